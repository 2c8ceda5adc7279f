//! The crate's top-level module graph must stay a DAG (GUIDE: "Module graph must stay a
//! DAG"; issue 12). An edge `a -> b` is a `crate::b` reference (a path or a
//! `use crate::{b, ..}` group) in non-test code under `src/a.rs` or `src/a/`. Comments
//! (doc links included) and `#[cfg(test)] mod tests` blocks at the end of a file are not
//! edges; `main.rs` and `lib.rs` are the roots and are skipped.
//!
//! `cargo test --test module_graph -- --nocapture` prints the edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The code of a file without comments and without its trailing test module.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod tests"))
        {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        // A trailing comment; `//` inside a string literal (a URL) only hides the rest of
        // that line, which never holds a second `crate::` path in practice.
        let code = match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

fn ident_at(s: &str) -> Option<&str> {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    let id = &s[..end];
    (!id.is_empty() && id.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')).then_some(id)
}

/// The top-level modules a piece of code names through `crate::`.
fn targets_of(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        if i > 0 && code[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        {
            continue; // `$crate::` in a macro or a longer identifier
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::{c, d}, e}`: the names at depth 0 of the group.
            let mut depth = 0;
            let mut at_name = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => at_name = true,
                    c if at_name && !c.is_whitespace() => {
                        at_name = false;
                        if let Some(id) = ident_at(&group[j..]) {
                            found.insert(id.to_string());
                        }
                    }
                    _ => {}
                }
            }
        } else if let Some(id) = ident_at(rest) {
            found.insert(id.to_string());
        }
    }
    found
}

/// The graph of `(top-level module, file text)` pairs: edges to other known modules only.
fn graph_of(files: &[(String, String)]) -> Graph {
    let modules: BTreeSet<&str> = files.iter().map(|(m, _)| m.as_str()).collect();
    let mut graph = Graph::new();
    for (from, text) in files {
        let edges = graph.entry(from.clone()).or_default();
        for to in targets_of(&code_of(text)) {
            if to != *from && modules.contains(to.as_str()) {
                edges.insert(to);
            }
        }
    }
    graph
}

/// A cycle, as the list of modules along it (the first repeated at the end), if any.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|m| m == node).unwrap();
                let mut cycle = path[start..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_string(), Mark::Open);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut marks, &mut Vec::new()))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn crate_files() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    let mut files = Vec::new();
    for path in paths {
        let rel = path.strip_prefix(&src).unwrap();
        // Test-only files of a module (`src/ui/tests.rs`) are not part of the graph.
        if rel.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        let module = first.strip_suffix(".rs").unwrap_or(first).to_string();
        if module == "main" || module == "lib" {
            continue;
        }
        files.push((module, std::fs::read_to_string(&path).unwrap()));
    }
    files
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = graph_of(&crate_files());
    for (from, tos) in &graph {
        for to in tos {
            println!("{from} -> {to}");
        }
    }
    assert!(graph.len() > 10, "too few modules found: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "the module graph has a cycle: {}\n(move the shared types down to one side, \
             or into a leaf module)",
            cycle.join(" -> ")
        );
    }
}

fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(m, t)| (m.to_string(), t.to_string()))
        .collect()
}

#[test]
fn a_cycle_is_found_and_printed() {
    let graph = graph_of(&files(&[
        ("a", "use crate::b::Thing;"),
        ("b", "fn f() { crate::c::g() }"),
        ("c", "use crate::{d, a::{x, y}};"),
        ("d", ""),
    ]));
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

#[test]
fn comments_test_modules_and_unknown_names_are_not_edges() {
    let graph = graph_of(&files(&[
        (
            "a",
            "//! see [`crate::b::X`]\nuse crate::c; // not crate::b\nfn f() { $crate::b::g() }\n\
             #[cfg(test)]\nmod tests {\n    use crate::b;\n}\n",
        ),
        ("b", "use crate::a;\nuse crate::std_like;"),
        ("c", ""),
    ]));
    assert_eq!(find_cycle(&graph), None);
    assert_eq!(graph["a"], BTreeSet::from(["c".to_string()]));
    assert_eq!(graph["b"], BTreeSet::from(["a".to_string()]));
}

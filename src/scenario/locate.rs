//! Where things are in a TOML file, read from the parsed document's spans (toml_edit
//! keeps the byte range of every key, value and table): the dotted key path at an
//! offset (`load.vus`, `request[1].method`), the table in force there, and the span of a
//! table or a root key. Only a file that does not parse at all (a syntax error) has no
//! structure to read; [`super::error`] then falls back to reading the line.

use std::ops::Range;

use toml_edit::{ImDocument, Item, Table};

/// A parsed file, for looking places up.
pub struct Layout<'s> {
    doc: ImDocument<&'s str>,
}

/// What a lookup stops at.
#[derive(Clone, Copy, PartialEq)]
enum Depth {
    /// The table (a `[header]` or `[[header]]` entry) that holds the offset.
    Table,
    /// The key whose key or value holds the offset, else the table.
    Key,
}

impl<'s> Layout<'s> {
    /// The layout of `src`, or `None` when it is not valid TOML.
    pub fn parse(src: &'s str) -> Option<Layout<'s>> {
        ImDocument::parse(src).ok().map(|doc| Layout { doc })
    }

    /// The dotted key whose key or value holds `offset` (`request[1].method`); the
    /// table's path on a header or between keys; "" at the root.
    pub fn key_path(&self, offset: usize) -> String {
        find(self.doc.as_table(), "", offset, Depth::Key).unwrap_or_default()
    }

    /// The table in force at `offset`: `load`, `request[1]`, or "" for the root.
    pub fn table_path(&self, offset: usize) -> String {
        find(self.doc.as_table(), "", offset, Depth::Table).unwrap_or_default()
    }

    /// The span of the root table `name` (from its header to its last value, or the
    /// inline table), or of entry `index` of the array of tables `name`.
    pub fn table_span(&self, name: &str, index: Option<usize>) -> Option<Range<usize>> {
        match (self.doc.get(name)?, index) {
            (Item::Table(t), None) => t.span(),
            (Item::Value(v), None) => v.span(),
            (Item::ArrayOfTables(a), Some(i)) => a.get(i)?.span(),
            _ => None,
        }
    }

    /// The span of a root-level `key = value`, from the key to the end of the value.
    pub fn root_key_span(&self, key: &str) -> Option<Range<usize>> {
        let (k, item) = self.doc.get_key_value(key)?;
        let value = item.as_value()?.span()?;
        Some(k.span().map_or(value.start, |s| s.start)..value.end)
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn holds(span: Option<Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|s| s.start <= offset && offset < s.end.max(s.start + 1))
}

/// The deepest path under `table` (at `path`) that holds `offset`, if any does.
/// Values are not entered: an inline table or array is named by its key.
fn find(table: &Table, path: &str, offset: usize, depth: Depth) -> Option<String> {
    for (name, item) in table.iter() {
        match item {
            Item::Table(t) => {
                if let Some(p) = find(t, &join(path, name), offset, depth) {
                    return Some(p);
                }
            }
            Item::ArrayOfTables(a) => {
                for (i, t) in a.iter().enumerate() {
                    let at = format!("{}[{i}]", join(path, name));
                    if let Some(p) = find(t, &at, offset, depth) {
                        return Some(p);
                    }
                }
            }
            Item::Value(v) if depth == Depth::Key => {
                let Some(value) = v.span() else { continue };
                let start = table
                    .key(name)
                    .and_then(|k| k.span())
                    .map_or(value.start, |k| k.start);
                if holds(Some(start..value.end), offset) {
                    return Some(join(path, name));
                }
            }
            _ => {}
        }
    }
    // A dotted-key table (`load.vus = 1` at the root) has no span of its own: only its
    // keys place it.
    holds(table.span(), offset).then(|| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "name = \"x\"\nhttp.version = \"h1\"\n[load]\nvus = 0\nstages = [\n  { duration = \"1s\", target = 2 },\n]\n\n[[request]]\npath = \"/a\"\n[[request]]\nmethod = \"FETCH\"\njson = { a = 1 }\n[request.extra]\nk = 1\n";

    fn at(needle: &str) -> usize {
        SRC.find(needle).unwrap()
    }

    #[test]
    fn key_paths_come_from_the_document() {
        let l = Layout::parse(SRC).unwrap();
        assert_eq!(l.key_path(at("\"x\"")), "name");
        assert_eq!(l.key_path(0), "name");
        assert_eq!(l.key_path(at("\"h1\"")), "http.version");
        assert_eq!(l.key_path(at("[load]")), "load");
        assert_eq!(l.key_path(at("0\n")), "load.vus");
        // Inside a value that spans lines, the key still names it.
        assert_eq!(l.key_path(at("target")), "load.stages");
        assert_eq!(l.key_path(at("\"/a\"")), "request[0].path");
        assert_eq!(l.key_path(at("\"FETCH\"")), "request[1].method");
        assert_eq!(l.key_path(at("a = 1")), "request[1].json");
        assert_eq!(l.key_path(at("k = 1")), "request[1].extra.k");
        assert_eq!(l.table_path(at("\"FETCH\"")), "request[1]");
        assert_eq!(l.table_path(at("0\n")), "load");
        assert_eq!(l.table_path(0), "");
    }

    #[test]
    fn spans_of_tables_and_root_keys() {
        let l = Layout::parse(SRC).unwrap();
        assert_eq!(l.table_span("load", None).unwrap().start, at("[load]"));
        assert_eq!(
            l.table_span("request", Some(1)).unwrap().start,
            at("[[request]]\nmethod")
        );
        assert_eq!(l.table_span("request", Some(2)), None);
        assert_eq!(l.table_span("nope", None), None);
        assert_eq!(l.root_key_span("name"), Some(0..10));
        assert!(Layout::parse("vus = = 3").is_none());
    }
}

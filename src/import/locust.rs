//! A locustfile -> one `[[user]]` per HttpUser class: its weight, `wait_time`, `on_start`
//! and `@task(weight)` methods whose `self.client.*` calls have literal paths.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde_json::Value;

use super::draft::{form_body, plain, Body, Draft, Load, Request, User, FORM};
use super::scan::{closing, line_of, object_literal, split_args, string_literal};
use super::ImportError;

struct Call {
    name: String,
}

pub fn from_file(path: &Path, src: &str) -> Result<Draft, ImportError> {
    let mut d = Draft {
        name: super::name_from(path, "locust"),
        load: Load {
            vus: Some(1),
            duration: Some("30s".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let class_re = Regex::new(r"(?m)^class\s+(\w+)\s*\(([^)]*)\)\s*:").expect("valid regex");
    let classes: Vec<(usize, String, String)> = class_re
        .captures_iter(src)
        .map(|c| {
            (
                c.get(0).expect("match").start(),
                c[1].to_string(),
                c[2].to_string(),
            )
        })
        .collect();
    let mut host: Option<String> = None;
    let def_re = Regex::new(r"(?m)^[ \t]+def\s+(\w+)\s*\(").expect("valid regex");
    for (i, (start, name, bases)) in classes.iter().enumerate() {
        let end = classes.get(i + 1).map(|c| c.0).unwrap_or(src.len());
        // The class body ends at the next line that starts at column 0.
        let body_start = src[*start..]
            .find('\n')
            .map(|n| start + n + 1)
            .unwrap_or(end);
        let mut body_end = end;
        let mut off = body_start;
        for l in src[body_start..end].split_inclusive('\n') {
            if !l.trim().is_empty() && !l.starts_with([' ', '\t', '#']) {
                body_end = off;
                break;
            }
            off += l.len();
        }
        let body = &src[body_start..body_end];
        if !bases.contains("User") || attr(body, "abstract").as_deref() == Some("True") {
            continue;
        }
        if let Some(h) = attr(body, "host").and_then(|h| string_literal(&h)) {
            host.get_or_insert(h);
        }
        let mut user = User {
            name: name.clone(),
            weight: attr(body, "weight").and_then(|w| w.parse().ok()),
            ..Default::default()
        };
        if let Some(w) = attr(body, "wait_time") {
            wait_time(&w, &mut user, &mut d, line_of(src, *start));
        }
        if attr(body, "tasks").is_some() {
            d.todos.push(format!(
                "class {name}: a tasks = ... list or dict is not imported: use @task methods"
            ));
        }
        // Methods: `def NAME(self...):` with their decorators.
        let defs: Vec<(usize, usize, String)> = def_re
            .captures_iter(body)
            .map(|c| {
                let m = c.get(0).expect("match");
                (m.start(), m.end(), c[1].to_string())
            })
            .collect();
        for (j, (dstart, dend, mname)) in defs.iter().enumerate() {
            let mend = defs.get(j + 1).map(|x| x.0).unwrap_or(body.len());
            let method_src = &body[*dend..mend];
            // The decorator lines right above the def.
            let above = body[..*dstart]
                .lines()
                .rev()
                .take_while(|l| l.trim().starts_with('@'));
            let mut task_weight = None;
            for dec in above {
                let t = dec.trim();
                if t == "@task" {
                    task_weight = Some(1);
                } else if let Some(w) = t.strip_prefix("@task(").and_then(|x| x.strip_suffix(')')) {
                    task_weight = Some(w.trim().parse().unwrap_or(1));
                }
            }
            let line = line_of(src, body_start + dstart);
            let calls = calls(path, method_src, src, body_start + dend, &mut d);
            if mname == "on_start" {
                user.on_start.extend(calls.into_iter().map(|c| c.name));
            } else if let Some(w) = task_weight {
                let mut it = calls.into_iter();
                match it.next() {
                    Some(first) => user.tasks.push((first.name, w)),
                    None => d.todos.push(format!(
                        "line {line}: task '{mname}' sends no request with a literal path"
                    )),
                }
                let rest: Vec<String> = it.map(|c| c.name).collect();
                if !rest.is_empty() {
                    d.todos.push(format!(
                        "line {line}: task '{mname}' sends more than one request; volley's tasks are one request each, so {} {} left out of the task (make them steps of a user of their own)",
                        rest.join(", "),
                        if rest.len() == 1 { "is" } else { "are" }
                    ));
                }
            }
        }
        if user.tasks.is_empty() {
            d.todos.push(format!(
                "class {name}: no task with a literal request; left out"
            ));
            continue;
        }
        user.comments.push(format!("class {name}"));
        d.users.push(user);
    }
    if d.users.is_empty() {
        return Err(ImportError::input(
            path,
            "no HttpUser class with a @task that sends a request with a literal path",
        ));
    }
    d.base_url = match host.as_deref().map(crate::scenario::parse_base_url) {
        Some(Ok(u)) => u.to_string().trim_end_matches('/').to_string(),
        _ => {
            d.todos.push("no literal host = \"...\" in the file: base_url is http://127.0.0.1:8080; change it or use --target".into());
            "http://127.0.0.1:8080".into()
        }
    };
    d.notes.insert(
        0,
        format!(
            "Scenario '{}', imported by volley from the locustfile {}.",
            d.name,
            path.display()
        ),
    );
    d.notes.push("One user type per HttpUser class, tasks weighted as @task(n); one VU for 30s to begin with.".into());
    Ok(d)
}

/// A class attribute `NAME = value` (first-level indentation), as written.
fn attr(body: &str, name: &str) -> Option<String> {
    let re = Regex::new(&format!(r"(?m)^[ \t]+{name}\s*=\s*(.+?)\s*(#.*)?$")).expect("valid regex");
    re.captures(body).map(|c| c[1].to_string())
}

fn wait_time(w: &str, user: &mut User, d: &mut Draft, line: usize) {
    let num = |s: &str| s.trim().parse::<f64>().ok();
    let ms = |f: f64| format!("{}ms", (f * 1000.0).round() as u64);
    let inner = |p: &str| w.strip_prefix(p).and_then(|x| x.strip_suffix(')'));
    if let Some(a) = inner("between(") {
        let parts: Vec<&str> = a.split(',').collect();
        if let [lo, hi] = parts[..] {
            if let (Some(lo), Some(hi)) = (num(lo), num(hi)) {
                user.think_time = Some(format!("{}..{}", ms(lo), ms(hi)));
                return;
            }
        }
    } else if let Some(a) = inner("constant(") {
        if let Some(v) = num(a) {
            user.think_time = (v > 0.0).then(|| ms(v));
            return;
        }
    } else if let Some(a) = inner("constant_pacing(") {
        if let Some(v) = num(a) {
            user.pacing = Some(ms(v));
            return;
        }
    } else if let Some(a) = inner("constant_throughput(") {
        if let Some(v) = num(a).filter(|v| *v > 0.0) {
            user.pacing = Some(ms(1.0 / v));
            return;
        }
    }
    d.todos
        .push(format!("line {line}: wait_time = {w} is not imported"));
}

/// The `self.client.METHOD(...)` calls of one method, added as requests.
fn calls(path: &Path, method_src: &str, src: &str, base: usize, d: &mut Draft) -> Vec<Call> {
    let re = Regex::new(r"self\.client\.(get|post|put|patch|delete|head|options)\s*\(")
        .expect("valid regex");
    let mut out = Vec::new();
    for m in re.captures_iter(method_src) {
        let whole = m.get(0).expect("match");
        let line = line_of(src, base + whole.start());
        let open = whole.end() - 1;
        let Some(close) = closing(method_src, open, true) else {
            continue;
        };
        let args = split_args(&method_src[open + 1..close], true);
        let method = m[1].to_ascii_uppercase();
        let Some(p) = args.first().and_then(|a| string_literal(a)) else {
            d.todos.push(format!(
                "line {line}: self.client.{} with a path that is not literal: add it by hand",
                &m[1]
            ));
            continue;
        };
        if !(p.starts_with('/') || p.starts_with("http://") || p.starts_with("https://")) {
            d.todos
                .push(format!("line {line}: path '{p}' is not a path"));
            continue;
        }
        let mut headers = BTreeMap::new();
        let mut body = None;
        let mut name = None;
        for kw in &args[1..] {
            let Some((k, v)) = kw.split_once('=') else {
                continue;
            };
            match k.trim() {
                "json" => match object_literal(v, true) {
                    Some(mut j) => {
                        d.secrets.json(&mut j);
                        body = Some(Body::Json(j));
                    }
                    None => d
                        .todos
                        .push(format!("line {line}: a json= body that is not literal")),
                },
                "data" => match string_literal(v) {
                    Some(s) => body = Some(Body::Text(d.secrets.form(&s))),
                    None => match object_literal(v, true) {
                        Some(Value::Object(o)) => {
                            let mut j = Value::Object(o);
                            d.secrets.json(&mut j);
                            headers.insert("Content-Type".to_string(), FORM.to_string());
                            body = Some(Body::Text(form_body(&j)));
                        }
                        _ => d
                            .todos
                            .push(format!("line {line}: a data= body that is not literal")),
                    },
                },
                "headers" => match object_literal(v, true) {
                    Some(Value::Object(h)) => {
                        for (hk, hv) in h {
                            let v = d.secrets.header(&hk, &plain(&hv));
                            headers.insert(hk, v);
                        }
                    }
                    _ => d
                        .todos
                        .push(format!("line {line}: headers that are not literal")),
                },
                "name" => name = string_literal(v),
                _ => {}
            }
        }
        let p = d.secrets.path(&p);
        // The same call in another task is the same request.
        if let Some(r) = d
            .requests
            .iter()
            .find(|r| r.method == method && r.path == p && r.body == body && r.headers == headers)
        {
            out.push(Call {
                name: r.name.clone(),
            });
            continue;
        }
        let rname = d.unique_name(
            &name.unwrap_or_else(|| format!("{method} {}", p.split('?').next().unwrap_or(&p))),
        );
        d.requests.push(Request {
            name: rname.clone(),
            method,
            path: p,
            headers,
            body,
            comments: vec![format!("{}:{line}", path.display())],
            ..Default::default()
        });
        out.push(Call { name: rname });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_tasks_and_wait() {
        let src = r#"
from locust import HttpUser, task, between

class Shopper(HttpUser):
    host = "http://127.0.0.1:8080"
    weight = 3
    wait_time = between(1, 2.5)

    def on_start(self):
        self.client.post("/login", json={"username": "a", "password": "pw", "remember": True})

    @task(5)
    def browse(self):
        self.client.get("/api/items")

    @task
    def order(self):
        self.client.post("/api/orders", json={"item": 42})
        self.client.get(f"/api/orders/{oid}")

class Base(HttpUser):
    abstract = True
"#;
        let d = from_file(Path::new("locustfile.py"), src).unwrap();
        assert_eq!(d.users.len(), 1);
        let u = &d.users[0];
        assert_eq!(u.weight, Some(3));
        assert_eq!(u.think_time.as_deref(), Some("1000ms..2500ms"));
        assert_eq!(u.on_start, vec!["POST /login".to_string()]);
        assert_eq!(
            u.tasks,
            vec![
                ("GET /api/items".to_string(), 5),
                ("POST /api/orders".to_string(), 1)
            ]
        );
        assert!(
            d.todos.iter().any(|t| t.contains("not literal")),
            "{:?}",
            d.todos
        );
        assert!(!d.to_toml().contains("\"pw\""));
    }
}

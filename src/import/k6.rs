//! A k6 script -> its `options` (stages, scenarios with executors, thresholds) and its
//! literal `http.*` calls, in order, as one user's steps. Anything computed at run time
//! (a URL built from a variable, a body from a function) becomes a TODO.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use regex::Regex;
use serde_json::Value;

use super::draft::{form_body, plain, Body, Draft, Load, Request, Step, User, FORM};
use super::scan::{closing, fields, inside, line_of, object_literal, split_args, string_literal};
use super::{pick_base, ImportError};

pub fn from_script(path: &Path, src: &str) -> Result<Draft, ImportError> {
    let mut d = Draft {
        name: super::name_from(path, "k6"),
        ..Default::default()
    };
    let mut consts = string_consts(src);
    // `const token = res.json('access_token')`: a capture on the request `res` holds.
    let captures = response_captures(src);
    for (var, _, _) in &captures {
        consts.insert(var.clone(), format!("{{{{{var}}}}}"));
    }
    let assigned = Regex::new(r"([A-Za-z_$][\w$]*)\s*=\s*$").expect("valid regex");
    options(src, &mut d);
    let call = Regex::new(
        r"\bhttp\.(get|post|put|patch|del|head|options|request|asyncRequest|batch)\s*\(",
    )
    .expect("valid regex");
    let cx = Ctx {
        path,
        consts: &consts,
        captures: &captures,
    };
    let mut steps = Vec::new();
    let mut origins = Vec::new();
    let mut batches = 0;
    for m in call.captures_iter(src) {
        let whole = m.get(0).expect("match");
        let line = line_of(src, whole.start());
        let open = whole.end() - 1;
        let Some(close) = closing(src, open, false) else {
            d.todos.push(format!(
                "line {line}: an http call without its closing parenthesis"
            ));
            continue;
        };
        let args_text = templates_to_strings(&src[open + 1..close], &consts);
        let args = split_args(&args_text, false);
        let verb = &m[1];
        if verb == "batch" {
            let names = batch(&mut d, &cx, line, args.first().copied(), &mut origins);
            batches += 1;
            steps.extend(Step::of(names));
            continue;
        }
        let mut from = whole.start().saturating_sub(80);
        while !src.is_char_boundary(from) {
            from -= 1;
        }
        let before = &src[from..whole.start()];
        let result_var = assigned.captures(before).map(|c| c[1].to_string());
        // k6's signatures: get and head (url, params); request and asyncRequest (method,
        // url, body, params); the others (url, body, params).
        let (method, rest) = match verb {
            "request" | "asyncRequest" => match args.first().and_then(|a| string_literal(a)) {
                Some(method) => (method.to_ascii_uppercase(), &args[1.min(args.len())..]),
                None => {
                    d.todos.push(format!(
                        "line {line}: http.{verb} with a method that is not literal"
                    ));
                    continue;
                }
            },
            "del" => ("DELETE".to_string(), &args[..]),
            v => (v.to_ascii_uppercase(), &args[..]),
        };
        let (body, params) = if matches!(verb, "get" | "head") {
            (None, rest.get(1).copied())
        } else {
            (rest.get(1).copied(), rest.get(2).copied())
        };
        let c = Call {
            line,
            what: format!("http.{verb}"),
            method,
            url: rest.first().copied(),
            body,
            params,
            result_var,
        };
        if let Some((name, origin)) = request(&mut d, &cx, c) {
            steps.push(Step::One(name));
            origins.push(origin);
        }
    }
    if d.requests.is_empty() {
        return Err(ImportError::input(
            path,
            format!(
                "no http call with a literal URL in the script{}",
                if d.todos.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", d.todos.join("; "))
                }
            ),
        ));
    }
    pick_base(&mut d, &origins);
    let sleep = Regex::new(r"\bsleep\(\s*([0-9.]+)\s*\)").expect("valid regex");
    let slept: f64 = sleep
        .captures_iter(src)
        .filter_map(|c| c[1].parse::<f64>().ok())
        .sum();
    d.users.push(User {
        name: "default".into(),
        steps,
        think_time: (slept > 0.0).then(|| format!("{}ms", (slept * 1000.0).round() as u64)),
        comments: {
            let mut c = vec![
                "k6's default function, in order; its sleep() calls add up to the think time."
                    .to_string(),
            ];
            if batches > 0 {
                c.push(
                    "A list inside steps is k6's http.batch: one VU sends its requests together"
                        .into(),
                );
                c.push(
                    "and goes on when all have ended. Over HTTP/1.1 they go one after another on"
                        .into(),
                );
                c.push(
                    "the VU's connection (k6 opens up to 6 per host); over HTTP/2 ([http] version"
                        .into(),
                );
                c.push(
                    "= \"2\", streams_per_connection = 6) they are sent together, as k6's are."
                        .into(),
                );
            }
            c
        },
        ..Default::default()
    });
    if d.load.vus.is_none() && d.load.rate.is_none() && d.load.stages.is_empty() {
        d.load.vus = Some(1);
    }
    if d.load.duration.is_none() && d.load.iterations.is_none() && d.load.stages.is_empty() {
        d.load.iterations = Some(1);
        d.notes
            .push("k6 runs one iteration when options set no duration: so does this.".into());
    }
    d.notes.insert(
        0,
        format!(
            "Scenario '{}', imported by volley from the k6 script {}.",
            d.name,
            path.display()
        ),
    );
    Ok(d)
}

/// What the request functions share: the script's path, string constants and captures.
struct Ctx<'a> {
    path: &'a Path,
    consts: &'a HashMap<String, String>,
    captures: &'a [(String, String, String)],
}

/// One request's parts, as source text.
struct Call<'s> {
    line: usize,
    /// `http.get`, `http.batch`: for the TODO lines.
    what: String,
    method: String,
    url: Option<&'s str>,
    body: Option<&'s str>,
    params: Option<&'s str>,
    /// `res` in `const res = http.get(...)`.
    result_var: Option<String>,
}

/// `http.batch(requests)`: each request of the array (or object) in order; their names.
/// A request given as a URL string is a GET; as an array `[method, url, body, params]`;
/// as an object `{ method, url, body, params }`.
fn batch(
    d: &mut Draft,
    cx: &Ctx,
    line: usize,
    arg: Option<&str>,
    origins: &mut Vec<String>,
) -> Vec<String> {
    let entries: Option<Vec<&str>> = arg.and_then(|a| {
        if let Some(inner) = inside(a, '[') {
            Some(split_args(inner, false))
        } else {
            fields(a).map(|f| f.into_iter().map(|(_, v)| v).collect())
        }
    });
    let Some(entries) = entries else {
        d.todos.push(format!(
            "line {line}: http.batch with requests that are not a literal array or object ({}): add them by hand",
            arg.map(shorten).unwrap_or_default()
        ));
        return Vec::new();
    };
    let mut names = Vec::new();
    for e in entries {
        let call = |method: String, url, body, params| Call {
            line,
            what: "http.batch".into(),
            method,
            url,
            body,
            params,
            result_var: None,
        };
        let call = if literal_with_consts(e, cx.consts).is_some() {
            Some(call("GET".into(), Some(e), None, None))
        } else if let Some(inner) = inside(e, '[') {
            let parts = split_args(inner, false);
            parts.first().and_then(|m| string_literal(m)).map(|m| {
                call(
                    m.to_ascii_uppercase(),
                    parts.get(1).copied(),
                    parts.get(2).copied(),
                    parts.get(3).copied(),
                )
            })
        } else if let Some(f) = fields(e) {
            let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
            let method = match get("method") {
                None => Some("GET".to_string()),
                Some(m) => string_literal(m).map(|m| m.to_ascii_uppercase()),
            };
            method.map(|m| call(m, get("url"), get("body"), get("params")))
        } else {
            None
        };
        let Some(call) = call else {
            d.todos.push(format!(
                "line {line}: a request of http.batch that is not literal ({}): add it by hand",
                shorten(e)
            ));
            continue;
        };
        if let Some((name, origin)) = request(d, cx, call) {
            names.push(name);
            origins.push(origin);
        }
    }
    names
}

/// One request into the draft: its name and origin, or a TODO when it is not literal.
fn request(d: &mut Draft, cx: &Ctx, c: Call) -> Option<(String, String)> {
    let Call {
        line,
        what,
        method,
        url,
        body,
        params,
        result_var,
    } = c;
    let Some(url) = url.and_then(|a| literal_with_consts(a, cx.consts)) else {
        d.todos.push(format!(
            "line {line}: {what} with a URL that is not literal ({}): add it by hand",
            url.map(shorten).unwrap_or_default()
        ));
        return None;
    };
    let Ok(parsed) = reqwest::Url::parse(&url) else {
        d.todos
            .push(format!("line {line}: '{url}' is not an absolute URL"));
        return None;
    };
    let mut headers = BTreeMap::new();
    match params.map(str::trim) {
        None | Some("null") | Some("undefined") => {}
        Some(p) => match object_literal(p, false) {
            Some(Value::Object(o)) => {
                if let Some(Value::Object(h)) = o.get("headers") {
                    for (k, v) in h {
                        let v = plain(v);
                        if v.contains("{{") {
                            // A value captured from an earlier response.
                            headers.insert(k.clone(), v);
                            continue;
                        }
                        headers.insert(k.clone(), d.secrets.header(k, &v));
                    }
                }
            }
            _ => d.todos.push(format!(
                "line {line}: request params that are not literal ({}): headers not carried over",
                shorten(p)
            )),
        },
    }
    let body = match body.map(|b| b.trim()) {
        None | Some("null") | Some("undefined") => None,
        Some(b) => {
            if let Some(s) = string_literal(b) {
                Some(Body::Text(d.secrets.form(&s)))
            } else if let Some(mut j) = b
                .strip_prefix("JSON.stringify(")
                .and_then(|x| x.strip_suffix(')'))
                .and_then(|x| object_literal(x, false))
            {
                d.secrets.json(&mut j);
                headers.retain(|k, _| !k.eq_ignore_ascii_case("content-type"));
                Some(Body::Json(j))
            } else if let Some(mut j) = object_literal(b, false) {
                // k6 sends an object as a form.
                d.secrets.json(&mut j);
                headers.insert("Content-Type".into(), FORM.into());
                Some(Body::Text(form_body(&j)))
            } else {
                d.todos.push(format!(
                    "line {line}: a body that is not literal ({}): add it by hand",
                    shorten(b)
                ));
                None
            }
        }
    };
    let (origin, p) = super::split_url(&parsed);
    let p = d.secrets.path(&p);
    let name = d.unique_name(&format!("{method} {}", parsed.path()));
    d.requests.push(Request {
        name: name.clone(),
        method,
        path: p,
        headers,
        body,
        comments: vec![format!("{}:{line}", cx.path.display())],
        captures: cx
            .captures
            .iter()
            .filter(|(_, res, _)| Some(res) == result_var.as_ref())
            .map(|(var, _, p)| (var.clone(), format!("$.{p}")))
            .collect(),
        ..Default::default()
    });
    Some((name, origin))
}

fn shorten(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 60 {
        format!("{}...", one.chars().take(57).collect::<String>())
    } else {
        one
    }
}

/// `const token = res.json('access_token')`: (variable, response variable, JSON path).
/// Only plain dotted paths (k6's GJSON syntax has more), which read the same as volley's.
fn response_captures(src: &str) -> Vec<(String, String, String)> {
    let re = Regex::new(
        r#"\b(?:const|let|var)\s+([A-Za-z_][\w]*)\s*=\s*([A-Za-z_$][\w$]*)\.json\(\s*['"]([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)['"]\s*\)"#,
    )
    .expect("valid regex");
    re.captures_iter(src)
        .map(|c| (c[1].to_string(), c[2].to_string(), c[3].to_string()))
        .collect()
}

/// Template literals whose `${NAME}`s are all known (string constants, captured
/// variables) rewritten as plain string literals, so the object literals around them parse.
fn templates_to_strings(text: &str, consts: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('`') {
        let Some(len) = rest[i + 1..].find('`') else {
            break;
        };
        let lit = &rest[i..i + len + 2];
        out.push_str(&rest[..i]);
        match literal_with_consts(lit, consts) {
            Some(v) => out.push_str(&serde_json::Value::String(v).to_string()),
            None => out.push_str(lit),
        }
        rest = &rest[i + len + 2..];
    }
    out.push_str(rest);
    out
}

/// `const BASE = 'http://...'` at any level: names whose value is one string literal.
fn string_consts(src: &str) -> HashMap<String, String> {
    let re = Regex::new(r#"(?m)\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*('[^'\n]*'|"[^"\n]*"|`[^`$\n]*`)\s*;?\s*$"#)
        .expect("valid regex");
    re.captures_iter(src)
        .filter_map(|c| Some((c[1].to_string(), string_literal(&c[2])?)))
        .collect()
}

/// A string literal, a template literal whose `${NAME}`s are string constants, or
/// `NAME + 'literal'`.
fn literal_with_consts(arg: &str, consts: &HashMap<String, String>) -> Option<String> {
    if let Some(s) = string_literal(arg) {
        return Some(s);
    }
    let a = arg.trim();
    if a.len() >= 2 && a.starts_with('`') && a.ends_with('`') {
        let re = Regex::new(r"\$\{\s*([A-Za-z_$][\w$]*)\s*\}").expect("valid regex");
        let inner = &a[1..a.len() - 1];
        let mut ok = true;
        let out = re.replace_all(inner, |c: &regex::Captures| match consts.get(&c[1]) {
            Some(v) => v.clone(),
            None => {
                ok = false;
                String::new()
            }
        });
        return (ok && !out.contains("${")).then(|| out.into_owned());
    }
    let parts: Vec<&str> = a.split('+').map(str::trim).collect();
    if parts.len() > 1 {
        let mut out = String::new();
        for p in parts {
            out.push_str(&string_literal(p).or_else(|| consts.get(p).cloned())?);
        }
        return Some(out);
    }
    consts.get(a).cloned()
}

/// `export const options = {...}` -> [load] and thresholds.
fn options(src: &str, d: &mut Draft) {
    let re = Regex::new(r"export\s+(?:const|let|var)\s+options\s*=\s*\{").expect("valid regex");
    let Some(m) = re.find(src) else {
        d.notes
            .push("The script has no options: one VU, one iteration.".into());
        return;
    };
    let open = m.end() - 1;
    let line = line_of(src, open);
    let Some(opts) = closing(src, open, false).and_then(|c| object_literal(&src[open..=c], false))
    else {
        d.todos.push(format!(
            "line {line}: the options are not a literal object: set [load] by hand"
        ));
        return;
    };
    let o = opts.as_object().cloned().unwrap_or_default();
    let mut load = Load::default();
    if let Some(v) = o.get("vus").and_then(Value::as_u64) {
        load.vus = Some(v as u32);
    }
    load.duration = o
        .get("duration")
        .and_then(Value::as_str)
        .map(str::to_string);
    load.iterations = o.get("iterations").and_then(Value::as_u64);
    if let Some(st) = o.get("stages") {
        load.stages = stages(st, 1.0);
        load.vus.get_or_insert(0);
    }
    if let Some(Value::Object(sc)) = o.get("scenarios") {
        let mut it = sc.iter();
        if let Some((name, s)) = it.next() {
            load = executor(name, s, d);
        }
        for (name, _) in it {
            d.todos.push(format!(
                "k6 scenario '{name}' is not imported: volley runs one load model per file (make another file for it)"
            ));
        }
    }
    d.load = load;
    if let Some(Value::Object(th)) = o.get("thresholds") {
        for (metric, list) in th {
            let items: Vec<Value> = match list {
                Value::Array(a) => a.clone(),
                other => vec![other.clone()],
            };
            for item in items {
                let (expr, abort) = match &item {
                    Value::String(s) => (s.clone(), false),
                    Value::Object(t) => (
                        t.get("threshold")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        t.get("abortOnFail")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    ),
                    _ => continue,
                };
                match threshold(metric, &expr) {
                    Some(t) => {
                        d.thresholds.push(t);
                        if abort {
                            d.todos.push(format!("threshold '{metric}: {expr}' aborts the run on failure in k6: use a [[threshold]] table with abort_on_fail = true"));
                        }
                    }
                    None => d.todos.push(format!(
                        "threshold '{metric}: {expr}' has no volley equivalent"
                    )),
                }
            }
        }
    }
}

fn stages(v: &Value, per_second: f64) -> Vec<(String, f64)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| {
                    Some((
                        s.get("duration")?.as_str()?.to_string(),
                        s.get("target")?.as_f64()? * per_second,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// k6's timeUnit ("1s", "1m") -> iterations per second for one per unit.
fn per_second(o: &serde_json::Map<String, Value>) -> f64 {
    let unit = o.get("timeUnit").and_then(Value::as_str).unwrap_or("1s");
    match crate::scenario::parse_duration(unit) {
        Ok(d) if !d.is_zero() => 1.0 / d.as_secs_f64(),
        _ => 1.0,
    }
}

fn executor(name: &str, s: &Value, d: &mut Draft) -> Load {
    let o = s.as_object().cloned().unwrap_or_default();
    let u = |k: &str| o.get(k).and_then(Value::as_u64);
    let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
    let ex = text("executor").unwrap_or_default();
    let mut l = Load::default();
    match ex.as_str() {
        "constant-vus" | "externally-controlled" => {
            l.vus = u("vus").map(|v| v as u32).or(Some(1));
            l.duration = text("duration");
        }
        "ramping-vus" => {
            l.vus = Some(u("startVUs").unwrap_or(1) as u32);
            l.stages = stages(o.get("stages").unwrap_or(&Value::Null), 1.0);
        }
        "shared-iterations" => {
            l.vus = u("vus").map(|v| v as u32).or(Some(1));
            l.iterations = Some(u("iterations").unwrap_or(1));
            l.duration = text("maxDuration");
        }
        "per-vu-iterations" => {
            let vus = u("vus").unwrap_or(1);
            l.vus = Some(vus as u32);
            l.iterations = Some(vus * u("iterations").unwrap_or(1));
            l.duration = text("maxDuration");
            d.todos.push(format!("k6 scenario '{name}' runs iterations per VU; volley counts them over all VUs ({} in all)", l.iterations.unwrap_or(1)));
        }
        "constant-arrival-rate" => {
            let rate = o.get("rate").and_then(Value::as_f64).unwrap_or(1.0) * per_second(&o);
            l.model = Some("open");
            l.rate = Some(format!("{}/s", trim_float(rate)));
            l.max_vus = u("maxVUs").or(u("preAllocatedVUs")).map(|v| v as u32);
            l.duration = text("duration");
        }
        "ramping-arrival-rate" => {
            let ps = per_second(&o);
            l.model = Some("open");
            let start = o.get("startRate").and_then(Value::as_f64).unwrap_or(0.0) * ps;
            l.stages = stages(o.get("stages").unwrap_or(&Value::Null), ps);
            if start > 0.0 {
                l.stages.insert(0, ("0s".into(), start));
            }
            l.max_vus = u("maxVUs").or(u("preAllocatedVUs")).map(|v| v as u32);
        }
        other => {
            d.todos.push(format!("k6 scenario '{name}' has executor '{other}', which is not imported: one VU for 30s"));
            l.vus = Some(1);
            l.duration = Some("30s".into());
        }
    }
    d.notes
        .push(format!("Load from k6 scenario '{name}' (executor {ex})."));
    l
}

fn trim_float(f: f64) -> String {
    let s = format!("{f:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A k6 threshold expression as volley's, where one exists.
fn threshold(metric: &str, expr: &str) -> Option<String> {
    let re = Regex::new(r"^\s*([a-z]+(?:\(\s*[0-9.]+\s*\))?)\s*(<=|>=|==|<|>)\s*([0-9.]+)\s*$")
        .expect("valid regex");
    let c = re.captures(expr)?;
    let (agg, op, n) = (c[1].replace(' ', ""), &c[2], &c[3]);
    let base = metric.split('{').next().unwrap_or(metric);
    if metric.contains('{') {
        return None;
    }
    let num: f64 = n.parse().ok()?;
    match base {
        "http_req_duration" | "http_req_waiting" => {
            let m = match agg.as_str() {
                "avg" => "mean".to_string(),
                "med" => "p50".to_string(),
                "min" | "max" => agg.clone(),
                a if a.starts_with("p(") => format!("p{}", &a[2..a.len() - 1]),
                _ => return None,
            };
            Some(format!("{m} {op} {}ms", trim_float(num)))
        }
        "http_req_failed" if agg == "rate" => {
            Some(format!("error_rate {op} {}%", trim_float(num * 100.0)))
        }
        "checks" if agg == "rate" => Some(format!("checks {op} {}%", trim_float(num * 100.0))),
        "http_reqs" if agg == "rate" => Some(format!("rps {op} {}", trim_float(num))),
        "http_reqs" if agg == "count" => Some(format!("requests {op} {}", trim_float(num))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_map() {
        assert_eq!(
            threshold("http_req_duration", "p(95)<500").as_deref(),
            Some("p95 < 500ms")
        );
        assert_eq!(
            threshold("http_req_duration", "avg < 200.5").as_deref(),
            Some("mean < 200.5ms")
        );
        assert_eq!(
            threshold("http_req_failed", "rate<0.01").as_deref(),
            Some("error_rate < 1%")
        );
        assert_eq!(
            threshold("checks", "rate>0.99").as_deref(),
            Some("checks > 99%")
        );
        assert_eq!(threshold("http_req_duration{name:x}", "p(95)<1"), None);
        assert_eq!(threshold("iterations", "count>1"), None);
    }

    #[test]
    fn a_token_read_from_a_response_is_captured() {
        let src = "const B = 'http://h';\nexport default function () {\n  const res = http.post(`${B}/login`, JSON.stringify({ user: 'u' }));\n  const token = res.json('data.token');\n  http.get(`${B}/me`, { headers: { Authorization: `Bearer ${token}` } });\n}\n";
        let d = from_script(Path::new("s.js"), src).unwrap();
        assert_eq!(
            d.requests[0].captures,
            vec![("token".to_string(), "$.data.token".to_string())]
        );
        assert_eq!(d.requests[1].headers["Authorization"], "Bearer {{token}}");
        assert!(d.todos.is_empty(), "{:?}", d.todos);
        crate::import::finish(&d).unwrap();
    }

    #[test]
    fn batch_calls_are_batch_steps_in_order() {
        let src = r#"const B = 'http://h';
export default function () {
  http.get(`${B}/page`);
  const responses = http.batch([
    ['GET', `${B}/a.css`],
    ['POST', 'http://h/track', JSON.stringify({ e: 'view' }), { headers: { 'X-Id': '7' } }],
    `${B}/b.js`,
    { method: 'PUT', url: 'http://h/c', body: 'x=1' },
  ]);
  http.batch({ logo: 'http://h/logo.png', feed: { url: B + '/feed' } });
  http.batch(['http://h/only']);
  http.get('http://h/end');
}
"#;
        let d = from_script(Path::new("s.js"), src).unwrap();
        assert!(d.todos.is_empty(), "{:?}", d.todos);
        let one = |n: &str| Step::One(n.into());
        let batch = |ns: &[&str]| Step::Batch(ns.iter().map(|n| n.to_string()).collect());
        assert_eq!(
            d.users[0].steps,
            vec![
                one("GET /page"),
                batch(&["GET /a.css", "POST /track", "GET /b.js", "PUT /c"]),
                batch(&["GET /logo.png", "GET /feed"]),
                one("GET /only"),
                one("GET /end"),
            ]
        );
        let track = d.requests.iter().find(|r| r.name == "POST /track").unwrap();
        assert_eq!(
            track.body,
            Some(Body::Json(serde_json::json!({"e": "view"})))
        );
        assert_eq!(track.headers["X-Id"], "7");
        assert_eq!(track.comments, vec!["s.js:4".to_string()]);
        let put = d.requests.iter().find(|r| r.name == "PUT /c").unwrap();
        assert_eq!(put.body, Some(Body::Text("x=1".into())));
        // The TOML is a scenario volley runs: the batches are lists inside steps.
        let toml = crate::import::finish(&d).unwrap().toml;
        assert!(
            toml.contains(r#"  ["GET /a.css", "POST /track", "GET /b.js", "PUT /c"],"#),
            "{toml}"
        );
        assert!(toml.contains("k6's http.batch"), "{toml}");
    }

    #[test]
    fn batch_requests_that_are_not_literal_are_todos() {
        let src = "export default function () {\n  http.get('http://h/a');\n  http.batch(reqs);\n  http.batch([['GET', url], 'http://h/b', { method: m, url: 'http://h/c' }]);\n}\n";
        let d = from_script(Path::new("s.js"), src).unwrap();
        let names: Vec<&str> = d.requests.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["GET /a", "GET /b"]);
        assert_eq!(
            d.todos,
            [
                "line 3: http.batch with requests that are not a literal array or object (reqs): add them by hand",
                "line 4: http.batch with a URL that is not literal (url): add it by hand",
                "line 4: a request of http.batch that is not literal ({ method: m, url: 'http://h/c' }): add it by hand",
            ]
        );
        // One request left of the second batch: a plain step.
        assert_eq!(d.users[0].steps[1], Step::One("GET /b".into()));
    }

    #[test]
    fn params_after_a_null_body_are_read() {
        // http.request and http.options take (.., body, params) whatever the method;
        // asyncRequest is request's signature.
        let src = "export default async function () {\n  http.request('GET', 'http://h/a', null, { headers: { 'X-A': '1' } });\n  http.options('http://h/b', null, { headers: { 'X-B': '2' } });\n  await http.asyncRequest('DELETE', 'http://h/c', null, { headers: { 'X-C': '3' } });\n}\n";
        let d = from_script(Path::new("s.js"), src).unwrap();
        assert!(d.todos.is_empty(), "{:?}", d.todos);
        let h: Vec<(&str, &str)> = d
            .requests
            .iter()
            .map(|r| (r.name.as_str(), r.headers.values().next().unwrap().as_str()))
            .collect();
        assert_eq!(
            h,
            [("GET /a", "1"), ("OPTIONS /b", "2"), ("DELETE /c", "3")]
        );
        assert!(d.requests.iter().all(|r| r.body.is_none()));
    }

    #[test]
    fn urls_from_constants() {
        let c: HashMap<String, String> = [("BASE".to_string(), "http://h".to_string())].into();
        assert_eq!(
            literal_with_consts("`${BASE}/a`", &c).as_deref(),
            Some("http://h/a")
        );
        assert_eq!(
            literal_with_consts("BASE + '/b'", &c).as_deref(),
            Some("http://h/b")
        );
        assert_eq!(literal_with_consts("`${OTHER}/a`", &c), None);
    }
}

//! curl command lines -> requests. Words are split by `shell-words` (POSIX shell rules);
//! the flags that shape a request are read, the ones that only change what curl prints
//! are skipped, and any other flag is listed as a TODO.

use std::collections::BTreeMap;
use std::path::Path;

use super::draft::{Body, Draft, Load, Request};
use super::{pick_base, split_url, ImportError};

/// Flags curl takes with a value that do not change the request volley sends.
const SKIP_WITH_VALUE: &[&str] = &[
    "-o",
    "--output",
    "-w",
    "--write-out",
    "-m",
    "--max-time",
    "--connect-timeout",
    "--retry",
    "-c",
    "--cookie-jar",
    "-D",
    "--dump-header",
    "--cacert",
    "--capath",
    "-E",
    "--cert",
    "--key",
    "--resolve",
    "--proxy",
    "-x",
    "--limit-rate",
    "-r",
    "--range",
];

/// Flags without a value that do not change the request.
const SKIP: &[&str] = &[
    "-s",
    "--silent",
    "-S",
    "--show-error",
    "-v",
    "--verbose",
    "-i",
    "--include",
    "--compressed",
    "-f",
    "--fail",
    "--fail-with-body",
    "-#",
    "--progress-bar",
    "--http1.1",
    "--http2",
    "-N",
    "--no-buffer",
    "-O",
    "--remote-name",
    "-g",
    "--globoff",
];

/// One command already split into words, with where it came from (for messages).
struct Cmd<'a> {
    words: Vec<String>,
    at: &'a str,
}

/// One command from `volley import curl -- curl ...` (the shell already split it).
pub fn from_args(words: &[String]) -> Result<Draft, ImportError> {
    let mut draft = new_draft("curl");
    let mut origins = Vec::new();
    add(
        &mut draft,
        &mut origins,
        Cmd {
            words: words.to_vec(),
            at: "the command",
        },
    )?;
    pick_base(&mut draft, &origins);
    draft
        .notes
        .insert(1, "From 1 curl command (volley import curl).".into());
    Ok(draft)
}

/// Commands from a file, one per line; `\` at a line's end continues it, `#` starts a comment.
pub fn from_lines(path: &Path, text: &str) -> Result<Draft, ImportError> {
    let mut draft = new_draft(&super::name_from(path, "curl"));
    let mut origins = Vec::new();
    let mut pending = String::new();
    let mut start_line = 0;
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        if pending.is_empty() {
            start_line = i + 1;
            let t = line.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
        }
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let at = format!("{}:{start_line}", path.display());
        let words = shell_words::split(&pending).map_err(|e| {
            ImportError::input(
                path,
                format!("line {start_line}: cannot split the command into words: {e} (unbalanced quotes?)"),
            )
        })?;
        pending.clear();
        add(&mut draft, &mut origins, Cmd { words, at: &at })?;
        count += 1;
    }
    if !pending.is_empty() {
        return Err(ImportError::input(
            path,
            format!("line {start_line}: the command ends with '\\' and no next line"),
        ));
    }
    if count == 0 {
        return Err(ImportError::input(path, "no curl command in the file"));
    }
    pick_base(&mut draft, &origins);
    draft.notes.insert(
        1,
        format!(
            "From {count} curl command{} in {} (volley import curl).",
            if count == 1 { "" } else { "s" },
            path.display()
        ),
    );
    Ok(draft)
}

fn new_draft(name: &str) -> Draft {
    Draft {
        name: name.to_string(),
        notes: vec![
            format!("Scenario '{name}', imported by volley."),
            "Each command is a request picked by weight; one VU for 10s to begin with.".into(),
        ],
        load: Load {
            vus: Some(1),
            duration: Some("10s".into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn bad(cmd: &Cmd, msg: String) -> ImportError {
    ImportError::Input {
        path: cmd.at.to_string(),
        msg,
    }
}

fn add(draft: &mut Draft, origins: &mut Vec<String>, cmd: Cmd) -> Result<(), ImportError> {
    let mut words = cmd.words.iter().map(String::as_str).peekable();
    if words
        .peek()
        .is_some_and(|w| *w == "curl" || w.ends_with("/curl"))
    {
        words.next();
    }
    let mut method: Option<String> = None;
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut data: Vec<String> = Vec::new();
    let mut json_flag = false;
    let mut get = false;
    let mut head = false;
    let mut url: Option<String> = None;
    let mut user: Option<String> = None;
    let mut todos = Vec::new();
    let words: Vec<&str> = words.collect();
    let mut i = 0;
    // The value of the flag at `i`: the rest of the word (-XPOST) or the next word.
    let value = |i: &mut usize, attached: Option<&str>| -> Result<String, ImportError> {
        if let Some(a) = attached.filter(|a| !a.is_empty()) {
            return Ok(a.to_string());
        }
        *i += 1;
        words
            .get(*i)
            .map(|s| s.to_string())
            .ok_or_else(|| bad(&cmd, format!("'{}' needs a value", words[*i - 1])))
    };
    while i < words.len() {
        let w = words[i];
        let (flag, attached) = split_flag(w);
        match flag {
            "-X" | "--request" => method = Some(value(&mut i, attached)?.to_ascii_uppercase()),
            "-H" | "--header" => {
                let h = value(&mut i, attached)?;
                match h.split_once(':') {
                    Some((n, v)) if !n.trim().is_empty() => {
                        headers.push((n.trim().to_string(), v.trim().to_string()))
                    }
                    _ => todos.push(format!("header '{h}' has no 'Name: value' form; left out")),
                }
            }
            "-d" | "--data" | "--data-ascii" | "--data-raw" | "--data-binary"
            | "--data-urlencode" => {
                let d = value(&mut i, attached)?;
                if d.starts_with('@') && flag != "--data-raw" {
                    todos.push(format!(
                        "the body is read from the file '{}': paste it into body = \"...\"",
                        &d[1..]
                    ));
                } else {
                    data.push(d);
                }
            }
            "--json" => {
                json_flag = true;
                let d = value(&mut i, attached)?;
                if let Some(f) = d.strip_prefix('@') {
                    todos.push(format!(
                        "the JSON body is read from the file '{f}': paste it into json = ..."
                    ));
                } else {
                    data.push(d);
                }
            }
            "-u" | "--user" => user = Some(value(&mut i, attached)?),
            "-b" | "--cookie" => {
                let c = value(&mut i, attached)?;
                if c.contains('=') {
                    headers.push(("Cookie".into(), c));
                } else {
                    todos.push(format!(
                        "cookies are read from the file '{c}': set [http] cookies = true or a Cookie header"
                    ));
                }
            }
            "-A" | "--user-agent" => headers.push(("User-Agent".into(), value(&mut i, attached)?)),
            "-e" | "--referer" => headers.push(("Referer".into(), value(&mut i, attached)?)),
            "-k" | "--insecure" => draft.insecure = true,
            "-L" | "--location" => draft.follow_redirects = true,
            "-G" | "--get" => get = true,
            "-I" | "--head" => head = true,
            "--url" => url = Some(value(&mut i, attached)?),
            f if SKIP.contains(&f) => {}
            f if SKIP_WITH_VALUE.contains(&f) => {
                value(&mut i, attached)?;
            }
            f if f.starts_with("--") => {
                todos.push(format!("curl option '{f}' is not carried over"))
            }
            f if f.starts_with('-') && f.len() > 2 && attached.is_none() => {
                // Bundled short flags: -sSLk
                for c in f[1..].chars() {
                    match c {
                        'k' => draft.insecure = true,
                        'L' => draft.follow_redirects = true,
                        'G' => get = true,
                        'I' => head = true,
                        's' | 'S' | 'v' | 'i' | 'f' | 'N' | 'g' | '#' => {}
                        other => todos.push(format!("curl option '-{other}' is not carried over")),
                    }
                }
            }
            f if f.starts_with('-') && f.len() > 1 => {
                todos.push(format!("curl option '{f}' is not carried over"))
            }
            _ => {
                if url.is_some() {
                    return Err(bad(
                        &cmd,
                        format!(
                            "more than one URL ('{}' and '{w}'): give one per line",
                            url.unwrap_or_default()
                        ),
                    ));
                }
                url = Some(w.to_string());
            }
        }
        i += 1;
    }
    let Some(raw_url) = url else {
        return Err(bad(&cmd, "no URL in the curl command".into()));
    };
    let with_scheme = if raw_url.contains("://") {
        raw_url.clone()
    } else {
        format!("http://{raw_url}")
    };
    let mut parsed = reqwest::Url::parse(&with_scheme)
        .map_err(|e| bad(&cmd, format!("invalid URL '{raw_url}': {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad(
            &cmd,
            format!(
                "URL scheme '{}' is not supported (http or https)",
                parsed.scheme()
            ),
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // user:password@host: a credential; never carried into the file.
        user = Some("from the URL".into());
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
    }
    let mut body = (!data.is_empty()).then(|| data.join("&"));
    if get {
        if let Some(b) = body.take() {
            let q = match parsed.query() {
                Some(q) if !q.is_empty() => format!("{q}&{b}"),
                _ => b,
            };
            parsed.set_query(Some(&q));
        }
    }
    let (origin, path) = split_url(&parsed);
    let method = method.unwrap_or_else(|| {
        if head {
            "HEAD".into()
        } else if body.is_some() {
            "POST".into()
        } else {
            "GET".into()
        }
    });
    crate::scenario::parse_method(&method).map_err(|m| bad(&cmd, m))?;

    let mut hmap: BTreeMap<String, String> = BTreeMap::new();
    if json_flag {
        hmap.insert("Content-Type".into(), "application/json".into());
        hmap.insert("Accept".into(), "application/json".into());
    } else if body.is_some()
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        // What curl sends with -d.
        hmap.insert(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        );
    }
    for (n, v) in headers {
        // A later header of the same name replaces (case-insensitive), as curl does.
        hmap.retain(|k, _| !k.eq_ignore_ascii_case(&n));
        let v = draft.secrets.header(&n, &v);
        hmap.insert(n, v);
    }
    if user.is_some() {
        hmap.retain(|k, _| !k.eq_ignore_ascii_case("authorization"));
        hmap.insert(
            "Authorization".into(),
            draft.secrets.header("Authorization", "Basic x"),
        );
    }
    let is_json = json_flag
        || hmap
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v.contains("json"));
    let body = body.map(|b| match serde_json::from_str::<serde_json::Value>(&b) {
        Ok(mut j) if is_json => {
            draft.secrets.json(&mut j);
            Body::Json(j)
        }
        _ => Body::Text(draft.secrets.form(&b)),
    });
    // `json = ...` sets the Content-Type itself.
    if matches!(body, Some(Body::Json(_)))
        && hmap
            .get("Content-Type")
            .is_some_and(|v| v == "application/json")
    {
        hmap.remove("Content-Type");
    }
    let path = draft.secrets.path(&path);
    let name = draft.unique_name(&format!("{method} {}", parsed.path()));
    let mut comments = vec![format!("from {}", cmd.at)];
    comments.extend(todos.iter().map(|t| format!("TODO: {t}")));
    for t in todos {
        draft.todos.push(format!("{}: {t}", cmd.at));
    }
    draft.requests.push(Request {
        name,
        method,
        path,
        headers: hmap,
        body,
        weight: Some(1),
        comments,
        ..Default::default()
    });
    origins.push(origin);
    Ok(())
}

/// `-XPOST` -> ("-X", Some("POST")); `--data=x` -> ("--data", Some("x")); `-k` -> ("-k", None).
fn split_flag(w: &str) -> (&str, Option<&str>) {
    if let Some(rest) = w.strip_prefix("--") {
        if let Some((f, v)) = rest.split_once('=') {
            return (&w[..f.len() + 2], Some(v));
        }
        return (w, None);
    }
    if w.starts_with('-') && w.len() > 2 && w.is_char_boundary(2) {
        let flag = &w[..2];
        if matches!(
            flag,
            "-X" | "-H" | "-d" | "-u" | "-b" | "-A" | "-e" | "-o" | "-w" | "-m"
        ) {
            return (flag, Some(&w[2..]));
        }
    }
    (w, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(cmd: &str) -> Draft {
        from_lines(Path::new("t.txt"), cmd).unwrap()
    }

    #[test]
    fn post_json_with_token() {
        let d = one(
            r#"curl -X POST https://api.example.com/v1/orders -H 'Authorization: Bearer sekrit' -H "Content-Type: application/json" -d '{"item": 42, "password": "pw"}'"#,
        );
        assert_eq!(d.base_url, "https://api.example.com");
        let r = &d.requests[0];
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/v1/orders");
        assert_eq!(r.headers["Authorization"], "Bearer {{env.TOKEN}}");
        let toml = d.to_toml();
        assert!(
            !toml.contains("sekrit") && !toml.contains("\"pw\""),
            "{toml}"
        );
        assert!(
            toml.contains("json = { item = 42, password = \"{{env.PASSWORD}}\" }"),
            "{toml}"
        );
    }

    #[test]
    fn bundled_and_attached_flags() {
        let d = one("curl -sSLk -XPUT 'http://h:8080/a?b=1' --data-raw x=1 -u me:pw");
        let r = &d.requests[0];
        assert_eq!(r.method, "PUT");
        assert!(d.insecure && d.follow_redirects);
        assert_eq!(r.headers["Authorization"], "Basic {{env.BASIC_AUTH}}");
        assert_eq!(r.body, Some(Body::Text("x=1".into())));
        assert_eq!(d.base_url, "http://h:8080");
    }

    #[test]
    fn get_moves_data_to_query() {
        let d = one("curl -G http://h/s -d q=lamp -d n=2");
        assert_eq!(d.requests[0].path, "/s?q=lamp&n=2");
        assert_eq!(d.requests[0].method, "GET");
    }

    #[test]
    fn unbalanced_quotes_name_the_line() {
        let e = from_lines(Path::new("c.txt"), "curl http://h/\ncurl 'http://h/x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("c.txt") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn credentials_in_url_are_not_kept() {
        let d = one("curl http://me:hunter2@h/x");
        let t = d.to_toml();
        assert!(!t.contains("hunter2") && !t.contains("me:"), "{t}");
    }

    #[test]
    fn odd_words_are_errors_or_todos_not_panics() {
        for cmd in [
            "curl -é http://h/",
            "curl -Xé http://h/",
            "curl --",
            "curl -H",
            "curl 'http://h/' -d",
        ] {
            let _ = from_lines(Path::new("t.txt"), cmd);
        }
        assert!(from_lines(Path::new("t.txt"), "curl -H")
            .unwrap_err()
            .to_string()
            .contains("'-H' needs a value"));
    }
}

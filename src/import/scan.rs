//! Reading the literal parts of a k6 script or a locustfile: matching brackets, splitting
//! arguments, string literals. Object and dict literals are parsed by `json5` (which reads
//! JavaScript object syntax); anything that is not a literal is left to the caller to report.

/// The index of the bracket that closes the one at `open`, skipping strings and comments.
pub fn closing(s: &str, open: usize, py: bool) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            q @ (b'\'' | b'"' | b'`') => i = string_end(b, i, q),
            b'#' if py => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if !py && b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if !py && b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the quote that closes the string opened by `q` at `i`.
fn string_end(b: &[u8], mut i: usize, q: u8) -> usize {
    i += 1;
    while i < b.len() && b[i] != q {
        if b[i] == b'\\' {
            i += 1;
        }
        i += 1;
    }
    i
}

/// Splits at top-level commas.
pub fn split_args(s: &str, py: bool) -> Vec<&str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'(' | b'[' | b'{' => match closing(s, i, py) {
                Some(c) => i = c,
                None => break,
            },
            q @ (b'\'' | b'"' | b'`') => i = string_end(b, i, q),
            b',' => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let last = s.get(start..).unwrap_or("").trim();
    if !last.is_empty() {
        out.push(last);
    }
    out
}

/// A plain string literal: '...', "..." or a template `...` without `${}`.
pub fn string_literal(arg: &str) -> Option<String> {
    let a = arg.trim();
    let q = a.chars().next()?;
    if !matches!(q, '\'' | '"' | '`') || a.len() < 2 || !a.ends_with(q) {
        return None;
    }
    let inner = &a[1..a.len() - 1];
    if q == '`' && inner.contains("${") {
        return None;
    }
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == q {
            // An unescaped quote inside: a concatenation, not one literal.
            return None;
        }
        if c == '\\' {
            match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                other => out.push(other),
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// A JavaScript object literal (or a Python dict, with `py`) as JSON, when it is literal.
pub fn object_literal(arg: &str, py: bool) -> Option<serde_json::Value> {
    let a = arg.trim();
    if !(a.starts_with('{') || a.starts_with('[')) {
        return None;
    }
    let text = if py { python_words(a) } else { a.to_string() };
    json5::from_str(&text).ok()
}

/// Python's True/False/None as JSON's words, outside strings.
fn python_words(s: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(match word.as_str() {
            "True" => "true",
            "False" => "false",
            "None" => "null",
            w => w,
        });
        word.clear();
    };
    for c in s.chars() {
        if let Some(q) = quote {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        flush(&mut word, &mut out);
        if c == '\'' || c == '"' {
            quote = Some(c);
        }
        out.push(c);
    }
    flush(&mut word, &mut out);
    out
}

/// The inside of a bracketed literal (`[...]`, `{...}`), when `arg` is one.
pub fn inside(arg: &str, open: char) -> Option<&str> {
    let a = arg.trim();
    let close = match open {
        '[' => ']',
        '{' => '}',
        _ => return None,
    };
    (a.starts_with(open) && a.ends_with(close) && closing(a, 0, false) == Some(a.len() - 1))
        .then(|| &a[1..a.len() - 1])
}

/// A JavaScript object literal's top-level `key: value` pairs, the values as source
/// text (so a value that is not literal, `JSON.stringify(...)` say, can still be read
/// apart). `None` when `arg` is not an object literal or a member is not `key: value`
/// (a shorthand, a spread, a computed key).
pub fn fields(arg: &str) -> Option<Vec<(String, &str)>> {
    let inner = inside(arg, '{')?;
    let mut out = Vec::new();
    for member in split_args(inner, false) {
        let (key, value) = match member.chars().next()? {
            q @ ('\'' | '"') => {
                let end = string_end(member.as_bytes(), 0, q as u8);
                let key = string_literal(member.get(..=end)?)?;
                (key, member.get(end + 1..)?.trim_start().strip_prefix(':')?)
            }
            _ => {
                let (k, v) = member.split_once(':')?;
                let k = k.trim();
                if k.is_empty()
                    || !k
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
                {
                    return None;
                }
                (k.to_string(), v)
            }
        };
        out.push((key, value.trim()));
    }
    Some(out)
}

/// 1-based line of a byte offset.
pub fn line_of(s: &str, at: usize) -> usize {
    s[..at.min(s.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_args_and_literals() {
        let s = "f('a)', {b: [1, 2]}, \"c\") + 1";
        assert_eq!(closing(s, 1, false), Some(24));
        assert_eq!(
            split_args(&s[2..24], false),
            vec!["'a)'", "{b: [1, 2]}", "\"c\""]
        );
        assert_eq!(string_literal("'it\\'s'"), Some("it's".into()));
        assert_eq!(string_literal("`a${b}`"), None);
        assert_eq!(string_literal("'a' + b + 'c'"), None);
        assert_eq!(
            object_literal("{ a: 'x', b: [1, true], }", false),
            Some(serde_json::json!({"a": "x", "b": [1, true]}))
        );
        assert_eq!(
            fields("{ method: 'POST', 'url': 'http://h/a', body: JSON.stringify({ a: 1 }), }"),
            Some(vec![
                ("method".to_string(), "'POST'"),
                ("url".to_string(), "'http://h/a'"),
                ("body".to_string(), "JSON.stringify({ a: 1 })"),
            ])
        );
        assert_eq!(fields("{ url, method: 'GET' }"), None);
        assert_eq!(fields("{ ...base }"), None);
        assert_eq!(fields("['GET', 'x']"), None);
        assert_eq!(inside(" ['GET', 'x'] ", '['), Some("'GET', 'x'"));
        assert_eq!(inside("['a'] + ['b']", '['), None);
        assert_eq!(
            object_literal("{'ok': True, 'n': None, 'Nonesuch': 'True'}", true),
            Some(serde_json::json!({"ok": true, "n": null, "Nonesuch": "True"}))
        );
    }
}

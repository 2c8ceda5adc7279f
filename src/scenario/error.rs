//! Scenario errors that name the file, line, column and key.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{}: cannot read {what} file: {source}", path.display())]
    Read {
        /// What the file is, for the message: "scenario", "theme".
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Located),
}

/// One problem at one place in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// Dotted key path, e.g. `load.vus` or `request[2].method`; empty when unknown.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.col)?;
        if !self.key.is_empty() {
            write!(f, "key '{}': ", self.key)?;
        }
        // Always one line: control characters from the file (a newline inside a quoted
        // name) are shown escaped.
        for c in self.message.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl ScenarioError {
    /// An error at `span` of `src`; the key path is worked out from the text.
    pub fn at(file: &Path, src: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        let offset = span.start.min(src.len());
        let (line, col) = line_col(src, offset);
        ScenarioError::Invalid(Located {
            file: file.display().to_string(),
            line,
            col,
            key: key_path(src, offset),
            message: message.into(),
        })
    }

    /// An error about `key`, placed at `span` (usually the enclosing table).
    pub fn at_key(
        file: &Path,
        src: &str,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let mut e = Self::at(file, src, span, message);
        if let ScenarioError::Invalid(l) = &mut e {
            l.key = key.into();
        }
        e
    }

    pub fn from_toml(file: &Path, src: &str, err: &toml::de::Error) -> Self {
        let span = err.span().unwrap_or(0..0);
        let raw = err.message().trim().to_string();
        let mut e = Self::at(file, src, span.clone(), tidy_message(&raw));
        if let ScenarioError::Invalid(l) = &mut e {
            // serde names the key in these messages; prefer that over the text guess.
            if let Some(field) = backticked_after(&raw, "missing field ") {
                l.key = join_key(&table_at(src, span.start), &field);
            } else if let Some(field) = backticked_after(&raw, "unknown field ") {
                l.key = join_key(&table_at(src, span.start), &field);
            }
            // A header value may be a secret: never echo text under a `headers` key.
            if l.key.split('.').any(|k| k.ends_with("headers")) {
                l.message = redact_quoted(&l.message);
            }
        }
        e
    }

    pub fn located(&self) -> Option<&Located> {
        match self {
            ScenarioError::Invalid(l) => Some(l),
            ScenarioError::Read { .. } => None,
        }
    }
}

fn tidy_message(raw: &str) -> String {
    let msg = raw
        .replace('`', "'")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        // "unknown field 'x', expected one of 'a', 'b'"
        if let Some((field, expected)) = rest.split_once(", expected ") {
            return format!("unknown key {field} (expected {expected})");
        }
        return format!("unknown key {rest}");
    }
    if let Some(rest) = msg.strip_prefix("missing field ") {
        return format!("required key {rest} is missing");
    }
    msg
}

/// `invalid type: string "Bearer xyz", ...` -> `invalid type: string "[redacted]", ...`
fn redact_quoted(msg: &str) -> String {
    let mut out = String::new();
    let mut parts = msg.split('"');
    out.push_str(parts.next().unwrap_or(""));
    for (i, part) in parts.enumerate() {
        out.push('"');
        out.push_str(if i % 2 == 0 { "[redacted]" } else { part });
    }
    out
}

fn backticked_after(raw: &str, prefix: &str) -> Option<String> {
    let rest = raw.strip_prefix(prefix)?.strip_prefix('`')?;
    Some(rest.split('`').next()?.to_string())
}

fn join_key(table: &str, key: &str) -> String {
    if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(src, offset);
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = src[line_start..offset].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The table header in force at `offset`: `load`, `request[1]`, or "" for the root.
pub fn table_at(src: &str, offset: usize) -> String {
    let offset = floor_char_boundary(src, offset);
    let mut header = String::new();
    let mut header_start = 0;
    for (start, line) in line_starts(src) {
        if start > offset {
            break;
        }
        let t = line.trim();
        if t.starts_with('[') {
            header = t.to_string();
            header_start = start;
        }
    }
    if header.is_empty() {
        return String::new();
    }
    if let Some(inner) = header.strip_prefix("[[") {
        let name = inner.split("]]").next().unwrap_or("").trim().to_string();
        // index of this array-of-tables entry
        let idx = line_starts(src)
            .filter(|(s, l)| *s < header_start && l.trim().starts_with(&format!("[[{name}]]")))
            .count();
        return format!("{name}[{idx}]");
    }
    header
        .trim_start_matches('[')
        .split(']')
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

fn line_starts(src: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut start = 0;
    src.split_inclusive('\n').map(move |line| {
        let s = start;
        start += line.len();
        (s, line)
    })
}

/// Best guess at the dotted key whose key or value sits at `offset`.
pub fn key_path(src: &str, offset: usize) -> String {
    let offset = floor_char_boundary(src, offset);
    let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
    let line = &src[line_start..line_end];
    let table = table_at(src, offset);
    if line.trim_start().starts_with('[') {
        return table;
    }
    let key = match line.find('=') {
        Some(eq) => line[..eq].trim().trim_matches('"').to_string(),
        None => String::new(),
    };
    if key.is_empty() {
        table
    } else {
        join_key(&table, &key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "name = \"x\"\n[load]\nvus = 0\n\n[[request]]\npath = \"/a\"\n[[request]]\nmethod = \"FETCH\"\n";

    #[test]
    fn finds_line_col_and_keys() {
        let off = SRC.find("0\n").unwrap();
        assert_eq!(line_col(SRC, off), (3, 7));
        assert_eq!(key_path(SRC, off), "load.vus");
        let off = SRC.find("\"FETCH\"").unwrap();
        assert_eq!(key_path(SRC, off), "request[1].method");
        let off = SRC.find("\"/a\"").unwrap();
        assert_eq!(key_path(SRC, off), "request[0].path");
        assert_eq!(key_path(SRC, 2), "name");
    }
}

//! Scenario errors that name the file, line, column and key.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::locate::Layout;

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

    /// A toml error: its span places it (a key the model does not know is at that
    /// key), and a missing key is named under the table that lacks it.
    pub fn from_toml(file: &Path, src: &str, err: &toml::de::Error) -> Self {
        let span = err.span().unwrap_or(0..0);
        let message = SerdeMessage::read(err.message().trim());
        let mut e = Self::at(file, src, span.clone(), message.to_string());
        if let ScenarioError::Invalid(l) = &mut e {
            match &message {
                SerdeMessage::MissingField(field, _) => {
                    l.key = join_key(&table_at(src, span.start), field);
                }
                // The span is the unknown key's own, unless it sits in an inline table
                // (named by the key that holds it).
                SerdeMessage::UnknownField(field, _)
                    if l.key != *field && !l.key.ends_with(&format!(".{field}")) =>
                {
                    l.key = join_key(&l.key, field);
                }
                _ => {}
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

/// A toml error's message. `toml::de::Error` carries only a message and a span, so the
/// two errors serde's derive reports about keys (`unknown_field`, `missing_field`) are
/// told apart by the fixed form serde gives them, in this one place; both are said in
/// this program's words.
#[derive(Debug, PartialEq)]
enum SerdeMessage {
    /// ``unknown field `x`, expected one of `a`, `b` ``: the field and the rest.
    UnknownField(String, String),
    /// ``missing field `x` ``: the field and the rest.
    MissingField(String, String),
    /// Anything else, on one line.
    Other(String),
}

impl SerdeMessage {
    fn read(raw: &str) -> SerdeMessage {
        let one_line = raw
            .replace('`', "'")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        let field = |prefix: &str| -> Option<(String, String)> {
            let field = backticked_after(raw, prefix)?;
            let rest = one_line.strip_prefix(prefix)?.get(field.len() + 2..)?;
            Some((field, rest.to_string()))
        };
        if let Some((field, rest)) = field("unknown field ") {
            return SerdeMessage::UnknownField(field, rest);
        }
        if let Some((field, rest)) = field("missing field ") {
            return SerdeMessage::MissingField(field, rest);
        }
        SerdeMessage::Other(one_line)
    }
}

impl fmt::Display for SerdeMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SerdeMessage::UnknownField(field, rest) => match rest.strip_prefix(", expected ") {
                Some(expected) => write!(f, "unknown key '{field}' (expected {expected})"),
                None => write!(f, "unknown key '{field}'{rest}"),
            },
            SerdeMessage::MissingField(field, rest) => {
                write!(f, "required key '{field}'{rest} is missing")
            }
            SerdeMessage::Other(text) => f.write_str(text),
        }
    }
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

/// The table in force at `offset`: `load`, `request[1]`, or "" for the root.
pub fn table_at(src: &str, offset: usize) -> String {
    match Layout::parse(src) {
        Some(layout) => layout.table_path(offset),
        None => line_table_at(src, offset),
    }
}

/// The dotted key whose key or value sits at `offset` (`request[1].method`), from the
/// parsed document; for text that does not parse (a syntax error), from the line.
pub fn key_path(src: &str, offset: usize) -> String {
    match Layout::parse(src) {
        Some(layout) => layout.key_path(offset),
        None => line_key_path(src, offset),
    }
}

/// For text that does not parse: the last table header above `offset`.
fn line_table_at(src: &str, offset: usize) -> String {
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

/// For text that does not parse: the key before `=` on the line of `offset`, under
/// the table header above it.
fn line_key_path(src: &str, offset: usize) -> String {
    let offset = floor_char_boundary(src, offset);
    let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
    let line = &src[line_start..line_end];
    let table = line_table_at(src, offset);
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
        // Text that does not parse is read line by line.
        let broken = "[load]\nvus = = 3\n";
        assert_eq!(key_path(broken, broken.find("= 3").unwrap()), "load.vus");
        assert_eq!(table_at(broken, broken.len() - 1), "load");
    }

    #[test]
    fn serde_messages_about_keys_are_reworded() {
        let read = |raw: &str| SerdeMessage::read(raw).to_string();
        assert_eq!(
            read("unknown field `vu`, expected one of `vus`, `rate`"),
            "unknown key 'vu' (expected one of 'vus', 'rate')"
        );
        assert_eq!(
            read("unknown field `vu`, there are no fields"),
            "unknown key 'vu', there are no fields"
        );
        assert_eq!(
            read("missing field `base_url`"),
            "required key 'base_url' is missing"
        );
        assert_eq!(
            read("invalid type: integer `3`,\n  expected a string"),
            "invalid type: integer '3',; expected a string"
        );
    }
}

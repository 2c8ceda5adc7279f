//! A light TOML highlighter for the scenario shown at the end of the page: comments,
//! table headers, keys and quoted strings, everything escaped.

use std::fmt::Write as _;

use super::esc;

/// A light TOML highlighter for the scenario text.
pub(super) fn highlight_toml(src: &str) -> String {
    let mut out = String::new();
    for line in src.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') {
            let _ = write!(out, r#"<span class="c">{}</span>"#, esc(line));
        } else if trimmed.starts_with('[') {
            let (code, comment) = split_comment(line);
            let _ = write!(out, r#"<span class="h">{}</span>"#, esc(code));
            if !comment.is_empty() {
                let _ = write!(out, r#"<span class="c">{}</span>"#, esc(comment));
            }
        } else if let Some(eq) = line.find('=').filter(|_| !trimmed.is_empty()) {
            let (key, rest) = line.split_at(eq);
            let (value, comment) = split_comment(rest);
            let _ = write!(
                out,
                r#"<span class="k">{}</span>{}"#,
                esc(key),
                highlight_strings(value)
            );
            if !comment.is_empty() {
                let _ = write!(out, r#"<span class="c">{}</span>"#, esc(comment));
            }
        } else {
            out.push_str(&highlight_strings(line));
        }
        out.push('\n');
    }
    out
}

/// Splits a line at a `#` that is outside quotes.
fn split_comment(line: &str) -> (&str, &str) {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q && prev != '\\' => quote = None,
            (None, '#') => return line.split_at(i),
            _ => {}
        }
        prev = c;
    }
    (line, "")
}

fn highlight_strings(s: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut buf = String::new();
    let mut prev = ' ';
    for c in s.chars() {
        match quote {
            None if c == '"' || c == '\'' => {
                out.push_str(&esc(&buf));
                buf.clear();
                buf.push(c);
                quote = Some(c);
            }
            Some(q) if c == q && prev != '\\' => {
                buf.push(c);
                let _ = write!(out, r#"<span class="s">{}</span>"#, esc(&buf));
                buf.clear();
                quote = None;
            }
            _ => buf.push(c),
        }
        prev = c;
    }
    out.push_str(&esc(&buf));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_highlighting_escapes() {
        let h = highlight_toml("name = \"<b>\" # c\n[load]\n");
        assert!(h.contains("&lt;b&gt;"));
        assert!(!h.contains("<b>"));
        assert!(h.contains(r#"<span class="h">[load]</span>"#));
    }
}

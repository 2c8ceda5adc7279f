//! Series selectors: a metric name with optional label matchers, as in PromQL:
//! `node_cpu_seconds_total{mode="idle"}`. Every sample that matches is summed.

use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub name: String,
    /// `label = "value"` matchers (all must hold).
    pub labels: Vec<(String, String)>,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

impl Selector {
    /// Parses `name` or `name{label="value", ...}`.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let t = text.trim();
        let (name, rest) = match t.find('{') {
            Some(i) => (&t[..i], Some(&t[i..])),
            None => (t, None),
        };
        let name = name.trim();
        if !is_name(name) {
            return Err(format!(
                "'{text}': expected a metric name like node_load1 or node_cpu_seconds_total{{mode=\"idle\"}}"
            ));
        }
        let mut labels = Vec::new();
        if let Some(rest) = rest {
            let inner = rest
                .strip_prefix('{')
                .and_then(|r| r.strip_suffix('}'))
                .ok_or_else(|| format!("'{text}': label matchers must end with '}}'"))?;
            for m in inner.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                let (k, v) = m
                    .split_once('=')
                    .ok_or_else(|| format!("'{text}': expected label=\"value\", got '{m}'"))?;
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .ok_or_else(|| {
                        format!("'{text}': the value of '{}' must be quoted", k.trim())
                    })?;
                if !is_name(k.trim()) {
                    return Err(format!("'{text}': '{}' is not a label name", k.trim()));
                }
                labels.push((k.trim().to_string(), v.to_string()));
            }
        }
        Ok(Selector {
            name: name.to_string(),
            labels,
        })
    }

    pub fn matches(&self, name: &str, labels: &HashMap<String, String>) -> bool {
        self.name == name
            && self
                .labels
                .iter()
                .all(|(k, v)| labels.get(k).is_some_and(|x| x == v))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.labels.is_empty() {
            let parts: Vec<String> = self
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            write!(f, "{{{}}}", parts.join(","))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_matchers() {
        let s = Selector::parse(r#"node_cpu_seconds_total{mode="idle", cpu="0"}"#).expect("ok");
        assert_eq!(s.name, "node_cpu_seconds_total");
        assert_eq!(s.labels.len(), 2);
        assert_eq!(
            s.to_string(),
            r#"node_cpu_seconds_total{mode="idle",cpu="0"}"#
        );
        let mut l = HashMap::new();
        l.insert("mode".to_string(), "idle".to_string());
        l.insert("cpu".to_string(), "0".to_string());
        assert!(s.matches("node_cpu_seconds_total", &l));
        l.insert("cpu".to_string(), "1".to_string());
        assert!(!s.matches("node_cpu_seconds_total", &l));
        for bad in ["", "1abc", "a{b}", "a{b=c}", r#"a{b="c""#, "a b"] {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
    }
}

//! `--out junit`: thresholds and checks as JUnit test cases, for CI systems. A run with
//! neither gets one test case that says it completed.

use std::io::{self, Write};

use super::doc::ResultDoc;
use super::text::fmt_metric_value;
use crate::units;

/// Escapes text for XML attributes and character data (and drops characters XML 1.0
/// cannot hold).
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

struct Case {
    class: String,
    name: String,
    failure: Option<(String, String)>,
}

fn suite<W: Write>(w: &mut W, name: &str, time: f64, cases: &[Case]) -> io::Result<()> {
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    writeln!(
        w,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{time:.3}\">",
        xml(name),
        cases.len()
    )?;
    for c in cases {
        write!(
            w,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
            xml(&c.class),
            xml(&c.name)
        )?;
        match &c.failure {
            None => writeln!(w, "/>")?,
            Some((message, body)) => {
                writeln!(w, ">")?;
                writeln!(
                    w,
                    "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                    xml(message),
                    if name == "thresholds" {
                        "threshold"
                    } else {
                        "check"
                    },
                    xml(body)
                )?;
                writeln!(w, "    </testcase>")?;
            }
        }
    }
    writeln!(w, "  </testsuite>")
}

/// Writes the JUnit XML document.
pub fn write_junit<W: Write>(doc: &ResultDoc, w: &mut W) -> io::Result<()> {
    let thresholds: Vec<Case> = doc
        .thresholds
        .iter()
        .map(|t| {
            let scope = t.endpoint.as_deref().unwrap_or("all requests");
            let value = fmt_metric_value(&t.metric, t.value);
            Case {
                class: format!(
                    "volley.thresholds.{}",
                    t.endpoint.as_deref().unwrap_or("all")
                ),
                name: if t.endpoint.is_some() {
                    format!("{} ({scope})", t.name)
                } else {
                    t.name.clone()
                },
                failure: (!t.passed).then(|| {
                    (
                        format!("{}: {} = {value}", t.expression, t.metric),
                        format!(
                            "threshold '{}' on {scope} failed: {} is {value}",
                            t.expression, t.metric
                        ),
                    )
                }),
            }
        })
        .collect();
    let checks: Vec<Case> = doc
        .checks
        .iter()
        .map(|c| {
            let total = c.passes + c.fails;
            Case {
                class: format!("volley.checks.{}", c.endpoint),
                name: if c.endpoint.is_empty() {
                    c.name.clone()
                } else {
                    format!("{} ({})", c.name, c.endpoint)
                },
                failure: (c.fails > 0).then(|| {
                    let pct = units::percent(c.fails as f64 / total.max(1) as f64);
                    (
                        format!(
                            "{} of {} responses failed ({pct})",
                            units::count(c.fails),
                            units::count(total)
                        ),
                        format!(
                            "check '{}' on {}: {} passed, {} failed",
                            c.name,
                            c.endpoint,
                            units::count(c.passes),
                            units::count(c.fails)
                        ),
                    )
                }),
            }
        })
        .collect();
    let run = [Case {
        class: "volley.run".into(),
        name: format!("{} completed", doc.scenario),
        failure: None,
    }];
    let mut suites: Vec<(&str, &[Case])> = Vec::new();
    if !thresholds.is_empty() {
        suites.push(("thresholds", &thresholds));
    }
    if !checks.is_empty() {
        suites.push(("checks", &checks));
    }
    if suites.is_empty() {
        suites.push(("run", &run));
    }
    let tests: usize = suites.iter().map(|s| s.1.len()).sum();
    let failures: usize = suites
        .iter()
        .map(|s| s.1.iter().filter(|c| c.failure.is_some()).count())
        .sum();
    writeln!(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(
        w,
        "<testsuites name=\"volley: {}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\" timestamp=\"{}\">",
        xml(&doc.scenario),
        doc.duration_s,
        xml(&doc.started_at)
    )?;
    for (name, cases) in suites {
        suite(w, name, doc.duration_s, cases)?;
    }
    writeln!(w, "</testsuites>")
}

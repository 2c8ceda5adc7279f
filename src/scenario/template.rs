//! `{{...}}` templates in paths, headers and bodies, compiled once at validation time.
//!
//! Built-ins: `{{env.NAME}}` (resolved when the scenario loads; an unset variable is an
//! error), `{{vu}}`, `{{iteration}}`, `{{uuid}}`, `{{timestamp}}` (Unix seconds),
//! `{{timestamp_ms}}`, `{{now}}` (RFC 3339), `{{random_int(1, 100)}}`,
//! `{{random_pick(a, b, c)}}`, `{{DATASET.COLUMN}}` (a CSV data file), and any variable a
//! request captures.

use std::fmt::Write as _;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Lit(String),
    /// An environment value, resolved at load time. Secret: never printed.
    Env(String),
    /// A captured variable, by index into the run's variable names.
    Var(usize),
    /// A data-file column: (dataset index, column index).
    Data(usize, usize),
    Vu,
    Iteration,
    Uuid,
    Timestamp,
    TimestampMs,
    Now,
    RandomInt(i64, i64),
    RandomPick(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    pub parts: Vec<Part>,
}

/// What names a template may use.
pub trait Names {
    /// Index of a captured variable.
    fn var(&self, name: &str) -> Option<usize>;
    /// (dataset, column) of `dataset.column`; Err(message) when the dataset exists but the
    /// column does not.
    fn data(&self, dataset: &str, column: &str) -> Option<Result<(usize, usize), String>>;
    /// An environment variable's value.
    fn env(&self, name: &str) -> Option<String>;
}

/// What a render needs from the VU.
pub trait Values {
    fn var(&self, idx: usize) -> Option<&str>;
    fn data(&self, dataset: usize, column: usize) -> Option<&str>;
    fn vu(&self) -> u64;
    fn iteration(&self) -> u64;
    fn rng(&mut self) -> &mut fastrand::Rng;
}

impl Template {
    /// Compiles `text`; Err((byte offset, message)) names the bad placeholder.
    pub fn compile(text: &str, names: &dyn Names) -> Result<Template, (usize, String)> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Lit(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or((offset + start, "'{{' without a closing '}}'".to_string()))?;
            let inner = after[..end].trim();
            let part = compile_part(inner, names).map_err(|m| (offset + start, m))?;
            parts.push(part);
            let consumed = start + 2 + end + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_string()));
        }
        // Fold literal runs (env values are literal at run time but stay marked secret).
        Ok(Template { parts })
    }

    /// True when rendering always gives the same text.
    pub fn is_static(&self) -> bool {
        self.parts
            .iter()
            .all(|p| matches!(p, Part::Lit(_) | Part::Env(_)))
    }

    /// The text of a static template.
    pub fn static_text(&self) -> String {
        let mut s = String::new();
        for p in &self.parts {
            if let Part::Lit(t) | Part::Env(t) = p {
                s.push_str(t);
            }
        }
        s
    }

    /// The template as written, for `volley check`: placeholders shown as `{{...}}` with
    /// the names `var` and `data` give (a variable, a data column); an environment
    /// value is never shown (`{{env}}`).
    pub fn describe(
        &self,
        var: &dyn Fn(usize) -> String,
        data: &dyn Fn(usize, usize) -> String,
    ) -> String {
        let mut s = String::new();
        for p in &self.parts {
            let _ = match p {
                Part::Lit(t) => write!(s, "{t}"),
                Part::Env(_) => write!(s, "{{{{env}}}}"),
                Part::Var(i) => write!(s, "{{{{{}}}}}", var(*i)),
                Part::Data(d, c) => write!(s, "{{{{{}}}}}", data(*d, *c)),
                Part::Vu => write!(s, "{{{{vu}}}}"),
                Part::Iteration => write!(s, "{{{{iteration}}}}"),
                Part::Uuid => write!(s, "{{{{uuid}}}}"),
                Part::Timestamp => write!(s, "{{{{timestamp}}}}"),
                Part::TimestampMs => write!(s, "{{{{timestamp_ms}}}}"),
                Part::Now => write!(s, "{{{{now}}}}"),
                Part::RandomInt(a, b) => write!(s, "{{{{random_int({a}, {b})}}}}"),
                Part::RandomPick(items) => write!(s, "{{{{random_pick({})}}}}", items.join(", ")),
            };
        }
        s
    }

    /// Indices of captured variables this template needs.
    pub fn vars(&self) -> impl Iterator<Item = usize> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(i) => Some(*i),
            _ => None,
        })
    }

    pub fn uses_env(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Env(_)))
    }

    /// Renders into `out`; Err(var index) when a captured variable is not set.
    pub fn render(&self, v: &mut dyn Values, out: &mut String) -> Result<(), usize> {
        for p in &self.parts {
            match p {
                Part::Lit(t) | Part::Env(t) => out.push_str(t),
                Part::Var(i) => out.push_str(v.var(*i).ok_or(*i)?),
                Part::Data(d, c) => out.push_str(v.data(*d, *c).unwrap_or("")),
                Part::Vu => {
                    let _ = write!(out, "{}", v.vu());
                }
                Part::Iteration => {
                    let _ = write!(out, "{}", v.iteration());
                }
                Part::Uuid => uuid_v4(v.rng(), out),
                Part::Timestamp => {
                    let _ = write!(out, "{}", unix().as_secs());
                }
                Part::TimestampMs => {
                    let _ = write!(out, "{}", unix().as_millis());
                }
                Part::Now => {
                    let _ = write!(
                        out,
                        "{}",
                        humantime::format_rfc3339_millis(std::time::SystemTime::now())
                    );
                }
                Part::RandomInt(a, b) => {
                    let _ = write!(out, "{}", v.rng().i64(*a..=*b));
                }
                Part::RandomPick(items) => {
                    let i = v.rng().usize(0..items.len());
                    out.push_str(&items[i]);
                }
            }
        }
        Ok(())
    }
}

fn unix() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

fn uuid_v4(rng: &mut fastrand::Rng, out: &mut String) {
    let mut b = rng.u128(..).to_be_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        let _ = write!(out, "{byte:02x}");
    }
}

fn compile_part(inner: &str, names: &dyn Names) -> Result<Part, String> {
    if inner.is_empty() {
        return Err("empty placeholder '{{}}'".into());
    }
    if let Some(args) = call_args(inner, "random_int") {
        let nums: Vec<&str> = args.split(',').map(str::trim).collect();
        let [a, b] = nums.as_slice() else {
            return Err(format!(
                "'{inner}': random_int takes two numbers, like random_int(1, 100)"
            ));
        };
        let a: i64 = a
            .parse()
            .map_err(|_| format!("'{inner}': '{a}' is not a whole number"))?;
        let b: i64 = b
            .parse()
            .map_err(|_| format!("'{inner}': '{b}' is not a whole number"))?;
        if a > b {
            return Err(format!(
                "'{inner}': the lower bound is above the upper bound"
            ));
        }
        return Ok(Part::RandomInt(a, b));
    }
    if let Some(args) = call_args(inner, "random_pick") {
        let items: Vec<String> = args
            .split(',')
            .map(|s| s.trim().trim_matches('"').to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if items.is_empty() {
            return Err(format!("'{inner}': random_pick needs at least one value"));
        }
        return Ok(Part::RandomPick(items));
    }
    match inner {
        "vu" => return Ok(Part::Vu),
        "iteration" => return Ok(Part::Iteration),
        "uuid" => return Ok(Part::Uuid),
        "timestamp" => return Ok(Part::Timestamp),
        "timestamp_ms" => return Ok(Part::TimestampMs),
        "now" => return Ok(Part::Now),
        _ => {}
    }
    if let Some(name) = inner.strip_prefix("env.") {
        return names.env(name).map(Part::Env).ok_or_else(|| {
            format!("environment variable '{name}' is not set (used as '{{{{env.{name}}}}}')")
        });
    }
    if !inner
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
    {
        return Err(format!("'{inner}' is not a variable name"));
    }
    if let Some((ds, col)) = inner.split_once('.') {
        if let Some(r) = names.data(ds, col) {
            return r.map(|(d, c)| Part::Data(d, c));
        }
        return Err(format!(
            "undefined template variable '{inner}': no data set named '{ds}'"
        ));
    }
    names.var(inner).map(Part::Var).ok_or_else(|| {
        format!(
            "undefined template variable '{inner}': not captured by any request, not a data column, not a built-in (vu, iteration, uuid, timestamp, timestamp_ms, now, random_int(a, b), random_pick(a, b), env.NAME)"
        )
    })
}

fn call_args<'a>(inner: &'a str, name: &str) -> Option<&'a str> {
    inner
        .strip_prefix(name)?
        .trim_start()
        .strip_prefix('(')?
        .strip_suffix(')')
}

#[cfg(test)]
mod tests {
    use super::*;

    struct N;
    impl Names for N {
        fn var(&self, name: &str) -> Option<usize> {
            (name == "token").then_some(0)
        }
        fn data(&self, ds: &str, col: &str) -> Option<Result<(usize, usize), String>> {
            (ds == "users").then(|| {
                if col == "name" {
                    Ok((0, 1))
                } else {
                    Err(format!("data set 'users' has no column '{col}'"))
                }
            })
        }
        fn env(&self, name: &str) -> Option<String> {
            (name == "HOME_T").then(|| "/h".to_string())
        }
    }

    struct V(fastrand::Rng, Option<String>);
    impl Values for V {
        fn var(&self, _: usize) -> Option<&str> {
            self.1.as_deref()
        }
        fn data(&self, _: usize, _: usize) -> Option<&str> {
            Some("ann")
        }
        fn vu(&self) -> u64 {
            7
        }
        fn iteration(&self) -> u64 {
            3
        }
        fn rng(&mut self) -> &mut fastrand::Rng {
            &mut self.0
        }
    }

    #[test]
    fn renders_every_kind() {
        let t = Template::compile(
            "/u/{{vu}}/{{iteration}}?t={{token}}&n={{users.name}}&h={{env.HOME_T}}&r={{random_int(5,5)}}&p={{random_pick(a)}}",
            &N,
        )
        .unwrap();
        let mut out = String::new();
        t.render(
            &mut V(fastrand::Rng::with_seed(1), Some("tok".into())),
            &mut out,
        )
        .unwrap();
        assert_eq!(out, "/u/7/3?t=tok&n=ann&h=/h&r=5&p=a");
        assert!(!t.is_static());
        let mut out = String::new();
        assert_eq!(
            t.render(&mut V(fastrand::Rng::new(), None), &mut out),
            Err(0)
        );
    }

    #[test]
    fn uuid_looks_like_v4() {
        let t = Template::compile("{{uuid}}", &N).unwrap();
        let mut out = String::new();
        t.render(&mut V(fastrand::Rng::new(), None), &mut out)
            .unwrap();
        assert_eq!(out.len(), 36);
        assert_eq!(&out[14..15], "4");
    }

    #[test]
    fn errors_are_clear() {
        let e = Template::compile("/a/{{nope}}", &N).unwrap_err();
        assert_eq!(e.0, 3);
        assert!(e.1.contains("undefined template variable 'nope'"));
        assert!(Template::compile("{{env.NOT_SET_ANYWHERE_X}}", &N)
            .unwrap_err()
            .1
            .contains("environment variable 'NOT_SET_ANYWHERE_X' is not set"));
        assert!(Template::compile("{{users.age}}", &N)
            .unwrap_err()
            .1
            .contains("no column 'age'"));
        assert!(Template::compile("{{x", &N)
            .unwrap_err()
            .1
            .contains("without a closing"));
        assert!(Template::compile("{{random_int(9, 1)}}", &N).is_err());
        assert!(Template::compile("plain", &N).unwrap().is_static());
    }
}

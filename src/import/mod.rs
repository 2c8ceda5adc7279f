//! `volley import curl|har|openapi|k6|locust`: a scenario from what the user already has.
//!
//! Each source has its own module that fills a [`draft::Draft`]; this module reads the
//! input, validates the written TOML as `volley check` would, and writes it to stdout or
//! `-o FILE`. Nothing is written when validation fails.

pub mod curl;
pub mod draft;
pub mod har;
pub mod k6;
pub mod locust;
pub mod openapi;
mod scan;

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

pub use draft::Draft;

/// `volley import SOURCE ...`
#[derive(Debug, Args, Clone)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub source: ImportSource,
}

/// Where the written scenario goes.
#[derive(Debug, Args, Clone)]
pub struct OutArg {
    /// Write the scenario to this file instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand, Clone)]
pub enum ImportSource {
    /// curl command lines: after --, or from a file (-f FILE), one per line.
    ///
    /// volley import curl -- curl -X POST URL -d ...; in a file, `\` at the end continues
    /// a line and # starts a comment.
    Curl {
        /// A file of curl commands, one per line (- for stdin).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
        #[command(flatten)]
        out: OutArg,
        /// The curl command, after `--`.
        #[arg(last = true, value_name = "CURL ARGS")]
        command: Vec<String>,
    },
    /// A HAR 1.2 file (the browser's network tab, "Save all as HAR"); read as a stream.
    Har {
        /// The HAR file.
        file: PathBuf,
        /// Keep only entries whose host matches (glob: *.example.com); repeatable.
        #[arg(long = "include-host", value_name = "PATTERN")]
        include_host: Vec<String>,
        /// Drop entries whose URL matches (glob: */analytics/*); repeatable.
        #[arg(long = "exclude", value_name = "PATTERN")]
        exclude: Vec<String>,
        /// Keep static assets (scripts, styles, images, fonts), dropped by default.
        #[arg(long = "keep-static")]
        keep_static: bool,
        #[command(flatten)]
        out: OutArg,
    },
    /// An OpenAPI 3.0 or 3.1 document (JSON or YAML).
    Openapi {
        /// The OpenAPI document.
        file: PathBuf,
        /// The base URL to load instead of the document's first server.
        #[arg(long = "base-url", value_name = "URL")]
        base_url: Option<String>,
        #[command(flatten)]
        out: OutArg,
    },
    /// A k6 script: its options (stages, scenarios, thresholds) and literal http.* calls.
    K6 {
        /// The k6 script.
        file: PathBuf,
        #[command(flatten)]
        out: OutArg,
    },
    /// A Locust file: its HttpUser classes, @task weights, literal paths and wait_time.
    Locust {
        /// The locustfile.
        file: PathBuf,
        #[command(flatten)]
        out: OutArg,
    },
}

/// Why an import failed: always bad input (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {msg}")]
    Input { path: String, msg: String },
    #[error("cannot read '{path}': {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the imported scenario does not validate (a bug in volley import; please report it with the input): {0}")]
    Invalid(#[from] crate::scenario::ScenarioError),
}

impl ImportError {
    pub fn input(path: &Path, msg: impl Into<String>) -> Self {
        ImportError::Input {
            path: path.display().to_string(),
            msg: msg.into(),
        }
    }
}

/// The scenario text and what the user should know about it (printed on stderr).
#[derive(Debug)]
pub struct Imported {
    pub toml: String,
    pub notes: Vec<String>,
}

/// Builds the scenario for a source; validates it before returning it.
pub fn import(source: &ImportSource) -> Result<Imported, ImportError> {
    let draft = match source {
        ImportSource::Curl { file, command, .. } => match (file, command.is_empty()) {
            (Some(f), true) => {
                let text = read(f)?;
                curl::from_lines(f, &text)?
            }
            (None, false) => curl::from_args(command)?,
            (Some(_), false) => {
                return Err(ImportError::input(
                    Path::new("volley import curl"),
                    "give either -f FILE or a command after --, not both",
                ))
            }
            (None, true) => {
                return Err(ImportError::input(
                    Path::new("volley import curl"),
                    "nothing to import: give a command after -- (volley import curl -- curl https://...) or -f FILE",
                ))
            }
        },
        ImportSource::Har {
            file,
            include_host,
            exclude,
            keep_static,
            ..
        } => {
            let opts = har::HarOptions {
                include_host: include_host.clone(),
                exclude: exclude.clone(),
                keep_static: *keep_static,
            };
            let f = std::fs::File::open(file).map_err(|source| ImportError::Read {
                path: file.display().to_string(),
                source,
            })?;
            har::from_reader(file, std::io::BufReader::with_capacity(1 << 16, f), &opts)?
        }
        ImportSource::Openapi { file, base_url, .. } => {
            openapi::from_text(file, &read(file)?, base_url.as_deref())?
        }
        ImportSource::K6 { file, .. } => k6::from_script(file, &read(file)?)?,
        ImportSource::Locust { file, .. } => locust::from_file(file, &read(file)?)?,
    };
    finish(&draft)
}

/// Writes the draft and validates the text as `volley check` would.
pub fn finish(draft: &Draft) -> Result<Imported, ImportError> {
    let mut draft = draft.clone();
    draft.prune_references();
    if draft.requests.is_empty() {
        return Err(ImportError::Input {
            path: draft.name.clone(),
            msg: format!("no request left to import ({})", draft.todos.join("; ")),
        });
    }
    let toml = draft.to_toml();
    crate::scenario::validate_generated(Path::new("<imported scenario>"), &toml)?;
    Ok(Imported {
        toml,
        notes: draft.stderr_notes(),
    })
}

fn read(path: &Path) -> Result<String, ImportError> {
    let r = if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
    } else {
        std::fs::read_to_string(path)
    };
    r.map_err(|source| ImportError::Read {
        path: path.display().to_string(),
        source,
    })
}

impl ImportSource {
    pub fn output(&self) -> Option<&Path> {
        let out = match self {
            ImportSource::Curl { out, .. }
            | ImportSource::Har { out, .. }
            | ImportSource::Openapi { out, .. }
            | ImportSource::K6 { out, .. }
            | ImportSource::Locust { out, .. } => out,
        };
        out.output.as_deref()
    }
}

/// Splits an absolute URL into its origin (the base URL) and the rest (path and query).
pub fn split_url(url: &reqwest::Url) -> (String, String) {
    let origin = url.origin().ascii_serialization();
    let mut path = url.path().to_string();
    if let Some(q) = url.query() {
        path.push('?');
        path.push_str(q);
    }
    (origin, path)
}

/// The origin most requests go to; the others are written as absolute URLs.
pub fn pick_base(draft: &mut Draft, origins: &[String]) {
    let mut counts: Vec<(&String, usize)> = Vec::new();
    for o in origins {
        match counts.iter_mut().find(|(x, _)| *x == o) {
            Some(c) => c.1 += 1,
            None => counts.push((o, 1)),
        }
    }
    let base = counts
        .iter()
        .max_by_key(|(_, n)| *n)
        .map(|(o, _)| (*o).clone())
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let mut kept = Vec::new();
    for (mut r, o) in std::mem::take(&mut draft.requests).into_iter().zip(origins) {
        if *o != base {
            if r.path.contains("{{") {
                // A scenario takes placeholders only in paths relative to base_url.
                draft.todos.push(format!(
                    "'{}' goes to {o} and needs a placeholder in its URL ({}), which only a path relative to base_url can have: left out (import it alone for a scenario of its own)",
                    r.name,
                    r.path.split('?').next().unwrap_or("")
                ));
                continue;
            }
            r.path = format!("{o}{}", r.path);
        }
        kept.push(r);
    }
    draft.requests = kept;
    draft.base_url = base;
}

/// A glob with `*` (any run of characters) and `?` (one character), case-insensitive.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A scenario name from a file name: `shop.har` -> `shop`.
pub fn name_from(path: &Path, fallback: &str) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty() && *s != "-")
        .unwrap_or(fallback)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.example.com", "api.example.com"));
        assert!(!glob_match("*.example.com", "example.org"));
        assert!(glob_match(
            "*/analytics/*",
            "https://x.io/analytics/collect"
        ));
        assert!(glob_match("a?c", "ABC"));
        assert!(!glob_match("a?c", "ac"));
    }
}

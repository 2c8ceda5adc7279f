//! `--out KIND=PATH`: parsed before the run, written after it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use crate::error::Error;
use crate::report::{write_json, ResultDoc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutKind {
    Json,
}

impl OutKind {
    const NAMES: &'static [&'static str] = &["json"];

    fn parse(s: &str) -> Option<OutKind> {
        match s {
            "json" => Some(OutKind::Json),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct OutSpec {
    pub kind: OutKind,
    pub path: PathBuf,
}

pub fn parse_outs(specs: &[String]) -> Result<Vec<OutSpec>, Error> {
    specs
        .iter()
        .map(|s| {
            let (kind, path) = s.split_once('=').ok_or_else(|| {
                Error::Usage(format!(
                    "--out: expected KIND=PATH (like json=results.json), got '{s}'"
                ))
            })?;
            let kind = OutKind::parse(kind.trim()).ok_or_else(|| {
                Error::Usage(format!(
                    "--out: unknown kind '{kind}' (expected one of: {})",
                    OutKind::NAMES.join(", ")
                ))
            })?;
            if path.trim().is_empty() {
                return Err(Error::Usage(format!("--out: '{s}' has no path")));
            }
            Ok(OutSpec {
                kind,
                path: PathBuf::from(path),
            })
        })
        .collect()
}

/// Writes every requested output; tries them all and reports the first failure.
pub fn write_all(doc: &ResultDoc, outs: &[OutSpec]) -> Result<(), Error> {
    let mut first_err = None;
    for o in outs {
        let r = (|| -> std::io::Result<()> {
            if let Some(dir) = o.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut w = BufWriter::new(File::create(&o.path)?);
            match o.kind {
                OutKind::Json => write_json(doc, &mut w)?,
            }
            w.flush()
        })();
        if let Err(e) = r {
            let err = Error::io(format!("cannot write {}", o.path.display()), e);
            eprintln!("error: {err}");
            first_err.get_or_insert(err);
        }
    }
    first_err.map_or(Ok(()), Err)
}

//! Reading a saved result document back (`volley report`, `volley compare`,
//! `--baseline`), with a clear message for anything that is not one this volley reads.

use std::fmt;
use std::path::Path;

use super::doc::{ResultDoc, SCHEMA_VERSION};

/// Why a file is not a result document this volley can read.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadError {
    /// The file could not be read.
    Read(String),
    /// Not JSON at all.
    NotJson(String),
    /// JSON, but not a volley result document.
    NotResults,
    /// A result document of another schema version.
    Version { found: u64, writer: Option<String> },
    /// The right version, but a key is missing or has the wrong type.
    Invalid(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read(e) => write!(f, "cannot read it: {e}"),
            LoadError::NotJson(e) => write!(f, "not a JSON file ({e})"),
            LoadError::NotResults => write!(
                f,
                "not a volley result document (it has no 'schema_version'; write one with \
                 --out json=FILE)"
            ),
            LoadError::Version { found, writer } => {
                let by = writer
                    .as_deref()
                    .map(|w| format!(" by volley {w}"))
                    .unwrap_or_default();
                if *found < SCHEMA_VERSION as u64 {
                    write!(
                        f,
                        "written{by} with result schema version {found}, older than the \
                         version {SCHEMA_VERSION} this volley ({}) reads: render it with the \
                         volley that wrote it, or run the test again",
                        env!("CARGO_PKG_VERSION")
                    )
                } else {
                    write!(
                        f,
                        "written{by} with result schema version {found}, newer than the \
                         version {SCHEMA_VERSION} this volley ({}) reads: upgrade volley",
                        env!("CARGO_PKG_VERSION")
                    )
                }
            }
            LoadError::Invalid(e) => write!(
                f,
                "not a valid version-{SCHEMA_VERSION} result document: {e}"
            ),
        }
    }
}

/// Parses a result document from JSON text.
pub fn parse_doc(text: &str) -> Result<ResultDoc, LoadError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| LoadError::NotJson(e.to_string()))?;
    let Some(obj) = value.as_object() else {
        return Err(LoadError::NotResults);
    };
    let version = match obj.get("schema_version") {
        None => return Err(LoadError::NotResults),
        Some(v) => v.as_u64().ok_or_else(|| {
            LoadError::Invalid(format!("'schema_version' is {v}, not a whole number"))
        })?,
    };
    if version != SCHEMA_VERSION as u64 {
        return Err(LoadError::Version {
            found: version,
            writer: obj
                .get("volley_version")
                .and_then(|v| v.as_str())
                .map(str::to_string),
        });
    }
    serde_json::from_value(value).map_err(|e| LoadError::Invalid(e.to_string()))
}

/// Reads a result document from a file; the error names the file.
pub fn load_doc(path: &Path) -> Result<ResultDoc, String> {
    // A device or a FIFO (`/dev/zero`) would never end.
    let text = crate::scenario::regular_file(path)
        .and_then(|_| std::fs::read_to_string(path))
        .map_err(|e| format!("{}: {}", path.display(), LoadError::Read(e.to_string())))?;
    parse_doc(&text).map_err(|e| format!("{}: {e}", path.display()))
}

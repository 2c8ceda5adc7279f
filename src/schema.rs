//! `volley schema [scenario|theme]`: JSON Schemas generated from the types that read the
//! files (`schemars`), shipped in schema/ for editors (Taplo / Even Better TOML read the
//! `#:schema` line at the top of a scenario). tests/schema.rs keeps the shipped files in
//! sync with the types.

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    /// Scenario files (scenarios/*.toml).
    Scenario,
    /// Console theme files (themes/*.toml, --theme FILE).
    Theme,
}

impl SchemaKind {
    /// Where the schema is shipped, relative to the repository.
    pub fn shipped_path(self) -> &'static str {
        match self {
            SchemaKind::Scenario => "schema/scenario.schema.json",
            SchemaKind::Theme => "schema/theme.schema.json",
        }
    }
}

/// The schema as pretty JSON with a trailing newline, as shipped.
pub fn text(kind: SchemaKind) -> String {
    let (mut schema, title) = match kind {
        SchemaKind::Scenario => (crate::scenario::json_schema(), "volley scenario"),
        SchemaKind::Theme => (crate::ui::theme::json_schema(), "volley console theme"),
    };
    schema.insert("title".into(), title.into());
    let mut s = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    s.push('\n');
    s
}

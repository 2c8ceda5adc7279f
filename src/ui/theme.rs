//! Themes: semantic colour roles, loaded from `themes/*.toml` (built in) or a user file
//! that overrides only the keys it sets.

use std::collections::BTreeMap;
use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use serde_spanned::Spanned;

use crate::scenario::{Located, ScenarioError};

/// Built-in themes, in the order `t` cycles through them.
pub const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

/// Every colour role a panel may use.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    /// NO_COLOR: every role renders as the terminal's default, emphasis by modifiers only.
    pub monochrome: bool,
    pub text: Color,
    pub muted: Color,
    pub accent: Color,
    pub ok: Color,
    pub warn: Color,
    pub error: Color,
    pub border: Color,
    pub title: Color,
    pub selected_bg: Color,
    pub selected_fg: Color,
    pub throughput: Color,
    pub p50: Color,
    pub p95: Color,
    pub p99: Color,
    pub marker: Color,
    pub paused: Color,
    pub spike: Color,
}

const ROLES: &[&str] = &[
    "text",
    "muted",
    "accent",
    "ok",
    "warn",
    "error",
    "border",
    "title",
    "selected_bg",
    "selected_fg",
    "throughput",
    "p50",
    "p95",
    "p99",
    "marker",
    "paused",
    "spike",
];

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    /// Built-in theme this one starts from (default: dark).
    #[schemars(with = "Option<String>", extend("enum" = ["dark", "light", "high-contrast"]))]
    base: Option<Spanned<String>>,
    /// Colour roles to override: a name (red, darkgray, ...), "#rrggbb", or "0".."255".
    #[serde(default)]
    #[schemars(schema_with = "colors_schema")]
    colors: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// The JSON Schema of theme files (see `volley schema theme`).
pub fn json_schema() -> schemars::Schema {
    let mut schema = schemars::schema_for!(ThemeFile);
    let colour = serde_json::json!({
        "description": "A colour name, \"#rrggbb\", or an index \"0\"..\"255\".",
        "type": "string",
        "anyOf": [
            { "enum": ["reset", "default", "black", "red", "green", "yellow", "blue", "magenta",
                       "cyan", "gray", "grey", "darkgray", "darkgrey", "lightred", "lightgreen",
                       "lightyellow", "lightblue", "lightmagenta", "lightcyan", "white"] },
            { "pattern": "^#[0-9A-Fa-f]{6}$" },
            { "pattern": "^(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$" }
        ]
    });
    let defs = schema
        .ensure_object()
        .entry("$defs")
        .or_insert_with(|| serde_json::json!({}));
    if let Some(d) = defs.as_object_mut() {
        d.insert("Colour".into(), colour);
    }
    schema
}

fn colors_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let props: serde_json::Map<String, serde_json::Value> = ROLES
        .iter()
        .map(|r| {
            (
                r.to_string(),
                serde_json::json!({ "$ref": "#/$defs/Colour" }),
            )
        })
        .collect();
    schemars::json_schema!({
        "type": "object",
        "properties": props,
        "additionalProperties": false
    })
}

pub type ThemeError = ScenarioError;

impl Theme {
    /// A built-in theme by name.
    pub fn builtin(name: &str) -> Option<Theme> {
        let (n, src) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        let path = format!("themes/{n}.toml");
        Some(Theme::parse_over(None, Path::new(&path), src).expect("built-in themes are valid"))
    }

    pub fn default_theme() -> Theme {
        Theme::builtin("dark").expect("dark is built in")
    }

    /// `--theme NAME|PATH`: a built-in name, or a file whose keys override its base.
    pub fn load(spec: &str) -> Result<Theme, ThemeError> {
        if let Some(t) = Theme::builtin(spec) {
            return Ok(t);
        }
        let path = Path::new(spec);
        let src = crate::scenario::read_text_file(path).map_err(|source| ScenarioError::Read {
            what: "theme",
            path: path.to_path_buf(),
            source,
        })?;
        Theme::parse_over(Some(Theme::default_theme()), path, &src)
    }

    /// Parses theme text over `base` (or over its own `base` key).
    pub fn parse_over(base: Option<Theme>, path: &Path, src: &str) -> Result<Theme, ThemeError> {
        let file: ThemeFile =
            toml::from_str(src).map_err(|e| ScenarioError::from_toml(path, src, &e))?;
        let mut theme = match &file.base {
            Some(b) => Theme::builtin(b.get_ref()).ok_or_else(|| {
                ScenarioError::at(
                    path,
                    src,
                    b.span(),
                    format!(
                        "unknown base theme '{}' (expected one of: {})",
                        b.get_ref(),
                        BUILTIN
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?,
            None => base.unwrap_or_else(blank),
        };
        if let Some(n) = file.name {
            theme.name = n;
        }
        for (key, value) in &file.colors {
            let color = parse_color(value.get_ref()).map_err(|m| {
                located(
                    path,
                    src,
                    value.span(),
                    &format!("colors.{}", key.get_ref()),
                    m,
                )
            })?;
            if !theme.set(key.get_ref(), color) {
                return Err(located(
                    path,
                    src,
                    key.span(),
                    &format!("colors.{}", key.get_ref()),
                    format!(
                        "unknown colour role '{}' (expected one of: {})",
                        key.get_ref(),
                        ROLES.join(", ")
                    ),
                ));
            }
        }
        Ok(theme)
    }

    fn set(&mut self, role: &str, c: Color) -> bool {
        let slot = match role {
            "text" => &mut self.text,
            "muted" => &mut self.muted,
            "accent" => &mut self.accent,
            "ok" => &mut self.ok,
            "warn" => &mut self.warn,
            "error" => &mut self.error,
            "border" => &mut self.border,
            "title" => &mut self.title,
            "selected_bg" => &mut self.selected_bg,
            "selected_fg" => &mut self.selected_fg,
            "throughput" => &mut self.throughput,
            "p50" => &mut self.p50,
            "p95" => &mut self.p95,
            "p99" => &mut self.p99,
            "marker" => &mut self.marker,
            "paused" => &mut self.paused,
            "spike" => &mut self.spike,
            _ => return false,
        };
        *slot = c;
        true
    }

    /// The same theme with every colour dropped (for NO_COLOR).
    pub fn monochrome(mut self) -> Theme {
        self.monochrome = true;
        self
    }

    /// Style in role colour `c` (plain when monochrome).
    pub fn fg(&self, c: Color) -> Style {
        if self.monochrome {
            Style::default()
        } else {
            Style::default().fg(c)
        }
    }

    pub fn text(&self) -> Style {
        self.fg(self.text)
    }

    pub fn muted(&self) -> Style {
        if self.monochrome {
            Style::default().add_modifier(Modifier::DIM)
        } else {
            self.fg(self.muted)
        }
    }

    pub fn border(&self) -> Style {
        self.fg(self.border)
    }

    pub fn title(&self) -> Style {
        self.fg(self.title).add_modifier(Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        if self.monochrome {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
                .bg(self.selected_bg)
                .fg(self.selected_fg)
                .add_modifier(Modifier::BOLD)
        }
    }

    /// Emphasis for bad news (bold even in monochrome).
    pub fn bad(&self) -> Style {
        self.fg(self.error).add_modifier(Modifier::BOLD)
    }
}

fn located(
    path: &Path,
    src: &str,
    span: std::ops::Range<usize>,
    key: &str,
    msg: String,
) -> ThemeError {
    let (line, col) = crate::scenario::line_col(src, span.start);
    ScenarioError::Invalid(Located {
        file: path.display().to_string(),
        line,
        col,
        key: key.to_string(),
        message: msg,
    })
}

fn blank() -> Theme {
    Theme {
        name: String::new(),
        monochrome: false,
        text: Color::Reset,
        muted: Color::Reset,
        accent: Color::Reset,
        ok: Color::Reset,
        warn: Color::Reset,
        error: Color::Reset,
        border: Color::Reset,
        title: Color::Reset,
        selected_bg: Color::Reset,
        selected_fg: Color::Reset,
        throughput: Color::Reset,
        p50: Color::Reset,
        p95: Color::Reset,
        p99: Color::Reset,
        marker: Color::Reset,
        paused: Color::Reset,
        spike: Color::Reset,
    }
}

/// A colour: a name, `#rrggbb`, or an index 0-255.
pub fn parse_color(s: &str) -> Result<Color, String> {
    let t = s.trim().to_ascii_lowercase();
    if let Some(hex) = t.strip_prefix('#') {
        if hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            let v = u32::from_str_radix(hex, 16).expect("checked hex");
            return Ok(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
        }
        return Err(format!("invalid colour '{s}': expected #rrggbb"));
    }
    if let Ok(i) = t.parse::<u16>() {
        return u8::try_from(i)
            .map(Color::Indexed)
            .map_err(|_| format!("invalid colour '{s}': an index must be 0-255"));
    }
    Ok(match t.as_str() {
        "reset" | "default" => Color::Reset,
        "black" => Color::Black,
        "red" => Color::Red,
        "green" => Color::Green,
        "yellow" => Color::Yellow,
        "blue" => Color::Blue,
        "magenta" => Color::Magenta,
        "cyan" => Color::Cyan,
        "gray" | "grey" => Color::Gray,
        "darkgray" | "darkgrey" => Color::DarkGray,
        "lightred" => Color::LightRed,
        "lightgreen" => Color::LightGreen,
        "lightyellow" => Color::LightYellow,
        "lightblue" => Color::LightBlue,
        "lightmagenta" => Color::LightMagenta,
        "lightcyan" => Color::LightCyan,
        "white" => Color::White,
        _ => {
            return Err(format!(
                "invalid colour '{s}': expected a colour name (like 'red' or 'darkgray'), '#rrggbb' or 0-255"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_loads_and_sets_every_role() {
        for (name, src) in BUILTIN {
            let t = Theme::parse_over(None, Path::new(name), src).unwrap();
            assert_eq!(&t.name, name);
            for role in ROLES {
                assert!(src.contains(&format!("\n{role} = ")), "{name} lacks {role}");
            }
        }
    }

    #[test]
    fn user_file_overrides_only_its_keys() {
        let t = Theme::parse_over(
            Some(Theme::default_theme()),
            Path::new("mine.toml"),
            "[colors]\nerror = \"#ff0000\"\n",
        )
        .unwrap();
        let dark = Theme::default_theme();
        assert_eq!(t.error, Color::Rgb(255, 0, 0));
        assert_eq!(t.ok, dark.ok);
        let t = Theme::parse_over(
            None,
            Path::new("m.toml"),
            "base = \"light\"\n[colors]\nok = \"red\"\n",
        )
        .unwrap();
        assert_eq!(t.ok, Color::Red);
        assert_eq!(t.text, Theme::builtin("light").unwrap().text);
    }

    #[test]
    fn an_unreadable_theme_file_is_called_a_theme_file() {
        let dir = std::env::temp_dir().join(format!("volley-theme-{}", std::process::id()));
        let err = Theme::load(&dir.join("none.toml").display().to_string())
            .unwrap_err()
            .to_string();
        assert!(err.contains("none.toml: cannot read theme file"), "{err}");
        assert!(!err.contains("scenario"), "{err}");
    }

    #[test]
    fn bad_colour_names_file_line_and_key() {
        let err = Theme::parse_over(
            Some(Theme::default_theme()),
            Path::new("bad.toml"),
            "name = \"x\"\n[colors]\nok = \"greenish\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("bad.toml:3:6: key 'colors.ok': invalid colour 'greenish'"),
            "{err}"
        );
        let err = Theme::parse_over(None, Path::new("b.toml"), "[colors]\nokay = \"red\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("b.toml:2:1: key 'colors.okay': unknown colour role 'okay'"),
            "{err}"
        );
    }

    #[test]
    fn colours_parse() {
        assert_eq!(parse_color("#0a0B0c").unwrap(), Color::Rgb(10, 11, 12));
        assert_eq!(parse_color("236").unwrap(), Color::Indexed(236));
        assert!(parse_color("300").is_err());
        assert!(parse_color("#12345").is_err());
    }
}

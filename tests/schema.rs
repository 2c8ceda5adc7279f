//! The shipped JSON Schemas match the types (regenerated and compared), and they accept
//! every shipped scenario, theme and imported scenario, and refuse the invalid fixtures
//! whose error is about a key or a value's shape.

use std::path::{Path, PathBuf};

use volley::schema::{text, SchemaKind};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn validator(kind: SchemaKind) -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(&text(kind)).unwrap();
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

/// A TOML file as the JSON value a schema-aware editor checks.
fn as_json(path: &Path) -> serde_json::Value {
    let src = std::fs::read_to_string(path).unwrap();
    toml::from_str(&src).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn errors(v: &jsonschema::Validator, doc: &serde_json::Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

fn toml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn shipped_schemas_match_the_types() {
    for kind in [SchemaKind::Scenario, SchemaKind::Theme] {
        let path = root().join(kind.shipped_path());
        let shipped = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            shipped == text(kind),
            "{} is out of date: regenerate it with `cargo run -- schema {} > {}`",
            kind.shipped_path(),
            format!("{kind:?}").to_lowercase(),
            kind.shipped_path()
        );
    }
}

#[test]
fn every_shipped_scenario_and_theme_is_valid_and_carries_the_directive() {
    let v = validator(SchemaKind::Scenario);
    let files = toml_files("scenarios");
    assert!(files.len() >= 11);
    for f in files {
        let doc = as_json(&f);
        assert_eq!(errors(&v, &doc), Vec::<String>::new(), "{}", f.display());
        let first = std::fs::read_to_string(&f).unwrap();
        assert!(
            first.starts_with("#:schema ../schema/scenario.schema.json\n"),
            "{} has no #:schema line",
            f.display()
        );
    }
    let v = validator(SchemaKind::Theme);
    for f in toml_files("themes") {
        assert_eq!(
            errors(&v, &as_json(&f)),
            Vec::<String>::new(),
            "{}",
            f.display()
        );
    }
}

#[test]
fn imported_scenarios_are_valid() {
    let v = validator(SchemaKind::Scenario);
    let fx = root().join("tests/fixtures/import");
    let sources = [
        volley::import::ImportSource::Openapi {
            file: fx.join("petstore.yaml"),
            base_url: None,
            out: volley::import::OutArg { output: None },
        },
        volley::import::ImportSource::Har {
            file: fx.join("shop.har"),
            include_host: vec![],
            exclude: vec![],
            keep_static: false,
            out: volley::import::OutArg { output: None },
        },
        volley::import::ImportSource::Curl {
            file: Some(fx.join("curl.txt")),
            command: vec![],
            out: volley::import::OutArg { output: None },
        },
        volley::import::ImportSource::K6 {
            file: fx.join("load-test.js"),
            out: volley::import::OutArg { output: None },
        },
        volley::import::ImportSource::Locust {
            file: fx.join("locustfile.py"),
            out: volley::import::OutArg { output: None },
        },
    ];
    for s in &sources {
        let i = volley::import::import(s).unwrap();
        let doc: serde_json::Value = toml::from_str(&i.toml).unwrap();
        assert_eq!(errors(&v, &doc), Vec::<String>::new(), "{s:?}");
    }
}

/// Invalid fixtures whose error is about a key or a value's shape: the schema refuses
/// them too, so an editor shows the mistake before volley runs. (The others are about
/// meaning: a name used twice, an undefined variable, a threshold on no request...)
const SHAPE_ERRORS: &[&str] = &[
    "bad_client",
    "bad_data_mode",
    "bad_duration",
    "bad_method",
    "bad_rate",
    "bad_stage_duration",
    "duration_without_unit",
    "headers_wrong_type",
    "missing_base_url",
    "negative_iterations",
    "negative_weight",
    "unknown_load_key",
    "unknown_request_key",
    "unknown_top_key",
    "unsupported_scheme",
    "url_with_credentials",
    "wrong_type_name",
    "wrong_type_vus",
];

const THEME_SHAPE_ERRORS: &[&str] = &[
    "bad_colour_name",
    "bad_hex",
    "colors_wrong_type",
    "colour_wrong_type",
    "index_out_of_range",
    "name_wrong_type",
    "short_hex",
    "unknown_base",
    "unknown_key",
    "unknown_role",
];

#[test]
fn invalid_fixtures_with_shape_errors_fail_the_schema() {
    for (kind, dir, names) in [
        (SchemaKind::Scenario, "tests/fixtures/invalid", SHAPE_ERRORS),
        (
            SchemaKind::Theme,
            "tests/fixtures/invalid_themes",
            THEME_SHAPE_ERRORS,
        ),
    ] {
        let v = validator(kind);
        for name in names {
            let path = root().join(dir).join(format!("{name}.toml"));
            let doc = as_json(&path);
            assert!(
                !v.is_valid(&doc),
                "{} passes the schema but volley refuses it",
                path.display()
            );
        }
    }
}

//! OpenAPI 3.0/3.1 (JSON or YAML, parsed by `oas3`) -> one request per operation.
//!
//! Bodies and parameters come from the document's examples, else are generated from the
//! schemas. `$ref`s are followed here, not by `oas3`'s own resolver, so that a cycle is a
//! clear error (an alias chain that never reaches a schema) or a place where generation
//! stops (a schema that contains itself), never unbounded recursion.

use std::collections::BTreeMap;
use std::path::Path;

use oas3::spec::{
    MediaType, MediaTypeExamples, ObjectOrReference, ObjectSchema, Parameter, ParameterIn,
    RequestBody, Schema, SchemaType, SchemaTypeSet, SecurityScheme,
};
use oas3::Spec;
use serde_json::{json, Value};

use super::draft::{encode, form_body, plain, Body, Draft, Load, Request};
use super::ImportError;

/// Deepest schema nesting generated; deeper parts are left out.
const MAX_DEPTH: usize = 10;
/// Longest chain of `$ref` to `$ref` followed.
const MAX_REF_CHAIN: usize = 32;

pub fn from_text(path: &Path, text: &str, base_url: Option<&str>) -> Result<Draft, ImportError> {
    let bad = |m: String| ImportError::input(path, m);
    let is_json = text.trim_start().starts_with('{');
    let mut doc: Value = if is_json {
        serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?
    } else {
        yaml_serde::from_str(text).map_err(|e| bad(format!("not valid YAML: {e}")))?
    };
    let version = doc
        .get("openapi")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    if version.starts_with("3.0") {
        upgrade_3_0(&mut doc, 0);
    }
    let spec: Spec =
        serde_json::from_value(doc).map_err(|e| bad(format!("not an OpenAPI document: {e}")))?;
    if !(version.starts_with("3.0") || version.starts_with("3.1")) {
        return Err(bad(format!(
            "OpenAPI version '{version}' is not supported (3.0 and 3.1 are)"
        )));
    }
    let mut g = Gen {
        spec: &spec,
        path,
        stack: Vec::new(),
    };
    let mut draft = Draft {
        name: if spec.info.title.trim().is_empty() {
            super::name_from(path, "openapi")
        } else {
            spec.info.title.clone()
        },
        load: Load {
            vus: Some(1),
            duration: Some("30s".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    draft.base_url = match base_url {
        Some(b) => crate::scenario::parse_base_url(b)
            .map_err(|m| bad(format!("--base-url: {m}")))?
            .to_string(),
        None => server_url(&spec, &mut draft),
    };
    let Some(paths) = &spec.paths else {
        return Err(bad("the document has no paths".into()));
    };
    for (p, item) in paths.iter() {
        for (method, op) in item.methods() {
            if method == http::Method::TRACE {
                continue;
            }
            let mut params: Vec<Parameter> = Vec::new();
            for pr in item.parameters.iter().chain(op.parameters.iter()) {
                let param = g.parameter(pr)?;
                params.retain(|x| !(x.name == param.name && x.location == param.location));
                params.push(param);
            }
            let mut comments = Vec::new();
            if let Some(s) = op.summary.as_deref().or(op.description.as_deref()) {
                let s = s.lines().next().unwrap_or("").trim();
                if !s.is_empty() {
                    comments.push(s.to_string());
                }
            }
            let mut req_path = p.clone();
            let mut query = Vec::new();
            let mut headers = BTreeMap::new();
            for param in &params {
                let value = g.param_value(param)?;
                match param.location {
                    ParameterIn::Path => {
                        req_path =
                            req_path.replace(&format!("{{{}}}", param.name), &encode(&value));
                    }
                    ParameterIn::Query
                        if param.required == Some(true) || param.example.is_some() =>
                    {
                        query.push(format!("{}={}", encode(&param.name), encode(&value)));
                    }
                    ParameterIn::Header if param.required == Some(true) => {
                        let v = draft.secrets.header(&param.name, &value);
                        headers.insert(param.name.clone(), v);
                    }
                    ParameterIn::Cookie if param.required == Some(true) => {
                        draft.todos.push(format!(
                            "{} {p}: cookie parameter '{}' is not sent",
                            method, param.name
                        ));
                    }
                    _ => {}
                }
            }
            // Security: the operation's own, else the document's; the first alternative.
            let reqs = if op.security.is_empty() {
                &spec.security
            } else {
                &op.security
            };
            if let Some(first) = reqs.first() {
                for (scheme_name, _) in first.0.iter() {
                    g.security(scheme_name, &mut draft, &mut headers, &mut query)?;
                }
            }
            if !query.is_empty() {
                req_path = format!("{req_path}?{}", query.join("&"));
            }
            let body = match &op.request_body {
                Some(rb) => {
                    let rb = g.request_body(rb)?;
                    g.body(&rb, &mut headers, &mut comments)?
                }
                None => None,
            };
            let status = op.responses.as_ref().and_then(|r| {
                r.keys()
                    .find(|k| k.starts_with('2'))
                    .and_then(|k| k.parse().ok())
            });
            let name = draft.unique_name(
                op.operation_id
                    .as_deref()
                    .unwrap_or(&format!("{method} {p}")),
            );
            draft.requests.push(Request {
                name,
                method: method.to_string(),
                path: req_path,
                headers,
                body,
                weight: Some(1),
                checks_status: status,
                comments,
                ..Default::default()
            });
        }
    }
    if draft.requests.is_empty() {
        return Err(bad("the document has no operations".into()));
    }
    let n = draft.requests.len();
    draft.notes.splice(
        0..0,
        [
            format!("Scenario '{}', imported by volley from {} (OpenAPI {version}).", draft.name, path.display()),
            format!("{n} operations, one request each, weight 1: edit the weights to the mix you expect."),
            "Values come from the document's examples, else are generated from the schemas.".into(),
            "One VU for 30s to begin with.".into(),
        ],
    );
    Ok(draft)
}

/// The 3.0 schema keywords that 3.1 (which `oas3` reads) changed, rewritten as 3.1 has
/// them: a boolean `exclusiveMinimum`/`exclusiveMaximum` next to `minimum`/`maximum`
/// becomes the number, and `nullable: true` a `null` in `type`.
fn upgrade_3_0(v: &mut Value, depth: usize) {
    if depth > 256 {
        return;
    }
    match v {
        Value::Object(m) => {
            for (ex, bound) in [
                ("exclusiveMinimum", "minimum"),
                ("exclusiveMaximum", "maximum"),
            ] {
                match m.get(ex) {
                    Some(Value::Bool(true)) => {
                        if let Some(b) = m.remove(bound) {
                            m.insert(ex.into(), b);
                        } else {
                            m.remove(ex);
                        }
                    }
                    Some(Value::Bool(false)) => {
                        m.remove(ex);
                    }
                    _ => {}
                }
            }
            if m.get("nullable") == Some(&Value::Bool(true)) {
                m.remove("nullable");
                if let Some(Value::String(t)) = m.get("type").cloned() {
                    m.insert("type".into(), json!([t, "null"]));
                }
            }
            m.values_mut().for_each(|x| upgrade_3_0(x, depth + 1));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| upgrade_3_0(x, depth + 1)),
        _ => {}
    }
}

fn server_url(spec: &Spec, draft: &mut Draft) -> String {
    let fallback = "http://127.0.0.1:8080";
    let Some(s) = spec.servers.first() else {
        draft.todos.push(format!(
            "the document names no server: base_url is {fallback}, change it or use --target"
        ));
        return fallback.into();
    };
    let mut url = s.url.clone();
    for (name, var) in s.variables.iter() {
        url = url.replace(&format!("{{{name}}}"), &var.default);
    }
    if url.starts_with('/') {
        draft.todos.push(format!(
            "the server URL '{url}' is relative: base_url is {fallback}{url}, change it or use --target"
        ));
        url = format!("{fallback}{url}");
    }
    match crate::scenario::parse_base_url(&url) {
        Ok(u) => u.to_string().trim_end_matches('/').to_string(),
        Err(m) => {
            draft.todos.push(format!("{m}: base_url is {fallback}"));
            fallback.into()
        }
    }
}

struct Gen<'a> {
    spec: &'a Spec,
    path: &'a Path,
    /// Schemas being generated, to stop at one that contains itself.
    stack: Vec<String>,
}

impl<'a> Gen<'a> {
    fn bad(&self, m: String) -> ImportError {
        ImportError::input(self.path, m)
    }

    /// `#/components/KIND/NAME` -> NAME, for this kind only.
    fn ref_name<'r>(&self, r: &'r str, kind: &str) -> Result<&'r str, ImportError> {
        r.strip_prefix(&format!("#/components/{kind}/"))
            .ok_or_else(|| self.bad(format!("$ref '{r}' is not a local #/components/{kind}/ reference (external references are not followed)")))
    }

    /// Follows a chain of references in one component map.
    fn follow<'s, T>(
        &self,
        first: &'s ObjectOrReference<T>,
        kind: &str,
        map: impl Fn(&str) -> Option<&'s ObjectOrReference<T>>,
    ) -> Result<&'s T, ImportError> {
        let mut cur = first;
        let mut chain: Vec<&str> = Vec::new();
        loop {
            match cur {
                ObjectOrReference::Object(t) => return Ok(t),
                ObjectOrReference::Ref { ref_path, .. } => {
                    let name = self.ref_name(ref_path, kind)?;
                    if chain.contains(&name) || chain.len() > MAX_REF_CHAIN {
                        chain.push(name);
                        return Err(self.bad(format!(
                            "recursive $ref: {} never reaches a definition",
                            chain.join(" -> ")
                        )));
                    }
                    chain.push(name);
                    cur = map(name)
                        .ok_or_else(|| self.bad(format!("$ref '{ref_path}' points at nothing")))?;
                }
            }
        }
    }

    fn parameter(&self, p: &ObjectOrReference<Parameter>) -> Result<Parameter, ImportError> {
        let c = self.spec.components.as_ref();
        self.follow(p, "parameters", |n| c.and_then(|c| c.parameters.get(n)))
            .cloned()
    }

    fn request_body(&self, p: &ObjectOrReference<RequestBody>) -> Result<RequestBody, ImportError> {
        let c = self.spec.components.as_ref();
        self.follow(p, "requestBodies", |n| {
            c.and_then(|c| c.request_bodies.get(n))
        })
        .cloned()
    }

    fn param_value(&mut self, p: &Parameter) -> Result<String, ImportError> {
        let v = match (&p.example, p.examples.iter().next(), &p.schema) {
            (Some(e), _, _) => e.clone(),
            (None, Some((_, ObjectOrReference::Object(ex))), _) if ex.value.is_some() => {
                ex.value.clone().unwrap_or(Value::Null)
            }
            (_, _, Some(s)) => self.schema(s, 0)?.unwrap_or(json!("1")),
            _ => json!("1"),
        };
        Ok(match v {
            Value::String(s) => s,
            Value::Array(a) => a.iter().map(plain).collect::<Vec<_>>().join(","),
            other => other.to_string(),
        })
    }

    fn security(
        &self,
        name: &str,
        draft: &mut Draft,
        headers: &mut BTreeMap<String, String>,
        query: &mut Vec<String>,
    ) -> Result<(), ImportError> {
        let c = self.spec.components.as_ref();
        let Some(s) = c.and_then(|c| c.security_schemes.get(name)) else {
            draft.todos.push(format!(
                "security scheme '{name}' is not defined in components"
            ));
            return Ok(());
        };
        let scheme = self.follow(s, "securitySchemes", |n| {
            c.and_then(|c| c.security_schemes.get(n))
        })?;
        let var = super::draft::env_name(name);
        match scheme {
            SecurityScheme::Http { scheme, .. } if scheme.eq_ignore_ascii_case("basic") => {
                headers.insert(
                    "Authorization".into(),
                    draft.secrets.header("Authorization", "Basic x"),
                );
            }
            SecurityScheme::Http { .. }
            | SecurityScheme::OAuth2 { .. }
            | SecurityScheme::OpenIdConnect { .. } => {
                headers.insert(
                    "Authorization".into(),
                    draft.secrets.header("Authorization", "Bearer x"),
                );
            }
            SecurityScheme::ApiKey {
                name: key,
                location,
                ..
            } => {
                let ph = draft
                    .secrets
                    .placeholder(&var, &format!("the API key of security scheme '{name}'"));
                match location.as_str() {
                    "query" => query.push(format!("{}={ph}", encode(key))),
                    "cookie" => {
                        headers.insert("Cookie".into(), format!("{key}={ph}"));
                    }
                    _ => {
                        headers.insert(key.clone(), ph);
                    }
                }
            }
            SecurityScheme::MutualTls { .. } => draft.todos.push(format!(
                "security scheme '{name}' is mutual TLS, which volley does not do"
            )),
        }
        Ok(())
    }

    fn body(
        &mut self,
        rb: &RequestBody,
        headers: &mut BTreeMap<String, String>,
        comments: &mut Vec<String>,
    ) -> Result<Option<Body>, ImportError> {
        let pick = rb
            .content
            .iter()
            .find(|(m, _)| m.contains("json"))
            .or_else(|| {
                rb.content
                    .iter()
                    .find(|(m, _)| m.starts_with("application/x-www-form-urlencoded"))
            })
            .or_else(|| rb.content.iter().find(|(m, _)| m.starts_with("text/")));
        let Some((mime, media)) = pick else {
            if let Some((m, _)) = rb.content.iter().next() {
                comments.push(format!("TODO: the body is {m}, which is not generated"));
            }
            return Ok(None);
        };
        let v = match self.media_example(media) {
            Some(v) => v,
            None => match &media.schema {
                Some(s) => self.schema(s, 0)?.unwrap_or(json!({})),
                None => json!({}),
            },
        };
        Ok(Some(if mime.contains("json") {
            if mime != "application/json" {
                headers.insert("Content-Type".into(), mime.clone());
            }
            Body::Json(v)
        } else if mime.starts_with("application/x-www-form-urlencoded") {
            headers.insert("Content-Type".into(), mime.clone());
            Body::Text(form_body(&v))
        } else {
            headers.insert("Content-Type".into(), mime.clone());
            Body::Text(plain(&v))
        }))
    }

    fn media_example(&self, m: &MediaType) -> Option<Value> {
        match m.examples.as_ref()? {
            MediaTypeExamples::Example { example } => Some(example.clone()),
            MediaTypeExamples::Examples { examples } => {
                examples.iter().find_map(|(_, e)| match e {
                    ObjectOrReference::Object(e) => e.value.clone(),
                    ObjectOrReference::Ref { .. } => None,
                })
            }
        }
    }

    /// A value for a schema; `None` where generation stops (a schema inside itself).
    fn schema(&mut self, s: &Schema, depth: usize) -> Result<Option<Value>, ImportError> {
        if depth > MAX_DEPTH {
            return Ok(None);
        }
        let obj = match s {
            Schema::Boolean(b) => return Ok(b.0.then(|| json!({}))),
            Schema::Object(o) => o.as_ref(),
        };
        let (name, o) = match obj {
            ObjectOrReference::Object(o) => (None, o),
            ObjectOrReference::Ref { ref_path, .. } => {
                let name = self.ref_name(ref_path, "schemas")?.to_string();
                if self.stack.contains(&name) {
                    return Ok(None);
                }
                let o = self.resolve_schema(ref_path)?;
                (Some(name), o)
            }
        };
        if let Some(n) = &name {
            self.stack.push(n.clone());
        }
        let v = self.object(o, depth);
        if name.is_some() {
            self.stack.pop();
        }
        v
    }

    /// A schema reference followed to an object schema (alias chains included).
    fn resolve_schema(&self, first: &str) -> Result<&'a ObjectSchema, ImportError> {
        let spec: &'a Spec = self.spec;
        let schemas = spec.components.as_ref().map(|c| &c.schemas);
        let mut chain: Vec<String> = Vec::new();
        let mut r = first.to_string();
        loop {
            let name = self.ref_name(&r, "schemas")?.to_string();
            if chain.contains(&name) || chain.len() > MAX_REF_CHAIN {
                chain.push(name);
                return Err(self.bad(format!(
                    "recursive $ref: {} never reaches a schema",
                    chain.join(" -> ")
                )));
            }
            chain.push(name.clone());
            let s = schemas
                .and_then(|m| m.get(&name))
                .ok_or_else(|| self.bad(format!("$ref '{r}' points at nothing")))?;
            match s {
                Schema::Object(b) => match b.as_ref() {
                    ObjectOrReference::Object(o) => return Ok(o),
                    ObjectOrReference::Ref { ref_path, .. } => r = ref_path.clone(),
                },
                Schema::Boolean(_) => {
                    return Err(self.bad(format!("$ref '{r}' is a boolean schema")))
                }
            }
        }
    }

    fn object(&mut self, o: &ObjectSchema, depth: usize) -> Result<Option<Value>, ImportError> {
        if let Some(v) = o.example.clone().or_else(|| o.examples.first().cloned()) {
            return Ok(Some(v));
        }
        if let Some(v) = o.const_value.clone().or_else(|| o.default.clone()) {
            return Ok(Some(v));
        }
        if let Some(v) = o.enum_values.first() {
            return Ok(Some(v.clone()));
        }
        if !o.all_of.is_empty() {
            let mut merged = serde_json::Map::new();
            for part in &o.all_of {
                if let Some(Value::Object(m)) = self.schema(part, depth + 1)? {
                    merged.extend(m);
                }
            }
            if let Some(Value::Object(m)) = self.properties(o, depth)? {
                merged.extend(m);
            }
            return Ok(Some(Value::Object(merged)));
        }
        if let Some(first) = o.one_of.first().or_else(|| o.any_of.first()) {
            return self.schema(first, depth + 1);
        }
        let ty = match &o.schema_type {
            Some(SchemaTypeSet::Single(t)) => Some(*t),
            Some(SchemaTypeSet::Multiple(ts)) => {
                ts.iter().copied().find(|t| *t != SchemaType::Null)
            }
            None if !o.properties.is_empty() => Some(SchemaType::Object),
            None if o.items.is_some() => Some(SchemaType::Array),
            None => None,
        };
        Ok(Some(match ty {
            Some(SchemaType::Object) | None => return self.properties(o, depth),
            Some(SchemaType::Array) => {
                let item = match &o.items {
                    Some(i) => self.schema(i, depth + 1)?,
                    None => None,
                };
                Value::Array(item.into_iter().collect())
            }
            Some(SchemaType::String) => json!(match o.format.as_deref() {
                Some("date-time") => "2024-01-01T00:00:00Z",
                Some("date") => "2024-01-01",
                Some("email") => "user@example.com",
                Some("uuid") => "00000000-0000-4000-8000-000000000000",
                Some("uri") | Some("url") => "https://example.com/",
                Some("ipv4") => "192.0.2.1",
                _ => "string",
            }),
            Some(SchemaType::Integer) => {
                let int = |n: &Option<serde_json::Number>| n.as_ref().and_then(|n| n.as_i64());
                let lo = int(&o.minimum)
                    .or(int(&o.exclusive_minimum).map(|x| x.saturating_add(1)))
                    .unwrap_or(1);
                let hi = int(&o.maximum)
                    .or(int(&o.exclusive_maximum).map(|x| x.saturating_sub(1)))
                    .unwrap_or(i64::MAX);
                json!(lo.max(1).min(hi))
            }
            Some(SchemaType::Number) => {
                json!(o.minimum.as_ref().and_then(|n| n.as_f64()).unwrap_or(1.5))
            }
            Some(SchemaType::Boolean) => json!(true),
            Some(SchemaType::Null) => Value::Null,
        }))
    }

    fn properties(&mut self, o: &ObjectSchema, depth: usize) -> Result<Option<Value>, ImportError> {
        let mut m = serde_json::Map::new();
        for (k, s) in o.properties.iter() {
            let read_only = match s {
                Schema::Object(b) => {
                    matches!(b.as_ref(), ObjectOrReference::Object(x) if x.read_only == Some(true))
                }
                Schema::Boolean(_) => false,
            };
            if read_only {
                continue;
            }
            if let Some(v) = self.schema(s, depth + 1)? {
                m.insert(k.clone(), v);
            }
        }
        Ok(Some(Value::Object(m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_cycle_is_an_error_and_self_containing_schema_stops() {
        let doc = r##"{"openapi":"3.1.0","info":{"title":"t","version":"1"},
          "paths":{"/a":{"post":{"requestBody":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/Node"}}}},"responses":{"200":{"description":"ok"}}}}},
          "components":{"schemas":{"Node":{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/components/schemas/Node"}}}}}}}"##;
        let d = from_text(Path::new("t.json"), doc, None).unwrap();
        assert_eq!(
            d.requests[0].body,
            Some(Body::Json(json!({"name": "string", "children": []})))
        );
        let cyc = doc.replace(
            r##""Node":{"type":"object""##,
            r##""Node":{"$ref":"#/components/schemas/Loop"},"Loop":{"$ref":"#/components/schemas/Node"},"X":{"type":"object""##,
        );
        let e = from_text(Path::new("t.json"), &cyc, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("recursive $ref: Node -> Loop -> Node"), "{e}");
    }

    #[test]
    fn openapi_3_0_keywords_that_3_1_changed_are_read() {
        let doc = r##"
openapi: 3.0.3
info: { title: t, version: "1" }
paths:
  /q:
    get:
      parameters:
        - { name: n, in: query, required: true, schema: { type: integer, minimum: 5, exclusiveMinimum: true, nullable: true } }
        - { name: m, in: query, required: true, schema: { type: number, maximum: 9, exclusiveMaximum: false } }
      responses: { "200": { description: ok } }
"##;
        let d = from_text(Path::new("t.yaml"), doc, None).unwrap();
        assert_eq!(d.requests[0].path, "/q?n=6&m=1.5");
        let e = from_text(Path::new("t.yaml"), "openapi: [", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not valid YAML"), "{e}");
        let e = from_text(Path::new("s.json"), r#"{"swagger": "2.0"}"#, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an OpenAPI document"), "{e}");
    }
}

//! The scenario file as written: serde structs that refuse unknown keys.
//!
//! Values that can be checked alone (durations, counts, URLs, methods) are checked while
//! deserializing, so toml's spans point at the offending value.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_spanned::Spanned;

use super::duration::{HumanDuration, ThinkTime};

/// Most virtual users one engine will run. Above this a typo is more likely than intent.
pub const MAX_VUS: u64 = 100_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: String,
    /// Base URL every request path is appended to.
    pub base_url: Spanned<BaseUrl>,
    #[serde(default = "empty_headers")]
    pub headers: Spanned<BTreeMap<String, String>>,
    pub timeout: Option<HumanDuration>,
    #[serde(default)]
    pub load: LoadSection,
    #[serde(default)]
    pub http: HttpSection,
    #[serde(default, rename = "request")]
    pub requests: Vec<RequestSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSection {
    pub vus: Option<Spanned<Count>>,
    pub duration: Option<HumanDuration>,
    pub iterations: Option<Count>,
    pub think_time: Option<ThinkTime>,
    pub graceful_stop: Option<HumanDuration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    pub client: Option<ClientChoice>,
    pub insecure: Option<bool>,
    pub follow_redirects: Option<bool>,
    pub cookies: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSection {
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub method: Option<Method>,
    pub path: Spanned<String>,
    #[serde(default = "empty_headers")]
    pub headers: Spanned<BTreeMap<String, String>>,
    pub body: Option<Spanned<String>>,
    pub json: Option<Spanned<toml::Value>>,
    pub weight: Option<Weight>,
    pub timeout: Option<HumanDuration>,
    pub follow_redirects: Option<bool>,
}

/// Which HTTP client executes requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClientChoice {
    /// hyper's connection API unless a request needs reqwest's features.
    #[default]
    Auto,
    Hyper,
    Reqwest,
}

/// A positive count (VUs, iterations), at most [`MAX_VUS`] for VUs is checked later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number of at least 1")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                if v < 1 {
                    Err(E::custom(format!("must be at least 1, got {v}")))
                } else {
                    Ok(Count(v as u64))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                self.visit_i64(v.min(i64::MAX as u64) as i64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Count, E> {
                Err(E::custom(format!("must be a whole number, got {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Count, E> {
                Err(E::custom(format!(
                    "must be a number, not the string \"{v}\" (drop the quotes)"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// A request's relative weight: 0 (never picked) or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weight(pub u32);

impl<'de> Deserialize<'de> for Weight {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Weight;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number, 0 or more")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Weight, E> {
                if v < 0 {
                    Err(E::custom(format!("must be 0 or more, got {v}")))
                } else if v > 1_000_000 {
                    Err(E::custom(format!("must be at most 1000000, got {v}")))
                } else {
                    Ok(Weight(v as u32))
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Weight, E> {
                Err(E::custom(format!("must be a whole number, got {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Weight, E> {
                Err(E::custom(format!(
                    "must be a number, not the string \"{v}\" (drop the quotes)"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// An HTTP method, upper-cased and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method(pub http::Method);

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_method(&s).map(Method).map_err(de::Error::custom)
    }
}

pub fn parse_method(s: &str) -> Result<http::Method, String> {
    let upper = s.to_ascii_uppercase();
    match upper.as_str() {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS" => {
            Ok(http::Method::from_bytes(upper.as_bytes()).expect("known method"))
        }
        _ => Err(format!(
            "unknown HTTP method '{s}' (expected GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS)"
        )),
    }
}

/// An absolute http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(pub reqwest::Url);

impl<'de> Deserialize<'de> for BaseUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_base_url(&s).map(BaseUrl).map_err(de::Error::custom)
    }
}

pub fn parse_base_url(s: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(s).map_err(|e| format!("invalid URL '{s}': {e}"))?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(format!(
                "invalid URL '{s}': scheme '{other}' is not supported (use http or https)"
            ))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("invalid URL '{s}': it has no host"));
    }
    Ok(url)
}

fn empty_headers() -> Spanned<BTreeMap<String, String>> {
    Spanned::new(0..0, BTreeMap::new())
}

//! Request routing and the handlers of the demo API.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{
    HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE,
};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use super::capacity::{Admission, Capacity};
use super::latency::Latency;
use super::stats::{DemoStats, Route, TokenUse};
use super::tokens::{TokenStore, MAX_TOKENS};
use super::DemoOptions;

/// Highest item id that exists.
pub(crate) const MAX_ITEM_ID: u32 = 1000;
/// Items returned by `GET /api/items`.
const LIST_LEN: u32 = 20;
/// Token lifetime announced by `/login` (tokens are only forgotten by eviction).
const EXPIRES_IN_SECS: u64 = 3600;

/// The routes, for the startup line.
pub(crate) const ROUTE_SUMMARY: &str = "POST /login, GET /api/items, GET /api/items/{id}, \
     GET /api/search?q=, POST /api/orders, GET /health, GET /__stats, \
     GET /api/stream?tokens= (SSE), GET /ws/chat (WebSocket)";

/// The response body type of every handler.
pub(crate) type Body = Full<Bytes>;

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) stats: Arc<DemoStats>,
    tokens: TokenStore,
    require_auth: bool,
    error_rate: f64,
    list_latency: Latency,
    search_latency: Latency,
    login_latency: Latency,
    write_latency: Latency,
    next_order: AtomicU64,
    items_body: Bytes,
    capacity: Option<Capacity>,
    pub(crate) streaming: Arc<super::streaming::Streaming>,
}

impl AppState {
    /// Shared state for a server with these options; the error rate must be in `0..=1`.
    pub(crate) fn new(opts: &DemoOptions) -> Result<AppState, String> {
        let error_rate = super::check_error_rate(opts.error_rate)?;
        let items: Vec<Value> = (1..=LIST_LEN).map(item_json).collect();
        let capacity = opts
            .capacity
            .map(|rps| Capacity::new(rps, opts.capacity_queue))
            .transpose()?;
        Ok(AppState {
            stats: Arc::new(DemoStats::default()),
            tokens: TokenStore::new(MAX_TOKENS),
            require_auth: opts.require_auth,
            error_rate,
            list_latency: Latency::new(opts.latency, 0.2, 3.0),
            search_latency: Latency::new(opts.search_latency, 0.8, 10.0),
            login_latency: Latency::new(opts.login_latency, 0.25, 3.0),
            write_latency: Latency::new(opts.write_latency, 0.3, 4.0),
            next_order: AtomicU64::new(1),
            items_body: Bytes::from(Value::Array(items).to_string()),
            capacity,
            streaming: Default::default(),
        })
    }

    fn token_use(&self, headers: &HeaderMap) -> TokenUse {
        let Some(value) = headers.get(AUTHORIZATION) else {
            return TokenUse::None;
        };
        let valid = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .is_some_and(|(_, token)| self.tokens.is_valid(token.trim()));
        if valid {
            TokenUse::Valid
        } else {
            TokenUse::Invalid
        }
    }
}

/// What a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Login,
    Items,
    /// `GET /api/items/{id}`; `None` when the id is not an existing item.
    Item(Option<u32>),
    Search,
    Orders,
    Health,
    NotFound,
}

impl Target {
    fn of(method: &Method, path: &str) -> Target {
        match (method, path) {
            (&Method::POST, "/login") => Target::Login,
            (&Method::GET, "/api/items") => Target::Items,
            (&Method::GET, "/api/search") => Target::Search,
            (&Method::POST, "/api/orders") => Target::Orders,
            (&Method::GET, "/health") => Target::Health,
            (&Method::GET, _) => match path.strip_prefix("/api/items/") {
                Some(id) if !id.contains('/') => Target::Item(
                    id.parse::<u32>()
                        .ok()
                        .filter(|n| (1..=MAX_ITEM_ID).contains(n)),
                ),
                _ => Target::NotFound,
            },
            _ => Target::NotFound,
        }
    }

    fn route(self) -> Route {
        match self {
            Target::Login => Route::Login,
            Target::Items => Route::Items,
            Target::Item(_) => Route::Item,
            Target::Search => Route::Search,
            Target::Orders => Route::Orders,
            Target::Health => Route::Health,
            Target::NotFound => Route::NotFound,
        }
    }
}

/// Serves one request. Never fails: every problem becomes an HTTP status.
pub(crate) async fn handle(
    state: Arc<AppState>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    if parts.method == Method::GET && path == "/__stats" {
        let _ = drain(body).await;
        return Ok(json_response(StatusCode::OK, &state.stats.to_json()));
    }

    let target = Target::of(&parts.method, path);
    let _in_flight = state.stats.begin(target.route());
    let token = state.token_use(&parts.headers);
    state.stats.record_token(token);
    let drained = drain(body).await;
    let admission = match &state.capacity {
        Some(capacity) => capacity.admit(std::time::Instant::now()),
        None => Admission::After(Duration::ZERO),
    };

    let response = if admission == Admission::Refused {
        let mut r = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "over_capacity",
            "the server is at its capacity limit",
        );
        r.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        r
    } else if drained.is_err() {
        error_response(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "could not read the body",
        )
    } else if state.require_auth && path.starts_with("/api/") && token != TokenUse::Valid {
        let mut r = error_response(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a bearer token from POST /login is required",
        );
        r.headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        r
    } else {
        if let Admission::After(wait) = admission {
            delay(wait).await;
        }
        respond(&state, target, parts.uri.query()).await
    };
    state.stats.record_status(response.status().as_u16());
    Ok(response)
}

async fn respond(state: &AppState, target: Target, query: Option<&str>) -> Response<Body> {
    match target {
        Target::Login => {
            delay(state.login_latency.sample()).await;
            let token = state.tokens.issue();
            json_response(
                StatusCode::OK,
                &json!({
                    "access_token": token,
                    "token_type": "bearer",
                    "expires_in": EXPIRES_IN_SECS,
                }),
            )
        }
        Target::Items => {
            delay(state.list_latency.sample()).await;
            json_bytes(StatusCode::OK, state.items_body.clone())
        }
        Target::Item(id) => {
            delay(state.list_latency.sample()).await;
            match id {
                Some(id) => json_response(StatusCode::OK, &item_json(id)),
                None => error_response(StatusCode::NOT_FOUND, "not_found", "no such item"),
            }
        }
        Target::Search => {
            delay(state.search_latency.sample()).await;
            let q = query.and_then(|q| query_param(q, "q")).unwrap_or_default();
            json_response(StatusCode::OK, &search_json(&q))
        }
        Target::Orders => {
            delay(state.write_latency.sample()).await;
            if fastrand::f64() < state.error_rate {
                if fastrand::bool() {
                    error_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal_error",
                        "simulated failure",
                    )
                } else {
                    error_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "simulated overload",
                    )
                }
            } else {
                let id = state.next_order.fetch_add(1, Ordering::Relaxed);
                let mut r = json_response(StatusCode::CREATED, &json!({ "id": id }));
                if let Ok(loc) = HeaderValue::from_str(&format!("/api/orders/{id}")) {
                    r.headers_mut().insert(LOCATION, loc);
                }
                r
            }
        }
        Target::Health => {
            let mut r = Response::new(Full::new(Bytes::from_static(b"ok")));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            r
        }
        Target::NotFound => error_response(StatusCode::NOT_FOUND, "not_found", "no such route"),
    }
}

/// Reads the whole request body and throws it away, one frame at a time.
async fn drain(mut body: Incoming) -> Result<(), hyper::Error> {
    while let Some(frame) = body.frame().await {
        frame?;
    }
    Ok(())
}

async fn delay(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

fn item_json(id: u32) -> Value {
    let id64 = u64::from(id);
    json!({
        "id": id,
        "name": format!("Item {id}"),
        "sku": format!("SKU-{id:05}"),
        "price_cents": 199 + (id64 * 7919) % 10_000,
        "in_stock": !id.is_multiple_of(7),
    })
}

/// A handful of deterministic results for a query: the same `q` gives the same answer.
fn search_json(q: &str) -> Value {
    // FNV-1a, so results depend on the query without any global state.
    let hash = q.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let count = if q.is_empty() { 0 } else { 1 + hash % 10 };
    let results: Vec<Value> = (0..count)
        .map(|i| {
            let id = 1 + (hash.wrapping_add(i.wrapping_mul(104_729)) % u64::from(MAX_ITEM_ID));
            json!({
                "id": id,
                "name": format!("Item {id}"),
                "score": (10 - i) as f64 / 10.0,
            })
        })
        .collect();
    json!({ "query": q, "total": count, "results": results })
}

/// The first value of `name` in a query string, form-decoded.
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(key) == name).then(|| form_decode(value))
    })
}

/// Decodes `application/x-www-form-urlencoded` text; malformed escapes are kept as-is.
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    json_bytes(status, Bytes::from(value.to_string()))
}

fn json_bytes(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn error_response(status: StatusCode, error: &str, message: &str) -> Response<Body> {
    json_response(status, &json!({ "error": error, "message": message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_method_and_path() {
        assert_eq!(Target::of(&Method::POST, "/login"), Target::Login);
        assert_eq!(Target::of(&Method::GET, "/login"), Target::NotFound);
        assert_eq!(Target::of(&Method::GET, "/api/items"), Target::Items);
        assert_eq!(
            Target::of(&Method::GET, "/api/items/7"),
            Target::Item(Some(7))
        );
        assert_eq!(
            Target::of(&Method::GET, "/api/items/1000"),
            Target::Item(Some(1000))
        );
        assert_eq!(
            Target::of(&Method::GET, "/api/items/1001"),
            Target::Item(None)
        );
        assert_eq!(
            Target::of(&Method::GET, "/api/items/abc"),
            Target::Item(None)
        );
        assert_eq!(
            Target::of(&Method::GET, "/api/items/-1"),
            Target::Item(None)
        );
        assert_eq!(Target::of(&Method::GET, "/api/items/"), Target::Item(None));
        assert_eq!(Target::of(&Method::GET, "/api/items/1/x"), Target::NotFound);
        assert_eq!(Target::of(&Method::GET, "/api/search"), Target::Search);
        assert_eq!(Target::of(&Method::POST, "/api/orders"), Target::Orders);
        assert_eq!(Target::of(&Method::GET, "/api/orders"), Target::NotFound);
        assert_eq!(Target::of(&Method::GET, "/health"), Target::Health);
        assert_eq!(Target::of(&Method::DELETE, "/health"), Target::NotFound);
        assert_eq!(Target::of(&Method::GET, "/"), Target::NotFound);
    }

    #[test]
    fn query_values_are_form_decoded() {
        assert_eq!(
            query_param("q=red+shoes&x=1", "q").as_deref(),
            Some("red shoes")
        );
        assert_eq!(query_param("x=1&q=a%20b%2", "q").as_deref(), Some("a b%2"));
        assert_eq!(query_param("q", "q").as_deref(), Some(""));
        assert_eq!(query_param("x=1", "q"), None);
        assert_eq!(form_decode("%zz%"), "%zz%");
        assert_eq!(form_decode("%+1"), "% 1");
        assert_eq!(form_decode("%C3%A9"), "é");
        assert_eq!(form_decode("%FF"), "\u{FFFD}");
    }

    #[test]
    fn search_is_deterministic_and_bounded() {
        let a = search_json("shoes");
        assert_eq!(a, search_json("shoes"));
        let total = a["total"].as_u64().unwrap_or(0);
        assert!((1..=10).contains(&total));
        assert_eq!(a["results"].as_array().map(Vec::len), Some(total as usize));
        assert_eq!(search_json("")["total"], 0);
    }
}

//! Lock-free counters describing what the demo server has seen.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Map, Value};

/// A route of the demo server, as counted in [`DemoStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Login,
    Items,
    Item,
    Search,
    Orders,
    Health,
    NotFound,
}

impl Route {
    /// Every route, in the order used for counters and JSON.
    pub(crate) const ALL: [Route; 7] = [
        Route::Login,
        Route::Items,
        Route::Item,
        Route::Search,
        Route::Orders,
        Route::Health,
        Route::NotFound,
    ];

    /// The route's name in [`DemoStats`].
    pub(crate) fn name(self) -> &'static str {
        match self {
            Route::Login => "login",
            Route::Items => "items",
            Route::Item => "item",
            Route::Search => "search",
            Route::Orders => "orders",
            Route::Health => "health",
            Route::NotFound => "not_found",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn from_name(name: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// Lowest status code with its own counter.
const MIN_STATUS: u16 = 100;
/// Highest status code with its own counter.
const MAX_STATUS: u16 = 599;
const STATUS_SLOTS: usize = (MAX_STATUS - MIN_STATUS + 1) as usize;

/// How a request's `Authorization` header related to issued tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenUse {
    /// No bearer token was sent.
    None,
    /// A token issued by `/login` was sent.
    Valid,
    /// Something was sent that is not an issued bearer token.
    Invalid,
}

/// Counters of the demo server's traffic, updated with atomics only.
///
/// Requests to `/__stats` are not counted. A request is counted under its route when it
/// arrives and under its status code when its response is ready; a request whose client
/// went away before that counts only under its route.
#[derive(Debug)]
pub struct DemoStats {
    routes: [AtomicU64; Route::ALL.len()],
    statuses: [AtomicU64; STATUS_SLOTS],
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    valid_token: AtomicU64,
    invalid_token: AtomicU64,
    connections: AtomicU64,
}

impl Default for DemoStats {
    fn default() -> Self {
        DemoStats {
            routes: std::array::from_fn(|_| AtomicU64::new(0)),
            statuses: std::array::from_fn(|_| AtomicU64::new(0)),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            valid_token: AtomicU64::new(0),
            invalid_token: AtomicU64::new(0),
            connections: AtomicU64::new(0),
        }
    }
}

impl DemoStats {
    /// Requests seen on `route` (`"login"`, `"items"`, `"item"`, `"search"`, `"orders"`,
    /// `"health"` or `"not_found"`); 0 for any other name.
    pub fn route_count(&self, route: &str) -> u64 {
        Route::from_name(route).map_or(0, |r| self.routes[r.index()].load(Ordering::Relaxed))
    }

    /// Requests seen on all routes.
    pub fn total(&self) -> u64 {
        self.routes.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Requests being handled right now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The largest number of requests that were in flight at once.
    pub fn max_in_flight(&self) -> u64 {
        self.max_in_flight.load(Ordering::Relaxed)
    }

    /// Responses sent with status `code`.
    pub fn status_count(&self, code: u16) -> u64 {
        status_slot(code).map_or(0, |i| self.statuses[i].load(Ordering::Relaxed))
    }

    /// Requests that carried a bearer token issued by `/login`.
    pub fn valid_token_count(&self) -> u64 {
        self.valid_token.load(Ordering::Relaxed)
    }

    /// Requests that carried an `Authorization` header that is not an issued bearer token.
    pub fn invalid_token_count(&self) -> u64 {
        self.invalid_token.load(Ordering::Relaxed)
    }

    /// TCP connections accepted.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    pub(crate) fn count_connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// All counters as JSON, as served on `GET /__stats`:
    /// `{"total", "routes": {name: n}, "status": {"200": n}, "in_flight", "max_in_flight",
    /// "valid_token", "invalid_token", "connections"}`. Status codes never seen are left
    /// out.
    pub fn to_json(&self) -> Value {
        let routes: Map<String, Value> = Route::ALL
            .into_iter()
            .map(|r| {
                let n = self.routes[r.index()].load(Ordering::Relaxed);
                (r.name().to_string(), Value::from(n))
            })
            .collect();
        let statuses: Map<String, Value> = self
            .statuses
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let n = c.load(Ordering::Relaxed);
                (n > 0).then(|| ((i + usize::from(MIN_STATUS)).to_string(), Value::from(n)))
            })
            .collect();
        json!({
            "total": self.total(),
            "routes": routes,
            "status": statuses,
            "in_flight": self.in_flight(),
            "max_in_flight": self.max_in_flight(),
            "valid_token": self.valid_token_count(),
            "invalid_token": self.invalid_token_count(),
            "connections": self.connections(),
        })
    }

    /// Counts a request on `route` and marks it in flight until the guard is dropped.
    pub(crate) fn begin(&self, route: Route) -> InFlight<'_> {
        self.routes[route.index()].fetch_add(1, Ordering::Relaxed);
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight { stats: self }
    }

    /// Counts a response status.
    pub(crate) fn record_status(&self, code: u16) {
        if let Some(i) = status_slot(code) {
            self.statuses[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts how a request used a token.
    pub(crate) fn record_token(&self, token: TokenUse) {
        match token {
            TokenUse::None => {}
            TokenUse::Valid => {
                self.valid_token.fetch_add(1, Ordering::Relaxed);
            }
            TokenUse::Invalid => {
                self.invalid_token.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn status_slot(code: u16) -> Option<usize> {
    (MIN_STATUS..=MAX_STATUS)
        .contains(&code)
        .then(|| usize::from(code - MIN_STATUS))
}

/// Marks one request in flight; dropping it (also when the client goes away) ends that.
pub(crate) struct InFlight<'a> {
    stats: &'a DemoStats,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_routes_statuses_and_in_flight() {
        let stats = DemoStats::default();
        {
            let _a = stats.begin(Route::Login);
            let _b = stats.begin(Route::Search);
            assert_eq!(stats.in_flight(), 2);
            stats.record_status(200);
            stats.record_status(200);
        }
        let _c = stats.begin(Route::Search);
        stats.record_status(503);
        stats.record_status(42); // out of range: ignored
        stats.record_token(TokenUse::Valid);
        stats.record_token(TokenUse::Invalid);
        stats.record_token(TokenUse::None);

        assert_eq!(stats.route_count("login"), 1);
        assert_eq!(stats.route_count("search"), 2);
        assert_eq!(stats.route_count("nope"), 0);
        assert_eq!(stats.total(), 3);
        assert_eq!(stats.in_flight(), 1);
        assert_eq!(stats.max_in_flight(), 2);
        assert_eq!(stats.status_count(200), 2);
        assert_eq!(stats.status_count(503), 1);
        assert_eq!(stats.status_count(42), 0);

        let j = stats.to_json();
        assert_eq!(j["total"], 3);
        assert_eq!(j["routes"]["search"], 2);
        assert_eq!(j["routes"]["not_found"], 0);
        assert_eq!(j["status"]["200"], 2);
        assert!(j["status"].get("404").is_none());
        assert_eq!(j["max_in_flight"], 2);
        assert_eq!(j["valid_token"], 1);
        assert_eq!(j["invalid_token"], 1);
    }
}

//! Validating how VUs use HTTP/2 connections: `[http] streams_per_connection` (streams
//! of a VU's own connection, for batch steps) and `[http] connections` (connections
//! shared by all VUs).

use super::super::model::HttpSection;
use super::super::plan::{Flow, H2Sharing, HttpOptions, Step, UserType};
use super::super::{HttpVersion, ScenarioError};
use super::Validator;

/// Most VUs on one connection, and most shared connections: beyond these a typo is
/// likelier than a plan (servers cap concurrent streams at 100-250 anyway).
pub const MAX_STREAMS_PER_CONNECTION: u64 = 1000;
pub const MAX_CONNECTIONS: u64 = 10_000;

impl Validator<'_> {
    /// The sharing the `[http]` section asks for; errors name the key.
    pub(super) fn h2_sharing(
        &self,
        http: &HttpSection,
        version: HttpVersion,
    ) -> Result<Option<H2Sharing>, ScenarioError> {
        let per = http.streams_per_connection.as_ref();
        let conns = http.connections.as_ref();
        let needs_h2 = |key: &str, span| {
            let what = if key == "connections" {
                "shares HTTP/2 connections between VUs"
            } else {
                "opens several streams on a VU's HTTP/2 connection"
            };
            self.err_key(
                span,
                &format!("http.{key}"),
                format!(
                    "{key} {what}: it needs [http] version = \"2\" (HTTP/1.1 carries one request at a time per connection)"
                ),
            )
        };
        if let (Some(_), Some(c)) = (per, conns) {
            return Err(self.err_key(
                c.span(),
                "http.connections",
                "set streams_per_connection (streams on each VU's own connection) or connections (connections shared by all VUs), not both",
            ));
        }
        if let Some(n) = per {
            if version != HttpVersion::Http2 && n.get_ref().0 > 1 {
                return Err(needs_h2("streams_per_connection", n.span()));
            }
            if n.get_ref().0 > MAX_STREAMS_PER_CONNECTION {
                return Err(self.err_key(
                    n.span(),
                    "http.streams_per_connection",
                    format!(
                        "{} is more than {MAX_STREAMS_PER_CONNECTION} streams on one connection",
                        n.get_ref().0
                    ),
                ));
            }
            // One VU per connection is what happens anyway.
            return Ok((n.get_ref().0 > 1).then_some(H2Sharing::PerConnection(n.get_ref().0)));
        }
        if let Some(n) = conns {
            if version != HttpVersion::Http2 {
                return Err(needs_h2("connections", n.span()));
            }
            if n.get_ref().0 > MAX_CONNECTIONS {
                return Err(self.err_key(
                    n.span(),
                    "http.connections",
                    format!(
                        "{} is more than {MAX_CONNECTIONS} connections",
                        n.get_ref().0
                    ),
                ));
            }
            return Ok(Some(H2Sharing::Connections(n.get_ref().0)));
        }
        Ok(None)
    }
}

impl Validator<'_> {
    /// More than one stream per VU's connection does something only for a batch step:
    /// refused without one (a setting that silently does nothing is a slip).
    pub(super) fn streams_used(
        &self,
        http: &HttpSection,
        plan: &HttpOptions,
        users: &[UserType],
    ) -> Result<(), ScenarioError> {
        let Some(H2Sharing::PerConnection(n)) = plan.sharing else {
            return Ok(());
        };
        let batches = users.iter().any(|u| match &u.flow {
            Flow::Steps(s) => s.iter().any(|s| matches!(s, Step::Batch(_))),
            Flow::Tasks(_) => false,
        });
        if batches {
            return Ok(());
        }
        let span = http
            .streams_per_connection
            .as_ref()
            .map_or(0..0, |s| s.span());
        Err(self.err_key(
            span,
            "http.streams_per_connection",
            format!(
                "{n} streams per VU's connection are used by batch steps only, and no user has one: \
                 list requests to send together inside steps, e.g. steps = [\"page\", [\"css\", \"js\"]] \
                 (to share connections between VUs, use connections = N)"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::scenario::{parse, H2Sharing};

    fn sharing(http: &str) -> Result<Option<H2Sharing>, String> {
        with_steps(http, r#"[["a", "a"]]"#)
    }

    fn with_steps(http: &str, steps: &str) -> Result<Option<H2Sharing>, String> {
        let src = format!(
            "name = \"x\"\nbase_url = \"http://127.0.0.1:1\"\n[http]\n{http}\n[load]\niterations = 1\n[[request]]\nname = \"a\"\npath = \"/\"\n[[user]]\nname = \"u\"\nsteps = {steps}\n"
        );
        parse(Path::new("s.toml"), &src)
            .map(|p| p.http.sharing)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn sharing_is_read_for_http2() {
        assert_eq!(sharing("version = \"2\""), Ok(None));
        assert_eq!(
            sharing("version = \"2\"\nstreams_per_connection = 4"),
            Ok(Some(H2Sharing::PerConnection(4)))
        );
        assert_eq!(
            sharing("version = \"2\"\nstreams_per_connection = 1"),
            Ok(None)
        );
        assert_eq!(
            sharing("version = \"2\"\nconnections = 3"),
            Ok(Some(H2Sharing::Connections(3)))
        );
        // One stream per connection is HTTP/1.1's way too.
        assert_eq!(sharing("streams_per_connection = 1"), Ok(None));
        // Each VU has its own connection; its batch's streams share it.
        assert_eq!(H2Sharing::PerConnection(4).slot(0), 0);
        assert_eq!(H2Sharing::PerConnection(4).slot(3), 3);
        assert_eq!(H2Sharing::Connections(3).slot(4), 1);
        assert_eq!(H2Sharing::Connections(3).slot(6), 0);
    }

    #[test]
    fn mistakes_name_file_line_and_key() {
        let cases = [
            (
                "streams_per_connection = 4",
                "s.toml:4:26: key 'http.streams_per_connection': streams_per_connection opens several streams on a VU's HTTP/2 connection: it needs [http] version = \"2\" (HTTP/1.1 carries one request at a time per connection)",
            ),
            (
                "version = \"auto\"\nconnections = 2",
                "s.toml:5:15: key 'http.connections': connections shares HTTP/2 connections between VUs: it needs [http] version = \"2\"",
            ),
            (
                "version = \"2\"\nstreams_per_connection = 2\nconnections = 2",
                "s.toml:6:15: key 'http.connections': set streams_per_connection (streams on each VU's own connection) or connections (connections shared by all VUs), not both",
            ),
            (
                "version = \"2\"\nstreams_per_connection = 5000",
                "key 'http.streams_per_connection': 5000 is more than 1000 streams on one connection",
            ),
            (
                "version = \"2\"\nconnections = 0",
                "connections",
            ),
            (
                "version = \"2\"\nstreams_per_connection = \"4\"",
                "streams_per_connection",
            ),
        ];
        for (http, want) in cases {
            let err = sharing(http).expect_err(http);
            assert!(err.contains(want), "{http}: {err}");
        }
    }

    #[test]
    fn streams_need_a_batch_step() {
        let err = with_steps(
            "version = \"2\"\nstreams_per_connection = 4",
            r#"["a", "a"]"#,
        )
        .expect_err("no batch");
        assert!(
            err.contains("s.toml:5:26: key 'http.streams_per_connection': 4 streams per VU's connection are used by batch steps only"),
            "{err}"
        );
        // Batches themselves: names, not nested lists; not empty; known requests.
        for (steps, want) in [
            ("[[]]", "an empty batch"),
            (r#"[["a", ["a"]]]"#, "a batch holds request names, not another batch"),
            (r#"[["a", "b"]]"#, "no request is named 'b'"),
            ("[1]", "a step is a request's name, or a list of names sent together (a batch), not integer"),
        ] {
            let err = with_steps("version = \"2\"", steps).expect_err(steps);
            assert!(err.contains(want) && err.contains("s.toml:"), "{steps}: {err}");
        }
        // A batch on one stream is allowed: its requests go one at a time.
        assert_eq!(with_steps("", r#"[["a", "a"]]"#), Ok(None));
    }
}

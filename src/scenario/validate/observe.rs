//! What is watched while the run goes: thresholds and the target monitor.

use serde_spanned::Spanned;

use super::Validator;
use crate::scenario::error::ScenarioError;
use crate::scenario::{ClientKind, Endpoint};
use crate::thresholds::{Threshold, Timing};

/// Whether requests like `ep` measure `timing`.
fn measures(timing: Timing, ep: &Endpoint) -> bool {
    let http = ep.ws.is_none();
    match timing {
        Timing::WsHandshake | Timing::WsExpect => !http,
        Timing::WsEcho => ep.ws.as_ref().is_some_and(|w| {
            w.steps
                .iter()
                .any(|s| matches!(s, crate::scenario::WsStep::Echo(_)))
        }),
        // Only volley's own client sees its write end and times streamed responses.
        Timing::Send | Timing::FirstEvent | Timing::Gap => http && ep.client == ClientKind::H1,
        _ => http && ep.client != ClientKind::Reqwest,
    }
}

/// Why nothing measures `timing`, for the message.
fn unmeasured(timing: Timing) -> &'static str {
    match timing {
        Timing::WsHandshake | Timing::WsExpect => {
            "it covers no WebSocket request (protocol = \"websocket\" or a ws:// URL)"
        }
        Timing::WsEcho => "it covers no WebSocket request with an 'echo' step",
        Timing::Send => {
            "only the h1 client times writing the request (HTTP/2, client = \"hyper\" and reqwest do not), and WebSocket sessions have no such phase"
        }
        Timing::FirstEvent | Timing::Gap => {
            "streamed responses are timed by the h1 client (not over HTTP/2, client = \"hyper\" or reqwest), and not in WebSocket sessions"
        }
        _ => "the reqwest client (redirects, cookies) and WebSocket sessions do not time phases",
    }
}

impl Validator<'_> {
    pub(super) fn monitor(
        &self,
        m: &Spanned<crate::scenario::model::MonitorSection>,
    ) -> Result<crate::monitor::MonitorSpec, ScenarioError> {
        use crate::monitor::{Selector, Source};
        let sec = m.get_ref();
        let given = [
            sec.prometheus.is_some(),
            sec.pid.is_some(),
            sec.process.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(self.err_key(
                m.span(),
                "monitor",
                "give one source: prometheus = \"http://HOST:PORT/metrics\", pid = N or process = \"NAME\"",
            ));
        }
        let source = if let Some(url) = &sec.prometheus {
            crate::monitor::parse_flag(url.get_ref())
                .ok()
                .filter(|s| matches!(s, Source::Prometheus(_)))
                .ok_or_else(|| {
                    self.err_key(
                        url.span(),
                        "monitor.prometheus",
                        format!("'{}' is not an http(s) URL", url.get_ref()),
                    )
                })?
        } else if let Some(pid) = sec.pid {
            if pid == 0 {
                return Err(self.err_key(m.span(), "monitor.pid", "must be a process id above 0"));
            }
            Source::Pid(pid)
        } else {
            Source::Process(sec.process.clone().unwrap_or_default())
        };
        let series = sec
            .series
            .iter()
            .map(|s| {
                Selector::parse(s.get_ref())
                    .map_err(|e| self.err_key(s.span(), "monitor.series", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(crate::monitor::MonitorSpec { source, series })
    }

    /// A threshold on a timing must cover a request that measures it (else it would
    /// never be judged, and pass for want of data): `covered` are the requests it is on.
    pub(super) fn timing_covered(
        &self,
        t: &Spanned<String>,
        th: &Threshold,
        covered: &[&Endpoint],
    ) -> Result<(), ScenarioError> {
        let Some(timing) = th.timing else {
            return Ok(());
        };
        if covered.iter().any(|ep| measures(timing, ep)) {
            return Ok(());
        }
        Err(self.err(
            t.span(),
            format!(
                "threshold '{}': nothing it covers measures '{timing}': {}",
                t.get_ref(),
                unmeasured(timing)
            ),
        ))
    }

    pub(super) fn threshold(
        &self,
        t: &Spanned<String>,
    ) -> Result<crate::thresholds::Threshold, ScenarioError> {
        crate::thresholds::parse(t.get_ref()).map_err(|e| {
            // +1 for the opening quote of the TOML string; the column counts characters.
            let text = t.get_ref();
            let byte = text
                .char_indices()
                .nth(e.column.saturating_sub(1))
                .map_or(text.len(), |(b, _)| b);
            let at = t.span().start + 1 + byte;
            self.err(
                at..at,
                format!("threshold '{}': {}", t.get_ref(), e.message),
            )
        })
    }
}

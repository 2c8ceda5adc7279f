//! What is watched while the run goes: thresholds and the target monitor.

use serde_spanned::Spanned;

use super::Validator;
use crate::scenario::error::ScenarioError;

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

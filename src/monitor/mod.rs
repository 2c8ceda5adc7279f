//! Target monitor: the target's resources sampled every second beside the load, from a
//! Prometheus exporter (node_exporter, cAdvisor, the app's own `/metrics`) or from a local
//! process through `/proc`.
//!
//! A scrape that fails (refused, garbage, too slow) is an event, never an error: the
//! second's values are missing and the run goes on.

mod scrape;
mod selector;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use scrape::{parse_exposition, Counters};
pub use selector::Selector;

// The series are measurements: they live in `metrics` (which carries them in snapshots);
// the monitor only fills them.
pub use crate::metrics::{TargetSample, TargetSeries};

/// Series read from node_exporter when a Prometheus source names none.
pub const NODE_DEFAULTS: [&str; 4] = [
    "cpu_busy",
    "node_memory_MemAvailable_bytes",
    "node_network_receive_bytes_total",
    "node_network_transmit_bytes_total",
];

/// How long one scrape may take before the second counts as failed.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_millis(800);

/// Where the target's figures come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A Prometheus text-format endpoint.
    Prometheus(String),
    /// A local process by id.
    Pid(u32),
    /// A local process by name (`/proc/*/comm`).
    Process(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Prometheus(url) => f.write_str(url),
            Source::Pid(pid) => write!(f, "pid:{pid}"),
            Source::Process(name) => write!(f, "process:{name}"),
        }
    }
}

/// What to monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorSpec {
    pub source: Source,
    /// Prometheus series to read (empty: [`NODE_DEFAULTS`]); ignored for a process.
    pub series: Vec<Selector>,
}

impl MonitorSpec {
    /// The names of the series the result will carry, in order.
    pub fn names(&self) -> Vec<String> {
        match &self.source {
            Source::Prometheus(_) if self.series.is_empty() => {
                NODE_DEFAULTS.iter().map(|s| s.to_string()).collect()
            }
            Source::Prometheus(_) => self.series.iter().map(Selector::to_string).collect(),
            Source::Pid(_) | Source::Process(_) => vec!["cpu_pct".into(), "rss_bytes".into()],
        }
    }

    fn selectors(&self) -> Vec<Selector> {
        if self.series.is_empty() {
            NODE_DEFAULTS
                .iter()
                .filter_map(|s| Selector::parse(s).ok())
                .collect()
        } else {
            self.series.clone()
        }
    }
}

/// `--monitor URL|pid:N|process:NAME`.
pub fn parse_flag(text: &str) -> Result<Source, String> {
    let t = text.trim();
    if let Some(pid) = t.strip_prefix("pid:") {
        return pid
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|p| *p > 0)
            .map(Source::Pid)
            .ok_or_else(|| format!("'{text}': expected pid:N with N a process id"));
    }
    if let Some(name) = t.strip_prefix("process:") {
        if name.trim().is_empty() {
            return Err(format!("'{text}': expected process:NAME"));
        }
        return Ok(Source::Process(name.trim().to_string()));
    }
    match reqwest::Url::parse(t) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Ok(Source::Prometheus(t.to_string()))
        }
        _ => Err(format!(
            "'{text}': expected a metrics URL (http://127.0.0.1:9100/metrics), pid:N or process:NAME"
        )),
    }
}

/// Where the monitor puts what it reads, and how it reports failures.
pub trait Sink: Send + Sync + 'static {
    fn push(&self, sample: TargetSample);
    fn event(&self, detail: String);
    /// Seconds since the start of the run.
    fn started(&self) -> Instant;
}

/// Reads one source.
enum Reader {
    Prometheus {
        client: reqwest::Client,
        url: String,
        selectors: Vec<Selector>,
        counters: Counters,
    },
    Process {
        name: Option<String>,
        pid: Option<u32>,
        cpu: Option<(u64, Instant)>,
    },
}

impl Reader {
    fn new(spec: &MonitorSpec) -> Reader {
        match &spec.source {
            Source::Prometheus(url) => Reader::Prometheus {
                client: reqwest::Client::builder()
                    .timeout(SCRAPE_TIMEOUT)
                    .connect_timeout(SCRAPE_TIMEOUT)
                    .build()
                    .unwrap_or_default(),
                url: url.clone(),
                selectors: spec.selectors(),
                counters: Counters::default(),
            },
            Source::Pid(pid) => Reader::Process {
                name: None,
                pid: Some(*pid),
                cpu: None,
            },
            Source::Process(name) => Reader::Process {
                name: Some(name.clone()),
                pid: None,
                cpu: None,
            },
        }
    }

    async fn read(&mut self) -> Result<Vec<Option<f64>>, String> {
        match self {
            Reader::Prometheus {
                client,
                url,
                selectors,
                counters,
            } => {
                let text = tokio::time::timeout(SCRAPE_TIMEOUT, async {
                    let resp = client.get(url.as_str()).send().await?.error_for_status()?;
                    resp.text().await
                })
                .await
                .map_err(|_| {
                    format!(
                        "no answer within {}",
                        crate::units::duration(SCRAPE_TIMEOUT)
                    )
                })?
                .map_err(|e| scrape_error(&e))?;
                let samples = parse_exposition(&text)?;
                Ok(counters.values(selectors, &samples, Instant::now()))
            }
            Reader::Process { name, pid, cpu } => {
                if pid.is_none() {
                    *pid = name
                        .as_deref()
                        .and_then(crate::metrics::procstat::find_process);
                }
                let Some(p) = *pid else {
                    return Err(format!(
                        "no process named '{}'",
                        name.as_deref().unwrap_or_default()
                    ));
                };
                let Some((ticks, rss)) = crate::metrics::procstat::process_ticks_rss(p) else {
                    if name.is_some() {
                        *pid = None; // look it up again: it may have restarted
                    }
                    *cpu = None;
                    return Err(format!("process {p} is gone"));
                };
                let now = Instant::now();
                let pct = cpu.map(|(before, at)| {
                    let secs = now.duration_since(at).as_secs_f64().max(1e-3);
                    ticks.saturating_sub(before) as f64
                        / crate::metrics::procstat::ticks_per_s()
                        / secs
                        * 100.0
                });
                *cpu = Some((ticks, now));
                Ok(vec![pct, Some(rss as f64)])
            }
        }
    }
}

/// Says what went wrong without the URL's query or credentials.
fn scrape_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!(
            "no answer within {}",
            crate::units::duration(SCRAPE_TIMEOUT)
        )
    } else if e.is_connect() {
        "cannot connect".into()
    } else if let Some(status) = e.status() {
        format!("HTTP {status}")
    } else {
        "the scrape failed".into()
    }
}

/// Samples every second until aborted. A failure is an event when it starts and when it
/// ends, not every second.
pub async fn run(spec: MonitorSpec, sink: Arc<dyn Sink>) {
    let mut reader = Reader::new(&spec);
    let started = sink.started();
    let mut failing = false;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let width = spec.names().len();
    loop {
        tick.tick().await;
        let t = started.elapsed().as_secs();
        let values = match reader.read().await {
            Ok(v) => {
                if failing {
                    failing = false;
                    sink.event(format!("monitor {}: scraping again", spec.source));
                }
                v
            }
            Err(why) => {
                if !failing {
                    failing = true;
                    sink.event(format!("monitor {}: {why}", spec.source));
                }
                vec![None; width]
            }
        };
        sink.push(TargetSample { t, values });
    }
}

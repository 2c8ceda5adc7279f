//! Finding the knee of a staged or breakpoint run: the highest load where throughput still
//! grows with load and the thresholds hold. `volley plan` builds its capacity table on it;
//! the HTML report of a staged run draws it on a throughput-vs-latency chart.
//!
//! The per-second timeline is read in time order up to the first second at the run's peak
//! load. A second is *past the knee* when one of these holds, and the knee is the last
//! second before the first run of [`STREAK`] such seconds in a row (one bad second is noise):
//!
//! - **error onset**: the second's error rate is above the run's `error_rate` threshold, or
//!   above [`DEFAULT_ERROR_RATE`] when it has none;
//! - **latency inflection**: the second's p95 (or another percentile a threshold is on) breaks
//!   its threshold, or the p95 has risen above [`LATENCY_RISE`] times the baseline (the median
//!   p95 of the first seconds) and at least [`LATENCY_FLOOR_MS`] above it;
//! - **throughput plateau**: the load has grown by at least 10% since the first second that
//!   reached (within 2%) the best throughput so far.
//!
//! Load is the number of VUs in the closed model and the requests sent per second in the
//! open one (where VUs only follow the server's latency); throughput is successful responses
//! per second.

use serde::Serialize;

use super::{ResultDoc, Row};
use crate::thresholds::{self, Metric};
use crate::units;

/// Seconds in a row that must be past the knee before the knee is called.
pub const STREAK: usize = 3;
/// The error rate that counts as error onset when the run has no `error_rate` threshold.
pub const DEFAULT_ERROR_RATE: f64 = 0.01;
/// How many times the baseline p95 counts as a latency inflection.
pub const LATENCY_RISE: f64 = 3.0;
/// ...and by at least this much (ms), so a 1 ms baseline does not call 3 ms a knee.
pub const LATENCY_FLOOR_MS: f64 = 10.0;
/// Load growth without more throughput that makes a plateau.
const PLATEAU_LOAD_GROWTH: f64 = 0.10;

/// How the knee was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    LatencyInflection,
    ErrorOnset,
    ThroughputPlateau,
    /// Nothing broke: the knee is at least the run's peak.
    NotReached,
}

impl Method {
    pub fn label(self) -> &'static str {
        match self {
            Method::LatencyInflection => "latency inflection",
            Method::ErrorOnset => "error onset",
            Method::ThroughputPlateau => "throughput plateau",
            Method::NotReached => "not reached: the run's peak",
        }
    }
}

/// One second of the timeline as the knee search sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Point {
    t: u64,
    load: f64,
    throughput: f64,
    error_rate: f64,
    row_index: usize,
}

/// The knee of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Knee {
    /// Successful responses per second at the knee.
    pub rps: f64,
    /// VUs running at the knee.
    pub vus: u32,
    /// The load at the knee: VUs (closed model) or requests sent per second (open model).
    pub load: f64,
    /// Whether `load` is a rate (open model) rather than VUs.
    pub open_model: bool,
    /// Seconds since the start of the run.
    pub t: u64,
    pub method: Method,
    /// What gave the knee away, e.g. `p95 41.2ms against a 2.10ms baseline from 14s`.
    pub detail: String,
    /// The run's highest throughput (successful responses per second in one second).
    pub peak_rps: f64,
}

impl Knee {
    /// `knee: 412 rps at 38 VUs (latency inflection)`.
    pub fn line(&self) -> String {
        format!(
            "knee: {} rps at {} ({})",
            units::rate(self.rps),
            units::vus(u64::from(self.vus)),
            self.method.label()
        )
    }

    /// Where the knee was: `at 12s, 412/s sent; p95 41.2ms against ...`.
    pub fn where_line(&self) -> String {
        let load = if self.open_model {
            format!("{} sent", units::per_s(self.load))
        } else {
            units::vus(self.load.round() as u64)
        };
        format!("at {}s, {load}; {}", self.t, self.detail)
    }
}

/// The limits a second is held to.
#[derive(Debug, Clone, PartialEq)]
struct Limits {
    error_rate: f64,
    /// `(metric, limit in ms)` from latency thresholds on all requests.
    latency: Vec<(Metric, f64)>,
    baseline_p95: f64,
}

/// Finds the knee of `doc`'s timeline; `None` when it has fewer than [`STREAK`] + 1
/// seconds with traffic.
pub fn find(doc: &ResultDoc) -> Option<Knee> {
    let open_model = doc.dropped_iterations.is_some();
    let rows: Vec<&Row> = doc.timeline.iter().filter(|r| r.requests > 0).collect();
    let points: Vec<Point> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let dt = r.dt.max(1) as f64;
            Point {
                t: r.t,
                load: if open_model {
                    r.requests as f64 / dt
                } else {
                    f64::from(r.vus)
                },
                throughput: r.ok as f64 / dt,
                error_rate: r.errors as f64 / r.requests as f64,
                row_index: i,
            }
        })
        .collect();
    if points.len() <= STREAK {
        return None;
    }
    // The ramp up: up to the first second at peak load (a ramp down says nothing new).
    let peak_load = points.iter().map(|p| p.load).fold(0.0, f64::max);
    let ramp_end = points
        .iter()
        .position(|p| p.load >= peak_load * 0.98)
        .unwrap_or(points.len() - 1);
    let ramp = &points[..=ramp_end];
    let limits = limits(doc, &rows);
    let peak_rps = points.iter().map(|p| p.throughput).fold(0.0, f64::max);

    let verdicts: Vec<Option<(Method, String)>> = ramp
        .iter()
        .enumerate()
        .map(|(i, p)| judge(i, ramp, rows[p.row_index], &limits))
        .collect();
    let start = (0..verdicts.len()).find(|&i| {
        i + STREAK <= verdicts.len() && verdicts[i..i + STREAK].iter().all(Option::is_some)
    });
    let (knee_at, method, detail) = match start {
        Some(0) => {
            let (m, d) = verdicts[0]
                .clone()
                .unwrap_or((Method::NotReached, String::new()));
            (0, m, format!("{d}: past the knee from the first second"))
        }
        Some(i) => {
            let (m, d) = verdicts[i]
                .clone()
                .unwrap_or((Method::NotReached, String::new()));
            (i - 1, m, d)
        }
        None => {
            let best = ramp
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.throughput.total_cmp(&b.1.throughput))
                .map_or(0, |(i, _)| i);
            (
                best,
                Method::NotReached,
                "throughput still grew and the thresholds held at the run's peak load: the knee is higher".into(),
            )
        }
    };
    // The plateau's start: the first second before the knee within 2% of its best
    // throughput (a flat top is one knee, found where it begins).
    let best = ramp[..=knee_at]
        .iter()
        .map(|p| p.throughput)
        .fold(0.0, f64::max);
    let p = ramp[..=knee_at]
        .iter()
        .copied()
        .find(|p| p.throughput >= best * 0.98)
        .unwrap_or(ramp[knee_at]);
    Some(Knee {
        rps: p.throughput,
        vus: rows[p.row_index].vus,
        load: p.load,
        open_model,
        t: p.t,
        method,
        detail,
        peak_rps,
    })
}

fn limits(doc: &ResultDoc, rows: &[&Row]) -> Limits {
    let mut error_rate = DEFAULT_ERROR_RATE;
    let mut latency = Vec::new();
    for t in doc.thresholds.iter().filter(|t| t.endpoint.is_none()) {
        let Ok(parsed) = thresholds::parse(&t.expression) else {
            continue;
        };
        if parsed.timing.is_some() {
            // A phase's limit is not a limit on the whole latency.
            continue;
        }
        match parsed.metric {
            Metric::ErrorRate => error_rate = parsed.value,
            Metric::P50 | Metric::P90 | Metric::P95 | Metric::P99 | Metric::Max => {
                latency.push((parsed.metric, parsed.value));
            }
            _ => {}
        }
    }
    // Baseline: the median p95 of the first fifth of the seconds (at least three).
    let n = (rows.len() / 5).max(STREAK).min(rows.len());
    let mut first: Vec<f64> = rows[..n].iter().map(|r| r.p95_ms).collect();
    first.sort_by(f64::total_cmp);
    let baseline_p95 = first.get(first.len() / 2).copied().unwrap_or(0.0);
    Limits {
        error_rate,
        latency,
        baseline_p95,
    }
}

fn row_latency(row: &Row, metric: Metric) -> f64 {
    match metric {
        Metric::P50 => row.p50_ms,
        Metric::P90 => row.p90_ms,
        Metric::P99 => row.p99_ms,
        Metric::Max => row.max_ms,
        _ => row.p95_ms,
    }
}

/// Why second `i` of the ramp is past the knee, if it is.
fn judge(i: usize, ramp: &[Point], row: &Row, limits: &Limits) -> Option<(Method, String)> {
    let p = ramp[i];
    if p.error_rate > limits.error_rate {
        return Some((
            Method::ErrorOnset,
            format!(
                "error rate {} above {} from {}s",
                units::percent(p.error_rate),
                units::percent_short(limits.error_rate),
                p.t
            ),
        ));
    }
    for &(metric, limit) in &limits.latency {
        let v = row_latency(row, metric);
        if v >= limit {
            return Some((
                Method::LatencyInflection,
                format!(
                    "{metric} {} breaks its {} threshold from {}s",
                    units::ms(v),
                    units::ms(limit),
                    p.t
                ),
            ));
        }
    }
    let base = limits.baseline_p95;
    if row.p95_ms > base * LATENCY_RISE && row.p95_ms > base + LATENCY_FLOOR_MS {
        return Some((
            Method::LatencyInflection,
            format!(
                "p95 {} (baseline {}) from {}s",
                units::ms(row.p95_ms),
                units::ms(base),
                p.t
            ),
        ));
    }
    // The first second that reached (within 2%) the best throughput so far.
    let best = ramp[..=i].iter().map(|q| q.throughput).fold(0.0, f64::max);
    if let Some(since) = ramp[..=i].iter().find(|q| q.throughput >= best * 0.98) {
        if since.load > 0.0 {
            let load_growth = p.load / since.load - 1.0;
            if load_growth >= PLATEAU_LOAD_GROWTH {
                return Some((
                    Method::ThroughputPlateau,
                    format!(
                        "throughput flat at {} rps since {}s while the load grew {}",
                        units::rate(best),
                        since.t,
                        units::change(load_growth),
                    ),
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{parse_doc, ThresholdResult};

    /// A result document with `rows` as its timeline: `(vus, sent, ok, p95_ms)` a second.
    fn doc(open: bool, rows: &[(u32, u64, u64, f64)]) -> ResultDoc {
        let mut d = parse_doc(include_str!("../../tests/fixtures/results/current.json"))
            .expect("fixture parses");
        let template = d.timeline[0].clone();
        d.timeline = rows
            .iter()
            .enumerate()
            .map(|(i, &(vus, sent, ok, p95))| Row {
                t: i as u64,
                dt: 1,
                requests: sent,
                ok,
                errors: sent - ok,
                rps: sent as f64,
                p50_ms: p95 / 2.0,
                p90_ms: p95 * 0.9,
                p95_ms: p95,
                p99_ms: p95 * 1.2,
                max_ms: p95 * 1.5,
                vus,
                hdr: None,
                ..template.clone()
            })
            .collect();
        d.dropped_iterations = open.then_some(0);
        d.thresholds.clear();
        d
    }

    #[test]
    fn closed_model_plateau_is_found_where_it_begins() {
        // 10 rps per VU up to 30 VUs, then 300 rps whatever the VUs (Little: latency grows).
        let rows: Vec<(u32, u64, u64, f64)> = (1..=45)
            .map(|vus| {
                let tput = (10 * vus).min(300) as u64;
                (vus, tput, tput, 1000.0 * f64::from(vus) / tput as f64)
            })
            .collect();
        let knee = find(&doc(false, &rows)).expect("a knee");
        assert_eq!((knee.rps, knee.vus), (300.0, 30), "{knee:?}");
        assert_eq!(knee.method, Method::ThroughputPlateau);
        assert!(!knee.open_model);
        assert_eq!(knee.peak_rps, 300.0);
    }

    #[test]
    fn open_model_error_onset() {
        // Offered 100..700/s; 400 served, the rest refused at once (latency flat).
        let rows: Vec<(u32, u64, u64, f64)> = (0..=20)
            .map(|i| {
                let sent = 100 + 30 * i;
                (5, sent, sent.min(400), 5.0)
            })
            .collect();
        let knee = find(&doc(true, &rows)).expect("a knee");
        assert_eq!(knee.method, Method::ErrorOnset, "{knee:?}");
        assert_eq!(knee.rps, 400.0);
        assert!(knee.open_model);
        assert!(knee.detail.contains("error rate"), "{}", knee.detail);
    }

    #[test]
    fn latency_inflection_against_the_baseline_and_against_a_threshold() {
        // Throughput keeps up but p95 goes from 4 ms to 40 ms past 400/s.
        let rows: Vec<(u32, u64, u64, f64)> = (0..=20)
            .map(|i| {
                let sent = 100 + 30 * i;
                (5, sent, sent, if sent > 400 { 40.0 } else { 4.0 })
            })
            .collect();
        let knee = find(&doc(true, &rows)).expect("a knee");
        assert_eq!(knee.method, Method::LatencyInflection, "{knee:?}");
        assert_eq!(knee.rps, 400.0);
        assert!(knee.detail.contains("baseline"), "{}", knee.detail);

        // A p95 threshold of 3 ms is broken from the start: the knee is the first second.
        let mut d = doc(true, &rows);
        d.thresholds.push(ThresholdResult {
            name: "p95 < 3ms".into(),
            metric: "p95".into(),
            endpoint: None,
            expression: "p95 < 3ms".into(),
            value: 40.0,
            passed: false,
        });
        let knee = find(&d).expect("a knee");
        assert_eq!((knee.method, knee.t), (Method::LatencyInflection, 0));
        assert!(knee.detail.contains("threshold"), "{}", knee.detail);
    }

    #[test]
    fn one_bad_second_is_noise_and_no_knee_means_not_reached() {
        let rows: Vec<(u32, u64, u64, f64)> = (1..=20)
            .map(|vus| {
                let tput = 10 * u64::from(vus);
                (vus, tput, tput, if vus == 8 { 500.0 } else { 100.0 })
            })
            .collect();
        let knee = find(&doc(false, &rows)).expect("a knee");
        assert_eq!(knee.method, Method::NotReached, "{knee:?}");
        assert_eq!((knee.rps, knee.vus), (200.0, 20));
    }

    #[test]
    fn too_short_a_timeline_has_no_knee() {
        assert_eq!(find(&doc(false, &[(1, 10, 10, 1.0); STREAK])), None);
    }
}

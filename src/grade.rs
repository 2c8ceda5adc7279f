//! A run's score (0-100) and letter grade.
//!
//! # Formula
//!
//! The score is the sum of four components:
//!
//! | component | points | full marks when | otherwise |
//! | --- | --- | --- | --- |
//! | latency | 40 | `p95 <= target_p95` | `40 * target_p95 / p95` |
//! | errors | 30 | `error_rate <= target_error_rate` | `30 * target_error_rate / error_rate` |
//! | throughput | 20 | no throughput target, or `rps >= target_rps` | `20 * rps / target_rps` |
//! | consistency | 10 | `p99 / p95 < 2`, or `p95 == 0` | `10 * 2 / (p99 / p95)` |
//!
//! Without a single successful response ([`grade_run`] with `ok == 0`: every request
//! refused, reset, timed out or answered with an error status) there is no latency,
//! throughput or consistency to score: those three components are 0 whatever the
//! targets, and only the errors component counts.
//!
//! With an error-rate target of 0, the errors component is 30 when there are no errors
//! and 0 otherwise. A component whose input is NaN scores 0; each component is kept
//! within `0..=max`. The score is rounded to one decimal (`(sum * 10).round() / 10`), and
//! the letter is read from the rounded score: A >= 90, B >= 80, C >= 70, D >= 60, else F.
//! The components are reported unrounded.
//!
//! # Targets
//!
//! Defaults: p95 500 ms, error rate 1%, no throughput target. Thresholds override them
//! ([`targets_from`]): the tightest `p95 <` / `p95 <=` sets the p95 target, the tightest
//! `error_rate <` / `error_rate <=` sets the error-rate target, the highest `rps >` /
//! `rps >=` sets the throughput target. Only thresholds on the whole run (no window) and
//! on all endpoints count; the caller passes only those.

use serde::{Deserialize, Serialize};

use crate::thresholds::{Metric, Op, Threshold};

/// Points for each component; they add up to 100.
pub const LATENCY_POINTS: f64 = 40.0;
pub const ERROR_POINTS: f64 = 30.0;
pub const THROUGHPUT_POINTS: f64 = 20.0;
pub const CONSISTENCY_POINTS: f64 = 10.0;

/// p99 / p95 below this ratio earns full consistency points.
pub const CONSISTENCY_RATIO: f64 = 2.0;

/// What a run is graded against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Targets {
    /// p95 latency target in milliseconds.
    pub p95_ms: f64,
    /// Error-rate target as a fraction (0.01 = 1%).
    pub error_rate: f64,
    /// Throughput target in requests per second; `None`: throughput gets full points.
    pub rps: Option<f64>,
}

impl Default for Targets {
    /// p95 500 ms, error rate 1%, no throughput target.
    fn default() -> Self {
        Targets {
            p95_ms: 500.0,
            error_rate: 0.01,
            rps: None,
        }
    }
}

/// The targets a grade was computed against, as serialized in results.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GradeTargets {
    pub p95_ms: f64,
    pub error_rate: f64,
    pub rps: Option<f64>,
}

impl From<&Targets> for GradeTargets {
    fn from(t: &Targets) -> Self {
        GradeTargets {
            p95_ms: t.p95_ms,
            error_rate: t.error_rate,
            rps: t.rps,
        }
    }
}

impl From<&GradeTargets> for Targets {
    fn from(t: &GradeTargets) -> Self {
        Targets {
            p95_ms: t.p95_ms,
            error_rate: t.error_rate,
            rps: t.rps,
        }
    }
}

/// A run's grade: the score (rounded to 0.1), its letter, the four components
/// (unrounded) and the targets used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grade {
    pub score: f64,
    pub letter: String,
    pub latency: f64,
    pub errors: f64,
    pub throughput: f64,
    pub consistency: f64,
    pub targets: GradeTargets,
}

/// The targets set by thresholds, on top of the defaults. Thresholds with a window are
/// ignored; the caller passes only whole-run thresholds on all endpoints.
pub fn targets_from(thresholds: &[Threshold]) -> Targets {
    let mut targets = Targets::default();
    let mut p95: Option<f64> = None;
    let mut error_rate: Option<f64> = None;
    let mut rps: Option<f64> = None;
    for t in thresholds.iter().filter(|t| t.window.is_none()) {
        match (t.metric, t.op) {
            (Metric::P95, Op::Lt | Op::Le) => p95 = Some(p95.map_or(t.value, |v| v.min(t.value))),
            (Metric::ErrorRate, Op::Lt | Op::Le) => {
                error_rate = Some(error_rate.map_or(t.value, |v| v.min(t.value)))
            }
            (Metric::Rps, Op::Gt | Op::Ge) => rps = Some(rps.map_or(t.value, |v| v.max(t.value))),
            _ => {}
        }
    }
    if let Some(v) = p95 {
        targets.p95_ms = v;
    }
    if let Some(v) = error_rate {
        targets.error_rate = v;
    }
    if rps.is_some() {
        targets.rps = rps;
    }
    targets
}

/// Grades a run. `p95_ms` and `p99_ms` in milliseconds, `error_rate` as a fraction,
/// `rps` in requests per second. See the module documentation for the formula.
pub fn grade(p95_ms: f64, p99_ms: f64, error_rate: f64, rps: f64, targets: &Targets) -> Grade {
    let latency = latency_points(p95_ms, targets.p95_ms);
    let errors = error_points(error_rate, targets.error_rate);
    let throughput = throughput_points(rps, targets.rps);
    let consistency = consistency_points(p95_ms, p99_ms);
    let score = round1(latency + errors + throughput + consistency);
    Grade {
        score,
        letter: letter(score).to_string(),
        latency,
        errors,
        throughput,
        consistency,
        targets: GradeTargets::from(targets),
    }
}

/// Grades a run that got `ok` successful responses: [`grade`], except that with none,
/// latency, throughput and consistency score 0 (nothing answered, so nothing was fast,
/// steady or served), and the score is the errors component alone.
pub fn grade_run(
    ok: u64,
    p95_ms: f64,
    p99_ms: f64,
    error_rate: f64,
    rps: f64,
    targets: &Targets,
) -> Grade {
    let mut g = grade(p95_ms, p99_ms, error_rate, rps, targets);
    if ok == 0 {
        g.latency = 0.0;
        g.throughput = 0.0;
        g.consistency = 0.0;
        g.score = round1(g.errors);
        g.letter = letter(g.score).to_string();
    }
    g
}

/// The letter for a score: A >= 90, B >= 80, C >= 70, D >= 60, else F.
pub fn letter(score: f64) -> &'static str {
    if score >= 90.0 {
        "A"
    } else if score >= 80.0 {
        "B"
    } else if score >= 70.0 {
        "C"
    } else if score >= 60.0 {
        "D"
    } else {
        "F"
    }
}

/// 40 when `p95 <= target`, otherwise `40 * target / p95`.
pub fn latency_points(p95_ms: f64, target_ms: f64) -> f64 {
    if p95_ms <= target_ms {
        LATENCY_POINTS
    } else {
        clamp(LATENCY_POINTS * target_ms / p95_ms, LATENCY_POINTS)
    }
}

/// 30 when `error_rate <= target`, otherwise `30 * target / error_rate` (so 0 for any
/// error when the target is 0).
pub fn error_points(error_rate: f64, target: f64) -> f64 {
    if error_rate <= target {
        ERROR_POINTS
    } else {
        clamp(ERROR_POINTS * target / error_rate, ERROR_POINTS)
    }
}

/// 20 without a target or when `rps >= target`, otherwise `20 * rps / target`.
pub fn throughput_points(rps: f64, target: Option<f64>) -> f64 {
    match target {
        None => THROUGHPUT_POINTS,
        Some(t) if rps >= t => THROUGHPUT_POINTS,
        Some(t) => clamp(THROUGHPUT_POINTS * rps / t, THROUGHPUT_POINTS),
    }
}

/// 10 when `p99 / p95 < 2` (or `p95 == 0`), otherwise `10 * 2 / (p99 / p95)`.
pub fn consistency_points(p95_ms: f64, p99_ms: f64) -> f64 {
    if p95_ms == 0.0 {
        return CONSISTENCY_POINTS;
    }
    let ratio = p99_ms / p95_ms;
    if ratio < CONSISTENCY_RATIO {
        CONSISTENCY_POINTS
    } else {
        clamp(
            CONSISTENCY_POINTS * CONSISTENCY_RATIO / ratio,
            CONSISTENCY_POINTS,
        )
    }
}

/// Keeps a component within `0..=max`; NaN becomes 0.
fn clamp(points: f64, max: f64) -> f64 {
    if points.is_nan() {
        0.0
    } else {
        points.clamp(0.0, max)
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thresholds::parse;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn default_targets() {
        let t = Targets::default();
        assert_eq!(t.p95_ms, 500.0);
        assert_eq!(t.error_rate, 0.01);
        assert_eq!(t.rps, None);
    }

    #[test]
    fn perfect_run_scores_100() {
        let g = grade(100.0, 150.0, 0.0, 1000.0, &Targets::default());
        assert_eq!(g.score, 100.0);
        assert_eq!(g.letter, "A");
        assert_eq!(
            (g.latency, g.errors, g.throughput, g.consistency),
            (40.0, 30.0, 20.0, 10.0)
        );
        assert_eq!(g.targets, GradeTargets::from(&Targets::default()));
    }

    #[test]
    fn latency_component() {
        assert_eq!(latency_points(500.0, 500.0), 40.0);
        assert_eq!(latency_points(0.0, 500.0), 40.0);
        assert_eq!(latency_points(1000.0, 500.0), 20.0);
        assert_eq!(latency_points(2000.0, 500.0), 10.0);
        assert!(close(latency_points(600.0, 500.0), 40.0 * 500.0 / 600.0));
        assert_eq!(latency_points(f64::INFINITY, 500.0), 0.0);
        assert_eq!(latency_points(f64::NAN, 500.0), 0.0);
        assert_eq!(latency_points(10.0, 0.0), 0.0);
    }

    #[test]
    fn error_component() {
        assert_eq!(error_points(0.0, 0.01), 30.0);
        assert_eq!(error_points(0.01, 0.01), 30.0);
        assert_eq!(error_points(0.02, 0.01), 15.0);
        assert!(close(error_points(0.03, 0.01), 10.0));
        assert!(close(error_points(1.0, 0.01), 0.3));
        // A target of zero: full only without errors.
        assert_eq!(error_points(0.0, 0.0), 30.0);
        assert_eq!(error_points(0.0001, 0.0), 0.0);
        assert_eq!(error_points(f64::NAN, 0.01), 0.0);
    }

    #[test]
    fn throughput_component() {
        assert_eq!(throughput_points(0.0, None), 20.0);
        assert_eq!(throughput_points(100.0, Some(100.0)), 20.0);
        assert_eq!(throughput_points(150.0, Some(100.0)), 20.0);
        assert_eq!(throughput_points(50.0, Some(100.0)), 10.0);
        assert_eq!(throughput_points(0.0, Some(100.0)), 0.0);
        assert_eq!(throughput_points(5.0, Some(0.0)), 20.0);
        assert_eq!(throughput_points(f64::NAN, Some(100.0)), 0.0);
    }

    #[test]
    fn consistency_component() {
        assert_eq!(consistency_points(100.0, 100.0), 10.0);
        assert_eq!(consistency_points(100.0, 199.9), 10.0);
        assert_eq!(consistency_points(100.0, 200.0), 10.0);
        assert_eq!(consistency_points(100.0, 400.0), 5.0);
        assert_eq!(consistency_points(100.0, 1000.0), 2.0);
        assert_eq!(consistency_points(0.0, 0.0), 10.0);
        assert_eq!(consistency_points(0.0, 50.0), 10.0);
        assert_eq!(consistency_points(f64::NAN, 50.0), 0.0);
    }

    #[test]
    fn score_sums_components_and_rounds_to_a_tenth() {
        // latency 40*500/600 = 33.333.., errors 30*0.01/0.03 = 10, throughput 20,
        // consistency 10*2/3 = 6.666..: 70.0 exactly once rounded.
        let g = grade(600.0, 1800.0, 0.03, 10.0, &Targets::default());
        assert!(close(g.latency, 100.0 / 3.0));
        assert!(close(g.errors, 10.0));
        assert_eq!(g.throughput, 20.0);
        assert!(close(g.consistency, 20.0 / 3.0));
        assert_eq!(g.score, 70.0);
        assert_eq!(g.letter, "C");

        let g = grade(700.0, 700.0, 0.0, 10.0, &Targets::default());
        // 40*500/700 = 28.571.. + 60 = 88.571.. -> 88.6
        assert_eq!(g.score, 88.6);
        assert_eq!(g.letter, "B");
    }

    #[test]
    fn no_successful_response_scores_no_latency_throughput_or_consistency() {
        // Every request refused: no latency recorded, rps 0, error rate 100%. Without a
        // throughput target, throughput used to get full points ("no target").
        let g = grade_run(0, 0.0, 0.0, 1.0, 0.0, &Targets::default());
        assert_eq!((g.latency, g.throughput, g.consistency), (0.0, 0.0, 0.0));
        assert!(close(g.errors, 0.3));
        assert_eq!((g.score, g.letter.as_str()), (0.3, "F"));
        // Timeouts record a latency; still nothing answered.
        let g = grade_run(0, 100.0, 100.0, 1.0, 0.0, &Targets::default());
        assert_eq!(g.score, 0.3);
        // One success is enough for the ordinary formula.
        let g = grade_run(1, 100.0, 150.0, 0.0, 1.0, &Targets::default());
        assert_eq!(g, grade(100.0, 150.0, 0.0, 1.0, &Targets::default()));
        assert_eq!(g.score, 100.0);
    }

    #[test]
    fn letter_boundaries() {
        for (score, want) in [
            (100.0, "A"),
            (90.0, "A"),
            (89.9, "B"),
            (80.0, "B"),
            (79.9, "C"),
            (70.0, "C"),
            (69.9, "D"),
            (60.0, "D"),
            (59.9, "F"),
            (0.0, "F"),
        ] {
            assert_eq!(letter(score), want, "{score}");
        }
    }

    #[test]
    fn letter_follows_the_rounded_score() {
        // Latency: 40 * 500 / p95 chosen so the sum is 89.96 before rounding.
        let latency = 29.96;
        let p95 = 40.0 * 500.0 / latency;
        let g = grade(p95, p95, 0.0, 0.0, &Targets::default());
        assert!(close(g.latency, latency));
        assert_eq!(g.score, 90.0);
        assert_eq!(g.letter, "A");
        // 89.94 rounds down to 89.9: B.
        let latency = 29.94;
        let p95 = 40.0 * 500.0 / latency;
        let g = grade(p95, p95, 0.0, 0.0, &Targets::default());
        assert_eq!(g.score, 89.9);
        assert_eq!(g.letter, "B");
    }

    #[test]
    fn grades_at_each_letter_boundary() {
        let t = Targets::default();
        // Only the errors component varies: score = 70 + 30 * 0.01 / e.
        for (error_rate, score, want) in [(0.01, 100.0, "A"), (0.015, 90.0, "A"), (0.03, 80.0, "B")]
        {
            let g = grade(100.0, 100.0, error_rate, 0.0, &t);
            assert_eq!((g.score, g.letter.as_str()), (score, want), "{error_rate}");
        }
        // Errors at 0 points: score = 40 * 500 / p95 + 30.
        for (p95, score, want) in [
            (500.0, 70.0, "C"),
            (1000.0, 50.0, "F"),
            (40.0 * 500.0 / 30.0, 60.0, "D"),
        ] {
            let g = grade(
                p95,
                p95,
                1.0,
                0.0,
                &Targets {
                    error_rate: 0.0,
                    ..t
                },
            );
            assert_eq!((g.score, g.letter.as_str()), (score, want), "{p95}");
        }
    }

    #[test]
    fn throughput_target_counts_when_set() {
        let t = Targets {
            rps: Some(200.0),
            ..Targets::default()
        };
        let g = grade(100.0, 100.0, 0.0, 50.0, &t);
        assert_eq!(g.throughput, 5.0);
        assert_eq!(g.score, 85.0);
        assert_eq!(g.letter, "B");
        assert_eq!(g.targets.rps, Some(200.0));
    }

    #[test]
    fn worst_case_is_f() {
        let t = Targets {
            rps: Some(100.0),
            ..Targets::default()
        };
        let g = grade(f64::INFINITY, f64::INFINITY, 1.0, 0.0, &t);
        assert_eq!(g.latency, 0.0);
        assert_eq!(g.throughput, 0.0);
        assert_eq!(g.letter, "F");
        assert!(g.score >= 0.0);
    }

    fn ts(texts: &[&str]) -> Vec<Threshold> {
        texts.iter().map(|t| parse(t).unwrap()).collect()
    }

    #[test]
    fn targets_from_defaults_without_thresholds() {
        assert_eq!(targets_from(&[]), Targets::default());
        let unrelated = ts(&["p99 < 1s", "max < 2s", "checks > 99%", "dropped == 0"]);
        assert_eq!(targets_from(&unrelated), Targets::default());
    }

    #[test]
    fn targets_from_thresholds() {
        let t = targets_from(&ts(&["p95 < 300ms", "error_rate < 0.5%", "rps > 100"]));
        assert_eq!(
            t,
            Targets {
                p95_ms: 300.0,
                error_rate: 0.005,
                rps: Some(100.0)
            }
        );
        // <= and >= count too.
        let t = targets_from(&ts(&["p95 <= 1s", "error_rate <= 2%", "rps >= 50"]));
        assert_eq!((t.p95_ms, t.error_rate, t.rps), (1000.0, 0.02, Some(50.0)));
        // A looser p95 than the default still replaces it.
        assert_eq!(targets_from(&ts(&["p95 < 2s"])).p95_ms, 2000.0);
        // error_rate < 0 is a zero target.
        assert_eq!(targets_from(&ts(&["error_rate <= 0"])).error_rate, 0.0);
    }

    #[test]
    fn targets_from_takes_the_tightest() {
        let t = targets_from(&ts(&[
            "p95 < 800ms",
            "p95 <= 200ms",
            "p95 < 400ms",
            "error_rate < 5%",
            "error_rate < 1%",
            "rps > 10",
            "rps >= 300",
            "rps > 50",
        ]));
        assert_eq!((t.p95_ms, t.error_rate, t.rps), (200.0, 0.01, Some(300.0)));
    }

    #[test]
    fn targets_from_ignores_windows_and_other_operators() {
        let t = targets_from(&ts(&[
            "p95 < 100ms over 30s",
            "error_rate < 0.1% over 1m",
            "rps > 1000 over 10s",
            "p95 > 1ms",
            "p95 == 5ms",
            "error_rate > 0%",
            "rps < 10000",
            "rps == 7",
        ]));
        assert_eq!(t, Targets::default());
    }

    #[test]
    fn grade_serializes() {
        let g = grade(600.0, 1800.0, 0.03, 10.0, &Targets::default());
        let json = serde_json::to_value(&g).unwrap();
        assert_eq!(json["score"], 70.0);
        assert_eq!(json["letter"], "C");
        assert_eq!(json["targets"]["p95_ms"], 500.0);
        assert_eq!(json["targets"]["error_rate"], 0.01);
        assert!(json["targets"]["rps"].is_null());
        let back: Grade = serde_json::from_value(json).unwrap();
        assert_eq!(back, g);
        assert_eq!(Targets::from(&back.targets), Targets::default());
    }
}

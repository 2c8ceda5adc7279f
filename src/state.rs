//! The typed control state of a run: where it is, what the load is doing (spike, stage,
//! rate) and what happened (events). Plain data, serialized with serde: the engine keeps
//! the live state (`engine::ControlState`), snapshots carry it, the console, the reports
//! and the control API read it typed; only views turn it into words.
//!
//! A leaf: it depends on [`crate::units`] alone, so `metrics` (the snapshot) and `engine`
//! can both use it.

use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::units;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    Paused,
    /// No new requests; in-flight ones are finishing.
    Stopping,
    Done,
}

impl RunState {
    pub fn label(self) -> &'static str {
        match self {
            RunState::Running => "RUNNING",
            RunState::Paused => "PAUSED",
            RunState::Stopping => "STOPPING",
            RunState::Done => "DONE",
        }
    }
}

/// Why requests still in flight at the end were cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbortCause {
    /// The user stopped again during the graceful stop (a second Ctrl-C or `q`).
    SecondStop,
    /// The graceful-stop period ran out.
    GracefulStopTimeout,
}

impl AbortCause {
    /// Why, for people: `cut off by a second stop (Ctrl-C)`.
    pub fn describe(self) -> &'static str {
        match self {
            AbortCause::SecondStop => "cut off when the run was stopped a second time",
            AbortCause::GracefulStopTimeout => "still in flight when the graceful stop ran out",
        }
    }
}

/// What an [`Event`] records. Serialized as its snake_case name (`set_vus`), the words
/// result documents have always used.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The run started (its initial load).
    Start,
    /// A stage began.
    Stage,
    Pause,
    Resume,
    /// A spike began.
    Spike,
    /// A spike ended (ran out or was ended early).
    SpikeEnd,
    /// The VUs were set by hand (closed model).
    SetVus,
    /// The arrival rate was set by hand (open model).
    SetRate,
    /// Stopped by the user or a signal.
    Stop,
    /// The plan ended (duration or iteration limit reached).
    End,
    /// Cut short: a threshold, a panic, or in-flight requests cut off.
    Abort,
    /// The run finished (the last event).
    Done,
    /// The target monitor failed to read its source.
    Monitor,
    /// A kind this version does not know, read from a saved result; kept as written.
    Other(String),
}

impl EventKind {
    /// Every kind the engine records.
    pub const ALL: [EventKind; 13] = [
        EventKind::Start,
        EventKind::Stage,
        EventKind::Pause,
        EventKind::Resume,
        EventKind::Spike,
        EventKind::SpikeEnd,
        EventKind::SetVus,
        EventKind::SetRate,
        EventKind::Stop,
        EventKind::End,
        EventKind::Abort,
        EventKind::Done,
        EventKind::Monitor,
    ];

    /// The name in result documents: `set_vus`, `spike_end`.
    pub fn as_str(&self) -> &str {
        match self {
            EventKind::Start => "start",
            EventKind::Stage => "stage",
            EventKind::Pause => "pause",
            EventKind::Resume => "resume",
            EventKind::Spike => "spike",
            EventKind::SpikeEnd => "spike_end",
            EventKind::SetVus => "set_vus",
            EventKind::SetRate => "set_rate",
            EventKind::Stop => "stop",
            EventKind::End => "end",
            EventKind::Abort => "abort",
            EventKind::Done => "done",
            EventKind::Monitor => "monitor",
            EventKind::Other(s) => s,
        }
    }

    /// The kind named `s` (an unknown name is [`EventKind::Other`]).
    pub fn parse(s: &str) -> EventKind {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .unwrap_or_else(|| EventKind::Other(s.to_string()))
    }

    /// True for events marked on charts: all but the run's start and its final `done`,
    /// which the chart's edges already show.
    pub fn is_marked(&self) -> bool {
        !matches!(self, EventKind::Start | EventKind::Done)
    }
}

impl From<&str> for EventKind {
    fn from(s: &str) -> Self {
        EventKind::parse(s)
    }
}

impl PartialEq<str> for EventKind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for EventKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so width and alignment (`{:<9}`) apply.
        f.pad(self.as_str())
    }
}

impl Serialize for EventKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(EventKind::parse(&String::deserialize(d)?))
    }
}

/// A control action or stage change, with when it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Seconds since the start of the run.
    pub t: f64,
    pub kind: EventKind,
    pub detail: String,
}

/// A temporary change of load that reverts by itself.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spike {
    pub change: SpikeChange,
    pub duration: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpikeChange {
    /// Multiply the current load by this factor.
    Times(f64),
    /// Add this many VUs to the current load.
    Plus(u32),
}

impl SpikeChange {
    /// The load during the spike, given the load before it.
    pub fn apply(self, base: u32) -> u32 {
        self.apply_f64(base as f64)
            .round()
            .clamp(0.0, u32::MAX as f64) as u32
    }

    /// The same for a rate.
    pub fn apply_f64(self, base: f64) -> f64 {
        match self {
            SpikeChange::Times(f) => base.max(1.0) * f,
            SpikeChange::Plus(n) => base + n as f64,
        }
    }
}

/// The change alone: `x5`, `+100`.
impl fmt::Display for SpikeChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpikeChange::Times(x) => write!(f, "x{x}"),
            SpikeChange::Plus(n) => write!(f, "+{n}"),
        }
    }
}

/// `x5 for 30s`.
impl fmt::Display for Spike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} for {}", self.change, units::duration(self.duration))
    }
}

/// A spike in progress, as a snapshot shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpikeView {
    pub spike: Spike,
    /// Time left (its clock stops while the run is paused).
    pub remaining: Duration,
    /// Load it returns to.
    pub base: u32,
}

/// One stage of the load plan, as the run follows it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StageView {
    /// From 0.
    pub index: usize,
    /// How many stages the plan has.
    pub of: usize,
    /// The load it starts from (VUs, or iterations/s in the open model).
    pub from: f64,
    /// The load it goes to.
    pub target: f64,
    pub duration: Duration,
    /// Open model: the loads are rates.
    pub open: bool,
}

impl StageView {
    /// What it does: `ramp 10 -> 50 VUs over 30s`, `hold 200/s for 1m`, `step to 5 VUs`.
    pub fn what(&self) -> String {
        let level = |x| units::level(x, self.open);
        if self.duration.is_zero() {
            format!("step to {}", level(self.target))
        } else if (self.target - self.from).abs() < 1e-9 {
            format!(
                "hold {} for {}",
                level(self.target),
                units::duration(self.duration)
            )
        } else {
            format!(
                "ramp {} -> {} over {}",
                units::level_bare(self.from, self.open),
                level(self.target),
                units::duration(self.duration)
            )
        }
    }

    /// Its place in the plan: `2/4`.
    pub fn place(&self) -> String {
        format!("{}/{}", self.index + 1, self.of)
    }
}

/// `stage 2/4: ramp 10 -> 50 VUs over 30s`.
impl fmt::Display for StageView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stage {}: {}", self.place(), self.what())
    }
}

/// Where a staged run is in its stages.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    /// In a stage, with the one that follows, if any.
    In {
        now: StageView,
        next: Option<StageView>,
    },
    /// Past the last stage: the load stays where it ended.
    Done,
}

/// `stage 2/4: ramp ...`, `stages done`.
impl fmt::Display for StageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StageStatus::In { now, .. } => now.fmt(f),
            StageStatus::Done => f.write_str("stages done"),
        }
    }
}

/// The control state at one moment: what the control API sends and the snapshot carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlSnapshot {
    pub state: RunState,
    /// Time spent running (pauses excluded): the clock the planned duration counts on.
    pub run_time: Duration,
    /// The planned run time, when the run has one.
    pub planned: Option<Duration>,
    /// The run's iteration limit (`-n`), when it has one.
    pub iteration_limit: Option<u64>,
    /// The spike in progress, if any.
    pub spike: Option<SpikeView>,
    /// Staged runs: the stage in progress.
    pub stage: Option<StageStatus>,
    /// Open model: the arrival rate now (iterations/s); None in the closed model.
    pub rate: Option<f64>,
    /// True when the run was cut short (stopped or interrupted before its plan ended).
    pub partial: bool,
    /// Why the run was aborted, when it was (a threshold, a panicking VU).
    pub abort: Option<String>,
    /// Why requests in flight at the end were cut off, when some were.
    pub aborted_by: Option<AbortCause>,
    /// Every control action and stage change so far.
    pub events: Vec<Event>,
}

/// What the aggregator reads of the live control state on every tick, and how it stops
/// the run (an `abort_on_fail` threshold). The engine's `ControlState` is the one source.
pub trait Control: Send + Sync {
    /// The state at `now`.
    fn snapshot(&self, now: Instant) -> ControlSnapshot;
    /// Ends the run now, for this reason.
    fn abort(&self, reason: String);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kinds_keep_their_snake_case_names() {
        let names: Vec<String> = EventKind::ALL
            .iter()
            .map(|k| serde_json::to_string(k).unwrap())
            .collect();
        assert_eq!(
            names.join(" "),
            r#""start" "stage" "pause" "resume" "spike" "spike_end" "set_vus" "set_rate" "stop" "end" "abort" "done" "monitor""#
        );
        for k in EventKind::ALL {
            let back: EventKind = serde_json::from_str(&format!("\"{}\"", k.as_str())).unwrap();
            assert_eq!(back, k);
        }
        let other: EventKind = serde_json::from_str(r#""warp""#).unwrap();
        assert_eq!(other, EventKind::Other("warp".into()));
        assert_eq!(serde_json::to_string(&other).unwrap(), r#""warp""#);
        assert_eq!(format!("[{:<9}]", EventKind::SetVus), "[set_vus  ]");
    }

    #[test]
    fn stage_and_spike_labels() {
        let stage = |from, target, secs| StageView {
            index: 1,
            of: 4,
            from,
            target,
            duration: Duration::from_secs(secs),
            open: false,
        };
        assert_eq!(
            stage(10.0, 50.0, 30).to_string(),
            "stage 2/4: ramp 10 -> 50 VUs over 30s"
        );
        assert_eq!(stage(50.0, 50.0, 60).what(), "hold 50 VUs for 1m");
        assert_eq!(stage(5.0, 8.0, 0).what(), "step to 8 VUs");
        assert_eq!(StageStatus::Done.to_string(), "stages done");
        let spike = Spike {
            change: SpikeChange::Times(5.0),
            duration: Duration::from_secs(30),
        };
        assert_eq!(spike.to_string(), "x5 for 30s");
        assert_eq!(spike.change.to_string(), "x5");
        assert_eq!(SpikeChange::Plus(100).to_string(), "+100");
    }
}

//! Console state and `update(Action) -> Commands`: the one place state changes.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use tui_input::{Input, InputRequest};

use super::action::Action;
use super::keymap::Keymap;
use super::theme::{Theme, BUILTIN};
use crate::engine::{Command, Spike, SpikeChange};
use crate::metrics::{EndpointStats, ErrorKind, RunState, Snapshot};
use crate::scenario::{parse_duration, MAX_VUS};
use crate::units::duration as format_duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Main,
    /// Detail of the selected endpoint.
    Detail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Vus,
    Spike,
}

/// The input line at the bottom of the screen.
#[derive(Debug, Clone)]
pub struct InputLine {
    pub kind: InputKind,
    pub input: Input,
    /// Why the last Enter was refused.
    pub error: Option<String>,
    /// The value is still the prefilled one: the first character typed replaces it
    /// (editing keys keep it and edit it instead).
    pub prefilled: bool,
    /// A change of more than [`CONFIRM_RATIO`] times the current load that waits for a
    /// second Enter.
    pub confirm: Option<Confirm>,
}

impl InputLine {
    fn new(kind: InputKind, value: String) -> InputLine {
        InputLine {
            kind,
            input: Input::default().with_value(value),
            error: None,
            prefilled: true,
            confirm: None,
        }
    }
}

/// A large change asked for once: Enter again on the same text applies it.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    /// The text the first Enter was pressed on.
    pub text: String,
    /// The new load as a multiple of the current one.
    pub ratio: f64,
}

/// A typed load above this multiple of the current one asks for a second Enter.
pub const CONFIRM_RATIO: f64 = 10.0;

/// Endpoint table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Scenario order.
    Plan,
    Requests,
    Errors,
    P95,
    P99,
}

impl SortKey {
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Plan => SortKey::Requests,
            SortKey::Requests => SortKey::Errors,
            SortKey::Errors => SortKey::P95,
            SortKey::P95 => SortKey::P99,
            SortKey::P99 => SortKey::Plan,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Plan => "scenario order",
            SortKey::Requests => "requests",
            SortKey::Errors => "errors",
            SortKey::P95 => "p95",
            SortKey::P99 => "p99",
        }
    }
}

/// How the console is leaving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quit {
    /// Still running.
    No,
    /// Stop sent; waiting for the drain.
    Draining,
    /// Leave now with what there is.
    Now,
    /// Leave; the run goes on without this console.
    Detach,
}

pub struct App {
    pub snap: Arc<Snapshot>,
    pub theme: Theme,
    pub keymap: Keymap,
    pub view: View,
    pub help: bool,
    /// The resources panel is shown beside the throughput chart.
    pub resources: bool,
    pub input: Option<InputLine>,
    /// Index into `snap.endpoints` of the selected row.
    pub selected: usize,
    pub sort: SortKey,
    /// What `s` starts.
    pub spike: Spike,
    pub step: u32,
    pub big_step: u32,
    /// VU target asked for but not yet visible in a snapshot.
    pub pending_target: Option<u32>,
    pub quit: Quit,
    /// A short message and when it was set.
    pub flash: Option<(String, Instant)>,
    /// Shown in the header when TLS verification is off.
    pub insecure: bool,
    /// A line about the environment (e.g. the fd limit was raised).
    pub notice: Option<String>,
    /// Where the requests go, shown in the header.
    pub target_url: Option<String>,
    /// `d` can leave the run going on: it runs in a run host, or elsewhere.
    pub detachable: bool,
    /// Whether recent requests got any response (the header's verdict).
    pub reach: Reach,
    /// (wall time, requests, requests not connected, requests without a response) of
    /// recent snapshots.
    reach_log: VecDeque<(Duration, u64, u64, u64)>,
}

/// How far back "every request failed without a response" looks.
pub const REACH_WINDOW: Duration = Duration::from_secs(3);

/// The header's verdict on the target, from the requests that ended in the last
/// [`REACH_WINDOW`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Some request got a response (an HTTP error status is a response).
    Answering,
    /// Every request failed to connect: refused, not found, no route, TLS handshake.
    Unreachable,
    /// Every request got no response, and some did connect: the target accepts
    /// connections but times out, resets or closes them, or answers with bytes that are
    /// not HTTP. "Unreachable" would send the operator to check the network.
    NotAnswering,
}

/// Requests that never had a connection to send on: refused, not found, no route, or a
/// failed TLS handshake.
fn not_connected(e: &EndpointStats) -> u64 {
    count_kinds(e, |k| {
        matches!(
            k,
            ErrorKind::ConnectRefused | ErrorKind::Connect | ErrorKind::Dns | ErrorKind::Tls
        )
    })
}

/// Requests that got no response at all: those [`not_connected`], and those that timed
/// out, were reset or closed, or got bytes that are not HTTP.
fn no_response(e: &EndpointStats) -> u64 {
    not_connected(e)
        + count_kinds(e, |k| {
            matches!(
                k,
                ErrorKind::Timeout
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionClosed
                    | ErrorKind::InvalidResponse
            )
        })
}

fn count_kinds(e: &EndpointStats, pick: impl Fn(ErrorKind) -> bool) -> u64 {
    e.errors_by_kind
        .iter()
        .filter(|(k, _)| ErrorKind::parse(k).is_some_and(&pick))
        .map(|(_, n)| n)
        .sum()
}

pub const DEFAULT_SPIKE: Spike = Spike {
    change: SpikeChange::Times(5.0),
    duration: Duration::from_secs(30),
};

impl App {
    pub fn new(snap: Arc<Snapshot>, theme: Theme, initial_vus: u32) -> App {
        let step = (initial_vus / 10).max(1);
        let mut app = App {
            snap: snap.clone(),
            theme,
            keymap: Keymap::default(),
            view: View::Main,
            help: false,
            resources: false,
            input: None,
            selected: 0,
            sort: SortKey::Plan,
            spike: DEFAULT_SPIKE,
            step,
            big_step: step * 10,
            pending_target: None,
            quit: Quit::No,
            flash: None,
            insecure: false,
            notice: None,
            target_url: None,
            detachable: false,
            reach: Reach::Answering,
            reach_log: VecDeque::new(),
        };
        app.watch_reach(&snap);
        app
    }

    /// The [`Reach`] verdict over the requests that ended in the last [`REACH_WINDOW`].
    /// A window in which no request ended keeps the last verdict.
    fn watch_reach(&mut self, snap: &Snapshot) {
        let now = snap.elapsed;
        let (c, n) = (not_connected(&snap.total), no_response(&snap.total));
        self.reach_log.push_back((now, snap.total.requests, c, n));
        while self.reach_log.len() > 1 && self.reach_log[1].0 + REACH_WINDOW <= now {
            self.reach_log.pop_front();
        }
        let (_, r0, c0, n0) = self.reach_log[0];
        let requests = snap.total.requests.saturating_sub(r0);
        if requests > 0 {
            self.reach = if c.saturating_sub(c0) == requests {
                Reach::Unreachable
            } else if n.saturating_sub(n0) == requests {
                Reach::NotAnswering
            } else {
                Reach::Answering
            };
        }
    }

    /// Takes a new snapshot; forgets a pending target it now shows.
    pub fn set_snapshot(&mut self, snap: Arc<Snapshot>) {
        let shown = match snap.rate {
            Some(r) => r.round() as u32,
            None => snap.vus_target,
        };
        if self.pending_target == Some(shown) || self.snap.spike != snap.spike {
            self.pending_target = None;
        }
        self.watch_reach(&snap);
        self.snap = snap;
        if self.selected >= self.snap.endpoints.len() {
            self.selected = self.snap.endpoints.len().saturating_sub(1);
        }
    }

    /// True in the open model: the load keys act on the arrival rate.
    pub fn open(&self) -> bool {
        self.snap.rate.is_some()
    }

    /// The load target (VUs, or iterations/s in the open model) as last set.
    pub fn target(&self) -> u32 {
        self.pending_target.unwrap_or(match self.snap.rate {
            Some(r) => r.round() as u32,
            None => self.snap.vus_target,
        })
    }

    /// Running or paused: the load can still be changed.
    pub(crate) fn running(&self) -> bool {
        matches!(self.snap.state, RunState::Running | RunState::Paused)
    }

    fn flash(&mut self, msg: impl Into<String>) {
        self.flash = Some((msg.into(), Instant::now()));
    }

    /// Endpoint indices in display order.
    pub fn order(&self) -> Vec<usize> {
        let eps = &self.snap.endpoints;
        let mut idx: Vec<usize> = (0..eps.len()).collect();
        let key = |i: &usize| -> u64 {
            let e = &eps[*i];
            match self.sort {
                SortKey::Plan => 0,
                SortKey::Requests => e.requests,
                SortKey::Errors => e.errors,
                SortKey::P95 => e.quantile_us(0.95),
                SortKey::P99 => e.quantile_us(0.99),
            }
        };
        if self.sort != SortKey::Plan {
            idx.sort_by_key(|i| std::cmp::Reverse(key(i)));
        }
        idx
    }

    fn set_vus(&mut self, n: u32) -> Vec<Command> {
        if self.open() {
            self.pending_target = Some(n);
            return vec![Command::SetRate(n as f64)];
        }
        let n = n.min(MAX_VUS as u32);
        self.pending_target = Some(n);
        vec![Command::SetVus(n)]
    }

    /// Handles a key: the input line gets it first when open.
    pub fn on_key(&mut self, key: &KeyEvent) -> Vec<Command> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        // Ctrl-C always means quit, even while typing.
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        if self.input.is_some() && !ctrl_c {
            return self.on_input_key(key);
        }
        match self.keymap.action(key) {
            Some(a) => self.update(a),
            None => Vec::new(),
        }
    }

    /// Applies an action; returns the commands for the engine.
    pub fn update(&mut self, action: Action) -> Vec<Command> {
        if self.snap.state == RunState::Done {
            // The run is over: any way out leaves (Enter still opens the detail view,
            // as the footer says, so the results can be read before leaving).
            if matches!(
                action,
                Action::Quit | Action::ForceQuit | Action::Back | Action::Detach
            ) && !self.help
                && self.view == View::Main
            {
                self.quit = Quit::Now;
                return Vec::new();
            }
        }
        match action {
            Action::Quit | Action::ForceQuit => {
                if self.quit == Quit::No && action == Action::Quit && self.running() {
                    self.quit = Quit::Draining;
                    self.flash("stopping: draining in-flight requests (Ctrl-C again to quit now)");
                    return vec![Command::Stop];
                }
                self.quit = Quit::Now;
                Vec::new()
            }
            Action::Help => {
                self.help = !self.help;
                Vec::new()
            }
            Action::Detach if self.detachable => {
                self.quit = Quit::Detach;
                Vec::new()
            }
            Action::Detach => {
                self.flash("this run cannot detach: it has no run host (see docs/control.md)");
                Vec::new()
            }
            Action::ToggleResources => {
                self.resources = !self.resources;
                Vec::new()
            }
            Action::Back => {
                if self.help {
                    self.help = false;
                } else if self.view == View::Detail {
                    self.view = View::Main;
                } else if self.snap.spike.is_some() && self.running() {
                    return vec![Command::EndSpike];
                }
                Vec::new()
            }
            _ if !self.running() => match action {
                Action::Down => self.move_selection(1),
                Action::Up => self.move_selection(-1),
                Action::Enter => self.toggle_detail(),
                Action::Sort => self.next_sort(),
                Action::CycleTheme => self.cycle_theme(),
                _ => {
                    self.flash("the run is over: q to quit");
                    Vec::new()
                }
            },
            Action::LoadUp => self.set_vus(self.target().saturating_add(self.step)),
            Action::LoadDown => self.set_vus(self.target().saturating_sub(self.step)),
            Action::LoadUpBig => self.set_vus(self.target().saturating_add(self.big_step)),
            Action::LoadDownBig => self.set_vus(self.target().saturating_sub(self.big_step)),
            Action::SetLoad => {
                self.input = Some(InputLine::new(InputKind::Vus, self.target().to_string()));
                Vec::new()
            }
            Action::EditSpike => {
                self.input = Some(InputLine::new(InputKind::Spike, spike_spec(&self.spike)));
                Vec::new()
            }
            Action::Spike => {
                if self.snap.spike.is_some() {
                    vec![Command::EndSpike]
                } else {
                    self.pending_target = Some(self.spike.change.apply(self.target()));
                    vec![Command::Spike(self.spike)]
                }
            }
            Action::TogglePause => match self.snap.state {
                RunState::Paused => vec![Command::Resume],
                _ => vec![Command::Pause],
            },
            Action::Down => self.move_selection(1),
            Action::Up => self.move_selection(-1),
            Action::Enter => self.toggle_detail(),
            Action::Sort => self.next_sort(),
            Action::CycleTheme => self.cycle_theme(),
        }
    }

    fn toggle_detail(&mut self) -> Vec<Command> {
        if !self.snap.endpoints.is_empty() {
            self.view = match self.view {
                View::Main => View::Detail,
                View::Detail => View::Main,
            };
        }
        Vec::new()
    }

    fn next_sort(&mut self) -> Vec<Command> {
        self.sort = self.sort.next();
        // The top of the new order shows, selected: sorting does not scroll it away.
        if let Some(&first) = self.order().first() {
            self.selected = first;
        }
        self.flash(format!("sorted by {}", self.sort.label()));
        Vec::new()
    }

    fn move_selection(&mut self, delta: i32) -> Vec<Command> {
        let order = self.order();
        if order.is_empty() {
            return Vec::new();
        }
        let pos = order.iter().position(|&i| i == self.selected).unwrap_or(0) as i32;
        let new = (pos + delta).clamp(0, order.len() as i32 - 1) as usize;
        self.selected = order[new];
        Vec::new()
    }

    fn cycle_theme(&mut self) -> Vec<Command> {
        let pos = BUILTIN.iter().position(|(n, _)| *n == self.theme.name);
        let next = BUILTIN[pos.map_or(0, |p| (p + 1) % BUILTIN.len())].0;
        let mono = self.theme.monochrome;
        if let Some(t) = Theme::builtin(next) {
            self.theme = if mono { t.monochrome() } else { t };
            self.flash(format!("theme: {next}"));
        }
        Vec::new()
    }

    fn on_input_key(&mut self, key: &KeyEvent) -> Vec<Command> {
        let Some(line) = self.input.as_mut() else {
            return Vec::new();
        };
        let req = match key.code {
            KeyCode::Esc => {
                self.input = None;
                return Vec::new();
            }
            KeyCode::Enter => return self.apply_input(),
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                Some(InputRequest::InsertChar(c))
            }
            KeyCode::Char('u') => Some(InputRequest::DeleteLine),
            KeyCode::Char('w') => Some(InputRequest::DeletePrevWord),
            KeyCode::Backspace => Some(InputRequest::DeletePrevChar),
            KeyCode::Delete => Some(InputRequest::DeleteNextChar),
            KeyCode::Left => Some(InputRequest::GoToPrevChar),
            KeyCode::Right => Some(InputRequest::GoToNextChar),
            KeyCode::Home => Some(InputRequest::GoToStart),
            KeyCode::End => Some(InputRequest::GoToEnd),
            _ => None,
        };
        if let Some(r) = req {
            // The first character typed replaces the prefilled value; editing keys edit it.
            if line.prefilled && matches!(r, InputRequest::InsertChar(_)) {
                line.input.reset();
            }
            line.prefilled = false;
            line.input.handle(r);
            line.error = None;
            line.confirm = None;
        }
        Vec::new()
    }

    fn apply_input(&mut self) -> Vec<Command> {
        if !self.running() {
            self.input = None;
            return Vec::new();
        }
        let target = self.target();
        let default_duration = self.spike.duration;
        let Some(line) = self.input.as_mut() else {
            return Vec::new();
        };
        let text = line.input.value().trim().to_string();
        // A large increase is applied only on a second Enter on the same text.
        let confirmed = |line: &mut InputLine, new: f64| -> bool {
            let ratio = new / (target.max(1) as f64);
            if ratio <= CONFIRM_RATIO || line.confirm.as_ref().is_some_and(|c| c.text == text) {
                return true;
            }
            line.confirm = Some(Confirm {
                text: text.clone(),
                ratio,
            });
            false
        };
        match line.kind {
            InputKind::Vus => match parse_vus(&text) {
                Ok(n) if !confirmed(line, n as f64) => Vec::new(),
                Ok(n) => {
                    self.input = None;
                    self.set_vus(n)
                }
                Err(e) => {
                    line.error = Some(e);
                    Vec::new()
                }
            },
            InputKind::Spike => match parse_spike(&text, default_duration) {
                Ok(spike) if !confirmed(line, spike.change.apply_f64(target as f64)) => Vec::new(),
                Ok(spike) => {
                    self.input = None;
                    self.spike = spike;
                    self.pending_target = Some(spike.change.apply(target));
                    vec![Command::Spike(spike)]
                }
                Err(e) => {
                    line.error = Some(e);
                    Vec::new()
                }
            },
        }
    }
}

/// A VU count typed by the operator.
pub fn parse_vus(text: &str) -> Result<u32, String> {
    let n: u64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number of VUs"))?;
    if n > MAX_VUS {
        return Err(format!("at most {MAX_VUS} VUs"));
    }
    Ok(n as u32)
}

/// "5x 30s", "x5 30s", "+200 45s", "5x" (keeps the duration).
pub fn parse_spike(text: &str, default_duration: Duration) -> Result<Spike, String> {
    let mut parts = text.split_whitespace();
    let amount = parts
        .next()
        .ok_or("type a spike like '5x 30s' or '+200 45s'")?;
    let change = if let Some(n) = amount.strip_prefix('+') {
        let n: u32 = n
            .parse()
            .map_err(|_| format!("'{amount}': expected +N, a whole number of VUs to add"))?;
        SpikeChange::Plus(n)
    } else {
        let f = amount
            .strip_suffix(['x', 'X'])
            .or_else(|| amount.strip_prefix(['x', 'X']))
            .ok_or_else(|| {
                format!("'{amount}': expected a factor like 5x or an addition like +200")
            })?;
        let f: f64 = f
            .parse()
            .map_err(|_| format!("'{amount}': the factor must be a number"))?;
        if !(f > 0.0 && f <= 1000.0) {
            return Err(format!(
                "'{amount}': the factor must be above 0 and at most 1000"
            ));
        }
        SpikeChange::Times(f)
    };
    let duration = match parts.next() {
        Some(d) => parse_duration(d)?,
        None => default_duration,
    };
    if duration.is_zero() {
        return Err("the spike needs a duration above zero".into());
    }
    if let Some(extra) = parts.next() {
        return Err(format!("unexpected '{extra}': type a spike like '5x 30s'"));
    }
    Ok(Spike { change, duration })
}

/// The text form of a spike, as the input line shows it.
pub fn spike_spec(s: &Spike) -> String {
    let amount = match s.change {
        SpikeChange::Times(f) => format!("{f}x"),
        SpikeChange::Plus(n) => format!("+{n}"),
    };
    format!("{amount} {}", format_duration(s.duration))
}

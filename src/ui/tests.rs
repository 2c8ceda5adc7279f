//! Key handling as pure functions, and whole-screen snapshots of a fixed run.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;

use super::action::Action;
use super::app::{parse_spike, parse_vus, App, InputKind, Quit, Reach, SortKey, View};
use super::theme::Theme;
use super::view;
use crate::engine::{Command, Spike, SpikeChange};
use crate::metrics::{
    new_histogram, EndpointStats, ErrorSample, Event, RunState, Snapshot, SpikeView, TimelineRow,
};

fn endpoint(name: &str, method: &str, base_us: u64, n: u64, errors: u64) -> EndpointStats {
    let mut e = EndpointStats::new(name, method);
    let mut h = new_histogram();
    for i in 0..n {
        // a deterministic long tail
        let v = base_us + (i % 100) * base_us / 40 + if i % 97 == 0 { base_us * 20 } else { 0 };
        h.record(v).unwrap();
    }
    e.hist = Arc::new(h);
    e.requests = n;
    e.errors = errors;
    e.ok = n - errors;
    e.bytes = n * 512;
    e.rps_now = n as f64 / 60.0;
    e.status = BTreeMap::from([(200, n - errors)]);
    if errors > 0 {
        e.status.insert(503, errors);
        e.errors_by_kind.insert("http_503".into(), errors);
        e.recent_errors = Arc::new(VecDeque::from([ErrorSample {
            t: 41.5,
            kind: "http_503".into(),
            message: "HTTP 503 Service Unavailable".into(),
        }]));
    }
    e
}

fn timeline() -> Vec<TimelineRow> {
    (0..60)
        .map(|t| TimelineRow {
            t,
            dt: 1,
            requests: 900 + (t % 7) * 20,
            ok: 890 + (t % 7) * 20,
            errors: if t > 40 { 10 } else { 0 },
            bytes: 1000,
            p50_us: 4_000 + t * 10,
            p90_us: 9_000,
            p95_us: 12_000 + (t % 5) * 500,
            p99_us: 25_000 + (t % 3) * 2_000,
            max_us: 80_000,
            vus: 20,
            ..Default::default()
        })
        .collect()
}

pub fn fixture(state: RunState) -> Snapshot {
    let mut s = Snapshot::empty("demo shop", &[]);
    s.started_at = SystemTime::UNIX_EPOCH;
    s.elapsed = Duration::from_secs(61);
    s.run_time = Duration::from_secs(60);
    s.planned = Some(Duration::from_secs(300));
    s.state = state;
    s.vus_active = 20;
    s.vus_target = 20;
    s.in_flight = 7;
    s.connections_open = 20;
    s.connections_opened = 20;
    s.endpoints = vec![
        endpoint("list items", "GET", 2_000, 24_000, 0),
        endpoint("search", "GET", 25_000, 12_000, 0),
        endpoint("place order", "POST", 8_000, 8_000, 160),
    ];
    let mut total = EndpointStats::new("total", "");
    for e in &s.endpoints {
        total.merge(e);
    }
    total.timeline = Arc::new(timeline());
    s.total = total;
    s.events = Arc::new(vec![
        Event {
            t: 0.0,
            kind: "start".into(),
            detail: "20 VUs".into(),
        },
        Event {
            t: 20.0,
            kind: "pause".into(),
            detail: "paused".into(),
        },
        Event {
            t: 21.0,
            kind: "resume".into(),
            detail: "resumed".into(),
        },
        Event {
            t: 30.0,
            kind: "set_vus".into(),
            detail: "10 -> 20".into(),
        },
    ]);
    match state {
        RunState::Done => s.partial = false,
        RunState::Paused => {}
        _ => {}
    }
    s
}

fn app(state: RunState) -> App {
    let mut a = App::new(Arc::new(fixture(state)), Theme::default_theme(), 20);
    a.target_url = Some("http://127.0.0.1:8080/".into());
    a
}

fn spiking(state: RunState) -> Snapshot {
    let mut s = fixture(state);
    s.spike = Some(SpikeView {
        spike: Spike {
            change: SpikeChange::Times(5.0),
            duration: Duration::from_secs(30),
        },
        remaining: Duration::from_millis(11_500),
        base: 20,
    });
    s.vus_active = 100;
    s.vus_target = 100;
    s
}

/// Every request of the last seconds refused: `requests` more than `base`.
fn refused(base: &Snapshot, secs: u64, requests: u64, kind: &str) -> Snapshot {
    let mut s = base.clone();
    s.elapsed = base.elapsed + Duration::from_secs(secs);
    s.total.requests += requests;
    s.total.errors += requests;
    *s.total.errors_by_kind.entry(kind.into()).or_default() += requests;
    s
}

/// Six endpoints: more than the table shows at 80x24.
fn six_endpoints() -> App {
    let mut s = fixture(RunState::Running);
    for (i, name) in ["login", "cart", "checkout"].iter().enumerate() {
        s.endpoints.push(endpoint(
            name,
            "POST",
            3_000 + i as u64 * 1_000,
            2_000 * (i as u64 + 1),
            0,
        ));
    }
    let mut a = App::new(Arc::new(s), Theme::default_theme(), 20);
    a.target_url = Some("http://127.0.0.1:8080/".into());
    a
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

#[test]
fn vu_keys_step_from_the_target() {
    let mut a = app(RunState::Running);
    assert_eq!(a.on_key(&key('+')), vec![Command::SetVus(22)]);
    // the snapshot has not caught up yet: the next step builds on the pending target
    assert_eq!(a.on_key(&key('+')), vec![Command::SetVus(24)]);
    assert_eq!(a.on_key(&key('-')), vec![Command::SetVus(22)]);
    assert_eq!(
        a.on_key(&KeyEvent::new(KeyCode::Right, KeyModifiers::SHIFT)),
        vec![Command::SetVus(42)]
    );
    let mut low = App::new(
        Arc::new(fixture(RunState::Running)),
        Theme::default_theme(),
        20,
    );
    low.pending_target = Some(1);
    assert_eq!(low.update(Action::LoadDownBig), vec![Command::SetVus(0)]);
}

#[test]
fn typed_vu_count_applies_and_bad_input_changes_nothing() {
    let mut a = app(RunState::Running);
    assert!(a.on_key(&key('v')).is_empty());
    assert_eq!(a.input.as_ref().unwrap().kind, InputKind::Vus);
    // clear the prefilled value, type garbage
    a.on_key(&KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    for c in "12x".chars() {
        a.on_key(&key(c));
    }
    assert!(a.on_key(&code(KeyCode::Enter)).is_empty());
    let err = a.input.as_ref().unwrap().error.clone().unwrap();
    assert!(err.contains("not a whole number"), "{err}");
    a.on_key(&code(KeyCode::Backspace));
    assert_eq!(a.on_key(&code(KeyCode::Enter)), vec![Command::SetVus(12)]);
    assert!(a.input.is_none());
    // Esc cancels without a command
    a.on_key(&key('v'));
    assert!(a.on_key(&code(KeyCode::Esc)).is_empty());
    assert!(a.input.is_none());
}

fn type_text(a: &mut App, text: &str) -> Vec<Command> {
    let mut out = Vec::new();
    for c in text.chars() {
        out.extend(a.on_key(&key(c)));
    }
    out
}

#[test]
fn first_key_typed_replaces_the_prefilled_value() {
    let mut a = app(RunState::Running);
    a.on_key(&key('v'));
    assert_eq!(a.input.as_ref().unwrap().input.value(), "20");
    type_text(&mut a, "50");
    assert_eq!(a.input.as_ref().unwrap().input.value(), "50");
    assert_eq!(a.on_key(&code(KeyCode::Enter)), vec![Command::SetVus(50)]);

    // Editing keys edit the prefilled value instead.
    a.on_key(&key('v'));
    a.on_key(&code(KeyCode::Backspace));
    type_text(&mut a, "5");
    assert_eq!(a.input.as_ref().unwrap().input.value(), "55");
    a.on_key(&code(KeyCode::Esc));
    a.on_key(&key('v'));
    a.on_key(&code(KeyCode::Home));
    type_text(&mut a, "1");
    assert_eq!(a.input.as_ref().unwrap().input.value(), "150");

    let mut a = app(RunState::Running);
    a.on_key(&KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT));
    assert_eq!(a.input.as_ref().unwrap().input.value(), "5x 30s");
    type_text(&mut a, "2x 10s");
    assert_eq!(
        a.on_key(&code(KeyCode::Enter)),
        vec![Command::Spike(Spike {
            change: SpikeChange::Times(2.0),
            duration: Duration::from_secs(10)
        })]
    );
}

#[test]
fn more_than_ten_times_the_load_needs_a_second_enter() {
    let mut a = app(RunState::Running);
    a.on_key(&key('v'));
    type_text(&mut a, "2000");
    assert!(
        a.on_key(&code(KeyCode::Enter)).is_empty(),
        "x100 applied at once"
    );
    let screen = render(&a, 80, 24);
    assert!(
        screen.contains("x100 of now: Enter again to apply"),
        "{screen}"
    );
    assert_eq!(a.on_key(&code(KeyCode::Enter)), vec![Command::SetVus(2000)]);

    // Changing the text asks again; at most 10x goes at once.
    let mut a = app(RunState::Running);
    a.on_key(&key('v'));
    type_text(&mut a, "300");
    assert!(a.on_key(&code(KeyCode::Enter)).is_empty());
    a.on_key(&code(KeyCode::Backspace));
    assert_eq!(a.on_key(&code(KeyCode::Enter)), vec![Command::SetVus(30)]);
    let mut a = app(RunState::Running);
    a.on_key(&key('v'));
    type_text(&mut a, "200");
    assert_eq!(a.on_key(&code(KeyCode::Enter)), vec![Command::SetVus(200)]);

    // Spikes: a factor or an addition past 10x of the 20 VUs asks too.
    for (text, asks) in [
        ("20x 5s", true),
        ("+300 5s", true),
        ("+100 5s", false),
        ("10x", false),
    ] {
        let mut a = app(RunState::Running);
        a.on_key(&KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT));
        type_text(&mut a, text);
        let first = a.on_key(&code(KeyCode::Enter));
        assert_eq!(first.is_empty(), asks, "{text}: {first:?}");
        if asks {
            let second = a.on_key(&code(KeyCode::Enter));
            assert!(
                matches!(second[..], [Command::Spike(_)]),
                "{text}: {second:?}"
            );
        }
    }
}

#[test]
fn pause_toggles_with_the_run_state() {
    let mut a = app(RunState::Running);
    assert_eq!(a.on_key(&key('p')), vec![Command::Pause]);
    a.set_snapshot(Arc::new(fixture(RunState::Paused)));
    assert_eq!(a.on_key(&key(' ')), vec![Command::Resume]);
}

#[test]
fn spike_starts_with_defaults_and_second_press_ends_it() {
    let mut a = app(RunState::Running);
    assert_eq!(
        a.on_key(&key('s')),
        vec![Command::Spike(Spike {
            change: SpikeChange::Times(5.0),
            duration: Duration::from_secs(30)
        })]
    );
    let mut s = fixture(RunState::Running);
    s.spike = Some(SpikeView {
        spike: Spike {
            change: SpikeChange::Times(5.0),
            duration: Duration::from_secs(30),
        },
        remaining: Duration::from_secs(12),
        base: 20,
    });
    a.set_snapshot(Arc::new(s));
    assert_eq!(a.on_key(&key('s')), vec![Command::EndSpike]);
    assert_eq!(a.on_key(&code(KeyCode::Esc)), vec![Command::EndSpike]);
}

#[test]
fn spike_input_is_editable() {
    let mut a = app(RunState::Running);
    a.on_key(&KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT));
    assert_eq!(a.input.as_ref().unwrap().input.value(), "5x 30s");
    a.on_key(&KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    for c in "+100 45s".chars() {
        a.on_key(&key(c));
    }
    assert_eq!(
        a.on_key(&code(KeyCode::Enter)),
        vec![Command::Spike(Spike {
            change: SpikeChange::Plus(100),
            duration: Duration::from_secs(45)
        })]
    );
    assert_eq!(a.spike.change, SpikeChange::Plus(100));
}

#[test]
fn spike_and_vu_text_parse() {
    let d = Duration::from_secs(30);
    assert_eq!(
        parse_spike("5x 30s", d).unwrap().change,
        SpikeChange::Times(5.0)
    );
    assert_eq!(
        parse_spike("x2.5", d).unwrap().change,
        SpikeChange::Times(2.5)
    );
    assert_eq!(
        parse_spike("+200 45s", d).unwrap().duration,
        Duration::from_secs(45)
    );
    assert!(parse_spike("five", d).is_err());
    assert!(parse_spike("5x soon", d).is_err());
    assert!(parse_spike("0x 10s", d).is_err());
    assert!(parse_spike("5x 10s extra", d).is_err());
    assert_eq!(parse_vus("300").unwrap(), 300);
    assert!(parse_vus("-3").is_err());
    assert!(parse_vus("1000000").is_err());
}

#[test]
fn quit_drains_first_and_second_quits_now() {
    let mut a = app(RunState::Running);
    assert_eq!(a.on_key(&key('q')), vec![Command::Stop]);
    assert_eq!(a.quit, Quit::Draining);
    assert!(a
        .on_key(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL))
        .is_empty());
    assert_eq!(a.quit, Quit::Now);
    let mut done = app(RunState::Done);
    assert!(done.on_key(&key('q')).is_empty());
    assert_eq!(done.quit, Quit::Now);
}

#[test]
fn d_detaches_a_run_that_can_and_only_says_why_not_otherwise() {
    let mut a = app(RunState::Running);
    assert!(a.on_key(&key('d')).is_empty());
    assert_eq!(a.quit, Quit::No, "no run host: the console stays");
    assert!(a.flash.as_ref().unwrap().0.contains("cannot detach"));
    a.detachable = true;
    assert!(a.on_key(&key('d')).is_empty(), "detaching sends no command");
    assert_eq!(a.quit, Quit::Detach);
    // A finished run has nothing to go on with: d leaves as q does.
    let mut done = app(RunState::Done);
    done.detachable = true;
    done.on_key(&key('d'));
    assert_eq!(done.quit, Quit::Now);
}

#[test]
fn selection_sort_detail_theme() {
    let mut a = app(RunState::Running);
    a.on_key(&key('j'));
    assert_eq!(a.selected, 1);
    a.on_key(&code(KeyCode::Down));
    a.on_key(&code(KeyCode::Down));
    assert_eq!(a.selected, 2, "stays on the last row");
    a.on_key(&key('k'));
    assert_eq!(a.selected, 1);
    a.on_key(&code(KeyCode::Enter));
    assert_eq!(a.view, View::Detail);
    a.on_key(&code(KeyCode::Esc));
    assert_eq!(a.view, View::Main);
    a.on_key(&key('o'));
    assert_eq!(a.sort, SortKey::Requests);
    assert_eq!(a.order(), vec![0, 1, 2]);
    a.on_key(&key('o'));
    assert_eq!(a.order()[0], 2, "errors first");
    a.on_key(&key('t'));
    assert_eq!(a.theme.name, "light");
    a.on_key(&key('?'));
    assert!(a.help);
    a.on_key(&code(KeyCode::Esc));
    assert!(!a.help);
}

#[test]
fn when_done_enter_opens_the_detail_and_esc_leaves() {
    let mut a = app(RunState::Done);
    assert!(a.on_key(&code(KeyCode::Enter)).is_empty());
    assert_eq!(a.view, View::Detail);
    assert_eq!(
        a.quit,
        Quit::No,
        "Enter reads the results, it does not leave"
    );
    a.on_key(&code(KeyCode::Esc));
    assert_eq!(a.view, View::Main);
    assert_eq!(a.quit, Quit::No);
    a.on_key(&code(KeyCode::Esc));
    assert_eq!(
        a.quit,
        Quit::Now,
        "Esc on the main view leaves a finished run"
    );
}

#[test]
fn header_shows_a_vu_change_only_while_it_can_happen() {
    let header = |state: RunState, active: u32| {
        let mut s = fixture(state);
        s.vus_active = active;
        let a = App::new(Arc::new(s), Theme::default_theme(), 20);
        render(&a, 100, 30).lines().next().unwrap_or("").to_string()
    };
    assert!(header(RunState::Running, 12).contains("VUs 12 → 20"));
    // Every VU has ended once the run is done: no arrow towards a target it will not reach.
    let done = header(RunState::Done, 0);
    assert!(done.contains("VUs 0 ") && !done.contains('→'), "{done}");
}

#[test]
fn header_shows_the_generator_gauge_and_the_bottleneck_warning() {
    use crate::metrics::generator::{GeneratorSample, GeneratorSeries};
    let second_line = |shares: &[f64]| {
        let mut s = fixture(RunState::Running);
        let mut g = GeneratorSeries::new(1.0);
        for (t, share) in shares.iter().enumerate() {
            g.push(GeneratorSample {
                t: t as u64,
                cpu_share: *share,
                lag_p99_ms: 0.5,
                ..GeneratorSample::default()
            });
        }
        s.generator = Arc::new(g);
        let a = App::new(Arc::new(s), Theme::default_theme(), 20);
        render(&a, 160, 48).lines().nth(1).unwrap_or("").to_string()
    };
    let calm = second_line(&[0.2, 0.3]);
    assert!(calm.contains("volley CPU 30% lag 500µs"), "{calm}");
    assert!(!calm.contains("bottleneck"), "{calm}");
    let busy = second_line(&[0.5, 0.95, 0.97, 0.99]);
    assert!(
        busy.starts_with("⚠ volley is the bottleneck: results understate the target"),
        "{busy}"
    );
    assert!(busy.contains("volley CPU 99%"), "{busy}");
    // Without samples (the fixture's own screens) nothing is added.
    let none = second_line(&[]);
    assert!(!none.contains("volley CPU"), "{none}");
}

#[test]
fn controls_are_refused_when_done() {
    let mut a = app(RunState::Done);
    assert!(a.update(Action::LoadUp).is_empty());
    assert!(a.update(Action::TogglePause).is_empty());
    assert!(a.update(Action::Spike).is_empty());
}

pub fn render(app: &App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| view::draw(f, app)).unwrap();
    buffer_text(term.backend().buffer())
}

fn buffer_text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn states() -> Vec<(&'static str, App)> {
    let running = app(RunState::Running);
    let paused = app(RunState::Paused);
    let mut spike = app(RunState::Running);
    spike.set_snapshot(Arc::new(spiking(RunState::Running)));
    let mut paused_spike = app(RunState::Paused);
    paused_spike.set_snapshot(Arc::new(spiking(RunState::Paused)));
    let done = app(RunState::Done);
    vec![
        ("running", running),
        ("paused", paused),
        ("spike", spike),
        ("paused_spike", paused_spike),
        ("done", done),
    ]
}

/// The overlays and prompts, and the states that only show at some moments.
fn overlays() -> Vec<(&'static str, App)> {
    let mut out = Vec::new();
    let mut a = app(RunState::Running);
    a.on_key(&key('?'));
    out.push(("help", a));
    let mut a = app(RunState::Running);
    a.on_key(&key('j'));
    a.on_key(&code(KeyCode::Enter));
    out.push(("detail", a));
    let mut a = app(RunState::Running);
    a.on_key(&key('v'));
    out.push(("input_vus", a));
    let mut a = app(RunState::Running);
    a.on_key(&KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT));
    out.push(("input_spike", a));
    let mut a = app(RunState::Running);
    a.on_key(&key('v'));
    type_text(&mut a, "2000");
    a.on_key(&code(KeyCode::Enter));
    out.push(("input_confirm", a));
    let mut a = app(RunState::Running);
    a.on_key(&key('v'));
    type_text(&mut a, "12x");
    a.on_key(&code(KeyCode::Enter));
    out.push(("input_error", a));
    let mut a = app(RunState::Running);
    let s = refused(&a.snap, 4, 900, "connect_refused");
    a.set_snapshot(Arc::new(s));
    out.push(("unreachable", a));
    let mut a = app(RunState::Running);
    let s = refused(&a.snap, 4, 900, "timeout");
    a.set_snapshot(Arc::new(s));
    out.push(("not_answering", a));
    let mut a = six_endpoints();
    for _ in 0..5 {
        a.on_key(&key('j'));
    }
    out.push(("six_endpoints_scrolled", a));
    let mut a = six_endpoints();
    a.on_key(&key('j'));
    a.on_key(&key('j'));
    a.on_key(&key('o'));
    a.flash = None;
    out.push(("six_endpoints_sorted", a));
    out
}

#[test]
fn screens_80x24() {
    for (name, a) in states() {
        insta::assert_snapshot!(format!("screen_80x24_{name}"), render(&a, 80, 24));
    }
}

#[test]
fn overlays_80x24() {
    for (name, a) in overlays() {
        insta::assert_snapshot!(format!("overlay_80x24_{name}"), render(&a, 80, 24));
    }
}

#[test]
fn paused_spike_header_shows_both() {
    let mut a = app(RunState::Paused);
    a.set_snapshot(Arc::new(spiking(RunState::Paused)));
    let screen = render(&a, 80, 24);
    let head = screen.lines().next().unwrap();
    assert!(
        head.contains("PAUSED") && head.contains("SPIKE x5 12s"),
        "{head}"
    );
    assert!(screen.contains("returns to 20 VUs"), "{screen}");
}

#[test]
fn unreachable_when_every_recent_request_failed_to_connect() {
    let mut a = app(RunState::Running);
    assert_eq!(a.reach, Reach::Answering);
    // Responses with error statuses are responses.
    let s = refused(&a.snap, 1, 100, "http_503");
    a.set_snapshot(Arc::new(s.clone()));
    assert_eq!(a.reach, Reach::Answering);
    // Some refused, some answered within the window: reachable.
    let s = refused(&s, 1, 100, "connect_refused");
    a.set_snapshot(Arc::new(s.clone()));
    assert_eq!(a.reach, Reach::Answering);
    // Past the window, only refusals, names not found and failed handshakes: unreachable.
    let mut s = refused(&s, 2, 100, "connect_refused");
    for (kind, n) in [("dns", 50), ("tls", 50), ("connect", 50)] {
        s = refused(&s, 1, n, kind);
        a.set_snapshot(Arc::new(s.clone()));
    }
    assert_eq!(a.reach, Reach::Unreachable);
    let head = render(&a, 80, 24);
    assert!(
        head.lines().next().unwrap().contains("TARGET UNREACHABLE"),
        "{head}"
    );
    // No request ended: the verdict stands; one response ends it.
    a.set_snapshot(Arc::new(refused(&s, 5, 0, "timeout")));
    assert_eq!(a.reach, Reach::Unreachable);
    let mut ok = s.clone();
    ok.elapsed += Duration::from_secs(1);
    ok.total.requests += 1;
    a.set_snapshot(Arc::new(ok));
    assert_eq!(a.reach, Reach::Answering);
}

#[test]
fn not_answering_when_it_accepts_but_nothing_comes_back() {
    let mut a = app(RunState::Running);
    // Timeouts, resets and closes after connecting: the target is there, it does not
    // answer. Mixed with refusals it is still "not answering", not "unreachable".
    let mut s = a.snap.as_ref().clone();
    for (kind, n) in [
        ("timeout", 50),
        ("connection_reset", 50),
        ("connect_refused", 50),
        ("connection_closed", 50),
        ("invalid_response", 50),
    ] {
        s = refused(&s, 1, n, kind);
        a.set_snapshot(Arc::new(s.clone()));
    }
    assert_eq!(a.reach, Reach::NotAnswering);
    let head = render(&a, 80, 24);
    let line = head.lines().next().unwrap();
    assert!(line.contains("TARGET NOT ANSWERING"), "{head}");
    assert!(!line.contains("UNREACHABLE"), "{head}");
    // Past the window, refusals alone: unreachable.
    for _ in 0..4 {
        s = refused(&s, 1, 50, "connect_refused");
        a.set_snapshot(Arc::new(s.clone()));
    }
    assert_eq!(a.reach, Reach::Unreachable);
    // A 503 is an answer.
    a.set_snapshot(Arc::new(refused(&s, 1, 1, "http_503")));
    assert_eq!(a.reach, Reach::Answering);
}

#[test]
fn table_keeps_the_total_and_the_selection_in_view() {
    let mut a = six_endpoints();
    let screen = render(&a, 80, 24);
    assert!(screen.contains("│total "), "{screen}");
    assert!(screen.contains("↓ rows 1-"), "{screen}");
    for _ in 0..5 {
        a.on_key(&key('j'));
    }
    let screen = render(&a, 80, 24);
    assert!(screen.contains("│checkout "), "{screen}");
    assert!(screen.contains("│total "), "{screen}");
    assert!(screen.contains("↑  rows"), "{screen}");
    // Sorting shows the top of the new order.
    a.on_key(&key('o'));
    let first = a.order()[0];
    assert_eq!(a.selected, first);
    let name = a.snap.endpoints[first].name.clone();
    let screen = render(&a, 80, 24);
    assert!(screen.contains(&format!("│{name} ")), "{screen}");
}

#[test]
fn footer_keeps_quit_and_help_at_80() {
    for (name, a) in states().into_iter().chain(overlays()) {
        if a.input.is_some() {
            continue;
        }
        let screen = render(&a, 80, 24);
        let foot = screen.lines().last().unwrap();
        assert!(
            foot.contains("q quit") || foot.contains("sorted"),
            "{name}: {foot}"
        );
        assert!(
            foot.contains("? help") || foot.contains("sorted"),
            "{name}: {foot}"
        );
    }
}

#[test]
fn clocks_are_labelled_and_charts_count_run_time() {
    let a = app(RunState::Running);
    let screen = render(&a, 80, 24);
    let lines: Vec<&str> = screen.lines().collect();
    assert!(lines[0].contains("run 01:00 / 05:00"), "{}", lines[0]);
    assert!(lines[1].contains("wall 01:01"), "{}", lines[1]);
    // 60 s of wall timeline with a 1 s pause: the axis ends at run 59 s.
    assert!(screen.contains("run 59s"), "{screen}");
    // Events after the pause are on the run clock too: set_vus at wall 30 s is run 29 s.
    assert!(screen.contains("29.0s set_vus"), "{screen}");
    assert!(screen.contains("Events · run time"), "{screen}");
}

#[test]
fn pauses_are_gaps_on_the_run_clock() {
    let mut s = fixture(RunState::Running);
    s.events = Arc::new(vec![
        Event {
            t: 10.0,
            kind: "pause".into(),
            detail: "paused".into(),
        },
        Event {
            t: 40.0,
            kind: "resume".into(),
            detail: "resumed".into(),
        },
    ]);
    let rt = view::RunTime::new(&s);
    assert_eq!(rt.at(5.0), 5.0);
    assert_eq!(rt.at(25.0), 10.0);
    assert_eq!(rt.at(50.0), 20.0);
    let runs = view::run_points(&s.total.timeline, &rt, 0.0, |r| Some(r.requests as f64));
    assert_eq!(runs.len(), 2, "one run before the pause, one after");
    assert_eq!(runs[0].last().unwrap().0, 9.5);
    assert_eq!(runs[1].first().unwrap().0, 10.5);
    assert_eq!(
        runs[0].len() + runs[1].len(),
        30,
        "paused seconds are left out"
    );
}

#[test]
fn done_header_shows_the_run_rate_and_the_target() {
    let a = app(RunState::Done);
    let screen = render(&a, 80, 24);
    let lines: Vec<&str> = screen.lines().collect();
    // 44,000 requests over 61 s of wall time, not the last second's 733.
    assert!(lines[0].contains("avg rps 721"), "{}", lines[0]);
    assert!(lines[1].contains("127.0.0.1:8080"), "{}", lines[1]);
    // A spike still on when the run ended is over with it.
    let mut a = app(RunState::Done);
    a.set_snapshot(Arc::new(spiking(RunState::Done)));
    let screen = render(&a, 80, 24);
    assert!(
        !screen.contains("SPIKE") && !screen.contains("returns to"),
        "{screen}"
    );
}

#[test]
fn screens_160x48() {
    for (name, a) in states() {
        insta::assert_snapshot!(format!("screen_160x48_{name}"), render(&a, 160, 48));
    }
}

#[test]
fn detail_help_and_input_screens() {
    let mut a = app(RunState::Running);
    a.on_key(&key('j'));
    a.on_key(&code(KeyCode::Enter));
    insta::assert_snapshot!("detail_100x30", render(&a, 100, 30));
    let mut a = app(RunState::Running);
    a.on_key(&key('?'));
    insta::assert_snapshot!("help_80x24", render(&a, 80, 24));
    let mut a = app(RunState::Running);
    a.on_key(&key('v'));
    a.on_key(&key('x'));
    a.on_key(&code(KeyCode::Enter));
    let screen = render(&a, 80, 24);
    assert!(screen.contains("VUs> x█"), "{screen}");
    assert!(screen.contains("not a whole number"), "{screen}");
}

/// A histogram of (value, count) pairs.
fn rec(values: &[(u64, u64)]) -> hdrhistogram::Histogram<u64> {
    let mut h = crate::metrics::new_histogram();
    for &(v, n) in values {
        h.record_n(v, n).unwrap();
    }
    h
}

/// The detail view of an endpoint whose phases were timed: the distribution above, the
/// phase bar and each phase's percentiles below, readable at 80x24.
#[test]
fn detail_shows_the_phases_at_80x24() {
    let mut snap = fixture(RunState::Running);
    snap.endpoints[1].phases = Some(Arc::new(crate::metrics::PhaseHists {
        dns: rec(&[(400, 2)]),
        connect: rec(&[(250, 2)]),
        send: rec(&[(25, 40)]),
        ttfb: rec(&[(20_000, 30), (40_000, 10)]),
        receive: rec(&[(4_000, 40)]),
        total: rec(&[(24_000, 30), (44_000, 10)]),
        ..Default::default()
    }));
    let mut a = App::new(Arc::new(snap), Theme::default_theme(), 20);
    a.on_key(&key('j'));
    a.on_key(&code(KeyCode::Enter));
    let screen = render(&a, 80, 24);
    insta::assert_snapshot!("detail_phases_80x24", screen);
    for needle in ["Phases", "ttfb", "receive", "total", "■conn"] {
        assert!(screen.contains(needle), "{needle}:\n{screen}");
    }
    // Without phases, the distribution keeps the whole column.
    let mut a = app(RunState::Running);
    a.on_key(&key('j'));
    a.on_key(&code(KeyCode::Enter));
    assert!(!render(&a, 80, 24).contains("Phases"));
}

/// A streaming endpoint has its time to first byte and gaps on rows under it, a
/// WebSocket one its `expect` latency; the selection stays in view as the rows scroll.
#[test]
fn streaming_endpoints_show_ttfb_and_gaps_under_their_row() {
    let mut snap = fixture(RunState::Running);
    snap.endpoints[1].stream = Some(Arc::new(crate::metrics::StreamHists {
        responses: 10,
        events: 200,
        ttfb: rec(&[(40_000, 9), (160_000, 1)]),
        first_event: rec(&[(41_000, 10)]),
        gap: rec(&[(8_000, 180), (30_000, 10)]),
        per_response: rec(&[(20, 10)]),
        duration: rec(&[(300_000, 10)]),
    }));
    let mut ws = crate::metrics::WsStats {
        sessions: 4,
        ..Default::default()
    };
    ws.expect = rec(&[(3_000, 4)]);
    snap.endpoints[2].ws = Some(Arc::new(ws));
    let mut a = App::new(Arc::new(snap), Theme::default_theme(), 20);
    let screen = render(&a, 120, 40);
    insta::assert_snapshot!("endpoints_streams_120x40", screen);
    let line = |screen: &str, start: &str| {
        screen
            .lines()
            .find(|l| l.trim_start_matches('│').starts_with(start))
            .unwrap_or_else(|| panic!("no {start}:\n{screen}"))
            .to_string()
    };
    assert!(line(&screen, "  ↳ ttfb").contains("40.0ms"), "{screen}");
    assert!(line(&screen, "  ↳ gap").contains("8.00ms"), "{screen}");
    assert!(line(&screen, "  ↳ expect").contains("3.00ms"), "{screen}");
    // At 80x24 the table has four rows: the selection with its timing rows, then what
    // fits around it.
    a.on_key(&key('j'));
    let screen = render(&a, 80, 24);
    assert!(line(&screen, "  ↳ gap").contains("8.00ms"), "{screen}");
    assert!(!screen.contains("  ↳ expect"), "{screen}");
    a.on_key(&key('j'));
    let screen = render(&a, 80, 24);
    assert!(line(&screen, "place order").contains("8,000"), "{screen}");
    assert!(screen.contains("  ↳ expect"), "{screen}");
}

#[test]
fn too_small_shows_a_notice() {
    let a = app(RunState::Running);
    let screen = render(&a, 60, 20);
    assert!(screen.contains("terminal too small: 60x20"), "{screen}");
}

#[test]
fn header_widget_exact() {
    let a = app(RunState::Paused);
    let mut buf = Buffer::empty(ratatui::layout::Rect::new(0, 0, 100, 2));
    ratatui::widgets::Widget::render(view::Header { app: &a }, buf.area, &mut buf);
    let text = buffer_text(&buf);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "volley · demo shop   PAUSED   run 01:00 / 05:00  VUs 20  rps 733  err 0.36%  p95 76.9ms"
    );
    assert_eq!(
        lines[1],
        "reqs 44,000  in flight 7  conns 20  wall 01:01  left 04:00  http://127.0.0.1:8080/"
    );
}

#[test]
fn monochrome_has_no_colours() {
    let mut a = app(RunState::Running);
    a.theme = Theme::default_theme().monochrome();
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    term.draw(|f| view::draw(f, &a)).unwrap();
    let buf = term.backend().buffer();
    for cell in buf.content() {
        assert_eq!(cell.fg, ratatui::style::Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, ratatui::style::Color::Reset, "{cell:?}");
    }
}

#[test]
fn open_model_with_thresholds_screen() {
    use crate::metrics::verdict::ThresholdStatus;
    let mut s = fixture(RunState::Running);
    s.rate = Some(200.0);
    s.dropped = 3;
    s.vus_active = 4;
    s.vus_target = 12;
    let stage = |index, from, target, secs| crate::state::StageView {
        index,
        of: 3,
        from,
        target,
        duration: Duration::from_secs(secs),
        open: true,
    };
    // "stage 2/3: hold 200/s for 1m", next "ramp 200 -> 0/s over 30s".
    s.stage = Some(crate::state::StageStatus::In {
        now: stage(1, 200.0, 200.0, 60),
        next: Some(stage(2, 200.0, 0.0, 30)),
    });
    s.thresholds = vec![
        ThresholdStatus {
            text: "p95 < 500ms".into(),
            endpoint: None,
            value: Some(76.9),
            shown: "76.9ms".into(),
            passed: Some(true),
            abort_on_fail: false,
        },
        ThresholdStatus {
            text: "error_rate < 0.1%".into(),
            endpoint: Some("place order".into()),
            value: Some(0.02),
            shown: "2.00%".into(),
            passed: Some(false),
            abort_on_fail: true,
        },
    ];
    let mut a = App::new(Arc::new(s), Theme::default_theme(), 200);
    assert_eq!(a.on_key(&key('+')), vec![Command::SetRate(220.0)]);
    a.pending_target = None;
    let screen = render(&a, 80, 24);
    insta::assert_snapshot!("open_thresholds_80x24", screen);
    let screen = render(&a, 160, 48);
    assert!(
        screen.contains("FAIL error_rate < 0.1% [place order]"),
        "{screen}"
    );
    assert!(screen.contains("1/2 thresholds failing"), "{screen}");
    assert!(screen.contains("rate 200/s"), "{screen}");
}

#[test]
fn detail_shows_retries_and_the_header_an_unknown_open_count() {
    let mut s = fixture(RunState::Running);
    for e in &mut s.endpoints {
        e.retries.insert("reset_before_response".into(), 12);
    }
    s.connections_open_known = false;
    let mut a = App::new(Arc::new(s), Theme::default_theme(), 20);
    a.on_key(&key('j'));
    a.on_key(&code(KeyCode::Enter));
    let screen = render(&a, 100, 30);
    assert!(
        screen.contains("retried reset_before_response 12"),
        "{screen}"
    );
    assert!(screen.contains("conns ?"), "{screen}");
}

/// A run with a minute of self-watch samples and a monitored target.
fn with_resources(open: bool) -> App {
    use crate::metrics::generator::{GeneratorSample, GeneratorSeries};
    use crate::metrics::{TargetSample, TargetSeries};
    let mut s = fixture(RunState::Running);
    let mut g = GeneratorSeries::new(2.0);
    for t in 0..60u64 {
        g.push(GeneratorSample {
            t,
            cpu_pct: 20.0 + (t % 10) as f64 * 5.0,
            cpu_share: (20.0 + (t % 10) as f64 * 5.0) / 200.0,
            lag_p99_ms: 0.2 + (t % 4) as f64 * 0.3,
            arrival_lag_ms: open.then_some(0.5 + (t % 6) as f64),
            rss_bytes: 30_000_000,
            ..GeneratorSample::default()
        });
    }
    s.generator = Arc::new(g);
    s.target = Some(Arc::new(TargetSeries {
        source: "http://127.0.0.1:9100/metrics".into(),
        names: vec![
            "cpu_busy".into(),
            "node_memory_MemAvailable_bytes".into(),
            "node_network_receive_bytes_total".into(),
            r#"app_queue_depth{queue="main"}"#.into(),
        ],
        samples: (0..60u64)
            .map(|t| crate::metrics::TargetSample {
                t,
                values: vec![
                    Some(0.3 + (t % 5) as f64 * 0.1),
                    Some(4e9 - t as f64 * 1e7),
                    (t != 50).then_some(2e6 + (t % 3) as f64 * 1e6),
                    Some((t % 8) as f64),
                ],
            })
            .collect::<Vec<TargetSample>>(),
        failures: 1,
    }));
    if open {
        s.rate = Some(100.0);
    }
    let mut a = App::new(Arc::new(s), Theme::default_theme(), 20);
    a.target_url = Some("http://127.0.0.1:8080/".into());
    a
}

#[test]
fn r_toggles_the_resources_panel() {
    let mut a = with_resources(false);
    let before = render(&a, 80, 24);
    assert!(!before.contains("Resources"), "{before}");
    a.on_key(&key('r'));
    assert!(a.resources);
    let narrow = render(&a, 80, 24);
    assert!(
        narrow.contains("volley CPU") && narrow.contains("mem avail"),
        "{narrow}"
    );
    insta::assert_snapshot!("resources_80x24", narrow);
    let wide = render(&a, 160, 48);
    assert!(
        wide.contains("Latency"),
        "a wide screen keeps latency: {wide}"
    );
    insta::assert_snapshot!("resources_160x48", wide);
    let mut open = with_resources(true);
    open.on_key(&key('r'));
    insta::assert_snapshot!("resources_open_100x30", render(&open, 100, 30));
    // Without a monitor, the panel says how to get one.
    let mut bare = app(RunState::Running);
    bare.on_key(&key('r'));
    let screen = render(&bare, 80, 24);
    assert!(screen.contains("target: not monitored"), "{screen}");
    a.on_key(&key('r'));
    assert_eq!(render(&a, 80, 24), before, "r again hides it");
}

/// The console on a fleet's coordinator: the workers panel, a lost worker marked.
#[test]
fn fleet_workers_panel_100x30() {
    use crate::metrics::{WorkerRow, WorkerState};
    let mut s = fixture(RunState::Running);
    let w = |index: u32, state: WorkerState, rps: f64, heard: f64| WorkerRow {
        index,
        state,
        host: format!("node-{index}"),
        vus: if state == WorkerState::Lost { 0 } else { 7 },
        rps,
        error_rate: 0.0125,
        cpu_percent: 41.0,
        heartbeat_age_s: heard,
        clock_offset_ms: 0.4 * index as f64,
    };
    s.workers = Some(Arc::new(vec![
        w(0, WorkerState::Running, 1210.0, 0.2),
        w(1, WorkerState::Running, 1190.0, 0.7),
        w(2, WorkerState::Lost, 0.0, 6.1),
    ]));
    let mut a = app(RunState::Running);
    a.set_snapshot(Arc::new(s));
    let screen = render(&a, 100, 30);
    assert!(screen.contains("Workers (3, 1 lost)"), "{screen}");
    assert!(screen.contains("LOST"), "{screen}");
    insta::assert_snapshot!("fleet_workers_100x30", screen);
}

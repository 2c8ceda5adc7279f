//! The control API against real processes: `volley ctl` and `volley ls` steer and list a
//! headless run (its own run directory per test, `VOLLEY_RUN_DIR`), a test server on
//! 127.0.0.1 observes the change, and the counts on disk equal the server's. Then what
//! must be refused: missing and wrong tokens, TCP off loopback without TLS, another
//! protocol version, a run directory others can enter.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{
    eventually, read_doc, scratch, total, volley_bin, Route, ServerConfig, Spawned, TestServer,
};

/// A server that answers after 5 ms.
fn server() -> TestServer {
    TestServer::start(ServerConfig::new().fallback(Route::ok().delay(Duration::from_millis(5))))
}

/// `volley ARGS` with the test's run directory; (exit code, stdout, stderr).
fn volley(run_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(volley_bin());
    cmd.args(args)
        .env("VOLLEY_RUN_DIR", run_dir)
        .env_remove("VOLLEY_TOKEN");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run volley");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ctl(run_dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["ctl"];
    all.extend_from_slice(args);
    volley(run_dir, &all, &[])
}

fn status(run_dir: &Path) -> serde_json::Value {
    let (code, out, err) = ctl(run_dir, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

struct Live {
    run: Spawned,
    dir: PathBuf,
    runs: PathBuf,
    out: PathBuf,
}

/// Starts a headless run against `url` with its own run directory; waits until it is
/// listed live.
fn start(name: &str, url: &str, args: &[&str]) -> Live {
    let dir = scratch(&format!("control-{name}"));
    let runs = dir.join("runs");
    let out = dir.join("out.json");
    let out_arg = format!("json={}", out.display());
    let mut all = vec![url, "--headless", "--progress", "60s", "--out", &out_arg];
    all.extend_from_slice(args);
    let runs_s = runs.to_str().unwrap().to_string();
    let run = Spawned::start(&all, &[("VOLLEY_RUN_DIR", &runs_s)]);
    let mut live = Live {
        run,
        dir,
        runs,
        out,
    };
    assert!(
        live.run
            .wait_stderr("volley: run ", Duration::from_secs(20)),
        "{}",
        live.run.stderr_text()
    );
    live
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

impl Live {
    /// `ctl stop`; the run ends with exit 0.
    fn stop(self) {
        let (code, _, err) = ctl(&self.runs, &["stop"]);
        assert_eq!(code, 0, "{err}");
        let r = self.run.finish(Duration::from_secs(30));
        assert_eq!(r.code(), Some(0), "{}", r.stderr);
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn run_dir(&self) -> PathBuf {
        let entries: Vec<PathBuf> = std::fs::read_dir(&self.runs)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        entries[0].clone()
    }

    fn meta(&self) -> serde_json::Value {
        read_doc(&self.run_dir().join("meta.json"))
    }
}

#[test]
fn ctl_steers_a_real_run_and_the_counts_hold() {
    let srv = server();
    let mut live = start("steer", &srv.url(), &["-c", "2", "-d", "60s"]);
    let runs = live.runs.clone();
    // Two VUs: at most two requests at the server at once.
    assert!(eventually(Duration::from_secs(10), || srv.requests() > 20));
    let (code, out, err) = ctl(&runs, &["vus", "12"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("set VUs 12"), "{out}");
    assert!(
        eventually(Duration::from_secs(10), || srv.in_flight() >= 8),
        "the server never saw the new VUs: {} in flight",
        srv.in_flight()
    );
    // The status follows at the next snapshot (a few a second).
    assert!(eventually(Duration::from_secs(5), || status(&runs)
        ["vus_target"]
        == 12));
    assert_eq!(status(&runs)["state"], "running");

    // More than 10x needs --yes; nothing changes without it.
    let (code, _, err) = ctl(&runs, &["vus", "500"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("add --yes"), "{err}");
    assert_eq!(status(&runs)["vus_target"], 12);

    // Pause: the server stops getting requests.
    let (code, _, err) = ctl(&runs, &["pause"]);
    assert_eq!(code, 0, "{err}");
    assert!(eventually(Duration::from_secs(5), || status(&runs)
        ["state"]
        == "paused"));
    assert!(eventually(Duration::from_secs(5), || srv.in_flight() == 0));
    let held = srv.requests();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(srv.requests(), held, "requests went on while paused");
    let (code, _, err) = ctl(&runs, &["resume"]);
    assert_eq!(code, 0, "{err}");
    assert!(eventually(Duration::from_secs(5), || srv.requests() > held));
    assert!(eventually(Duration::from_secs(5), || status(&runs)
        ["state"]
        == "running"));

    // `ls` lists it live; `wait` blocks until `stop` ends it, with the run's exit code.
    let (code, out, err) = volley(&runs, &["ls", "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    let ls: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ls.as_array().unwrap().len(), 1, "{ls}");
    assert_eq!(ls[0]["state"], "running", "{ls}");
    assert_eq!(ls[0]["target"], format!("{}/", srv.url()), "{ls}");
    let runs_s = runs.to_str().unwrap().to_string();
    let waiter = Spawned::start(&["ctl", "wait"], &[("VOLLEY_RUN_DIR", &runs_s)]);
    std::thread::sleep(Duration::from_millis(200));
    let (code, _, err) = ctl(&runs, &["stop"]);
    assert_eq!(code, 0, "{err}");
    let waited = waiter.finish(Duration::from_secs(30));
    assert_eq!(waited.code(), Some(0), "{}", waited.stderr);
    assert!(waited.stdout.contains("DONE"), "{}", waited.stdout);
    let ran = std::mem::replace(&mut live.run, Spawned::start(&["--version"], &[]))
        .finish(Duration::from_secs(30));
    assert_eq!(ran.code(), Some(0), "{}", ran.stderr);

    // The counts on disk are the server's, in --out and in the run directory.
    let doc = read_doc(&live.out);
    assert!(eventually(Duration::from_secs(2), || srv.requests()
        == total(&doc, "requests") + total(&doc, "aborted")));
    let kept = read_doc(&live.run_dir().join("result.json"));
    assert_eq!(total(&kept, "requests"), total(&doc, "requests"));
    assert_eq!(live.meta()["outcome"]["exit_code"], 0);
    // Finished: still listed and answerable, until pruned.
    let (code, out, _) = ctl(&runs, &["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("DONE") && out.contains("exit 0"), "{out}");
    let (code, _, _) = ctl(&runs, &[&live.meta()["id"].as_str().unwrap()[..3], "wait"]);
    assert_eq!(code, 0);
    let (code, out, _) = volley(&runs, &["ls", "--prune"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("no runs"), "{out}");
    let _ = std::fs::remove_dir_all(&live.dir);
}

#[test]
fn a_thousand_rapid_commands_do_not_disturb_the_run() {
    let srv = server();
    let live = start("rapid", &srv.url(), &["-c", "4", "-n", "1500"]);
    let socket = live.run_dir().join("control.sock");
    let rt = runtime();
    let sent = rt.block_on(async {
        use proto::command_request::Command as C;
        use volley::control::{client, proto, PROTOCOL_VERSION};
        let mut c = client::connect(&client::Target::Unix(socket))
            .await
            .unwrap();
        let mut sent = 0;
        for i in 0..1000u32 {
            let cmd = match i % 4 {
                0 => C::Pause(proto::Empty {}),
                1 => C::Resume(proto::Empty {}),
                2 => C::SetVus(4 + i % 3),
                _ => C::Step(0),
            };
            let r = c
                .command(proto::CommandRequest {
                    version: PROTOCOL_VERSION,
                    sender: "test".into(),
                    command: Some(cmd),
                })
                .await;
            match r {
                Ok(_) => sent += 1,
                // The run may end before the thousandth.
                Err(s) if s.message().contains("ended") => break,
                Err(s) => panic!("command {i}: {s}"),
            }
        }
        // The last word is resume, so the run can finish its iterations.
        let _ = c
            .command(proto::CommandRequest {
                version: PROTOCOL_VERSION,
                sender: "test".into(),
                command: Some(C::Resume(proto::Empty {})),
            })
            .await;
        sent
    });
    assert!(sent > 100, "only {sent} commands went through");
    let r = live.run.finish(Duration::from_secs(60));
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let doc = read_doc(&live.out);
    assert!(eventually(Duration::from_secs(2), || srv.requests() == 1500));
    assert_eq!(total(&doc, "requests"), 1500);
    let _ = std::fs::remove_dir_all(&live.dir);
}

#[test]
fn tcp_needs_the_token_and_refusals_change_nothing() {
    let srv = server();
    let live = start(
        "token",
        &srv.url(),
        &["-c", "2", "-d", "60s", "--control", "127.0.0.1:0"],
    );
    let meta = live.meta();
    let url = meta["tcp"].as_str().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let token_file = live.run_dir().join("token");
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert_eq!(token.len(), 64);
    let runs = live.runs.clone();
    let over_tcp = |envs: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec!["ctl", "--connect", &url];
        args.extend_from_slice(extra);
        volley(&runs, &args, envs)
    };
    let (code, out, err) = over_tcp(&[], &["vus", "9"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("needs its token"), "{err}");
    let (code, out, err) = over_tcp(&[("VOLLEY_TOKEN", &"0".repeat(64))], &["status", "--json"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("invalid token"), "{err}");
    // Nothing leaked: neither the target nor the scenario is in what a stranger saw.
    assert!(
        !out.contains("127.0.0.1") && !err.contains(&srv.url()),
        "{out}{err}"
    );
    // Nothing changed; the failures were counted.
    let st = status(&runs);
    assert_eq!(st["vus_target"], 2, "{st}");
    assert_eq!(st["auth_failures"], 2, "{st}");
    // The right token, from a file or the environment, works.
    let tf = token_file.to_str().unwrap();
    let (code, out, err) = over_tcp(&[], &["--token-file", tf, "vus", "3"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("set VUs 3"), "{out}");
    assert!(eventually(Duration::from_secs(5), || {
        let (code, out, err) = over_tcp(&[("VOLLEY_TOKEN", token.trim())], &["status", "--json"]);
        assert_eq!(code, 0, "{err}");
        out.contains("\"vus_target\":3")
    }));
    // The token is never printed again (only once, at the start).
    assert_eq!(live.run.stderr_text().matches(token.trim()).count(), 1);
    live.stop();
}

#[test]
fn tls_with_a_self_signed_certificate_is_pinned_by_its_fingerprint() {
    let srv = server();
    let live = start(
        "tls",
        &srv.url(),
        &[
            "-c",
            "1",
            "-d",
            "60s",
            "--control",
            "127.0.0.1:0",
            "--control-self-signed",
        ],
    );
    let meta = live.meta();
    let url = meta["tcp"].as_str().unwrap().to_string();
    assert!(url.starts_with("https://"), "{url}");
    let fp = meta["tls_fingerprint"].as_str().unwrap().to_string();
    // The run's notice can reach stderr a moment after its metadata file.
    assert!(eventually(Duration::from_secs(10), || live
        .run
        .stderr_text()
        .contains(&fp)));
    let token = std::fs::read_to_string(live.run_dir().join("token")).unwrap();
    let runs = live.runs.clone();
    let env = [("VOLLEY_TOKEN", token.trim())];
    let (code, out, err) = volley(
        &runs,
        &["ctl", "--connect", &url, "--fingerprint", &fp, "status"],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("RUNNING"), "{out}");
    let wrong = fp.replace(|c: char| c.is_ascii_hexdigit(), "0");
    let (code, _, err) = volley(
        &runs,
        &["ctl", "--connect", &url, "--fingerprint", &wrong, "status"],
        &env,
    );
    assert_eq!(code, 1, "{err}");
    live.stop();
}

#[test]
fn tcp_off_loopback_without_tls_is_refused_before_any_request() {
    let srv = server();
    let dir = scratch("control-noloop");
    let runs = dir.join("runs");
    let (code, _, err) = volley(
        &runs,
        &[
            &srv.url(),
            "--headless",
            "-n",
            "5",
            "--control",
            "0.0.0.0:0",
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("not a loopback address") && err.contains("needs TLS"),
        "{err}"
    );
    assert_eq!(srv.requests(), 0);
    // Nothing was created for it.
    assert!(std::fs::read_dir(&runs).map_or(true, |mut d| d.next().is_none()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_directory_others_can_enter_is_refused() {
    let srv = server();
    let live = start("mode", &srv.url(), &["-c", "1", "-d", "60s"]);
    let runs = live.runs.clone();
    std::fs::set_permissions(&runs, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, _, err) = ctl(&runs, &["vus", "5"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("mode 0755") && err.contains("chmod 700"),
        "{err}"
    );
    // A new run refuses to start there, before any request.
    let other = server();
    let (code, _, err) = volley(&runs, &[&other.url(), "--headless", "-n", "5"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("mode 0755"), "{err}");
    assert_eq!(other.requests(), 0);
    // Nothing changed: the mode is as it was, the run still has its one VU.
    let mode = std::fs::metadata(&runs).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755);
    std::fs::set_permissions(&runs, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(status(&runs)["vus_target"], 1);
    // A socket of another mode is refused too.
    let sock = live.run_dir().join("control.sock");
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (code, _, err) = ctl(&runs, &["status"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not 0600"), "{err}");
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600)).unwrap();
    live.stop();
}

#[test]
fn a_client_of_another_protocol_version_is_told_so() {
    let srv = server();
    let live = start("version", &srv.url(), &["-c", "1", "-d", "60s"]);
    let socket = live.run_dir().join("control.sock");
    let rt = runtime();
    rt.block_on(async {
        use volley::control::{client, proto};
        let mut c = client::connect(&client::Target::Unix(socket))
            .await
            .unwrap();
        let e = c
            .command(proto::CommandRequest {
                version: 2,
                sender: "future".into(),
                command: Some(proto::command_request::Command::SetVus(50)),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::FailedPrecondition);
        assert!(
            e.message().contains("this run speaks v1") && e.message().contains("the client v2"),
            "{}",
            e.message()
        );
        let e = c
            .hello(proto::HelloRequest {
                version: 0,
                client: "old".into(),
            })
            .await
            .unwrap_err();
        assert!(e.message().contains("the client v0"), "{}", e.message());
    });
    // Nothing changed.
    assert_eq!(status(&live.runs)["vus_target"], 1);
    live.stop();
}

#[test]
fn watch_streams_snapshots_and_who_sent_what() {
    let srv = server();
    let live = start("watch", &srv.url(), &["-c", "2", "-d", "60s"]);
    let socket = live.run_dir().join("control.sock");
    let runs = live.runs.clone();
    let rt = runtime();
    rt.block_on(async {
        use volley::control::{client, proto, wire, PROTOCOL_VERSION};
        let mut c = client::connect(&client::Target::Unix(socket))
            .await
            .unwrap();
        let mut stream = c
            .watch(proto::WatchRequest {
                version: PROTOCOL_VERSION,
                client: "test".into(),
                deltas: true,
                every_ms: 250,
            })
            .await
            .unwrap()
            .into_inner();
        let mut dec = wire::Decoder::default();
        let mut sizes = Vec::new();
        let mut events = Vec::new();
        let mut last = None;
        let set_by_ctl = |events: &[proto::ControlEvent]| {
            events.iter().any(|e| {
                e.applied == "set VUs 3"
                    && e.sender.starts_with("ctl ")
                    && e.sender.ends_with("(local)")
            })
        };
        // At least 2.5 s of updates, and on until the other client's command has shown up
        // (a loaded machine may take longer to send it), 10 s at most.
        let t = std::time::Instant::now();
        while t.elapsed() < Duration::from_millis(2500) || !set_by_ctl(&events) {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "no `set VUs 3` from ctl in 10 s: {events:?}"
            );
            let u = stream.message().await.unwrap().expect("the stream goes on");
            sizes.push(u.snapshot_json.len());
            events.extend(u.control_events);
            let snap = dec.decode(&u.snapshot_json).unwrap();
            assert_eq!(snap.total.requests, u.status.unwrap().requests);
            let rows = &snap.total.timeline;
            assert!(
                rows.windows(2).all(|w| w[1].t == w[0].t + w[0].dt),
                "{rows:?}"
            );
            if sizes.len() == 3 {
                // Another client's command shows up in the stream, with its sender.
                let (code, _, err) = ctl(&runs, &["vus", "3"]);
                assert_eq!(code, 0, "{err}");
            }
            last = Some(snap);
        }
        let took = t.elapsed();
        let last = last.unwrap();
        // At most one update per 250 ms (the first comes at once, and one may be on
        // its way when the time is up).
        assert!(
            sizes.len() as u128 <= took.as_millis() / 250 + 2,
            "{} updates in {took:?}",
            sizes.len()
        );
        assert!(last.total.timeline.len() >= 2, "{:?}", last.total.timeline);
        assert!(last.total.requests > 0);
        assert!(set_by_ctl(&events), "{events:?}");
        // Later updates carry only new timeline rows: none is as large as a whole one.
        let whole = wire::encode(&last).len();
        assert!(sizes[sizes.len() - 1] < whole, "{sizes:?} vs {whole}");
    });
    live.stop();
}

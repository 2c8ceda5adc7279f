//! The binary's user-facing contract: bad input gives one located message and exit 2.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{run as run_for, scratch};

fn volley() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_volley"));
    cmd.env("VOLLEY_RUN_DIR", support::test_runs_dir());
    cmd
}

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// Every file in tests/fixtures/invalid starts with `# expect: <text>`; `volley check`
/// must exit 2 with that text in its single error line, and never panic.
#[test]
fn every_invalid_scenario_gives_its_message_and_exit_2() {
    let files = fixtures("tests/fixtures/invalid");
    assert!(files.len() >= 20, "only {} fixtures", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        let expected = src
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no '# expect:' first line", f.display()));
        let out = volley().arg("check").arg(f).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let ok = out.status.code() == Some(2)
            && stderr.contains(expected)
            && stderr.starts_with("error: ")
            && stderr.trim_end().lines().count() == 1
            && !stderr.contains("panicked")
            && out.stdout.is_empty();
        if !ok {
            failures.push(format!(
                "{}: exit {:?}\n  expected: {expected}\n  got: {stderr}",
                f.display(),
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn missing_file_is_exit_2_with_the_path() {
    let out = volley()
        .args(["run", "no/such/scenario.toml", "--headless"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no/such/scenario.toml: cannot read scenario file"),
        "{stderr}"
    );
}

#[test]
fn bad_command_line_values_are_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["http://127.0.0.1:1/", "-c", "0"],
            "-c: must be at least 1",
        ),
        (
            &["http://127.0.0.1:1/", "-d", "soon"],
            "invalid duration 'soon'",
        ),
        (
            &["http://127.0.0.1:1/", "-m", "FETCH"],
            "unknown HTTP method 'FETCH'",
        ),
        (
            &["http://127.0.0.1:1/", "-H", "NoColon"],
            "expected \"Name: value\"",
        ),
        (&["not a url"], "invalid URL 'not a url'"),
        (
            &["http://127.0.0.1:1/", "--out", "pdf=x.pdf"],
            "unknown kind 'pdf'",
        ),
        (
            &["http://127.0.0.1:1/", "--body", "@/no/such/body"],
            "cannot read '/no/such/body'",
        ),
        // Zero panicked (exit 101); a microsecond printed a line per tick.
        (
            &["http://127.0.0.1:1/", "--progress", "0s"],
            "'0s' is too short",
        ),
        (
            &["http://127.0.0.1:1/", "--progress", "1us"],
            "'1us' is too short",
        ),
    ];
    for (args, expected) in cases {
        let out = volley().args(*args).arg("--headless").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Every shipped scenario validates (and `volley check` prints its plan).
#[test]
fn every_shipped_scenario_checks() {
    let files = fixtures("scenarios");
    for name in [
        "peak-hours.toml",
        "gradual-rampup.toml",
        "chaos.toml",
        "load.toml",
    ] {
        assert!(
            files
                .iter()
                .any(|f| f.file_name().is_some_and(|n| n == name)),
            "scenarios/{name} is missing"
        );
    }
    for f in files {
        let out = volley().arg("check").arg(&f).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("requests"), "{stdout}");
    }
}

/// The embedded demo scenario is the shipped file.
#[test]
fn demo_scenario_is_embedded() {
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo.toml"))
            .unwrap();
    assert_eq!(shipped, volley::DEMO_SCENARIO);
    volley::scenario::parse(Path::new("scenarios/demo.toml"), volley::DEMO_SCENARIO).unwrap();
}

/// A header named in `[http] secret_headers` is never printed: not by `volley check`, not
/// in the summary or the result files.
#[test]
fn custom_secret_headers_are_redacted() {
    let dir = std::env::temp_dir().join(format!("volley-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("s.toml");
    std::fs::write(
        &f,
        "name = \"s\"\nbase_url = \"http://127.0.0.1:1\"\n[headers]\nX-Team-Token = \"PLANTED-SECRET-123\"\n[http]\nsecret_headers = [\"X-Team-Token\"]\n[load]\niterations = 2\n[[request]]\npath = \"/\"\n",
    )
    .unwrap();
    let out = volley().arg("check").arg(&f).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("x-team-token: [redacted]"), "{stdout}");
    assert!(!stdout.contains("PLANTED"), "{stdout}");
    let json = dir.join("r.json");
    let html = dir.join("r.html");
    let out = volley()
        .arg("run")
        .arg(&f)
        .args(["--headless", "--out"])
        .arg(format!("json={}", json.display()))
        .arg("--out")
        .arg(format!("html={}", html.display()))
        .output()
        .unwrap();
    // Nothing listens on port 1: no response, exit 1.
    assert_eq!(out.status.code(), Some(1));
    for text in [
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        std::fs::read_to_string(&json).unwrap(),
        std::fs::read_to_string(&html).unwrap(),
    ] {
        assert!(!text.contains("PLANTED"), "secret leaked");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `volley check /dev/zero` read forever. A scenario or theme that is not a regular file,
/// or is larger than 16 MB, is refused at once (exit 2, naming the file).
#[test]
fn endless_special_and_huge_files_are_refused() {
    let dir = scratch("cli-files");
    let huge = dir.join("huge.toml");
    // Sparse: 17 MB long without writing 17 MB.
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(17 * 1024 * 1024)
        .unwrap();
    let fifo = dir.join("pipe.toml");
    let made = Command::new("mkfifo").arg(&fifo).status();
    let (huge, fifo, dir_s) = (
        huge.display().to_string(),
        fifo.display().to_string(),
        dir.display().to_string(),
    );
    let mut cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec!["check", "/dev/zero"],
            "/dev/zero",
            "not a regular file",
        ),
        (
            vec!["check", &dir_s],
            &dir_s,
            "not a regular file (a folder)",
        ),
        (vec!["check", &huge], &huge, "larger than the 16 MB limit"),
        (
            vec!["http://127.0.0.1:1/", "--headless", "--theme", "/dev/zero"],
            "/dev/zero",
            "not a regular file",
        ),
        (
            vec!["http://127.0.0.1:1/", "--headless", "--theme", &huge],
            &huge,
            "larger than the 16 MB limit",
        ),
    ];
    // Nor a result document (report, compare, --baseline).
    cases.push((
        vec!["report", "/dev/zero"],
        "/dev/zero",
        "not a regular file (a character device)",
    ));
    cases.push((
        vec!["compare", "/dev/zero", "/dev/zero"],
        "/dev/zero",
        "not a regular file (a character device)",
    ));
    cases.push((
        vec![
            "http://127.0.0.1:1/",
            "--headless",
            "--baseline",
            "/dev/zero",
        ],
        "--baseline: /dev/zero",
        "not a regular file (a character device)",
    ));
    // A request body from a device never ends either.
    cases.push((
        vec!["http://127.0.0.1:1/", "--headless", "--body", "@/dev/zero"],
        "--body: cannot read '/dev/zero'",
        "not a regular file (a character device)",
    ));
    if made.is_ok_and(|s| s.success()) {
        // Opening a FIFO with no writer blocks: refused without opening it.
        cases.push((vec!["run", &fifo, "--headless"], &fifo, "a named pipe"));
    }
    for (args, file, why) in cases {
        let r = run_for(&args, Duration::from_secs(20));
        assert_eq!(r.code(), Some(2), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains(file) && r.stderr.contains(why),
            "{args:?}: {}",
            r.stderr
        );
        assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.stderr);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `localhost:8080/x` and `127.0.0.1:8080/x` were refused ("relative URL without a base",
/// "scheme 'localhost' is not supported"): http:// is assumed, as curl and oha do, and said.
#[test]
fn a_url_without_a_scheme_means_http() {
    let server = support::TestServer::answering(|_, _| support::Reply::ok());
    let host_port = server.url().trim_start_matches("http://").to_string();
    let typed = format!("{host_port}/x");
    let r = run_for(
        &[&typed, "-n", "3", "-c", "1", "--headless"],
        Duration::from_secs(30),
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("'{typed}' has no scheme: assuming http://{typed}")),
        "{}",
        r.stderr
    );
    assert_eq!(server.requests(), 3);
    assert_eq!(server.last().unwrap().path_and_query, "/x");

    let dir = scratch("cli-scheme");
    let f = dir.join("s.toml");
    std::fs::write(
        &f,
        "name = \"s\"\nbase_url = \"http://127.0.0.1:1\"\n[load]\niterations = 1\n[[request]]\npath = \"/a\"\n",
    )
    .unwrap();
    let out = volley()
        .arg("check")
        .arg(&f)
        .args(["--target", "localhost:8080"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("http://localhost:8080/a"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("assuming http://localhost:8080/"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--out json=/etc/passwd/x.json` ran the whole test and then failed: every `--out`
/// path is checked before the first request (exit 2, with the reason).
#[test]
fn out_paths_are_checked_before_the_first_request() {
    let server = support::TestServer::answering(|_, _| support::Reply::ok());
    let dir = scratch("cli-out-check");
    let folder = dir.display().to_string();
    let url = server.url();
    // Five requests with one `--out`.
    let five = |out: &str| {
        run_for(
            &[&url, "-n", "5", "-c", "1", "--headless", "--out", out],
            Duration::from_secs(30),
        )
    };
    for (out, why) in [
        (
            "json=/etc/passwd/x.json".to_string(),
            "--out /etc/passwd/x.json: '/etc/passwd' is not a folder",
        ),
        (
            "html=/etc/passwd/deeper/r.html".to_string(),
            "'/etc/passwd' is not a folder",
        ),
        (format!("csv={folder}"), "is a folder, not a file"),
    ] {
        let r = five(&out);
        assert_eq!(r.code(), Some(2), "{out}: {}", r.stderr);
        assert!(r.stderr.contains(why), "{out}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{out}: ran: {}", r.stdout);
    }
    assert_eq!(server.requests(), 0, "a request was sent");
    // A path whose folders do not exist yet passes (they are created when writing), and
    // the check leaves nothing behind.
    let nested = dir.join("a/b/r.json");
    let r = five(&format!("json={}", nested.display()));
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert!(nested.is_file());
    assert!(
        r.stderr
            .contains(&format!("volley: wrote {}", nested.display())),
        "{}",
        r.stderr
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["a"], "probe files left behind");

    // A FIFO is not probed (opening it would block, or end what its reader reads): the
    // reader gets the whole document.
    let fifo = dir.join("pipe.json");
    if Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        let r = five(&format!("json={}", fifo.display()));
        assert_eq!(r.code(), Some(0), "{}", r.stderr);
        let doc: serde_json::Value = serde_json::from_str(&reader.join().unwrap()).unwrap();
        assert_eq!(support::total(&doc, "requests"), 5);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts a headless 1-VU run of `url` for `duration` in `dir` with `--out` each of
/// `outs`, and waits until it is running.
fn start_running(dir: &Path, url: &str, duration: &str, outs: &[&str]) -> support::Spawned {
    let mut args = vec![
        url,
        "-d",
        duration,
        "-c",
        "1",
        "--headless",
        "--progress",
        "100ms",
    ];
    for o in outs {
        args.extend(["--out", o]);
    }
    let mut child = support::Spawned::start_in(dir, &args, &[]);
    assert!(
        child.wait_stderr("RUNNING", Duration::from_secs(20)),
        "{}",
        child.stderr_text()
    );
    child
}

/// When a file still cannot be written at the end (its folder was replaced during the
/// run), the results go to a fallback file in the working folder, and volley says where.
#[test]
fn results_survive_an_output_that_fails_at_the_end() {
    let server = support::TestServer::answering(|_, _| support::Reply::ok());
    let dir = scratch("cli-out-fallback");
    let url = server.url();
    // 5 s: the folder is replaced while the run goes on, on a loaded machine too.
    let child = start_running(&dir, &url, "5s", &["json=sub/r.json", "txt=sub/r.txt"]);
    // The checked folder becomes a file: writing fails at the end.
    std::fs::write(dir.join("sub"), "in the way").unwrap();
    let r = child.finish(Duration::from_secs(30));
    assert_eq!(r.code(), Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("cannot write sub/r.json"), "{}", r.stderr);
    let saved: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("volley-results-")
        })
        .collect();
    assert_eq!(saved.len(), 1, "{}", r.stderr);
    let name = saved[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        r.stderr.contains("the results are saved in") && r.stderr.contains(&name),
        "{}",
        r.stderr
    );
    let doc = support::read_doc(&saved[0]);
    assert!(support::total(&doc, "requests") > 0);
    assert_eq!(support::total(&doc, "requests"), server.requests());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `volley report ... --out md=- | head -1` printed "Broken pipe" twice and exited 1, and
/// `volley check ... | head -1` panicked: a reader that stops reading is not an error.
#[test]
fn a_closed_stdout_pipe_is_not_an_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = root.join("tests/fixtures/results/current.json");
    let doc = doc.to_str().unwrap();
    let scenario = root.join("scenarios/demo.toml");
    let cases: &[&[&str]] = &[
        &["report", doc, "--out", "md=-"],
        &["report", doc, "--out", "html=-"],
        &["report", doc, "--out", "json=-", "--out", "txt=-"],
        &["report", doc],
        &["compare", doc, doc],
        &["check", scenario.to_str().unwrap()],
    ];
    for args in cases {
        // The reading end is closed before volley starts: every write meets EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = volley()
            .args(*args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

/// `volley run scenarios/spike.toml --duration 10s` never spiked: it ran the first 10 s of
/// a 30 s stage. `--duration` now scales the stages to fit (check shows the scaled plan);
/// `--cut` keeps the old behaviour.
#[test]
fn duration_scales_stages_and_cut_keeps_them() {
    let spike = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/spike.toml");
    let out = volley()
        .arg("check")
        .arg(&spike)
        .args(["--duration", "10s"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for want in [
        " for 10s",
        "stage 1    1765ms",
        "stage 2     588ms",
        "stage 3    3529ms",
        "stage 4     589ms",
        "stage 5    3529ms",
        "stages scaled by 0.059 to fit --duration 10s",
    ] {
        assert!(stdout.contains(want), "{want:?} in\n{stdout}");
    }
    let out = volley()
        .arg("check")
        .arg(&spike)
        .args(["--duration", "10s", "--cut"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(" for 10s") && stdout.contains("stage 1       30s"));
    assert!(!stdout.contains("scaled"), "{stdout}");

    // A run: the jump to 3 VUs at half time happens with --duration, not with --cut.
    let server = support::TestServer::answering(|_, _| support::Reply::ok());
    let dir = scratch("cli-stages");
    let f = dir.join("s.toml");
    std::fs::write(
        &f,
        format!(
            "name = \"s\"\nbase_url = \"{}\"\n[load]\nvus = 1\nthink_time = \"50ms\"\nstages = [\n  {{ duration = \"20s\", target = 1 }},\n  {{ duration = \"0s\", target = 3 }},\n  {{ duration = \"20s\", target = 3 }},\n]\n[[request]]\npath = \"/\"\n",
            server.url()
        ),
    )
    .unwrap();
    let f = f.display().to_string();
    for (extra, vus_max) in [(&[][..], 3), (&["--cut"][..], 1)] {
        let json = dir.join("r.json");
        let out_arg = format!("json={}", json.display());
        let mut args = vec![
            "run",
            &f,
            "--headless",
            "--duration",
            "1s",
            "--out",
            &out_arg,
        ];
        args.extend_from_slice(extra);
        let r = run_for(&args, Duration::from_secs(30));
        assert_eq!(r.code(), Some(0), "{args:?}: {}", r.stderr);
        let doc = support::read_doc(&json);
        assert_eq!(doc["vus_max"], vus_max, "{args:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run where nothing answered exited 0 with `0 0 0` latencies and "throughput 100% (no
/// target: full points)". Now: `–` for latencies, no throughput/latency points, one clear
/// line, exit 1. HTTP error statuses are responses: a run of 503s exits 0.
#[test]
fn a_run_where_nothing_answered_exits_1_and_says_so() {
    let dir = scratch("cli-nothing");
    let json = dir.join("r.json");
    let out_arg = format!("json={}", json.display());
    let url = format!("http://127.0.0.1:{}/", support::closed_port());
    let r = run_for(
        &[&url, "-n", "6", "-c", "2", "--headless", "--out", &out_arg],
        Duration::from_secs(30),
    );
    assert_eq!(r.code(), Some(1), "{}", r.stderr);
    let last = r.stderr.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.contains("no request got a response: is the target up?"),
        "{}",
        r.stderr
    );
    let latency_row = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("GET /") && l.contains('–'))
        .unwrap_or_else(|| panic!("no latency row of –:\n{}", r.stdout));
    assert!(!latency_row.contains(" 0 "), "{latency_row}");
    assert!(!r.stdout.contains("full points"), "{}", r.stdout);
    let doc = support::read_doc(&json);
    assert_eq!(support::total(&doc, "requests"), 6);
    let parts = doc["grade"]["parts"].as_array().unwrap();
    for p in parts.iter().filter(|p| p["name"] != "errors") {
        assert_eq!(p["score"], 0.0, "{p}");
    }
    assert_eq!(doc["grade"]["letter"], "F");

    let failing = support::TestServer::answering(|_, _| support::Reply::status(503));
    let r = run_for(
        &[&failing.url(), "-n", "6", "-c", "2", "--headless"],
        Duration::from_secs(30),
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert!(
        !r.stderr.contains("no request got a response"),
        "{}",
        r.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// GET `url` (http://HOST:PORT/PATH) with a bare HTTP/1.1 request; the response text.
fn http_get(url: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut s = std::net::TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    Ok(text)
}

/// The Prometheus endpoint closed as soon as the run ended, so no scrape saw `done`. It
/// now keeps serving the final snapshot for --prometheus-grace (Ctrl-C ends it early).
#[test]
fn prometheus_serves_the_done_state_after_the_run() {
    let server = support::TestServer::answering(|_, _| support::Reply::ok());
    let metrics_url = |child: &support::Spawned| {
        child
            .stderr_text()
            .lines()
            .find_map(|l| l.strip_prefix("volley: Prometheus metrics on "))
            .map(str::to_string)
    };
    let url = server.url();
    let args = |grace: &'static str| {
        vec![
            url.clone(),
            "-n".into(),
            "20".into(),
            "-c".into(),
            "1".into(),
            "--headless".into(),
            "--prometheus".into(),
            "127.0.0.1:0".into(),
            "--prometheus-grace".into(),
            grace.into(),
        ]
    };
    let long = args("60s");
    let long: Vec<&str> = long.iter().map(String::as_str).collect();
    let mut child = support::Spawned::start(&long, &[]);
    assert!(
        child.wait_stderr("for a last scrape", Duration::from_secs(30)),
        "{}",
        child.stderr_text()
    );
    let metrics = metrics_url(&child).expect("the metrics URL");
    let text = http_get(&metrics).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains("volley_run_state{state=\"done\"} 1"),
        "{text}"
    );
    let total: f64 = text
        .lines()
        .filter(|l| l.starts_with("volley_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(total, 20.0);
    // Ctrl-C ends the grace period at once.
    child.signal(libc::SIGINT);
    let r = child.finish(Duration::from_secs(20));
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert!(http_get(&metrics).is_err(), "still serving after the end");

    // A short grace runs out by itself.
    let short = args("300ms");
    let short: Vec<&str> = short.iter().map(String::as_str).collect();
    let r = run_for(&short, Duration::from_secs(30));
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert!(
        r.stderr.contains("for 300ms for a last scrape"),
        "{}",
        r.stderr
    );

    // A run stopped by a signal (a CI cancel) gets no grace: volley exits.
    let mut child = support::Spawned::start(
        &[
            &url,
            "-d",
            "60s",
            "-c",
            "1",
            "--headless",
            "--progress",
            "100ms",
            "--prometheus",
            "127.0.0.1:0",
            "--prometheus-grace",
            "10m",
        ],
        &[],
    );
    assert!(child.wait_stderr("RUNNING", Duration::from_secs(20)));
    child.signal(libc::SIGTERM);
    let r = child.finish(Duration::from_secs(60));
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert!(!r.stderr.contains("last scrape"), "{}", r.stderr);
}

/// Under the console, the exporter serves the DONE state while the DONE screen is up
/// (within the grace period) and stops when the console is quit with `q`.
#[test]
fn prometheus_serves_done_under_the_console_until_q() {
    let server = support::TestServer::answering(|_, _| support::Reply::ok());
    let mut vt = support::PtyChild::spawn(
        &[
            &server.url(),
            "-n",
            "10",
            "-c",
            "1",
            "--prometheus",
            "127.0.0.1:0",
            "--prometheus-grace",
            "60s",
        ],
        &[],
        100,
        30,
    );
    assert!(
        vt.wait_for("/metrics", Duration::from_secs(20)),
        "{}",
        vt.text()
    );
    let text = vt.text();
    let rest = text.split("Prometheus metrics on ").nth(1).unwrap();
    let metrics = format!("{}/metrics", &rest[..rest.find("/metrics").unwrap()]);
    assert!(
        vt.wait_screen("DONE", Duration::from_secs(30)),
        "{}",
        vt.screen()
    );
    let done = support::eventually(Duration::from_secs(10), || {
        http_get(&metrics).is_ok_and(|t| t.contains("volley_run_state{state=\"done\"} 1"))
    });
    assert!(done, "no scrape saw done");
    let status = vt
        .quit(Duration::from_secs(30))
        .expect("volley did not end");
    assert_eq!(status.code(), Some(0));
    assert!(http_get(&metrics).is_err(), "still serving after q");
}

/// SIGTERM was logged as "stopped by command": the stop event names the signal.
#[test]
fn a_stop_by_signal_is_logged_with_the_signal() {
    let server = support::TestServer::answering(|_, _| support::Reply::ok());
    let dir = scratch("cli-signal");
    for (sig, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT")] {
        let json = dir.join(format!("{name}.json"));
        let out_arg = format!("json={}", json.display());
        let child = start_running(&dir, &server.url(), "60s", &[&out_arg]);
        child.signal(sig);
        let r = child.finish(Duration::from_secs(30));
        assert_eq!(r.code(), Some(0), "{}", r.stderr);
        let doc = support::read_doc(&json);
        let stops: Vec<&str> = doc["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "stop")
            .filter_map(|e| e["detail"].as_str())
            .collect();
        assert_eq!(stops, [format!("stopped by {name}")], "{}", doc["events"]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `check` showed request weights that `[[user]]` tasks make meaningless, and hid
/// templated paths ("(templated path)"). Weights show only without user types; a
/// templated path shows as written (an environment value stays hidden).
#[test]
fn check_shows_templated_paths_and_weights_only_where_they_count() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let check = |f: &Path, envs: &[(&str, &str)]| {
        let out = volley()
            .arg("check")
            .arg(f)
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        stdout
    };
    let requests = |text: &str| -> Vec<String> {
        text.lines()
            .skip_while(|l| !l.starts_with("requests"))
            .skip(1)
            .filter(|l| l.starts_with("  ") && !l.starts_with("      "))
            .map(str::to_string)
            .collect()
    };
    let mixed = check(&root.join("scenarios/mixed.toml"), &[]);
    assert!(
        mixed.contains("/api/items/{{random_int(1, 1000)}}"),
        "{mixed}"
    );
    assert!(mixed.contains("/api/search?q={{users.segment}}"), "{mixed}");
    assert!(!mixed.contains("templated path"), "{mixed}");
    let lines = requests(&mixed);
    assert_eq!(lines.len(), 6, "{mixed}");
    assert!(lines.iter().all(|l| !l.contains("weight")), "{mixed}");
    // Without user types, the request weights choose: shown.
    let demo = check(&root.join("scenarios/smoke.toml"), &[]);
    assert!(
        requests(&demo).iter().all(|l| l.contains("weight")),
        "{demo}"
    );

    let dir = scratch("cli-check-template");
    let f = dir.join("s.toml");
    std::fs::write(
        &f,
        "name = \"s\"\nbase_url = \"http://127.0.0.1:1\"\n[load]\niterations = 1\n[[request]]\nname = \"a\"\npath = \"/u/{{vu}}/{{env.VOLLEY_CLI_TEST_PART}}?i={{iteration}}\"\n",
    )
    .unwrap();
    let text = check(&f, &[("VOLLEY_CLI_TEST_PART", "S3CR3T-part")]);
    assert!(
        text.contains("http://127.0.0.1:1/u/{{vu}}/{{env}}?i={{iteration}}"),
        "{text}"
    );
    assert!(!text.contains("S3CR3T"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Quick mode cut endpoint names to 14 characters even in files: the summary in a file
/// or a pipe, and every report, has the name in full.
#[test]
fn endpoint_names_are_whole_in_files_and_pipes() {
    let server = support::TestServer::answering(|_, _| support::Reply::ok());
    let dir = scratch("cli-names");
    let url = format!("{}/api/v2/customers/search", server.url());
    let (txt, md) = (dir.join("r.txt"), dir.join("r.md"));
    let r = run_for(
        &[
            &url,
            "-n",
            "3",
            "-c",
            "1",
            "--headless",
            "--out",
            &format!("txt={}", txt.display()),
            "--out",
            &format!("md={}", md.display()),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let name = "GET /api/v2/customers/search";
    for (what, text) in [
        ("stdout", r.stdout.clone()),
        ("txt", std::fs::read_to_string(&txt).unwrap()),
        ("md", std::fs::read_to_string(&md).unwrap()),
    ] {
        assert!(text.contains(name), "{what}: {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

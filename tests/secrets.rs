//! Secrets and safety: planted secrets never reach an output; TLS is verified unless
//! `--insecure` says otherwise (and the console says so); volley's own listening sockets
//! bind 127.0.0.1; bad theme files are bad input.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{
    eventually, read_doc, run, scratch, total, PtyChild, Reply, Run, Spawned, TestServer, TlsServer,
};

/// Every planted secret contains this; no output may.
const MARK: &str = "S3CR3T";
/// The value of the environment variable the scenario reads with `{{env.NAME}}`.
const ENV_SECRET: &str = "S3CR3T-from-env";
const ENV_NAME: &str = "VOLLEY_TEST_PLANTED_SECRET";

/// Every `--out` kind volley writes (see `volley --help`, src/output.rs).
const KINDS: &[(&str, &str)] = &[
    ("json", "json"),
    ("csv", "csv"),
    ("html", "html"),
    ("hdr", "hlog"),
    ("junit", "xml"),
    ("md", "md"),
    ("txt", "txt"),
];

fn out_args(dir: &Path) -> Vec<String> {
    KINDS
        .iter()
        .flat_map(|(kind, ext)| {
            [
                "--out".to_string(),
                format!("{kind}={}", dir.join(format!("out.{ext}")).display()),
            ]
        })
        .collect()
}

/// Asserts that no text in `texts` (name, content) contains the mark.
fn clean(texts: &[(String, String)]) {
    for (name, text) in texts {
        if let Some(at) = text.find(MARK) {
            let from = text[..at]
                .char_indices()
                .rev()
                .nth(60)
                .map_or(0, |(i, _)| i);
            let to = (at + 60).min(text.len());
            panic!(
                "a secret leaked into {name}: ...{}...",
                text.get(from..to).unwrap_or(&text[at..])
            );
        }
    }
}

/// stdout, stderr and every output file of a finished run.
fn outputs(r: &Run, dir: &Path) -> Vec<(String, String)> {
    let mut all = vec![
        ("stdout".to_string(), r.stdout.clone()),
        ("stderr".to_string(), r.stderr.clone()),
    ];
    for (kind, ext) in KINDS {
        let p = dir.join(format!("out.{ext}"));
        let text = std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("--out {kind}: {} not written: {e}", p.display()));
        assert!(!text.is_empty(), "--out {kind} is empty");
        all.push((format!("--out {kind}"), text));
    }
    all
}

/// A server that shows it got the secrets (Set-Cookie back, the Authorization header
/// echoed in an error body) and fails some requests, so error paths run too.
fn echo_server() -> TestServer {
    TestServer::answering(|n, seen| {
        let auth = seen
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .map_or(String::new(), |(_, v)| v.clone());
        if n % 5 == 4 {
            Reply::status(401).body(format!("denied for {auth}"))
        } else {
            Reply::ok()
                .header("set-cookie", "sid=S3CR3T-set-cookie; HttpOnly")
                .body(format!("{{\"id\": 7, \"you\": \"{auth}\"}}"))
        }
    })
}

fn header<'a>(seen: &'a support::Seen, name: &str) -> Option<&'a str> {
    seen.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn secrets_on_the_command_line_never_reach_an_output() {
    let server = echo_server();
    let dir = scratch("secrets-quick");
    let url = format!("{}/api/items", server.url());
    let mut args: Vec<String> = [
        url.as_str(),
        "-n",
        "40",
        "-c",
        "2",
        "--headless",
        "-H",
        "Authorization: Bearer S3CR3T-quick-auth",
        "-H",
        "Cookie: sid=S3CR3T-quick-cookie",
        "-H",
        "Proxy-Authorization: Basic S3CR3T-quick-proxy",
        "-H",
        "X-Api-Key: S3CR3T-quick-key",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(out_args(&dir));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(&args, Duration::from_secs(30));
    assert_eq!(r.code(), Some(0), "{r:?}");
    // The secrets were really sent.
    let last = server.last().expect("requests arrived");
    assert_eq!(
        header(&last, "authorization"),
        Some("Bearer S3CR3T-quick-auth")
    );
    assert_eq!(header(&last, "cookie"), Some("sid=S3CR3T-quick-cookie"));
    clean(&outputs(&r, &dir));
    // `volley report` re-renders every kind from the saved document: still clean.
    let again = scratch("secrets-quick-report");
    let mut args: Vec<String> = vec!["report".into(), dir.join("out.json").display().to_string()];
    args.extend(out_args(&again));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(&args, Duration::from_secs(30));
    assert_eq!(r.code(), Some(0), "{r:?}");
    clean(&outputs(&r, &again));
}

/// A scenario with secrets in default and request headers (Authorization, Cookie,
/// Proxy-Authorization), in `{{env.NAME}}` values (a plain header, the query, a JSON
/// body), and a captured Set-Cookie sent back in a later step.
fn secret_scenario(dir: &Path, base: &str) -> PathBuf {
    let file = dir.join("secret.toml");
    std::fs::write(
        &file,
        format!(
            r#"name = "secrets"
base_url = "{base}"
thresholds = ["p95 < 5s", "error_rate < 50%"]

[headers]
Authorization = "Bearer S3CR3T-scenario-auth"
X-Custom = "{{{{env.{ENV_NAME}}}}}"

[load]
vus = 2
iterations = 30

[[request]]
name = "login"
method = "POST"
path = "/login?key={{{{env.{ENV_NAME}}}}}"
json = {{ user = "ann", password = "{{{{env.{ENV_NAME}}}}}" }}
headers = {{ Cookie = "session=S3CR3T-scenario-cookie", Proxy-Authorization = "Basic S3CR3T-scenario-proxy" }}
capture = [{{ var = "sid", header = "Set-Cookie" }}]
check = [{{ status = 200 }}]

[[request]]
name = "me"
path = "/me"
headers = {{ X-Session = "{{{{sid}}}}", X-Also = "v-{{{{env.{ENV_NAME}}}}}" }}
check = [{{ body_contains = "id" }}]

[[user]]
name = "member"
steps = ["login", "me"]
"#
        ),
    )
    .unwrap();
    file
}

#[test]
fn secrets_in_a_scenario_never_reach_an_output() {
    let server = echo_server();
    let dir = scratch("secrets-scenario");
    let file = secret_scenario(&dir, &server.url());
    let file_arg = file.display().to_string();

    // `volley check` prints the plan: headers are shown, secret ones redacted.
    let check = Spawned::start(&["check", &file_arg], &[(ENV_NAME, ENV_SECRET)])
        .finish(Duration::from_secs(20));
    assert_eq!(check.code(), Some(0), "{check:?}");
    assert!(
        check.stdout.contains("x-custom: [redacted]"),
        "{}",
        check.stdout
    );
    clean(&[
        ("check stdout".into(), check.stdout.clone()),
        ("check stderr".into(), check.stderr.clone()),
    ]);

    let mut args: Vec<String> = vec!["run".into(), file_arg.clone(), "--headless".into()];
    args.extend(out_args(&dir));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = Spawned::start(&args, &[(ENV_NAME, ENV_SECRET)]).finish(Duration::from_secs(30));
    assert!(matches!(r.code(), Some(0 | 99)), "{r:?}");
    // The secrets were really used: the env value, the cookie, the captured Set-Cookie.
    let last = server.last().expect("requests arrived");
    assert_eq!(
        header(&last, "authorization"),
        Some("Bearer S3CR3T-scenario-auth")
    );
    assert_eq!(header(&last, "x-custom"), Some(ENV_SECRET));
    let doc = read_doc(&dir.join("out.json"));
    assert_eq!(total(&doc, "requests"), server.requests());
    clean(&outputs(&r, &dir));
}

#[test]
fn secrets_in_the_console_are_never_drawn() {
    let server = echo_server();
    let dir = scratch("secrets-console");
    let file = secret_scenario(&dir, &server.url());
    let mut vt = PtyChild::spawn(
        &["run", file.to_str().unwrap(), "--fps", "20"],
        &[(ENV_NAME, ENV_SECRET)],
        120,
        40,
    );
    assert!(
        vt.wait_for("DONE", Duration::from_secs(20)),
        "{}",
        vt.text()
    );
    // The endpoint detail view (recent errors, statuses) too.
    vt.keys("\r");
    assert!(
        vt.wait_screen("latency distribution", Duration::from_secs(10)),
        "{}",
        vt.screen()
    );
    // Esc, then q once Esc has been read on its own (Esc and q in one read are Alt+q).
    vt.keys("\x1b");
    assert!(
        eventually(Duration::from_secs(10), || !vt
            .screen()
            .contains("latency distribution")),
        "{}",
        vt.screen()
    );
    vt.keys("q");
    assert!(vt.wait_exit(Duration::from_secs(10)).is_some());
    assert!(server.requests() > 0);
    clean(&[("the console".into(), vt.text())]);
}

#[test]
fn error_messages_do_not_echo_secrets() {
    let dir = scratch("secrets-errors");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "http://127.0.0.1:1/".into(),
                "-H".into(),
                "Authorization Bearer S3CR3T-no-colon".into(),
            ],
            "expected \"Name: value\"",
        ),
        (
            vec![
                "http://127.0.0.1:1/".into(),
                "-H".into(),
                "Authorization: Bearer S3CR3T-bad-\u{1}".into(),
            ],
            "invalid value for header 'Authorization'",
        ),
        (
            vec!["http://admin:S3CR3T-url-password@127.0.0.1:1/".into()],
            "has a user name or password in it",
        ),
    ];
    let mut files: Vec<(String, &str)> = Vec::new();
    for (name, text, expect) in [
        (
            "as_string.toml",
            "headers = \"Authorization: Bearer S3CR3T-as-string\"\n",
            "invalid type: string \"[redacted]\"",
        ),
        (
            "bad_value.toml",
            "[headers]\nCookie = \"sid=S3CR3T-bad-value\\u0001\"\n",
            "invalid value for header 'Cookie'",
        ),
        (
            "url_creds.toml",
            "base_url = \"http://ann:S3CR3T-in-url@127.0.0.1:1\"\n",
            "has a user name or password in it",
        ),
    ] {
        let base = if text.starts_with("base_url") {
            String::new()
        } else {
            "base_url = \"http://127.0.0.1:1\"\n".into()
        };
        let p = dir.join(name);
        std::fs::write(
            &p,
            format!(
                "name = \"x\"\n{base}{text}[load]\niterations = 1\n[[request]]\npath = \"/\"\n"
            ),
        )
        .unwrap();
        files.push((p.display().to_string(), expect));
    }
    let mut all = cases;
    let ok = dir.join("ok.toml");
    std::fs::write(
        &ok,
        "name = \"x\"\nbase_url = \"http://127.0.0.1:1\"\n[load]\niterations = 1\n[[request]]\npath = \"/\"\n",
    )
    .unwrap();
    all.push((
        vec![
            "run".into(),
            ok.display().to_string(),
            "--headless".into(),
            "--target".into(),
            "http://u:S3CR3T-target@127.0.0.1:1/".into(),
        ],
        "--target: URL 'http://127.0.0.1:1/' has a user name or password in it",
    ));
    for (f, expect) in &files {
        all.push((vec!["check".into(), f.clone()], expect));
        all.push((vec!["run".into(), f.clone(), "--headless".into()], expect));
    }
    for (args, expect) in all {
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        if a[0].starts_with("http") {
            a.push("--headless");
        }
        let r = run(&a, Duration::from_secs(20));
        assert_eq!(r.code(), Some(2), "{args:?}: {r:?}");
        assert!(r.stderr.contains(expect), "{args:?}: {}", r.stderr);
        clean(&[(format!("{args:?}"), r.stderr.clone() + &r.stdout)]);
    }
}

#[test]
fn tls_is_verified_by_default_and_insecure_is_opt_in() {
    let server = TlsServer::start();
    for client in ["h1", "hyper", "reqwest"] {
        let dir = scratch(&format!("tls-{client}"));
        let out = dir.join("out.json");
        let out_arg = format!("json={}", out.display());
        // Verified (the default): a self-signed certificate is refused, nothing is sent.
        let r = run(
            &[
                &server.url(),
                "-n",
                "5",
                "-c",
                "1",
                "--client",
                client,
                "--headless",
                "--out",
                &out_arg,
            ],
            Duration::from_secs(30),
        );
        // Every handshake refused: not a single response, exit 1.
        assert_eq!(r.code(), Some(1), "{r:?}");
        let doc = read_doc(&out);
        assert_eq!(total(&doc, "requests"), 5, "{client}");
        assert_eq!(
            doc["totals"]["errors_by_kind"]["tls"], 5,
            "{client}: {}",
            doc["totals"]
        );
        assert_eq!(server.requests(), 0, "{client}: a request got through");
    }
    // --insecure: accepted, and said so.
    let dir = scratch("tls-insecure");
    let out = dir.join("out.json");
    let out_arg = format!("json={}", out.display());
    let r = run(
        &[
            &server.url(),
            "-n",
            "5",
            "-c",
            "1",
            "--insecure",
            "--headless",
            "--out",
            &out_arg,
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.code(), Some(0), "{r:?}");
    assert_eq!(total(&read_doc(&out), "ok"), 5);
    assert_eq!(server.requests(), 5);
}

#[test]
fn the_console_header_says_when_tls_is_not_verified() {
    let server = TlsServer::start();
    let mut vt = PtyChild::spawn(
        &[
            &server.url(),
            "-c",
            "1",
            "-d",
            "30s",
            "--insecure",
            "--fps",
            "20",
        ],
        &[],
        100,
        30,
    );
    assert!(
        vt.wait_for("TLS NOT VERIFIED", Duration::from_secs(10)),
        "{}",
        vt.text()
    );
    assert!(eventually(Duration::from_secs(5), || server.requests() > 0));
    vt.keys("q");
    assert!(vt.wait_exit(Duration::from_secs(10)).is_some());
    // Without --insecure the header says nothing of the kind.
    let plain = TestServer::answering(|_, _| Reply::ok());
    let mut vt = PtyChild::spawn(
        &[&plain.url(), "-c", "1", "-d", "30s", "--fps", "20"],
        &[],
        100,
        30,
    );
    assert!(vt.wait_for("RUNNING", Duration::from_secs(10)));
    vt.keys("q");
    assert!(vt.wait_exit(Duration::from_secs(10)).is_some());
    assert!(!vt.text().contains("NOT VERIFIED"));
}

/// Local addresses (hex, as in /proc/net/tcp*) of the TCP sockets `pid` listens on.
fn listening(pid: u32) -> Vec<String> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            if f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9]) {
                out.push(f[1].to_string());
            }
        }
    }
    out
}

fn is_loopback(hex_addr: &str) -> bool {
    let ip = hex_addr.split(':').next().unwrap_or("");
    // 127.0.0.1 (little-endian), or ::1 in tcp6.
    ip == "0100007F" || ip == "00000000000000000000000001000000"
}

#[test]
fn listening_sockets_bind_loopback_unless_told_otherwise() {
    // The demo target alone.
    let mut serve = Spawned::start(&["demo", "--serve-only"], &[]);
    assert!(
        serve.wait_stderr("127.0.0.1", Duration::from_secs(10)),
        "{}",
        serve.stderr_text()
    );
    let socks = listening(serve.pid());
    assert_eq!(socks.len(), 1, "{socks:?}");
    assert!(socks.iter().all(|s| is_loopback(s)), "{socks:?}");
    serve.signal(libc::SIGINT);
    let r = serve.finish(Duration::from_secs(10));
    assert_eq!(r.code(), Some(0), "{r:?}");

    // A demo run with the Prometheus exporter: two listeners, both on 127.0.0.1.
    let mut demo = Spawned::start(
        &[
            "demo",
            "--headless",
            "--duration",
            "30s",
            "--prometheus",
            "0",
        ],
        &[],
    );
    assert!(
        demo.wait_stderr("Prometheus metrics on", Duration::from_secs(10))
            && demo.wait_stderr("demo target on", Duration::from_secs(10)),
        "{}",
        demo.stderr_text()
    );
    let mut socks = Vec::new();
    assert!(eventually(Duration::from_secs(5), || {
        socks = listening(demo.pid());
        socks.len() == 2
    }));
    assert!(socks.iter().all(|s| is_loopback(s)), "{socks:?}");
    demo.signal(libc::SIGINT);
    let r = demo.finish(Duration::from_secs(15));
    assert_eq!(r.code(), Some(0), "{r:?}");

    // Told otherwise, it listens where it is told (127.0.0.2: another loopback address,
    // so nothing is exposed while the test runs).
    let mut open = Spawned::start(&["demo", "--serve-only", "--listen", "127.0.0.2"], &[]);
    assert!(open.wait_stderr("http://", Duration::from_secs(10)));
    let socks = listening(open.pid());
    assert_eq!(socks.len(), 1, "{socks:?}");
    assert!(socks[0].starts_with("0200007F:"), "{socks:?}");
    open.signal(libc::SIGINT);
    let _ = open.finish(Duration::from_secs(10));
}

/// Every file in tests/fixtures/invalid_themes starts with `# expect: <text>`; a run with
/// `--theme FILE` exits 2 with that text in its single error line, before any request.
#[test]
fn every_invalid_theme_gives_its_message_and_exit_2() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid_themes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "only {} theme fixtures", files.len());
    let server = TestServer::answering(|_, _| Reply::ok());
    let mut failures = Vec::new();
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        let expected = src
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no '# expect:' first line", f.display()))
            .to_string();
        // Headless too: a bad theme is bad input even without a console to show it.
        let r = run(
            &[
                &server.url(),
                "-n",
                "1",
                "--headless",
                "--theme",
                f.to_str().unwrap(),
            ],
            Duration::from_secs(20),
        );
        let stderr = r.stderr.trim_end();
        let ok = r.code() == Some(2)
            && stderr.starts_with("error: ")
            && stderr.contains(&expected)
            && stderr.lines().count() == 1
            && !stderr.contains("panicked")
            && r.stdout.is_empty();
        if !ok {
            failures.push(format!(
                "{}: exit {:?}\n  expected: {expected}\n  got: {stderr}",
                f.display(),
                r.code()
            ));
        }
    }
    assert_eq!(server.requests(), 0, "a run started despite a bad theme");
    // Neither a built-in name nor a file.
    let r = run(
        &[
            &server.url(),
            "-n",
            "1",
            "--headless",
            "--theme",
            "solarized",
        ],
        Duration::from_secs(20),
    );
    assert_eq!(r.code(), Some(2));
    assert!(
        r.stderr
            .contains("--theme: 'solarized' is not a built-in theme (dark, light, high-contrast)"),
        "{}",
        r.stderr
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

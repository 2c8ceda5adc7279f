//! `volley attach` against real processes in pseudo-terminals: a run detached with `d`
//! (or left by a terminal that hung up) is attached from a second terminal, steered from
//! there, watched by a third that sees who sent the command; `volley ctl status --json`
//! agrees, and the results on disk equal the test server's count. Each test has its own
//! run directory (`VOLLEY_RUN_DIR`); every run is bounded by its duration.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{eventually, read_doc, scratch, total, volley_bin, PtyChild, Reply, TestServer};

struct Case {
    server: TestServer,
    url: String,
    runs: String,
    json: PathBuf,
}

impl Case {
    fn new(name: &str) -> Case {
        let dir = scratch(name);
        let server = TestServer::answering(|_, _| Reply::ok().delay(Duration::from_millis(10)));
        Case {
            url: server.url(),
            server,
            runs: dir.join("runs").display().to_string(),
            json: dir.join("out.json"),
        }
    }

    fn env(&self) -> [(&str, &str); 1] {
        [("VOLLEY_RUN_DIR", self.runs.as_str())]
    }

    /// The run's console in a terminal of its own, 2 VUs for `secs`.
    fn console(&self, secs: &str) -> PtyChild {
        let out = format!("json={}", self.json.display());
        let vt = PtyChild::spawn(
            &[
                &self.url, "-c", "2", "-d", secs, "--fps", "20", "--out", &out,
            ],
            &self.env(),
            80,
            24,
        );
        assert!(
            vt.wait_screen("RUNNING", Duration::from_secs(15)),
            "{}",
            vt.screen()
        );
        vt
    }

    /// `volley attach ARGS` in a terminal of `cols` x `rows`, once it shows the run.
    fn attach(&self, args: &[&str], cols: u16, rows: u16) -> PtyChild {
        let mut all = vec!["attach"];
        all.extend_from_slice(args);
        let vt = PtyChild::spawn(&all, &self.env(), cols, rows);
        assert!(
            vt.wait_screen("RUNNING", Duration::from_secs(15)),
            "{}",
            vt.text()
        );
        vt
    }

    fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(volley_bin())
            .arg("ctl")
            .args(args)
            .env("VOLLEY_RUN_DIR", &self.runs)
            .output()
            .expect("run volley ctl");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The one run in the run directory: its id.
    fn run_id(&self) -> String {
        let mut ids: Vec<String> = std::fs::read_dir(&self.runs)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(ids.len(), 1, "{ids:?}");
        ids.pop().unwrap()
    }

    /// The run ends by its plan; its results count what the server saw.
    fn results(&self) -> serde_json::Value {
        let runs = Path::new(&self.runs);
        let id = self.run_id();
        // The run host writes the outcome into its metadata after the results.
        assert!(
            eventually(Duration::from_secs(40), || std::fs::read_to_string(
                runs.join(&id).join("meta.json")
            )
            .is_ok_and(|m| m.contains("\"exit_code\""))),
            "the run did not end"
        );
        let doc = read_doc(&self.json);
        let reported = total(&doc, "requests");
        assert!(reported > 0);
        eventually(Duration::from_secs(10), || {
            self.server.requests() == reported
        });
        assert_eq!(reported, self.server.requests(), "{}", doc["totals"]);
        doc
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        // A test that failed half-way: stop what it left running (a finished run
        // refuses, which is fine).
        let _ = self.ctl(&["abort"]);
    }
}

fn header(vt: &PtyChild) -> String {
    vt.screen().lines().next().unwrap_or("").to_string()
}

#[test]
fn detach_attach_steer_from_a_second_terminal_and_watch_from_a_third() {
    let case = Case::new("attach-steer");
    let mut first = case.console("12s");
    first.keys("d");
    let status = first
        .wait_exit(Duration::from_secs(5))
        .expect("no prompt after d");
    assert!(status.success());
    let id = case.run_id();
    assert!(
        first.text().contains(&format!("volley attach {id}")),
        "{}",
        first.text()
    );

    // Two consoles at once: one steers, one watches.
    let mut steer = case.attach(&[&id], 80, 24);
    let mut watch = case.attach(&[], 120, 40);
    steer.keys("v\x155\r");
    assert!(
        eventually(Duration::from_secs(10), || header(&steer)
            .contains("VUs 5 ")),
        "{}",
        steer.screen()
    );
    assert!(
        eventually(Duration::from_secs(10), || header(&watch)
            .contains("VUs 5 ")),
        "{}",
        watch.screen()
    );
    // The watcher sees who did it.
    assert!(
        watch.wait_screen("by attach", Duration::from_secs(5)),
        "{}",
        watch.screen()
    );
    // volley ctl agrees.
    let (code, out, err) = case.ctl(&[&id, "status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let st: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(st["vus_target"], 5, "{st}");

    // Leaving a remote console leaves the run going on.
    steer.keys("d");
    assert!(steer.wait_exit(Duration::from_secs(5)).unwrap().success());
    let at = case.server.requests();
    assert!(eventually(Duration::from_secs(5), || case
        .server
        .requests()
        > at));

    // The run ends by its plan; the watcher gets the DONE screen and leaves with q.
    assert!(
        watch.wait_screen("DONE", Duration::from_secs(30)),
        "{}",
        watch.screen()
    );
    let st = watch
        .quit(Duration::from_secs(10))
        .expect("attach did not quit");
    assert!(st.success(), "{st:?}");
    let doc = case.results();
    let kinds: Vec<&str> = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"set_vus"), "{kinds:?}");
    // The results keep who sent it.
    let set = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "set_vus")
        .unwrap();
    assert!(
        set["detail"].as_str().unwrap().contains("· by attach"),
        "{set}"
    );
}

#[test]
fn a_hang_up_leaves_the_run_going_and_attachable() {
    let case = Case::new("attach-hangup");
    let mut first = case.console("30s");
    first.hang_up();
    assert!(first.wait_exit(Duration::from_secs(5)).unwrap().success());
    let at = case.server.requests();
    assert!(eventually(Duration::from_secs(5), || case
        .server
        .requests()
        > at));

    // Attach and stop it from there: q drains the run and leaves, as the local console
    // does, with the run's summary.
    let mut again = case.attach(&[], 80, 24);
    again.keys("q");
    let st = again
        .wait_exit(Duration::from_secs(20))
        .expect("attach did not leave after q");
    assert!(st.success(), "{st:?}");
    assert!(
        again.text().contains("stopped by the user"),
        "{}",
        again.text()
    );
    let doc = case.results();
    assert_eq!(doc["partial"], true, "stopped before its plan ended");

    // A finished run is still attachable: its DONE screen.
    let mut done = PtyChild::spawn(&["attach"], &case.env(), 80, 24);
    assert!(
        done.wait_screen("DONE", Duration::from_secs(10)),
        "{}",
        done.text()
    );
    assert!(done.quit(Duration::from_secs(10)).unwrap().success());
}

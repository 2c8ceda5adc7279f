//! A pseudo-terminal: volley run under a terminal of a given size, its screen read
//! back (as in tests/console_pty.rs).

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{eventually, volley_bin};

/// A volley process on a pty; everything it prints is collected.
pub struct PtyChild {
    pub child: Child,
    /// `None` once the terminal has hung up ([`PtyChild::hang_up`]).
    master: Option<std::fs::File>,
    output: Arc<Mutex<Vec<u8>>>,
    /// Tells the reader to let go of its copy of the master side.
    closing: Arc<AtomicBool>,
    /// Ends when the pty has no writer left (the child and its output are gone).
    reader: Option<JoinHandle<()>>,
    size: (u16, u16),
}

impl PtyChild {
    pub fn spawn(args: &[&str], envs: &[(&str, &str)], cols: u16, rows: u16) -> PtyChild {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // Both sides close-on-exec from the start: a child spawned meanwhile by another
        // test (tests run in parallel) must not inherit this master, or the terminal
        // could not hang up when the test closes it.
        // SAFETY: posix_openpt returns a new descriptor we own, or -1.
        let master_fd =
            unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
        assert!(master_fd >= 0, "posix_openpt failed");
        let mut name = [0 as libc::c_char; 128];
        // SAFETY: a valid master descriptor; ptsname_r writes into a buffer we own.
        unsafe {
            assert_eq!(libc::grantpt(master_fd), 0, "grantpt failed");
            assert_eq!(libc::unlockpt(master_fd), 0, "unlockpt failed");
            assert_eq!(
                libc::ptsname_r(master_fd, name.as_mut_ptr(), name.len()),
                0,
                "ptsname_r failed"
            );
            libc::ioctl(master_fd, libc::TIOCSWINSZ, &ws);
        }
        // SAFETY: a NUL-terminated path from ptsname_r.
        let slave_fd = unsafe {
            libc::open(
                name.as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            )
        };
        assert!(slave_fd >= 0, "cannot open the pty's slave side");
        // SAFETY: fresh descriptors we own.
        let slave = unsafe { OwnedFd::from_raw_fd(slave_fd) };
        let master = unsafe { std::fs::File::from_raw_fd(master_fd) };
        let mut cmd = Command::new(volley_bin());
        cmd.args(args)
            .env("VOLLEY_RUN_DIR", super::test_runs_dir())
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        for (k, v) in envs {
            cmd.env(k, v);
        }
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn volley");
        let output = Arc::new(Mutex::new(Vec::new()));
        let out = output.clone();
        let mut from = master.try_clone().unwrap();
        let closing = Arc::new(AtomicBool::new(false));
        let stop = closing.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while !stop.load(Ordering::Acquire) {
                let mut pfd = libc::pollfd {
                    fd: from.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: poll(2) on one pollfd that lives across the call.
                if unsafe { libc::poll(&mut pfd, 1, 50) } <= 0 {
                    continue;
                }
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => out.lock().unwrap().extend_from_slice(&buf[..n]),
                }
            }
        });
        PtyChild {
            child,
            master: Some(master),
            output,
            closing,
            reader: Some(reader),
            size: (rows, cols),
        }
    }

    pub fn keys(&mut self, s: &str) {
        let master = self.master.as_mut().expect("the terminal is still there");
        master.write_all(s.as_bytes()).unwrap();
        master.flush().unwrap();
    }

    /// Closes the terminal, as a dropped SSH connection or a closed terminal window does:
    /// every copy of the master side is closed, so the kernel hangs up the child's
    /// terminal (SIGHUP, then end-of-file and I/O errors).
    pub fn hang_up(&mut self) {
        self.closing.store(true, Ordering::Release);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.master = None;
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// The screen as a person sees it now: the output so far run through a terminal
    /// emulator (vt100), as plain text, one line per row.
    pub fn screen(&self) -> String {
        let nz = |n: u16| std::num::NonZeroU16::new(n.max(1)).expect("at least 1");
        let mut parser = vt100::Parser::new(nz(self.size.0), nz(self.size.1), 0);
        parser.process(&self.output.lock().unwrap());
        parser.screen().contents()
    }

    /// Waits until the screen shows `needle`.
    pub fn wait_screen(&self, needle: &str, limit: Duration) -> bool {
        eventually(limit, || self.screen().contains(needle))
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({sig}) failed");
    }

    /// Waits until the output contains `needle`.
    pub fn wait_for(&self, needle: &str, limit: Duration) -> bool {
        eventually(limit, || self.text().contains(needle))
    }

    /// Types `q` every 200 ms until the process exits (a finished run waits on its DONE
    /// screen for it), at most for `limit`.
    pub fn quit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            // The pty may already be closed when the process is on its way out.
            if let Some(m) = self.master.as_mut() {
                let _ = m.write_all(b"q");
            }
            if let Some(st) = self.wait_exit(Duration::from_millis(200)) {
                return Some(st);
            }
        }
        None
    }

    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(st) = self.child.try_wait().unwrap() {
                // Everything the child printed: the reader ends once the pty has no writer
                // left (bounded, in case a grandchild still holds it).
                if let Some(r) = self.reader.take() {
                    eventually(Duration::from_secs(5), || r.is_finished());
                    if r.is_finished() {
                        let _ = r.join();
                    }
                }
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for PtyChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

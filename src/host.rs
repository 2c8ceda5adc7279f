//! The run host: a console run lives in a process of its own from the start, so that it
//! can outlive the terminal it was started from.
//!
//! A shell waits for the process it started; to give the shell its prompt back while the
//! run goes on, the run has to be in another process. So `volley run` (with a console, or
//! `--detach`) re-executes itself at once, before any thread or runtime exists, as a
//! child on the same terminal: the child (the *run host*) parses, runs, draws the console
//! and writes the results, exactly as one process did before; the parent (the *foreground
//! process*) only waits for it, passes on the signals sent to it and leaves with the
//! host's exit code. On detach (`d`, `--detach`, a terminal hang-up) the host moves to a
//! session of its own with its output in a log file and tells the parent, which exits 0:
//! the shell prints its prompt, the run goes on. (Forking the running process instead is
//! not safe once the engine's threads exist; see docs/control.md.)

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// What a terminal hang-up (SIGHUP, an SSH connection dropped) does to a console run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OnHangup {
    /// The run goes on in the background (attach again with `volley attach`).
    #[default]
    Detach,
    /// The run stops gracefully and writes its results (volley before 0.9).
    Stop,
}

/// Names the pipe to the foreground process in the host's environment.
const ENV: &str = "VOLLEY_RUN_HOST";

/// The byte the host sends when it has detached.
const DETACHED: u8 = b'D';

/// The run host's side of the split: the pipe to the foreground process that waits.
#[derive(Debug)]
pub struct Host {
    /// `None` once detached.
    pipe: Option<File>,
}

/// [`split`] for a command line that runs load under a console or `--detach` (others run
/// in this process as they are).
pub fn split_for(cli: &crate::Cli) -> Option<Host> {
    use std::io::IsTerminal;
    let args = cli.run_args()?;
    (args.detach || (!args.headless && std::io::stdout().is_terminal()))
        .then(split)
        .flatten()
}

/// Splits this process into the foreground process and the run host. Returns in the run
/// host (`Some`), or when no split is possible (`None`: the run stays in this process and
/// cannot detach); the foreground process never returns from it: it exits with the host's
/// exit code, or 0 when the host detached.
pub fn split() -> Option<Host> {
    if let Some(fd) = std::env::var_os(ENV) {
        // Called from `lib::run` before volley starts any thread.
        std::env::remove_var(ENV);
        let fd: RawFd = fd.to_str()?.parse().ok()?;
        // The descriptor is ours only if it is the pipe the parent left open.
        // SAFETY: fcntl on a descriptor number; an invalid one fails with EBADF.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
            return None;
        }
        // SAFETY: an open descriptor inherited for us alone; we own it from here.
        let pipe = unsafe { File::from_raw_fd(fd) };
        return Some(Host { pipe: Some(pipe) });
    }
    if !cfg!(target_os = "linux") {
        return None;
    }
    match spawn_host() {
        Ok((child, pipe)) => foreground(child, pipe),
        Err(e) => {
            say!("volley: cannot start the run host ({e}): this run cannot detach");
            None
        }
    }
}

/// The signals the foreground process passes on to the host.
const FORWARDED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

fn forwarded_set() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset/sigaddset initialise it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in FORWARDED {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

fn spawn_host() -> io::Result<(std::process::Child, File)> {
    use std::os::unix::process::CommandExt;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors from pipe2.
    let (read, write) = unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let wfd = write.as_raw_fd();
    // Block the forwarded signals before the child exists, so that none can kill this
    // process between the spawn and its loop (the child unblocks them).
    let set = forwarded_set();
    // SAFETY: changes this (single-threaded) process's signal mask.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.arg0(std::env::args_os().next().unwrap_or_default())
        .args(std::env::args_os().skip(1))
        .env(ENV, wfd.to_string());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(wfd, libc::F_SETFD, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    let spawned = cmd.spawn();
    drop(write);
    match spawned {
        Ok(child) => Ok((child, read)),
        Err(e) => {
            // SAFETY: as above.
            unsafe { libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
            Err(e)
        }
    }
}

/// The foreground process: waits for the host to exit or detach, passing on the signals
/// that were sent to this process (by `kill`, a service manager). Signals from the
/// terminal (Ctrl-C, Ctrl-\) reach the host by themselves (it is in the same process
/// group) and are not passed on twice; a hang-up is passed on (detaching is idempotent,
/// and a stop asked twice for a hang-up stops once).
fn foreground(mut child: std::process::Child, mut pipe: File) -> ! {
    let set = forwarded_set();
    let host = child.id() as libc::pid_t;
    let mut buf = [0u8; 16];
    loop {
        let mut pfd = libc::pollfd {
            fd: pipe.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll(2) on one pollfd that lives across the call.
        if unsafe { libc::poll(&mut pfd, 1, 50) } > 0 {
            match pipe.read(&mut buf) {
                Ok(n) if buf[..n].contains(&DETACHED) => std::process::exit(0),
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: siginfo_t is plain data that sigtimedwait fills.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waits (not at all) for one of the blocked signals.
        let sig = unsafe { libc::sigtimedwait(&set, &mut info, &zero) };
        if sig > 0 && (sig == libc::SIGHUP || info.si_code <= 0) {
            // si_code <= 0: sent by a process (kill, sigqueue), not by the terminal.
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(host, sig) };
        }
    }
    let code = match child.wait() {
        Ok(st) => {
            use std::os::unix::process::ExitStatusExt;
            st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
        }
        Err(_) => 1,
    };
    std::process::exit(code)
}

impl Host {
    /// Leaves the terminal: stdin from /dev/null, stdout and stderr appended to `log`
    /// (created 0600), a session of its own (no terminal sends it signals any more);
    /// then tells the foreground process, which exits and gives the shell its prompt back.
    /// Anything to say on the terminal must be said before.
    pub fn detach(&mut self, log: &Path) -> io::Result<()> {
        let Some(mut pipe) = self.pipe.take() else {
            return Ok(());
        };
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();
        let out = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(log)?
        };
        let null = File::open("/dev/null")?;
        // SAFETY: dup2 onto the standard descriptors, from descriptors we own.
        unsafe {
            if libc::dup2(null.as_raw_fd(), 0) < 0
                || libc::dup2(out.as_raw_fd(), 1) < 0
                || libc::dup2(out.as_raw_fd(), 2) < 0
            {
                return Err(io::Error::last_os_error());
            }
            libc::setsid();
        }
        // The foreground process may be gone already (its terminal hung up).
        let _ = pipe.write_all(&[DETACHED]);
        Ok(())
    }

    /// Whether this host has detached from its terminal.
    pub fn detached(&self) -> bool {
        self.pipe.is_none()
    }
}

/// How a console run leaves its terminal: its host, where its output goes from then on,
/// and what the operator is told first.
#[derive(Debug)]
pub struct Detach {
    pub host: Host,
    /// The log file that gets stdout and stderr (the summary at the end included).
    pub log: std::path::PathBuf,
    /// Printed on the terminal before it is left: the run id and how to come back.
    pub notice: String,
}

impl Detach {
    /// Says the notice and leaves the terminal; the run goes on.
    pub fn go(mut self) {
        say!("{}", self.notice);
        if let Err(e) = self.host.detach(&self.log) {
            say!("volley: cannot detach ({e}): the run goes on on this terminal");
        }
    }
}

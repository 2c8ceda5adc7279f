//! The run directory: one private folder per user (`$XDG_RUNTIME_DIR/volley/`, else
//! `~/.volley/run/`, or `$VOLLEY_RUN_DIR`), mode 0700, and in it one folder per run named
//! after its short id, holding the control socket (0600), `meta.json`, the bearer token
//! when TCP is on (0600), `result.json` once the run has ended, and `volley.log` for
//! detached runs.
//!
//! volley refuses a run directory that another user owns or that others can enter: a
//! socket there could be reached (or planted) by them.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// How long finished runs stay listed (`volley ls --prune` removes them at once).
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);

pub const SOCKET: &str = "control.sock";
pub const META: &str = "meta.json";
pub const TOKEN: &str = "token";
pub const RESULT: &str = "result.json";
pub const LOG: &str = "volley.log";

#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error("run directory '{path}': {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "run directory '{path}' belongs to another user (uid {owner}, you are {me}): refusing to use it; set VOLLEY_RUN_DIR to a directory of yours"
    )]
    Owner { path: PathBuf, owner: u32, me: u32 },
    #[error(
        "run directory '{path}' has mode {mode:04o}: others could reach its control sockets; it must be 0700 (chmod 700 '{path}')"
    )]
    Mode { path: PathBuf, mode: u32 },
    #[error(
        "control socket '{path}' belongs to another user (uid {owner}): refusing to talk to it"
    )]
    SocketOwner { path: PathBuf, owner: u32 },
    #[error("control socket '{path}' has mode {mode:04o}, not 0600: refusing to talk to it")]
    SocketMode { path: PathBuf, mode: u32 },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> RunDirError + '_ {
    move |source| RunDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The per-user run directory (not created).
pub fn base_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("VOLLEY_RUN_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("volley");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".volley").join("run")
}

/// Checks that `path` is a directory of this user that nobody else can enter.
pub fn check_private(path: &Path) -> Result<(), RunDirError> {
    let m = fs::metadata(path).map_err(io_err(path))?;
    if m.uid() != euid() {
        return Err(RunDirError::Owner {
            path: path.into(),
            owner: m.uid(),
            me: euid(),
        });
    }
    let mode = m.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(RunDirError::Mode {
            path: path.into(),
            mode,
        });
    }
    Ok(())
}

/// The run directory, created 0700 when missing, and checked.
pub fn ensure_base() -> Result<PathBuf, RunDirError> {
    let base = base_dir();
    if !base.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&base)
            .map_err(io_err(&base))?;
        // `recursive` leaves an existing parent alone; the last component is ours.
        fs::set_permissions(&base, fs::Permissions::from_mode(0o700)).map_err(io_err(&base))?;
    }
    check_private(&base)?;
    Ok(base)
}

/// A new run id: 6 characters of base32 (a-z, 2-7), 30 random bits.
pub fn new_id() -> String {
    let mut b = [0u8; 4];
    random_bytes(&mut b);
    let n = u32::from_le_bytes(b);
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..6)
        .map(|i| ALPHABET[((n >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// Bytes from the operating system's CSPRNG.
pub fn random_bytes(buf: &mut [u8]) {
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .expect("/dev/urandom is readable");
}

/// Whether a process with this id exists.
pub fn pid_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A run's `meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub id: String,
    pub pid: u32,
    pub volley_version: String,
    pub protocol_version: u32,
    pub scenario: String,
    /// The base URL without credentials or query.
    pub target: String,
    pub started_unix_ms: i64,
    /// `console`, `headless` or `detached`.
    pub mode: String,
    /// The TCP address, when `--control ADDR` asked for one.
    pub tcp: Option<String>,
    /// SHA-256 of the TLS certificate of the TCP listener.
    pub tls_fingerprint: Option<String>,
    pub ended_unix_ms: Option<i64>,
    /// Set when the run has ended and its results are written.
    pub outcome: Option<MetaOutcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaOutcome {
    pub exit_code: i32,
    pub reason: String,
    pub run_time_s: f64,
    pub vus: u32,
    pub requests: u64,
    pub rps: f64,
    pub error_rate: f64,
}

/// One run's folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub id: String,
    pub path: PathBuf,
}

impl RunDir {
    /// Creates a new run's folder (0700) under the checked base.
    pub fn create() -> Result<RunDir, RunDirError> {
        let base = ensure_base()?;
        loop {
            let id = new_id();
            let path = base.join(&id);
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(RunDir { id, path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
    }

    pub fn open(path: PathBuf) -> RunDir {
        let id = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        RunDir { id, path }
    }

    pub fn socket(&self) -> PathBuf {
        self.path.join(SOCKET)
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn read_meta(&self) -> Option<Meta> {
        let text = fs::read(self.file(META)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Writes `meta.json` atomically (a reader never sees half of it).
    pub fn write_meta(&self, meta: &Meta) -> Result<(), RunDirError> {
        let json = serde_json::to_vec_pretty(meta).expect("meta serializes");
        self.write_private(META, &json)
    }

    /// Writes a file readable by this user only, atomically.
    pub fn write_private(&self, name: &str, bytes: &[u8]) -> Result<(), RunDirError> {
        let tmp = self.path.join(format!(".{name}.tmp"));
        let write = || -> io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, self.path.join(name))
        };
        write().map_err(io_err(&self.path))
    }

    /// Checks a run's socket before talking to it: the folder and the socket are this
    /// user's, and private.
    pub fn check_socket(&self) -> Result<PathBuf, RunDirError> {
        check_private(&self.path)?;
        let sock = self.socket();
        let m = fs::symlink_metadata(&sock).map_err(io_err(&sock))?;
        if m.uid() != euid() {
            return Err(RunDirError::SocketOwner {
                path: sock,
                owner: m.uid(),
            });
        }
        let mode = m.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(RunDirError::SocketMode { path: sock, mode });
        }
        Ok(sock)
    }
}

/// Where a listed run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    /// Its process is running.
    Live,
    /// It ended and wrote its outcome.
    Finished,
    /// Its process is gone without an outcome (killed).
    Lost,
}

/// A run found in the run directory.
#[derive(Debug, Clone)]
pub struct Listed {
    pub dir: RunDir,
    pub meta: Meta,
    pub liveness: Liveness,
}

/// Every run in the run directory, oldest first. Folders without a readable `meta.json`
/// (a run starting this instant) are skipped.
pub fn list() -> Result<Vec<Listed>, RunDirError> {
    let base = base_dir();
    if !base.exists() {
        return Ok(Vec::new());
    }
    check_private(&base)?;
    let mut runs = Vec::new();
    for entry in fs::read_dir(&base).map_err(io_err(&base))?.flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = RunDir::open(entry.path());
        let Some(meta) = dir.read_meta() else {
            continue;
        };
        let liveness = match (&meta.outcome, pid_alive(meta.pid)) {
            (Some(_), _) => Liveness::Finished,
            (None, true) => Liveness::Live,
            (None, false) => Liveness::Lost,
        };
        runs.push(Listed {
            dir,
            meta,
            liveness,
        });
    }
    runs.sort_by(|a, b| {
        (a.meta.started_unix_ms, &a.meta.id).cmp(&(b.meta.started_unix_ms, &b.meta.id))
    });
    Ok(runs)
}

/// Removes the folders of runs that are not live: all of them with `all`, else those that
/// ended more than [`RETENTION`] ago. Returns the ids removed.
pub fn prune(all: bool) -> Result<Vec<String>, RunDirError> {
    let now = now_ms();
    let mut removed = Vec::new();
    for run in list()? {
        let ended = run.meta.ended_unix_ms.unwrap_or(run.meta.started_unix_ms);
        let old = now - ended > RETENTION.as_millis() as i64;
        if run.liveness != Liveness::Live && (all || old) {
            fs::remove_dir_all(&run.dir.path).map_err(io_err(&run.dir.path))?;
            removed.push(run.meta.id);
        }
    }
    Ok(removed)
}

/// Finds a run by id or unique id prefix; with no id, the one live run, or with none
/// live the newest finished one.
pub fn find(id: Option<&str>) -> Result<Listed, String> {
    let runs = list().map_err(|e| e.to_string())?;
    match id {
        Some(id) => {
            let hits: Vec<&Listed> = runs.iter().filter(|r| r.meta.id.starts_with(id)).collect();
            match hits[..] {
                [one] => Ok(one.clone()),
                [] => Err(format!(
                    "no run '{id}' in {} (volley ls lists them)",
                    base_dir().display()
                )),
                _ => Err(format!(
                    "'{id}' matches {} runs ({}): give more of the id",
                    hits.len(),
                    hits.iter()
                        .map(|r| r.meta.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
        None => {
            let live: Vec<&Listed> = runs
                .iter()
                .filter(|r| r.liveness == Liveness::Live)
                .collect();
            match live[..] {
                [one] => Ok(one.clone()),
                // None live: the newest finished run (its status, its wait, its DONE
                // screen).
                [] => runs
                    .iter()
                    .max_by_key(|r| r.meta.started_unix_ms)
                    .cloned()
                    .ok_or_else(|| format!("no runs in {} (volley ls)", base_dir().display())),
                _ => Err(format!(
                    "{} runs are live ({}): name one",
                    live.len(),
                    live.iter()
                        .map(|r| r.meta.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_six_base32_characters() {
        for _ in 0..100 {
            let id = new_id();
            assert_eq!(id.len(), 6);
            assert!(id
                .bytes()
                .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c)));
        }
    }

    fn meta(id: &str, pid: u32, ended_ago_h: Option<i64>) -> Meta {
        let now = now_ms();
        Meta {
            id: id.into(),
            pid,
            volley_version: "0".into(),
            protocol_version: 1,
            scenario: "s".into(),
            target: "http://127.0.0.1/".into(),
            started_unix_ms: now - 48 * 3_600_000,
            mode: "headless".into(),
            tcp: None,
            tls_fingerprint: None,
            ended_unix_ms: ended_ago_h.map(|h| now - h * 3_600_000),
            outcome: ended_ago_h.map(|_| MetaOutcome {
                exit_code: 0,
                reason: "passed".into(),
                run_time_s: 1.0,
                vus: 1,
                requests: 1,
                rps: 1.0,
                error_rate: 0.0,
            }),
        }
    }

    #[test]
    fn finished_runs_are_kept_24_hours_or_until_pruned_and_found_by_prefix() {
        let base = std::env::temp_dir().join(format!("volley-retention-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        // SAFETY: the only test of this binary that reads VOLLEY_RUN_DIR.
        unsafe { std::env::set_var("VOLLEY_RUN_DIR", &base) };
        ensure_base().unwrap();
        for m in [
            meta("old111", 1, Some(25)),
            meta("new222", 1, Some(1)),
            meta("liv333", std::process::id(), None),
        ] {
            let dir = RunDir::open(base.join(&m.id));
            fs::DirBuilder::new().mode(0o700).create(&dir.path).unwrap();
            dir.write_meta(&m).unwrap();
        }
        assert_eq!(find(Some("ne")).unwrap().meta.id, "new222");
        assert_eq!(find(None).unwrap().meta.id, "liv333", "the one live run");
        assert!(find(Some("zz")).unwrap_err().contains("no run 'zz'"));
        assert_eq!(prune(false).unwrap(), vec!["old111".to_string()]);
        assert_eq!(prune(true).unwrap(), vec!["new222".to_string()]);
        let left: Vec<String> = list().unwrap().into_iter().map(|r| r.meta.id).collect();
        assert_eq!(left, vec!["liv333".to_string()]);
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_directory_others_can_enter_is_refused_and_left_alone() {
        let dir = std::env::temp_dir().join(format!("volley-rundir-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let e = check_private(&dir).unwrap_err().to_string();
        assert!(e.contains("mode 0755") && e.contains("chmod 700"), "{e}");
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755, "nothing changed");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        check_private(&dir).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }
}

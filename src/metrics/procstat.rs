//! The generator's own process from `/proc` (Linux): CPU per thread, resident memory and
//! open file descriptors. Elsewhere (or when `/proc` cannot be read) the figures are zero.

use std::collections::HashMap;
use std::time::Instant;

/// Threads of a built-in demo target run in the same process; they are not the generator.
const DEMO_THREAD: &str = "volley-demo";

/// CPU time of one thread.
#[derive(Debug, Clone, PartialEq)]
struct ThreadTicks {
    name: String,
    ticks: u64,
}

/// Turns cumulative CPU ticks into per-second percentages.
#[derive(Debug)]
pub struct CpuMeter {
    ticks_per_s: f64,
    last: HashMap<u32, u64>,
    last_at: Instant,
}

/// One reading of the process.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ProcReading {
    /// CPU of the generator's threads since the last reading, % of one core.
    pub cpu_pct: f64,
    pub busiest_thread_pct: f64,
    pub threads: u32,
    pub rss_bytes: u64,
    pub fds: u64,
}

impl CpuMeter {
    pub fn new() -> CpuMeter {
        let mut meter = CpuMeter {
            ticks_per_s: ticks_per_s(),
            last: HashMap::new(),
            last_at: Instant::now(),
        };
        meter.last = threads()
            .into_iter()
            .map(|(tid, t)| (tid, t.ticks))
            .collect();
        meter
    }

    /// Reads the process now.
    pub fn read(&mut self) -> ProcReading {
        let now = Instant::now();
        let secs = now.duration_since(self.last_at).as_secs_f64().max(1e-3);
        let current = threads();
        let mut total = 0.0;
        let mut busiest: f64 = 0.0;
        let mut count = 0;
        let mut next = HashMap::with_capacity(current.len());
        for (tid, t) in current {
            // A thread born since the last reading spent all its CPU time since then.
            let before = self.last.get(&tid).copied().unwrap_or(0);
            next.insert(tid, t.ticks);
            if t.name.starts_with(DEMO_THREAD) {
                continue;
            }
            count += 1;
            let pct = t.ticks.saturating_sub(before) as f64 / self.ticks_per_s / secs * 100.0;
            total += pct;
            busiest = busiest.max(pct);
        }
        self.last = next;
        self.last_at = now;
        ProcReading {
            cpu_pct: total,
            busiest_thread_pct: busiest,
            threads: count,
            rss_bytes: rss_bytes(),
            fds: std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64),
        }
    }
}

impl Default for CpuMeter {
    fn default() -> Self {
        CpuMeter::new()
    }
}

/// utime + stime (fields 14 and 15) of a `stat` line; the name in parentheses may hold
/// spaces and parentheses, so fields are counted after the last `)`.
fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn threads() -> Vec<(u32, ThreadTicks)> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let tid: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        let name = stat
            .find('(')
            .zip(stat.rfind(')'))
            .map(|(a, b)| stat[a + 1..b].to_string())
            .unwrap_or_default();
        Some((
            tid,
            ThreadTicks {
                name,
                ticks: stat_ticks(&stat)?,
            },
        ))
    })
    .collect()
}

fn rss_bytes() -> u64 {
    // statm: size resident shared ... in pages.
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    pages * page_size()
}

/// The CPU quota of this process's cgroup in cores (`cpu.max` in cgroup v2,
/// `cpu.cfs_quota_us / cpu.cfs_period_us` in v1); `None` without a quota.
pub fn cgroup_cpu_quota() -> Option<f64> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        if controllers.is_empty() {
            let max = std::fs::read_to_string(format!("/sys/fs/cgroup{path}/cpu.max")).ok();
            if let Some(q) = max.as_deref().and_then(parse_cpu_max) {
                return Some(q);
            }
        } else if controllers.split(',').any(|c| c == "cpu") {
            let dir = format!("/sys/fs/cgroup/cpu{path}");
            let read = |f: &str| -> Option<f64> {
                std::fs::read_to_string(format!("{dir}/{f}"))
                    .ok()?
                    .trim()
                    .parse()
                    .ok()
            };
            let (quota, period) = (read("cpu.cfs_quota_us")?, read("cpu.cfs_period_us")?);
            if quota > 0.0 && period > 0.0 {
                return Some(quota / period);
            }
        }
    }
    None
}

/// `cpu.max`: `max 100000` (no quota) or `25000 100000` (a quarter of a core).
fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut it = text.split_whitespace();
    let quota: f64 = it.next()?.parse().ok()?;
    let period: f64 = it.next()?.parse().ok()?;
    (quota > 0.0 && period > 0.0).then(|| quota / period)
}

/// Clock ticks per second of `/proc/*/stat` times.
pub fn ticks_per_s() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

/// CPU ticks (utime + stime) and resident bytes of process `pid`; `None` when it is gone.
pub fn process_ticks_rss(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = stat_ticks(&stat)?;
    let pages: u64 = std::fs::read_to_string(format!("/proc/{pid}/statm"))
        .ok()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((ticks, pages * page_size()))
}

/// The lowest process id whose `comm` is `name`.
pub fn find_process(name: &str) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .min()
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page > 0 {
        page as u64
    } else {
        4096
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_max_quotas() {
        assert_eq!(parse_cpu_max("25000 100000\n"), Some(0.25));
        assert_eq!(parse_cpu_max("max 100000"), None);
        assert_eq!(parse_cpu_max(""), None);
    }

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        let line = "4242 (tokio (runtime) w) R 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 3 0";
        assert_eq!(stat_ticks(line), Some(300));
        assert_eq!(stat_ticks("garbage"), None);
    }

    #[test]
    fn a_busy_thread_shows_as_cpu() {
        let mut meter = CpuMeter::new();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (spun, done) = std::sync::mpsc::channel::<()>();
        // The thread stays alive until read: a finished thread leaves /proc/self/task.
        let spin = std::thread::spawn(move || {
            let until = Instant::now() + std::time::Duration::from_millis(300);
            let mut x = 0u64;
            while Instant::now() < until {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
            }
            let _ = spun.send(());
            let _ = wait.recv();
        });
        let _ = done.recv();
        let r = meter.read();
        let _ = release.send(());
        let _ = spin.join();
        if cfg!(target_os = "linux") {
            // CPU time was spent (how much depends on the machine's load).
            assert!(r.cpu_pct > 0.0 && r.busiest_thread_pct > 0.0, "{r:?}");
            assert!(r.rss_bytes > 0 && r.fds > 0 && r.threads > 1, "{r:?}");
        }
    }
}

//! The process's open-file limit: one socket per VU needs room.

/// Raises the soft open-file limit to fit `connections` sockets (plus a margin) when it is
/// too low; returns a line for the operator when it changed something or could not.
pub fn ensure_fd_limit(connections: u64) -> Option<String> {
    let needed = connections + 256;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    let soft: u64 = lim.rlim_cur;
    let hard: u64 = lim.rlim_max;
    if soft >= needed {
        return None;
    }
    let target = needed.min(hard);
    if target > soft {
        let new = libc::rlimit {
            rlim_cur: target,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } == 0 {
            return Some(if target >= needed {
                format!("open-file limit raised from {soft} to {target}")
            } else {
                format!(
                    "open-file limit raised from {soft} to {target} (the hard limit), below the {needed} this run may need"
                )
            });
        }
    }
    Some(format!(
        "open-file limit {soft} is below the {needed} this run may need (hard limit {hard}): raise it with ulimit -n"
    ))
}

/// Whether the terminal on standard output has hung up (the SSH connection or terminal
/// window that held it is gone). One `poll(2)` with no wait.
pub fn terminal_hung_up() -> bool {
    let mut fds = [libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: 0,
        revents: 0,
    }];
    // SAFETY: poll(2) on one valid pollfd that lives across the call, without waiting.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, 0) };
    n > 0 && fds[0].revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn small_runs_change_nothing() {
        assert_eq!(super::ensure_fd_limit(10), None);
    }
}

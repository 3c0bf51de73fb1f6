//! Server processes the lab starts: spawned detached in their namespace,
//! tracked by pid files so that another `checker` invocation (or `checker
//! nemesis heal` after a crash) can find, signal and stop them.

use crate::command::line;
use crate::ClusterError;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `command` detached (its own process group, so a Ctrl-C meant for
/// the checker does not reach it), stdout and stderr appended to `log`,
/// and returns its pid, also written to `pid_file`.
pub fn spawn(command: &mut Command, log: &Path, pid_file: &Path) -> Result<u32, ClusterError> {
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| ClusterError(format!("cannot open {}: {e}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(|e| ClusterError(format!("cannot open {}: {e}", log.display())))?;
    let child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| ClusterError(format!("cannot start `{}`: {e}", line(command))))?;
    let pid = child.id();
    fs::write(pid_file, format!("{pid}\n"))
        .map_err(|e| ClusterError(format!("cannot write {}: {e}", pid_file.display())))?;
    Ok(pid)
}

/// The pid recorded in `pid_file`, if any.
pub fn read_pid(pid_file: &Path) -> Option<u32> {
    fs::read_to_string(pid_file).ok()?.trim().parse().ok()
}

/// Whether `pid` is a live process (not gone, not a zombie).
pub fn alive(pid: u32) -> bool {
    reap(pid);
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// Whether `pid` is stopped (SIGSTOP).
pub fn stopped(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
        })
        .is_some_and(|state| state == 'T')
}

/// Sends `signal` to `pid`; a process that is already gone is not an error.
pub fn signal(pid: u32, signal: i32) -> Result<(), ClusterError> {
    // SAFETY: kill has no memory preconditions; a bad pid is an error code.
    let rc = unsafe { libc::kill(pid as libc::pid_t, signal) };
    if rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
        Ok(())
    } else {
        Err(ClusterError(format!(
            "cannot signal process {pid}: {}",
            std::io::Error::last_os_error()
        )))
    }
}

/// Stops `pid`: resumes it if paused, SIGTERM, then SIGKILL after `grace`.
/// Returns once it is gone.
pub fn stop(pid: u32, grace: Duration) -> Result<(), ClusterError> {
    signal(pid, libc::SIGCONT)?;
    signal(pid, libc::SIGTERM)?;
    if wait_gone(pid, grace) {
        return Ok(());
    }
    signal(pid, libc::SIGKILL)?;
    if wait_gone(pid, Duration::from_secs(10)) {
        Ok(())
    } else {
        Err(ClusterError(format!(
            "process {pid} survived SIGKILL for 10 s"
        )))
    }
}

/// Waits up to `limit` for `pid` to be gone.
pub fn wait_gone(pid: u32, limit: Duration) -> bool {
    let started = Instant::now();
    while alive(pid) {
        if started.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Collects `pid`'s exit status if it is our own child, so a killed
/// server does not linger as a zombie of a long-lived checker process.
fn reap(pid: u32) {
    let mut status = 0;
    // SAFETY: WNOHANG never blocks; a pid that is not our child is ECHILD.
    unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
}

/// The last `lines` lines of `log`, for error messages.
pub fn tail(log: &Path, lines: usize) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

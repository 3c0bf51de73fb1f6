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

/// Whether `pid` is a live process: some thread of it is neither a zombie nor dead.
///
/// Every thread, not the main one's state alone: killed, a multithreaded server's main thread can
/// be a zombie while its other threads are still exiting, and until the last one has, the process
/// holds its sockets; a server restarted in that window cannot bind its ports.
pub fn alive(pid: u32) -> bool {
    reap(pid);
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        state(&task.path().join("stat")).is_some_and(|state| state != 'Z' && state != 'X')
    })
}

/// Whether `pid` is stopped (SIGSTOP).
pub fn stopped(pid: u32) -> bool {
    state(Path::new(&format!("/proc/{pid}/stat"))).is_some_and(|state| state == 'T')
}

/// The state letter of a process or thread (`R`, `S`, `T`, `Z`, …) from its `stat` file.
fn state(stat: &Path) -> Option<char> {
    let stat = fs::read_to_string(stat).ok()?;
    // The state follows the parenthesised command name, which may itself hold parentheses.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.trim_start().chars().next()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A process whose main thread has exited while another thread runs: its main thread is a
    /// zombie, yet the process lives (and holds whatever it opened) until it is killed.
    #[test]
    fn a_process_lives_while_any_thread_does() {
        let dir = std::env::temp_dir().join(format!("leader-exits-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("a temporary directory");
        let (source, program) = (dir.join("leader_exits.c"), dir.join("leader_exits"));
        fs::write(
            &source,
            "#include <pthread.h>\n#include <unistd.h>\n\
             static void *sleeper(void *arg) { (void)arg; sleep(60); return 0; }\n\
             int main(void) { pthread_t t; pthread_create(&t, 0, sleeper, 0); pthread_exit(0); }\n",
        )
        .expect("write the program");
        let built = Command::new("cc")
            .arg(&source)
            .arg("-o")
            .arg(&program)
            .arg("-pthread")
            .status()
            .expect("run cc");
        assert!(built.success(), "cc failed");
        let mut child = Command::new(&program).spawn().expect("start the program");
        let pid = child.id();
        let leader = Path::new(&format!("/proc/{pid}/stat")).to_path_buf();
        let started = Instant::now();
        while state(&leader) != Some('Z') {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the main thread never exited"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(alive(pid), "a process with a running thread is alive");
        signal(pid, libc::SIGKILL).expect("kill it");
        assert!(wait_gone(pid, Duration::from_secs(10)), "gone once killed");
        let _ = child.wait();
        let _ = fs::remove_dir_all(&dir);
    }
}

//! Clock skew for real servers through libfaketime (Debian's `faketime`).
//!
//! A server that reads the clock through libc (the JVM, PostgreSQL) is
//! started with libfaketime preloaded and pointed at a per-node file
//! holding its offset in seconds (`+2.5`); libfaketime re-reads the file
//! every second, so the offset changes while the server runs, without a
//! restart. The monotonic clock is left alone (`DONT_FAKE_MONOTONIC`): a
//! server's timeouts and schedulers must not jump, only its wall clock.
//! Go binaries (etcd) read the clock without libc and cannot be skewed
//! this way.

use crate::ClusterError;
use std::path::{Path, PathBuf};

/// Where Debian's packages put the library, by architecture.
const CANDIDATES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
];

/// The installed libfaketime, or an error that says how to install it.
pub fn library() -> Result<PathBuf, ClusterError> {
    CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| {
            ClusterError(
                "libfaketime is not installed (clock faults need it); install it with `apt-get install faketime`, or run ./test.sh, which installs what the lab needs".into(),
            )
        })
}

/// The environment that runs a program under libfaketime with its offset
/// read from `offset_file`, as `KEY=VALUE` arguments for `env`, which a
/// server puts right before its own program: preloading the library into
/// the root-owned programs that start it (`ip`, `setpriv`) makes them
/// create a shared-memory semaphore that a server running as another user
/// cannot open, and it refuses to start.
pub fn env(offset_file: &Path) -> Vec<String> {
    let library = library().unwrap_or_else(|_| PathBuf::from(CANDIDATES[0]));
    vec![
        format!("LD_PRELOAD={}", library.display()),
        format!("FAKETIME_TIMESTAMP_FILE={}", offset_file.display()),
        "FAKETIME_CACHE_DURATION=1".into(),
        "DONT_FAKE_MONOTONIC=1".into(),
    ]
}

/// Creates `offset_file` at `+0` if it is missing.
pub fn ensure(offset_file: &Path) -> Result<(), ClusterError> {
    if offset_file.exists() {
        Ok(())
    } else {
        set(offset_file, 0)
    }
}

/// Sets the offset in `offset_file` to `offset_ns`; the server sees it
/// within a second.
pub fn set(offset_file: &Path, offset_ns: i64) -> Result<(), ClusterError> {
    std::fs::write(offset_file, format!("{}\n", offset_text(offset_ns)))
        .map_err(|e| ClusterError(format!("cannot write {}: {e}", offset_file.display())))
}

/// libfaketime's relative offset syntax: signed seconds (`+2.500`).
pub fn offset_text(offset_ns: i64) -> String {
    format!("{:+.3}", offset_ns as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::offset_text;

    #[test]
    fn offsets_are_signed_seconds() {
        assert_eq!(offset_text(0), "+0.000");
        assert_eq!(offset_text(2_500_000_000), "+2.500");
        assert_eq!(offset_text(-1_000_000), "-0.001");
    }
}

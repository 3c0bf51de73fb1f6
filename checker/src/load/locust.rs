//! Locust as a child process: the lab's locustfile (`workloads/locust/`) through
//! `tools/locust/run` (a pinned Locust in a virtualenv), headless, its statistics written into
//! the run's folder, and those statistics read back.

use super::LoadError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository's root, where `tools/` and `workloads/` are.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// How many users Locust runs, and how that changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "shape")]
pub enum Users {
    /// The same number for the whole run.
    Constant {
        /// How many.
        users: u32,
    },
    /// `from` users, `by` more every `seconds`, up to `to` (the locustfile's step shape).
    Step {
        /// Users at the first step.
        from: u32,
        /// Users added at each step.
        by: u32,
        /// Users at the last step.
        to: u32,
        /// Seconds per step.
        seconds: u32,
    },
}

impl Users {
    /// Parses `N` (constant) or `FROM:BY:TO` (a step load whose steps share `run_seconds`).
    pub fn parse(text: &str, run_seconds: f64) -> Result<Users, String> {
        let number = |t: &str| {
            t.trim()
                .parse::<u32>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| {
                    format!(
                        "--load-users takes N or FROM:BY:TO (positive whole numbers), got `{text}`"
                    )
                })
        };
        let parts: Vec<&str> = text.split(':').collect();
        match parts[..] {
            [n] => Ok(Users::Constant { users: number(n)? }),
            [from, by, to] => {
                let (from, by, to) = (number(from)?, number(by)?, number(to)?);
                if to < from {
                    return Err(format!(
                        "--load-users {text}: the last step is below the first"
                    ));
                }
                let steps = (to - from) / by + 1;
                let seconds = (run_seconds / f64::from(steps)).floor();
                if seconds < 5.0 {
                    return Err(format!(
                        "--load-users {text}: {steps} steps in {run_seconds} s leave under 5 s a \
                         step; lengthen --time-limit or take fewer steps"
                    ));
                }
                Ok(Users::Step {
                    from,
                    by,
                    to,
                    seconds: seconds as u32,
                })
            }
            _ => Err(format!(
                "--load-users takes N or FROM:BY:TO (positive whole numbers), got `{text}`"
            )),
        }
    }

    /// In words, for the report.
    pub fn describe(&self) -> String {
        match *self {
            Users::Constant { users } => format!("{users} users"),
            Users::Step {
                from,
                by,
                to,
                seconds,
            } => format!("{from} → {to} users, {by} more every {seconds} s"),
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The locustfile's user class: `MixedUser`, `RestUser`, `GrpcUser` or `AsyncUser`.
    pub class: String,
    /// The users.
    pub users: Users,
    /// NGINX's REST URL (the gRPC target is derived from it by the locustfile).
    pub host: String,
    /// How long a constant load runs (a step load ends after its last step).
    pub seconds: u64,
}

/// The locustfile's user classes.
pub const CLASSES: &[&str] = &["MixedUser", "RestUser", "GrpcUser", "AsyncUser"];

/// Where Locust writes in a run's folder: `load/locust.json`, `load/locust_*.csv`,
/// `load/locust.html`, `load/locust.log`.
pub fn folder(run: &Path) -> PathBuf {
    run.join("load")
}

/// `tools/locust/run` with the plan's arguments, writing into `out`.
pub fn command(plan: &Plan, out: &Path) -> Command {
    let root = repo();
    let mut files = root
        .join("workloads/locust/locustfile.py")
        .to_string_lossy()
        .into_owned();
    let mut command = Command::new(root.join("tools/locust/run"));
    let mut shape = Vec::new();
    let spawn = match plan.users {
        Users::Constant { users } => {
            shape.extend(["-u".to_string(), users.to_string()]);
            shape.extend(["-t".to_string(), format!("{}s", plan.seconds)]);
            users
        }
        Users::Step {
            from,
            by,
            to,
            seconds,
        } => {
            files.push(',');
            files.push_str(&root.join("workloads/locust/shapes.py").to_string_lossy());
            for (flag, value) in [
                ("--shape", "step".to_string()),
                ("--step-from", from.to_string()),
                ("--step-by", by.to_string()),
                ("--step-to", to.to_string()),
                ("--step-seconds", seconds.to_string()),
            ] {
                shape.extend([flag.to_string(), value]);
            }
            to
        }
    };
    let prefix = out.join("locust");
    command
        .args(["-f", &files, "--headless", "--only-summary"])
        .args(shape)
        .args(["-r", &spawn.to_string(), "--host", &plan.host])
        .arg("--csv")
        .arg(&prefix)
        .arg("--csv-full-history")
        .arg("--html")
        .arg(prefix.with_extension("html"))
        // Locust appends `.json` itself.
        .arg("--json-file")
        .arg(&prefix)
        .arg(&plan.class);
    command
}

/// A Locust run under way.
pub struct Running {
    child: Child,
    log: PathBuf,
    begun: Instant,
}

/// Starts Locust, its output in `out/locust.log`.
pub fn start(plan: &Plan, out: &Path) -> Result<Running, LoadError> {
    std::fs::create_dir_all(out).map_err(|e| LoadError::io(out, e))?;
    let log = out.join("locust.log");
    let file = std::fs::File::create(&log).map_err(|e| LoadError::io(&log, e))?;
    let err = file.try_clone().map_err(|e| LoadError::io(&log, e))?;
    let mut command = command(plan, out);
    let child = command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|e| {
            LoadError::Locust(format!(
                "cannot start {}: {e} (install it with `tools/locust/run --install`)",
                command.get_program().to_string_lossy()
            ))
        })?;
    Ok(Running {
        child,
        log,
        begun: Instant::now(),
    })
}

impl Running {
    /// Waits for Locust to end, at most `limit` from its start; past that it is interrupted
    /// (SIGINT, so that it still writes its statistics), then killed.
    pub fn finish(&mut self, limit: Duration) -> Result<(), LoadError> {
        let deadline = self.begun + limit;
        let mut interrupted = false;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    // Locust exits 1 when any request failed: that is a figure, not an error.
                    return match status.code() {
                        Some(0 | 1) => Ok(()),
                        _ if interrupted => Ok(()),
                        _ => Err(LoadError::Locust(format!(
                            "Locust ended with {status}; see {}",
                            self.log.display()
                        ))),
                    };
                }
                Ok(None) => {}
                Err(e) => return Err(LoadError::Locust(format!("waiting for Locust: {e}"))),
            }
            let now = Instant::now();
            if now > deadline + Duration::from_secs(10) {
                let _ = self.child.kill();
            } else if now > deadline && !interrupted {
                let _ = Command::new("kill")
                    .args(["-INT", &self.child.id().to_string()])
                    .status();
                interrupted = true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A run that ends early (an error, a panic) must not leave Locust loading the system.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One of Locust's entries: an operation as the locustfile names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// Locust's request type: `GET`, `PUT`, `POST`, `grpc`, or `ASYNC` (visibility of async
    /// writes, measured by the locustfile and not a request of its own).
    pub kind: String,
    /// Its name, e.g. `GET /kv/{key} strong` or `Kv/Get eventual`.
    pub name: String,
    /// Requests made.
    pub requests: u64,
    /// Requests that failed.
    pub failures: u64,
    /// Latency percentiles, in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Requests per second over the entry's life.
    pub per_second: f64,
}

impl Operation {
    /// Whether this entry counts requests the api served (not the async-visibility timings).
    pub fn is_request(&self) -> bool {
        self.kind != "ASYNC"
    }

    /// The api's (protocol, method) labels of this entry's requests: "GET /kv/{key} strong" is
    /// the api's ("http", "GET /kv/{key}"), "Kv/Get strong" its ("grpc", "Kv/Get").
    pub fn api_labels(&self) -> (String, String) {
        if self.kind == "grpc" {
            let method = self.name.split(' ').next().unwrap_or(&self.name);
            ("grpc".into(), method.into())
        } else {
            let method = self
                .name
                .splitn(3, ' ')
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            ("http".into(), method)
        }
    }
}

/// Reads Locust's final statistics (`--json-file`: its CSV files are rewritten each second and
/// may miss the last one).
pub fn read_stats(path: &Path) -> Result<Vec<Operation>, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::io(path, e))?;
    let entries: Vec<Entry> = serde_json::from_str(&text).map_err(|e| LoadError::Format {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })?;
    Ok(entries.into_iter().map(Entry::operation).collect())
}

/// An entry of Locust's JSON statistics, the fields the lab reads.
#[derive(Deserialize)]
struct Entry {
    method: String,
    name: String,
    num_requests: u64,
    num_failures: u64,
    /// Latency (rounded milliseconds, as text) → how many requests took it.
    response_times: std::collections::BTreeMap<String, u64>,
    start_time: f64,
    last_request_timestamp: Option<f64>,
}

impl Entry {
    fn operation(self) -> Operation {
        let mut times: Vec<(f64, u64)> = self
            .response_times
            .iter()
            .filter_map(|(ms, n)| ms.parse::<f64>().ok().map(|ms| (ms, *n)))
            .collect();
        times.sort_by(|a, b| a.0.total_cmp(&b.0));
        let span = self
            .last_request_timestamp
            .map_or(0.0, |last| last - self.start_time);
        Operation {
            kind: self.method,
            name: self.name,
            requests: self.num_requests,
            failures: self.num_failures,
            p50_ms: percentile(&times, 0.50),
            p95_ms: percentile(&times, 0.95),
            p99_ms: percentile(&times, 0.99),
            per_second: if span > 0.0 {
                self.num_requests as f64 / span
            } else {
                0.0
            },
        }
    }
}

/// The `q` quantile of a histogram of (value, count), as Locust computes it (the smallest
/// value with at least `q` of the counts at or below it); NaN when it is empty.
fn percentile(histogram: &[(f64, u64)], q: f64) -> f64 {
    let total: u64 = histogram.iter().map(|&(_, n)| n).sum();
    if total == 0 {
        return f64::NAN;
    }
    let wanted = (q * total as f64).ceil() as u64;
    let mut seen = 0;
    for &(value, n) in histogram {
        seen += n;
        if seen >= wanted.max(1) {
            return value;
        }
    }
    histogram.last().map_or(f64::NAN, |&(v, _)| v)
}

#[cfg(test)]
mod tests {
    use super::{percentile, Operation, Users};

    #[test]
    fn users_are_a_number_or_steps_that_fit_the_run() {
        assert_eq!(Users::parse("20", 30.0), Ok(Users::Constant { users: 20 }));
        assert_eq!(
            Users::parse("10:20:50", 60.0),
            Ok(Users::Step {
                from: 10,
                by: 20,
                to: 50,
                seconds: 20
            })
        );
        for bad in ["0", "ten", "10:0:50", "50:10:10", "1:2", ""] {
            assert!(Users::parse(bad, 60.0).is_err(), "{bad}");
        }
        let crowded = Users::parse("10:10:100", 20.0).unwrap_err();
        assert!(crowded.contains("under 5 s"), "{crowded}");
    }

    #[test]
    fn percentiles_follow_the_histogram() {
        let h = [(1.0, 50), (2.0, 45), (10.0, 4), (100.0, 1)];
        assert_eq!(percentile(&h, 0.5), 1.0);
        assert_eq!(percentile(&h, 0.95), 2.0);
        assert_eq!(percentile(&h, 0.99), 10.0);
        assert_eq!(percentile(&h, 1.0), 100.0);
        assert!(percentile(&[], 0.5).is_nan());
    }

    #[test]
    fn entries_map_onto_the_apis_labels() {
        let op = |kind: &str, name: &str| Operation {
            kind: kind.into(),
            name: name.into(),
            requests: 1,
            failures: 0,
            p50_ms: 1.0,
            p95_ms: 1.0,
            p99_ms: 1.0,
            per_second: 1.0,
        };
        assert_eq!(
            op("GET", "GET /kv/{key} strong").api_labels(),
            ("http".into(), "GET /kv/{key}".into())
        );
        assert_eq!(
            op("grpc", "Kv/Get eventual").api_labels(),
            ("grpc".into(), "Kv/Get".into())
        );
        assert!(!op("ASYNC", "ASYNC visible").is_request());
    }
}

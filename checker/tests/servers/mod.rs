//! What the tests against real servers share: free ports, waiting for a
//! server to serve, and running a workload without faults then judging it.

use checker::linearizable::Options;
use checker::run::judge::{judge, Judgement};
use checker::run::{run, RunConfig, Stop};
use history::History;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workloads::Target;

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Polls `ready` every 100 ms until it holds; fails the test after 30 s.
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} did not become ready in 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `workload` against `target` for `seconds` at `rate` ops/s with
/// `concurrency` processes and no faults, and judges the history.
pub fn run_and_judge(
    target: Arc<dyn Target>,
    workload: &str,
    concurrency: usize,
    seconds: u64,
    rate: f64,
) -> (History, Judgement) {
    let workload = workloads::by_name(workload, &workloads::Options::default()).expect("workload");
    let checks = workload.checks.clone();
    let config = RunConfig {
        concurrency,
        time_limit: Duration::from_secs(seconds),
        rate: Some(rate),
        seed: 3,
        op_timeout: Duration::from_secs(5),
        settle: Duration::from_secs(5),
        history_path: None,
        progress: false,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let recorded = rt
        .block_on(run(target, workload, None, &config, Stop::default()))
        .expect("runs");
    let judgement = judge(&checks, &recorded.history, &Options::default());
    (recorded.history, judgement)
}

/// Each check's title, verdict and summary, for assertion messages.
pub fn why(judgement: &Judgement) -> Vec<String> {
    judgement
        .sections
        .iter()
        .map(|s| format!("{}: {} {}", s.title, s.verdict, s.summary))
        .collect()
}

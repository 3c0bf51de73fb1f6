//! What the tests against real servers share: free ports, waiting for a
//! server to serve, and running a workload without faults then judging it.

#![allow(dead_code)] // each test binary uses a part of it

pub mod kube;

use checker::run::judge::{judge, Judgement};
use checker::run::{run, RunConfig, Stop};
use cluster::netns::Net;
use cluster::Cluster;
use consistency::linearizable::Options;
use history::History;
use nemesis::{Fault, Nemesis, PartitionShape, Plan, Step};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
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
pub fn wait_until(what: &str, ready: impl FnMut() -> bool) {
    wait_for(what, Duration::from_secs(30), ready);
}

/// Polls `ready` every 100 ms until it holds; fails the test after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < limit,
            "{what} did not happen within {} s",
            limit.as_secs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The tests' own lab network, apart from the user's (`lab`, 10.47.0.x),
/// as `CHECKER_LAB_NET` gives it to the `checker` binary.
pub const TEST_NET: &str = "labt/10.47.1";

/// The tests' network and a state folder of this test process for `name`.
fn test_lab(name: &str) -> (Net, PathBuf) {
    let net = Net {
        prefix: "labt".into(),
        subnet: [10, 47, 1],
    };
    let state = std::env::temp_dir().join(format!("checker-lab-{name}-{}", std::process::id()));
    (net, state)
}

/// A real cluster of `server` on the tests' network, brought up here and
/// torn down (servers, namespaces, bridge, data) on drop, even when the
/// test fails.
pub struct Lab {
    pub cluster: Arc<Cluster>,
    pub state: PathBuf,
}

impl Lab {
    pub fn up(server: &str) -> Lab {
        let (net, state) = test_lab(server);
        let cluster = Arc::new(Cluster::new(
            targets::real_system(server)
                .and_then(|s| s.servers.first().copied())
                .expect("known server"),
            net,
            &state,
        ));
        // A previous run that was killed may have left this cluster.
        cluster
            .down()
            .expect("clean start (needs root: the lab creates network namespaces)");
        let lab = Lab { cluster, state };
        if let Err(e) = lab.cluster.up() {
            panic!("{server} cluster did not come up: {e}");
        }
        lab
    }
}

/// Every cluster of a system and of the systems it runs on (`checker cluster up system`), on
/// the tests' network, torn down in the reverse order on drop.
pub struct SystemLab {
    pub clusters: Vec<Arc<Cluster>>,
    pub state: PathBuf,
}

impl SystemLab {
    pub fn up(system: &str) -> SystemLab {
        SystemLab::up_all(&[system])
    }

    /// `systems` and those they run on, in order, on one network and state folder
    /// (`&["system", "observability"]`: Prometheus comes up watching the service system).
    pub fn up_all(systems: &[&str]) -> SystemLab {
        let (net, state) = test_lab(&systems.join("+"));
        let mut servers: Vec<&'static dyn cluster::Server> = Vec::new();
        for name in systems {
            let system = targets::real_system(name).expect("a real system");
            for server in system.all_servers() {
                if !servers.iter().any(|s| s.name() == server.name()) {
                    servers.push(server);
                }
            }
        }
        let clusters: Vec<Arc<Cluster>> = servers
            .into_iter()
            .map(|s| Arc::new(Cluster::new(s, net.clone(), &state)))
            .collect();
        for cluster in clusters.iter().rev() {
            cluster
                .down()
                .expect("clean start (needs root: the lab creates network namespaces)");
        }
        let lab = SystemLab { clusters, state };
        for cluster in &lab.clusters {
            let started = Instant::now();
            if let Err(e) = cluster.up() {
                panic!("{} cluster did not come up: {e}", cluster.name());
            }
            eprintln!(
                "{}: up in {:.1} s",
                cluster.name(),
                started.elapsed().as_secs_f64()
            );
        }
        lab
    }

    /// The cluster of the server kind `name`.
    pub fn cluster(&self, name: &str) -> Arc<Cluster> {
        self.clusters
            .iter()
            .find(|c| c.name() == name)
            .cloned()
            .expect("a server kind of the system")
    }
}

impl Drop for SystemLab {
    fn drop(&mut self) {
        for cluster in self.clusters.iter().rev() {
            if let Err(e) = cluster.down() {
                eprintln!(
                    "tearing the test cluster {} down failed: {e}",
                    cluster.name()
                );
            }
        }
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Err(e) = self.cluster.down() {
            eprintln!("tearing the test cluster down failed: {e}");
        }
        let _ = std::fs::remove_dir_all(&self.state);
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
    run_with_faults(target, workload, concurrency, seconds, rate, None)
}

/// [`run_and_judge`] with faults injected by `nemesis` along `plan`.
pub fn run_with_faults(
    target: Arc<dyn Target>,
    workload: &str,
    concurrency: usize,
    seconds: u64,
    rate: f64,
    faults: Option<(Arc<dyn Nemesis>, Plan)>,
) -> (History, Judgement) {
    let config = RunConfig {
        concurrency,
        time_limit: Duration::from_secs(seconds),
        rate: Some(rate),
        seed: 3,
        op_timeout: Duration::from_secs(if faults.is_some() { 1 } else { 5 }),
        settle: Duration::from_secs(5),
        history_path: None,
        progress: false,
    };
    run_with_config(target, workload, &config, faults)
}

/// [`run_with_faults`] with the run's settings given (slow servers need
/// longer operation timeouts and settle times).
pub fn run_with_config(
    target: Arc<dyn Target>,
    workload: &str,
    config: &RunConfig,
    faults: Option<(Arc<dyn Nemesis>, Plan)>,
) -> (History, Judgement) {
    let kind = workloads::workload::by_name(workload).expect("workload");
    let mut workload = (kind.build)(&workloads::Options::default());
    let checks = std::mem::take(&mut workload.checks);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Every history is written as it is recorded, and kept when it is not valid, so that a rare
    // anomaly on a real server can be read afterwards (the path is printed with the test's output).
    let mut config = config.clone();
    let kept = config.history_path.is_none().then(|| {
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("histories");
        let _ = std::fs::create_dir_all(&dir);
        dir.join(format!(
            "{}-{}-{n}-{}.jsonl",
            target.name().replace([' ', '(', ')', '/'], ""),
            kind.name,
            std::process::id()
        ))
    });
    config.history_path = config.history_path.or_else(|| kept.clone());
    let recorded = rt
        .block_on(run(target, workload, faults, &config, Stop::default()))
        .expect("runs");
    let mut judgement = judge(&checks, &recorded.history, &Options::default());
    judgement.audited(&recorded.audits);
    if let Some(path) = kept {
        if judgement.verdict == consistency::Verdict::Valid {
            let _ = std::fs::remove_file(&path);
        } else {
            eprintln!("{} history kept: {}", judgement.verdict, path.display());
        }
    }
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

/// A partition with `node` alone and the other two of three together.
pub fn isolate(node: usize) -> Fault {
    Fault::Partition {
        shape: PartitionShape::IsolateOne,
        groups: vec![vec![node], (0..3).filter(|&n| n != node).collect()],
    }
}

/// A plan with each fault from `start` to `stop` seconds into the run.
pub fn plan(faults: &[(f64, f64, Fault)]) -> Plan {
    let mut plan: Plan = faults
        .iter()
        .flat_map(|(start, stop, fault)| {
            [(*start, true), (*stop, false)].map(|(at, start)| Step {
                at_ns: (at * 1e9) as u64,
                fault: fault.clone(),
                start,
            })
        })
        .collect();
    plan.sort_by_key(|s| s.at_ns);
    plan
}

/// How many operations `f` completed `ok`.
pub fn ok_count(history: &History, f: &str) -> usize {
    history
        .ops()
        .iter()
        .filter(|o| o.f == f && o.kind == history::OpType::Ok)
        .count()
}

/// How many events the nemesis recorded.
pub fn nemesis_ops(history: &History) -> usize {
    history
        .ops()
        .iter()
        .filter(|o| o.process.client().is_none())
        .count()
}

/// Fails the test unless every fault on `cluster` is healed: no partition
/// rule, no paused node, every node running.
pub fn assert_healed(cluster: &Cluster) {
    let status = cluster.status().expect("status");
    let rules = nemesis::local::rules(cluster).expect("rules");
    assert!(
        rules.iter().all(|&r| r == 0) && status.iter().all(|s| !s.paused && s.pid.is_some()),
        "every fault is healed: {status:?}, rules {rules:?}"
    );
}

/// The `checker` binary on the network `net` (as `CHECKER_LAB_NET` gives it to the binary).
pub fn checker_on(net: &Net) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_checker"));
    command.env(
        Net::ENV,
        format!(
            "{}/{}.{}.{}",
            net.prefix, net.subnet[0], net.subnet[1], net.subnet[2]
        ),
    );
    command
}

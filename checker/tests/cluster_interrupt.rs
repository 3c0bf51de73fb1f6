//! A run against a real cluster, interrupted in every way a user can, leaves
//! no fault behind: Ctrl-C heals before the report; a second Ctrl-C heals
//! before exiting; after `kill -9` of the checker, `checker nemesis heal`
//! removes what it left; `checker cluster down` leaves no server, namespace
//! or link. Drives the `checker` binary on the tests' own lab network.
//! Needs root; `test.sh` installs etcd and iptables.

mod servers;

use cluster::Cluster;
use servers::{wait_for, Lab, TEST_NET};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn checker(state: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_checker"));
    command
        .env(cluster::netns::Net::ENV, TEST_NET)
        .current_dir(state);
    command
}

/// `checker run` against the etcd cluster with `nemesis` faults that last
/// long enough to be interrupted.
fn start_run(state: &Path, nemesis: &str, out: &str) -> Child {
    checker(state)
        .args(["run", "--target", "etcd", "--nemesis", nemesis, "--quiet"])
        .args([
            "--fault-interval",
            "0.5",
            "--fault-duration",
            "60",
            "--time-limit",
            "120",
        ])
        .args(["--state", ".lab", "--out", out])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("checker runs")
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: kill on a child we own; no memory is involved.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
}

/// Waits for `child` to exit within 60 s.
fn finish(mut child: Child) -> Output {
    wait_for("the checker to exit", Duration::from_secs(60), || {
        child.try_wait().expect("wait").is_some()
    });
    child.wait_with_output().expect("output")
}

/// Waits until a partition rule is in place; fails at once, with what the
/// run printed, if the run ends first.
fn wait_for_partition(cluster: &Cluster, run: &mut Child) {
    wait_for("partition rules", Duration::from_secs(30), || {
        if let Some(status) = run.try_wait().expect("wait") {
            let mut err = String::new();
            if let Some(stderr) = run.stderr.as_mut() {
                let _ = std::io::Read::read_to_string(stderr, &mut err);
            }
            panic!("the run ended ({status}) before any partition:\n{err}");
        }
        nemesis::local::rules(cluster)
            .expect("rules")
            .iter()
            .any(|&r| r > 0)
    });
}

fn faults_left(cluster: &Cluster) -> Vec<String> {
    let rules = nemesis::local::rules(cluster).expect("rules");
    cluster
        .status()
        .expect("status")
        .iter()
        .filter(|s| rules[s.node] > 0 || s.paused || s.pid.is_none())
        .map(|s| format!("{s:?}, {} rule(s)", rules[s.node]))
        .collect()
}

#[test]
fn interrupted_runs_leave_no_fault_behind() {
    let lab = Lab::up("etcd");
    let cluster = &lab.cluster;
    // The binary finds the cluster where the lab put it: `<state>/.lab`.
    let state = lab
        .state
        .parent()
        .expect("parent")
        .join(format!("checker-interrupt-{}", std::process::id()));
    std::fs::create_dir_all(&state).expect("dir");
    std::os::unix::fs::symlink(&lab.state, state.join(".lab")).expect("link");

    // Ctrl-C during a pause: the run heals, checks what it recorded, and
    // writes its report.
    let run = start_run(&state, "pause", "paused");
    wait_for("a paused member", Duration::from_secs(30), || {
        cluster.status().expect("status").iter().any(|s| s.paused)
    });
    signal(&run, libc::SIGINT);
    let output = finish(run);
    assert!(
        matches!(output.status.code(), Some(0..=2)),
        "a verdict after Ctrl-C: {output:?}"
    );
    assert!(
        state.join("paused/history.jsonl").exists(),
        "the history was written"
    );
    assert_eq!(faults_left(cluster), Vec::<String>::new(), "after Ctrl-C");

    // Two Ctrl-C in a row during a partition: it heals, then exits.
    let mut run = start_run(&state, "partition", "twice");
    wait_for_partition(cluster, &mut run);
    signal(&run, libc::SIGINT);
    signal(&run, libc::SIGINT);
    let output = finish(run);
    assert!(output.status.code().is_some(), "exited: {output:?}");
    assert_eq!(
        faults_left(cluster),
        Vec::<String>::new(),
        "after two Ctrl-C"
    );

    // A client process that panics during a partition: the run stops,
    // heals, keeps its history and report naming the process, exit 255.
    let output = checker(&state)
        .env(checker::run::CRASH_PROCESS_ENV, "3@2")
        .args([
            "run",
            "--target",
            "etcd",
            "--nemesis",
            "partition",
            "--quiet",
        ])
        .args(["--fault-interval", "0.5", "--fault-duration", "60"])
        .args(["--time-limit", "120", "--state", ".lab", "--out", "crashed"])
        .output()
        .expect("checker runs");
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(255), "{err}");
    assert!(err.contains("(worker 3, node n1) panicked"), "{err}");
    let page = std::fs::read_to_string(state.join("crashed/report.html")).expect("report");
    assert!(page.contains("(worker 3, node n1) panicked"));
    let history = std::fs::read_to_string(state.join("crashed/history.edn")).expect("history");
    assert!(
        history.contains(":f :start-partition"),
        "the partition was on"
    );
    assert!(history.contains(":f :heal"), "the heal was recorded");
    assert_eq!(faults_left(cluster), Vec::<String>::new(), "after a panic");

    // kill -9 of the checker cannot heal; `checker nemesis heal` does.
    let mut run = start_run(&state, "partition", "killed");
    wait_for_partition(cluster, &mut run);
    signal(&run, libc::SIGKILL);
    finish(run);
    assert!(
        !faults_left(cluster).is_empty(),
        "kill -9 left the partition in place"
    );
    let heal = checker(&state)
        .args(["nemesis", "heal", "--state", ".lab"])
        .output()
        .expect("heal runs");
    assert!(heal.status.success(), "{heal:?}");
    assert!(
        String::from_utf8_lossy(&heal.stdout).contains("removed"),
        "{heal:?}"
    );
    assert_eq!(
        faults_left(cluster),
        Vec::<String>::new(),
        "after nemesis heal"
    );

    // `cluster down` leaves no server, namespace, link or data.
    let pids: Vec<u32> = (0..3).filter_map(|n| cluster.pid(n)).collect();
    assert_eq!(pids.len(), 3);
    let down = checker(&state)
        .args(["cluster", "down", "etcd", "--state", ".lab"])
        .output()
        .expect("down runs");
    assert!(down.status.success(), "{down:?}");
    for pid in pids {
        assert!(!cluster::process::alive(pid), "server {pid} still runs");
    }
    let namespaces = cluster.net().namespaces().expect("namespaces");
    let own: Vec<String> = cluster.hosts().into_iter().map(|h| h.namespace).collect();
    let left: Vec<&String> = namespaces.iter().filter(|n| own.contains(n)).collect();
    assert!(left.is_empty(), "namespaces left: {left:?}");
    // The bridge goes with the last namespace of the lab (another test
    // binary may be using the tests' network at the same time).
    if namespaces.is_empty() {
        assert!(!cluster.net().bridge_exists(), "the bridge is gone");
    }
    assert!(!cluster.data_dir(0).exists(), "the data is gone");
    let _ = std::fs::remove_dir_all(&state);
}

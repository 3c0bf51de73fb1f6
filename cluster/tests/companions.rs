//! A node that runs several programs ([`cluster::Companion`]), on a network of its own
//! (`labc`, 10.47.2.0/24, apart from the user's and the other tests'): they start in order once
//! each may, show in `status`, are killed, paused and resumed together, a companion alone can be
//! killed and restarted, and `down` stops them all and calls the kind's `clean`. Needs root
//! (network namespaces), as the lab's other cluster tests do.

use cluster::netns::Net;
use cluster::{Cluster, ClusterError, Companion, Server};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How many times `clean` ran.
static CLEANED: AtomicUsize = AtomicUsize::new(0);

/// A kind whose nodes run `sleep` as the main program and two companions; the second may
/// start only once the first runs.
struct Sleepers;

fn sleeper(_: &Cluster, _: usize) -> Command {
    let mut command = Command::new("sleep");
    command.arg("600");
    command
}

impl Server for Sleepers {
    fn name(&self) -> &'static str {
        "sleepers"
    }
    fn stem(&self) -> &'static str {
        "slp"
    }
    fn first_address(&self) -> u8 {
        240
    }
    fn nodes(&self) -> usize {
        2
    }
    fn check_installed(&self, _: &Cluster) -> Result<(), ClusterError> {
        Ok(())
    }
    fn prepare(&self, _: &Cluster, _: usize) -> Result<(), ClusterError> {
        Ok(())
    }
    fn command(&self, cluster: &Cluster, node: usize) -> Command {
        sleeper(cluster, node)
    }
    fn ready(&self, cluster: &Cluster, node: usize) -> bool {
        cluster.missing(node).is_empty()
    }
    fn companions(&self) -> &'static [Companion] {
        &[
            Companion {
                name: "first",
                command: sleeper,
                may_start: |_, _| true,
            },
            Companion {
                name: "second",
                command: sleeper,
                may_start: |c, n| c.companion_pid(n, "first").is_some(),
            },
        ]
    }
    fn clean(&self, _: &Cluster) -> Result<(), ClusterError> {
        CLEANED.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .unwrap_or('?')
}

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what} did not happen within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_nodes_programs_start_in_order_fail_together_and_go_down_together() {
    let net = Net::parse("labc/10.47.2").expect("a test network");
    let dir = std::env::temp_dir().join(format!("cluster-companions-{}", std::process::id()));
    let cluster = Cluster::new(&Sleepers, net, &dir);
    cluster.down().expect("a clean start (needs root)");
    cluster.up().expect("up");

    for node in 0..2 {
        assert!(
            cluster.missing(node).is_empty(),
            "every program runs on n{}",
            node + 1
        );
        assert_eq!(cluster.pids(node).len(), 3, "main, first, second");
        let status = &cluster.status().expect("status")[node];
        let names: Vec<&str> = status
            .companions
            .iter()
            .map(|(name, pid)| {
                assert!(pid.is_some(), "{name} runs");
                *name
            })
            .collect();
        assert_eq!(names, ["first", "second"]);
        assert!(cluster.log(node).exists() && cluster.companion_log(node, "second").exists());
    }

    // A companion alone: killed, missing, restarted; the main program untouched.
    let main = cluster.pid(0).expect("main");
    cluster.kill_companion(0, "first").expect("kill first");
    assert_eq!(cluster.missing(0), ["first"]);
    assert!(!cluster.is_up(), "a node missing a program is not up");
    cluster.restart(0).expect("restart");
    // Spawned, a program counts once it has entered the node's namespace.
    wait("first to run again", || cluster.missing(0).is_empty());
    assert_eq!(
        cluster.pid(0),
        Some(main),
        "the main program was left alone"
    );

    // Pausing and resuming the node stops and continues every program.
    cluster.pause(1).expect("pause");
    for pid in cluster.pids(1) {
        wait("a paused program to stop", || state(pid) == 'T');
    }
    cluster.resume(1).expect("resume");
    for pid in cluster.pids(1) {
        wait("a resumed program to run", || state(pid) != 'T');
    }

    // Killing the node kills all of its programs.
    cluster.kill(1).expect("kill");
    assert_eq!(cluster.missing(1), ["sleepers", "first", "second"]);
    cluster.restart(1).expect("restart");
    wait("n2's programs to run again", || {
        cluster.missing(1).is_empty()
    });

    // Down: every program gone, clean called, the namespaces deleted.
    let all: Vec<u32> = (0..2).flat_map(|n| cluster.pids(n)).collect();
    let cleaned = CLEANED.load(Ordering::SeqCst);
    cluster.down().expect("down");
    assert_eq!(
        CLEANED.load(Ordering::SeqCst),
        cleaned + 1,
        "down calls clean"
    );
    for pid in all {
        assert!(!cluster::process::alive(pid), "{pid} survived down");
    }
    assert!(cluster.net().namespaces().expect("namespaces").is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

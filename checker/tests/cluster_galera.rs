//! A real MariaDB Galera cluster, three nodes, one network namespace each (`checker cluster
//! up galera`). Needs root; `test.sh` installs mariadb-server, galera-4 and rsync.
//!
//! What it shows: the three nodes form one cluster (each reports a cluster size of 3 and
//! Synced); Elle's list-append with clients
//! on every node finds what Jepsen's analyses of Galera found (read skew and write skew, so
//! not snapshot isolation nor repeatable read; under contention lost updates); and
//! transactions go on through a partition and a kill of a node, which rejoins.

mod servers;

use consistency::txn::{self, Workload};
use consistency::Verdict;
use nemesis::local::LocalNemesis;
use nemesis::{Fault, Nemesis};
use servers::{assert_healed, isolate, ok_count, plan, run_and_judge, run_with_faults, Lab};
use std::sync::Arc;
use targets::galera::client::GaleraTarget;
use targets::galera::server;
use workloads::Data;

fn status(cluster: &cluster::Cluster, node: usize, variable: &str) -> String {
    let out = std::process::Command::new("mariadb")
        .arg(format!(
            "--socket={}",
            cluster.dir(node).join("mysqld.sock").display()
        ))
        .args(["-u", "root", "--batch", "--skip-column-names", "-e"])
        .arg(format!("SHOW STATUS LIKE '{variable}'"))
        .output()
        .expect("the mariadb client runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

fn target(cluster: &cluster::Cluster, data: Data) -> Arc<GaleraTarget> {
    let urls = (0..cluster.nodes())
        .map(|n| server::url(cluster, n))
        .collect();
    Arc::new(GaleraTarget::new(urls, data, ""))
}

#[test]
fn galera_cluster_and_what_elle_finds() {
    let lab = Lab::up("galera");
    let cluster = &lab.cluster;
    for node in 0..cluster.nodes() {
        assert_eq!(
            status(cluster, node, "wsrep_cluster_size"),
            "3",
            "node {node}"
        );
        assert_eq!(status(cluster, node, "wsrep_local_state_comment"), "Synced");
    }

    // List-append under contention, every client on its own node, no faults.
    let (history, judgement) =
        run_and_judge(target(cluster, Data::Lists), "list-append", 16, 10, 5000.0);
    let committed = ok_count(&history, "txn");
    assert!(committed > 1000, "transactions went through: {committed}");
    let found = &judgement.results["list-append"];
    eprintln!(
        "galera list-append: {committed} committed, {}",
        found["anomaly-types"]
    );
    assert_eq!(judgement.verdict, Verdict::Invalid);
    let analysis = txn::check(&history, Workload::ListAppend, &txn::Options::default())
        .expect("a well-formed history");
    // Read skew or write skew: Galera's REPEATABLE READ is neither snapshot isolation nor
    // repeatable read (Jepsen 2015 and 2026).
    assert!(
        analysis
            .anomaly_types
            .iter()
            .any(|t| t.starts_with("G-single") || t.starts_with("G2-item")),
        "{:?}",
        analysis.anomaly_types
    );
    let ruled_out: Vec<&str> = analysis
        .not
        .iter()
        .chain(&analysis.also_not)
        .copied()
        .collect();
    assert!(ruled_out.contains(&"snapshot-isolation"), "{ruled_out:?}");
    assert!(ruled_out.contains(&"repeatable-read"), "{ruled_out:?}");

    // Through a partition of one node and a kill of another: transactions go on, the nodes
    // rejoin, and the faults heal.
    let nemesis: Arc<dyn Nemesis> = Arc::new(LocalNemesis::new(Arc::clone(cluster)));
    let faults = plan(&[(1.0, 4.0, isolate(2)), (5.0, 8.0, Fault::Kill { node: 1 })]);
    let (history, _) = run_with_faults(
        target(cluster, Data::TxnRegisters),
        "rw-register",
        8,
        12,
        500.0,
        Some((nemesis, faults)),
    );
    let committed = ok_count(&history, "txn");
    assert!(
        committed > 300,
        "transactions went through the faults: {committed}"
    );
    assert_healed(cluster);
    // The killed node rejoins by state transfer, which takes seconds after its restart.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while !cluster.status().expect("status").iter().all(|n| n.ready) {
        assert!(
            std::time::Instant::now() < deadline,
            "every node Synced again within 90 s: {:?}",
            cluster.status()
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    for node in 0..cluster.nodes() {
        assert_eq!(
            status(cluster, node, "wsrep_cluster_size"),
            "3",
            "node {node} rejoined"
        );
    }
}

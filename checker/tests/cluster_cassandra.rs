//! A real three-node Apache Cassandra cluster, one network namespace per
//! node (`checker cluster up cassandra`), under real partitions. Needs
//! root; `test.sh` installs Java, Maven and iptables (the jars come from
//! Maven Central into `~/.m2`).
//!
//! What it shows: a partition cuts the nodes' own traffic (the other
//! nodes' failure detectors convict the isolated node, which a
//! coordinator on the majority side then reports as unavailable for a
//! write at ALL, while the lab still reaches it); reads and writes at ONE
//! under partitions give a history no linearizable register explains;
//! lightweight transactions with SERIAL reads, under the same partitions,
//! stay linearizable.

mod servers;

use consistency::Verdict;
use nemesis::local::LocalNemesis;
use nemesis::Nemesis;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
use scylla::statement::Consistency;
use servers::{
    assert_healed, isolate, nemesis_ops, ok_count, plan, run_with_faults, wait_for, why, Lab,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use targets::cassandra::client::{profile, session_on, CassandraTarget, Mode, TABLE};
use targets::cassandra::server as cassandra;
use workloads::Target;

fn target(lab: &Lab, mode: Mode) -> Arc<CassandraTarget> {
    let nodes = (0..3)
        .map(|n| cassandra::cql_address(&lab.cluster, n))
        .collect();
    Arc::new(CassandraTarget::new(nodes, mode, Duration::from_secs(1)))
}

/// What a write at ALL through one coordinator says about its replicas.
#[derive(Debug, PartialEq)]
enum AtAll {
    /// All three acknowledged.
    Written,
    /// The coordinator knows fewer live replicas than it needs.
    Unavailable { alive: i32 },
    /// Anything else (a timeout while it still thinks all are up).
    Other(String),
}

async fn write_at_all(session: &scylla::client::session::Session) -> AtAll {
    let insert = format!("INSERT INTO {TABLE} (id, value) VALUES (-1, 0)");
    match session.query_unpaged(insert, &[]).await {
        Ok(_) => AtAll::Written,
        Err(ExecutionError::LastAttemptError(RequestAttemptError::DbError(
            DbError::Unavailable { alive, .. },
            _,
        ))) => AtAll::Unavailable { alive },
        Err(e) => AtAll::Other(e.to_string()),
    }
}

#[test]
fn cassandra_cluster_under_real_faults() {
    let started = Instant::now();
    let lab = Lab::up("cassandra");
    eprintln!(
        "cassandra cluster up in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let cluster = &lab.cluster;
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    // The lab's table, and a coordinator on the majority side of the
    // partition to come.
    rt.block_on(target(&lab, Mode::One).setup(&[]))
        .expect("keyspace and table");
    let coordinator = rt
        .block_on(session_on(
            cassandra::cql_address(cluster, 0),
            profile(Consistency::All, Duration::from_secs(5)),
        ))
        .expect("a session on n1");
    // A node is ready once it serves CQL; n1 may still be learning by
    // gossip that the last one joined, so writes at ALL are retried until
    // all three replicas take one (and never go on before they do).
    wait_for(
        "all three replicas taking a write at ALL before the partition",
        Duration::from_secs(60),
        || rt.block_on(write_at_all(&coordinator)) == AtAll::Written,
    );

    // A partition cuts the nodes' own traffic: n1's failure detector
    // convicts the isolated n3 (gossip stops reaching it), so n1 refuses
    // a write at ALL up front; the lab still reaches n3 itself.
    nemesis::iptables::partition(&cluster.hosts(), &[vec![2], vec![0, 1]]).expect("partition");
    let isolated = format!("{}:7000 is now DOWN", cluster.host(2).address);
    wait_for(
        "n1 refusing a write at ALL with n3 isolated",
        Duration::from_secs(180),
        || rt.block_on(write_at_all(&coordinator)) == AtAll::Unavailable { alive: 2 },
    );
    let log = std::fs::read_to_string(cassandra::system_log(cluster, 0)).expect("n1's log");
    assert!(log.contains(&isolated), "n1 logs `{isolated}`");
    assert!(
        cluster.status().expect("status")[2].ready,
        "the lab still reaches the isolated node"
    );
    nemesis::local::heal_network(cluster).expect("heal");
    wait_for(
        "all three replicas taking a write at ALL after the heal",
        Duration::from_secs(120),
        || rt.block_on(write_at_all(&coordinator)) == AtAll::Written,
    );
    drop(coordinator);
    drop(rt);

    // At ONE, each side of a partition reads and writes its own replicas:
    // stale reads and lost updates.
    let nemesis: Arc<dyn Nemesis> = Arc::new(LocalNemesis::new(Arc::clone(cluster)));
    let faults = || plan(&[(1.0, 8.0, isolate(0)), (10.0, 17.0, isolate(2))]);
    let begun = Instant::now();
    let (history, judgement) = run_with_faults(
        target(&lab, Mode::One),
        "register",
        9,
        18,
        100.0,
        Some((Arc::clone(&nemesis), faults())),
    );
    eprintln!(
        "register at ONE: {} ops in {:.1} s",
        history.ops().len(),
        begun.elapsed().as_secs_f64()
    );
    assert_eq!(
        judgement.verdict,
        Verdict::Invalid,
        "{:#?}",
        why(&judgement)
    );
    let recorded = nemesis_ops(&history);
    assert!(
        recorded >= 4,
        "the faults were recorded: {recorded} nemesis events"
    );

    // Lightweight transactions and SERIAL reads under the same partitions:
    // linearizable.
    let begun = Instant::now();
    let (history, judgement) = run_with_faults(
        target(&lab, Mode::Lwt),
        "register",
        9,
        18,
        100.0,
        Some((nemesis, faults())),
    );
    eprintln!(
        "register with LWT: {} ops in {:.1} s",
        history.ops().len(),
        begun.elapsed().as_secs_f64()
    );
    assert_eq!(judgement.verdict, Verdict::Valid, "{:#?}", why(&judgement));
    let ok_writes = ok_count(&history, "write");
    assert!(ok_writes > 20, "LWT writes went through: {ok_writes}");
    assert_healed(cluster);
}

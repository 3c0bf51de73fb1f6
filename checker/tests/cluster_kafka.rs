//! A real three-node Kafka 4.4 cluster in KRaft mode (each node a broker
//! and a controller), one network namespace per node (`checker cluster up
//! kafka`), under real faults: iptables partitions and kill -9. Needs
//! root, a Java runtime and Maven; `test.sh` installs them.
//!
//! What it shows: a partition cuts the brokers' own traffic (a surviving
//! broker sees the isolated one fenced, dropped from every in-sync replica
//! set and from every partition's leadership, while the lab still reaches
//! it); the set workload with `acks=all` and idempotence, on a topic with
//! replication factor 3 and `min.insync.replicas=2`, loses no
//! acknowledged record and duplicates none, with and without faults.

mod servers;

use checker::run::RunConfig;
use consistency::Verdict;
use history::{History, OpType, Value};
use nemesis::local::LocalNemesis;
use nemesis::{Fault, Nemesis};
use servers::{isolate, nemesis_ops, plan, run_with_config, wait_for, why, Lab};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use targets::kafka::client::{Acks, KafkaTarget};
use targets::kafka::server::{self as kafka, broker_id, Metadata};
use workloads::Target;

fn target(lab: &Lab, timeout: Duration) -> Arc<KafkaTarget> {
    let brokers = (0..3).map(|n| kafka::bootstrap(&lab.cluster, n)).collect();
    Arc::new(KafkaTarget::new(brokers, Acks::All, timeout))
}

/// `node`'s own view of `topic`.
fn view(lab: &Lab, node: usize, topic: &str) -> Option<Metadata> {
    kafka::metadata(&lab.cluster, node, &[topic])
}

/// Whether, in `m`, `topic` has all its partitions led by some broker
/// other than `without` and none of them lists `without` in sync (and
/// `without` is not a live broker); `without: None` asks for every
/// partition's ISR to be whole.
fn settled(m: &Metadata, topic: &str, without: Option<i32>) -> bool {
    let Some(t) = m.topics.iter().find(|t| t.name == topic) else {
        return false;
    };
    t.error == 0
        && t.partitions.len() == targets::kafka::client::PARTITIONS as usize
        && t.partitions.iter().all(|p| match without {
            Some(id) => p.leader >= 0 && p.leader != id && !p.isr.contains(&id),
            None => p.leader >= 0 && p.isr.len() == 3,
        })
        && !without.is_some_and(|id| m.brokers.contains(&id))
}

/// A run's settings: Kafka needs 10–16 s to move leadership off an
/// isolated broker, so operations get 10 s (librdkafka's delivery timeout
/// is 7.5 s) and final reads a minute to agree.
/// The history goes to the temporary folder (its path is printed), for
/// post-mortems of a failed assertion.
fn config(name: &str, seconds: u64, rate: f64, concurrency: usize) -> RunConfig {
    let history =
        std::env::temp_dir().join(format!("checker-kafka-{}-{name}.jsonl", std::process::id()));
    eprintln!("kafka: {name}: history in {}", history.display());
    RunConfig {
        concurrency,
        time_limit: Duration::from_secs(seconds),
        rate: Some(rate),
        seed: 7,
        op_timeout: Duration::from_secs(10),
        settle: Duration::from_secs(60),
        history_path: Some(history),
        progress: false,
    }
}

/// What a set history says about acknowledged elements: how many adds
/// were acknowledged, those missing from the last final read of some node,
/// and elements some read returned twice.
struct Tally {
    acknowledged: usize,
    /// Unacknowledged adds librdkafka called not persisted, yet read.
    not_persisted_but_read: BTreeSet<i64>,
    missing: BTreeSet<i64>,
    duplicated: BTreeSet<i64>,
    final_reads: usize,
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_seq()
        .unwrap_or_default()
        .iter()
        .filter_map(|x| match x {
            Value::Int(i) => Some(*i),
            _ => None,
        })
        .collect()
}

fn tally(history: &History) -> Tally {
    let ok = |f: &'static str| {
        history
            .ops()
            .iter()
            .filter(move |o| o.kind == OpType::Ok && o.f == f)
    };
    let acknowledged: BTreeSet<i64> = ok("add")
        .filter_map(|o| match o.value {
            Value::Int(i) => Some(i),
            _ => None,
        })
        .collect();
    let mut last_final: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for o in ok("final-read") {
        let node = o
            .extra
            .iter()
            .find(|(k, _)| k == "node")
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        last_final.insert(node, ints(&o.value));
    }
    let mut missing = BTreeSet::new();
    for read in last_final.values() {
        let seen: BTreeSet<i64> = read.iter().copied().collect();
        missing.extend(acknowledged.difference(&seen));
    }
    let read: BTreeSet<i64> = last_final.values().flatten().copied().collect();
    let not_persisted_but_read = history
        .ops()
        .iter()
        .filter(|o| o.f == "add" && o.kind == OpType::Info)
        .filter(|o| {
            o.error
                .as_ref()
                .is_some_and(|e| e.to_string().contains("not persisted"))
        })
        .filter_map(|o| match o.value {
            Value::Int(i) if read.contains(&i) => Some(i),
            _ => None,
        })
        .collect();
    let mut duplicated = BTreeSet::new();
    for o in ok("read").chain(ok("final-read")) {
        let mut seen = BTreeSet::new();
        for x in ints(&o.value) {
            if !seen.insert(x) {
                duplicated.insert(x);
            }
        }
    }
    Tally {
        acknowledged: acknowledged.len(),
        not_persisted_but_read,
        missing,
        duplicated,
        final_reads: last_final.len(),
    }
}

/// How the adds ended: (ok, fail, info).
fn adds(history: &History) -> (usize, usize, usize) {
    let count = |kind: OpType| {
        history
            .ops()
            .iter()
            .filter(|o| o.f == "add" && o.kind == kind)
            .count()
    };
    (count(OpType::Ok), count(OpType::Fail), count(OpType::Info))
}

/// The median and the maximum latency, in ms, of the `ok` operations `f`.
fn latency(history: &History, f: &str) -> (i64, i64) {
    let mut ms: Vec<i64> = history::operations(history)
        .expect("a well-formed history")
        .iter()
        .filter(|o| o.f() == f && o.outcome == history::Outcome::Ok)
        .filter_map(|o| Some((o.completion?.time - o.invoke.time) / 1_000_000))
        .collect();
    ms.sort_unstable();
    (
        ms.get(ms.len() / 2).copied().unwrap_or(0),
        ms.last().copied().unwrap_or(0),
    )
}

/// The adds that failed, with why: a failed add must not show up in a read.
fn failed_adds(history: &History) -> Vec<String> {
    history
        .ops()
        .iter()
        .filter(|o| o.f == "add" && o.kind == OpType::Fail)
        .map(|o| format!("{} {:?}", o.value, o.error))
        .collect()
}

/// Client operations completed in the main phase, per second.
fn throughput(history: &History, seconds: u64) -> f64 {
    let done = history
        .ops()
        .iter()
        .filter(|o| o.kind != OpType::Invoke && (o.f == "add" || o.f == "read"))
        .count();
    done as f64 / seconds as f64
}

#[test]
fn kafka_cluster_under_real_faults() {
    let began = Instant::now();
    let lab = Lab::up("kafka");
    eprintln!(
        "kafka: cluster up in {:.1} s",
        began.elapsed().as_secs_f64()
    );
    let cluster = &lab.cluster;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // A topic replicated on all three, every ISR whole on every broker.
    let probe = target(&lab, Duration::from_secs(10));
    rt.block_on(probe.setup(&[])).expect("the topic is created");
    let topic = probe.topic().expect("a topic");
    wait_for(
        "every broker sees every partition led, with 3 in sync",
        Duration::from_secs(60),
        || (0..3).all(|n| view(&lab, n, &topic).is_some_and(|m| settled(&m, &topic, None))),
    );

    // A partition cuts the brokers' own traffic: isolate the leader of
    // partition 0. A surviving broker, asked directly (the lab's clients
    // reach every node; the isolated one would answer from its frozen
    // cache), sees it fenced, out of every ISR, and leading nothing.
    let leader = view(&lab, 0, &topic).expect("metadata").topics[0].partitions[0].leader;
    let victim = (0..3)
        .find(|&n| broker_id(n) == leader)
        .expect("the leader is one of the three");
    let observer = (victim + 1) % 3;
    nemesis::iptables::partition(
        &cluster.hosts(),
        &[vec![victim], (0..3).filter(|&n| n != victim).collect()],
    )
    .expect("partition");
    wait_for(
        "the surviving brokers drop the isolated one",
        Duration::from_secs(90),
        || {
            view(&lab, observer, &topic)
                .is_some_and(|m| settled(&m, &topic, Some(broker_id(victim))))
        },
    );
    assert!(
        view(&lab, victim, &topic).is_some(),
        "the isolated broker still answers the lab"
    );
    nemesis::local::heal_network(cluster).expect("heal");
    wait_for(
        "every ISR whole again after the heal",
        Duration::from_secs(90),
        || (0..3).all(|n| view(&lab, n, &topic).is_some_and(|m| settled(&m, &topic, None))),
    );

    // No faults: the baseline, and the workload's rate on this machine.
    let seconds = 10;
    let (history, judgement) = run_with_config(
        target(&lab, Duration::from_secs(10)),
        "set",
        &config("no-faults", seconds, 2000.0, 8),
        None,
    );
    let t = tally(&history);
    eprintln!(
        "kafka: set without faults: {:.0} ops/s, adds (ok, fail, info) {:?}, latency ms (median, max) add {:?} read {:?}",
        throughput(&history, seconds),
        adds(&history),
        latency(&history, "add"),
        latency(&history, "read")
    );
    assert_eq!(
        judgement.verdict,
        Verdict::Valid,
        "{:#?}\nfailed adds: {:?}",
        why(&judgement),
        failed_adds(&history)
    );
    assert!(t.acknowledged > 0 && t.final_reads == 3);
    assert!(t.missing.is_empty() && t.duplicated.is_empty());

    // Partitions (each node's, in turn) and a crash: nothing acknowledged
    // is lost, nothing duplicated.
    let nemesis: Arc<dyn Nemesis> = Arc::new(LocalNemesis::new(Arc::clone(cluster)));
    let seconds = 45;
    let faults = plan(&[
        (2.0, 14.0, isolate(victim)),
        (16.0, 28.0, isolate(observer)),
        (
            30.0,
            38.0,
            Fault::Kill {
                node: 3 - victim - observer,
            },
        ),
    ]);
    let started = Instant::now();
    let (history, judgement) = run_with_config(
        target(&lab, Duration::from_secs(10)),
        "set",
        &config("faults", seconds, 100.0, 6),
        Some((Arc::clone(&nemesis), faults)),
    );
    let t = tally(&history);
    eprintln!(
        "kafka: set under faults: {:.1} s, {:.0} ops/s, adds (ok, fail, info) {:?}, latency ms (median, max) add {:?} read {:?}; \
         librdkafka said not persisted, yet read: {:?}",
        started.elapsed().as_secs_f64(),
        throughput(&history, seconds),
        adds(&history),
        latency(&history, "add"),
        latency(&history, "read"),
        t.not_persisted_but_read
    );
    assert_eq!(
        judgement.verdict,
        Verdict::Valid,
        "{:#?}\nfailed adds: {:?}",
        why(&judgement),
        failed_adds(&history)
    );
    assert!(
        t.final_reads == 3,
        "every node's final read succeeded: {}",
        t.final_reads
    );
    assert!(
        t.missing.is_empty(),
        "acknowledged but not in the final reads: {:?}",
        t.missing
    );
    assert!(t.duplicated.is_empty(), "read twice: {:?}", t.duplicated);
    // How many depends on the machine's load; that some were is the point.
    assert!(t.acknowledged > 0, "nothing was acknowledged under faults");
    let recorded = nemesis_ops(&history);
    assert!(
        recorded >= 6,
        "the faults were recorded: {recorded} nemesis events"
    );
    servers::assert_healed(cluster);
    eprintln!("kafka: test took {:.1} s", began.elapsed().as_secs_f64());
}

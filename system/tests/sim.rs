//! The simulated cluster under faults. Every test runs on tokio's paused clock: time advances
//! only when every task waits, so timeouts, ticks and delays are exact and the tests take
//! milliseconds of real time.

use std::collections::BTreeSet;
use std::time::Duration;

use system::sim::{CallError, ConflictPolicy, Mode, Refused, SimCluster, SimConfig};
use system::store::{Command, Datum, Reply};

const TIMEOUT: Duration = Duration::from_millis(200);

fn write(key: u64, value: i64) -> Command {
    Command::Write { key, value }
}

fn read(key: u64) -> Command {
    Command::Read { key }
}

fn value(v: i64) -> Result<Reply, CallError> {
    Ok(Reply::Value(Some(Datum::Int(v))))
}

async fn settle(ticks: u32) {
    tokio::time::sleep(Duration::from_millis(10) * ticks).await;
}

async fn assert_converged(cluster: &SimCluster) {
    let states = cluster.snapshot().await;
    assert!(
        states.iter().all(|s| s == &states[0]),
        "diverged: {states:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn strong_serves_through_every_replica() {
    let cluster = SimCluster::start(SimConfig::new(3, Mode::Strong));
    for node in 0..3 {
        let client = cluster.client(node);
        assert_eq!(
            client.call(write(1, node as i64), TIMEOUT).await,
            Ok(Reply::Ok)
        );
        for reader in 0..3 {
            assert_eq!(
                cluster.client(reader).call(read(1), TIMEOUT).await,
                value(node as i64)
            );
        }
    }
    let cas = Command::Cas {
        key: 1,
        expected: Some(2),
        new: 5,
    };
    assert_eq!(
        cluster.client(1).call(cas.clone(), TIMEOUT).await,
        Ok(Reply::CasResult(true))
    );
    assert_eq!(
        cluster.client(2).call(cas, TIMEOUT).await,
        Ok(Reply::CasResult(false))
    );
    settle(2).await;
    assert_converged(&cluster).await;
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn strong_partition_minority_times_out_while_majority_serves() {
    let cluster = SimCluster::start(SimConfig::new(3, Mode::Strong));
    cluster.partition(&[vec![0, 1], vec![2]]);
    assert_eq!(
        cluster.client(2).call(write(1, 2), TIMEOUT).await,
        Err(CallError::Timeout)
    );
    assert_eq!(
        cluster.client(2).call(read(1), TIMEOUT).await,
        Err(CallError::Timeout)
    );
    assert_eq!(
        cluster.client(0).call(write(1, 0), TIMEOUT).await,
        Ok(Reply::Ok)
    );
    assert_eq!(cluster.client(1).call(read(1), TIMEOUT).await, value(0));

    // The leader alone: nobody is served. Its own clients time out until its quorum timeout
    // (5 ticks) passes, and are refused after that; the majority side (no leader) times out.
    cluster.partition(&[vec![0], vec![1, 2]]);
    let early = cluster
        .client(0)
        .call(write(1, 3), Duration::from_millis(20))
        .await;
    assert_eq!(early, Err(CallError::Timeout));
    settle(10).await;
    let late = cluster.client(0).call(write(1, 4), TIMEOUT).await;
    assert_eq!(late, Err(CallError::Refused(Refused::NoQuorum)));
    assert_eq!(
        cluster.client(1).call(read(1), TIMEOUT).await,
        Err(CallError::Timeout)
    );

    // Healed: everyone serves; the write that timed out at the leader was logged and is applied
    // once now (indeterminate ops may take effect later); the refused one never.
    cluster.heal();
    settle(3).await;
    assert_eq!(cluster.client(2).call(read(1), TIMEOUT).await, value(3));
    settle(2).await;
    assert_converged(&cluster).await;
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn strong_crashed_replica_is_down_and_catches_up_after_restart() {
    let cluster = SimCluster::start(SimConfig::new(3, Mode::Strong));
    cluster.crash(2);
    assert_eq!(
        cluster.client(2).call(read(1), TIMEOUT).await,
        Err(CallError::Down)
    );
    for delta in 1..=10 {
        let incr = Command::Incr { key: 1, delta };
        assert_eq!(cluster.client(1).call(incr, TIMEOUT).await, Ok(Reply::Ok));
    }
    // Its disk is still visible (and empty: it missed everything).
    assert!(cluster.snapshot().await[2].is_empty());
    cluster.restart(2);
    settle(3).await;
    assert_eq!(cluster.snapshot().await[2].get(&1), Some(&Datum::Int(55)));
    assert_eq!(cluster.client(2).call(read(1), TIMEOUT).await, value(55));
    assert_converged(&cluster).await;

    // Crashing the leader stops everything; its disk survives the restart.
    cluster.crash(0);
    assert_eq!(
        cluster.client(1).call(read(1), TIMEOUT).await,
        Err(CallError::Timeout)
    );
    cluster.restart(0);
    assert_eq!(cluster.client(1).call(read(1), TIMEOUT).await, value(55));
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn paused_replica_answers_nothing_until_resumed() {
    let cluster = SimCluster::start(SimConfig::new(3, Mode::Eventual(ConflictPolicy::Lww)));
    cluster.pause(1);
    assert_eq!(
        cluster.client(1).call(write(1, 1), TIMEOUT).await,
        Err(CallError::Timeout)
    );
    assert_eq!(
        cluster.client(0).call(write(2, 2), TIMEOUT).await,
        Ok(Reply::Ok)
    );
    // Its state is still readable (a snapshot of its disk), and behind.
    let states = cluster.snapshot().await;
    assert_eq!(states[1].get(&2), None);
    cluster.resume(1);
    settle(3).await;
    // The queued request was processed after all (so the timeout was indeed indeterminate).
    assert_eq!(cluster.client(2).call(read(1), TIMEOUT).await, value(1));
    assert_converged(&cluster).await;
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn eventual_both_sides_answer_under_partition_and_converge_after_heal() {
    for policy in [ConflictPolicy::Lww, ConflictPolicy::Siblings] {
        let cluster = SimCluster::start(SimConfig::new(3, Mode::Eventual(policy)));
        cluster.partition(&[vec![0], vec![1, 2]]);
        let (a, b) = (cluster.client(0), cluster.client(2));
        assert_eq!(a.call(write(1, 10), TIMEOUT).await, Ok(Reply::Ok));
        assert_eq!(b.call(write(1, 20), TIMEOUT).await, Ok(Reply::Ok));
        let add = |element| Command::Add { key: 2, element };
        assert_eq!(a.call(add(1), TIMEOUT).await, Ok(Reply::Ok));
        assert_eq!(b.call(add(2), TIMEOUT).await, Ok(Reply::Ok));
        // Each side reads its own writes.
        assert_eq!(a.call(read(1), TIMEOUT).await, value(10), "{policy:?}");
        assert_eq!(
            cluster.client(1).call(read(1), TIMEOUT).await,
            value(20),
            "{policy:?}"
        );
        settle(5).await;
        let states = cluster.snapshot().await;
        assert_ne!(
            states[0], states[1],
            "{policy:?}: a partition should keep them apart"
        );

        cluster.heal();
        settle(5).await;
        assert_converged(&cluster).await;
        let merged = cluster.snapshot().await.remove(0);
        let set = match merged.get(&2) {
            Some(Datum::Set(set)) => set.clone(),
            other => panic!("{policy:?}: {other:?}"),
        };
        match policy {
            // One of the two concurrent adds is lost.
            ConflictPolicy::Lww => assert_eq!(set.len(), 1, "{set:?}"),
            // Both kept; the concurrent writes read as their maximum.
            ConflictPolicy::Siblings => {
                assert_eq!(set, BTreeSet::from([1, 2]));
                assert_eq!(merged.get(&1), Some(&Datum::Int(20)));
            }
        }
        cluster.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn lww_with_a_fast_clock_overrides_later_writes() {
    let cluster = SimCluster::start(SimConfig::new(2, Mode::Eventual(ConflictPolicy::Lww)));
    cluster.skew_clock(0, 3_600_000_000_000); // an hour ahead
    cluster.partition(&[vec![0], vec![1]]);
    assert_eq!(
        cluster.client(0).call(write(1, 1), TIMEOUT).await,
        Ok(Reply::Ok)
    );
    settle(1).await;
    // Written later in real time, but with a clock an hour behind.
    assert_eq!(
        cluster.client(1).call(write(1, 2), TIMEOUT).await,
        Ok(Reply::Ok)
    );
    cluster.heal_all();
    settle(5).await;
    for state in cluster.snapshot().await {
        assert_eq!(state.get(&1), Some(&Datum::Int(1)), "the earlier write won");
    }
    // Once replicas have seen each other, causality holds whatever the clocks say.
    cluster.skew_clock(0, 3_600_000_000_000);
    assert_eq!(
        cluster.client(1).call(write(1, 3), TIMEOUT).await,
        Ok(Reply::Ok)
    );
    settle(2).await;
    assert_eq!(cluster.client(0).call(read(1), TIMEOUT).await, value(3));
    cluster.shutdown().await;
}

/// Under delay and loss, every increment that returned `Ok` is applied exactly once, a timed-out
/// one at most once, and the replicas converge once the faults stop.
#[tokio::test(start_paused = true)]
async fn strong_applies_each_command_at_most_once_under_delay_and_loss() {
    let config = SimConfig {
        link_delay: (Duration::from_millis(1), Duration::from_millis(4)),
        loss: 0.1,
        seed: 7,
        ..SimConfig::new(3, Mode::Strong)
    };
    let cluster = SimCluster::start(config);
    let mut tasks = Vec::new();
    for node in 0..3 {
        let client = cluster.client(node);
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut unknown) = (0, 0);
            for _ in 0..30 {
                match client
                    .call(Command::Incr { key: 1, delta: 1 }, TIMEOUT)
                    .await
                {
                    Ok(Reply::Ok) => ok += 1,
                    Err(CallError::Timeout) => unknown += 1,
                    // Refused (the leader missed a majority's acks for too long): not applied.
                    Err(CallError::Refused(Refused::NoQuorum)) => {}
                    other => panic!("{other:?}"),
                }
            }
            (ok, unknown)
        }));
    }
    let (mut ok, mut unknown) = (0, 0);
    for task in tasks {
        let (o, u) = task.await.expect("client task");
        ok += o;
        unknown += u;
    }
    eprintln!("{ok} ok, {unknown} unknown");
    assert!(ok > 30, "mostly served: {ok} ok, {unknown} unknown");
    cluster.heal_all();
    settle(20).await;
    assert_converged(&cluster).await;
    let Some(Datum::Int(total)) = cluster.snapshot().await[0].get(&1).cloned() else {
        panic!("no counter")
    };
    assert!(
        (ok..=ok + unknown).contains(&total),
        "{ok} ok + {unknown} unknown, counter {total}"
    );
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn eventual_converges_after_delay_loss_crash_and_pause() {
    let config = SimConfig {
        link_delay: (Duration::from_millis(1), Duration::from_millis(5)),
        loss: 0.3,
        seed: 11,
        ..SimConfig::new(5, Mode::Eventual(ConflictPolicy::Siblings))
    };
    let cluster = SimCluster::start(config);
    cluster.crash(4);
    cluster.pause(3);
    cluster.partition(&[vec![0, 1], vec![2, 3, 4]]);
    for i in 0..20 {
        let node = (i % 3) as usize;
        let reply = cluster
            .client(node)
            .call(Command::Add { key: 9, element: i }, TIMEOUT)
            .await;
        assert_eq!(reply, Ok(Reply::Ok));
    }
    cluster.heal_all();
    cluster.heal_all(); // idempotent
    settle(30).await;
    assert_converged(&cluster).await;
    let states = cluster.snapshot().await;
    assert_eq!(states[4].get(&9), Some(&Datum::Set((0..20).collect())));
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn bank_transfers_and_read_many() {
    let cluster = SimCluster::start(SimConfig::new(3, Mode::Strong));
    let client = cluster.client(1);
    for account in 0..3 {
        assert_eq!(
            client.call(write(account, 10), TIMEOUT).await,
            Ok(Reply::Ok)
        );
    }
    let transfer = |from, to, amount| Command::Transfer { from, to, amount };
    assert_eq!(
        client.call(transfer(0, 1, 7), TIMEOUT).await,
        Ok(Reply::TransferResult(true))
    );
    assert_eq!(
        client.call(transfer(0, 2, 7), TIMEOUT).await,
        Ok(Reply::TransferResult(false))
    );
    let balances = client
        .call(
            Command::ReadMany {
                keys: vec![0, 1, 2],
            },
            TIMEOUT,
        )
        .await;
    let Ok(Reply::Values(balances)) = balances else {
        panic!("{balances:?}")
    };
    let total: i64 = balances.values().flatten().filter_map(Datum::as_int).sum();
    assert_eq!(total, 30);
    assert_eq!(balances[&0], Some(Datum::Int(3)));
    cluster.shutdown().await;
}

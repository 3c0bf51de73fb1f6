//! The replicas' state machines driven by hand: every message is delivered (or dropped) by the
//! test, so each scenario is exact and deterministic.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use system::replica::eventual::Eventual;
use system::replica::strong::{self, Strong};
use system::replica::{
    ConflictPolicy, Effect, Mode, Msg, Now, Refused, Replica, ReplicaConfig, Request, RequestId,
};
use system::store::{Command, Datum, Reply};
use system::NodeId;

/// A cluster whose network is a queue the test delivers from, with cut links.
struct Harness {
    replicas: Vec<Replica>,
    in_flight: VecDeque<(NodeId, NodeId, Msg)>,
    replies: BTreeMap<RequestId, Result<Reply, Refused>>,
    /// Replicas that receive nothing (crashed, or cut off from everyone).
    isolated: BTreeSet<NodeId>,
    now: Now,
    next_seq: u64,
}

impl Harness {
    fn new(config: ReplicaConfig) -> Self {
        Harness {
            replicas: (0..config.nodes)
                .map(|id| Replica::new(id, &config))
                .collect(),
            in_flight: VecDeque::new(),
            replies: BTreeMap::new(),
            isolated: BTreeSet::new(),
            now: Now::default(),
            next_seq: 0,
        }
    }

    fn strong(&self, node: NodeId) -> &Strong {
        match &self.replicas[node as usize] {
            Replica::Strong(r) => r,
            Replica::Eventual(_) => panic!("not a strong replica"),
        }
    }

    fn eventual(&self, node: NodeId) -> &Eventual {
        match &self.replicas[node as usize] {
            Replica::Eventual(r) => r,
            Replica::Strong(_) => panic!("not an eventual replica"),
        }
    }

    /// Sends a request to `node` (deadline: none) and returns its id.
    fn request(&mut self, node: NodeId, command: Command) -> RequestId {
        self.request_until(node, command, u64::MAX)
    }

    fn request_until(&mut self, node: NodeId, command: Command, deadline_ns: u64) -> RequestId {
        self.next_seq += 1;
        let id = RequestId {
            client: 1,
            seq: self.next_seq,
        };
        let request = Request {
            id,
            command,
            deadline_ns,
        };
        let mut out = Vec::new();
        self.replicas[node as usize].on_request(request, self.now, &mut out);
        self.collect(node, out);
        id
    }

    fn tick(&mut self, node: NodeId) {
        let mut out = Vec::new();
        self.replicas[node as usize].on_tick(self.now, &mut out);
        self.collect(node, out);
    }

    fn tick_all(&mut self) {
        for node in 0..self.replicas.len() as NodeId {
            self.tick(node);
        }
    }

    fn collect(&mut self, from: NodeId, out: Vec<Effect>) {
        for effect in out {
            match effect {
                Effect::Send { to, msg } => self.in_flight.push_back((from, to, msg)),
                Effect::Reply { req_id, result } => {
                    let previous = self.replies.insert(req_id, result);
                    assert!(previous.is_none(), "{req_id:?} answered twice");
                }
            }
        }
    }

    /// Delivers messages until none is left; those to or from isolated replicas are lost.
    fn deliver_all(&mut self) {
        let mut steps = 0;
        while let Some((from, to, msg)) = self.in_flight.pop_front() {
            steps += 1;
            assert!(steps < 100_000, "messages never stop");
            if self.isolated.contains(&from) || self.isolated.contains(&to) {
                continue;
            }
            let mut out = Vec::new();
            self.replicas[to as usize].on_message(from, msg, self.now, &mut out);
            self.collect(to, out);
        }
    }

    fn reply(&self, id: RequestId) -> Option<&Result<Reply, Refused>> {
        self.replies.get(&id)
    }

    fn states(&self) -> Vec<BTreeMap<u64, Datum>> {
        self.replicas.iter().map(Replica::visible_state).collect()
    }
}

fn write(key: u64, value: i64) -> Command {
    Command::Write { key, value }
}

fn int(v: i64) -> Result<Reply, Refused> {
    Ok(Reply::Value(Some(Datum::Int(v))))
}

fn strong_config(nodes: u32) -> ReplicaConfig {
    ReplicaConfig {
        quorum_timeout_ns: 1_000,
        ..ReplicaConfig::new(nodes, Mode::Strong)
    }
}

#[test]
fn strong_serves_reads_and_writes_at_any_replica() {
    let mut h = Harness::new(strong_config(3));
    let w = h.request(1, write(1, 10));
    h.deliver_all();
    assert_eq!(h.reply(w), Some(&Ok(Reply::Ok)));
    let r = h.request(2, Command::Read { key: 1 });
    let r0 = h.request(0, Command::Read { key: 1 });
    h.deliver_all();
    assert_eq!(h.reply(r), Some(&int(10)));
    assert_eq!(h.reply(r0), Some(&int(10)));
    // Followers learn the commit index from the next heartbeat and apply the same entries.
    h.tick(0);
    h.deliver_all();
    let states = h.states();
    assert!(states.iter().all(|s| s == &states[0]), "{states:?}");
}

#[test]
fn strong_leader_cut_off_from_the_majority_never_answers() {
    let mut h = Harness::new(strong_config(3));
    h.isolated.extend([1, 2]);
    let write_id = h.request(0, write(1, 10));
    let read_id = h.request(0, Command::Read { key: 1 });
    for _ in 0..5 {
        h.tick(0);
        h.deliver_all();
    }
    assert_eq!(h.reply(write_id), None, "answered without a majority");
    assert_eq!(h.reply(read_id), None, "read served without a majority");
    assert_eq!(h.strong(0).commit(), 0);
    assert!(h.states()[0].is_empty(), "applied without a majority");

    // Past the quorum timeout, new requests are refused (and so never logged).
    h.now.mono_ns = 5_000;
    let refused = h.request(0, write(1, 20));
    assert_eq!(h.reply(refused), Some(&Err(Refused::NoQuorum)));
    assert_eq!(h.strong(0).log().last(), 2);

    // After the partition heals, the logged requests commit (late, once); the refused never.
    h.isolated.clear();
    h.tick(0);
    h.deliver_all();
    assert_eq!(h.reply(write_id), Some(&Ok(Reply::Ok)));
    assert_eq!(h.reply(read_id), Some(&int(10)));
    h.tick(0);
    h.deliver_all();
    for state in h.states() {
        assert_eq!(state.get(&1), Some(&Datum::Int(10)));
    }
}

#[test]
fn strong_minority_follower_gets_no_answer_while_the_majority_serves() {
    let mut h = Harness::new(strong_config(3));
    h.isolated.insert(2);
    let minority = h.request(2, write(1, 1));
    let majority = h.request(1, write(1, 2));
    h.tick(0);
    h.deliver_all();
    assert_eq!(h.reply(minority), None);
    assert_eq!(h.reply(majority), Some(&Ok(Reply::Ok)));
    assert!(h.states()[2].is_empty());
}

#[test]
fn strong_follower_catches_up_after_restart() {
    let mut h = Harness::new(strong_config(3));
    h.isolated.insert(2); // crashed: receives nothing
    for v in 1..=5 {
        let id = h.request(0, Command::Incr { key: 7, delta: v });
        h.deliver_all();
        assert_eq!(h.reply(id), Some(&Ok(Reply::Ok)));
    }
    assert!(h.states()[2].is_empty());

    // Restart: its disk (empty log) survived; the leader's heartbeat shows the gap.
    h.isolated.clear();
    h.replicas[2].on_restart(h.now);
    h.tick(0);
    h.deliver_all();
    h.tick(0);
    h.deliver_all();
    assert_eq!(h.strong(2).log().last(), 5);
    assert_eq!(h.strong(2).applied(), 5);
    assert_eq!(h.states()[2].get(&7), Some(&Datum::Int(15)));
    assert_eq!(h.states()[2], h.states()[0]);
}

#[test]
fn strong_follower_far_behind_catches_up_from_a_snapshot() {
    let mut h = Harness::new(ReplicaConfig {
        log_retention: 2,
        ..strong_config(3)
    });
    h.isolated.insert(2);
    for v in 0..10 {
        h.request(0, Command::Add { key: 3, element: v });
        h.deliver_all();
    }
    // The leader kept only the last entries: what follower 2 misses is gone.
    assert!(h.strong(0).log().first() > 1);
    h.isolated.clear();
    h.replicas[2].on_restart(h.now);
    h.tick(0);
    h.deliver_all();
    h.tick(0);
    h.deliver_all();
    let expected = Datum::Set((0..10).collect());
    assert_eq!(h.states()[2].get(&3), Some(&expected));
    assert_eq!(h.strong(2).applied(), 10);
    // And it keeps replicating normally afterwards.
    h.request(
        1,
        Command::Add {
            key: 3,
            element: 10,
        },
    );
    h.deliver_all();
    h.tick(0);
    h.deliver_all();
    assert_eq!(h.states()[2], h.states()[0]);
    assert_eq!(h.strong(2).applied(), 11);
}

#[test]
fn strong_lost_entries_are_resent() {
    let mut h = Harness::new(strong_config(3));
    // Follower 2 misses the first entry only.
    h.isolated.insert(2);
    h.request(0, write(1, 1));
    h.deliver_all();
    h.isolated.clear();
    h.request(0, write(2, 2));
    h.deliver_all(); // follower 2 sees a gap and asks again
    assert_eq!(h.strong(2).log().last(), 2);
    h.tick(0);
    h.deliver_all();
    assert_eq!(h.states()[2], h.states()[0]);
}

#[test]
fn strong_duplicated_request_is_applied_once() {
    let mut h = Harness::new(strong_config(3));
    let id = h.request(1, Command::Incr { key: 1, delta: 5 });
    // Duplicate the forwarded request (as a duplicating network would).
    let forward = h
        .in_flight
        .iter()
        .find(|(_, to, _)| *to == strong::LEADER)
        .cloned()
        .expect("forwarded to the leader");
    h.in_flight.push_back(forward);
    h.deliver_all();
    assert_eq!(h.reply(id), Some(&Ok(Reply::Ok)));
    assert_eq!(h.strong(0).log().last(), 1);
    assert_eq!(h.states()[0].get(&1), Some(&Datum::Int(5)));
}

#[test]
fn strong_expired_requests_are_never_logged_and_ids_are_forgotten() {
    let mut h = Harness::new(strong_config(3));
    h.now.mono_ns = 100;
    let late = h.request_until(1, write(1, 1), 100);
    let timely = h.request_until(1, write(2, 2), 500);
    h.deliver_all();
    assert_eq!(h.reply(late), None);
    assert_eq!(h.reply(timely), Some(&Ok(Reply::Ok)));
    assert_eq!(h.strong(0).log().last(), 1);
    assert_eq!(h.strong(0).remembered_ids(), 1);
    h.now.mono_ns = 500;
    h.tick(0);
    assert_eq!(h.strong(0).remembered_ids(), 0);
}

#[test]
fn strong_single_replica_commits_alone() {
    let mut h = Harness::new(strong_config(1));
    let id = h.request(
        0,
        Command::Cas {
            key: 1,
            expected: None,
            new: 3,
        },
    );
    assert_eq!(h.reply(id), Some(&Ok(Reply::CasResult(true))));
    // Applied entries that no follower needs are dropped.
    assert!(h.strong(0).log().is_empty());
    assert_eq!(h.strong(0).log().last(), 1);
}

#[test]
fn strong_leader_keeps_only_what_followers_still_need() {
    let mut h = Harness::new(strong_config(3));
    for v in 0..5 {
        h.request(0, write(1, v));
        h.deliver_all();
    }
    assert!(
        h.strong(0).log().is_empty(),
        "every follower has every entry"
    );
    h.isolated.insert(2);
    for v in 0..5 {
        h.request(0, write(1, v));
        h.deliver_all();
    }
    assert_eq!(h.strong(0).log().len(), 5, "kept for follower 2");
    // Follower 1 learns the last commit index from the next heartbeat.
    h.tick(0);
    h.deliver_all();
    assert!(
        h.strong(1).log().is_empty(),
        "followers drop what they applied"
    );
}

fn eventual(policy: ConflictPolicy) -> Harness {
    Harness::new(ReplicaConfig::new(3, Mode::Eventual(policy)))
}

#[test]
fn eventual_answers_at_once_even_when_isolated() {
    let mut h = eventual(ConflictPolicy::Lww);
    h.isolated.extend([0, 1, 2]);
    let w = h.request(0, write(1, 5));
    assert_eq!(h.reply(w), Some(&Ok(Reply::Ok)));
    let r = h.request(1, Command::Read { key: 1 });
    assert_eq!(
        h.reply(r),
        Some(&Ok(Reply::Value(None))),
        "a stale read: not linearizable"
    );
}

#[test]
fn eventual_converges_after_heal_via_anti_entropy() {
    for policy in [ConflictPolicy::Lww, ConflictPolicy::Siblings] {
        let mut h = eventual(policy);
        // A partition: every broadcast is lost.
        h.isolated.extend([0, 1, 2]);
        h.now.wall_ns = 1_000;
        h.request(0, write(1, 10));
        h.request(1, write(1, 11));
        h.request(2, Command::Add { key: 2, element: 7 });
        h.request(
            0,
            Command::Transfer {
                from: 1,
                to: 3,
                amount: 4,
            },
        );
        h.deliver_all();
        let states = h.states();
        assert_ne!(states[0], states[1], "{policy:?}");

        // Heal; anti-entropy alone repairs what was lost.
        h.isolated.clear();
        h.tick_all();
        h.deliver_all();
        let states = h.states();
        assert!(
            states.iter().all(|s| s == &states[0]),
            "{policy:?}: {states:?}"
        );
        let digests: Vec<u64> = (0..3).map(|n| h.eventual(n).digest()).collect();
        assert!(digests.iter().all(|d| *d == digests[0]));
        assert_eq!(states[0].get(&2), Some(&Datum::Set(BTreeSet::from([7]))));
        // Converged replicas exchange digests only.
        h.tick_all();
        assert!(h.in_flight.iter().all(|(_, _, m)| matches!(
            m,
            Msg::Eventual(system::replica::eventual::Msg::Digest(_))
        )));
        h.deliver_all();
        assert!(h.in_flight.is_empty());
    }
}

/// Two concurrent `Add`s on different replicas, then full replication.
fn concurrent_adds(policy: ConflictPolicy) -> Vec<BTreeMap<u64, Datum>> {
    let mut h = eventual(policy);
    h.request(0, Command::Add { key: 1, element: 1 });
    h.request(1, Command::Add { key: 1, element: 2 });
    h.deliver_all();
    h.tick_all();
    h.deliver_all();
    h.states()
}

#[test]
fn lww_loses_one_of_two_concurrent_adds() {
    let states = concurrent_adds(ConflictPolicy::Lww);
    assert!(states.iter().all(|s| s == &states[0]));
    let Some(Datum::Set(set)) = states[0].get(&1) else {
        panic!("no set: {states:?}")
    };
    assert_eq!(set.len(), 1, "one add lost: {set:?}");
}

#[test]
fn siblings_keep_both_concurrent_adds() {
    let states = concurrent_adds(ConflictPolicy::Siblings);
    assert!(states.iter().all(|s| s == &states[0]));
    assert_eq!(states[0].get(&1), Some(&Datum::Set(BTreeSet::from([1, 2]))));
}

#[test]
fn siblings_resolve_concurrent_integers_to_the_maximum_and_a_later_write_supersedes_them() {
    let mut h = eventual(ConflictPolicy::Siblings);
    h.request(0, write(1, 3));
    h.request(1, write(1, 9));
    h.request(2, write(1, 5));
    h.deliver_all();
    let r = h.request(2, Command::Read { key: 1 });
    assert_eq!(h.reply(r), Some(&int(9)));
    h.request(0, write(1, 1));
    h.deliver_all();
    for state in h.states() {
        assert_eq!(state.get(&1), Some(&Datum::Int(1)));
    }
}

#[test]
fn lww_respects_causality_despite_a_slow_clock() {
    let mut h = eventual(ConflictPolicy::Lww);
    // Replica 1's clock is far behind replica 0's.
    h.now.wall_ns = 1_000_000;
    h.request(0, write(1, 1));
    h.deliver_all();
    h.now.wall_ns = 10;
    // Replica 1 saw the write, so its overwrite is later, whatever its clock says.
    h.request(1, write(1, 2));
    h.deliver_all();
    for state in h.states() {
        assert_eq!(state.get(&1), Some(&Datum::Int(2)));
    }
}

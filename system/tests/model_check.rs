//! Model checking the replication core with stateright: every interleaving (and, in one check,
//! every loss) of messages in a small cluster — 3 replicas, 2 clients — checked for
//! linearizability of a register (key 0, `Write` and `Read`).
//!
//! The replicas are the crate's own state machines ([`Replica`]) behind a thin adapter. Links are
//! FIFO, as in the simulator and TCP, but messages on different links race, so they arrive in
//! any interleaving. Time stands still at 0 (no request expires, the leader never times its
//! quorum out) and there are no ticks: safety cannot depend on timing, and loss exercises the
//! gap reports, resends and snapshots that ticks would otherwise trigger. Larger bounds
//! (unordered links, both clients writing under loss) are correct too but take minutes.

use std::borrow::Cow;

use stateright::actor::register::RegisterMsg;
use stateright::actor::{Actor, ActorModel, Id, LossyNetwork, Network, Out};
use stateright::semantics::register::Register;
use stateright::semantics::LinearizabilityTester;
use stateright::{Checker, Expectation, HasDiscoveries, Model};
use system::replica::{
    strong, ConflictPolicy, Effect, Mode, Msg, Now, Replica, ReplicaConfig, Request, RequestId,
};
use system::store::{Command, Datum, Reply};

const SERVERS: usize = 3;

type RegMsg = RegisterMsg<u64, char, Msg>;

/// One client operation: write a value, or read, at one replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Op {
    server: usize,
    write: Option<char>,
}

fn write_at(server: usize, value: char) -> Op {
    Op {
        server,
        write: Some(value),
    }
}

fn read_at(server: usize) -> Op {
    Op {
        server,
        write: None,
    }
}

/// An actor of the model: a replica, or a client running a script of operations one after the
/// other (request numbers are 1, 2, … per client; the client's actor id names it).
#[derive(Clone)]
enum Node {
    Server(ReplicaConfig),
    Client(Vec<Op>),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[allow(clippy::large_enum_variant)] // few clients, many replica states
enum NodeState {
    Server(Replica),
    /// How many operations were sent; whether the last one is still awaited.
    Client {
        sent: u64,
        awaiting: bool,
    },
}

impl Actor for Node {
    type Msg = RegMsg;
    type State = NodeState;
    type Timer = ();
    type Random = ();
    type Storage = ();

    fn on_start(&self, id: Id, _storage: &Option<()>, o: &mut Out<Self>) -> NodeState {
        match self {
            Node::Server(config) => NodeState::Server(Replica::new(usize::from(id) as u32, config)),
            Node::Client(script) => match script.first() {
                Some(op) => {
                    send_op(op, 1, o);
                    NodeState::Client {
                        sent: 1,
                        awaiting: true,
                    }
                }
                None => NodeState::Client {
                    sent: 0,
                    awaiting: false,
                },
            },
        }
    }

    fn on_msg(&self, _id: Id, state: &mut Cow<NodeState>, src: Id, msg: RegMsg, o: &mut Out<Self>) {
        match (self, &**state) {
            (Node::Server(_), NodeState::Server(replica)) => {
                let client = usize::from(src) as u64;
                let request = |seq, command| Request {
                    id: RequestId { client, seq },
                    command,
                    deadline_ns: u64::MAX,
                };
                let next = step(replica, o, |replica, effects| match msg {
                    RegisterMsg::Put(seq, value) => {
                        let command = Command::Write {
                            key: 0,
                            value: i64::from(u32::from(value)),
                        };
                        replica.on_request(request(seq, command), Now::default(), effects);
                    }
                    RegisterMsg::Get(seq) => {
                        replica.on_request(
                            request(seq, Command::Read { key: 0 }),
                            Now::default(),
                            effects,
                        );
                    }
                    RegisterMsg::Internal(msg) => {
                        replica.on_message(client as u32, msg, Now::default(), effects);
                    }
                    RegisterMsg::PutOk(_) | RegisterMsg::GetOk(..) => {}
                });
                if let Some(next) = next {
                    *state = Cow::Owned(NodeState::Server(next));
                }
            }
            (
                Node::Client(script),
                NodeState::Client {
                    sent,
                    awaiting: true,
                },
            ) => {
                let (RegisterMsg::PutOk(seq) | RegisterMsg::GetOk(seq, _)) = msg else {
                    return;
                };
                if seq != *sent {
                    return; // a duplicate answer to an earlier request
                }
                let next = script.get(*sent as usize);
                if let Some(op) = next {
                    send_op(op, sent + 1, o);
                }
                *state = Cow::Owned(NodeState::Client {
                    sent: sent + u64::from(next.is_some()),
                    awaiting: next.is_some(),
                });
            }
            _ => {}
        }
    }
}

fn send_op(op: &Op, seq: u64, o: &mut Out<Node>) {
    let msg = match op.write {
        Some(value) => RegisterMsg::Put(seq, value),
        None => RegisterMsg::Get(seq),
    };
    o.send(Id::from(op.server), msg);
}

/// Runs one event on a copy of the replica and turns its effects into stateright messages.
/// Returns the new replica if it changed (so stateright can prune no-ops).
fn step(
    replica: &Replica,
    o: &mut Out<Node>,
    event: impl FnOnce(&mut Replica, &mut Vec<Effect>),
) -> Option<Replica> {
    let mut next = replica.clone();
    let mut effects = Vec::new();
    event(&mut next, &mut effects);
    for effect in effects {
        match effect {
            Effect::Send { to, msg } => o.send(Id::from(to as usize), RegisterMsg::Internal(msg)),
            Effect::Reply { req_id, result } => {
                let client = Id::from(req_id.client as usize);
                match result {
                    Ok(Reply::Ok) => o.send(client, RegisterMsg::PutOk(req_id.seq)),
                    Ok(Reply::Value(value)) => {
                        o.send(client, RegisterMsg::GetOk(req_id.seq, to_char(value)))
                    }
                    // No other command is sent; a refusal leaves the client waiting.
                    _ => {}
                }
            }
        }
    }
    (next != *replica).then_some(next)
}

/// A register value back to a char (`'\0'` for a key never written: the register's initial
/// value).
fn to_char(value: Option<Datum>) -> char {
    match value {
        Some(Datum::Int(v)) => u32::try_from(v)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('?'),
        Some(Datum::Set(_)) => '?',
        None => '\0',
    }
}

type RegisterModel = ActorModel<Node, (), LinearizabilityTester<Id, Register<char>>>;

fn model(mode: Mode, clients: Vec<Vec<Op>>, lossy: LossyNetwork) -> RegisterModel {
    let config = ReplicaConfig {
        // Small enough that a follower that lost entries gets a snapshot.
        log_retention: 1,
        ..ReplicaConfig::new(SERVERS as u32, mode)
    };
    ActorModel::new((), LinearizabilityTester::new(Register('\0')))
        .actors((0..SERVERS).map(|_| Node::Server(config.clone())))
        .actors(clients.into_iter().map(Node::Client))
        .init_network(Network::new_ordered([]))
        .lossy_network(lossy)
        .property(Expectation::Always, "linearizable", |_, state| {
            state.history.serialized_history().is_some()
        })
        .property(Expectation::Sometimes, "a read sees a write", |_, state| {
            deliverable(state).any(|msg| matches!(msg, RegisterMsg::GetOk(_, v) if *v != '\0'))
        })
        .property(
            Expectation::Sometimes,
            "a follower reports a gap",
            |_, state| {
                deliverable(state).any(|msg| {
                    matches!(
                        msg,
                        RegisterMsg::Internal(Msg::Strong(strong::Msg::Ack { gap: true, .. }))
                    )
                })
            },
        )
        .property(
            Expectation::Sometimes,
            "a follower gets a snapshot",
            |_, state| {
                deliverable(state).any(|msg| {
                    matches!(
                        msg,
                        RegisterMsg::Internal(Msg::Strong(strong::Msg::Snapshot { .. }))
                    )
                })
            },
        )
        .record_msg_in(RegisterMsg::record_returns)
        .record_msg_out(RegisterMsg::record_invocations)
}

fn deliverable(
    state: &stateright::actor::ActorModelState<Node, LinearizabilityTester<Id, Register<char>>>,
) -> impl Iterator<Item = &RegMsg> {
    state
        .network
        .iter_deliverable()
        .map(|envelope| envelope.msg)
}

/// Both clients write, then read elsewhere: client 3 writes 'A' through follower 1 and reads at
/// follower 2; client 4 writes 'B' at the leader and reads at follower 1.
fn two_writers() -> Vec<Vec<Op>> {
    vec![
        vec![write_at(1, 'A'), read_at(2)],
        vec![write_at(0, 'B'), read_at(1)],
    ]
}

/// Client 3 writes 'A' through follower 1; client 4 reads at the leader, then at follower 2.
fn one_writer_two_reads() -> Vec<Vec<Op>> {
    vec![vec![write_at(1, 'A')], vec![read_at(0), read_at(2)]]
}

/// Explores the whole state space; returns the checker.
fn check(mode: Mode, clients: Vec<Vec<Op>>, lossy: LossyNetwork) -> impl Checker<RegisterModel> {
    let started = std::time::Instant::now();
    let checker = model(mode, clients, lossy)
        .checker()
        .threads(2)
        .spawn_bfs()
        .join();
    eprintln!(
        "{mode:?}: {} states ({} unique), depth {}, {:.1?}",
        checker.state_count(),
        checker.unique_state_count(),
        checker.max_depth(),
        started.elapsed()
    );
    assert!(checker.is_done());
    checker
}

#[test]
fn strong_mode_is_linearizable_with_two_writers() {
    let checker = check(Mode::Strong, two_writers(), LossyNetwork::No);
    checker.assert_no_discovery("linearizable");
    assert!(
        checker.discovery("a read sees a write").is_some(),
        "vacuous"
    );
}

#[test]
fn strong_mode_is_linearizable_when_messages_are_lost() {
    let checker = check(Mode::Strong, one_writer_two_reads(), LossyNetwork::Yes);
    checker.assert_no_discovery("linearizable");
    for exercised in [
        "a read sees a write",
        "a follower reports a gap",
        "a follower gets a snapshot",
    ] {
        assert!(checker.discovery(exercised).is_some(), "never: {exercised}");
    }
}

#[test]
fn eventual_mode_is_not_linearizable() {
    for policy in [ConflictPolicy::Lww, ConflictPolicy::Siblings] {
        let checker = model(Mode::Eventual(policy), two_writers(), LossyNetwork::No)
            .checker()
            .finish_when(HasDiscoveries::AnyFailures)
            .spawn_bfs()
            .join();
        let counterexample = checker
            .discovery("linearizable")
            .unwrap_or_else(|| panic!("{policy:?}: no counterexample found"));
        eprintln!("{policy:?} counterexample:\n{counterexample}");
        assert!(counterexample
            .last_state()
            .history
            .serialized_history()
            .is_none());
    }
}

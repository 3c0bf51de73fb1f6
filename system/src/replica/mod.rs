//! A replica: a deterministic state machine driven by messages, so the same code runs in the
//! tokio simulator ([`crate::sim`]), under a model checker (the `stateright` tests), and later
//! over Kafka.
//!
//! A driver feeds a replica three kinds of events — a client [`Request`], a [`Msg`] from another
//! replica, a periodic tick — together with the current time ([`Now`]), and carries out the
//! [`Effect`]s it appends: messages to send (which the network may lose, delay or reorder) and
//! replies to clients. Replicas never read clocks, sleep or do I/O themselves.
//!
//! Two modes, chosen per cluster ([`Mode`]):
//! - [`strong`]: a fixed leader orders every command in a log replicated to a majority;
//!   linearizable, unavailable without a majority.
//! - [`eventual`]: every replica answers at once and replicates in the background; always
//!   available, converges after a partition heals, not linearizable.
//!
//! Crash and restart: everything in a replica is its (simulated) disk except what
//! [`Replica::on_restart`] resets; a driver keeps the replica across a crash, loses the messages
//! in flight, and calls `on_restart` when it comes back.

mod dedupe;
pub mod eventual;
pub mod log;
pub mod strong;

use std::collections::BTreeMap;

use crate::store::{Command, Datum, Key, Reply};
pub use crate::NodeId;

/// Identifies a client request: unique across the cluster and its lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId {
    /// The client (unique per cluster).
    pub client: u64,
    /// The request's number at that client (unique per client).
    pub seq: u64,
}

/// A client request.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Request {
    /// Its unique id.
    pub id: RequestId,
    /// What the client asks.
    pub command: Command,
    /// When the client stops waiting, on the [`Now::mono_ns`] scale. The strong mode never logs a
    /// request after its deadline (so a request that timed out is applied late only if it was
    /// logged in time) and forgets request ids after their deadline (see `dedupe`). Use
    /// `u64::MAX` for no deadline.
    pub deadline_ns: u64,
}

/// The time at an event, as the driver reads it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Now {
    /// Monotonic time (ns) shared by the whole cluster and never skewed: for deadlines and
    /// timeouts.
    pub mono_ns: u64,
    /// This replica's physical wall clock (ns), possibly skewed: for hybrid logical timestamps.
    pub wall_ns: u64,
}

/// Why a replica refused a request. A refused request was definitely not applied, and never
/// will be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, thiserror::Error)]
pub enum Refused {
    /// The strong-mode leader has not heard from a majority of replicas lately, so it did not
    /// log the request.
    #[error("no quorum: the leader cannot reach a majority of replicas")]
    NoQuorum,
}

/// What a replica asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send `msg` to replica `to` (the network may lose, delay or reorder it).
    Send {
        /// The destination replica.
        to: NodeId,
        /// The message.
        msg: Msg,
    },
    /// Answer the client waiting for `req_id` at this replica (if it still waits).
    Reply {
        /// The request answered.
        req_id: RequestId,
        /// The reply, or why the request was refused.
        result: Result<Reply, Refused>,
    },
}

/// A message between replicas of one mode.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Msg {
    /// The strong mode's protocol.
    Strong(strong::Msg),
    /// The eventual mode's protocol.
    Eventual(eventual::Msg),
}

/// How concurrent writes in the eventual mode are resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConflictPolicy {
    /// Last write wins, by hybrid logical timestamp: one of two concurrent writes is lost.
    Lww,
    /// Concurrent versions are kept as vector-clock siblings; a read merges them (integers: the
    /// maximum; sets: the union).
    Siblings,
}

/// The replication mode of a cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Linearizable: a fixed leader and a majority-replicated log.
    Strong,
    /// Always available, eventually consistent, with the given conflict resolution.
    Eventual(ConflictPolicy),
}

/// Settings shared by the replicas of a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReplicaConfig {
    /// How many replicas the cluster has (ids `0..nodes`).
    pub nodes: u32,
    /// The replication mode.
    pub mode: Mode,
    /// Strong mode: the leader refuses new requests ([`Refused::NoQuorum`]) when it has not heard
    /// from a majority (itself included) for this long. Should span a few ticks and round trips.
    pub quorum_timeout_ns: u64,
    /// Strong mode: how many applied log entries the leader keeps for followers that lag; a
    /// follower further behind gets a snapshot of the store instead.
    pub log_retention: u64,
}

impl ReplicaConfig {
    /// A configuration with a 1 s quorum timeout and 100 000 entries of log retention.
    pub fn new(nodes: u32, mode: Mode) -> Self {
        ReplicaConfig {
            nodes,
            mode,
            quorum_timeout_ns: 1_000_000_000,
            log_retention: 100_000,
        }
    }
}

/// A replica of either mode.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Replica {
    /// A strong-mode replica.
    Strong(strong::Strong),
    /// An eventual-mode replica.
    Eventual(eventual::Eventual),
}

impl Replica {
    /// Replica `id` of a fresh cluster.
    pub fn new(id: NodeId, config: &ReplicaConfig) -> Self {
        match config.mode {
            Mode::Strong => Replica::Strong(strong::Strong::new(id, config)),
            Mode::Eventual(policy) => {
                Replica::Eventual(eventual::Eventual::new(id, config.nodes, policy))
            }
        }
    }

    /// This replica's id.
    pub fn id(&self) -> NodeId {
        match self {
            Replica::Strong(r) => r.id(),
            Replica::Eventual(r) => r.id(),
        }
    }

    /// A client request arrived at this replica.
    pub fn on_request(&mut self, request: Request, now: Now, out: &mut Vec<Effect>) {
        match self {
            Replica::Strong(r) => r.on_request(request, now, out),
            Replica::Eventual(r) => r.on_request(request, now, out),
        }
    }

    /// A message from replica `from` arrived (one of the other mode is ignored).
    pub fn on_message(&mut self, from: NodeId, msg: Msg, now: Now, out: &mut Vec<Effect>) {
        match (self, msg) {
            (Replica::Strong(r), Msg::Strong(msg)) => r.on_message(from, msg, now, out),
            (Replica::Eventual(r), Msg::Eventual(msg)) => r.on_message(from, msg, now, out),
            _ => {}
        }
    }

    /// The periodic tick: retransmissions, heartbeats, anti-entropy.
    pub fn on_tick(&mut self, now: Now, out: &mut Vec<Effect>) {
        match self {
            Replica::Strong(r) => r.on_tick(now, out),
            Replica::Eventual(r) => r.on_tick(now, out),
        }
    }

    /// The replica comes back after a crash: its disk survived, its volatile state did not, and
    /// messages in flight were lost.
    pub fn on_restart(&mut self, now: Now) {
        match self {
            Replica::Strong(r) => r.on_restart(now),
            Replica::Eventual(_) => {}
        }
    }

    /// What a client reading every key here would see: the applied state (strong mode) or the
    /// resolved local versions (eventual mode).
    pub fn visible_state(&self) -> BTreeMap<Key, Datum> {
        match self {
            Replica::Strong(r) => r.store().data().clone(),
            Replica::Eventual(r) => r.visible_state(),
        }
    }
}

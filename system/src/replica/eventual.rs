//! Eventual mode: every replica answers every request at once from its local copy, and
//! replicates in the background. Always available, never linearizable; after a partition heals,
//! anti-entropy makes every replica converge to the same state.
//!
//! # How a command runs
//!
//! The replica reads the local resolved values of the command's keys into a scratch [`Store`],
//! applies the command there ([`Store::apply`], the same meaning as in strong mode), and writes
//! back a new version of every key the command wrote. So every command — `Add`, `Incr`, `Cas`
//! and `Transfer` included — is a read-modify-write *at one replica*:
//!
//! - `Cas` is a local compare-and-set: it compares with the local value, which may be stale, so
//!   two replicas can both succeed. Chosen over refusing it, so workloads can run unchanged and
//!   show the anomaly.
//! - `Transfer` checks the local balance; concurrent transfers on two replicas can overdraw.
//! - `Add` and `Incr` rewrite the whole set or counter: concurrent ones on different replicas
//!   conflict (see below).
//!
//! New versions are sent to every peer at once ([`Msg::Updates`]); a message lost to a cut link
//! is not resent — anti-entropy repairs it.
//!
//! # Conflict resolution ([`ConflictPolicy`])
//!
//! - `Lww`: a version is stamped with the replica's hybrid logical clock; the larger timestamp
//!   wins. Of two concurrent `Add`s (or `Incr`s) one is lost. Causality is respected even with
//!   skewed clocks (receiving a version moves the clock past it), but among concurrent writes the
//!   replica whose clock runs ahead wins.
//! - `Siblings`: a version carries a vector clock; concurrent versions are all kept. A read
//!   returns their merge: **for sets the union, for integers the maximum** (for a mix, the union
//!   of the sets). A write supersedes every sibling it read. So concurrent `Add`s are all kept,
//!   while concurrent `Incr`s still lose all but the largest result (a counter needs a CRDT, not
//!   siblings), and concurrent `Write`s read back as the largest value.
//!
//! # Anti-entropy
//!
//! Each replica keeps a digest of its state (the XOR of one hash per key and version, updated as
//! versions change). On every tick it sends the digest to its peers ([`Msg::Digest`]); a peer
//! whose digest differs answers with its full state, which the first merges. Merging is a join
//! (commutative, associative, idempotent), so once every pair has exchanged states without loss
//! all replicas hold identical versions. Converged replicas exchange one number per tick; any
//! difference costs a full state per tick, so keep the tick long (tens of ms) for large key
//! spaces. (Two different states with equal 64-bit digests would stop the repair between those
//! two replicas: a chance of 2^-64 per comparison.)

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use super::{ConflictPolicy, Effect, Now, Request};
use crate::hlc::Hlc;
use crate::lww::Lww;
use crate::store::{Datum, Key, Store};
use crate::vclock::Siblings;
use crate::NodeId;

/// The eventual mode's messages.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Msg {
    /// New versions of some keys (after a write), or a replica's whole state (anti-entropy).
    Updates(Vec<(Key, Version)>),
    /// The sender's state digest: a receiver that differs answers with its whole state.
    Digest(u64),
}

/// A key's replicated version(s).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// Last write wins.
    Lww(Lww<Datum>),
    /// Concurrent versions kept side by side.
    Siblings(Siblings<Datum>),
}

impl Version {
    /// What a client reads: the winning value, or the merge of the siblings (sets: union;
    /// integers: maximum; a mix: the union of the sets). `None` only for an empty sibling set.
    pub fn resolve(&self) -> Option<Datum> {
        match self {
            Version::Lww(register) => Some(register.value().clone()),
            Version::Siblings(siblings) => {
                let mut union: Option<BTreeSet<i64>> = None;
                let mut max: Option<i64> = None;
                for value in siblings.values() {
                    match value {
                        Datum::Set(set) => union.get_or_insert_with(BTreeSet::new).extend(set),
                        Datum::Int(v) => max = Some(max.map_or(*v, |m| m.max(*v))),
                    }
                }
                union.map(Datum::Set).or(max.map(Datum::Int))
            }
        }
    }

    /// Merges another replica's version into this one. Returns whether this one changed.
    pub fn merge(&mut self, other: &Version) -> bool {
        match (self, other) {
            (Version::Lww(mine), Version::Lww(theirs)) => mine.merge(theirs),
            (Version::Siblings(mine), Version::Siblings(theirs)) => mine.merge(theirs),
            // A cluster has one policy: versions of the other kind never meet.
            _ => false,
        }
    }
}

/// An eventual-mode replica.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Eventual {
    id: NodeId,
    nodes: u32,
    policy: ConflictPolicy,
    hlc: Hlc,
    data: BTreeMap<Key, Version>,
    digest: u64,
}

impl Eventual {
    /// Replica `id` of a fresh cluster of `nodes` replicas.
    pub fn new(id: NodeId, nodes: u32, policy: ConflictPolicy) -> Self {
        Eventual {
            id,
            nodes,
            policy,
            hlc: Hlc::new(id),
            data: BTreeMap::new(),
            digest: 0,
        }
    }

    /// This replica's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The local versions.
    pub fn versions(&self) -> &BTreeMap<Key, Version> {
        &self.data
    }

    /// The digest of the local versions (equal states have equal digests).
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// The resolved value of every key.
    pub fn visible_state(&self) -> BTreeMap<Key, Datum> {
        self.data
            .iter()
            .filter_map(|(key, version)| Some((*key, version.resolve()?)))
            .collect()
    }

    /// Runs a client command locally, answers at once, and sends the new versions to the peers.
    pub fn on_request(&mut self, request: Request, now: Now, out: &mut Vec<Effect>) {
        let command = &request.command;
        let mut scratch = Store::new();
        for key in command.keys() {
            let value = self.data.get(&key).and_then(Version::resolve);
            scratch.set(key, value);
        }
        let reply = scratch.apply(command);
        let written = command.written_keys(&reply);
        if !written.is_empty() {
            let timestamp = self.hlc.now(now.wall_ns);
            let mut updates = Vec::with_capacity(written.len());
            for key in written {
                let Some(datum) = scratch.get(key).cloned() else {
                    continue; // unreachable: every command that writes a key leaves a value
                };
                let version = match self.policy {
                    ConflictPolicy::Lww => Version::Lww(Lww::new(timestamp, datum)),
                    ConflictPolicy::Siblings => {
                        let mut clock = match self.data.get(&key) {
                            Some(Version::Siblings(siblings)) => siblings.clock(),
                            _ => Default::default(),
                        };
                        clock.increment(self.id);
                        Version::Siblings(Siblings::single(clock, datum))
                    }
                };
                self.merge(key, &version);
                updates.push((key, version));
            }
            self.broadcast(&Msg::Updates(updates), out);
        }
        out.push(Effect::Reply {
            req_id: request.id,
            result: Ok(reply),
        });
    }

    /// Merges versions from a peer, or answers its digest with the whole state if they differ.
    pub fn on_message(&mut self, from: NodeId, msg: Msg, now: Now, out: &mut Vec<Effect>) {
        match msg {
            Msg::Updates(updates) => {
                for (key, version) in &updates {
                    if let Version::Lww(register) = version {
                        // Later local writes must order after what we have seen.
                        self.hlc.update(register.timestamp(), now.wall_ns);
                    }
                    self.merge(*key, version);
                }
            }
            Msg::Digest(digest) => {
                if digest != self.digest && from != self.id && from < self.nodes {
                    let state = self.data.iter().map(|(k, v)| (*k, v.clone())).collect();
                    out.push(Effect::Send {
                        to: from,
                        msg: super::Msg::Eventual(Msg::Updates(state)),
                    });
                }
            }
        }
    }

    /// Anti-entropy: tells every peer our digest.
    pub fn on_tick(&mut self, _now: Now, out: &mut Vec<Effect>) {
        self.broadcast(&Msg::Digest(self.digest), out);
    }

    /// Merges one version into the local state, keeping the digest up to date.
    fn merge(&mut self, key: Key, version: &Version) {
        match self.data.get_mut(&key) {
            None => {
                self.digest ^= fingerprint(key, version);
                self.data.insert(key, version.clone());
            }
            Some(mine) => {
                let before = fingerprint(key, mine);
                if mine.merge(version) {
                    self.digest ^= before ^ fingerprint(key, mine);
                }
            }
        }
    }

    fn broadcast(&self, msg: &Msg, out: &mut Vec<Effect>) {
        for to in (0..self.nodes).filter(|&n| n != self.id) {
            out.push(Effect::Send {
                to,
                msg: super::Msg::Eventual(msg.clone()),
            });
        }
    }
}

/// A hash of one key's version (deterministic within a process, which is all digests need).
fn fingerprint(key: Key, version: &Version) -> u64 {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    version.hash(&mut hasher);
    hasher.finish()
}

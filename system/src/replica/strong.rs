//! Strong mode: a fixed leader orders every command in a log that a majority stores before the
//! command is applied. Linearizable under any partition, crash or message loss; unavailable
//! (requests time out, or are refused) when the leader cannot reach a majority.
//!
//! # Protocol
//!
//! - Replica [`LEADER`] (node 0) is the leader, forever; the others are followers. A follower
//!   forwards every client request to the leader and relays the leader's answer.
//! - The leader appends each request — reads too — to its log as an [`Entry`] and sends new
//!   entries to every follower ([`Msg::Append`]). A follower appends the entries that extend its
//!   log without a gap and acknowledges the index of its last entry ([`Msg::Ack`]).
//! - An entry is *committed* once a majority of replicas, the leader included, stores it. The
//!   leader then applies committed entries to its [`Store`] in log order, exactly once each, and
//!   answers each client with the result. Followers learn the commit index from later
//!   `Append`s and apply the same entries in the same order, without answering.
//! - Loss and restarts: on every tick the leader sends each follower a heartbeat (an empty
//!   `Append` starting after what it sent). A follower that misses entries sees a gap and says
//!   so (`Ack { gap: true }`); the leader then resends from the follower's last entry — or a
//!   [`Msg::Snapshot`] of its store if those entries were already dropped.
//! - The leader refuses a request ([`Refused::NoQuorum`]) instead of logging it when it has not
//!   heard from a majority for `quorum_timeout_ns`. A refused request is not in the log, so it
//!   is never applied. A request that was logged is never refused: its client waits, maybe
//!   until it times out (indeterminate — it may be applied later, once).
//!
//! # Why it is linearizable
//!
//! 1. *One order.* Only the leader answers clients, and it answers each request with the result
//!    of applying it to its store at the request's position in the log. The log is append-only
//!    (there is one leader, forever, and its log is on its disk), so the leader's store goes
//!    through one sequence of states, and every answer is the answer of that sequential run.
//! 2. *Real time.* A request is logged after its client sent it, and answered after it was
//!    applied; so the moment the leader applies it lies between invocation and response. That
//!    moment is its linearization point, and the order of those moments is the log order.
//! 3. *Reads are in the log too*, so a read observes every write applied before it, and no
//!    replica answers from a local copy that might be stale.
//! 4. *Exactly once.* The leader logs a request id at most once (it remembers ids until their
//!    deadline, and drops requests that arrive after their deadline — see `dedupe`), and applies
//!    each index once (`applied` is on disk with the store). A request whose client timed out is
//!    either never logged, or logged once and applied once.
//!
//! Majority replication is not what makes a *fixed* leader's answers linearizable (points 1–4
//! are); it is what makes the log durable — every answered command is on a majority, so a
//! future failover to a majority's log would lose nothing — and what makes the cluster behave
//! like a quorum system under faults: a leader cut off from a majority stops answering, and no
//! minority ever answers. The `stateright` tests check linearizability over every interleaving,
//! loss and duplication of messages of a small cluster.

use super::dedupe::Dedupe;
use super::log::{Entry, Index, Log};
use super::{Effect, Now, Refused, ReplicaConfig, Request, RequestId};
use crate::store::{Reply, Store};
use crate::NodeId;

/// The leader: node 0, forever.
pub const LEADER: NodeId = 0;

/// At most this many entries per `Append`.
const MAX_BATCH: usize = 1024;

/// At most this many entries sent to a follower and not yet acknowledged.
const WINDOW: u64 = 8 * 1024;

/// The strong mode's messages.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Msg {
    /// Follower → leader: a client request that arrived at the follower.
    Forward(Request),
    /// Leader → follower: log entries `from..from + entries.len()` (none: a heartbeat), and the
    /// leader's commit index.
    Append {
        /// The index of the first entry (or, for a heartbeat, of the next one to be sent).
        from: Index,
        /// Consecutive entries.
        entries: Vec<Entry>,
        /// Entries up to here are committed.
        commit: Index,
    },
    /// Follower → leader: the follower's log ends at `last`; `gap`: it could not append an
    /// `Append` because entries before it are missing.
    Ack {
        /// The follower's last log index.
        last: Index,
        /// Entries were missing.
        gap: bool,
    },
    /// Leader → lagging follower: the leader's store after applying entries `..=index`.
    Snapshot {
        /// The last entry the snapshot includes.
        index: Index,
        /// The store at that point.
        store: Store,
    },
    /// Leader → follower: the answer to a request the follower forwarded.
    Answer {
        /// The request.
        id: RequestId,
        /// Its result.
        result: Result<Reply, Refused>,
    },
}

/// A strong-mode replica (leader or follower).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Strong {
    id: NodeId,
    nodes: u32,
    quorum_timeout_ns: u64,
    log_retention: u64,
    // --- On disk: survives a crash. ---
    /// The entries not yet dropped.
    log: Log,
    /// Entries up to here are committed (stored by a majority).
    commit: Index,
    /// Entries up to here are applied to `store`.
    applied: Index,
    /// The state after applying entries `..=applied`.
    store: Store,
    /// Leader: the request ids logged, until their deadline.
    accepted: Dedupe,
    /// Leader: per node, the last index known to be in its log (follower logs only grow, so
    /// this stays true across restarts).
    matched: Vec<Index>,
    // --- Volatile: reset by `on_restart`. ---
    /// Leader: per node, the last index sent to it.
    sent: Vec<Index>,
    /// Leader: per node, when it was last heard from (mono ns).
    heard_ns: Vec<u64>,
    /// Follower: the last index it reported a gap after, so that the `Append`s already in
    /// flight behind a lost one do not each make the leader resend everything again.
    gap_reported: Option<Index>,
}

impl Strong {
    /// Replica `id` of a fresh strong-mode cluster.
    pub fn new(id: NodeId, config: &ReplicaConfig) -> Self {
        let nodes = config.nodes.max(1);
        Strong {
            id,
            nodes,
            quorum_timeout_ns: config.quorum_timeout_ns,
            log_retention: config.log_retention,
            log: Log::default(),
            commit: 0,
            applied: 0,
            store: Store::new(),
            accepted: Dedupe::default(),
            matched: vec![0; nodes as usize],
            sent: vec![0; nodes as usize],
            heard_ns: vec![0; nodes as usize],
            gap_reported: None,
        }
    }

    /// This replica's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// True for the leader.
    pub fn is_leader(&self) -> bool {
        self.id == LEADER
    }

    /// The applied state.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The log (what is left of it).
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The commit index this replica knows.
    pub fn commit(&self) -> Index {
        self.commit
    }

    /// Leader: how many request ids it remembers to drop duplicates (those whose deadline has
    /// not passed at the last tick).
    pub fn remembered_ids(&self) -> usize {
        self.accepted.len()
    }

    /// How many entries are applied to the store.
    pub fn applied(&self) -> Index {
        self.applied
    }

    /// A client request: the leader logs it, a follower forwards it.
    pub fn on_request(&mut self, request: Request, now: Now, out: &mut Vec<Effect>) {
        if self.is_leader() {
            self.propose(request, self.id, now, out);
        } else {
            out.push(Effect::Send {
                to: LEADER,
                msg: super::Msg::Strong(Msg::Forward(request)),
            });
        }
    }

    /// A message from replica `from`.
    pub fn on_message(&mut self, from: NodeId, msg: Msg, now: Now, out: &mut Vec<Effect>) {
        if from >= self.nodes || from == self.id {
            return;
        }
        match (self.is_leader(), msg) {
            (true, Msg::Forward(request)) => self.propose(request, from, now, out),
            (true, Msg::Ack { last, gap }) => self.on_ack(from, last, gap, now, out),
            (
                false,
                Msg::Append {
                    from: first,
                    entries,
                    commit,
                },
            ) => self.on_append(first, entries, commit, out),
            (false, Msg::Snapshot { index, store }) => self.on_snapshot(index, store, out),
            (false, Msg::Answer { id, result }) => out.push(Effect::Reply { req_id: id, result }),
            _ => {}
        }
    }

    /// The leader forgets expired request ids and sends heartbeats (which also make followers
    /// that missed entries ask for them again).
    pub fn on_tick(&mut self, now: Now, out: &mut Vec<Effect>) {
        if !self.is_leader() {
            return;
        }
        self.accepted.expire(now.mono_ns);
        for node in self.followers() {
            out.push(self.send(
                node,
                Msg::Append {
                    from: self.sent[node as usize] + 1,
                    entries: Vec::new(),
                    commit: self.commit,
                },
            ));
            self.replicate(node, out);
        }
    }

    /// Back from a crash: nothing sent is in flight any more, and the leader gives followers a
    /// full quorum timeout to answer before it refuses requests.
    pub fn on_restart(&mut self, now: Now) {
        self.sent.clone_from(&self.matched);
        self.heard_ns.fill(now.mono_ns);
        self.gap_reported = None;
    }

    /// Leader: logs a request that arrived here (`origin` = self) or was forwarded by `origin`.
    fn propose(&mut self, request: Request, origin: NodeId, now: Now, out: &mut Vec<Effect>) {
        if now.mono_ns >= request.deadline_ns {
            // The client stopped waiting: logging it now could only apply it late.
            return;
        }
        if !self.accepted.insert(request.id, request.deadline_ns) {
            // A copy of a request already logged (or refused): the first copy gets the answer.
            return;
        }
        if !self.has_quorum(now) {
            self.answer(origin, request.id, Err(Refused::NoQuorum), out);
            return;
        }
        self.log.push(Entry {
            id: request.id,
            command: request.command,
            origin,
        });
        self.advance_commit(out); // a cluster of one commits at once
        for node in self.followers() {
            self.replicate(node, out);
        }
    }

    /// Leader: an acknowledgement from follower `node`.
    fn on_ack(&mut self, node: NodeId, last: Index, gap: bool, now: Now, out: &mut Vec<Effect>) {
        let i = node as usize;
        self.heard_ns[i] = self.heard_ns[i].max(now.mono_ns);
        if last > self.matched[i] {
            self.matched[i] = last;
            self.advance_commit(out);
        }
        if gap {
            // Entries after `last` were lost (or the follower restarted): send them again.
            self.sent[i] = last.max(self.matched[i]);
        }
        self.sent[i] = self.sent[i].max(self.matched[i]);
        self.replicate(node, out);
    }

    /// Leader: sends follower `node` the entries after what it sent it, within the window.
    fn replicate(&mut self, node: NodeId, out: &mut Vec<Effect>) {
        let i = node as usize;
        if self.sent[i] >= self.log.last() {
            return;
        }
        if self.sent[i] + 1 < self.log.first() {
            // The entries it needs were dropped (they are all applied): send the store instead.
            // `applied >= first - 1` because only applied entries are dropped.
            out.push(self.send(
                node,
                Msg::Snapshot {
                    index: self.applied,
                    store: self.store.clone(),
                },
            ));
            self.sent[i] = self.applied;
        }
        if self.sent[i].saturating_sub(self.matched[i]) >= WINDOW {
            return;
        }
        let from = self.sent[i] + 1;
        let entries = self.log.slice(from, MAX_BATCH);
        if entries.is_empty() {
            return;
        }
        self.sent[i] += entries.len() as u64;
        out.push(self.send(
            node,
            Msg::Append {
                from,
                entries,
                commit: self.commit,
            },
        ));
    }

    /// Leader: commits the largest index stored by a majority, applies up to it, and drops the
    /// entries no longer needed.
    fn advance_commit(&mut self, out: &mut Vec<Effect>) {
        let mut stored: Vec<Index> = (0..self.nodes)
            .map(|n| {
                if n == self.id {
                    self.log.last()
                } else {
                    self.matched[n as usize]
                }
            })
            .collect();
        stored.sort_unstable_by(|a, b| b.cmp(a));
        // `stored` has `nodes >= 1` entries and `majority <= nodes`.
        let majority_stored = stored[self.majority() - 1];
        if majority_stored > self.commit {
            self.commit = majority_stored;
            self.apply_committed(out);
        }
        self.compact();
    }

    /// Follower: entries from the leader.
    fn on_append(
        &mut self,
        from: Index,
        entries: Vec<Entry>,
        commit: Index,
        out: &mut Vec<Effect>,
    ) {
        let last = self.log.last();
        if from > last + 1 {
            // Report a gap once per position, and again on every heartbeat (in case the report
            // was lost).
            if entries.is_empty() || self.gap_reported != Some(last) {
                self.gap_reported = Some(last);
                out.push(self.send(LEADER, Msg::Ack { last, gap: true }));
            }
            return;
        }
        // Entries at an index never change (one leader, append-only), so skip the ones we have.
        let known = usize::try_from(last + 1 - from).unwrap_or(usize::MAX);
        for entry in entries.into_iter().skip(known) {
            self.log.push(entry);
        }
        self.commit = self.commit.max(commit);
        self.apply_committed(out);
        out.push(self.send(
            LEADER,
            Msg::Ack {
                last: self.log.last(),
                gap: false,
            },
        ));
    }

    /// Follower: the leader's store after entry `index`, because the entries we miss are gone.
    fn on_snapshot(&mut self, index: Index, store: Store, out: &mut Vec<Effect>) {
        if index > self.applied {
            self.store = store;
            self.applied = index;
            self.commit = self.commit.max(index);
            if self.log.last() < index {
                self.log.reset_after(index);
            } else {
                self.log.drop_through(index);
            }
            self.apply_committed(out);
        }
        out.push(self.send(
            LEADER,
            Msg::Ack {
                last: self.log.last(),
                gap: false,
            },
        ));
    }

    /// Applies the committed entries this replica has, in order; the leader answers each.
    fn apply_committed(&mut self, out: &mut Vec<Effect>) {
        let upto = self.commit.min(self.log.last());
        while self.applied < upto {
            let index = self.applied + 1;
            let Some(entry) = self.log.get(index) else {
                // Unreachable: only applied entries are dropped, and `index <= last`.
                break;
            };
            let reply = self.store.apply(&entry.command);
            self.applied = index;
            if self.is_leader() {
                let (origin, id) = (entry.origin, entry.id);
                self.answer(origin, id, Ok(reply), out);
            }
        }
        if !self.is_leader() {
            self.log.drop_through(self.applied);
        }
    }

    /// Leader: drops applied entries that every follower has — or that are more than
    /// `log_retention` behind (a follower that lags that far gets a snapshot).
    fn compact(&mut self) {
        let all_have = self
            .followers()
            .map(|n| self.matched[n as usize])
            .min()
            .unwrap_or(self.applied);
        let retained = self.log.last().saturating_sub(self.log_retention);
        self.log
            .drop_through(self.applied.min(all_have.max(retained)));
    }

    /// Leader: the answer to a request, to the client here or to the follower that forwarded it.
    fn answer(
        &self,
        origin: NodeId,
        id: RequestId,
        result: Result<Reply, Refused>,
        out: &mut Vec<Effect>,
    ) {
        if origin == self.id {
            out.push(Effect::Reply { req_id: id, result });
        } else {
            out.push(self.send(origin, Msg::Answer { id, result }));
        }
    }

    /// Leader: whether a majority (itself included) was heard from within the quorum timeout.
    fn has_quorum(&self, now: Now) -> bool {
        let recent = self
            .followers()
            .filter(|&n| {
                now.mono_ns.saturating_sub(self.heard_ns[n as usize]) <= self.quorum_timeout_ns
            })
            .count();
        recent + 1 >= self.majority()
    }

    fn majority(&self) -> usize {
        self.nodes as usize / 2 + 1
    }

    fn followers(&self) -> impl Iterator<Item = NodeId> {
        let me = self.id;
        (0..self.nodes).filter(move |&n| n != me)
    }

    fn send(&self, to: NodeId, msg: Msg) -> Effect {
        Effect::Send {
            to,
            msg: super::Msg::Strong(msg),
        }
    }
}

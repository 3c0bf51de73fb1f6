//! The search for one partition: Wing & Gong's backtracking with Lowe's
//! just-in-time linearization and a memo of explored configurations.
//!
//! Events (calls and returns) sit in a doubly linked list in history order.
//! In each configuration the candidates to go next are the calls that
//! precede the first pending return (Lowe's just-in-time rule: an operation
//! whose return has been passed must already be linearized). A candidate
//! that can step the model from the current state into a configuration not
//! seen before is linearized (its call and return are unlinked) and the
//! search descends; when no candidate is left, the last choice is undone.
//!
//! Candidates are tried read-only operations first (see below), then in
//! call order, as Porcupine does. (Earliest return first, and a one-step
//! look-ahead for a blocked read, were measured: they halve the work on the
//! etcd logs but double it on the key-value histories, whose long-running
//! appends they postpone; see docs/benchmarks.md.)
//!
//! Indeterminate operations (`info`, or never completed) have a call and no
//! return. They may be linearized at any point after their call, or never:
//! the history is linearizable as soon as every *completed* operation is
//! linearized (Knossos treats them this way; Porcupine instead forces them
//! in before an artificial return at the end, which costs steps).
//!
//! Read-only operations are linearized eagerly: a read that is minimal (no
//! pending return precedes its call) and allowed in the current state can
//! be moved to the front of any linearization that exists from here, since
//! it changes nothing and nothing had to precede it. So when the subtree
//! that linearizes it first fails, the configuration fails, and the search
//! backtracks past it without trying the alternatives.
//!
//! Models may also say that a state can never again allow an operation
//! as long as only "forward" operations happen ([`Model::never_allows`];
//! for `kv`, a get that saw `"ab"` once the string is `"ac"` and only
//! appends may come before the get). A configuration in which a completed
//! operation not yet linearized is such an operation, and in which no other
//! kind of operation that is still pending could go before it (none was
//! called before its return), has no linearization: the search abandons it
//! at once rather than trying every order of the operations around it. All
//! such operations are looked at, not only the candidates: a get called
//! after an append returned must see it, and is hopeless as soon as the
//! append is linearized, not only once the get becomes a candidate.
//!
//! The search is resumable: [`Search::run`] does a bounded number of steps
//! and can be called again, so that many partitions can share a few threads
//! fairly and stop as soon as one of them fails.

use super::memo::{zobrist_keys, Seen, StateId, States};
use crate::model::Model;

/// One operation of a partition, ready for the search.
pub struct Entry<O> {
    /// The model's view of it.
    pub op: O,
    /// Position of its invocation in the history.
    pub call: usize,
    /// Position of its completion, or `None` if indeterminate.
    pub ret: Option<usize>,
}

/// How a finished search ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// Every completed operation was linearized; the order is a witness.
    Linearizable(Vec<u32>),
    /// No linearization exists.
    NotLinearizable(Counterexample),
}

/// Where the search got furthest before failing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Counterexample {
    /// The longest sequence of operations (indices into the partition's
    /// entries) that could be linearized.
    pub prefix: Vec<u32>,
    /// The completed operation that could not be linearized after it.
    pub blocked: u32,
}

/// Result of one call to [`Search::run`].
pub enum Poll {
    /// The search is over.
    Done(Finished),
    /// The step budget ran out; call again.
    Paused,
}

const NIL: u32 = u32::MAX;

/// The search looks for hopeless operations once it has backtracked once
/// per this many operations of the partition (see `Search::pruning`). The
/// unit tests prune from the start, to check the pruning everywhere.
const OPS_PER_BACKTRACK_BEFORE_PRUNING: usize = if cfg!(test) { usize::MAX } else { 4 };

/// A configuration on the search path and the candidates left to try from it.
#[derive(Clone, Copy)]
struct Frame {
    /// Its candidates are `candidates[start..end]`.
    start: u32,
    end: u32,
    /// The next candidate to try.
    next: u32,
    /// The operation to blame if the configuration fails: the first
    /// pending return (it must be linearized before anything after it), or
    /// the operation that made the configuration hopeless.
    blocker: u32,
}

/// One operation on the search's stack.
#[derive(Clone, Copy)]
struct Linearized {
    op: u32,
    /// The state before it.
    before: StateId,
    /// Linearizing it was the only choice worth trying at that point.
    forced: bool,
}

/// The state of the search over one partition.
pub struct Search<'a, M: Model> {
    model: &'a M,
    entries: &'a [Entry<M::Op>],
    // The event list. Node 0 is the head; node i ≥ 1 is an event.
    next: Vec<u32>,
    prev: Vec<u32>,
    /// The operation of each node.
    node_op: Vec<u32>,
    /// Whether each node is a call (else a return).
    node_call: Vec<bool>,
    call_node: Vec<u32>,
    ret_node: Vec<u32>,

    states: States<M>,
    seen: Seen,
    zobrist: Vec<u64>,
    bits: Vec<u64>,
    hash: u64,

    /// Each linearized operation, the state before it, and whether it was
    /// forced (see the module docs).
    stack: Vec<Linearized>,
    /// One frame per configuration on the current path: `frames[d]` is the
    /// configuration after `stack[..d]`.
    frames: Vec<Frame>,
    /// The candidates of every frame, back to back.
    candidates: Vec<u32>,
    /// Whether each operation is read-only, as the model says.
    read_only: Vec<bool>,
    /// The operations that are neither read-only nor forward
    /// ([`Model::is_forward`]) and not yet linearized, in call order: a
    /// list linked through `reset_next`/`reset_prev` over operation
    /// indices, whose head is the extra node `entries.len()`. Linearizing
    /// unlinks and undoing relinks, in stack order (dancing links).
    reset_next: Vec<u32>,
    reset_prev: Vec<u32>,
    /// Whether the partition has forward operations, so that hopeless
    /// ones are worth looking for.
    prune: bool,
    /// Whether to look for them now: only once the search has backtracked
    /// a few times ([`OPS_PER_BACKTRACK_BEFORE_PRUNING`]). A search that
    /// rarely backtracks meets few hopeless configurations (one always
    /// fails), and on such easy histories the scan costs more than it saves
    /// (+12% instructions on a generated 100,000-op history when it starts
    /// at the first backtrack, +3% this way). Starting late costs little:
    /// every configuration below a hopeless one is hopeless too, so the
    /// first one met after the switch is cut.
    pruning: bool,
    /// Times the search undid an operation, counted until `pruning`.
    backtracks: usize,
    /// The order in which candidates are tried: read-only operations
    /// first, then by call.
    priority: Vec<u64>,
    state: StateId,
    /// Completed operations not yet linearized.
    remaining: usize,
    steps: u64,

    best: Counterexample,
    best_depth: usize,
    /// The stack reached a new maximum depth that is not yet copied to `best`.
    best_pending: bool,
}

impl<'a, M: Model> Search<'a, M> {
    /// Prepares a search over `entries`, which must be sorted by `call`.
    pub fn new(model: &'a M, entries: &'a [Entry<M::Op>]) -> Search<'a, M> {
        let n = entries.len();
        let mut events: Vec<(usize, u32, bool)> = Vec::with_capacity(2 * n);
        let mut remaining = 0;
        for (i, e) in entries.iter().enumerate() {
            events.push((e.call, i as u32, true));
            if let Some(r) = e.ret {
                events.push((r, i as u32, false));
                remaining += 1;
            }
        }
        events.sort_unstable_by_key(|&(at, _, is_call)| (at, !is_call));
        let len = events.len() + 1;
        let mut node_op = vec![NIL; len];
        let mut node_call = vec![false; len];
        let mut call_node = vec![NIL; n];
        let mut ret_node = vec![NIL; n];
        for (k, &(_, op, is_call)) in events.iter().enumerate() {
            let node = k as u32 + 1;
            node_op[node as usize] = op;
            node_call[node as usize] = is_call;
            if is_call {
                call_node[op as usize] = node;
            } else {
                ret_node[op as usize] = node;
            }
        }
        let next: Vec<u32> = (0..len as u32)
            .map(|i| if i + 1 < len as u32 { i + 1 } else { NIL })
            .collect();
        let prev: Vec<u32> = (0..len as u32)
            .map(|i| if i == 0 { NIL } else { i - 1 })
            .collect();
        let width = n.div_ceil(64).max(1);
        let states = States::new(model, n);
        let read_only: Vec<bool> = entries.iter().map(|e| model.is_read_only(&e.op)).collect();
        // The reset list, in call order (entries are sorted by call). Without
        // forward operations only read-only ones could precede a hopeless
        // one, and stepping finds that out anyway: then there is no list,
        // and no pruning.
        let forward: Vec<bool> = entries.iter().map(|e| model.is_forward(&e.op)).collect();
        let prune = forward.iter().any(|&f| f);
        let resets: Vec<u32> = (0..n as u32)
            .filter(|&i| prune && !read_only[i as usize] && !forward[i as usize])
            .collect();
        let mut reset_next = vec![NIL; n + 1];
        let mut reset_prev = vec![NIL; n + 1];
        let mut last = n as u32;
        for &op in &resets {
            reset_next[last as usize] = op;
            reset_prev[op as usize] = last;
            last = op;
        }
        let priority = entries
            .iter()
            .zip(&read_only)
            .map(|(e, &ro)| (u64::from(!ro) << 63) | e.call as u64)
            .collect();
        let mut search = Search {
            model,
            read_only,
            reset_next,
            reset_prev,
            prune,
            pruning: false,
            backtracks: 0,
            priority,
            frames: Vec::new(),
            candidates: Vec::new(),
            entries,
            next,
            prev,
            node_op,
            node_call,
            call_node,
            ret_node,
            states,
            seen: Seen::new(width, n.min(1 << 12)),
            zobrist: zobrist_keys(n),
            bits: vec![0; width],
            hash: 0,
            stack: Vec::new(),
            state: 0,
            remaining,
            steps: 0,
            best: Counterexample::default(),
            best_depth: 0,
            best_pending: false,
        };
        search.pruning = search.pruning_due();
        search.open_frame();
        search
    }

    /// Whether the search has backtracked enough to look for hopeless operations.
    fn pruning_due(&self) -> bool {
        self.prune && self.backtracks >= self.entries.len() / OPS_PER_BACKTRACK_BEFORE_PRUNING
    }

    /// Runs for at most `budget` steps (one step tries one candidate).
    pub fn run(&mut self, budget: u64) -> Poll {
        let stop = self.steps + budget;
        while self.steps < stop {
            if self.remaining == 0 {
                let order = self.stack.iter().map(|l| l.op).collect();
                return Poll::Done(Finished::Linearizable(order));
            }
            // The path always holds the current configuration's frame.
            let Some(frame) = self.frames.last_mut() else {
                break;
            };
            if frame.next == frame.end {
                if let Some(done) = self.fail_frame() {
                    return Poll::Done(done);
                }
                continue;
            }
            let op = self.candidates[frame.next as usize];
            frame.next += 1;
            self.steps += 1;
            let Some(after) =
                self.states
                    .step(self.model, self.state, op, &self.entries[op as usize].op)
            else {
                continue;
            };
            self.flip(op);
            if self.seen.insert(self.hash, &self.bits, after) {
                let forced = self.read_only[op as usize];
                self.stack.push(Linearized {
                    op,
                    before: self.state,
                    forced,
                });
                self.state = after;
                self.lift(op);
                if self.stack.len() > self.best_depth {
                    self.best_depth = self.stack.len();
                    self.best_pending = true;
                }
                if self.remaining > 0 {
                    self.open_frame();
                }
            } else {
                self.flip(op);
                // An allowed read-only candidate whose configuration already
                // failed means this configuration fails too (module docs).
                if self.read_only[op as usize] {
                    if let Some(done) = self.fail_frame() {
                        return Poll::Done(done);
                    }
                }
            }
        }
        Poll::Paused
    }

    /// Pushes the frame of the current configuration: the calls that
    /// precede the first pending return, in the order to try them.
    fn open_frame(&mut self) {
        let start = self.candidates.len();
        let mut node = self.next[0];
        while node != NIL && self.node_call[node as usize] {
            self.candidates.push(self.node_op[node as usize]);
            node = self.next[node as usize];
        }
        // open_frame runs only while a completed operation is pending, and
        // its return is in the list, so the walk stopped at a return.
        let mut blocker = if node == NIL {
            NIL
        } else {
            self.node_op[node as usize]
        };
        // A hopeless configuration has no candidates worth trying, and the
        // hopeless operation is the one to blame in a counterexample.
        if let Some(op) = self.hopeless() {
            self.candidates.truncate(start);
            blocker = op;
        }
        let priority = &self.priority;
        self.candidates[start..].sort_unstable_by_key(|&op| priority[op as usize]);
        let end = self.candidates.len() as u32;
        self.frames.push(Frame {
            start: start as u32,
            end,
            next: start as u32,
            blocker,
        });
    }

    /// A completed operation not yet linearized that never can be, if any:
    /// only forward operations may still precede it, and the model says
    /// that none of them can lead to a state that allows it (module docs).
    fn hopeless(&self) -> Option<u32> {
        if !self.pruning {
            return None;
        }
        // After a read-only operation nothing changed that the answer depends
        // on (the state, and the pending resets), and the parent configuration
        // was not hopeless (or was opened before pruning started: then a
        // hopeless one is cut one step later).
        if self
            .stack
            .last()
            .is_some_and(|l| self.read_only[l.op as usize])
        {
            return None;
        }
        // The earliest call of a pending operation that is not forward: only
        // operations that return before it are protected from resets, and
        // their calls come before it too.
        let head = self.reset_next[self.entries.len()];
        let horizon = if head == NIL {
            usize::MAX
        } else {
            self.entries[head as usize].call
        };
        let state = self.states.get(self.state);
        let mut node = self.next[0];
        while node != NIL {
            if self.node_call[node as usize] {
                let entry = &self.entries[self.node_op[node as usize] as usize];
                if entry.call > horizon {
                    break;
                }
                if entry.ret.is_some_and(|ret| ret < horizon)
                    && self.model.never_allows(state, &entry.op)
                {
                    return Some(self.node_op[node as usize]);
                }
            }
            node = self.next[node as usize];
        }
        None
    }

    /// The current configuration has no linearization: undo the operation
    /// that led to it, and keep undoing past forced ones. Returns the
    /// verdict when nothing is left to undo.
    fn fail_frame(&mut self) -> Option<Finished> {
        if self.prune && !self.pruning {
            self.backtracks += 1;
            self.pruning = self.pruning_due();
        }
        loop {
            let frame = self.frames.pop()?;
            if self.best_pending || self.best_depth == 0 {
                self.best = Counterexample {
                    prefix: self.stack.iter().map(|l| l.op).collect(),
                    blocked: frame.blocker,
                };
                self.best_pending = false;
            }
            self.candidates.truncate(frame.start as usize);
            let Some(last) = self.stack.pop() else {
                return Some(Finished::NotLinearizable(std::mem::take(&mut self.best)));
            };
            self.state = last.before;
            self.flip(last.op);
            self.unlift(last.op);
            if !last.forced {
                return None;
            }
        }
    }

    /// Toggles `op` in the linearized set.
    #[inline]
    fn flip(&mut self, op: u32) {
        self.bits[(op / 64) as usize] ^= 1 << (op % 64);
        self.hash ^= self.zobrist[op as usize];
    }

    #[inline]
    fn unlink(&mut self, node: u32) {
        let (p, n) = (self.prev[node as usize], self.next[node as usize]);
        self.next[p as usize] = n;
        if n != NIL {
            self.prev[n as usize] = p;
        }
    }

    #[inline]
    fn relink(&mut self, node: u32) {
        let (p, n) = (self.prev[node as usize], self.next[node as usize]);
        self.next[p as usize] = node;
        if n != NIL {
            self.prev[n as usize] = node;
        }
    }

    fn lift(&mut self, op: u32) {
        if self.reset_prev[op as usize] != NIL {
            let (p, n) = (self.reset_prev[op as usize], self.reset_next[op as usize]);
            self.reset_next[p as usize] = n;
            if n != NIL {
                self.reset_prev[n as usize] = p;
            }
        }
        self.unlink(self.call_node[op as usize]);
        let ret = self.ret_node[op as usize];
        if ret != NIL {
            self.unlink(ret);
            self.remaining -= 1;
        }
    }

    fn unlift(&mut self, op: u32) {
        let ret = self.ret_node[op as usize];
        if ret != NIL {
            self.relink(ret);
            self.remaining += 1;
        }
        self.relink(self.call_node[op as usize]);
        if self.reset_prev[op as usize] != NIL {
            let (p, n) = (self.reset_prev[op as usize], self.reset_next[op as usize]);
            self.reset_next[p as usize] = op;
            if n != NIL {
                self.reset_prev[n as usize] = op;
            }
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Configurations explored so far.
    pub fn configurations(&self) -> usize {
        self.seen.len()
    }

    /// Approximate heap bytes held by the search.
    pub fn bytes(&self) -> usize {
        self.seen.bytes() + self.states.bytes() + self.stack.capacity() * 8
    }
}

//! The search's memory: interned model states, a transition cache, and the
//! set of configurations already explored.
//!
//! A configuration is (the set of linearized operations, the model state).
//! Reaching one twice means the second visit cannot succeed where the first
//! did not, so the search skips it (Lowe; Horn & Kroening). Sets are bitsets
//! hashed incrementally with per-operation random keys (Zobrist hashing), so
//! a probe costs one lookup rather than a pass over the bitset, and states
//! are interned to 32-bit ids, so comparing and storing them is free
//! whatever the model's state type.

use crate::model::Model;
use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::hash::BuildHasher;

/// Id of an interned model state.
pub type StateId = u32;

/// Marks "step not allowed" in the transition cache.
const REJECTED: StateId = StateId::MAX;

/// Interned states and the cached results of `step` on them.
pub struct States<M: Model> {
    states: Vec<M::State>,
    /// Ids of `states`, found by the state's hash.
    ids: HashTable<StateId>,
    hashes: Vec<u64>,
    /// (state id << 32 | op) → next state id, or [`REJECTED`].
    transitions: FxHashMap<u64, StateId>,
    /// Lookups and hits of `transitions` so far, to judge whether it pays.
    lookups: u64,
    hits: u64,
    /// Whether `transitions` is in use. Models whose states rarely repeat
    /// (a string that every append makes longer) miss almost always, and
    /// then the cache costs more than stepping again.
    caching: bool,
}

/// Lookups after which the transition cache is judged.
const JUDGE_AFTER: u64 = 1 << 10;

impl<M: Model> States<M> {
    /// An interner holding the model's initial state as id 0, sized for a
    /// partition of `ops` operations.
    pub fn new(model: &M, ops: usize) -> States<M> {
        let mut s = States {
            states: Vec::new(),
            ids: HashTable::new(),
            hashes: Vec::new(),
            transitions: FxHashMap::with_capacity_and_hasher(ops.min(1 << 12), Default::default()),
            lookups: 0,
            hits: 0,
            caching: true,
        };
        s.intern(model.init());
        s
    }

    fn intern(&mut self, state: M::State) -> StateId {
        let hash = FxBuildHasher.hash_one(&state);
        let States {
            states,
            ids,
            hashes,
            ..
        } = self;
        if let Some(&id) = ids.find(hash, |&id| {
            hashes[id as usize] == hash && states[id as usize] == state
        }) {
            return id;
        }
        let id = states.len() as StateId;
        states.push(state);
        hashes.push(hash);
        ids.insert_unique(hash, id, |&id| hashes[id as usize]);
        id
    }

    /// The state with id `id`.
    #[inline]
    pub fn get(&self, id: StateId) -> &M::State {
        &self.states[id as usize]
    }

    /// The state after operation number `op` (`model_op`) from `state`,
    /// computing and caching it on first use.
    #[inline]
    pub fn step(
        &mut self,
        model: &M,
        state: StateId,
        op: u32,
        model_op: &M::Op,
    ) -> Option<StateId> {
        let key = (u64::from(state) << 32) | u64::from(op);
        if self.caching {
            self.lookups += 1;
            if let Some(&next) = self.transitions.get(&key) {
                self.hits += 1;
                return (next != REJECTED).then_some(next);
            }
            if self.lookups == JUDGE_AFTER && self.hits * 2 < self.lookups {
                self.caching = false;
                self.transitions = FxHashMap::default();
            }
        }
        let next = match model.step(&self.states[state as usize], model_op) {
            // A read-only operation leaves the state as it was: no need to intern it again.
            Some(_) if model.is_read_only(model_op) => state,
            Some(s) => self.intern(s),
            None => REJECTED,
        };
        if self.caching {
            self.transitions.insert(key, next);
        }
        (next != REJECTED).then_some(next)
    }

    /// Approximate heap bytes held.
    pub fn bytes(&self) -> usize {
        let per_state = std::mem::size_of::<M::State>() + 8 + 5;
        self.states.capacity() * per_state + self.transitions.capacity() * 17
    }
}

/// Configurations already explored: (bitset of linearized ops, state id).
pub struct Seen {
    table: HashTable<u32>,
    /// Bitset words of entry i at `words[i*width .. (i+1)*width]`.
    words: Vec<u64>,
    states: Vec<StateId>,
    hashes: Vec<u64>,
    width: usize,
}

impl Seen {
    /// An empty set for bitsets of `width` words, with room for `capacity` entries.
    pub fn new(width: usize, capacity: usize) -> Seen {
        Seen {
            table: HashTable::with_capacity(capacity),
            words: Vec::with_capacity(capacity * width),
            states: Vec::with_capacity(capacity),
            hashes: Vec::with_capacity(capacity),
            width,
        }
    }

    /// Adds a configuration; false if it was already there.
    #[inline]
    pub fn insert(&mut self, hash: u64, bits: &[u64], state: StateId) -> bool {
        let Seen {
            table,
            words,
            states,
            hashes,
            width,
        } = self;
        let w = *width;
        let hash = hash ^ u64::from(state).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let found = table.find(hash, |&id| {
            let i = id as usize;
            hashes[i] == hash && states[i] == state && &words[i * w..(i + 1) * w] == bits
        });
        if found.is_some() {
            return false;
        }
        let id = states.len() as u32;
        words.extend_from_slice(bits);
        states.push(state);
        hashes.push(hash);
        table.insert_unique(hash, id, |&id| hashes[id as usize]);
        true
    }

    /// Number of configurations.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Approximate heap bytes held.
    pub fn bytes(&self) -> usize {
        self.words.capacity() * 8
            + self.states.capacity() * 4
            + self.hashes.capacity() * 8
            + self.table.capacity() * 5
    }
}

/// A random 64-bit key per operation, from a fixed seed (splitmix64), so
/// runs are reproducible.
pub fn zobrist_keys(n: usize) -> Vec<u64> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        })
        .collect()
}

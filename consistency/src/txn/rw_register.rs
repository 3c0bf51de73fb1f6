//! Read-write register inference, as Elle's `rw-register` makes it.
//!
//! A read `[:r x 2]` says only which write it saw, not what came before, so the
//! version order of each key has to be pieced together from what is known:
//!
//! - **initial state**: every key starts `nil`, before any value read or written;
//! - **writes follow reads** (`wfr_keys`): a transaction that read `x = 1` and then
//!   wrote `x = 2` put 2 after 1;
//! - **sequential keys** (`sequential_keys`): each process sees a key's versions in
//!   order, so the last version one of its transactions touched precedes the first
//!   its next transaction on that key touches;
//! - **linearizable keys** (`linearizable_keys`): the same over real-time order.
//!
//! Each source is added only if the version graphs stay acyclic; one that would make
//! a cycle is left out, its cycles reported as `cyclic-versions`. From the graphs:
//! **wr** from the writer of a value to its readers, and for each version edge
//! `v1 → v2`, **ww** from the writer of `v1` to the writer of `v2` and **rw** from the
//! readers of `v1` to the writer of `v2`. A transaction interacts with a key
//! *externally* through its first read of it before any write (what it saw of
//! others) and its last write (what others can see); only those count, and, as in
//! Elle, only committed transactions' writes are indexed. Writes are unique per key.
//!
//! For linearizable keys, Elle searches the real-time graph from each transaction to
//! the first transactions on each path that touch the key; here each transaction is
//! linked to the transactions on the key that follow it in real time with none
//! between them (the covering relation of the interval order restricted to the key).
//! Both give the same version orders once closed transitively.
//!
//! The non-cycle anomalies: `G1a`, `G1b`, `internal`, `lost-update` and
//! `cyclic-versions`.

use super::graph::{Builder, Rels};
use super::transactions::{Id, Mop, Transactions};
use super::{Found, Inference, Step};
use history::json::value_to_json as value_json;
use history::Outcome;
use rustc_hash::FxHashMap;
use serde_json::{json, Value as Json};

/// The `nil` state every key starts in, as a version.
const INIT: Id = Id::MAX;

/// Which extra assumptions to infer version orders from (Elle's `:wfr-keys?`,
/// `:sequential-keys?` and `:linearizable-keys?`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Assumptions {
    /// Within a transaction, writes follow reads.
    pub wfr_keys: bool,
    /// Each key is sequentially consistent: process order orders its versions.
    pub sequential_keys: bool,
    /// Each key is linearizable: real-time order orders its versions.
    pub linearizable_keys: bool,
}

/// A transaction's external view of one key.
#[derive(Debug, Clone, Copy)]
struct External {
    key: Id,
    /// Its first read, if no write of the key came before it: the version ([`INIT`] for
    /// `nil`) and the micro-op's index.
    read: Option<(Id, usize)>,
    /// Its last write: the value and the micro-op's index.
    write: Option<(Id, usize)>,
}

impl External {
    /// The first version it saw or made.
    fn first(&self) -> Option<Id> {
        self.read.or(self.write).map(|(v, _)| v)
    }

    /// The last version it saw or made.
    fn last(&self) -> Option<Id> {
        self.write.or(self.read).map(|(v, _)| v)
    }
}

/// Transaction `id`'s external reads and writes, one entry per key in the order it first
/// touched them. Only an `ok` transaction's reads are known; a failed one has none.
fn externals(txns: &Transactions<'_>, id: u32) -> Vec<External> {
    let outcome = txns.txns[id as usize].outcome;
    let mut out: Vec<External> = Vec::new();
    if outcome == Outcome::Fail {
        return out;
    }
    for (i, mop) in txns.mops(id).iter().enumerate() {
        let key = mop.key();
        let at = match out.iter().position(|e| e.key == key) {
            Some(at) => at,
            None => {
                out.push(External {
                    key,
                    read: None,
                    write: None,
                });
                out.len() - 1
            }
        };
        let external = &mut out[at];
        match mop {
            Mop::Write { value, .. } => external.write = Some((*value, i)),
            Mop::ReadRegister { value, .. }
                if outcome == Outcome::Ok
                    && external.read.is_none()
                    && external.write.is_none() =>
            {
                external.read = Some((value.unwrap_or(INIT), i));
            }
            _ => {}
        }
    }
    out.retain(|e| e.read.is_some() || e.write.is_some());
    out
}

/// A version edge: key, earlier version, later version.
type Edge = (Id, Id, Id);

/// What the reads and writes say about each key's versions.
#[derive(Debug, Default)]
pub struct Versions {
    /// Every version edge of the accepted sources, sorted.
    edges: Vec<Edge>,
    /// The sources the version graphs were built from, in order.
    pub sources: Vec<&'static str>,
    /// (key, value) → the `ok` transaction that externally wrote it.
    writer: FxHashMap<(Id, Id), u32>,
    /// (key, version or [`INIT`]) → the `ok` transactions that externally read it.
    readers: FxHashMap<(Id, Id), Vec<u32>>,
}

/// A source of version edges: its name (as Elle's `:sources`) and how it infers them.
type Source = (
    &'static str,
    fn(&Transactions<'_>, &[Vec<External>]) -> Vec<Edge>,
);

impl Versions {
    /// Infers the version graphs from the initial state and the `assume`d sources, each
    /// added only if the graphs stay acyclic; a source that would make a cycle is
    /// reported as `cyclic-versions` in `found`.
    pub fn infer(txns: &Transactions<'_>, assume: Assumptions, found: &mut Found) -> Versions {
        let externals: Vec<Vec<External>> = (0..txns.len() as u32)
            .map(|id| externals(txns, id))
            .collect();
        let mut versions = Versions::default();
        for (id, ext) in externals.iter().enumerate() {
            if txns.txns[id].outcome != Outcome::Ok {
                continue;
            }
            for e in ext {
                if let Some((v, _)) = e.write {
                    versions.writer.insert((e.key, v), id as u32);
                }
                if let Some((v, _)) = e.read {
                    versions
                        .readers
                        .entry((e.key, v))
                        .or_default()
                        .push(id as u32);
                }
            }
        }
        let sources: [(bool, Source); 4] = [
            (true, ("initial-state", initial_state)),
            (assume.wfr_keys, ("wfr-keys", writes_follow_reads)),
            (assume.sequential_keys, ("sequential-keys", sequential)),
            (
                assume.linearizable_keys,
                ("linearizable-keys", linearizable),
            ),
        ];
        for (_, (name, infer)) in sources.into_iter().filter(|(on, _)| *on) {
            let mut merged = versions.edges.clone();
            merged.extend(infer(txns, &externals));
            merged.sort_unstable();
            merged.dedup();
            let cycles = cyclic(&merged);
            if cycles.is_empty() {
                versions.edges = merged;
                versions.sources.push(name);
                continue;
            }
            let mut sources = versions.sources.clone();
            sources.push(name);
            for (key, scc) in cycles {
                let scc: Vec<Json> = scc.iter().map(|&v| version_json(txns, v)).collect();
                found.add(
                    "cyclic-versions",
                    json!({"key": value_json(txns.keys.value(key)), "scc": scc, "sources": sources}),
                );
            }
        }
        versions
    }

    fn follows(&self, key: Id, from: Id, to: Id) -> bool {
        self.edges.binary_search(&(key, from, to)).is_ok()
    }

    /// The non-cycle anomalies: G1a, G1b, internal and lost-update.
    pub fn anomalies(&self, txns: &Transactions<'_>, found: &mut Found) {
        // (key, value) → the failed transaction that wrote it; → the transaction that
        // overwrote it with another value of the same key.
        let mut failed: FxHashMap<(Id, Id), u32> = FxHashMap::default();
        let mut intermediate: FxHashMap<(Id, Id), u32> = FxHashMap::default();
        for id in 0..txns.len() as u32 {
            let mops = txns.mops(id);
            for (i, mop) in mops.iter().enumerate() {
                let Mop::Write { key, value } = mop else {
                    continue;
                };
                if txns.txns[id as usize].outcome == Outcome::Fail {
                    failed.insert((*key, *value), id);
                }
                let overwritten = mops[i + 1..]
                    .iter()
                    .any(|m| matches!(m, Mop::Write { key: k, .. } if k == key));
                if overwritten {
                    intermediate.insert((*key, *value), id);
                }
            }
        }
        for id in 0..txns.len() as u32 {
            if txns.txns[id as usize].outcome != Outcome::Ok {
                continue;
            }
            for mop in txns.mops(id) {
                let Mop::ReadRegister {
                    key,
                    value: Some(value),
                } = mop
                else {
                    continue;
                };
                for (anomaly, index) in [("G1a", &failed), ("G1b", &intermediate)] {
                    match index.get(&(*key, *value)) {
                        Some(&writer) if writer != id => found.add(
                            anomaly,
                            json!({"op": txns.op_json(id), "mop": txns.mop_json(mop), "writer": txns.op_json(writer)}),
                        ),
                        _ => {}
                    }
                }
            }
            internal(txns, id, found);
        }
        lost_updates(txns, found);
    }
}

impl Inference for Versions {
    fn link(&self, _: &Transactions<'_>, graph: &mut Builder) {
        for &(key, from, to) in &self.edges {
            let Some(&later) = self.writer.get(&(key, to)) else {
                continue;
            };
            if let Some(&earlier) = self.writer.get(&(key, from)) {
                graph.link(earlier, later, Rels::WW);
            }
            for &reader in self.readers.get(&(key, from)).into_iter().flatten() {
                graph.link(reader, later, Rels::RW);
            }
        }
        for (&(key, value), readers) in &self.readers {
            if let Some(&writer) = self.writer.get(&(key, value)) {
                for &reader in readers {
                    graph.link(writer, reader, Rels::WR);
                }
            }
        }
    }

    fn explain(&self, txns: &Transactions<'_>, a: u32, b: u32, rel: Rels) -> Option<Step> {
        let (ea, eb) = (externals(txns, a), externals(txns, b));
        for y in &eb {
            let Some(x) = ea.iter().find(|x| x.key == y.key) else {
                continue;
            };
            let key = y.key;
            let (from, to) = match rel {
                Rels::WW => (x.write, y.write),
                Rels::RW => (x.read, y.write),
                Rels::WR => match (x.write, y.read) {
                    (Some(w), Some(r)) if w.0 == r.0 => {
                        return Some(Step::data(rel, key, Some(w.0), None, Some(w.1), r.1))
                    }
                    _ => continue,
                },
                _ => return None,
            };
            if let (Some((v, am)), Some((next, bm))) = (from, to) {
                if self.follows(key, v, next) {
                    let v = (v != INIT).then_some(v);
                    return Some(Step::data(rel, key, v, Some(next), Some(am), bm));
                }
            }
        }
        None
    }
}

/// Every value read or written comes after the initial `nil`.
fn initial_state(_: &Transactions<'_>, externals: &[Vec<External>]) -> Vec<Edge> {
    let mut edges = Vec::new();
    for e in externals.iter().flatten() {
        for (v, _) in [e.read, e.write].into_iter().flatten() {
            if v != INIT {
                edges.push((e.key, INIT, v));
            }
        }
    }
    edges
}

/// A committed transaction that read a version of a key and then wrote it put its write
/// after what it read.
fn writes_follow_reads(txns: &Transactions<'_>, externals: &[Vec<External>]) -> Vec<Edge> {
    let mut edges = Vec::new();
    for (id, ext) in externals.iter().enumerate() {
        if txns.txns[id].outcome != Outcome::Ok {
            continue;
        }
        for e in ext {
            if let (Some((read, _)), Some((written, _))) = (e.read, e.write) {
                if read != INIT && read != written {
                    edges.push((e.key, read, written));
                }
            }
        }
    }
    edges
}

/// Each process's committed transactions, in order: the last version one touched of a key
/// precedes the first version the next one on that key touched.
fn sequential(txns: &Transactions<'_>, externals: &[Vec<External>]) -> Vec<Edge> {
    let mut edges = Vec::new();
    let mut last: FxHashMap<(u64, Id), Id> = FxHashMap::default();
    for (id, ext) in externals.iter().enumerate() {
        let txn = &txns.txns[id];
        if txn.outcome != Outcome::Ok {
            continue;
        }
        for e in ext {
            let (Some(first), Some(final_)) = (e.first(), e.last()) else {
                continue;
            };
            if let Some(previous) = last.insert((txn.process, e.key), final_) {
                if previous != first {
                    edges.push((e.key, previous, first));
                }
            }
        }
    }
    edges
}

/// A transaction on a key touched in real time by one invocation and completion.
struct Touch {
    invoke: usize,
    /// Its completion's position, `usize::MAX` if it did not commit (it precedes nothing).
    complete: usize,
    first: Id,
    last: Id,
}

/// For each key: each committed transaction's last version precedes the first version of
/// every transaction on the key invoked after it completed with no transaction on the key
/// wholly between them.
fn linearizable(txns: &Transactions<'_>, externals: &[Vec<External>]) -> Vec<Edge> {
    let mut by_key: FxHashMap<Id, Vec<Touch>> = FxHashMap::default();
    for (id, ext) in externals.iter().enumerate() {
        let txn = &txns.txns[id];
        let complete = match (txn.outcome, txn.complete_at) {
            (Outcome::Ok, Some(at)) => at,
            _ => usize::MAX,
        };
        for e in ext {
            if let (Some(first), Some(last)) = (e.first(), e.last()) {
                by_key.entry(e.key).or_default().push(Touch {
                    invoke: txn.invoke_at,
                    complete,
                    first,
                    last,
                });
            }
        }
    }
    let mut keys: Vec<Id> = by_key.keys().copied().collect();
    keys.sort_unstable();
    let mut edges = Vec::new();
    for key in keys {
        let mut touches = by_key.remove(&key).unwrap_or_default();
        touches.sort_unstable_by_key(|t| t.invoke);
        // earliest_completion[i]: the earliest completion among touches[i..].
        let mut earliest_completion = vec![usize::MAX; touches.len() + 1];
        for i in (0..touches.len()).rev() {
            earliest_completion[i] = earliest_completion[i + 1].min(touches[i].complete);
        }
        for a in &touches {
            if a.complete == usize::MAX {
                continue;
            }
            // The touches invoked after `a` completed; those invoked before any of them
            // completed have nothing between them and `a`.
            let start = touches.partition_point(|t| t.invoke < a.complete);
            let bound = earliest_completion[start];
            for b in touches[start..].iter().take_while(|t| t.invoke < bound) {
                if a.last != b.first {
                    edges.push((key, a.last, b.first));
                }
            }
        }
    }
    edges
}

/// Each key's strongly connected components of more than one version.
fn cyclic(edges: &[Edge]) -> Vec<(Id, Vec<Id>)> {
    let mut cycles = Vec::new();
    for run in edges.chunk_by(|a, b| a.0 == b.0) {
        let key = run[0].0;
        // The key's versions as local node ids.
        let mut local: FxHashMap<Id, u32> = FxHashMap::default();
        let mut values: Vec<Id> = Vec::new();
        let mut node = |v: Id| {
            *local.entry(v).or_insert_with(|| {
                values.push(v);
                values.len() as u32 - 1
            })
        };
        let links: Vec<(u32, u32)> = run.iter().map(|&(_, a, b)| (node(a), node(b))).collect();
        let mut builder = Builder::new(values.len());
        for (a, b) in links {
            builder.link(a, b, Rels::WW);
        }
        for component in builder.build().cycles_components(Rels::WW, &|_| true) {
            let mut scc: Vec<Id> = component.iter().map(|&n| values[n as usize]).collect();
            scc.sort_unstable();
            cycles.push((key, scc));
        }
    }
    cycles
}

/// A read that disagrees with what the transaction itself last wrote or read of the key
/// (Elle's `internal`).
fn internal(txns: &Transactions<'_>, id: u32, found: &mut Found) {
    // What the transaction knows of each key so far: its value, `None` for nil.
    let mut known: Vec<(Id, Option<Id>)> = Vec::new();
    for mop in txns.mops(id) {
        let (key, value, read) = match mop {
            Mop::Write { key, value } => (*key, Some(*value), false),
            Mop::ReadRegister { key, value } => (*key, *value, true),
            _ => continue,
        };
        match known.iter_mut().find(|(k, _)| *k == key) {
            Some((_, expected)) if read && *expected != value => {
                let expected = expected.map(|v| value_json(txns.values.value(v)));
                found.add(
                    "internal",
                    json!({"op": txns.op_json(id), "mop": txns.mop_json(mop), "expected": expected}),
                );
                return;
            }
            Some((_, state)) => *state = value,
            None => known.push((key, value)),
        }
    }
}

/// Committed transactions that read the same version of a key and both wrote it
/// (Adya's lost update, as Elle finds it).
fn lost_updates(txns: &Transactions<'_>, found: &mut Found) {
    let mut collisions: FxHashMap<(Id, Id), Vec<u32>> = FxHashMap::default();
    for id in 0..txns.len() as u32 {
        if txns.txns[id as usize].outcome != Outcome::Ok {
            continue;
        }
        // One external view per key: each key counts once per transaction.
        for e in externals(txns, id) {
            if let (Some((read, _)), Some(_)) = (e.read, e.write) {
                collisions.entry((e.key, read)).or_default().push(id);
            }
        }
    }
    let mut cases: Vec<((Id, Id), Vec<u32>)> = collisions
        .into_iter()
        .filter(|(_, t)| t.len() > 1)
        .collect();
    cases.sort_unstable();
    for ((key, read), ids) in cases {
        found.add(
            "lost-update",
            json!({
                "key": value_json(txns.keys.value(key)),
                "value": version_json(txns, read),
                "txns": ids.iter().map(|&t| txns.op_json(t)).collect::<Vec<_>>(),
            }),
        );
    }
}

fn version_json(txns: &Transactions<'_>, version: Id) -> Json {
    if version == INIT {
        Json::Null
    } else {
        value_json(txns.values.value(version))
    }
}

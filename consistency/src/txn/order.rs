//! The orders besides data dependencies: process order and real-time order, the edges
//! that separate strong-session and strict models from their plain forms.

use super::graph::{Builder, Rels};
use super::transactions::Transactions;
use history::Outcome;
use rustc_hash::FxHashMap;

/// Links each process's committed transactions in the order it ran them.
pub fn process(txns: &Transactions<'_>, graph: &mut Builder) {
    let mut last: FxHashMap<u64, u32> = FxHashMap::default();
    for (id, txn) in txns.txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        if let Some(previous) = last.insert(txn.process, id as u32) {
            graph.link(previous, id as u32, Rels::PROCESS);
        }
    }
}

/// Links every committed transaction to the transactions invoked after it completed.
///
/// Only the frontier is linked (the transitive reduction): a transaction gets an edge
/// from each committed transaction that completed before its invocation and that no
/// other such transaction follows in real time; reachability is the same, and the edges
/// are about as many as the concurrency, not quadratic.
pub fn realtime(txns: &Transactions<'_>, graph: &mut Builder) {
    // History positions of invocations and ok completions, in history order.
    let mut events: Vec<(usize, u32, bool)> = Vec::with_capacity(txns.len() * 2);
    for (id, txn) in txns.txns.iter().enumerate() {
        if !txn.possible() {
            continue;
        }
        events.push((txn.invoke_at, id as u32, true));
        if let (Outcome::Ok, Some(at)) = (txn.outcome, txn.complete_at) {
            events.push((at, id as u32, false));
        }
    }
    events.sort_unstable();
    // The committed transactions that no completed transaction follows yet.
    let mut frontier: Vec<u32> = Vec::new();
    // Each transaction in flight: the frontier when it was invoked.
    let mut predecessors: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    // marked[t] == id + 1: t is one of id's predecessors (linear, not quadratic, removal).
    let mut marked: Vec<u32> = vec![0; txns.len()];
    for (_, id, invoked) in events {
        if invoked {
            for &before in &frontier {
                graph.link(before, id, Rels::REALTIME);
            }
            predecessors.insert(id, frontier.clone());
        } else {
            let before = predecessors.remove(&id).unwrap_or_default();
            for &t in &before {
                marked[t as usize] = id + 1;
            }
            frontier.retain(|&t| marked[t as usize] != id + 1);
            frontier.push(id);
        }
    }
}

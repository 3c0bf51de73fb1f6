//! Cycle search: in each strongly connected component of the dependency graph, a cycle
//! of each anomaly's shape (Elle's taxonomy), weakest anomaly first.
//!
//! | anomaly | edges | rw edges |
//! |---|---|---|
//! | `G0` | ww | none |
//! | `G1c` | ww, wr, at least one wr | none |
//! | `G-single-item` | ww, wr, rw | exactly one |
//! | `G-nonadjacent-item` | ww, wr, rw | two or more, no two in a row |
//! | `G2-item` | ww, wr, rw | two or more, two in a row |
//!
//! Each has a `-process` and a `-realtime` variant that may use, and must use, process or
//! real-time edges. An edge with several relationships counts as the first of
//! [`Rels::PRIORITY`] the shape allows (data first, as Elle explains edges). The search is
//! a breadth-first search over (transaction, what the path has used so far) from each
//! edge of the kind the shape needs, so it finds a shortest cycle through that edge.

use super::explain::{Cycle, Step};
use super::graph::{Graph, Rels};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

/// How many rw edges a shape takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Antidependencies {
    None,
    One,
    /// Two or more, none adjacent (cyclically).
    NonAdjacent,
    /// Two or more, some two adjacent.
    Adjacent,
}

/// An anomaly's cycle shape.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Elle's name.
    pub name: &'static str,
    allowed: Rels,
    required: Rels,
    rw: Antidependencies,
}

const DATA: Rels = Rels::WW.union(Rels::WR);
const ALL_DATA: Rels = DATA.union(Rels::RW);

macro_rules! shapes {
    ($($base:literal, $allowed:expr, $required:expr, $rw:expr;)*) => {
        /// Every shape, weakest first, each followed by its process and real-time variants.
        pub static SHAPES: &[Shape] = &[$(
            Shape { name: $base, allowed: $allowed, required: $required, rw: $rw },
            Shape {
                name: concat!($base, "-process"),
                allowed: $allowed.union(Rels::PROCESS),
                required: $required.union(Rels::PROCESS),
                rw: $rw,
            },
            Shape {
                name: concat!($base, "-realtime"),
                allowed: $allowed.union(Rels::REALTIME),
                required: $required.union(Rels::REALTIME),
                rw: $rw,
            },
        )*];
    };
}

shapes! {
    "G0", Rels::WW, Rels::NONE, Antidependencies::None;
    "G1c", DATA, Rels::WR, Antidependencies::None;
    "G-single-item", ALL_DATA, Rels::NONE, Antidependencies::One;
    "G-nonadjacent-item", ALL_DATA, Rels::NONE, Antidependencies::NonAdjacent;
    "G2-item", ALL_DATA, Rels::NONE, Antidependencies::Adjacent;
}

/// The name of the anomaly a cycle with these step labels is, as Elle classifies it.
pub fn classify(labels: &[Rels]) -> &'static str {
    let count = |r: Rels| labels.iter().filter(|&&l| l == r).count();
    let rw = count(Rels::RW);
    let adjacent = (0..labels.len())
        .any(|i| labels[i] == Rels::RW && labels[(i + 1) % labels.len()] == Rels::RW);
    let base = match rw {
        1 => 2,
        0 if count(Rels::WR) > 0 => 1,
        0 => 0,
        _ if adjacent => 4,
        _ => 3,
    };
    let variant = if count(Rels::REALTIME) > 0 {
        2
    } else if count(Rels::PROCESS) > 0 {
        1
    } else {
        0
    };
    SHAPES[base * 3 + variant].name
}

/// A cycle as its edges: (from, to, the relationship it counts as).
type Path = Vec<(u32, u32, Rels)>;

/// The search ran past its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout;

/// What the search of one component found.
#[derive(Debug, Default)]
pub struct Search {
    /// One cycle per anomaly found.
    pub cycles: Vec<Cycle>,
    /// The shape being searched when time ran out, and those searched before it.
    pub timed_out: Option<(&'static str, Vec<&'static str>)>,
}

/// Searches `component` (sorted transaction ids) of `graph` for each shape in
/// [`SHAPES`] whose relationships `present` has, skipping those implied by what it
/// already found (`implied`), until `deadline`.
pub fn search(
    graph: &Graph,
    component: &[u32],
    present: Rels,
    implied: &dyn Fn(&[&'static str]) -> BTreeSet<&'static str>,
    deadline: Instant,
    explain: &dyn Fn(u32, u32, Rels) -> Step,
) -> Search {
    let mut result = Search::default();
    let mut skip: BTreeSet<&'static str> = BTreeSet::new();
    let mut searched = Vec::new();
    let inside = |t: u32| component.binary_search(&t).is_ok();
    for shape in SHAPES {
        let variant = shape
            .required
            .intersection(Rels::PROCESS.union(Rels::REALTIME));
        if skip.contains(shape.name) || !present.contains(variant) {
            continue;
        }
        match find(graph, &inside, component, shape, deadline) {
            Ok(Some(path)) => {
                let steps = path.iter().map(|&(a, b, rel)| explain(a, b, rel)).collect();
                let txns = path.iter().map(|&(a, _, _)| a).collect();
                skip.extend(implied(&[shape.name]));
                result.cycles.push(Cycle {
                    anomaly: shape.name,
                    txns,
                    steps,
                });
            }
            Ok(None) => {}
            Err(Timeout) => {
                result.timed_out = Some((shape.name, searched));
                if let Some(path) = any_cycle(graph, &inside, component) {
                    let labels: Vec<Rels> = path.iter().map(|&(_, _, r)| r).collect();
                    let steps = path.iter().map(|&(a, b, rel)| explain(a, b, rel)).collect();
                    let txns = path.iter().map(|&(a, _, _)| a).collect();
                    result.cycles.push(Cycle {
                        anomaly: classify(&labels),
                        txns,
                        steps,
                    });
                }
                return result;
            }
        }
        searched.push(shape.name);
    }
    result
}

/// A path state: how many rw edges so far (0, 1, 2 = more), whether the last edge was rw,
/// whether two rw edges were adjacent, and which required relationships were used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct State {
    node: u32,
    flags: u8,
}

const COUNT: u8 = 0b11;
const LAST_RW: u8 = 0b100;
const ADJACENT: u8 = 0b1000;

/// Bits 4.. of the flags: the required relationships used, one bit each.
fn required_bit(shape: &Shape, rel: Rels) -> u8 {
    let mut bit = 0b1_0000;
    for r in Rels::PRIORITY {
        if shape.required.contains(r) && !r.is_empty() {
            if r == rel {
                return bit;
            }
            bit <<= 1;
        }
    }
    0
}

fn all_required(shape: &Shape) -> u8 {
    Rels::PRIORITY
        .into_iter()
        .map(|r| required_bit(shape, r))
        .fold(0, |a, b| a | b)
}

/// The flags after taking an edge labelled `rel`, or `None` if the shape forbids it.
fn step(shape: &Shape, flags: u8, rel: Rels) -> Option<u8> {
    let mut flags = flags | required_bit(shape, rel);
    if rel == Rels::RW {
        let count = flags & COUNT;
        let last_rw = flags & LAST_RW != 0;
        match shape.rw {
            Antidependencies::None => return None,
            Antidependencies::One if count >= 1 => return None,
            Antidependencies::NonAdjacent if last_rw => return None,
            _ => {}
        }
        if last_rw {
            flags |= ADJACENT;
        }
        flags = (flags & !COUNT) | (count + 1).min(2) | LAST_RW;
    } else {
        flags &= !LAST_RW;
    }
    Some(flags)
}

/// Whether a path with `flags`, closed onto its first edge (labelled `first`), is the shape.
fn closes(shape: &Shape, flags: u8, first: Rels) -> bool {
    let wraps_adjacent = flags & LAST_RW != 0 && first == Rels::RW;
    let adjacent = flags & ADJACENT != 0 || wraps_adjacent;
    let count = flags & COUNT;
    let rw_ok = match shape.rw {
        Antidependencies::None => count == 0,
        Antidependencies::One => count == 1,
        Antidependencies::NonAdjacent => count == 2 && !adjacent,
        Antidependencies::Adjacent => count == 2 && adjacent,
    };
    let required = all_required(shape);
    rw_ok && flags & required == required
}

/// The relationship a path starts from: one every cycle of the shape has.
fn anchor(shape: &Shape) -> Rels {
    if shape.rw != Antidependencies::None {
        Rels::RW
    } else if shape.required.contains(Rels::REALTIME) {
        Rels::REALTIME
    } else if shape.required.contains(Rels::PROCESS) {
        Rels::PROCESS
    } else if shape.required.contains(Rels::WR) {
        Rels::WR
    } else {
        Rels::WW
    }
}

/// A shortest cycle of `shape` in the component, as (from, to, label) edges.
fn find(
    graph: &Graph,
    inside: &dyn Fn(u32) -> bool,
    component: &[u32],
    shape: &Shape,
    deadline: Instant,
) -> Result<Option<Path>, Timeout> {
    // A cycle of the shape lies in one component of the shape's own edges.
    let projected = graph.cycles_components(shape.allowed, inside);
    if projected.is_empty() {
        return Ok(None);
    }
    let mut within: FxHashMap<u32, usize> = FxHashMap::default();
    for (i, c) in projected.iter().enumerate() {
        for &t in c {
            within.insert(t, i);
        }
    }
    let first = anchor(shape);
    let mut budget = 0u32;
    for &from in component {
        let Some(&group) = within.get(&from) else {
            continue;
        };
        for &(to, rels) in graph.out(from) {
            if rels.label(shape.allowed) != Some(first) || within.get(&to) != Some(&group) {
                continue;
            }
            let Some(flags) = step(shape, 0, first) else {
                continue;
            };
            let found = bfs(
                graph,
                &|t| within.get(&t) == Some(&group),
                shape,
                (from, to, first),
                flags,
                deadline,
                &mut budget,
            )?;
            if found.is_some() {
                return Ok(found);
            }
        }
    }
    Ok(None)
}

/// Counts one step of a search; every 4,096 steps, whether it is past its deadline (reading
/// the clock at every step would cost more than the step).
fn tick(budget: &mut u32, deadline: Instant) -> Result<(), Timeout> {
    *budget += 1;
    if budget.is_multiple_of(4096) && Instant::now() > deadline {
        return Err(Timeout);
    }
    Ok(())
}

/// Following the edge to `next` (with `rels`) from a path whose shape state is `flags`: the
/// edge's label and the new state, if the edge stays inside and the shape allows it.
fn follow(
    shape: &Shape,
    inside: &dyn Fn(u32) -> bool,
    flags: u8,
    (next, rels): (u32, Rels),
) -> Option<(Rels, u8)> {
    if !inside(next) {
        return None;
    }
    let rel = rels.label(shape.allowed)?;
    Some((rel, step(shape, flags, rel)?))
}

/// Breadth-first from the anchor edge's target back to its source.
fn bfs(
    graph: &Graph,
    inside: &dyn Fn(u32) -> bool,
    shape: &Shape,
    (from, to, first): (u32, u32, Rels),
    flags: u8,
    deadline: Instant,
    budget: &mut u32,
) -> Result<Option<Path>, Timeout> {
    let start = State { node: to, flags };
    let mut parent: FxHashMap<State, (State, Rels)> = FxHashMap::default();
    let mut queue = VecDeque::from([start]);
    parent.insert(start, (start, first));
    // A closing walk that visits a transaction twice is no cycle, and the states it passed
    // through may hide a simple one: then only a search of simple paths can tell.
    let mut walked_twice = false;
    while let Some(state) = queue.pop_front() {
        tick(budget, deadline)?;
        for &(next, rels) in graph.out(state.node) {
            let Some((rel, flags)) = follow(shape, inside, state.flags, (next, rels)) else {
                continue;
            };
            if next == from {
                if closes(shape, flags, first) {
                    let path = unwind(&parent, start, state, (from, to, first), rel);
                    if simple(&path) {
                        return Ok(Some(path));
                    }
                    walked_twice = true;
                }
                continue;
            }
            let key = State { node: next, flags };
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(key) {
                e.insert((state, rel));
                queue.push_back(key);
            }
        }
    }
    if walked_twice {
        return simple_paths(
            graph,
            inside,
            shape,
            (from, to, first),
            flags,
            deadline,
            budget,
        );
    }
    Ok(None)
}

/// Depth-first over simple paths from the anchor edge's target back to its source: exact
/// where the breadth-first search over states is not, and exponential at worst, so bounded
/// by the same deadline. Iterative: paths may be as long as the component.
fn simple_paths(
    graph: &Graph,
    inside: &dyn Fn(u32) -> bool,
    shape: &Shape,
    (from, to, first): (u32, u32, Rels),
    flags: u8,
    deadline: Instant,
    budget: &mut u32,
) -> Result<Option<Path>, Timeout> {
    // The path so far: each node with its flags, the label of the edge into it, and how
    // many of its out-edges were tried.
    let mut path: Vec<(u32, u8, Rels, usize)> = vec![(to, flags, first, 0)];
    let mut on_path: FxHashSet<u32> = [from, to].into_iter().collect();
    while let Some(&mut (node, flags, _, ref mut tried)) = path.last_mut() {
        tick(budget, deadline)?;
        let out = graph.out(node);
        let Some(&(next, rels)) = out.get(*tried) else {
            on_path.remove(&node);
            path.pop();
            continue;
        };
        *tried += 1;
        let Some((rel, next_flags)) = follow(shape, inside, flags, (next, rels)) else {
            continue;
        };
        if next == from {
            if closes(shape, next_flags, first) {
                let mut cycle = vec![(from, to, first)];
                for pair in path.windows(2) {
                    cycle.push((pair[0].0, pair[1].0, pair[1].2));
                }
                cycle.push((node, from, rel));
                return Ok(Some(cycle));
            }
        } else if on_path.insert(next) {
            path.push((next, next_flags, rel, 0));
        }
    }
    Ok(None)
}

fn unwind(
    parent: &FxHashMap<State, (State, Rels)>,
    start: State,
    last: State,
    (from, to, first): (u32, u32, Rels),
    closing: Rels,
) -> Vec<(u32, u32, Rels)> {
    let mut back = vec![(last.node, from, closing)];
    let mut at = last;
    while at != start {
        let (previous, rel) = parent[&at];
        back.push((previous.node, at.node, rel));
        at = previous;
    }
    back.push((from, to, first));
    back.reverse();
    back
}

/// Whether no transaction appears twice.
fn simple(path: &[(u32, u32, Rels)]) -> bool {
    let mut nodes: Vec<u32> = path.iter().map(|&(a, _, _)| a).collect();
    nodes.sort_unstable();
    nodes.windows(2).all(|w| w[0] != w[1])
}

/// Some cycle in the component, over any edges (the fallback when a search times out).
fn any_cycle(
    graph: &Graph,
    inside: &dyn Fn(u32) -> bool,
    component: &[u32],
) -> Option<Vec<(u32, u32, Rels)>> {
    let all = ALL_DATA.union(Rels::PROCESS).union(Rels::REALTIME);
    let &from = component.first()?;
    let mut parent: FxHashMap<u32, (u32, Rels)> = FxHashMap::default();
    let mut queue = VecDeque::from([from]);
    while let Some(node) = queue.pop_front() {
        for &(next, rels) in graph.out(node) {
            let Some(rel) = rels.label(all) else { continue };
            if !inside(next) {
                continue;
            }
            if next == from {
                let mut back = vec![(node, from, rel)];
                let mut at = node;
                while at != from {
                    let (previous, r) = parent[&at];
                    back.push((previous, at, r));
                    at = previous;
                }
                back.reverse();
                return Some(back);
            }
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(next) {
                e.insert((node, rel));
                queue.push_back(next);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_are_named_by_their_edges() {
        use Rels as R;
        assert_eq!(classify(&[R::WW, R::WW]), "G0");
        assert_eq!(classify(&[R::WW, R::WR]), "G1c");
        assert_eq!(classify(&[R::WR, R::RW]), "G-single-item");
        assert_eq!(
            classify(&[R::RW, R::WR, R::RW, R::WW]),
            "G-nonadjacent-item"
        );
        assert_eq!(classify(&[R::RW, R::RW]), "G2-item");
        // The last and the first edge are adjacent too.
        assert_eq!(classify(&[R::RW, R::WR, R::RW]), "G2-item");
        assert_eq!(classify(&[R::WW, R::REALTIME]), "G0-realtime");
        assert_eq!(classify(&[R::WR, R::PROCESS]), "G1c-process");
        assert_eq!(
            classify(&[R::RW, R::PROCESS, R::REALTIME]),
            "G-single-item-realtime"
        );
    }
}

#[cfg(test)]
mod brute_force {
    use super::*;
    use crate::txn::graph::Builder;
    use proptest::prelude::*;
    use std::time::Duration;

    /// Every simple cycle of `graph`, as its node sequence, each once (starting at its
    /// smallest node).
    fn simple_cycles(graph: &Graph) -> Vec<Vec<u32>> {
        fn extend(graph: &Graph, path: &mut Vec<u32>, out: &mut Vec<Vec<u32>>) {
            let (start, last) = (path[0], *path.last().unwrap());
            for &(next, _) in graph.out(last) {
                if next == start {
                    out.push(path.clone());
                } else if next > start && !path.contains(&next) {
                    path.push(next);
                    extend(graph, path, out);
                    path.pop();
                }
            }
        }
        let mut out = Vec::new();
        for start in 0..graph.nodes() as u32 {
            extend(graph, &mut vec![start], &mut out);
        }
        out
    }

    /// Whether the cycle, its edges labelled as `shape` counts them, is of that shape.
    fn is_shape(graph: &Graph, cycle: &[u32], shape: &Shape) -> bool {
        let labels: Option<Vec<Rels>> = (0..cycle.len())
            .map(|i| {
                graph
                    .rels(cycle[i], cycle[(i + 1) % cycle.len()])?
                    .label(shape.allowed)
            })
            .collect();
        let Some(labels) = labels else { return false };
        let rw = labels.iter().filter(|&&l| l == Rels::RW).count();
        let adjacent = (0..labels.len())
            .any(|i| labels[i] == Rels::RW && labels[(i + 1) % labels.len()] == Rels::RW);
        let rw_ok = match shape.rw {
            Antidependencies::None => rw == 0,
            Antidependencies::One => rw == 1,
            Antidependencies::NonAdjacent => rw >= 2 && !adjacent,
            Antidependencies::Adjacent => rw >= 2 && adjacent,
        };
        let required = Rels::PRIORITY
            .into_iter()
            .filter(|r| shape.required.contains(*r))
            .all(|r| labels.contains(&r));
        rw_ok && required
    }

    fn rels() -> impl Strategy<Value = Rels> {
        prop_oneof![
            Just(Rels::WW),
            Just(Rels::WR),
            Just(Rels::RW),
            Just(Rels::REALTIME),
            Just(Rels::RW.union(Rels::REALTIME)),
            Just(Rels::WW.union(Rels::RW)),
            Just(Rels::WR.union(Rels::PROCESS)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// The search finds a cycle of a shape exactly when one exists.
        #[test]
        fn the_search_agrees_with_enumerating_every_simple_cycle(
            edges in proptest::collection::vec((0u32..6, 0u32..6, rels()), 0..16)
        ) {
            let mut builder = Builder::new(6);
            for &(a, b, r) in &edges {
                builder.link(a, b, r);
            }
            let graph = builder.build();
            let cycles = simple_cycles(&graph);
            let all: Vec<u32> = (0..6).collect();
            let far = Instant::now() + Duration::from_secs(60);
            for shape in SHAPES {
                let exists = cycles.iter().any(|c| is_shape(&graph, c, shape));
                let found = find(&graph, &|_| true, &all, shape, far).expect("no timeout");
                prop_assert_eq!(found.is_some(), exists, "{} in {:?}", shape.name, edges);
                if let Some(path) = found {
                    let nodes: Vec<u32> = path.iter().map(|&(a, _, _)| a).collect();
                    prop_assert!(is_shape(&graph, &nodes, shape), "{} found {:?}", shape.name, path);
                }
            }
        }
    }
}

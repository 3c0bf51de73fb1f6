//! [`Graph`]: the dependency graph over transactions, its edges labelled with
//! [`Rels`], and its strongly connected components.

use std::fmt;

/// A set of relationships one transaction has to another, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rels(u8);

impl Rels {
    /// No relationship.
    pub const NONE: Rels = Rels(0);
    /// Write-write: the second overwrote (appended after) the first's write.
    pub const WW: Rels = Rels(1);
    /// Write-read: the second read the first's write.
    pub const WR: Rels = Rels(2);
    /// Read-write (anti-dependency): the second overwrote a version the first read.
    pub const RW: Rels = Rels(4);
    /// Process order: the same process ran the first, then the second.
    pub const PROCESS: Rels = Rels(8);
    /// Real-time order: the first completed before the second was invoked.
    pub const REALTIME: Rels = Rels(16);
    /// The order in which an edge's relationships explain it, data first, as Elle's
    /// explainers do: an edge that is both ww and realtime is a ww step of a cycle.
    pub const PRIORITY: [Rels; 5] = [Rels::WW, Rels::WR, Rels::RW, Rels::PROCESS, Rels::REALTIME];

    /// Both sets.
    pub const fn union(self, other: Rels) -> Rels {
        Rels(self.0 | other.0)
    }

    /// What both sets have.
    pub const fn intersection(self, other: Rels) -> Rels {
        Rels(self.0 & other.0)
    }

    /// Whether the set has every relationship of `other`.
    pub const fn contains(self, other: Rels) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The one relationship that explains an edge with these relationships, among
    /// `allowed`: the first of [`Rels::PRIORITY`].
    pub fn label(self, allowed: Rels) -> Option<Rels> {
        let both = self.intersection(allowed);
        Rels::PRIORITY.into_iter().find(|r| both.contains(*r))
    }

    /// Elle's name of a single relationship: `ww`, `wr`, `rw`, `process`, `realtime`.
    pub fn name(self) -> &'static str {
        match self {
            Rels::WW => "ww",
            Rels::WR => "wr",
            Rels::RW => "rw",
            Rels::PROCESS => "process",
            Rels::REALTIME => "realtime",
            _ => "mixed",
        }
    }
}

impl fmt::Display for Rels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Rels::PRIORITY
            .into_iter()
            .filter(|r| self.contains(*r))
            .map(Rels::name)
            .collect();
        f.write_str(&names.join("+"))
    }
}

/// Collects edges, then freezes them into a [`Graph`].
#[derive(Debug, Default)]
pub struct Builder {
    nodes: usize,
    edges: Vec<(u32, u32, Rels)>,
}

impl Builder {
    /// A builder for a graph over `nodes` transactions (ids `0..nodes`).
    pub fn new(nodes: usize) -> Builder {
        Builder {
            nodes,
            edges: Vec::new(),
        }
    }

    /// Adds `from → to` with relationship `rel`; self-edges are dropped (a transaction
    /// does not depend on itself).
    pub fn link(&mut self, from: u32, to: u32, rel: Rels) {
        if from != to {
            self.edges.push((from, to, rel));
        }
    }

    /// The graph: one edge per ordered pair, with every relationship given for it.
    pub fn build(mut self) -> Graph {
        self.edges.sort_unstable_by_key(|&(a, b, _)| (a, b));
        let mut offsets = vec![0u32; self.nodes + 1];
        let mut targets: Vec<(u32, Rels)> = Vec::with_capacity(self.edges.len());
        let mut last: Option<(u32, u32)> = None;
        for (a, b, rel) in self.edges {
            if last == Some((a, b)) {
                // Sorted, so a repeated pair is the edge just pushed.
                if let Some(edge) = targets.last_mut() {
                    edge.1 = edge.1.union(rel);
                }
                continue;
            }
            last = Some((a, b));
            targets.push((b, rel));
            offsets[a as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        Graph { offsets, targets }
    }
}

/// A directed graph over transaction ids, in compressed rows: each node's
/// out-edges with their relationships.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    offsets: Vec<u32>,
    targets: Vec<(u32, Rels)>,
}

impl Graph {
    /// How many nodes (transactions) it spans.
    pub fn nodes(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// How many edges it has.
    pub fn edges(&self) -> usize {
        self.targets.len()
    }

    /// `node`'s out-edges: targets and relationships.
    pub fn out(&self, node: u32) -> &[(u32, Rels)] {
        let (a, b) = (self.offsets[node as usize], self.offsets[node as usize + 1]);
        &self.targets[a as usize..b as usize]
    }

    /// The relationships of the edge `from → to`, if there is one.
    pub fn rels(&self, from: u32, to: u32) -> Option<Rels> {
        let out = self.out(from);
        out.binary_search_by_key(&to, |&(t, _)| t)
            .ok()
            .map(|i| out[i].1)
    }

    /// The strongly connected components with more than one node (self-edges are never
    /// added, so a single node is never a cycle), using only edges with a relationship in
    /// `allowed` and nodes for which `inside` holds. Each component's nodes are sorted.
    pub fn cycles_components(&self, allowed: Rels, inside: &dyn Fn(u32) -> bool) -> Vec<Vec<u32>> {
        Tarjan::new(self, allowed, inside).run()
    }
}

/// Tarjan's algorithm, iterative (histories have millions of transactions; recursion
/// would overflow the stack).
struct Tarjan<'g> {
    graph: &'g Graph,
    allowed: Rels,
    inside: &'g dyn Fn(u32) -> bool,
    index: Vec<u32>,
    low: Vec<u32>,
    on_stack: Vec<bool>,
    stack: Vec<u32>,
    next: u32,
    components: Vec<Vec<u32>>,
}

const UNVISITED: u32 = u32::MAX;

impl<'g> Tarjan<'g> {
    fn new(graph: &'g Graph, allowed: Rels, inside: &'g dyn Fn(u32) -> bool) -> Self {
        let n = graph.nodes();
        Tarjan {
            graph,
            allowed,
            inside,
            index: vec![UNVISITED; n],
            low: vec![0; n],
            on_stack: vec![false; n],
            stack: Vec::new(),
            next: 0,
            components: Vec::new(),
        }
    }

    fn run(mut self) -> Vec<Vec<u32>> {
        for root in 0..self.graph.nodes() as u32 {
            if self.index[root as usize] == UNVISITED && (self.inside)(root) {
                self.visit(root);
            }
        }
        self.components
    }

    fn visit(&mut self, root: u32) {
        // Each frame: a node and how many of its out-edges were explored.
        let mut frames: Vec<(u32, usize)> = vec![(root, 0)];
        self.open(root);
        while let Some(&(node, edge)) = frames.last() {
            let out = self.graph.out(node);
            if let Some(&(next, rels)) = out.get(edge) {
                if let Some(frame) = frames.last_mut() {
                    frame.1 += 1;
                }
                if rels.intersection(self.allowed).is_empty() || !(self.inside)(next) {
                    continue;
                }
                if self.index[next as usize] == UNVISITED {
                    self.open(next);
                    frames.push((next, 0));
                } else if self.on_stack[next as usize] {
                    let low = self.low[node as usize].min(self.index[next as usize]);
                    self.low[node as usize] = low;
                }
                continue;
            }
            frames.pop();
            if let Some(&(parent, _)) = frames.last() {
                let low = self.low[parent as usize].min(self.low[node as usize]);
                self.low[parent as usize] = low;
            }
            if self.low[node as usize] == self.index[node as usize] {
                let mut component = Vec::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack[member as usize] = false;
                    component.push(member);
                    if member == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort_unstable();
                    self.components.push(component);
                }
            }
        }
    }

    fn open(&mut self, node: u32) {
        self.index[node as usize] = self.next;
        self.low[node as usize] = self.next;
        self.next += 1;
        self.stack.push(node);
        self.on_stack[node as usize] = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(n: usize, edges: &[(u32, u32, Rels)]) -> Graph {
        let mut b = Builder::new(n);
        for &(x, y, r) in edges {
            b.link(x, y, r);
        }
        b.build()
    }

    #[test]
    fn repeated_pairs_merge_their_relationships() {
        let g = graph(
            3,
            &[(0, 1, Rels::WW), (0, 1, Rels::REALTIME), (1, 2, Rels::RW)],
        );
        assert_eq!(g.edges(), 2);
        assert_eq!(g.rels(0, 1), Some(Rels::WW.union(Rels::REALTIME)));
        assert_eq!(g.rels(1, 0), None);
        assert_eq!(
            g.rels(0, 1).and_then(|r| r.label(Rels::REALTIME)),
            Some(Rels::REALTIME)
        );
        assert_eq!(g.rels(0, 1).and_then(|r| r.label(Rels::RW)), None);
    }

    #[test]
    fn components_follow_the_allowed_relationships() {
        // 0 → 1 → 2 → 0 by ww, wr and rw; 3 ↔ 4 by ww.
        let g = graph(
            5,
            &[
                (0, 1, Rels::WW),
                (1, 2, Rels::WR),
                (2, 0, Rels::RW),
                (3, 4, Rels::WW),
                (4, 3, Rels::WW),
            ],
        );
        let all = Rels::WW.union(Rels::WR).union(Rels::RW);
        assert_eq!(
            g.cycles_components(all, &|_| true),
            vec![vec![0, 1, 2], vec![3, 4]]
        );
        assert_eq!(g.cycles_components(Rels::WW, &|_| true), vec![vec![3, 4]]);
        assert_eq!(g.cycles_components(all, &|n| n != 1), vec![vec![3, 4]]);
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n = 200_000u32;
        let mut edges: Vec<(u32, u32, Rels)> = (0..n - 1).map(|i| (i, i + 1, Rels::WW)).collect();
        edges.push((n - 1, 0, Rels::WW));
        let g = graph(n as usize, &edges);
        let components = g.cycles_components(Rels::WW, &|_| true);
        assert_eq!(components.len(), 1);
        assert_eq!(components[0].len(), n as usize);
    }
}

//! Vector clocks, and sets of concurrent versions ("siblings") kept by them.
//!
//! A [`VClock`] counts, per node, the writes a version has seen. Comparing two clocks says
//! whether one version happened before the other or whether they are concurrent — which
//! last-write-wins cannot tell, and which [`Siblings`] uses to keep every concurrent version
//! instead of silently dropping all but one (Dynamo, Riak).

use std::collections::BTreeMap;

use crate::NodeId;

/// A vector clock: for each node, how many of its writes this version has seen. Absent entries
/// are zero (and zero entries are never stored, so equal clocks are equal maps).
///
/// Nodes are the embedded store's [`NodeId`]s unless named otherwise: the service system's
/// instances count by name (`VClock<String>`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VClock<N = NodeId>(BTreeMap<N, u64>);

impl<N> Default for VClock<N> {
    fn default() -> Self {
        VClock(BTreeMap::new())
    }
}

impl<N: Ord> FromIterator<(N, u64)> for VClock<N> {
    /// The clock with these entries (zero entries dropped; a node given twice keeps the larger).
    fn from_iter<I: IntoIterator<Item = (N, u64)>>(entries: I) -> Self {
        let mut clock = BTreeMap::new();
        for (node, count) in entries.into_iter().filter(|(_, count)| *count > 0) {
            let entry = clock.entry(node).or_insert(0);
            *entry = count.max(*entry);
        }
        VClock(clock)
    }
}

/// How two vector clocks relate (the causal order, a partial order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Causality {
    /// `self` happened before `other`: every entry ≤, one <.
    Before,
    /// `self` happened after `other`: every entry ≥, one >.
    After,
    /// The same clock.
    Equal,
    /// Neither saw the other: some entry <, another >.
    Concurrent,
}

impl<N: Ord + Clone> VClock<N> {
    /// The empty clock (before everything).
    pub fn new() -> Self {
        VClock::default()
    }

    /// This clock's entry for `node` (0 if absent).
    pub fn get(&self, node: &N) -> u64 {
        self.0.get(node).copied().unwrap_or(0)
    }

    /// Counts one more write by `node`.
    pub fn increment(&mut self, node: N) {
        *self.0.entry(node).or_insert(0) += 1;
    }

    /// Takes the entry-wise maximum with `other`: the clock of a version that saw both.
    pub fn merge(&mut self, other: &VClock<N>) {
        for (node, &count) in &other.0 {
            let entry = self.0.entry(node.clone()).or_insert(0);
            *entry = (*entry).max(count);
        }
    }

    /// The non-zero entries, in node order.
    pub fn entries(&self) -> impl Iterator<Item = (&N, u64)> {
        self.0.iter().map(|(node, &count)| (node, count))
    }

    /// How `self` relates to `other`.
    pub fn compare(&self, other: &VClock<N>) -> Causality {
        let mut less = false;
        let mut greater = false;
        for node in self.0.keys().chain(other.0.keys()) {
            let (mine, theirs) = (self.get(node), other.get(node));
            less |= mine < theirs;
            greater |= mine > theirs;
        }
        match (less, greater) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (true, true) => Causality::Concurrent,
        }
    }

    /// True if `self` saw everything `other` saw (after it, or equal).
    pub fn descends(&self, other: &VClock<N>) -> bool {
        matches!(self.compare(other), Causality::After | Causality::Equal)
    }
}

/// A set of versions, none of which happened before another: adding a version drops the ones it
/// dominates, and is a no-op if an existing version dominates (or equals) it; concurrent versions
/// are all kept. Merging two sets this way is commutative, associative and idempotent, so
/// replicas that exchanged their versions hold the same siblings.
///
/// Versions are kept sorted by clock, so equal sets have equal representations (and hashes).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Siblings<T, N = NodeId> {
    versions: Vec<(VClock<N>, T)>,
}

impl<T, N> Default for Siblings<T, N> {
    fn default() -> Self {
        Siblings {
            versions: Vec::new(),
        }
    }
}

impl<T: Clone, N: Ord + Clone> Siblings<T, N> {
    /// A set holding one version.
    pub fn single(clock: VClock<N>, value: T) -> Self {
        Siblings {
            versions: vec![(clock, value)],
        }
    }

    /// Adds a version. Returns whether the set changed: false if an existing version already saw
    /// `clock` (two versions with equal clocks are the same write, so the existing one is kept).
    pub fn add(&mut self, clock: VClock<N>, value: T) -> bool {
        if self.versions.iter().any(|(c, _)| c.descends(&clock)) {
            return false;
        }
        self.versions.retain(|(c, _)| !clock.descends(c));
        let at = self
            .versions
            .binary_search_by(|(c, _)| c.cmp(&clock))
            .unwrap_or_else(|at| at);
        self.versions.insert(at, (clock, value));
        true
    }

    /// Adds every version of `other`. Returns whether `self` changed.
    pub fn merge(&mut self, other: &Siblings<T, N>) -> bool {
        let mut changed = false;
        for (clock, value) in &other.versions {
            changed |= self.add(clock.clone(), value.clone());
        }
        changed
    }

    /// The clock of a version that saw all of these: the merge of their clocks. A write that
    /// follows a read of this set increments it, so it supersedes every sibling.
    pub fn clock(&self) -> VClock<N> {
        let mut clock = VClock::new();
        for (c, _) in &self.versions {
            clock.merge(c);
        }
        clock
    }

    /// The versions' values, in clock order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.versions.iter().map(|(_, v)| v)
    }

    /// The versions, in clock order.
    pub fn versions(&self) -> &[(VClock<N>, T)] {
        &self.versions
    }

    /// How many concurrent versions there are.
    pub fn len(&self) -> usize {
        self.versions.len()
    }

    /// True if there is no version at all.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(entries: &[(NodeId, u64)]) -> VClock {
        let mut c = VClock::new();
        for &(node, count) in entries {
            for _ in 0..count {
                c.increment(node);
            }
        }
        c
    }

    #[test]
    fn compare_covers_the_four_cases() {
        let a = clock(&[(0, 1)]);
        let b = clock(&[(0, 2), (1, 1)]);
        let c = clock(&[(1, 1)]);
        assert_eq!(a.compare(&b), Causality::Before);
        assert_eq!(b.compare(&a), Causality::After);
        assert_eq!(a.compare(&a.clone()), Causality::Equal);
        assert_eq!(a.compare(&c), Causality::Concurrent);
        assert_eq!(c.compare(&a), Causality::Concurrent);
        assert_eq!(VClock::new().compare(&a), Causality::Before);
        assert_eq!(
            VClock::<NodeId>::new().compare(&VClock::new()),
            Causality::Equal
        );
    }

    #[test]
    fn merge_is_the_entrywise_maximum_and_descends_from_both() {
        let a = clock(&[(0, 3), (1, 1)]);
        let b = clock(&[(1, 2), (2, 5)]);
        let mut m = a.clone();
        m.merge(&b);
        assert_eq!((m.get(&0), m.get(&1), m.get(&2), m.get(&9)), (3, 2, 5, 0));
        assert!(m.descends(&a) && m.descends(&b));
        let mut other_way = b.clone();
        other_way.merge(&a);
        assert_eq!(m, other_way);
        m.increment(0);
        assert_eq!(m.compare(&a), Causality::After);
    }

    #[test]
    fn siblings_keep_concurrent_versions_and_drop_dominated_ones() {
        let mut s = Siblings::single(clock(&[(0, 1)]), "a");
        // Concurrent: kept.
        assert!(s.add(clock(&[(1, 1)]), "b"));
        assert_eq!(s.len(), 2);
        // Dominated by an existing version (and equal to one): ignored.
        assert!(!s.add(VClock::new(), "old"));
        assert!(!s.add(clock(&[(1, 1)]), "b"));
        assert_eq!(s.len(), 2);
        // A version that saw both replaces both.
        let mut both = s.clock();
        both.increment(2);
        assert!(s.add(both.clone(), "c"));
        assert_eq!(s.values().copied().collect::<Vec<_>>(), vec!["c"]);
        assert_eq!(s.clock(), both);
    }

    #[test]
    fn clocks_count_named_nodes_too() {
        let a: VClock<String> = [("api1".to_string(), 2), ("api2".into(), 0)]
            .into_iter()
            .collect();
        let mut b = a.clone();
        b.increment("api2".into());
        assert_eq!(a.entries().count(), 1, "zero entries are not kept");
        assert_eq!(b.compare(&a), Causality::After);
        assert_eq!(b.get(&"api2".to_string()), 1);
        let rebuilt: VClock<String> = b.entries().map(|(n, c)| (n.clone(), c)).collect();
        assert_eq!(rebuilt, b);
    }

    #[test]
    fn sibling_merge_is_commutative_and_idempotent() {
        let versions = [
            (clock(&[(0, 1)]), 1),
            (clock(&[(1, 1)]), 2),
            (clock(&[(0, 1), (1, 1), (2, 1)]), 3),
            (clock(&[(2, 2)]), 4),
        ];
        let mut forward = Siblings::default();
        for (c, v) in versions.iter().cloned() {
            forward.add(c, v);
        }
        let mut backward = Siblings::default();
        for (c, v) in versions.iter().rev().cloned() {
            backward.add(c, v);
        }
        assert_eq!(forward, backward);
        assert_eq!(forward.values().copied().collect::<Vec<_>>(), vec![3, 4]);
        let before = forward.clone();
        assert!(!forward.merge(&backward));
        assert_eq!(forward, before);
    }
}

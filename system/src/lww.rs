//! Last-write-wins registers: a value stamped with a hybrid logical [`Timestamp`]; of two
//! versions, the one with the larger timestamp wins.
//!
//! Timestamps are totally ordered (the node id inside breaks ties), so merging is commutative,
//! associative and idempotent: replicas that saw the same versions agree. The price: of two
//! concurrent writes one is silently lost, and with skewed clocks the "last" write is the one
//! from the node whose clock runs ahead, not the one that happened last.

use crate::hlc::Timestamp;

/// A value and the timestamp of the write that produced it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lww<T> {
    timestamp: Timestamp,
    value: T,
}

impl<T> Lww<T> {
    /// A register written at `timestamp`.
    pub fn new(timestamp: Timestamp, value: T) -> Self {
        Lww { timestamp, value }
    }

    /// The timestamp of the winning write.
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// The winning value.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// Applies a write stamped `timestamp`: it wins if it is later than the current one.
    /// Returns whether the register changed.
    pub fn set(&mut self, timestamp: Timestamp, value: T) -> bool {
        if timestamp > self.timestamp {
            self.timestamp = timestamp;
            self.value = value;
            true
        } else {
            false
        }
    }
}

impl<T: Clone> Lww<T> {
    /// Merges another replica's version of the register. Returns whether `self` changed.
    pub fn merge(&mut self, other: &Lww<T>) -> bool {
        self.set(other.timestamp, other.value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(wall_ns: u64, logical: u32, node: u32) -> Timestamp {
        Timestamp {
            wall_ns,
            logical,
            node,
        }
    }

    #[test]
    fn the_later_write_wins_whatever_the_arrival_order() {
        let mut r = Lww::new(ts(5, 0, 0), "first");
        assert!(r.set(ts(7, 0, 1), "later"));
        assert!(!r.set(ts(6, 3, 2), "earlier, arriving late"));
        assert_eq!(*r.value(), "later");
        assert_eq!(r.timestamp(), ts(7, 0, 1));
    }

    #[test]
    fn logical_counter_then_node_break_ties() {
        let mut r = Lww::new(ts(5, 1, 0), "a");
        assert!(r.set(ts(5, 2, 0), "b"));
        assert!(r.set(ts(5, 2, 1), "c"));
        assert!(!r.set(ts(5, 2, 1), "same timestamp: the same write"));
        assert_eq!(*r.value(), "c");
    }

    #[test]
    fn merge_is_commutative_and_idempotent() {
        let a = Lww::new(ts(1, 0, 0), 10);
        let b = Lww::new(ts(1, 0, 1), 20);
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        assert_eq!(ab, ba);
        assert_eq!(*ab.value(), 20);
        assert!(!ab.merge(&ba));
    }
}

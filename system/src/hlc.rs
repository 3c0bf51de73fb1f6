//! Hybrid logical clocks (Kulkarni, Demirbas et al., "Logical Physical Clocks and Consistent
//! Snapshots in Globally Distributed Databases", 2014).
//!
//! A hybrid timestamp is a physical time (`wall_ns`) refined by a logical counter. It stays close
//! to physical time, yet it respects causality like a Lamport clock: an event that happened after
//! another one (locally, or by receiving a message stamped by it) always gets a larger timestamp,
//! however skewed the physical clocks are. The node id makes the order total, so two events of
//! different nodes never compare equal (which last-write-wins needs to break ties).
//!
//! The clock never reads time itself: callers pass the physical time, which they get from a
//! [`Clock`] — so the simulator can skew each replica's clock.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::NodeId;

/// A hybrid logical timestamp, totally ordered by `(wall_ns, logical, node)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// The largest physical time (ns) this clock has seen, locally or in a message.
    pub wall_ns: u64,
    /// Counts events that happened while `wall_ns` stood still.
    pub logical: u32,
    /// The node that made the timestamp: breaks ties between nodes.
    pub node: NodeId,
}

/// A source of physical time, in nanoseconds.
pub trait Clock {
    /// The current physical time in nanoseconds (any fixed epoch; it may jump and even go back).
    fn physical_ns(&self) -> u64;
}

/// The machine's wall clock: nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn physical_ns(&self) -> u64 {
        // A clock set before 1970 reads as 0; one past year 2554 saturates.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

/// One node's hybrid logical clock: the last timestamp it issued.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Hlc {
    last: Timestamp,
}

impl Hlc {
    /// A clock for `node` that has issued nothing yet.
    pub fn new(node: NodeId) -> Self {
        Hlc {
            last: Timestamp {
                wall_ns: 0,
                logical: 0,
                node,
            },
        }
    }

    /// The last timestamp issued (all zero but the node before the first event).
    pub fn last(&self) -> Timestamp {
        self.last
    }

    /// A timestamp for a local or send event at physical time `physical_ns`: larger than every
    /// timestamp this clock issued or received before.
    pub fn now(&mut self, physical_ns: u64) -> Timestamp {
        if physical_ns > self.last.wall_ns {
            self.set(physical_ns, Some(0))
        } else {
            self.set(self.last.wall_ns, self.last.logical.checked_add(1))
        }
    }

    /// A timestamp for receiving a message stamped `received`, at physical time `physical_ns`:
    /// larger than `received` and than every timestamp this clock issued or received before.
    pub fn update(&mut self, received: Timestamp, physical_ns: u64) -> Timestamp {
        let local = self.last;
        let wall_ns = physical_ns.max(local.wall_ns).max(received.wall_ns);
        let logical = if wall_ns == local.wall_ns && wall_ns == received.wall_ns {
            local.logical.max(received.logical).checked_add(1)
        } else if wall_ns == local.wall_ns {
            local.logical.checked_add(1)
        } else if wall_ns == received.wall_ns {
            received.logical.checked_add(1)
        } else {
            Some(0)
        };
        self.set(wall_ns, logical)
    }

    /// Issues `(wall_ns, logical)`; a logical counter that overflowed (`None`: 2^32 events within
    /// one nanosecond) moves the wall time on by one nanosecond instead, which keeps the order.
    fn set(&mut self, wall_ns: u64, logical: Option<u32>) -> Timestamp {
        let (wall_ns, logical) = match logical {
            Some(logical) => (wall_ns, logical),
            None => (wall_ns.saturating_add(1), 0),
        };
        self.last = Timestamp {
            wall_ns,
            logical,
            node: self.last.node,
        };
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_strictly_monotonic_even_when_physical_time_goes_back() {
        let mut hlc = Hlc::new(1);
        let mut previous = hlc.now(1_000);
        for physical in [1_000, 2_000, 1_500, 0, 2_000, 3_000, 2_999] {
            let next = hlc.now(physical);
            assert!(next > previous, "{next:?} after {previous:?}");
            assert!(next.wall_ns >= physical, "never behind physical time");
            previous = next;
        }
        assert_eq!(previous.wall_ns, 3_000);
        assert_eq!(previous.logical, 1);
    }

    #[test]
    fn follows_physical_time_when_it_moves_on() {
        let mut hlc = Hlc::new(0);
        assert_eq!((hlc.now(10).wall_ns, hlc.last().logical), (10, 0));
        assert_eq!((hlc.now(10).wall_ns, hlc.last().logical), (10, 1));
        assert_eq!((hlc.now(11).wall_ns, hlc.last().logical), (11, 0));
    }

    #[test]
    fn receive_orders_after_the_sender_despite_a_slow_clock() {
        // Node 0's clock is an hour ahead of node 1's.
        let hour = 3_600_000_000_000;
        let mut fast = Hlc::new(0);
        let mut slow = Hlc::new(1);
        let sent = fast.now(hour + 5);
        let received = slow.update(sent, 7);
        assert!(received > sent);
        // Every later event of the slow node stays after the message, although its physical
        // clock is far behind.
        let later = slow.now(8);
        assert!(later > received);
        assert_eq!(later.wall_ns, hour + 5);
        // And a reply to the fast node is ordered after it too.
        let reply = fast.update(later, hour + 5);
        assert!(reply > later);
    }

    #[test]
    fn update_takes_the_larger_logical_counter_on_equal_walls() {
        let mut a = Hlc::new(0);
        a.now(100);
        a.now(100);
        let mut b = Hlc::new(1);
        let sent = b.update(
            Timestamp {
                wall_ns: 100,
                logical: 7,
                node: 2,
            },
            50,
        );
        assert_eq!((sent.wall_ns, sent.logical), (100, 8));
        let received = a.update(sent, 100);
        assert_eq!(
            (received.wall_ns, received.logical, received.node),
            (100, 9, 0)
        );
    }

    #[test]
    fn node_id_breaks_ties() {
        let a = Hlc::new(0).now(5);
        let b = Hlc::new(1).now(5);
        assert!(a < b);
        assert_ne!(a, b);
    }

    #[test]
    fn logical_overflow_moves_wall_time_on() {
        let mut hlc = Hlc::new(0);
        let near = Timestamp {
            wall_ns: 9,
            logical: u32::MAX,
            node: 1,
        };
        let t = hlc.update(near, 0);
        assert!(t > near);
        assert_eq!((t.wall_ns, t.logical), (10, 0));
    }

    #[test]
    fn system_clock_reads_a_plausible_time() {
        // After 2020-01-01.
        assert!(SystemClock.physical_ns() > 1_577_836_800_000_000_000);
    }
}

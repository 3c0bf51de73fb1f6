//! The simulated cluster's time: one monotonic clock for everyone (deadlines, timeouts), and a
//! wall clock per replica that can be skewed (what its hybrid logical clock reads).
//!
//! Both follow tokio's clock, so tests that pause tokio's time control the cluster's time too.

use std::sync::atomic::{AtomicI64, Ordering};

use tokio::time::Instant;

use crate::hlc::{Clock, SystemClock};
use crate::replica::Now;

/// Cluster time.
#[derive(Debug)]
pub(crate) struct SimClock {
    start: Instant,
    wall_start_ns: u64,
    skew_ns: Vec<AtomicI64>,
}

impl SimClock {
    /// Starts the clock now, for `nodes` replicas with no skew.
    pub(crate) fn new(nodes: usize) -> Self {
        SimClock {
            start: Instant::now(),
            wall_start_ns: SystemClock.physical_ns(),
            skew_ns: (0..nodes).map(|_| AtomicI64::new(0)).collect(),
        }
    }

    /// Nanoseconds since the cluster started.
    pub(crate) fn mono_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The time as replica `node` sees it.
    pub(crate) fn now(&self, node: usize) -> Now {
        let mono_ns = self.mono_ns();
        Now {
            mono_ns,
            wall_ns: self.node_clock(node).wall_at(mono_ns),
        }
    }

    /// Sets replica `node`'s clock skew (0 resets it).
    pub(crate) fn skew(&self, node: usize, offset_ns: i64) {
        if let Some(skew) = self.skew_ns.get(node) {
            skew.store(offset_ns, Ordering::Relaxed);
        }
    }

    /// Replica `node`'s wall clock.
    pub(crate) fn node_clock(&self, node: usize) -> NodeClock<'_> {
        NodeClock { sim: self, node }
    }
}

/// One replica's (skewed) wall clock.
pub(crate) struct NodeClock<'a> {
    sim: &'a SimClock,
    node: usize,
}

impl NodeClock<'_> {
    fn wall_at(&self, mono_ns: u64) -> u64 {
        let skew = self
            .sim
            .skew_ns
            .get(self.node)
            .map_or(0, |s| s.load(Ordering::Relaxed));
        let wall = i128::from(self.sim.wall_start_ns) + i128::from(mono_ns) + i128::from(skew);
        u64::try_from(wall.max(0)).unwrap_or(u64::MAX)
    }
}

impl Clock for NodeClock<'_> {
    fn physical_ns(&self) -> u64 {
        self.wall_at(self.sim.mono_ns())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn skew_shifts_one_wall_clock_only() {
        let clock = SimClock::new(2);
        tokio::time::advance(std::time::Duration::from_millis(5)).await;
        let (a, b) = (clock.now(0), clock.now(1));
        assert_eq!(a.mono_ns, 5_000_000);
        assert_eq!(a.wall_ns, b.wall_ns);
        clock.skew(1, -1_000);
        assert_eq!(clock.now(1).wall_ns + 1_000, clock.now(0).wall_ns);
        assert_eq!(clock.node_clock(1).physical_ns(), clock.now(1).wall_ns);
        clock.skew(1, 0);
        assert_eq!(clock.now(1).wall_ns, clock.now(0).wall_ns);
    }
}

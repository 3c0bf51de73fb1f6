//! Timestamps for last-write-wins in Cassandra (`USING TIMESTAMP`, microseconds).
//!
//! With [`Policy::Wall`] a write is stamped with the instance's clock, as Cassandra's own
//! coordinators do: skew one instance's clock back and its writes lose to older ones. With
//! [`Policy::Hlc`] the stamp comes from the embedded store's hybrid logical clock
//! ([`system::hlc::Hlc`]), run over microseconds, which has also seen the key's current
//! timestamp (the caller reads it first and passes it to [`Stamper::stamp`]): a write is always
//! stamped after everything it could have observed, whatever the clocks say.

use crate::settings::Policy;
use std::sync::Mutex;
use system::hlc::{Clock, Hlc, SystemClock, Timestamp};

/// Makes the write timestamps of one instance.
#[derive(Debug)]
pub struct Stamper {
    hlc: Mutex<Hlc>,
}

impl Default for Stamper {
    fn default() -> Stamper {
        Stamper {
            hlc: Mutex::new(Hlc::new(0)),
        }
    }
}

/// The machine's wall clock in microseconds (the clock libfaketime moves).
pub fn wall_micros() -> i64 {
    i64::try_from(SystemClock.physical_ns() / 1_000).unwrap_or(i64::MAX)
}

impl Stamper {
    /// A timestamp for a write under `policy`; `seen` is the key's current timestamp when the
    /// caller read it (only [`Policy::Hlc`] uses it).
    pub fn stamp(&self, policy: Policy, seen: Option<i64>) -> i64 {
        match policy {
            Policy::Wall => wall_micros(),
            // A queued write under vector clocks carries its clock; its stamp orders nothing.
            Policy::Hlc | Policy::Vector => {
                self.observe(seen);
                // A poisoned lock still holds a valid clock: the counter only moves forward.
                let mut hlc = self.hlc.lock().unwrap_or_else(|e| e.into_inner());
                let now = hlc.now(wall_micros().max(0) as u64);
                // Cassandra keeps one number: fold the logical counter into it, and make the
                // clock move past the folded value so the next stamp is larger still.
                let folded = now.wall_ns.saturating_add(u64::from(now.logical));
                hlc.update(micros(folded), wall_micros().max(0) as u64);
                i64::try_from(folded).unwrap_or(i64::MAX)
            }
        }
    }

    /// Moves the clock past a timestamp read from the store.
    pub fn observe(&self, seen: Option<i64>) {
        if let Some(seen) = seen.filter(|s| *s > 0) {
            let mut hlc = self.hlc.lock().unwrap_or_else(|e| e.into_inner());
            hlc.update(micros(seen as u64), wall_micros().max(0) as u64);
        }
    }
}

fn micros(us: u64) -> Timestamp {
    Timestamp {
        wall_ns: us,
        logical: 0,
        node: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hlc_stamps_pass_what_was_seen_even_far_ahead_of_the_clock() {
        let stamper = Stamper::default();
        let ahead = wall_micros() + 3_600_000_000; // an hour ahead
        let first = stamper.stamp(Policy::Hlc, Some(ahead));
        assert!(first > ahead);
        let second = stamper.stamp(Policy::Hlc, None);
        assert!(
            second > first,
            "strictly increasing: {second} after {first}"
        );
        // The wall clock does not see it.
        assert!(stamper.stamp(Policy::Wall, Some(ahead)) < ahead);
    }
}

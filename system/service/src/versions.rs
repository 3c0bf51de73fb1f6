//! Vector-clock versions of a key ([`Policy::Vector`]): concurrent writes are all kept as
//! siblings instead of one silently winning, with the embedded store's clocks and sibling rules
//! ([`system::vclock`]) over the instances' names.
//!
//! In Cassandra a key's versions are rows `(key, clock) → value` of the `versions` table, the
//! clock written as JSON (`{"api1":3,"api2":1}`: sorted, so one clock has one spelling). A write
//! first reads the key's versions, then writes a row whose clock is their merge with its own
//! instance's entry moved past every write it made before ([`next`]), so it supersedes what it
//! saw and what its instance wrote earlier; a write that did not
//! see another (a replica that had not yet received it, or a write racing it) is concurrent with
//! it, and both rows stay. A reader applies the sibling rules to the rows it finds, so a row
//! already superseded is never returned, even before the writer that superseded it deleted it
//! (deleting is tidying, not what makes a read right). Applying one write again finds its own row
//! and changes nothing, so a redelivered async write is harmless.
//!
//! A read resolves the siblings to their largest value, as the embedded store does, and lists
//! them all ([`Read::siblings`]) so a client can see that writes conflicted.
//!
//! [`Policy::Vector`]: crate::settings::Policy::Vector

use crate::ServiceError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use system::vclock::{Siblings, VClock};

/// A clock over instance names.
pub type Clock = VClock<String>;

/// A key's concurrent versions.
pub type Versions = Siblings<i64, String>;

/// A key as read: its value and, when writes to it conflicted, every concurrent version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Read {
    /// The value (under vector clocks, the largest of the siblings), or `None`: no value.
    pub value: Option<i64>,
    /// Every concurrent version's value, in clock order, when there are two or more (empty
    /// otherwise, and always under last-write-wins).
    pub siblings: Vec<i64>,
}

impl Read {
    /// A single value (or none), without siblings.
    pub fn single(value: Option<i64>) -> Read {
        Read {
            value,
            siblings: Vec::new(),
        }
    }

    /// What a read of `versions` returns.
    pub fn of(versions: &Versions) -> Read {
        Read {
            value: versions.values().copied().max(),
            siblings: if versions.len() > 1 {
                versions.values().copied().collect()
            } else {
                Vec::new()
            },
        }
    }
}

/// The clock of a write by `writer` that saw `versions`: it supersedes each of them, and every
/// earlier write of `writer` too, seen or not. `counter` is the writer's own monotonic count
/// (its hybrid logical clock): an async write is accepted before the writer's previous one is
/// applied, so the versions read need not hold it, and counting up from them alone would give
/// the two writes one clock, and the second would be taken for the first and dropped.
pub fn next(versions: &Versions, writer: &str, counter: u64) -> Clock {
    let mut clock = versions.clock();
    let entry = (clock.get(&writer.to_string()) + 1).max(counter);
    clock.merge(&[(writer.to_string(), entry)].into_iter().collect());
    clock
}

/// A clock as the `versions` table (and a queued write) spells it.
pub fn encode(clock: &Clock) -> String {
    let entries: BTreeMap<&str, u64> = clock.entries().map(|(n, c)| (n.as_str(), c)).collect();
    // A map of strings to integers always encodes.
    serde_json::to_string(&entries).unwrap_or_default()
}

/// The clock spelled `text` (by [`encode`]).
pub fn decode(text: &str) -> Result<Clock, ServiceError> {
    let entries: BTreeMap<String, u64> = serde_json::from_str(text).map_err(|e| {
        ServiceError::Unavailable(format!("a version's clock {text:?} in Cassandra: {e}"))
    })?;
    Ok(entries.into_iter().collect())
}

/// The sibling set of a key's rows: superseded rows drop out, whatever order they come in.
pub fn resolve(rows: impl IntoIterator<Item = (Clock, i64)>) -> Versions {
    let mut versions = Versions::default();
    for (clock, value) in rows {
        versions.add(clock, value);
    }
    versions
}

/// What writing `clock` over `current` does: `None` if a current version already saw it (a
/// redelivery, or a write superseded before it landed), else the rows it supersedes.
pub fn superseded<'a>(current: &'a Versions, clock: &Clock) -> Option<Vec<&'a Clock>> {
    if current.versions().iter().any(|(c, _)| c.descends(clock)) {
        return None;
    }
    Some(
        current
            .versions()
            .iter()
            .map(|(c, _)| c)
            .filter(|c| clock.descends(c))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_supersedes_what_it_read_and_keeps_what_it_did_not() {
        let none = Versions::default();
        let a = next(&none, "api1", 10);
        // api2 wrote without seeing api1's write: concurrent.
        let b = next(&none, "api2", 7);
        let both = resolve([(a.clone(), 5), (b.clone(), 3)]);
        assert_eq!(
            Read::of(&both),
            Read {
                value: Some(5),
                siblings: vec![5, 3]
            }
        );
        // A write after reading both supersedes both.
        let c = next(&both, "api2", 1);
        assert_eq!(superseded(&both, &c).map(|s| s.len()), Some(2));
        let after = resolve([(a.clone(), 5), (b, 3), (c.clone(), 1)]);
        assert_eq!(Read::of(&after), Read::single(Some(1)));
        // Applying a write again, or one superseded already, changes nothing.
        assert_eq!(superseded(&after, &c), None);
        assert_eq!(superseded(&after, &a), None);
    }

    #[test]
    fn a_writers_next_write_supersedes_its_last_even_unseen() {
        let none = Versions::default();
        // Two async writes accepted before either was applied: neither read the other.
        let first = next(&none, "api1", 100);
        let second = next(&none, "api1", 101);
        assert_ne!(first, second);
        assert!(second.descends(&first));
        let current = resolve([(first.clone(), 5)]);
        assert_eq!(superseded(&current, &second).map(|s| s.len()), Some(1));
        // The count never goes back, even when the writer's counter does (a restart).
        let after = next(&current, "api1", 3);
        assert!(after.descends(&first) && after != first);
    }

    #[test]
    fn clocks_round_trip_through_their_spelling() {
        let mut clock = Clock::new();
        clock.increment("api2".into());
        clock.increment("api1".into());
        clock.increment("api2".into());
        let text = encode(&clock);
        assert_eq!(text, r#"{"api1":1,"api2":2}"#);
        assert_eq!(decode(&text).unwrap(), clock);
        assert!(decode("not json").is_err());
        assert!(decode(r#"{"api1":-1}"#).is_err());
    }
}

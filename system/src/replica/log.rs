//! The strong mode's replicated log: numbered entries, the prefix of which may be dropped once
//! applied (what remains is a window `first..=last` over an infinite log).

use std::collections::VecDeque;

use super::{NodeId, RequestId};
use crate::store::Command;

/// A log position. Entries are numbered from 1; 0 means "before the first entry".
pub type Index = u64;

/// One client command in the log.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entry {
    /// The client request, unique: the leader never logs an id twice.
    pub id: RequestId,
    /// What to apply.
    pub command: Command,
    /// The replica the client is waiting at, which gets the reply.
    pub origin: NodeId,
}

/// The entries `first..=last` of the log; those before `first` were applied and dropped.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Log {
    first: Index,
    entries: VecDeque<Entry>,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            first: 1,
            entries: VecDeque::new(),
        }
    }
}

impl Log {
    /// The index of the oldest entry kept (`last() + 1` if none is kept).
    pub fn first(&self) -> Index {
        self.first
    }

    /// The index of the newest entry (0 if there was never one).
    pub fn last(&self) -> Index {
        self.first + self.entries.len() as u64 - 1
    }

    /// How many entries are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if no entry is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends an entry at `last() + 1` and returns its index.
    pub fn push(&mut self, entry: Entry) -> Index {
        self.entries.push_back(entry);
        self.last()
    }

    /// The entry at `index`, if it is kept.
    pub fn get(&self, index: Index) -> Option<&Entry> {
        let offset = index.checked_sub(self.first)?;
        self.entries.get(usize::try_from(offset).ok()?)
    }

    /// Clones up to `max` entries starting at `from` (fewer if the log ends first; none if
    /// `from` was dropped).
    pub fn slice(&self, from: Index, max: usize) -> Vec<Entry> {
        let Some(offset) = from
            .checked_sub(self.first)
            .and_then(|o| usize::try_from(o).ok())
        else {
            return Vec::new();
        };
        self.entries
            .iter()
            .skip(offset)
            .take(max)
            .cloned()
            .collect()
    }

    /// Drops the entries up to and including `index`.
    pub fn drop_through(&mut self, index: Index) {
        while self.first <= index && self.entries.pop_front().is_some() {
            self.first += 1;
        }
    }

    /// Forgets every entry and restarts the log after `index` (installing a snapshot taken at
    /// `index` on a replica that had not got that far).
    pub fn reset_after(&mut self, index: Index) {
        self.entries.clear();
        self.first = index + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> Entry {
        Entry {
            id: RequestId { client: 0, seq },
            command: Command::Read { key: 0 },
            origin: 0,
        }
    }

    #[test]
    fn window_over_an_infinite_log() {
        let mut log = Log::default();
        assert_eq!((log.first(), log.last(), log.len()), (1, 0, 0));
        for seq in 1..=5 {
            assert_eq!(log.push(entry(seq)), seq);
        }
        assert_eq!(log.get(3).map(|e| e.id.seq), Some(3));
        assert_eq!(log.get(0), None);
        assert_eq!(log.get(6), None);
        log.drop_through(2);
        assert_eq!((log.first(), log.last()), (3, 5));
        assert_eq!(log.get(2), None);
        let ids: Vec<u64> = log.slice(4, 10).iter().map(|e| e.id.seq).collect();
        assert_eq!(ids, vec![4, 5]);
        assert!(log.slice(1, 10).is_empty());
        log.drop_through(9);
        assert_eq!((log.first(), log.last(), log.len()), (6, 5, 0));
        log.reset_after(10);
        assert_eq!((log.first(), log.last()), (11, 10));
        assert_eq!(log.push(entry(11)), 11);
    }
}

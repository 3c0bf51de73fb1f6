//! The data and the operations on it: what a client asks ([`Command`]), what it gets back
//! ([`Reply`]), and a plain single-copy [`Store`] that gives every command its meaning. Both
//! replication modes apply commands through [`Store::apply`], so they differ only in *where*
//! and *in which order* commands are applied, never in what a command does.

use std::collections::{BTreeMap, BTreeSet};

/// A key. A key that was never written holds nothing (`None`), not a default value.
pub type Key = u64;

/// A stored value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Datum {
    /// A register, counter or bank balance.
    Int(i64),
    /// A grow-only set.
    Set(BTreeSet<i64>),
}

impl Datum {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Datum::Int(v) => Some(*v),
            Datum::Set(_) => None,
        }
    }
}

/// What a client asks for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Command {
    /// Reads one key: [`Reply::Value`].
    Read {
        /// The key to read.
        key: Key,
    },
    /// Writes an integer: [`Reply::Ok`].
    Write {
        /// The key to write.
        key: Key,
        /// The new value.
        value: i64,
    },
    /// Compare-and-set: writes `new` if the key holds the integer `expected` (or nothing, for
    /// `None`): [`Reply::CasResult`].
    Cas {
        /// The key.
        key: Key,
        /// The integer the key must hold, or `None` for a key that holds nothing.
        expected: Option<i64>,
        /// The value to write if it does.
        new: i64,
    },
    /// Adds an element to the set at `key` (a key holding nothing, or an integer, becomes
    /// `{element}`): [`Reply::Ok`].
    Add {
        /// The set's key.
        key: Key,
        /// The element to add.
        element: i64,
    },
    /// Adds `delta` to the counter at `key` (nothing, or a set, counts as 0; wrapping on
    /// overflow): [`Reply::Ok`].
    Incr {
        /// The counter's key.
        key: Key,
        /// What to add (may be negative).
        delta: i64,
    },
    /// Moves `amount` between two accounts (keys holding integers; nothing counts as 0). Fails,
    /// changing nothing, if `amount` is negative or `from` holds less than `amount`:
    /// [`Reply::TransferResult`].
    Transfer {
        /// The account to debit.
        from: Key,
        /// The account to credit.
        to: Key,
        /// How much to move.
        amount: i64,
    },
    /// Reads several keys at once (a bank's balances): [`Reply::Values`].
    ReadMany {
        /// The keys to read.
        keys: Vec<Key>,
    },
}

impl Command {
    /// True if the command never changes the store.
    pub fn is_read_only(&self) -> bool {
        matches!(self, Command::Read { .. } | Command::ReadMany { .. })
    }

    /// The keys the command reads or writes.
    pub fn keys(&self) -> Vec<Key> {
        match self {
            Command::Read { key }
            | Command::Write { key, .. }
            | Command::Cas { key, .. }
            | Command::Add { key, .. }
            | Command::Incr { key, .. } => vec![*key],
            Command::Transfer { from, to, .. } => vec![*from, *to],
            Command::ReadMany { keys } => keys.clone(),
        }
    }

    /// The keys the command wrote, given the reply it got: a failed compare-and-set or transfer
    /// wrote nothing.
    pub fn written_keys(&self, reply: &Reply) -> Vec<Key> {
        match (self, reply) {
            (Command::Write { key, .. }, _)
            | (Command::Add { key, .. }, _)
            | (Command::Incr { key, .. }, _)
            | (Command::Cas { key, .. }, Reply::CasResult(true)) => vec![*key],
            (Command::Transfer { from, to, .. }, Reply::TransferResult(true)) => vec![*from, *to],
            _ => Vec::new(),
        }
    }
}

/// What a client gets back.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reply {
    /// The value of the key read (`None`: nothing there).
    Value(Option<Datum>),
    /// The values of the keys read.
    Values(BTreeMap<Key, Option<Datum>>),
    /// The write happened.
    Ok,
    /// Whether the compare-and-set wrote.
    CasResult(bool),
    /// Whether the transfer happened.
    TransferResult(bool),
}

/// A single copy of the data: what every replica holds, and the meaning of every command.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Store {
    data: BTreeMap<Key, Datum>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Store::default()
    }

    /// The value at `key`.
    pub fn get(&self, key: Key) -> Option<&Datum> {
        self.data.get(&key)
    }

    /// Sets `key` (`None` removes it).
    pub fn set(&mut self, key: Key, value: Option<Datum>) {
        match value {
            Some(datum) => self.data.insert(key, datum),
            None => self.data.remove(&key),
        };
    }

    /// Everything stored.
    pub fn data(&self) -> &BTreeMap<Key, Datum> {
        &self.data
    }

    /// Applies a command and returns its reply.
    pub fn apply(&mut self, command: &Command) -> Reply {
        match command {
            Command::Read { key } => Reply::Value(self.data.get(key).cloned()),
            Command::Write { key, value } => {
                self.data.insert(*key, Datum::Int(*value));
                Reply::Ok
            }
            Command::Cas { key, expected, new } => {
                let current = self.data.get(key);
                let matches = match (current, expected) {
                    (None, None) => true,
                    (Some(Datum::Int(v)), Some(e)) => v == e,
                    _ => false,
                };
                if matches {
                    self.data.insert(*key, Datum::Int(*new));
                }
                Reply::CasResult(matches)
            }
            Command::Add { key, element } => {
                match self.data.get_mut(key) {
                    Some(Datum::Set(set)) => {
                        set.insert(*element);
                    }
                    _ => {
                        self.data
                            .insert(*key, Datum::Set(BTreeSet::from([*element])));
                    }
                }
                Reply::Ok
            }
            Command::Incr { key, delta } => {
                let current = self.balance(*key);
                self.data
                    .insert(*key, Datum::Int(current.wrapping_add(*delta)));
                Reply::Ok
            }
            Command::Transfer { from, to, amount } => {
                let (from_balance, to_balance) = (self.balance(*from), self.balance(*to));
                if *amount < 0 || from_balance < *amount {
                    return Reply::TransferResult(false);
                }
                if from != to {
                    self.data.insert(*from, Datum::Int(from_balance - amount));
                    self.data
                        .insert(*to, Datum::Int(to_balance.wrapping_add(*amount)));
                }
                Reply::TransferResult(true)
            }
            Command::ReadMany { keys } => Reply::Values(
                keys.iter()
                    .map(|key| (*key, self.data.get(key).cloned()))
                    .collect(),
            ),
        }
    }

    /// The integer at `key`; nothing (or a set) counts as 0.
    fn balance(&self, key: Key) -> i64 {
        self.data.get(&key).and_then(Datum::as_int).unwrap_or(0)
    }
}

impl From<BTreeMap<Key, Datum>> for Store {
    fn from(data: BTreeMap<Key, Datum>) -> Self {
        Store { data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: i64) -> Option<Datum> {
        Some(Datum::Int(v))
    }

    #[test]
    fn read_write_cas() {
        let mut s = Store::new();
        assert_eq!(s.apply(&Command::Read { key: 1 }), Reply::Value(None));
        let cas = |expected, new| Command::Cas {
            key: 1,
            expected,
            new,
        };
        assert_eq!(s.apply(&cas(Some(0), 5)), Reply::CasResult(false));
        assert_eq!(s.apply(&cas(None, 5)), Reply::CasResult(true));
        assert_eq!(s.apply(&cas(None, 6)), Reply::CasResult(false));
        assert_eq!(s.apply(&cas(Some(5), 6)), Reply::CasResult(true));
        assert_eq!(s.apply(&Command::Read { key: 1 }), Reply::Value(int(6)));
        assert_eq!(s.apply(&Command::Write { key: 1, value: 9 }), Reply::Ok);
        assert_eq!(s.get(1), Some(&Datum::Int(9)));
    }

    #[test]
    fn add_and_incr() {
        let mut s = Store::new();
        s.apply(&Command::Add { key: 2, element: 3 });
        s.apply(&Command::Add { key: 2, element: 1 });
        s.apply(&Command::Add { key: 2, element: 3 });
        assert_eq!(s.get(2), Some(&Datum::Set(BTreeSet::from([1, 3]))));
        s.apply(&Command::Incr { key: 3, delta: 4 });
        s.apply(&Command::Incr { key: 3, delta: -1 });
        assert_eq!(s.get(3), Some(&Datum::Int(3)));
    }

    #[test]
    fn transfer_never_overdraws_and_read_many_reads_all() {
        let mut s = Store::new();
        s.apply(&Command::Write { key: 0, value: 10 });
        let transfer = |from, to, amount| Command::Transfer { from, to, amount };
        assert_eq!(s.apply(&transfer(0, 1, 11)), Reply::TransferResult(false));
        assert_eq!(s.apply(&transfer(0, 1, -1)), Reply::TransferResult(false));
        assert_eq!(s.apply(&transfer(0, 1, 4)), Reply::TransferResult(true));
        assert_eq!(s.apply(&transfer(1, 1, 4)), Reply::TransferResult(true));
        assert_eq!(s.apply(&transfer(2, 0, 1)), Reply::TransferResult(false));
        let reply = s.apply(&Command::ReadMany {
            keys: vec![0, 1, 2],
        });
        assert_eq!(
            reply,
            Reply::Values(BTreeMap::from([(0, int(6)), (1, int(4)), (2, None)]))
        );
    }

    #[test]
    fn written_keys_follow_the_reply() {
        let cas = Command::Cas {
            key: 4,
            expected: None,
            new: 1,
        };
        assert_eq!(cas.written_keys(&Reply::CasResult(true)), vec![4]);
        assert!(cas.written_keys(&Reply::CasResult(false)).is_empty());
        let transfer = Command::Transfer {
            from: 1,
            to: 2,
            amount: 3,
        };
        assert_eq!(
            transfer.written_keys(&Reply::TransferResult(true)),
            vec![1, 2]
        );
        assert!(Command::Read { key: 1 }
            .written_keys(&Reply::Value(None))
            .is_empty());
        assert!(Command::ReadMany { keys: vec![1] }.is_read_only());
        assert_eq!(transfer.keys(), vec![1, 2]);
    }
}

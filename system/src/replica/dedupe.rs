//! The strong-mode leader's memory of the request ids it has accepted, so that a request that
//! reaches it twice (a duplicated or retried message) is logged — and applied — at most once.
//!
//! An id is remembered until its request's deadline. After that, it can be forgotten safely: the
//! leader drops every request that arrives after its deadline (mono time only moves forward), so
//! a late copy is dropped rather than logged again. This keeps the memory proportional to the
//! requests of one timeout window instead of growing with every request ever made.

use std::collections::BTreeSet;

use super::RequestId;

/// Accepted request ids, each kept until its deadline.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Dedupe {
    ids: BTreeSet<RequestId>,
    by_deadline: BTreeSet<(u64, RequestId)>,
}

impl Dedupe {
    /// Remembers `id` until `deadline_ns`. Returns false if it was already remembered.
    pub fn insert(&mut self, id: RequestId, deadline_ns: u64) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.by_deadline.insert((deadline_ns, id));
        true
    }

    /// Forgets the ids whose deadline is at or before `now_ns`.
    pub fn expire(&mut self, now_ns: u64) {
        while let Some(&(deadline, id)) = self.by_deadline.first() {
            if deadline > now_ns {
                break;
            }
            self.by_deadline.pop_first();
            self.ids.remove(&id);
        }
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_until_the_deadline() {
        let id = |seq| RequestId { client: 1, seq };
        let mut d = Dedupe::default();
        assert!(d.insert(id(1), 10));
        assert!(d.insert(id(2), 20));
        assert!(!d.insert(id(1), 30));
        d.expire(9);
        assert_eq!(d.len(), 2);
        d.expire(10);
        assert_eq!(d.len(), 1);
        assert!(d.insert(id(1), 40));
        assert!(!d.insert(id(2), 40));
        d.expire(u64::MAX);
        assert_eq!(d.len(), 0);
    }
}

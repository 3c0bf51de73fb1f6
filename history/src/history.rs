//! [`History`]: the ordered events of a test.

use crate::Op;

/// The events of a test in the order they happened.
///
/// The order is the real-time order: Jepsen's semantics, and the one every
/// checker here uses. Times, when present, are kept for plots only.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    ops: Vec<Op>,
    /// 1-based source line of each op, or 0 when it was not read from a file.
    lines: Vec<u32>,
}

impl History {
    /// An empty history.
    pub fn new() -> History {
        History::default()
    }

    /// Builds a history from events, numbering any that lack an index by position.
    pub fn from_ops(ops: impl IntoIterator<Item = Op>) -> History {
        let mut h = History::new();
        for op in ops {
            h.push(op);
        }
        h
    }

    /// Makes room for `additional` more events.
    pub fn reserve(&mut self, additional: usize) {
        self.ops.reserve(additional);
        self.lines.reserve(additional);
    }

    /// Appends an event. Its index is set to its position.
    pub fn push(&mut self, mut op: Op) {
        op.index = self.ops.len() as u64;
        self.ops.push(op);
        self.lines.push(0);
    }

    /// Appends an event read from `line` of a file, keeping its own index.
    pub fn push_from_line(&mut self, op: Op, line: u32) {
        self.ops.push(op);
        self.lines.push(line);
    }

    /// The events.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Takes the events out.
    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The 1-based source line of the event at `position`, if it came from a file.
    pub fn line(&self, position: usize) -> Option<u32> {
        self.lines.get(position).copied().filter(|&l| l > 0)
    }
}

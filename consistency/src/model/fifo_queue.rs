//! `fifo-queue`: a FIFO queue with `:enqueue` and `:dequeue` (Knossos' `fifo-queue`).

use super::{Model, ModelError};
use history::{Operation, Value};
use std::collections::VecDeque;

/// A first-in first-out queue, initially empty. An `ok` `:dequeue` returns
/// the head; one that returns `nil` says the queue was empty.
#[derive(Debug, Default, Clone, Copy)]
pub struct FifoQueue;

/// An operation on a [`FifoQueue`].
#[derive(Debug, Clone, PartialEq)]
pub enum QueueOp {
    /// Append to the tail.
    Enqueue(Value),
    /// Take the head, which was this value (`nil`: the queue was empty), or
    /// `None` when the result is unknown.
    Dequeue(Option<Value>),
}

impl Model for FifoQueue {
    type State = VecDeque<Value>;
    type Op = QueueOp;

    fn name(&self) -> &'static str {
        "fifo-queue"
    }

    fn about(&self) -> &'static str {
        "a FIFO queue: enqueue / dequeue (Knossos' fifo-queue)"
    }

    fn init(&self) -> VecDeque<Value> {
        VecDeque::new()
    }

    fn op(&self, op: &Operation<'_>) -> Result<QueueOp, ModelError> {
        match op.f() {
            "enqueue" => Ok(QueueOp::Enqueue(op.value().clone())),
            "dequeue" if op.outcome.is_indeterminate() => Ok(QueueOp::Dequeue(None)),
            "dequeue" => Ok(QueueOp::Dequeue(Some(op.value().clone()))),
            f => Err(ModelError::unknown_f(
                self.name(),
                f,
                &["enqueue", "dequeue"],
            )),
        }
    }

    fn step(&self, queue: &VecDeque<Value>, op: &QueueOp) -> Option<VecDeque<Value>> {
        let mut next = queue.clone();
        match op {
            QueueOp::Enqueue(x) => next.push_back(x.clone()),
            QueueOp::Dequeue(None) => {
                next.pop_front();
            }
            QueueOp::Dequeue(Some(Value::Nil)) => return queue.is_empty().then_some(next),
            QueueOp::Dequeue(Some(x)) => {
                if !next.pop_front()?.loosely_eq(x) {
                    return None;
                }
            }
        }
        Some(next)
    }

    fn describe_op(&self, op: &QueueOp) -> String {
        match op {
            QueueOp::Enqueue(x) => format!("enqueue {x}"),
            QueueOp::Dequeue(None) => "dequeue → ?".into(),
            QueueOp::Dequeue(Some(x)) => format!("dequeue → {x}"),
        }
    }

    fn describe_state(&self, queue: &VecDeque<Value>) -> String {
        let parts: Vec<String> = queue.iter().map(Value::to_string).collect();
        format!("[{}]", parts.join(" "))
    }
}

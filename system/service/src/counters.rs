//! Counters (Jepsen's `counter` workload): add an increment, read the sum, in a consistency as
//! key-value requests are ([`Consistency`]). Strong increments are transactions; eventual ones are
//! Cassandra `counter` updates and async ones are applied by a worker, neither idempotent: an
//! increment that timed out may have counted, and one a worker applies twice counts twice.

use crate::kv::{unexpected, Consistency, Outcome};
use crate::limits;
use crate::queue::{QueuedWrite, WriteKind};
use crate::strong::{Reply, Request};
use crate::{App, ServiceError};

impl App {
    /// Adds `delta` to the counter `name`.
    pub async fn counter_add(
        &self,
        name: &str,
        delta: i64,
        asked: Option<Consistency>,
    ) -> Result<Outcome, ServiceError> {
        let name = limits::key(name)?;
        let delta = limits::delta(delta)?;
        match self.consistency(asked) {
            Consistency::Strong => {
                self.strong
                    .call(Request::CounterAdd(name.into(), delta))
                    .await?;
                Ok(Outcome::Applied)
            }
            Consistency::Eventual => {
                self.eventual.counter_add(name, delta).await?;
                Ok(Outcome::Applied)
            }
            Consistency::Async => {
                self.queue
                    .publish(&QueuedWrite {
                        kind: WriteKind::CounterAdd,
                        key: name.into(),
                        value: delta,
                        stamp: self.eventual.stamp(self.live.policy()),
                        clock: None,
                    })
                    .await?;
                Ok(Outcome::Accepted)
            }
        }
    }

    /// The counter `name` (0 before any increment). Async reads are eventual reads.
    pub async fn counter_read(
        &self,
        name: &str,
        asked: Option<Consistency>,
    ) -> Result<i64, ServiceError> {
        let name = limits::key(name)?;
        match self.consistency(asked) {
            Consistency::Strong => {
                match self.strong.call(Request::CounterRead(name.into())).await? {
                    Reply::Value(value) => Ok(value.unwrap_or(0)),
                    other => Err(unexpected(other)),
                }
            }
            Consistency::Eventual | Consistency::Async => self.eventual.counter_read(name).await,
        }
    }
}

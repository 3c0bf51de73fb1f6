//! Grow-only sets (Jepsen's `set` workload): add an element, read every element, in a consistency
//! as key-value requests are ([`Consistency`]). Adding is idempotent in every store, so a set
//! converges once the stores hold the same adds; an async add is applied by a worker later.

use crate::kv::{unexpected, Consistency, Outcome};
use crate::limits;
use crate::queue::{QueuedWrite, WriteKind};
use crate::strong::{Reply, Request};
use crate::{App, ServiceError};

impl App {
    /// Adds `element` to the set `name`.
    pub async fn set_add(
        &self,
        name: &str,
        element: i64,
        asked: Option<Consistency>,
    ) -> Result<Outcome, ServiceError> {
        let name = limits::key(name)?;
        match self.consistency(asked) {
            Consistency::Strong => {
                self.strong
                    .call(Request::SetAdd(name.into(), element))
                    .await?;
                Ok(Outcome::Applied)
            }
            Consistency::Eventual => {
                self.eventual.set_add(name, element).await?;
                Ok(Outcome::Applied)
            }
            Consistency::Async => {
                self.queue
                    .publish(&QueuedWrite {
                        kind: WriteKind::SetAdd,
                        key: name.into(),
                        value: element,
                        stamp: self.eventual.stamp(self.live.policy()),
                        clock: None,
                    })
                    .await?;
                Ok(Outcome::Accepted)
            }
        }
    }

    /// The elements of the set `name`, in order. Async reads are eventual reads.
    pub async fn set_read(
        &self,
        name: &str,
        asked: Option<Consistency>,
    ) -> Result<Vec<i64>, ServiceError> {
        let name = limits::key(name)?;
        match self.consistency(asked) {
            Consistency::Strong => match self.strong.call(Request::SetRead(name.into())).await? {
                Reply::Elements(elements) => Ok(elements),
                other => Err(unexpected(other)),
            },
            Consistency::Eventual | Consistency::Async => self.eventual.set_read(name).await,
        }
    }
}

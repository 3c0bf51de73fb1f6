//! Key-value requests, each served by the store its consistency names.

use crate::app::App;
use crate::limits;
use crate::queue::{QueuedWrite, WriteKind};
use crate::settings::Policy;
use crate::strong::{Reply, Request};
use crate::versions::Read;
use crate::ServiceError;
use serde::{Deserialize, Serialize};
use system::proto;

/// Which store serves a key-value request (see the crate's table).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    /// PostgreSQL, SERIALIZABLE: linearizable.
    Strong,
    /// Cassandra at the configured level, last-write-wins.
    Eventual,
    /// Kafka now, Cassandra later (a worker applies it).
    Async,
}

impl Consistency {
    /// Every consistency, in the order help lists them.
    pub const ALL: [Consistency; 3] = [
        Consistency::Strong,
        Consistency::Eventual,
        Consistency::Async,
    ];

    /// Its name (`strong`).
    pub fn name(self) -> &'static str {
        match self {
            Consistency::Strong => "strong",
            Consistency::Eventual => "eventual",
            Consistency::Async => "async",
        }
    }

    /// The consistency named `name`; the error lists the names.
    pub fn parse(name: &str) -> Result<Consistency, ServiceError> {
        Consistency::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| {
                ServiceError::Invalid(format!(
                    "unknown consistency {name:?}; choose one of: strong, eventual, async"
                ))
            })
    }

    /// The gRPC enum's value (`None` for unspecified: the instance's default).
    pub fn from_proto(value: i32) -> Result<Option<Consistency>, ServiceError> {
        match proto::Consistency::try_from(value) {
            Ok(proto::Consistency::Unspecified) => Ok(None),
            Ok(proto::Consistency::Strong) => Ok(Some(Consistency::Strong)),
            Ok(proto::Consistency::Eventual) => Ok(Some(Consistency::Eventual)),
            Ok(proto::Consistency::Async) => Ok(Some(Consistency::Async)),
            Err(_) => Err(ServiceError::Invalid(format!(
                "unknown consistency value {value}"
            ))),
        }
    }
}

/// What a compare-and-set did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Swap {
    /// Whether the key held the expected value and now holds the new one.
    pub swapped: bool,
    /// The value found, when it did not swap.
    pub current: Option<i64>,
}

/// Whether a write is in the store, or only queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The store holds it.
    Applied,
    /// Kafka holds it; a worker applies it later.
    Accepted,
}

impl App {
    /// The consistency a request asked for, or the live default.
    pub(crate) fn consistency(&self, asked: Option<Consistency>) -> Consistency {
        asked.unwrap_or_else(|| self.live.default_consistency())
    }

    /// A key's value (and its siblings, under vector clocks). Async reads are eventual reads:
    /// they see what the workers applied.
    pub async fn get(&self, key: &str, asked: Option<Consistency>) -> Result<Read, ServiceError> {
        let key = limits::key(key)?;
        match self.consistency(asked) {
            Consistency::Strong => match self.strong.call(Request::Get(key.into())).await? {
                Reply::Value(v) => Ok(Read::single(v)),
                other => Err(unexpected(other)),
            },
            Consistency::Eventual | Consistency::Async => {
                self.eventual.get(key, self.live.policy()).await
            }
        }
    }

    /// Sets a key.
    pub async fn put(
        &self,
        key: &str,
        value: i64,
        asked: Option<Consistency>,
    ) -> Result<Outcome, ServiceError> {
        let key = limits::key(key)?;
        match self.consistency(asked) {
            Consistency::Strong => {
                self.strong.call(Request::Put(key.into(), value)).await?;
                Ok(Outcome::Applied)
            }
            Consistency::Eventual => {
                self.eventual.put(key, value, self.live.policy()).await?;
                Ok(Outcome::Applied)
            }
            Consistency::Async => {
                let policy = self.live.policy();
                // Under vector clocks the write supersedes what this instance reads now.
                let clock = match policy {
                    Policy::Vector => {
                        let current = self.eventual.versions(key).await?;
                        let clock = self.eventual.next_clock(&current);
                        Some(clock.entries().map(|(n, c)| (n.clone(), c)).collect())
                    }
                    Policy::Wall | Policy::Hlc => None,
                };
                let write = QueuedWrite {
                    kind: WriteKind::Put,
                    key: key.into(),
                    value,
                    stamp: self.eventual.stamp(policy),
                    clock,
                };
                self.queue.publish(&write).await?;
                Ok(Outcome::Accepted)
            }
        }
    }

    /// Sets a key to `new` if it holds `expected` (`None`: absent). Not offered for async
    /// writes, which are applied after the reply and so cannot compare.
    pub async fn cas(
        &self,
        key: &str,
        expected: Option<i64>,
        new: i64,
        asked: Option<Consistency>,
    ) -> Result<Swap, ServiceError> {
        let key = limits::key(key)?;
        match self.consistency(asked) {
            Consistency::Strong => match self
                .strong
                .call(Request::Cas(key.into(), expected, new))
                .await?
            {
                Reply::Swap(swap) => Ok(swap),
                other => Err(unexpected(other)),
            },
            Consistency::Eventual => {
                self.eventual
                    .cas(key, expected, new, self.live.policy())
                    .await
            }
            Consistency::Async => Err(ServiceError::Invalid(
                "compare-and-set is not offered with consistency async: a queued write is applied \
                 after the reply, so it cannot compare"
                    .into(),
            )),
        }
    }
}

/// A store answered with a reply of the wrong kind: a bug here, reported rather than hidden.
pub(crate) fn unexpected(reply: Reply) -> ServiceError {
    ServiceError::Indeterminate(format!("the strong store answered {reply:?}"))
}

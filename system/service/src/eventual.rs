//! The eventual store: Cassandra through the `scylla` driver, at the configured consistency
//! level, with last-write-wins on the timestamps [`crate::clock`] makes (`USING TIMESTAMP`).
//!
//! A compare-and-set here is a read followed by a write, not a lightweight transaction: this is
//! the store a service picks for availability, and the lab shows what that costs.
//!
//! Under [`Policy::Vector`] a key's values live in another table, one row per concurrent
//! version ([`crate::versions`]); switching the policy live between last-write-wins and vector
//! clocks therefore starts the keys afresh from the other table.
//!
//! Sets are one row per element (adding is idempotent and commutes, so replicas agree once they
//! have the same rows); counters are Cassandra's own `counter` columns, whose increments are not
//! idempotent: one that timed out may have been applied, and one applied twice counts twice.

use crate::clock::Stamper;
use crate::kv::Swap;
use crate::metrics::Metrics;
use crate::settings::{Level, Policy};
use crate::versions::{self, Clock, Read, Versions};
use crate::ServiceError;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
use scylla::statement::prepared::PreparedStatement;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// The keyspace of the service's tables (the `cassandra` targets use `lab`).
pub const KEYSPACE: &str = "service";

/// How the store's keyspace is replicated, when the service creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replication {
    /// Copies of each row.
    pub factor: u32,
    /// The datacenter whose racks the copies are spread over (`NetworkTopologyStrategy`);
    /// none: `SimpleStrategy`, copies on the next nodes of the ring, racks ignored.
    pub datacenter: Option<String>,
}

impl Replication {
    /// The keyspace's `replication` map in CQL.
    fn cql(&self) -> String {
        match &self.datacenter {
            // A CQL string literal doubles its quotes.
            Some(dc) => format!(
                "{{'class': 'NetworkTopologyStrategy', '{}': {}}}",
                dc.replace('\'', "''"),
                self.factor
            ),
            None => format!(
                "{{'class': 'SimpleStrategy', 'replication_factor': {}}}",
                self.factor
            ),
        }
    }
}

/// The Cassandra store, connected on first use.
pub struct Eventual {
    nodes: Vec<String>,
    level: Level,
    replication: Replication,
    deadline: Duration,
    metrics: Metrics,
    stamper: Stamper,
    writer: String,
    connected: OnceCell<Connected>,
}

/// A session with the statements prepared on it.
struct Connected {
    session: Arc<Session>,
    select: PreparedStatement,
    insert: PreparedStatement,
    timeline: PreparedStatement,
    set_add: PreparedStatement,
    set_read: PreparedStatement,
    counter_add: PreparedStatement,
    counter_read: PreparedStatement,
    versions: PreparedStatement,
    version_add: PreparedStatement,
    version_drop: PreparedStatement,
}

impl Eventual {
    /// The store on `nodes` (`host:port` each), at `level`, its keyspace replicated as
    /// `replication` says; `writer` names this instance in vector clocks.
    pub fn new(
        nodes: Vec<String>,
        level: Level,
        replication: Replication,
        deadline: Duration,
        metrics: Metrics,
        writer: &str,
    ) -> Eventual {
        Eventual {
            nodes,
            level,
            replication,
            deadline,
            metrics,
            stamper: Stamper::default(),
            writer: writer.to_string(),
            connected: OnceCell::new(),
        }
    }

    async fn connected(&self) -> Result<&Connected, ServiceError> {
        self.connected
            .get_or_try_init(|| async {
                tokio::time::timeout(self.deadline * 5, self.connect())
                    .await
                    .map_err(|_| {
                        ServiceError::Unavailable("Cassandra did not answer in time".into())
                    })?
            })
            .await
    }

    async fn connect(&self) -> Result<Connected, ServiceError> {
        let unavailable =
            |e: &dyn std::fmt::Display| ServiceError::Unavailable(format!("Cassandra: {e}"));
        let session = SessionBuilder::new()
            .known_nodes(&self.nodes)
            .connection_timeout(self.deadline)
            .fetch_schema_metadata(false)
            .build()
            .await
            .map_err(|e| unavailable(&e))?;
        let schema = [
            format!(
                "CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = {}",
                self.replication.cql()
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {KEYSPACE}.kv (key text PRIMARY KEY, value bigint)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {KEYSPACE}.timeline (account text, transfer bigint, \
                 amount bigint, PRIMARY KEY (account, transfer))"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {KEYSPACE}.sets (name text, element bigint, \
                 PRIMARY KEY (name, element))"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {KEYSPACE}.counters (name text PRIMARY KEY, value counter)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {KEYSPACE}.versions (key text, clock text, \
                 value bigint, PRIMARY KEY (key, clock))"
            ),
        ];
        for statement in schema {
            session
                .query_unpaged(statement, ())
                .await
                .map_err(|e| unavailable(&e))?;
        }
        let prepare = |text: String| {
            let session = &session;
            async move {
                let mut statement = session.prepare(text).await.map_err(|e| unavailable(&e))?;
                statement.set_consistency(self.level.cql());
                statement.set_request_timeout(Some(self.deadline));
                Ok::<_, ServiceError>(statement)
            }
        };
        let select = prepare(format!(
            "SELECT value, WRITETIME(value) FROM {KEYSPACE}.kv WHERE key = ?"
        ))
        .await?;
        let insert = prepare(format!(
            "INSERT INTO {KEYSPACE}.kv (key, value) VALUES (?, ?) USING TIMESTAMP ?"
        ))
        .await?;
        let timeline = prepare(format!(
            "INSERT INTO {KEYSPACE}.timeline (account, transfer, amount) VALUES (?, ?, ?)"
        ))
        .await?;
        let set_add = prepare(format!(
            "INSERT INTO {KEYSPACE}.sets (name, element) VALUES (?, ?)"
        ))
        .await?;
        let set_read = prepare(format!(
            "SELECT element FROM {KEYSPACE}.sets WHERE name = ?"
        ))
        .await?;
        let counter_add = prepare(format!(
            "UPDATE {KEYSPACE}.counters SET value = value + ? WHERE name = ?"
        ))
        .await?;
        let counter_read = prepare(format!(
            "SELECT value FROM {KEYSPACE}.counters WHERE name = ?"
        ))
        .await?;
        let versions = prepare(format!(
            "SELECT clock, value FROM {KEYSPACE}.versions WHERE key = ?"
        ))
        .await?;
        let version_add = prepare(format!(
            "INSERT INTO {KEYSPACE}.versions (key, clock, value) VALUES (?, ?, ?)"
        ))
        .await?;
        let version_drop = prepare(format!(
            "DELETE FROM {KEYSPACE}.versions WHERE key = ? AND clock = ?"
        ))
        .await?;
        Ok(Connected {
            session: Arc::new(session),
            select,
            insert,
            timeline,
            set_add,
            set_read,
            counter_add,
            counter_read,
            versions,
            version_add,
            version_drop,
        })
    }

    /// Whether Cassandra answers now.
    pub async fn ready(&self) -> bool {
        match self.connected().await {
            Ok(c) => c
                .session
                .query_unpaged("SELECT release_version FROM system.local", ())
                .await
                .is_ok(),
            Err(_) => false,
        }
    }

    /// A key's value and write timestamp.
    async fn read(&self, key: &str) -> Result<Option<(i64, i64)>, ServiceError> {
        let c = self.connected().await?;
        let started = Instant::now();
        let result = c.session.execute_unpaged(&c.select, (key,)).await;
        self.metrics.store("cassandra", "select", started);
        let row = rows(result)?
            .maybe_first_row::<(Option<i64>, Option<i64>)>()
            .map_err(|e| answer(&e))?;
        let found = row.and_then(|(value, at)| Some((value?, at.unwrap_or(0))));
        self.stamper.observe(found.map(|(_, at)| at));
        Ok(found)
    }

    /// A key's value under `policy`: the last write's, or under vector clocks the siblings'.
    pub async fn get(&self, key: &str, policy: Policy) -> Result<Read, ServiceError> {
        match policy {
            Policy::Vector => Ok(Read::of(&self.versions(key).await?)),
            Policy::Wall | Policy::Hlc => {
                Ok(Read::single(self.read(key).await?.map(|(value, _)| value)))
            }
        }
    }

    /// Sets a key under `policy`: stamped (HLC reads the key's timestamp first), or under vector
    /// clocks a version that supersedes the ones read first.
    pub async fn put(&self, key: &str, value: i64, policy: Policy) -> Result<(), ServiceError> {
        let seen = match policy {
            Policy::Hlc => self.read(key).await?.map(|(_, at)| at),
            Policy::Wall => None,
            Policy::Vector => {
                let current = self.versions(key).await?;
                let clock = self.next_clock(&current);
                return self.add_version(key, &clock, value, &current).await;
            }
        };
        self.write(key, value, self.stamper.stamp(policy, seen))
            .await
    }

    /// A key's current versions (superseded rows left out).
    pub async fn versions(&self, key: &str) -> Result<Versions, ServiceError> {
        let c = self.connected().await?;
        let started = Instant::now();
        let result = c.session.execute_unpaged(&c.versions, (key,)).await;
        self.metrics.store("cassandra", "versions", started);
        let rows = rows(result)?;
        let rows = rows.rows::<(String, i64)>().map_err(|e| answer(&e))?;
        let mut decoded = Vec::new();
        for row in rows {
            let (clock, value) = row.map_err(|e| answer(&e))?;
            decoded.push((versions::decode(&clock)?, value));
        }
        Ok(versions::resolve(decoded))
    }

    /// The clock a write by this instance gets when it has read `current`: what an async write
    /// carries to the worker.
    pub fn next_clock(&self, current: &Versions) -> Clock {
        // The hybrid logical clock only moves forward: this instance's count.
        let counter = u64::try_from(self.stamper.stamp(Policy::Hlc, None)).unwrap_or(0);
        versions::next(current, &self.writer, counter)
    }

    /// Writes the version `clock` of a key (a worker applying a queued write): nothing if a
    /// current version already saw it.
    pub async fn write_version(
        &self,
        key: &str,
        clock: &Clock,
        value: i64,
    ) -> Result<(), ServiceError> {
        let current = self.versions(key).await?;
        self.add_version(key, clock, value, &current).await
    }

    /// Writes a version over `current` (as read just before), then deletes the rows it
    /// supersedes; a failed delete leaves a row that every read skips.
    async fn add_version(
        &self,
        key: &str,
        clock: &Clock,
        value: i64,
        current: &Versions,
    ) -> Result<(), ServiceError> {
        let Some(superseded) = versions::superseded(current, clock) else {
            return Ok(());
        };
        let c = self.connected().await?;
        let started = Instant::now();
        let result = c
            .session
            .execute_unpaged(&c.version_add, (key, versions::encode(clock), value))
            .await;
        self.metrics.store("cassandra", "version-add", started);
        result.map_err(|e| classify(e, true))?;
        for old in superseded {
            let started = Instant::now();
            let dropped = c
                .session
                .execute_unpaged(&c.version_drop, (key, versions::encode(old)))
                .await;
            self.metrics.store("cassandra", "version-drop", started);
            if dropped.is_err() {
                break;
            }
        }
        Ok(())
    }

    /// Sets a key with an explicit timestamp (a worker applying a queued write).
    pub async fn write(&self, key: &str, value: i64, stamp: i64) -> Result<(), ServiceError> {
        let c = self.connected().await?;
        let started = Instant::now();
        let result = c
            .session
            .execute_unpaged(&c.insert, (key, value, stamp))
            .await;
        self.metrics.store("cassandra", "insert", started);
        result.map(|_| ()).map_err(|e| classify(e, true))
    }

    /// Records a transfer in an account's activity timeline; recording it again changes nothing
    /// (one row per account and transfer).
    pub async fn record(
        &self,
        account: &str,
        transfer: i64,
        amount: i64,
    ) -> Result<(), ServiceError> {
        let c = self.connected().await?;
        let started = Instant::now();
        let result = c
            .session
            .execute_unpaged(&c.timeline, (account, transfer, amount))
            .await;
        self.metrics.store("cassandra", "timeline", started);
        result.map(|_| ()).map_err(|e| classify(e, true))
    }

    /// An account's activity timeline: (transfer, amount) in transfer order.
    pub async fn timeline(&self, account: &str) -> Result<Vec<(i64, i64)>, ServiceError> {
        let c = self.connected().await?;
        let started = Instant::now();
        let mut statement = scylla::statement::unprepared::Statement::new(format!(
            "SELECT transfer, amount FROM {KEYSPACE}.timeline WHERE account = ?"
        ));
        statement.set_consistency(self.level.cql());
        statement.set_request_timeout(Some(self.deadline));
        let result = c.session.query_unpaged(statement, (account,)).await;
        self.metrics.store("cassandra", "timeline-read", started);
        let rows = rows(result)?;
        let entries = rows.rows::<(i64, i64)>().map_err(|e| answer(&e))?;
        entries.map(|r| r.map_err(|e| answer(&e))).collect()
    }

    /// Adds `element` to the set `name` (again: no change).
    pub async fn set_add(&self, name: &str, element: i64) -> Result<(), ServiceError> {
        let c = self.connected().await?;
        let started = Instant::now();
        let result = c.session.execute_unpaged(&c.set_add, (name, element)).await;
        self.metrics.store("cassandra", "set-add", started);
        result.map(|_| ()).map_err(|e| classify(e, true))
    }

    /// The elements of the set `name`, in order.
    pub async fn set_read(&self, name: &str) -> Result<Vec<i64>, ServiceError> {
        let c = self.connected().await?;
        let started = Instant::now();
        let result = c.session.execute_unpaged(&c.set_read, (name,)).await;
        self.metrics.store("cassandra", "set-read", started);
        let rows = rows(result)?;
        let elements = rows.rows::<(i64,)>().map_err(|e| answer(&e))?;
        elements
            .map(|r| r.map(|(e,)| e).map_err(|e| answer(&e)))
            .collect()
    }

    /// Adds `delta` to the counter `name`: not idempotent (see the module's doc).
    pub async fn counter_add(&self, name: &str, delta: i64) -> Result<(), ServiceError> {
        let c = self.connected().await?;
        let started = Instant::now();
        let counter = scylla::value::Counter(delta);
        let result = c
            .session
            .execute_unpaged(&c.counter_add, (counter, name))
            .await;
        self.metrics.store("cassandra", "counter-add", started);
        result.map(|_| ()).map_err(|e| classify(e, true))
    }

    /// The counter `name` (0 before its first increment).
    pub async fn counter_read(&self, name: &str) -> Result<i64, ServiceError> {
        let c = self.connected().await?;
        let started = Instant::now();
        let result = c.session.execute_unpaged(&c.counter_read, (name,)).await;
        self.metrics.store("cassandra", "counter-read", started);
        let row = rows(result)?
            .maybe_first_row::<(Option<scylla::value::Counter>,)>()
            .map_err(|e| answer(&e))?;
        Ok(row.and_then(|(c,)| c).map_or(0, |c| c.0))
    }

    /// Reads, compares, then writes: two requests, not atomic.
    pub async fn cas(
        &self,
        key: &str,
        expected: Option<i64>,
        new: i64,
        policy: Policy,
    ) -> Result<Swap, ServiceError> {
        if policy == Policy::Vector {
            let current = self.versions(key).await?;
            let value = Read::of(&current).value;
            if value != expected {
                return Ok(Swap {
                    swapped: false,
                    current: value,
                });
            }
            let clock = self.next_clock(&current);
            self.add_version(key, &clock, new, &current).await?;
            return Ok(Swap {
                swapped: true,
                current: None,
            });
        }
        let found = self.read(key).await?;
        let current = found.map(|(value, _)| value);
        if current != expected {
            return Ok(Swap {
                swapped: false,
                current,
            });
        }
        let stamp = self.stamper.stamp(policy, found.map(|(_, at)| at));
        self.write(key, new, stamp).await?;
        Ok(Swap {
            swapped: true,
            current: None,
        })
    }

    /// The stamp for a write accepted now (an async write, applied later by a worker).
    pub fn stamp(&self, policy: Policy) -> i64 {
        self.stamper.stamp(policy, None)
    }
}

/// A read's rows, or why there are none (a read changed nothing, so every failure is definite).
fn rows(
    result: Result<scylla::response::query_result::QueryResult, ExecutionError>,
) -> Result<scylla::response::query_result::QueryRowsResult, ServiceError> {
    result
        .map_err(|e| classify(e, false))?
        .into_rows_result()
        .map_err(|e| answer(&e))
}

/// Cassandra answered something this store cannot read.
fn answer(e: &dyn std::fmt::Display) -> ServiceError {
    ServiceError::Unavailable(format!("Cassandra's answer: {e}"))
}

/// Whether a failed request may have taken effect: a request never sent, or refused by the
/// coordinator before it reached a replica, did not; a timeout may have.
fn classify(e: ExecutionError, write: bool) -> ServiceError {
    let text = format!("Cassandra: {e}");
    let definite = match &e {
        ExecutionError::ConnectionPoolError(_)
        | ExecutionError::EmptyPlan
        | ExecutionError::BadQuery(_)
        | ExecutionError::PrepareError(_) => true,
        ExecutionError::LastAttemptError(RequestAttemptError::DbError(db, _)) => matches!(
            db,
            DbError::Unavailable { .. } | DbError::Overloaded | DbError::IsBootstrapping
        ),
        _ => false,
    };
    if definite || !write {
        ServiceError::Unavailable(text)
    } else {
        ServiceError::Indeterminate(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datacenter_spreads_replicas_over_its_racks_and_none_uses_the_ring() {
        let racks = Replication {
            factor: 3,
            datacenter: Some("dc'1".into()),
        };
        assert_eq!(
            racks.cql(),
            "{'class': 'NetworkTopologyStrategy', 'dc''1': 3}"
        );
        let ring = Replication {
            factor: 2,
            datacenter: None,
        };
        assert_eq!(
            ring.cql(),
            "{'class': 'SimpleStrategy', 'replication_factor': 2}"
        );
    }
}

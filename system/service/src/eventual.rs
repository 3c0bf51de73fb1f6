//! The eventual store: Cassandra through the `scylla` driver, at the configured consistency
//! level, with last-write-wins on the timestamps [`crate::clock`] makes (`USING TIMESTAMP`).
//!
//! A compare-and-set here is a read followed by a write, not a lightweight transaction: this is
//! the store a service picks for availability, and the lab shows what that costs.
//!
//! Sets are one row per element (adding is idempotent and commutes, so replicas agree once they
//! have the same rows); counters are Cassandra's own `counter` columns, whose increments are not
//! idempotent: one that timed out may have been applied, and one applied twice counts twice.

use crate::clock::Stamper;
use crate::kv::Swap;
use crate::metrics::Metrics;
use crate::settings::{Level, Policy};
use crate::ServiceError;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
use scylla::statement::prepared::PreparedStatement;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// The keyspace of the service's tables (the `cassandra` targets use `lab`).
pub const KEYSPACE: &str = "service";

/// The Cassandra store, connected on first use.
pub struct Eventual {
    nodes: Vec<SocketAddr>,
    level: Level,
    replication: u32,
    deadline: Duration,
    metrics: Metrics,
    stamper: Stamper,
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
}

impl Eventual {
    /// The store on `nodes`, at `level`, its keyspace replicated `replication` times.
    pub fn new(
        nodes: Vec<SocketAddr>,
        level: Level,
        replication: u32,
        deadline: Duration,
        metrics: Metrics,
    ) -> Eventual {
        Eventual {
            nodes,
            level,
            replication,
            deadline,
            metrics,
            stamper: Stamper::default(),
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
            .known_nodes_addr(self.nodes.iter().copied())
            .connection_timeout(self.deadline)
            .fetch_schema_metadata(false)
            .build()
            .await
            .map_err(|e| unavailable(&e))?;
        let schema = [
            format!(
                "CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = \
                 {{'class': 'SimpleStrategy', 'replication_factor': {}}}",
                self.replication
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
        Ok(Connected {
            session: Arc::new(session),
            select,
            insert,
            timeline,
            set_add,
            set_read,
            counter_add,
            counter_read,
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

    /// A key's value.
    pub async fn get(&self, key: &str) -> Result<Option<i64>, ServiceError> {
        Ok(self.read(key).await?.map(|(value, _)| value))
    }

    /// Sets a key, stamped under `policy` (which reads the key's timestamp first).
    pub async fn put(&self, key: &str, value: i64, policy: Policy) -> Result<(), ServiceError> {
        let seen = match policy {
            Policy::Hlc => self.read(key).await?.map(|(_, at)| at),
            Policy::Wall => None,
        };
        self.write(key, value, self.stamper.stamp(policy, seen))
            .await
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

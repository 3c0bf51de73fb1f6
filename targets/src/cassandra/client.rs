//! Apache Cassandra as a [`Target`] for the `register` workload, over CQL
//! with the pure-Rust `scylla` driver: one row per register in a table of
//! a keyspace replicated to all three nodes. `cassandra-one` and
//! `cassandra-quorum` also run the `counter` workload on a Cassandra
//! counter column (increments at ONE or QUORUM).
//!
//! Three ways to use it, as applications do ([`Mode`]):
//! - `cassandra-one`: reads and writes at consistency ONE. A coordinator
//!   answers as soon as one replica (usually itself) has; under a
//!   partition each side keeps its own values: stale reads, lost updates.
//! - `cassandra-quorum`: QUORUM reads and writes. Overlapping quorums,
//!   but last-write-wins by timestamp and no isolation between a read and
//!   a write, so a compare-and-set cannot be built from them; `cas` is a
//!   lightweight transaction as in `cassandra-lwt`.
//! - `cassandra-lwt`: writes and compare-and-sets are lightweight
//!   transactions (Paxos, `IF …`), reads are SERIAL (they complete any
//!   Paxos round in flight first): meant to be linearizable.
//!
//! Process `p` talks to node `p % 3` only: its session connects to that
//! node alone, which coordinates every request, so a partition really
//! separates the clients' views. The driver never retries: one request,
//! one outcome. A request the coordinator refused before contacting any
//! replica (`Unavailable`, `Overloaded`, no connection) definitely did not
//! happen: `fail`; a timeout, a broken connection or a server error may
//! have happened: `info`. A lightweight transaction's `Unavailable` is
//! `info` too: an earlier Paxos round of the same request (after a
//! contended proposal) may have been accepted by a replica, and a later
//! round of anyone may complete it.

use async_trait::async_trait;
use history::Value;
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
use scylla::policies::host_filter::AllowListHostFilter;
use scylla::policies::retry::FallthroughRetryPolicy;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::{Consistency, SerialConsistency};
use scylla::value::{Counter, CqlValue, Row};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use workloads::Invocation;
use workloads::{Client, Completion, Target, TargetError};

/// The keyspace the lab's tables live in.
pub const KEYSPACE: &str = "lab";
/// The register table: `id bigint PRIMARY KEY, value bigint`.
pub const TABLE: &str = "lab.registers";
/// The counter table: one row (`id` 0) with a Cassandra counter `n`.
pub const COUNTERS: &str = "lab.counters";

/// How the target reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Reads and writes at ONE; `cas` as a lightweight transaction.
    One,
    /// Reads and writes at QUORUM; `cas` as a lightweight transaction.
    Quorum,
    /// Writes and `cas` as lightweight transactions, reads at SERIAL.
    Lwt,
}

impl Mode {
    /// The target's name (`cassandra-one`, …).
    pub fn name(self) -> &'static str {
        match self {
            Mode::One => "cassandra-one",
            Mode::Quorum => "cassandra-quorum",
            Mode::Lwt => "cassandra-lwt",
        }
    }

    /// The consistency of plain reads and writes, and of a lightweight
    /// transaction's commit.
    fn consistency(self) -> Consistency {
        match self {
            Mode::One => Consistency::One,
            Mode::Quorum | Mode::Lwt => Consistency::Quorum,
        }
    }
}

/// A Cassandra cluster reached at its nodes' CQL addresses.
pub struct CassandraTarget {
    nodes: Vec<SocketAddr>,
    mode: Mode,
    timeout: Duration,
    /// One connection per node, shared by the processes on it: CQL
    /// multiplexes requests and keeps no transaction state, so a request
    /// that timed out cannot leak into the next one, and a retired
    /// process's fresh client costs nothing.
    connections: Mutex<Vec<Option<Arc<Connection>>>>,
}

impl CassandraTarget {
    /// A target over the nodes at `nodes` (`10.47.0.31:9042`, …) in
    /// `mode`; requests give up after `timeout`.
    pub fn new(nodes: Vec<SocketAddr>, mode: Mode, timeout: Duration) -> CassandraTarget {
        let connections = Mutex::new(vec![None; nodes.len()]);
        CassandraTarget {
            nodes,
            mode,
            timeout,
            connections,
        }
    }

    /// The connection to `node`, made on first use.
    async fn connection(&self, node: usize) -> Result<Arc<Connection>, TargetError> {
        let mut connections = self.connections.lock().await;
        let slot = connections
            .get_mut(node)
            .ok_or_else(|| TargetError::Setup(format!("cassandra has no node {node}")))?;
        if let Some(connection) = slot {
            return Ok(Arc::clone(connection));
        }
        let connection =
            Arc::new(Connection::open(self.nodes[node], self.mode, self.timeout).await?);
        *slot = Some(Arc::clone(&connection));
        Ok(connection)
    }
}

impl CassandraTarget {
    /// Waits until every node, asked itself, has the same schema version.
    /// The driver's own check asks one node about its peers, and passed
    /// while a peer that had missed the schema push still rejected the
    /// new table (`INCOMPATIBLE_SCHEMA`) until it pulled the schema.
    async fn await_schema(&self, limit: Duration) -> Result<(), TargetError> {
        let started = tokio::time::Instant::now();
        let mut sessions = Vec::with_capacity(self.nodes.len());
        for &node in &self.nodes {
            sessions
                .push(session_on(node, profile(Consistency::One, Duration::from_secs(5))).await?);
        }
        loop {
            let mut versions = Vec::with_capacity(sessions.len());
            for session in &sessions {
                let version = match session
                    .query_unpaged("SELECT schema_version FROM system.local", &[])
                    .await
                {
                    Ok(result) => result
                        .into_rows_result()
                        .ok()
                        .and_then(|rows| rows.maybe_first_row::<Row>().ok().flatten())
                        .and_then(|row| row.columns.into_iter().next().flatten()),
                    Err(_) => None,
                };
                versions.push(version);
            }
            if versions.iter().all(|v| v.is_some() && *v == versions[0]) {
                return Ok(());
            }
            if started.elapsed() > limit {
                return Err(TargetError::Setup(format!(
                    "the cassandra nodes did not agree on the schema within {} s (schema versions {versions:?})",
                    limit.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A session that sends every request to `node` and nowhere else.
pub async fn session_on(
    node: SocketAddr,
    profile: ExecutionProfile,
) -> Result<Session, TargetError> {
    let only = AllowListHostFilter::new([node])
        .map_err(|e| TargetError::Setup(format!("cassandra node {node}: {e}")))?;
    SessionBuilder::new()
        .known_node_addr(node)
        .host_filter(Arc::new(only))
        .default_execution_profile_handle(profile.into_handle())
        .connection_timeout(Duration::from_secs(5))
        // The lab's statements name their keyspace; fetching every
        // keyspace's schema on each connect only slows it down.
        .fetch_schema_metadata(false)
        .build()
        .await
        .map_err(|e| TargetError::Setup(format!("cannot connect to cassandra at {node}: {e}")))
}

/// A profile that never retries (one request, one outcome) at
/// `consistency`, giving up after `timeout`.
pub fn profile(consistency: Consistency, timeout: Duration) -> ExecutionProfile {
    ExecutionProfile::builder()
        .consistency(consistency)
        .serial_consistency(Some(SerialConsistency::Serial))
        .retry_policy(Arc::new(FallthroughRetryPolicy::new()))
        .request_timeout(Some(timeout))
        .build()
}

#[async_trait]
impl Target for CassandraTarget {
    fn name(&self) -> String {
        self.mode.name().into()
    }

    fn nodes(&self) -> usize {
        self.nodes.len()
    }

    async fn open(&self, node: usize) -> Result<Box<dyn Client>, TargetError> {
        Ok(Box::new(CassandraClient {
            connection: self.connection(node).await?,
            mode: self.mode,
        }))
    }

    /// Creates the keyspace (replication factor 3) and a fresh table
    /// (registers start as `nil`: an earlier run's table is dropped),
    /// through the first node that answers.
    async fn setup(&self, initial: &[(Value, Value)]) -> Result<(), TargetError> {
        if !initial.is_empty() {
            return Err(TargetError::Setup(
                "the cassandra targets take no initial data".into(),
            ));
        }
        let mut errors = Vec::new();
        for &node in &self.nodes {
            // Schema changes wait for every node: more time.
            let session =
                match session_on(node, profile(Consistency::All, Duration::from_secs(60))).await {
                    Ok(s) => s,
                    Err(e) => {
                        errors.push(e.to_string());
                        continue;
                    }
                };
            let statements = [
                format!(
                    "CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = \
                     {{'class': 'SimpleStrategy', 'replication_factor': 3}}"
                ),
                // Not TRUNCATE: it failed on a replica of a table created
                // moments before ("Truncate failed on replica … UNKNOWN").
                format!("DROP TABLE IF EXISTS {TABLE}"),
                format!("CREATE TABLE {TABLE} (id bigint PRIMARY KEY, value bigint)"),
                format!("DROP TABLE IF EXISTS {COUNTERS}"),
                format!("CREATE TABLE {COUNTERS} (id int PRIMARY KEY, n counter)"),
            ];
            for statement in statements {
                session
                    .query_unpaged(statement.as_str(), &[])
                    .await
                    .map_err(|e| {
                        TargetError::Setup(format!(
                            "cassandra at {node}: `{statement}` failed: {e}"
                        ))
                    })?;
            }
            return self.await_schema(Duration::from_secs(120)).await;
        }
        Err(TargetError::Setup(format!(
            "cannot set up the register table: {}",
            errors.join("; ")
        )))
    }
}

/// One node's session and the statements prepared on it.
struct Connection {
    session: Session,
    read: PreparedStatement,
    write: PreparedStatement,
    cas: PreparedStatement,
    /// Increments the counter.
    add: PreparedStatement,
    /// Reads the counter.
    count: PreparedStatement,
}

impl Connection {
    async fn open(
        node: SocketAddr,
        mode: Mode,
        timeout: Duration,
    ) -> Result<Connection, TargetError> {
        let session = session_on(node, profile(mode.consistency(), timeout)).await?;
        let prepare = |cql: String| {
            let session = &session;
            async move {
                session.prepare(cql.as_str()).await.map_err(|e| {
                    TargetError::Setup(format!("cassandra at {node}: cannot prepare `{cql}`: {e}"))
                })
            }
        };
        let mut read = prepare(format!("SELECT value FROM {TABLE} WHERE id = ?")).await?;
        let write = prepare(match mode {
            // A write as a lightweight transaction whose condition always
            // holds (registers never hold -1; a missing row's value is
            // null, and null != -1).
            Mode::Lwt => format!("UPDATE {TABLE} SET value = ? WHERE id = ? IF value != -1"),
            Mode::One | Mode::Quorum => format!("UPDATE {TABLE} SET value = ? WHERE id = ?"),
        })
        .await?;
        // `IF value = null` holds for a missing row: a cas from nil.
        let cas = prepare(format!(
            "UPDATE {TABLE} SET value = ? WHERE id = ? IF value = ?"
        ))
        .await?;
        let add = prepare(format!("UPDATE {COUNTERS} SET n = n + ? WHERE id = 0")).await?;
        let count = prepare(format!("SELECT n FROM {COUNTERS} WHERE id = 0")).await?;
        if mode == Mode::Lwt {
            read.set_consistency(Consistency::Serial);
        }
        Ok(Connection {
            session,
            read,
            write,
            cas,
            add,
            count,
        })
    }
}

struct CassandraClient {
    connection: Arc<Connection>,
    mode: Mode,
}

/// How a request ended without a result.
enum Failure {
    /// It definitely did not take effect.
    Definitely(String),
    /// It may have.
    Maybe(String),
}

/// What an error says about whether the request took effect. `lwt`: the
/// request was a lightweight transaction (several Paxos rounds).
fn failure(e: ExecutionError, lwt: bool) -> Failure {
    use Failure::{Definitely, Maybe};
    let text = e.to_string();
    match &e {
        // Never sent: no connection to the node, nothing to send to, or a
        // request the driver could not build.
        ExecutionError::ConnectionPoolError(_)
        | ExecutionError::EmptyPlan
        | ExecutionError::BadQuery(_)
        | ExecutionError::PrepareError(_) => Definitely(text),
        ExecutionError::LastAttemptError(attempt) => match attempt {
            RequestAttemptError::SerializationError(_)
            | RequestAttemptError::CqlRequestSerialization(_)
            | RequestAttemptError::UnableToAllocStreamId => Definitely(text),
            RequestAttemptError::DbError(db, _) => match db {
                // The coordinator checks the live replicas before it sends
                // a plain read or write to any of them.
                DbError::Unavailable { .. } if !lwt => Definitely(text),
                DbError::SyntaxError
                | DbError::Invalid
                | DbError::AlreadyExists { .. }
                | DbError::Unauthorized
                | DbError::AuthenticationError
                | DbError::ConfigError
                | DbError::Overloaded
                | DbError::IsBootstrapping
                | DbError::Unprepared { .. }
                | DbError::ProtocolError
                | DbError::RateLimitReached { .. } => Definitely(text),
                _ => Maybe(text),
            },
            _ => Maybe(text),
        },
        // A client-side timeout, and anything else: unknown.
        _ => Maybe(text),
    }
}

/// The `[applied]` column of a lightweight transaction's answer (followed
/// by the current values when it did not apply).
fn applied(result: scylla::response::query_result::QueryResult) -> Result<bool, Failure> {
    let rows = result
        .into_rows_result()
        .map_err(|e| Failure::Maybe(format!("a conditional update gave no rows: {e}")))?;
    let row: Row = rows
        .first_row()
        .map_err(|e| Failure::Maybe(format!("a conditional update gave no [applied]: {e}")))?;
    match row.columns.first() {
        Some(Some(CqlValue::Boolean(applied))) => Ok(*applied),
        other => Err(Failure::Maybe(format!(
            "a conditional update gave {other:?} as [applied]"
        ))),
    }
}

impl CassandraClient {
    /// A counter operation: `add` increments (not idempotent: a timeout
    /// is `info`), a read without a key reads the sum (0 before any add).
    async fn counter(&self, op: &Invocation) -> Result<Completion, Failure> {
        let session = &self.connection.session;
        if op.f == "add" {
            let delta = op.value.as_int().ok_or_else(|| {
                Failure::Definitely(format!("counters add integers, got {}", op.value))
            })?;
            session
                .execute_unpaged(&self.connection.add, (Counter(delta),))
                .await
                .map_err(|e| failure(e, false))?;
            return Ok(Completion::ok(op.value.clone()));
        }
        let rows = session
            .execute_unpaged(&self.connection.count, ())
            .await
            .map_err(|e| failure(e, false))?
            .into_rows_result()
            .map_err(|e| Failure::Maybe(format!("a counter read gave no rows: {e}")))?;
        let sum = rows
            .maybe_first_row::<(Option<Counter>,)>()
            .map_err(|e| Failure::Maybe(format!("a counter read gave a bad row: {e}")))?
            .and_then(|(n,)| n)
            .map_or(0, |n| n.0);
        Ok(Completion::ok(Value::Int(sum)))
    }

    async fn register(&self, op: &Invocation) -> Result<Completion, Failure> {
        let int = |v: Option<&Value>, what: &str| {
            v.and_then(Value::as_int).ok_or_else(|| {
                Failure::Definitely(format!("registers hold integers; bad {what} in {op:?}"))
            })
        };
        let id = int(op.key.as_ref(), "key")?;
        let session = &self.connection.session;
        match op.f.as_str() {
            "write" => {
                let value = int(Some(&op.value), "value")?;
                let lwt = self.mode == Mode::Lwt;
                let result = session
                    .execute_unpaged(&self.connection.write, (value, id))
                    .await
                    .map_err(|e| failure(e, lwt))?;
                if lwt && !applied(result)? {
                    // Its condition always holds; it did not apply only if
                    // the server says it found -1.
                    return Ok(Completion::fail(op.value.clone(), "write-not-applied"));
                }
                Ok(Completion::ok(op.value.clone()))
            }
            "cas" => {
                let Some([old, new]) = op.value.as_seq() else {
                    return Err(Failure::Definitely(format!(
                        "expected [old new] for :cas, got {}",
                        op.value
                    )));
                };
                let new = int(Some(new), "new value")?;
                let old = if old.is_nil() {
                    None
                } else {
                    Some(int(Some(old), "old value")?)
                };
                let result = session
                    .execute_unpaged(&self.connection.cas, (new, id, old))
                    .await
                    .map_err(|e| failure(e, true))?;
                Ok(if applied(result)? {
                    Completion::ok(op.value.clone())
                } else {
                    Completion::fail(op.value.clone(), "cas-mismatch")
                })
            }
            _ => {
                let result = session
                    .execute_unpaged(&self.connection.read, (id,))
                    .await
                    .map_err(|e| failure(e, false))?;
                let rows = result
                    .into_rows_result()
                    .map_err(|e| Failure::Maybe(format!("a read gave no rows: {e}")))?;
                let value = rows
                    .maybe_first_row::<(Option<i64>,)>()
                    .map_err(|e| Failure::Maybe(format!("a read gave a bad row: {e}")))?
                    .and_then(|(v,)| v);
                Ok(Completion::ok(value.map_or(Value::Nil, Value::Int)))
            }
        }
    }
}

#[async_trait]
impl Client for CassandraClient {
    async fn invoke(&self, op: &Invocation) -> Completion {
        let result = match op.f.as_str() {
            "read" | "final-read" if op.key.is_none() => self.counter(op).await,
            "add" => self.counter(op).await,
            "read" | "final-read" | "write" | "cas" => self.register(op).await,
            f => Err(Failure::Definitely(format!(
                "the cassandra targets have no :{f}"
            ))),
        };
        match result {
            Ok(c) => c,
            Err(Failure::Definitely(e)) => Completion::fail(op.value.clone(), &e),
            Err(Failure::Maybe(e)) => Completion::info(op.value.clone(), &e),
        }
    }
}

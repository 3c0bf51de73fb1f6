//! The strong store: PostgreSQL, every request one SERIALIZABLE transaction from a connection
//! pool, retried when PostgreSQL aborts it to keep the order serializable (SQLSTATE 40001, and
//! deadlocks, 40P01). A request of one statement is sent alone, a transaction by the session's
//! default isolation, and every statement is prepared once per connection: a get is one round
//! trip (it was four, `BEGIN`, parse, execute, `COMMIT`; see `docs/profiling.md`).
//!
//! PostgreSQL stands in for CockroachDB here (the same wire protocol and
//! isolation level; CockroachDB cannot be installed on these machines).
//!
//! Tables live in the `service` schema: `kv`, `accounts`, `transfers` and the bank's `outbox`.

use crate::kv::Swap;
use crate::metrics::Metrics;
use crate::ServiceError;
use deadpool_postgres::{
    GenericClient as _, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime,
};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::{Duration, Instant};
use tokio_postgres::error::SqlState;
use tokio_postgres::{IsolationLevel, NoTls};

/// How many times a transaction PostgreSQL aborted for serializability is tried.
const ATTEMPTS: u32 = 10;

// The schema, created once under an advisory lock so replicas starting together do not race on
// PostgreSQL's catalog.
const SCHEMA: &str = "
CREATE SCHEMA IF NOT EXISTS service;
CREATE TABLE IF NOT EXISTS service.kv (key text PRIMARY KEY, value bigint NOT NULL);
CREATE TABLE IF NOT EXISTS service.accounts (
    id text PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
CREATE TABLE IF NOT EXISTS service.transfers (
    id bigserial PRIMARY KEY, source text NOT NULL, target text NOT NULL,
    amount bigint NOT NULL, at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS service.outbox (
    id bigserial PRIMARY KEY, transfer bigint NOT NULL UNIQUE, event jsonb NOT NULL,
    published_epoch bigint);
CREATE TABLE IF NOT EXISTS service.set_elements (
    name text NOT NULL, element bigint NOT NULL, PRIMARY KEY (name, element));
CREATE TABLE IF NOT EXISTS service.counters (name text PRIMARY KEY, value bigint NOT NULL);
CREATE TABLE IF NOT EXISTS service.relay_fence (id int PRIMARY KEY, epoch bigint NOT NULL);
INSERT INTO service.relay_fence VALUES (1, 0) ON CONFLICT DO NOTHING;
";

/// One request to the strong store.
#[derive(Debug, Clone)]
pub enum Request {
    /// A key's value.
    Get(String),
    /// Sets a key.
    Put(String, i64),
    /// Sets a key to `new` if it holds `expected`.
    Cas(String, Option<i64>, i64),
    /// Opens an account.
    Open(String, i64),
    /// Moves `amount` from one account to another, with its outbox event.
    Transfer {
        /// Source account.
        from: String,
        /// Target account.
        to: String,
        /// How much.
        amount: i64,
    },
    /// Every balance.
    Balances,
    /// Every committed transfer.
    Transfers,
    /// Adds an element to a set.
    SetAdd(String, i64),
    /// A set's elements.
    SetRead(String),
    /// Adds to a counter.
    CounterAdd(String, i64),
    /// A counter's value.
    CounterRead(String),
}

impl Request {
    /// Its name, for metrics.
    pub fn statement(&self) -> &'static str {
        match self {
            Request::Get(_) => "get",
            Request::Put(..) => "put",
            Request::Cas(..) => "cas",
            Request::Open(..) => "open",
            Request::Transfer { .. } => "transfer",
            Request::Balances => "balances",
            Request::Transfers => "transfers",
            Request::SetAdd(..) => "set-add",
            Request::SetRead(_) => "set-read",
            Request::CounterAdd(..) => "counter-add",
            Request::CounterRead(_) => "counter-read",
        }
    }

    fn writes(&self) -> bool {
        !matches!(
            self,
            Request::Get(_)
                | Request::Balances
                | Request::Transfers
                | Request::SetRead(_)
                | Request::CounterRead(_)
        )
    }
}

/// What the strong store answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A key's value.
    Value(Option<i64>),
    /// A write took effect.
    Done,
    /// A compare-and-set's result.
    Swap(Swap),
    /// A transfer: its id, and whether the source could pay.
    Transfer {
        /// The transfer's id (0 when nothing moved).
        id: i64,
        /// Whether money moved.
        done: bool,
    },
    /// Every account's balance.
    Balances(BTreeMap<String, i64>),
    /// A set's elements, in order.
    Elements(Vec<i64>),
    /// Every committed transfer.
    Transfers(Vec<Transfer>),
}

/// A committed transfer, as the strong store holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Transfer {
    /// Its id.
    pub id: i64,
    /// The account that paid.
    pub from: String,
    /// The account paid.
    pub to: String,
    /// How much.
    pub amount: i64,
}

/// The PostgreSQL store.
#[derive(Clone)]
pub struct Strong {
    pool: Pool,
    deadline: Duration,
    metrics: Metrics,
}

/// Where in a transaction an error came.
enum Failure {
    /// Before COMMIT was sent: PostgreSQL rolls the transaction back.
    Before(tokio_postgres::Error),
    /// While committing: it may have committed.
    AtCommit(tokio_postgres::Error),
    /// The request itself is refused (an unknown account).
    Refused(ServiceError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Failure {
        Failure::Before(e)
    }
}

fn retryable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(&SqlState::T_R_SERIALIZATION_FAILURE) | Some(&SqlState::T_R_DEADLOCK_DETECTED)
    )
}

impl Strong {
    /// A pool of `size` connections to `url` (connections open when first used).
    pub fn new(
        url: &str,
        size: usize,
        deadline: Duration,
        metrics: Metrics,
    ) -> Result<Strong, ServiceError> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| ServiceError::Invalid(format!("the PostgreSQL URL {url:?}: {e}")))?;
        config.connect_timeout(deadline);
        config.options(SESSION_OPTIONS);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(deadline))
            .create_timeout(Some(deadline))
            .recycle_timeout(Some(deadline))
            .build()
            .map_err(|e| ServiceError::Invalid(format!("the PostgreSQL pool: {e}")))?;
        Ok(Strong {
            pool,
            deadline,
            metrics,
        })
    }

    /// Creates the tables if they are missing. Replicas starting together take turns (an
    /// advisory lock); at READ COMMITTED, so that each statement sees what the one before it
    /// made (a SERIALIZABLE snapshot, taken before the lock was granted, would fail the turn
    /// after the first). A failed attempt is rolled back, or the pooled connection would stay
    /// in the aborted transaction and fail every attempt after it.
    pub async fn create_schema(&self) -> Result<(), ServiceError> {
        let conn = self.connection().await?;
        let script = format!(
            "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(7701); {SCHEMA} COMMIT;"
        );
        if let Err(e) = conn.batch_execute(&script).await {
            let _ = conn.batch_execute("ROLLBACK").await;
            return Err(ServiceError::Unavailable(format!(
                "creating the PostgreSQL schema: {e}"
            )));
        }
        Ok(())
    }

    /// Whether PostgreSQL answers now.
    pub async fn ready(&self) -> bool {
        match tokio::time::timeout(self.deadline, self.connection()).await {
            Ok(Ok(conn)) => conn.simple_query("SELECT 1").await.is_ok(),
            _ => false,
        }
    }

    /// A pooled connection (the outbox relay runs its own transactions).
    pub async fn connection(&self) -> Result<Object, ServiceError> {
        self.pool
            .get()
            .await
            .map_err(|e| ServiceError::Unavailable(format!("no PostgreSQL connection: {e}")))
    }

    /// Runs `request` in a SERIALIZABLE transaction, retried on serialization failures, within
    /// the deadline.
    pub async fn call(&self, request: Request) -> Result<Reply, ServiceError> {
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.deadline, self.with_retries(&request)).await;
        self.metrics.store("postgres", request.statement(), started);
        match outcome {
            Ok(reply) => reply,
            Err(_) if request.writes() => Err(ServiceError::Indeterminate(format!(
                "PostgreSQL did not answer within {:?}: the {} may have committed",
                self.deadline,
                request.statement()
            ))),
            Err(_) => Err(ServiceError::Unavailable(format!(
                "PostgreSQL did not answer within {:?}",
                self.deadline
            ))),
        }
    }

    async fn with_retries(&self, request: &Request) -> Result<Reply, ServiceError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut conn = self.connection().await?;
            match attempt_once(&mut conn, request).await {
                Ok(reply) => return Ok(reply),
                Err(Failure::Refused(e)) => return Err(e),
                Err(Failure::Before(e)) if retryable(&e) && attempt < ATTEMPTS => {
                    // Back off a little, more each time, so contenders spread out.
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 2)).await;
                }
                Err(Failure::AtCommit(e)) if retryable(&e) && attempt < ATTEMPTS => {
                    // A serialization failure at COMMIT is a definite abort.
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 2)).await;
                }
                Err(Failure::Before(e)) => return Err(definite(e)),
                Err(Failure::AtCommit(e)) if e.code().is_some() => return Err(definite(e)),
                Err(Failure::AtCommit(e)) => {
                    return Err(ServiceError::Indeterminate(format!(
                        "PostgreSQL's answer to COMMIT was lost: {e}"
                    )))
                }
            }
        }
    }
}

/// An error before COMMIT, or one PostgreSQL answered at COMMIT: the transaction did not commit.
fn definite(e: tokio_postgres::Error) -> ServiceError {
    match e.as_db_error() {
        Some(db) => ServiceError::Unavailable(format!(
            "PostgreSQL refused ({}): {}",
            db.code().code(),
            db.message()
        )),
        None => ServiceError::Unavailable(format!("PostgreSQL: {e}")),
    }
}

async fn attempt_once(conn: &mut Object, request: &Request) -> Result<Reply, Failure> {
    match request {
        // Statements that must see one snapshot: a transaction of their own.
        Request::Cas(key, expected, new) => {
            let tx = serializable(conn).await?;
            let reply = cas(&tx, key, *expected, *new).await?;
            tx.commit().await.map_err(Failure::AtCommit)?;
            Ok(reply)
        }
        Request::Transfer { from, to, amount } => {
            let tx = serializable(conn).await?;
            let reply = transfer(&tx, from, to, *amount).await?;
            tx.commit().await.map_err(Failure::AtCommit)?;
            Ok(reply)
        }
        Request::Get(key) => {
            let rows = alone(
                conn,
                request,
                "SELECT value FROM service.kv WHERE key = $1",
                &[key],
            )
            .await?;
            Ok(Reply::Value(rows.first().map(|r| r.get(0))))
        }
        Request::Put(key, value) => {
            alone(conn, request, PUT, &[key, value]).await?;
            Ok(Reply::Done)
        }
        Request::Open(account, balance) => {
            let rows = alone(
                conn,
                request,
                "INSERT INTO service.accounts (id, balance) VALUES ($1, $2) \
                 ON CONFLICT (id) DO NOTHING RETURNING id",
                &[account, balance],
            )
            .await?;
            if rows.is_empty() {
                return Err(Failure::Refused(ServiceError::Conflict(format!(
                    "account {account:?} exists"
                ))));
            }
            Ok(Reply::Done)
        }
        Request::SetAdd(name, element) => {
            alone(
                conn,
                request,
                "INSERT INTO service.set_elements (name, element) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
                &[name, element],
            )
            .await?;
            Ok(Reply::Done)
        }
        Request::SetRead(name) => {
            let rows = alone(
                conn,
                request,
                "SELECT element FROM service.set_elements WHERE name = $1 ORDER BY element",
                &[name],
            )
            .await?;
            Ok(Reply::Elements(rows.iter().map(|r| r.get(0)).collect()))
        }
        Request::CounterAdd(name, delta) => {
            alone(
                conn,
                request,
                "INSERT INTO service.counters (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = service.counters.value + EXCLUDED.value",
                &[name, delta],
            )
            .await?;
            Ok(Reply::Done)
        }
        Request::CounterRead(name) => {
            let rows = alone(
                conn,
                request,
                "SELECT value FROM service.counters WHERE name = $1",
                &[name],
            )
            .await?;
            Ok(Reply::Value(Some(rows.first().map_or(0, |r| r.get(0)))))
        }
        Request::Balances => {
            let rows = alone(
                conn,
                request,
                "SELECT id, balance FROM service.accounts ORDER BY id",
                &[],
            )
            .await?;
            Ok(Reply::Balances(
                rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
            ))
        }
        Request::Transfers => {
            let rows = alone(
                conn,
                request,
                "SELECT id, source, target, amount FROM service.transfers ORDER BY id",
                &[],
            )
            .await?;
            Ok(Reply::Transfers(
                rows.iter()
                    .map(|r| Transfer {
                        id: r.get(0),
                        from: r.get(1),
                        to: r.get(2),
                        amount: r.get(3),
                    })
                    .collect(),
            ))
        }
    }
}

/// A key's upsert.
const PUT: &str = "INSERT INTO service.kv (key, value) VALUES ($1, $2) \
                   ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value";

/// Begins a SERIALIZABLE transaction.
async fn serializable(conn: &mut Object) -> Result<deadpool_postgres::Transaction<'_>, Failure> {
    Ok(conn
        .build_transaction()
        .isolation_level(IsolationLevel::Serializable)
        .start()
        .await?)
}

/// One statement as its own transaction, SERIALIZABLE by the session's default
/// ([`SESSION_OPTIONS`]), prepared once per connection: one round trip where `BEGIN`, a parse,
/// the execution and `COMMIT` took four.
///
/// PostgreSQL refusing it (a serialization failure among them) is definite, as an error before
/// COMMIT is; a write whose answer was lost may have committed, as one whose COMMIT's was.
async fn alone(
    conn: &Object,
    request: &Request,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>, Failure> {
    let statement = conn.prepare_cached(sql).await?;
    conn.query(&statement, params).await.map_err(|e| {
        if e.code().is_none() && request.writes() {
            Failure::AtCommit(e)
        } else {
            Failure::Before(e)
        }
    })
}

/// Each connection's session settings: a statement outside a transaction block is a
/// transaction of its own at this level, so single-statement requests need no `BEGIN`.
pub const SESSION_OPTIONS: &str = "-c default_transaction_isolation=serializable";

async fn cas(
    tx: &deadpool_postgres::Transaction<'_>,
    key: &str,
    expected: Option<i64>,
    new: i64,
) -> Result<Reply, Failure> {
    let select = tx
        .prepare_cached("SELECT value FROM service.kv WHERE key = $1")
        .await?;
    let current: Option<i64> = tx.query_opt(&select, &[&key]).await?.map(|r| r.get(0));
    if current != expected {
        return Ok(Reply::Swap(Swap {
            swapped: false,
            current,
        }));
    }
    let put = tx.prepare_cached(PUT).await?;
    tx.execute(&put, &[&key, &new]).await?;
    Ok(Reply::Swap(Swap {
        swapped: true,
        current: None,
    }))
}

async fn transfer(
    tx: &deadpool_postgres::Transaction<'_>,
    from: &str,
    to: &str,
    amount: i64,
) -> Result<Reply, Failure> {
    // Prepared once per connection: each statement one round trip, not two.
    let prepared = |sql| tx.prepare_cached(sql);
    let select =
        prepared("SELECT id, balance FROM service.accounts WHERE id = $1 OR id = $2").await?;
    let balances = tx.query(&select, &[&from, &to]).await?;
    let balance_of = |name: &str| {
        balances
            .iter()
            .find(|r| r.get::<_, &str>(0) == name)
            .map(|r| r.get::<_, i64>(1))
    };
    for name in [from, to] {
        if balance_of(name).is_none() {
            return Err(Failure::Refused(ServiceError::NotFound(format!(
                "no account {name:?}"
            ))));
        }
    }
    if balance_of(from).unwrap_or(0) < amount {
        return Ok(Reply::Transfer { id: 0, done: false });
    }
    let debit =
        prepared("UPDATE service.accounts SET balance = balance - $2 WHERE id = $1").await?;
    tx.execute(&debit, &[&from, &amount]).await?;
    let credit =
        prepared("UPDATE service.accounts SET balance = balance + $2 WHERE id = $1").await?;
    tx.execute(&credit, &[&to, &amount]).await?;
    let record = prepared(
        "INSERT INTO service.transfers (source, target, amount) VALUES ($1, $2, $3) RETURNING id",
    )
    .await?;
    let id: i64 = tx.query_one(&record, &[&from, &to, &amount]).await?.get(0);
    // The event goes out with the transfer or not at all: the relay publishes it later.
    let event = serde_json::json!({ "id": id, "from": from, "to": to, "amount": amount });
    let outbox =
        prepared("INSERT INTO service.outbox (transfer, event) VALUES ($1, $2::text::jsonb)")
            .await?;
    tx.execute(&outbox, &[&id, &event.to_string()]).await?;
    Ok(Reply::Transfer { id, done: true })
}

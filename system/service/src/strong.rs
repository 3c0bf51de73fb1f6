//! The strong store: PostgreSQL, every request one SERIALIZABLE transaction from a connection
//! pool, retried when PostgreSQL aborts it to keep the order serializable (SQLSTATE 40001, and
//! deadlocks, 40P01). PostgreSQL stands in for CockroachDB here (the same wire protocol and
//! isolation level; CockroachDB cannot be installed on these machines).
//!
//! Tables live in the `service` schema: `kv`, `accounts`, `transfers` and the bank's `outbox`.

use crate::kv::Swap;
use crate::metrics::Metrics;
use crate::ServiceError;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
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

    /// Creates the tables if they are missing.
    pub async fn create_schema(&self) -> Result<(), ServiceError> {
        let conn = self.connection().await?;
        let script = format!("BEGIN; SELECT pg_advisory_xact_lock(7701); {SCHEMA} COMMIT;");
        conn.batch_execute(&script)
            .await
            .map_err(|e| ServiceError::Unavailable(format!("creating the PostgreSQL schema: {e}")))
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
    let tx = conn
        .build_transaction()
        .isolation_level(IsolationLevel::Serializable)
        .start()
        .await?;
    let reply = match request {
        Request::Get(key) => {
            let row = tx
                .query_opt("SELECT value FROM service.kv WHERE key = $1", &[key])
                .await?;
            Reply::Value(row.map(|r| r.get(0)))
        }
        Request::Put(key, value) => {
            tx.execute(
                "INSERT INTO service.kv (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[key, value],
            )
            .await?;
            Reply::Done
        }
        Request::Cas(key, expected, new) => {
            let current: Option<i64> = tx
                .query_opt("SELECT value FROM service.kv WHERE key = $1", &[key])
                .await?
                .map(|r| r.get(0));
            if current == *expected {
                tx.execute(
                    "INSERT INTO service.kv (key, value) VALUES ($1, $2) \
                     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    &[key, new],
                )
                .await?;
                Reply::Swap(Swap {
                    swapped: true,
                    current: None,
                })
            } else {
                Reply::Swap(Swap {
                    swapped: false,
                    current,
                })
            }
        }
        Request::Open(account, balance) => {
            let inserted = tx
                .execute(
                    "INSERT INTO service.accounts (id, balance) VALUES ($1, $2) \
                     ON CONFLICT (id) DO NOTHING",
                    &[account, balance],
                )
                .await?;
            if inserted == 0 {
                return Err(Failure::Refused(ServiceError::Conflict(format!(
                    "account {account:?} exists"
                ))));
            }
            Reply::Done
        }
        Request::Transfer { from, to, amount } => transfer(&tx, from, to, *amount).await?,
        Request::SetAdd(name, element) => {
            tx.execute(
                "INSERT INTO service.set_elements (name, element) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
                &[name, element],
            )
            .await?;
            Reply::Done
        }
        Request::SetRead(name) => {
            let rows = tx
                .query(
                    "SELECT element FROM service.set_elements WHERE name = $1 ORDER BY element",
                    &[name],
                )
                .await?;
            Reply::Elements(rows.iter().map(|r| r.get(0)).collect())
        }
        Request::CounterAdd(name, delta) => {
            tx.execute(
                "INSERT INTO service.counters (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = service.counters.value + EXCLUDED.value",
                &[name, delta],
            )
            .await?;
            Reply::Done
        }
        Request::CounterRead(name) => {
            let row = tx
                .query_opt(
                    "SELECT value FROM service.counters WHERE name = $1",
                    &[name],
                )
                .await?;
            Reply::Value(Some(row.map_or(0, |r| r.get(0))))
        }
        Request::Balances => {
            let rows = tx
                .query("SELECT id, balance FROM service.accounts ORDER BY id", &[])
                .await?;
            Reply::Balances(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        }
        Request::Transfers => {
            let rows = tx
                .query(
                    "SELECT id, source, target, amount FROM service.transfers ORDER BY id",
                    &[],
                )
                .await?;
            Reply::Transfers(
                rows.iter()
                    .map(|r| Transfer {
                        id: r.get(0),
                        from: r.get(1),
                        to: r.get(2),
                        amount: r.get(3),
                    })
                    .collect(),
            )
        }
    };
    tx.commit().await.map_err(Failure::AtCommit)?;
    Ok(reply)
}

async fn transfer(
    tx: &deadpool_postgres::Transaction<'_>,
    from: &str,
    to: &str,
    amount: i64,
) -> Result<Reply, Failure> {
    let balances = tx
        .query(
            "SELECT id, balance FROM service.accounts WHERE id = $1 OR id = $2",
            &[&from, &to],
        )
        .await?;
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
    tx.execute(
        "UPDATE service.accounts SET balance = balance - $2 WHERE id = $1",
        &[&from, &amount],
    )
    .await?;
    tx.execute(
        "UPDATE service.accounts SET balance = balance + $2 WHERE id = $1",
        &[&to, &amount],
    )
    .await?;
    let id: i64 = tx
        .query_one(
            "INSERT INTO service.transfers (source, target, amount) VALUES ($1, $2, $3) RETURNING id",
            &[&from, &to, &amount],
        )
        .await?
        .get(0);
    // The event goes out with the transfer or not at all: the relay publishes it later.
    let event = serde_json::json!({ "id": id, "from": from, "to": to, "amount": amount });
    tx.execute(
        "INSERT INTO service.outbox (transfer, event) VALUES ($1, $2::text::jsonb)",
        &[&id, &event.to_string()],
    )
    .await?;
    Ok(Reply::Transfer { id, done: true })
}

//! PostgreSQL (and CockroachDB, which speaks its protocol) as a [`Target`]
//! for the `bank` workload (accounts in one table, transfers and reads in
//! SERIALIZABLE transactions) and the `register` workload (one row per
//! register; a read, a write as an upsert, a cas as a conditional update,
//! each one statement).
//!
//! The `list-append` workload's transactions run at the target's
//! [`Isolation`] level over a table of lists (one `bigint[]` row per key):
//! an append is an upsert that concatenates, a read selects the array. The
//! `rw-register` workload's run the same way over the registers table: a
//! write is an upsert, a read selects the value (nil when there is no row).
//! So do the `long-fork` workload's, whose reads go to a standby when the
//! target reads from standbys.
//!
//! A transaction the server aborts (serialization failure `40001`,
//! deadlock `40P01`) or that finds too little money definitely did not
//! happen: `fail`. An error while committing, or a lost connection, leaves
//! it unknown: `info`.

use async_trait::async_trait;
use history::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client as Connection, NoTls};
use workloads::Invocation;
use workloads::{Client, Completion, Data, Target, TargetError};

/// A PostgreSQL-protocol database reached at `url` (e.g.
/// `host=127.0.0.1 port=5432 user=postgres`, or a `postgresql://` URL).
pub struct PostgresTarget {
    url: String,
    /// Where reads go instead, one server per node (hot standbys).
    read_urls: Vec<String>,
    /// The isolation level of list-append and rw-register transactions.
    isolation: Isolation,
    /// What transactions' reads read: lists or registers.
    txns: Data,
}

/// PostgreSQL's isolation levels, for the `list-append` and `rw-register` workloads'
/// transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// `READ COMMITTED`, PostgreSQL's default.
    ReadCommitted,
    /// `REPEATABLE READ`: snapshot isolation in PostgreSQL.
    RepeatableRead,
    /// `SERIALIZABLE`: serializable snapshot isolation.
    Serializable,
}

impl Isolation {
    /// The SQL that begins a transaction at this level.
    fn begin(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "BEGIN ISOLATION LEVEL READ COMMITTED",
            Isolation::RepeatableRead => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            Isolation::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE",
        }
    }
}

impl PostgresTarget {
    /// A target at `url`: every operation on that server.
    pub fn new(url: &str) -> PostgresTarget {
        PostgresTarget {
            url: url.to_string(),
            read_urls: Vec::new(),
            isolation: Isolation::Serializable,
            txns: Data::Lists,
        }
    }

    /// The same target, its transactions at `isolation`.
    pub fn at(mut self, isolation: Isolation) -> PostgresTarget {
        self.isolation = isolation;
        self
    }

    /// The same target, its transactions over `data` ([`Data::Lists`] or
    /// [`Data::TxnRegisters`]); other data is not transactional and changes nothing.
    pub fn holding(mut self, data: Data) -> PostgresTarget {
        if data == Data::TxnRegisters {
            self.txns = data;
        }
        self
    }

    /// A target that writes at `url` and reads at `read_urls[node]`, as an
    /// application that spreads reads over replicas does. A hot standby
    /// cannot run SERIALIZABLE transactions, so reads there are REPEATABLE
    /// READ snapshots of whatever the standby has replayed.
    pub fn with_reads_from(url: &str, read_urls: Vec<String>) -> PostgresTarget {
        PostgresTarget {
            url: url.to_string(),
            read_urls,
            isolation: Isolation::Serializable,
            txns: Data::Lists,
        }
    }

    async fn connect(&self) -> Result<Connection, TargetError> {
        connect(&self.url).await
    }
}

async fn connect(url: &str) -> Result<Connection, TargetError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| TargetError::Setup(format!("cannot connect to {url}: {e}")))?;
    tokio::spawn(connection);
    Ok(client)
}

#[async_trait]
impl Target for PostgresTarget {
    fn name(&self) -> String {
        match (self.read_urls.is_empty(), self.isolation) {
            (false, _) => "postgres-standby-reads",
            (true, Isolation::Serializable) => "postgres",
            (true, Isolation::RepeatableRead) => "postgres-rr",
            (true, Isolation::ReadCommitted) => "postgres-rc",
        }
        .into()
    }

    fn nodes(&self) -> usize {
        self.read_urls.len().max(1)
    }

    async fn open(&self, node: usize) -> Result<Box<dyn Client>, TargetError> {
        let reader = match self.read_urls.get(node) {
            Some(url) => Some(connect(url).await?),
            None => None,
        };
        Ok(Box::new(PostgresClient {
            db: self.connect().await?,
            reader,
            isolation: self.isolation,
            txns: self.txns,
        }))
    }

    /// Creates the tables, empties them (a previous run's rows, or the
    /// transactions it left waiting, must not leak into this one) and
    /// writes the accounts, in one transaction, retried when the server
    /// aborts it for a conflict.
    async fn setup(&self, initial: &[(Value, Value)]) -> Result<(), TargetError> {
        let mut accounts = Vec::with_capacity(initial.len());
        for (id, balance) in initial {
            let (Some(id), Some(balance)) = (id.as_int(), balance.as_int()) else {
                return Err(TargetError::Setup(format!(
                    "accounts must be integers, got {id} {balance}"
                )));
            };
            accounts.push((id, balance));
        }
        let db = self.connect().await?;
        let mut attempt = 0;
        loop {
            match fill(&db, &accounts).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt < 10 && retryable(&e) => {
                    let _ = db.batch_execute("ROLLBACK").await;
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => {
                    return Err(TargetError::Setup(format!(
                        "setting up the tables: {}",
                        describe(&e)
                    )))
                }
            }
        }
    }
}

async fn fill(db: &Connection, accounts: &[(i64, i64)]) -> Result<(), tokio_postgres::Error> {
    db.batch_execute(
        "BEGIN; \
         CREATE TABLE IF NOT EXISTS accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL); \
         CREATE TABLE IF NOT EXISTS registers (id BIGINT PRIMARY KEY, value BIGINT NOT NULL); \
         CREATE TABLE IF NOT EXISTS lists (id BIGINT PRIMARY KEY, elements BIGINT[] NOT NULL); \
         TRUNCATE accounts, registers, lists;",
    )
    .await?;
    for (id, balance) in accounts {
        db.execute(
            "INSERT INTO accounts (id, balance) VALUES ($1, $2)",
            &[id, balance],
        )
        .await?;
    }
    db.batch_execute("COMMIT").await
}

/// Whether the server aborted for a conflict, so trying again may work.
fn retryable(e: &tokio_postgres::Error) -> bool {
    let code = e.code();
    code == Some(&SqlState::T_R_SERIALIZATION_FAILURE)
        || code == Some(&SqlState::T_R_DEADLOCK_DETECTED)
        || code == Some(&SqlState::UNIQUE_VIOLATION) // two CREATE TABLE IF NOT EXISTS racing
}

struct PostgresClient {
    db: Connection,
    /// A standby that serves the reads, if not the primary.
    reader: Option<Connection>,
    isolation: Isolation,
    txns: Data,
}

/// How a transaction ended without a result.
enum Aborted {
    /// It definitely did not take effect.
    Definitely(String),
    /// It may have.
    Maybe(String),
}

/// The server's message and SQLSTATE when there is one (the error's own
/// text is only "db error").
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({}: {})", e, db.code().code(), db.message()),
        None => e.to_string(),
    }
}

fn aborted(e: tokio_postgres::Error, committing: bool) -> Aborted {
    let code = e.code().cloned();
    if code == Some(SqlState::T_R_SERIALIZATION_FAILURE)
        || code == Some(SqlState::T_R_DEADLOCK_DETECTED)
    {
        return Aborted::Definitely(format!("aborted: {}", describe(&e)));
    }
    if committing || e.is_closed() || code.is_none() {
        Aborted::Maybe(describe(&e))
    } else {
        Aborted::Definitely(describe(&e))
    }
}

impl PostgresClient {
    /// A register operation, one autocommitted statement on the row of
    /// `op.key`.
    async fn register(&self, op: &Invocation) -> Result<Completion, Aborted> {
        let int = |v: Option<&Value>, what: &str| {
            v.and_then(Value::as_int).ok_or_else(|| {
                Aborted::Definitely(format!("registers hold integers; bad {what} in {op:?}"))
            })
        };
        let id = int(op.key.as_ref(), "key")?;
        let q = |e| aborted(e, false);
        match op.f.as_str() {
            "write" => {
                let value = int(Some(&op.value), "value")?;
                self.db
                    .execute(
                        "INSERT INTO registers (id, value) VALUES ($1, $2) \
                         ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value",
                        &[&id, &value],
                    )
                    .await
                    .map_err(q)?;
                Ok(Completion::ok(op.value.clone()))
            }
            "cas" => {
                let Some([old, new]) = op.value.as_seq() else {
                    return Err(Aborted::Definitely(format!(
                        "expected [old new] for :cas, got {}",
                        op.value
                    )));
                };
                let new = int(Some(new), "new value")?;
                let changed = if old.is_nil() {
                    self.db
                        .execute(
                            "INSERT INTO registers (id, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                            &[&id, &new],
                        )
                        .await
                } else {
                    let old = int(Some(old), "old value")?;
                    self.db
                        .execute(
                            "UPDATE registers SET value = $3 WHERE id = $1 AND value = $2",
                            &[&id, &old, &new],
                        )
                        .await
                }
                .map_err(q)?;
                Ok(if changed == 1 {
                    Completion::ok(op.value.clone())
                } else {
                    Completion::fail(op.value.clone(), "cas-mismatch")
                })
            }
            _ => {
                let row = self
                    .reader
                    .as_ref()
                    .unwrap_or(&self.db)
                    .query_opt("SELECT value FROM registers WHERE id = $1", &[&id])
                    .await
                    .map_err(q)?;
                Ok(Completion::ok(
                    row.map_or(Value::Nil, |r| Value::Int(r.get::<_, i64>(0))),
                ))
            }
        }
    }

    async fn transfer(&self, op: &Invocation) -> Result<Completion, Aborted> {
        let field = |k: &str| op.value.get(k).and_then(Value::as_int);
        let (Some(from), Some(to), Some(amount)) = (field("from"), field("to"), field("amount"))
        else {
            return Err(Aborted::Definitely(format!(
                "expected {{:from :to :amount}}, got {}",
                op.value
            )));
        };
        let q = |e| aborted(e, false);
        self.db
            .batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
            .await
            .map_err(q)?;
        let row = self
            .db
            .query_one("SELECT balance FROM accounts WHERE id = $1", &[&from])
            .await;
        let balance: i64 = match row {
            Ok(r) => r.get(0),
            Err(e) => {
                let _ = self.db.batch_execute("ROLLBACK").await;
                return Err(q(e));
            }
        };
        if balance < amount {
            self.db.batch_execute("ROLLBACK").await.map_err(q)?;
            return Ok(Completion::fail(op.value.clone(), "insufficient-funds"));
        }
        for (id, delta) in [(from, -amount), (to, amount)] {
            if let Err(e) = self
                .db
                .execute(
                    "UPDATE accounts SET balance = balance + $2 WHERE id = $1",
                    &[&id, &delta],
                )
                .await
            {
                let _ = self.db.batch_execute("ROLLBACK").await;
                return Err(q(e));
            }
        }
        self.db
            .batch_execute("COMMIT")
            .await
            .map_err(|e| aborted(e, true))?;
        Ok(Completion::ok(op.value.clone()))
    }

    /// A list-append or rw-register transaction: its micro-ops in order, in one transaction at
    /// the target's isolation level; the completion holds the values read. With standbys to
    /// read from, a transaction of reads only runs on this client's standby, as a REPEATABLE
    /// READ snapshot (a hot standby runs nothing stronger).
    async fn txn(&self, op: &Invocation) -> Result<Completion, Aborted> {
        let Some(mops) = op.value.as_seq() else {
            return Err(Aborted::Definitely(format!(
                "expected a list of micro-ops, got {}",
                op.value
            )));
        };
        let reads_only = mops
            .iter()
            .all(|m| matches!(m.as_seq(), Some([f, _, _]) if f.as_text() == Some("r")));
        let (db, begin) = match &self.reader {
            Some(standby) if reads_only => {
                (standby, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            }
            _ => (&self.db, self.isolation.begin()),
        };
        let q = |e| aborted(e, false);
        db.batch_execute(begin).await.map_err(q)?;
        let mut done = Vec::with_capacity(mops.len());
        for m in mops {
            match self.mop(db, m).await {
                Ok(v) => done.push(v),
                Err(e) => {
                    let _ = db.batch_execute("ROLLBACK").await;
                    return Err(e);
                }
            }
        }
        db.batch_execute("COMMIT")
            .await
            .map_err(|e| aborted(e, true))?;
        Ok(Completion::ok(Value::Vector(done)))
    }

    /// One micro-op inside a transaction: `[:append k v]` or `[:r k nil]` (answered with the
    /// list), or over registers `[:w k v]` or `[:r k nil]` (answered with the value).
    async fn mop(&self, db: &Connection, m: &Value) -> Result<Value, Aborted> {
        let q = |e| aborted(e, false);
        let (f, key, value) = match m.as_seq() {
            Some([f, k, v]) => (f.as_text(), k.as_int(), v),
            _ => (None, None, m),
        };
        let Some(key) = key else {
            return Err(Aborted::Definitely(format!(
                "expected [f key value] with an integer key, got {m}"
            )));
        };
        let registers = self.txns == Data::TxnRegisters;
        match (f, value.as_int()) {
            (Some("w"), Some(value)) if registers => {
                db.execute(
                    "INSERT INTO registers (id, value) VALUES ($1, $2) \
                         ON CONFLICT (id) DO UPDATE SET value = $2",
                    &[&key, &value],
                )
                .await
                .map_err(q)?;
                Ok(m.clone())
            }
            (Some("r"), _) if registers => {
                let row = db
                    .query_opt("SELECT value FROM registers WHERE id = $1", &[&key])
                    .await
                    .map_err(q)?;
                let value = row.map_or(Value::Nil, |r| Value::Int(r.get(0)));
                Ok(Value::Vector(vec![
                    Value::Keyword("r".into()),
                    Value::Int(key),
                    value,
                ]))
            }
            (Some("append"), Some(element)) if !registers => {
                db.execute(
                    "INSERT INTO lists (id, elements) VALUES ($1, ARRAY[$2::BIGINT]) \
                         ON CONFLICT (id) DO UPDATE SET elements = lists.elements || $2::BIGINT",
                    &[&key, &element],
                )
                .await
                .map_err(q)?;
                Ok(m.clone())
            }
            (Some("r"), _) => {
                let row = db
                    .query_opt("SELECT elements FROM lists WHERE id = $1", &[&key])
                    .await
                    .map_err(q)?;
                let elements: Vec<i64> = row.map(|r| r.get(0)).unwrap_or_default();
                let list = elements.into_iter().map(Value::Int).collect();
                Ok(Value::Vector(vec![
                    Value::Keyword("r".into()),
                    Value::Int(key),
                    Value::Vector(list),
                ]))
            }
            _ => Err(Aborted::Definitely(format!(
                "the postgres target has no micro-op {m}"
            ))),
        }
    }

    async fn read(&self) -> Result<Completion, Aborted> {
        let q = |e| aborted(e, false);
        let (db, begin) = match &self.reader {
            Some(standby) => (standby, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
            None => (&self.db, "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY"),
        };
        db.batch_execute(begin).await.map_err(q)?;
        let rows = match db
            .query("SELECT id, balance FROM accounts ORDER BY id", &[])
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                let _ = db.batch_execute("ROLLBACK").await;
                return Err(q(e));
            }
        };
        db.batch_execute("COMMIT").await.map_err(q)?;
        let balances: Vec<(Value, Value)> = rows
            .iter()
            .map(|r| {
                (
                    Value::Int(r.get::<_, i64>(0)),
                    Value::Int(r.get::<_, i64>(1)),
                )
            })
            .collect();
        Ok(Completion::ok(Value::Map(balances)))
    }
}

#[async_trait]
impl Client for PostgresClient {
    async fn invoke(&self, op: &Invocation) -> Completion {
        let result = match op.f.as_str() {
            "transfer" => self.transfer(op).await,
            "txn" => self.txn(op).await,
            "read" | "final-read" if op.key.is_some() => self.register(op).await,
            "write" | "cas" => self.register(op).await,
            "read" | "final-read" => self.read().await,
            f => Err(Aborted::Definitely(format!(
                "the postgres target has no :{f}"
            ))),
        };
        match result {
            Ok(c) => c,
            Err(Aborted::Definitely(e)) => Completion::fail(op.value.clone(), &e),
            Err(Aborted::Maybe(e)) => Completion::info(op.value.clone(), &e),
        }
    }
}

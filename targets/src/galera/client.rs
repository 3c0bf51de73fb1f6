//! MariaDB Galera as a [`Target`] for the transactional workloads: `list-append` (a list is a
//! row of comma-separated elements, an append concatenates, as Jepsen's Galera test stores
//! them) and `rw-register` (one row per register). Each client talks to one node, so
//! concurrent transactions run on different nodes and meet in Galera's certification.
//!
//! A transaction runs at the session's isolation level (MariaDB's default, REPEATABLE READ,
//! unless the target sets another). A deadlock or a certification conflict (error 1213) and
//! a node that is not ready (1047) abort it: `fail`. An error while committing for another
//! reason, or a lost connection, leaves it unknown: `info`.

use async_trait::async_trait;
use history::Value;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use tokio::sync::Mutex;
use workloads::{Client, Completion, Data, Invocation, Target, TargetError};

/// Galera reached at one URL per node.
pub struct GaleraTarget {
    urls: Vec<String>,
    /// What transactions read and write: lists or registers.
    txns: Data,
    /// `SET SESSION` statements each connection runs first (isolation, causal reads).
    session: &'static str,
}

impl GaleraTarget {
    /// Clients spread over `urls`, one node each, their sessions set up by `session`.
    pub fn new(urls: Vec<String>, txns: Data, session: &'static str) -> GaleraTarget {
        GaleraTarget {
            urls,
            txns,
            session,
        }
    }
}

async fn connect(url: &str) -> Result<Conn, TargetError> {
    let opts = Opts::from_url(url)
        .map_err(|e| TargetError::Setup(format!("bad MariaDB URL {url}: {e}")))?;
    Conn::new(opts)
        .await
        .map_err(|e| TargetError::Setup(format!("cannot connect to {url}: {e}")))
}

#[async_trait]
impl Target for GaleraTarget {
    fn name(&self) -> String {
        "galera".into()
    }

    fn nodes(&self) -> usize {
        self.urls.len().max(1)
    }

    async fn open(&self, node: usize) -> Result<Box<dyn Client>, TargetError> {
        let url = &self.urls[node % self.urls.len()];
        let mut conn = connect(url).await?;
        if !self.session.is_empty() {
            conn.query_drop(self.session)
                .await
                .map_err(|e| TargetError::Setup(format!("{url}: {}: {e}", self.session)))?;
        }
        Ok(Box::new(GaleraClient {
            conn: Mutex::new(conn),
            txns: self.txns,
        }))
    }

    /// Creates the tables and empties them (a previous run's rows must not leak into this
    /// one).
    async fn setup(&self, _initial: &[(Value, Value)]) -> Result<(), TargetError> {
        let url = self
            .urls
            .first()
            .ok_or_else(|| TargetError::Setup("no node".into()))?;
        let mut conn = connect(url).await?;
        for statement in [
            "CREATE TABLE IF NOT EXISTS lists (id BIGINT PRIMARY KEY, elements TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS registers (id BIGINT PRIMARY KEY, value BIGINT NOT NULL)",
            "DELETE FROM lists",
            "DELETE FROM registers",
        ] {
            conn.query_drop(statement)
                .await
                .map_err(|e| TargetError::Setup(format!("{statement}: {e}")))?;
        }
        Ok(())
    }
}

struct GaleraClient {
    conn: Mutex<Conn>,
    txns: Data,
}

/// How a transaction ended without a result.
enum Aborted {
    /// It definitely did not take effect.
    Definitely(String),
    /// It may have.
    Maybe(String),
}

/// Server errors that abort the transaction before anything commits: deadlock or
/// certification conflict (1213), lock wait timeout (1205), node not ready (1047).
const ABORTS: [u16; 3] = [1213, 1205, 1047];

fn aborted(e: mysql_async::Error, committing: bool) -> Aborted {
    match &e {
        mysql_async::Error::Server(s) if ABORTS.contains(&s.code) => {
            Aborted::Definitely(format!("aborted: {e}"))
        }
        mysql_async::Error::Server(_) if !committing => Aborted::Definitely(e.to_string()),
        _ => Aborted::Maybe(e.to_string()),
    }
}

impl GaleraClient {
    async fn txn(&self, op: &Invocation) -> Result<Completion, Aborted> {
        let Some(mops) = op.value.as_seq() else {
            return Err(Aborted::Definitely(format!(
                "expected a list of micro-ops, got {}",
                op.value
            )));
        };
        let mut conn = self.conn.lock().await;
        conn.query_drop("START TRANSACTION")
            .await
            .map_err(|e| aborted(e, false))?;
        let mut done = Vec::with_capacity(mops.len());
        for m in mops {
            match self.mop(&mut conn, m).await {
                Ok(v) => done.push(v),
                Err(e) => {
                    let _ = conn.query_drop("ROLLBACK").await;
                    return Err(e);
                }
            }
        }
        conn.query_drop("COMMIT")
            .await
            .map_err(|e| aborted(e, true))?;
        Ok(Completion::ok(Value::Vector(done)))
    }

    /// One micro-op: `[:append k v]`, `[:w k v]`, or `[:r k nil]` answered with the list or
    /// the value.
    async fn mop(&self, conn: &mut Conn, m: &Value) -> Result<Value, Aborted> {
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
        let read =
            |value: Value| Value::Vector(vec![Value::Keyword("r".into()), Value::Int(key), value]);
        let registers = self.txns == Data::TxnRegisters;
        match (f, value.as_int()) {
            (Some("append"), Some(element)) if !registers => {
                conn.exec_drop(
                    "INSERT INTO lists (id, elements) VALUES (?, ?) \
                     ON DUPLICATE KEY UPDATE elements = CONCAT(elements, ',', VALUES(elements))",
                    (key, element.to_string()),
                )
                .await
                .map_err(q)?;
                Ok(m.clone())
            }
            (Some("w"), Some(v)) if registers => {
                conn.exec_drop(
                    "INSERT INTO registers (id, value) VALUES (?, ?) \
                     ON DUPLICATE KEY UPDATE value = VALUES(value)",
                    (key, v),
                )
                .await
                .map_err(q)?;
                Ok(m.clone())
            }
            (Some("r"), _) if registers => {
                let row: Option<i64> = conn
                    .exec_first("SELECT value FROM registers WHERE id = ?", (key,))
                    .await
                    .map_err(q)?;
                Ok(read(row.map_or(Value::Nil, Value::Int)))
            }
            (Some("r"), _) => {
                let row: Option<String> = conn
                    .exec_first("SELECT elements FROM lists WHERE id = ?", (key,))
                    .await
                    .map_err(q)?;
                let mut list = Vec::new();
                for element in row.iter().flat_map(|r| r.split(',')) {
                    let element = element.parse::<i64>().map_err(|_| {
                        Aborted::Definitely(format!("list {key} holds `{element}`, not an integer"))
                    })?;
                    list.push(Value::Int(element));
                }
                Ok(read(Value::Vector(list)))
            }
            _ => Err(Aborted::Definitely(format!(
                "the galera target has no micro-op {m}"
            ))),
        }
    }
}

#[async_trait]
impl Client for GaleraClient {
    async fn invoke(&self, op: &Invocation) -> Completion {
        let result = match op.f.as_str() {
            "txn" => self.txn(op).await,
            f => Err(Aborted::Definitely(format!(
                "the galera target has no :{f}"
            ))),
        };
        match result {
            Ok(c) => c,
            Err(Aborted::Definitely(e)) => Completion::fail(op.value.clone(), &e),
            Err(Aborted::Maybe(e)) => Completion::info(op.value.clone(), &e),
        }
    }
}

//! etcd as a [`Target`] for the `register` workload, through etcd's v3
//! JSON gateway (`/v3/kv/range`, `/v3/kv/put`, `/v3/kv/txn`).
//!
//! Reads are linearizable by default, or serializable (`serializable:
//! true`: answered from the member's local state, possibly stale) — the
//! contrast Jepsen's etcd analyses draw. A compare-and-set is a
//! transaction comparing the key's value (or, for `nil`, its creation
//! revision) and putting the new value. Connection refused means the
//! request was never sent (`fail`); a timeout or a server error may have
//! been applied (`info`).

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use history::Value;
use serde_json::{json, Value as Json};
use std::time::Duration;
use workloads::Invocation;
use workloads::{Client, Completion, Target, TargetError};

/// An etcd cluster reached at its members' client URLs.
pub struct EtcdTarget {
    endpoints: Vec<String>,
    serializable: bool,
    timeout: Duration,
}

impl EtcdTarget {
    /// A target over the members at `endpoints` (`http://host:port`), with
    /// serializable or linearizable reads; requests give up after `timeout`.
    pub fn new(endpoints: Vec<String>, serializable: bool, timeout: Duration) -> EtcdTarget {
        EtcdTarget {
            endpoints,
            serializable,
            timeout,
        }
    }

    /// A client of the member `node`.
    fn client(&self, node: usize) -> Result<EtcdClient, TargetError> {
        let endpoint = self
            .endpoints
            .get(node)
            .ok_or_else(|| TargetError::Setup(format!("etcd has no member {node}")))?
            .clone();
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .build()
            .map_err(|e| TargetError::Setup(format!("etcd client: {e}")))?;
        Ok(EtcdClient {
            http,
            endpoint,
            serializable: self.serializable,
        })
    }
}

#[async_trait]
impl Target for EtcdTarget {
    fn name(&self) -> String {
        if self.serializable {
            "etcd-serializable"
        } else {
            "etcd"
        }
        .into()
    }

    fn nodes(&self) -> usize {
        self.endpoints.len()
    }

    async fn open(&self, node: usize) -> Result<Box<dyn Client>, TargetError> {
        Ok(Box::new(self.client(node)?))
    }
    /// Deletes every register a previous run left (registers start as
    /// `nil`), through the first member that answers.
    async fn setup(&self, initial: &[(Value, Value)]) -> Result<(), TargetError> {
        if !initial.is_empty() {
            return Err(TargetError::Setup(
                "the etcd target takes no initial data".into(),
            ));
        }
        // The range [register/, register0) is every key with the prefix.
        let body = json!({"key": B64.encode(PREFIX), "range_end": B64.encode("register0")});
        let mut errors = Vec::new();
        for node in 0..self.endpoints.len() {
            match self
                .client(node)?
                .post("/v3/kv/deleterange", body.clone())
                .await
            {
                Ok(_) => return Ok(()),
                Err(Failure::NotSent(e) | Failure::Unknown(e)) => {
                    errors.push(format!("{}: {e}", self.endpoints[node]))
                }
            }
        }
        Err(TargetError::Setup(format!(
            "cannot clear the registers of earlier runs: {}",
            errors.join("; ")
        )))
    }
}

struct EtcdClient {
    http: reqwest::Client,
    endpoint: String,
    serializable: bool,
}

/// The prefix of every register's etcd key.
const PREFIX: &str = "register/";

/// The etcd key of a register key.
fn key_of(op: &Invocation) -> String {
    B64.encode(format!(
        "{PREFIX}{}",
        op.key
            .as_ref()
            .map_or_else(|| "0".to_string(), Value::to_string)
    ))
}

fn encode(v: &Value) -> String {
    B64.encode(v.to_string())
}

/// A stored value back as a history value (registers hold integers).
fn decode(b64: &str) -> Value {
    let text = B64
        .decode(b64)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    text.parse::<i64>().map_or(Value::Str(text), Value::Int)
}

/// Why a request got no answer, as Jepsen records it.
enum Failure {
    /// Definitely not applied.
    NotSent(String),
    /// May or may not have been applied.
    Unknown(String),
}

impl EtcdClient {
    async fn post(&self, path: &str, body: Json) -> Result<Json, Failure> {
        let url = format!("{}{path}", self.endpoint);
        let response = self.http.post(url).json(&body).send().await.map_err(|e| {
            if e.is_connect() {
                Failure::NotSent(format!("connect: {e}"))
            } else {
                Failure::Unknown(if e.is_timeout() {
                    "timeout".into()
                } else {
                    e.to_string()
                })
            }
        })?;
        let status = response.status();
        let json: Json = response
            .json()
            .await
            .map_err(|e| Failure::Unknown(format!("reply: {e}")))?;
        if status.is_success() {
            Ok(json)
        } else {
            Err(Failure::Unknown(format!(
                "{status}: {}",
                json["message"].as_str().unwrap_or("")
            )))
        }
    }

    async fn perform(&self, op: &Invocation) -> Result<Completion, Failure> {
        let key = key_of(op);
        match op.f.as_str() {
            "read" | "final-read" => {
                let reply = self
                    .post(
                        "/v3/kv/range",
                        json!({"key": key, "serializable": self.serializable}),
                    )
                    .await?;
                let value = reply["kvs"][0]["value"].as_str().map_or(Value::Nil, decode);
                Ok(Completion::ok(value))
            }
            "write" => {
                self.post(
                    "/v3/kv/put",
                    json!({"key": key, "value": encode(&op.value)}),
                )
                .await?;
                Ok(Completion::ok(op.value.clone()))
            }
            "cas" => {
                let Some([old, new]) = op.value.as_seq() else {
                    return Err(Failure::NotSent(format!(
                        "expected [old new] for :cas, got {}",
                        op.value
                    )));
                };
                let compare = if old.is_nil() {
                    json!({"key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0"})
                } else {
                    json!({"key": key, "target": "VALUE", "result": "EQUAL", "value": encode(old)})
                };
                let put = json!({"request_put": {"key": key, "value": encode(new)}});
                let reply = self
                    .post(
                        "/v3/kv/txn",
                        json!({"compare": [compare], "success": [put]}),
                    )
                    .await?;
                // proto3 JSON leaves out false.
                if reply["succeeded"].as_bool().unwrap_or(false) {
                    Ok(Completion::ok(op.value.clone()))
                } else {
                    Ok(Completion::fail(op.value.clone(), "cas-mismatch"))
                }
            }
            f => Err(Failure::NotSent(format!("the etcd target has no :{f}"))),
        }
    }
}

#[async_trait]
impl Client for EtcdClient {
    async fn invoke(&self, op: &Invocation) -> Completion {
        match self.perform(op).await {
            Ok(c) => c,
            Err(Failure::NotSent(e)) => Completion::fail(op.value.clone(), &e),
            Err(Failure::Unknown(e)) => Completion::info(op.value.clone(), &e),
        }
    }
}

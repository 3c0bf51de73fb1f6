//! The service system as a [`Target`]: the `register`, `set`, `counter` and `bank` workloads sent
//! to the api replicas over REST or gRPC ([`Via`]), each request in one consistency.
//!
//! Keys and accounts carry a prefix of the run (`r<start time>-`), so a run never sees an
//! earlier run's data and needs nothing deleted first. What an error means for the history:
//! - definitely not applied (`fail`): the request never left (connection refused), or the api
//!   answered 4xx, 503 / `UNAVAILABLE` (it says nothing was done), or a compare-and-set that did
//!   not match;
//! - maybe applied (`info`): a timeout, a 504 / `DEADLINE_EXCEEDED`, a broken connection, any
//!   other status.

use async_trait::async_trait;
use history::Value;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::time::Duration;
use system::proto::{
    self, bank_client::BankClient, counters_client::CountersClient, kv_client::KvClient,
    sets_client::SetsClient,
};
use tonic::transport::Channel;
use workloads::workload::Data;
use workloads::{Client, Completion, Invocation, Target, TargetError};

/// How the clients reach the api.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Via {
    /// JSON over HTTP (axum).
    #[default]
    Rest,
    /// gRPC (tonic).
    Grpc,
}

impl Via {
    /// Its name (`rest`).
    pub fn name(self) -> &'static str {
        match self {
            Via::Rest => "rest",
            Via::Grpc => "grpc",
        }
    }
}

/// One api replica's addresses.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// REST base URL.
    pub http: String,
    /// gRPC URL.
    pub grpc: String,
}

/// The service system, in one consistency, over one protocol.
pub struct ServiceTarget {
    endpoints: Vec<Endpoint>,
    data: Data,
    consistency: &'static str,
    via: Via,
    timeout: Duration,
    prefix: String,
    /// Whether [`Target::quiesce`] waits until the queue drained (async writes).
    drain: bool,
}

impl ServiceTarget {
    /// Requests on `data` (the workload's: registers, one set, one counter, accounts) in
    /// `consistency` (`strong`, `eventual`, `async`) to `endpoints` over `via`.
    pub fn new(
        endpoints: Vec<Endpoint>,
        data: Data,
        consistency: &'static str,
        via: Via,
        timeout: Duration,
    ) -> ServiceTarget {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        ServiceTarget {
            endpoints,
            data,
            consistency,
            via,
            timeout,
            prefix: format!("r{started}-"),
            drain: false,
        }
    }

    /// Waits, before the final reads, until the workers applied every queued write, as the api
    /// replicas say (for async requests).
    pub fn draining(mut self) -> ServiceTarget {
        self.drain = true;
        self
    }

    /// The prefix of this run's keys and accounts.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    async fn connect(&self, node: usize) -> Result<Api, TargetError> {
        let endpoint = self
            .endpoints
            .get(node)
            .ok_or_else(|| TargetError::Setup(format!("the system has no api replica {node}")))?;
        let setup = |e: &dyn std::fmt::Display| {
            TargetError::Setup(format!("api replica {}: {e}", node + 1))
        };
        Ok(match self.via {
            Via::Rest => Api::Rest {
                http: reqwest::Client::builder()
                    .timeout(self.timeout)
                    .build()
                    .map_err(|e| setup(&e))?,
                base: endpoint.http.clone(),
            },
            Via::Grpc => {
                let channel = Channel::from_shared(endpoint.grpc.clone())
                    .map_err(|e| setup(&e))?
                    .timeout(self.timeout)
                    .connect_timeout(self.timeout)
                    .connect()
                    .await
                    .map_err(|e| setup(&e))?;
                Api::Grpc {
                    kv: KvClient::new(channel.clone()),
                    sets: SetsClient::new(channel.clone()),
                    counters: CountersClient::new(channel.clone()),
                    bank: BankClient::new(channel),
                }
            }
        })
    }
}

#[async_trait]
impl Target for ServiceTarget {
    fn name(&self) -> String {
        format!("system-{} ({})", self.consistency, self.via.name())
    }

    fn nodes(&self) -> usize {
        self.endpoints.len()
    }

    async fn open(&self, node: usize) -> Result<Box<dyn Client>, TargetError> {
        Ok(Box::new(ServiceClient {
            api: self.connect(node).await?,
            data: self.data,
            consistency: self.consistency,
            prefix: self.prefix.clone(),
        }))
    }

    async fn setup(&self, initial: &[(Value, Value)]) -> Result<(), TargetError> {
        let mut errors = Vec::new();
        for node in 0..self.endpoints.len() {
            let result = async {
                let api = self.connect(node).await.map_err(|e| e.to_string())?;
                for (account, balance) in initial {
                    let balance = balance.as_int().ok_or("a balance is an integer")?;
                    api.open(&format!("{}{account}", self.prefix), balance)
                        .await
                        .map_err(|f| f.text())?;
                }
                Ok::<_, String>(())
            };
            match result.await {
                Ok(()) => return Ok(()),
                Err(e) => errors.push(format!("replica {}: {e}", node + 1)),
            }
        }
        Err(TargetError::Setup(format!(
            "cannot open the accounts: {}",
            errors.join("; ")
        )))
    }

    async fn quiesce(&self, limit: Duration) -> Result<(), TargetError> {
        if !self.drain {
            return Ok(());
        }
        let bases: Vec<String> = self.endpoints.iter().map(|e| e.http.clone()).collect();
        super::queue::drain(&bases, limit)
            .await
            .map_err(TargetError::Setup)
    }

    /// The bank's workflow on the strong store: every committed transfer in both activity
    /// timelines once, nothing else there ([`super::workflow`]).
    async fn audit(&self, limit: Duration) -> Vec<workloads::Audit> {
        if self.data != Data::Accounts || self.consistency != "strong" {
            return Vec::new();
        }
        let bases: Vec<String> = self.endpoints.iter().map(|e| e.http.clone()).collect();
        vec![super::workflow::audit(&bases, &self.prefix, limit).await]
    }
}

/// A failed request: whether it may have been applied.
enum Failure {
    /// It was not applied.
    Definite(String),
    /// It may have been.
    Maybe(String),
}

impl Failure {
    fn text(self) -> String {
        match self {
            Failure::Definite(t) | Failure::Maybe(t) => t,
        }
    }

    fn from_http(e: reqwest::Error) -> Failure {
        if e.is_connect() {
            Failure::Definite(format!("connect: {e}"))
        } else if e.is_timeout() {
            Failure::Maybe("timeout".into())
        } else {
            Failure::Maybe(e.to_string())
        }
    }

    fn from_grpc(status: tonic::Status) -> Failure {
        use tonic::Code;
        let text = format!("{:?}: {}", status.code(), status.message());
        match status.code() {
            Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::FailedPrecondition => Failure::Definite(text),
            // The api's own "nothing happened"; the transport's UNAVAILABLE (a connection lost
            // mid-request) carries no such message and stays unknown.
            Code::Unavailable | Code::ResourceExhausted
                if status.metadata().get("lab-error").is_some() =>
            {
                Failure::Definite(text)
            }
            _ => Failure::Maybe(text),
        }
    }
}

// One per client, made once: the size of the gRPC variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Api {
    Rest {
        http: reqwest::Client,
        base: String,
    },
    Grpc {
        kv: KvClient<Channel>,
        sets: SetsClient<Channel>,
        counters: CountersClient<Channel>,
        bank: BankClient<Channel>,
    },
}

fn grpc_consistency(name: &str) -> i32 {
    match name {
        "strong" => proto::Consistency::Strong as i32,
        "eventual" => proto::Consistency::Eventual as i32,
        "async" => proto::Consistency::Async as i32,
        _ => proto::Consistency::Unspecified as i32,
    }
}

impl Api {
    async fn rest(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Json>,
    ) -> Result<Json, Failure> {
        let Api::Rest { http, base } = self else {
            return Err(Failure::Definite("not a REST client".into()));
        };
        let mut request = http.request(method, format!("{base}{path}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(Failure::from_http)?;
        let status = response.status();
        let text = response.text().await.map_err(Failure::from_http)?;
        let json: Json = serde_json::from_str(&text).unwrap_or(Json::String(text));
        if status.is_success() {
            Ok(json)
        } else {
            let message = format!("{status}: {}", json["message"].as_str().unwrap_or(""));
            // 4xx: refused; 503: the api says nothing was done; 504 and the rest: unknown.
            if status.is_client_error() || status.as_u16() == 503 {
                Err(Failure::Definite(message))
            } else {
                Err(Failure::Maybe(message))
            }
        }
    }

    async fn set_add(&self, name: &str, element: i64, consistency: &str) -> Result<(), Failure> {
        match self {
            Api::Rest { .. } => {
                let path = format!("/sets/{name}?consistency={consistency}");
                let body = json!({ "element": element });
                self.rest(reqwest::Method::POST, &path, Some(body)).await?;
            }
            Api::Grpc { sets, .. } => {
                let request = proto::SetAddRequest {
                    name: name.into(),
                    element,
                    consistency: grpc_consistency(consistency),
                };
                sets.clone()
                    .add(request)
                    .await
                    .map_err(Failure::from_grpc)?;
            }
        }
        Ok(())
    }

    async fn set_read(&self, name: &str, consistency: &str) -> Result<Vec<i64>, Failure> {
        match self {
            Api::Rest { .. } => {
                let path = format!("/sets/{name}?consistency={consistency}");
                let reply = self.rest(reqwest::Method::GET, &path, None).await?;
                let elements = reply["elements"]
                    .as_array()
                    .ok_or_else(|| Failure::Maybe(format!("a set read answered {reply}")))?;
                Ok(elements.iter().filter_map(Json::as_i64).collect())
            }
            Api::Grpc { sets, .. } => {
                let request = proto::SetReadRequest {
                    name: name.into(),
                    consistency: grpc_consistency(consistency),
                };
                let reply = sets
                    .clone()
                    .read(request)
                    .await
                    .map_err(Failure::from_grpc)?;
                Ok(reply.into_inner().elements)
            }
        }
    }

    async fn counter_add(&self, name: &str, delta: i64, consistency: &str) -> Result<(), Failure> {
        match self {
            Api::Rest { .. } => {
                let path = format!("/counters/{name}?consistency={consistency}");
                let body = json!({ "delta": delta });
                self.rest(reqwest::Method::POST, &path, Some(body)).await?;
            }
            Api::Grpc { counters, .. } => {
                let request = proto::CounterAddRequest {
                    name: name.into(),
                    delta,
                    consistency: grpc_consistency(consistency),
                };
                counters
                    .clone()
                    .add(request)
                    .await
                    .map_err(Failure::from_grpc)?;
            }
        }
        Ok(())
    }

    async fn counter_read(&self, name: &str, consistency: &str) -> Result<i64, Failure> {
        match self {
            Api::Rest { .. } => {
                let path = format!("/counters/{name}?consistency={consistency}");
                let reply = self.rest(reqwest::Method::GET, &path, None).await?;
                reply["value"]
                    .as_i64()
                    .ok_or_else(|| Failure::Maybe(format!("a counter read answered {reply}")))
            }
            Api::Grpc { counters, .. } => {
                let request = proto::CounterReadRequest {
                    name: name.into(),
                    consistency: grpc_consistency(consistency),
                };
                let reply = counters
                    .clone()
                    .read(request)
                    .await
                    .map_err(Failure::from_grpc)?;
                Ok(reply.into_inner().value)
            }
        }
    }

    async fn get(&self, key: &str, consistency: &str) -> Result<Option<i64>, Failure> {
        match self {
            Api::Rest { .. } => {
                let path = format!("/kv/{key}?consistency={consistency}");
                Ok(self.rest(reqwest::Method::GET, &path, None).await?["value"].as_i64())
            }
            Api::Grpc { kv, .. } => {
                let request = proto::GetRequest {
                    key: key.into(),
                    consistency: grpc_consistency(consistency),
                };
                let reply = kv.clone().get(request).await.map_err(Failure::from_grpc)?;
                Ok(reply.into_inner().value)
            }
        }
    }

    async fn put(&self, key: &str, value: i64, consistency: &str) -> Result<(), Failure> {
        match self {
            Api::Rest { .. } => {
                let path = format!("/kv/{key}?consistency={consistency}");
                self.rest(reqwest::Method::PUT, &path, Some(json!({ "value": value })))
                    .await?;
            }
            Api::Grpc { kv, .. } => {
                let request = proto::PutRequest {
                    key: key.into(),
                    value,
                    consistency: grpc_consistency(consistency),
                };
                kv.clone().put(request).await.map_err(Failure::from_grpc)?;
            }
        }
        Ok(())
    }

    async fn cas(
        &self,
        key: &str,
        expected: Option<i64>,
        new: i64,
        consistency: &str,
    ) -> Result<bool, Failure> {
        match self {
            Api::Rest { .. } => {
                let path = format!("/kv/{key}/cas?consistency={consistency}");
                let reply = self
                    .rest(
                        reqwest::Method::POST,
                        &path,
                        Some(json!({ "expected": expected, "new": new })),
                    )
                    .await?;
                Ok(reply["swapped"] == Json::Bool(true))
            }
            Api::Grpc { kv, .. } => {
                let request = proto::CasRequest {
                    key: key.into(),
                    expected,
                    new,
                    consistency: grpc_consistency(consistency),
                };
                Ok(kv
                    .clone()
                    .cas(request)
                    .await
                    .map_err(Failure::from_grpc)?
                    .into_inner()
                    .swapped)
            }
        }
    }

    async fn open(&self, account: &str, balance: i64) -> Result<(), Failure> {
        match self {
            Api::Rest { .. } => {
                let body = json!({ "account": account, "balance": balance });
                self.rest(reqwest::Method::POST, "/bank/accounts", Some(body))
                    .await?;
            }
            Api::Grpc { bank, .. } => {
                let request = proto::OpenRequest {
                    account: account.into(),
                    balance,
                };
                bank.clone()
                    .open(request)
                    .await
                    .map_err(Failure::from_grpc)?;
            }
        }
        Ok(())
    }

    async fn transfer(&self, from: &str, to: &str, amount: i64) -> Result<bool, Failure> {
        match self {
            Api::Rest { .. } => {
                let body = json!({ "from": from, "to": to, "amount": amount });
                let reply = self
                    .rest(reqwest::Method::POST, "/bank/transfers", Some(body))
                    .await?;
                Ok(reply["done"] == Json::Bool(true))
            }
            Api::Grpc { bank, .. } => {
                let request = proto::TransferRequest {
                    from: from.into(),
                    to: to.into(),
                    amount,
                };
                Ok(bank
                    .clone()
                    .transfer(request)
                    .await
                    .map_err(Failure::from_grpc)?
                    .into_inner()
                    .done)
            }
        }
    }

    async fn balances(&self) -> Result<BTreeMap<String, i64>, Failure> {
        match self {
            Api::Rest { .. } => {
                let reply = self
                    .rest(reqwest::Method::GET, "/bank/balances", None)
                    .await?;
                let balances = reply["balances"].as_object().cloned().unwrap_or_default();
                Ok(balances
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, v.as_i64()?)))
                    .collect())
            }
            Api::Grpc { bank, .. } => {
                let reply = bank
                    .clone()
                    .balances(proto::BalancesRequest {})
                    .await
                    .map_err(Failure::from_grpc)?;
                Ok(reply.into_inner().balances.into_iter().collect())
            }
        }
    }
}

struct ServiceClient {
    api: Api,
    data: Data,
    consistency: &'static str,
    prefix: String,
}

impl ServiceClient {
    fn key(&self, op: &Invocation) -> String {
        let key = op
            .key
            .as_ref()
            .map_or_else(|| "0".to_string(), Value::to_string);
        format!("{}{key}", self.prefix)
    }

    async fn perform(&self, op: &Invocation) -> Result<Completion, Failure> {
        match self.data {
            // No service target lists a transactional workload; a `txn` is refused there as
            // unknown.
            Data::Registers | Data::Accounts | Data::Lists | Data::TxnRegisters => {
                self.perform_keyed(op).await
            }
            Data::Set => self.perform_on_set(op).await,
            Data::Counter => self.perform_on_counter(op).await,
        }
    }

    /// The set's name: one set per run.
    fn single(&self) -> String {
        format!("{}0", self.prefix)
    }

    async fn perform_on_set(&self, op: &Invocation) -> Result<Completion, Failure> {
        let (api, name, consistency) = (&self.api, self.single(), self.consistency);
        match op.f.as_str() {
            "add" => {
                let element = integer(&op.value, "an add")?;
                api.set_add(&name, element, consistency).await?;
                Ok(Completion::ok(op.value.clone()))
            }
            "read" | "final-read" => {
                let elements = api.set_read(&name, consistency).await?;
                Ok(Completion::ok(Value::Vector(
                    elements.into_iter().map(Value::Int).collect(),
                )))
            }
            f => Err(unsupported(f, "set")),
        }
    }

    async fn perform_on_counter(&self, op: &Invocation) -> Result<Completion, Failure> {
        let (api, name, consistency) = (&self.api, self.single(), self.consistency);
        match op.f.as_str() {
            "add" => {
                let delta = integer(&op.value, "an add")?;
                api.counter_add(&name, delta, consistency).await?;
                Ok(Completion::ok(op.value.clone()))
            }
            "read" | "final-read" => {
                let value = api.counter_read(&name, consistency).await?;
                Ok(Completion::ok(Value::Int(value)))
            }
            f => Err(unsupported(f, "counter")),
        }
    }

    async fn perform_keyed(&self, op: &Invocation) -> Result<Completion, Failure> {
        let int = |v: &Value| v.as_int();
        match op.f.as_str() {
            "read" | "final-read" if op.key.is_some() => {
                let value = self.api.get(&self.key(op), self.consistency).await?;
                Ok(Completion::ok(value.map_or(Value::Nil, Value::Int)))
            }
            "write" => {
                let value = int(&op.value).ok_or_else(|| {
                    Failure::Definite(format!("a write takes an integer, not {}", op.value))
                })?;
                self.api.put(&self.key(op), value, self.consistency).await?;
                Ok(Completion::ok(op.value.clone()))
            }
            "cas" => {
                let Some([old, new]) = op.value.as_seq() else {
                    return Err(Failure::Definite(format!(
                        "expected [old new] for :cas, got {}",
                        op.value
                    )));
                };
                let new = int(new)
                    .ok_or_else(|| Failure::Definite(format!("cas sets an integer, not {new}")))?;
                let swapped = self
                    .api
                    .cas(&self.key(op), int(old), new, self.consistency)
                    .await?;
                Ok(if swapped {
                    Completion::ok(op.value.clone())
                } else {
                    Completion::fail(op.value.clone(), "cas-mismatch")
                })
            }
            "transfer" => {
                let field = |name: &str| op.value.get(name).and_then(Value::as_int);
                let (Some(from), Some(to), Some(amount)) =
                    (field("from"), field("to"), field("amount"))
                else {
                    return Err(Failure::Definite(format!(
                        "expected {{:from :to :amount}}, got {}",
                        op.value
                    )));
                };
                let (from, to) = (
                    format!("{}{from}", self.prefix),
                    format!("{}{to}", self.prefix),
                );
                let done = self.api.transfer(&from, &to, amount).await?;
                Ok(if done {
                    Completion::ok(op.value.clone())
                } else {
                    Completion::fail(op.value.clone(), "insufficient-funds")
                })
            }
            "read" | "final-read" => {
                let balances = self.api.balances().await?;
                // Only this run's accounts, under their names in the workload.
                let ours = balances
                    .into_iter()
                    .filter_map(|(name, balance)| {
                        let account: i64 = name.strip_prefix(&self.prefix)?.parse().ok()?;
                        Some((Value::Int(account), Value::Int(balance)))
                    })
                    .collect();
                Ok(Completion::ok(Value::Map(ours)))
            }
            f => Err(unsupported(f, "register or bank")),
        }
    }
}

/// An operation's integer value, or why not.
fn integer(value: &Value, what: &str) -> Result<i64, Failure> {
    value
        .as_int()
        .ok_or_else(|| Failure::Definite(format!("{what} takes an integer, not {value}")))
}

/// An operation the workload's data does not have.
fn unsupported(f: &str, data: &str) -> Failure {
    Failure::Definite(format!(
        "the system target does not perform :{f} on a {data}"
    ))
}

#[async_trait]
impl Client for ServiceClient {
    async fn invoke(&self, op: &Invocation) -> Completion {
        match self.perform(op).await {
            Ok(done) => done,
            Err(Failure::Definite(why)) => Completion::fail(op.value.clone(), &why),
            Err(Failure::Maybe(why)) => Completion::info(op.value.clone(), &why),
        }
    }
}

//! The REST front end (axum), with its OpenAPI 3 document generated from these handlers
//! (utoipa) and served at `/openapi.json`; `/metrics`, `/healthz`, `/readyz`, `/cluster` and
//! `/debug/pprof/profile` (a CPU flame graph, [`crate::profile`]) beside it.
//!
//! Every error is a JSON body `{"error": kind, "message": text}`: 4xx for the caller's mistakes
//! (malformed JSON, wrong types, unknown fields, bodies over the limit, bad keys, amounts or
//! consistency names), 404 for unknown accounts, 503 when nothing happened, 504 when it may have.

use crate::app::{App, Readiness};
use crate::bank::Transferred;
use crate::discovery::Instance;
use crate::kv::{Consistency, Outcome, Swap};
use crate::limits::MAX_BODY_BYTES;
use crate::ServiceError;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The error body of every failed request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Its kind: invalid, not-found, conflict, unavailable, indeterminate.
    pub error: String,
    /// What was wrong, in words.
    pub message: String,
}

/// A handler's failure: a status and an [`ErrorBody`].
pub struct Failure(StatusCode, ErrorBody);

impl From<ServiceError> for Failure {
    fn from(e: ServiceError) -> Failure {
        Failure(
            e.status(),
            ErrorBody {
                error: e.kind().into(),
                message: e.to_string(),
            },
        )
    }
}

impl From<JsonRejection> for Failure {
    fn from(e: JsonRejection) -> Failure {
        // 400 malformed, 413 too large, 415 not JSON, 422 wrong types or unknown fields.
        Failure(
            e.status(),
            ErrorBody {
                error: "invalid".into(),
                message: e.body_text(),
            },
        )
    }
}

impl From<QueryRejection> for Failure {
    fn from(e: QueryRejection) -> Failure {
        Failure(
            StatusCode::BAD_REQUEST,
            ErrorBody {
                error: "invalid".into(),
                message: e.body_text(),
            },
        )
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

type Reply<T> = Result<Json<T>, Failure>;

/// The `?consistency=` of a key-value request.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// strong, eventual or async (default: the instance's live default).
    #[param(value_type = Option<Consistency>)]
    pub consistency: Option<String>,
}

/// The `?consistency=` of a compare-and-set, for the document only (the handler reads a
/// [`ConsistencyQuery`] and refuses `async` with a reason): a queued write cannot compare.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CasConsistencyQuery {
    /// strong or eventual (default: the instance's live default).
    #[param(value_type = Option<CasConsistency>)]
    pub consistency: Option<String>,
}

/// The consistencies a compare-and-set is offered in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum CasConsistency {
    /// PostgreSQL, SERIALIZABLE.
    Strong,
    /// Cassandra: a read, then a write.
    Eventual,
}

/// An integer of a JSON body: JSON Schema's `integer` takes `7.0` as well as `7`, so the api does
/// too; `7.5`, or a number beyond `i64`, is refused.
fn integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let number = serde_json::Number::deserialize(d)?;
    if let Some(n) = number.as_i64() {
        return Ok(n);
    }
    // Only where a double holds every integer exactly (|n| <= 2^53): a larger one may be a
    // rounded value beyond i64 (-9223372036854775809 parses as -2^63).
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match number.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() <= EXACT => Ok(f as i64),
        _ => Err(serde::de::Error::custom(format!(
            "expected a 64-bit integer, got {number}"
        ))),
    }
}

/// [`integer`], or null.
fn optional_integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "integer")] i64);
    Ok(Option::<Wrapped>::deserialize(d)?.map(|Wrapped(n)| n))
}

impl ConsistencyQuery {
    fn parse(
        query: Result<Query<ConsistencyQuery>, QueryRejection>,
    ) -> Result<Option<Consistency>, Failure> {
        let Query(query) = query?;
        Ok(query
            .consistency
            .as_deref()
            .map(Consistency::parse)
            .transpose()?)
    }
}

/// A key's value.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ValueBody {
    /// The key.
    pub key: String,
    /// Its value, or null when it has none (under vector clocks, the largest sibling).
    pub value: Option<i64>,
    /// Under vector clocks, every concurrent version's value when writes to the key conflicted
    /// (two or more); absent otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub siblings: Vec<i64>,
}

/// A write.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutBody {
    /// The new value.
    #[serde(deserialize_with = "integer")]
    pub value: i64,
}

/// What a write did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PutReply {
    /// applied, or accepted (async: a worker applies it later).
    pub outcome: Outcome,
}

/// A compare-and-set.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CasBody {
    /// The value the key must hold (null: the key must be absent).
    #[serde(default, deserialize_with = "optional_integer")]
    pub expected: Option<i64>,
    /// The value to set.
    #[serde(deserialize_with = "integer")]
    pub new: i64,
}

/// An account to open.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    /// Its name: 1 to 64 of A-Z a-z 0-9 _ -.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub account: String,
    /// Its opening balance, 0 to 10^12.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    #[serde(deserialize_with = "integer")]
    pub balance: i64,
}

/// A transfer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// The account paying.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub from: String,
    /// The account paid.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub to: String,
    /// How much: 1 to 10^12.
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64)]
    #[serde(deserialize_with = "integer")]
    pub amount: i64,
}

/// Every balance.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BalancesBody {
    /// Account name to balance.
    pub balances: BTreeMap<String, i64>,
}

/// Every committed transfer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransfersBody {
    /// In commit order of their ids.
    pub transfers: Vec<crate::strong::Transfer>,
}

/// One entry of an account's activity timeline.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    /// The transfer's id.
    pub transfer: i64,
    /// What it did to the account's balance (negative: paid out).
    pub amount: i64,
}

/// An account's activity timeline.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TimelineBody {
    /// The account.
    pub account: String,
    /// Its entries, by transfer id.
    pub entries: Vec<TimelineEntry>,
}

/// The live instances, as etcd has them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClusterBody {
    /// This instance's name.
    pub me: String,
    /// Every instance holding a lease.
    pub instances: Vec<Instance>,
    /// The etcd revision of the live settings this instance applies.
    pub config_revision: i64,
    /// The live settings it applies.
    pub default_consistency: Consistency,
    /// How it resolves eventual and async writes to one key: wall, hlc or vector.
    pub conflict_policy: String,
    /// The requests per second it serves (0: no limit).
    pub rate_limit: u32,
}

#[utoipa::path(get, path = "/kv/{key}", params(("key" = String, Path, description = "1 to 256 characters, no control characters", pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]{1,256}$"), ConsistencyQuery),
    responses((status = 200, body = ValueBody), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
async fn get_key(
    State(app): State<Arc<App>>,
    Path(key): Path<String>,
    query: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Reply<ValueBody> {
    let read = app.get(&key, ConsistencyQuery::parse(query)?).await?;
    Ok(Json(ValueBody {
        key,
        value: read.value,
        siblings: read.siblings,
    }))
}

#[utoipa::path(put, path = "/kv/{key}", params(("key" = String, Path, description = "1 to 256 characters, no control characters", pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]{1,256}$"), ConsistencyQuery),
    request_body = PutBody,
    responses((status = 200, body = PutReply), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
async fn put_key(
    State(app): State<Arc<App>>,
    Path(key): Path<String>,
    query: Result<Query<ConsistencyQuery>, QueryRejection>,
    body: Result<Json<PutBody>, JsonRejection>,
) -> Reply<PutReply> {
    let consistency = ConsistencyQuery::parse(query)?;
    let Json(body) = body?;
    let outcome = app.put(&key, body.value, consistency).await?;
    Ok(Json(PutReply { outcome }))
}

#[utoipa::path(post, path = "/kv/{key}/cas", params(("key" = String, Path, description = "1 to 256 characters, no control characters", pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]{1,256}$"), CasConsistencyQuery),
    request_body = CasBody,
    responses((status = 200, body = Swap), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
async fn cas_key(
    State(app): State<Arc<App>>,
    Path(key): Path<String>,
    query: Result<Query<ConsistencyQuery>, QueryRejection>,
    body: Result<Json<CasBody>, JsonRejection>,
) -> Reply<Swap> {
    let consistency = ConsistencyQuery::parse(query)?;
    let Json(body) = body?;
    Ok(Json(
        app.cas(&key, body.expected, body.new, consistency).await?,
    ))
}

/// An element to add to a set.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAddBody {
    /// The element.
    #[serde(deserialize_with = "integer")]
    pub element: i64,
}

/// A set's elements.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SetBody {
    /// The set.
    pub name: String,
    /// Its elements, in order.
    pub elements: Vec<i64>,
}

/// An increment of a counter.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterAddBody {
    /// How much: -10^12 to 10^12.
    #[schema(minimum = -1_000_000_000_000_i64, maximum = 1_000_000_000_000_i64)]
    #[serde(deserialize_with = "integer")]
    pub delta: i64,
}

/// A counter's value.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CounterBody {
    /// The counter.
    pub name: String,
    /// Its value (0 before any increment).
    pub value: i64,
}

#[utoipa::path(get, path = "/sets/{name}", params(("name" = String, Path, description = "1 to 256 characters, no control characters", pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]{1,256}$"), ConsistencyQuery),
    responses((status = 200, body = SetBody), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
async fn read_set(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    query: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Reply<SetBody> {
    let elements = app.set_read(&name, ConsistencyQuery::parse(query)?).await?;
    Ok(Json(SetBody { name, elements }))
}

#[utoipa::path(post, path = "/sets/{name}", params(("name" = String, Path, description = "1 to 256 characters, no control characters", pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]{1,256}$"), ConsistencyQuery),
    request_body = SetAddBody,
    responses((status = 200, body = PutReply), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
async fn add_to_set(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    query: Result<Query<ConsistencyQuery>, QueryRejection>,
    body: Result<Json<SetAddBody>, JsonRejection>,
) -> Reply<PutReply> {
    let consistency = ConsistencyQuery::parse(query)?;
    let Json(body) = body?;
    let outcome = app.set_add(&name, body.element, consistency).await?;
    Ok(Json(PutReply { outcome }))
}

#[utoipa::path(get, path = "/counters/{name}", params(("name" = String, Path, description = "1 to 256 characters, no control characters", pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]{1,256}$"), ConsistencyQuery),
    responses((status = 200, body = CounterBody), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
async fn read_counter(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    query: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Reply<CounterBody> {
    let value = app
        .counter_read(&name, ConsistencyQuery::parse(query)?)
        .await?;
    Ok(Json(CounterBody { name, value }))
}

#[utoipa::path(post, path = "/counters/{name}", params(("name" = String, Path, description = "1 to 256 characters, no control characters", pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]{1,256}$"), ConsistencyQuery),
    request_body = CounterAddBody,
    responses((status = 200, body = PutReply), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
async fn add_to_counter(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    query: Result<Query<ConsistencyQuery>, QueryRejection>,
    body: Result<Json<CounterAddBody>, JsonRejection>,
) -> Reply<PutReply> {
    let consistency = ConsistencyQuery::parse(query)?;
    let Json(body) = body?;
    let outcome = app.counter_add(&name, body.delta, consistency).await?;
    Ok(Json(PutReply { outcome }))
}

#[utoipa::path(post, path = "/bank/accounts", request_body = OpenBody,
    responses((status = 201, description = "opened"), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
async fn open_account(
    State(app): State<Arc<App>>,
    body: Result<Json<OpenBody>, JsonRejection>,
) -> Result<StatusCode, Failure> {
    let Json(body) = body?;
    app.open(&body.account, body.balance).await?;
    Ok(StatusCode::CREATED)
}

#[utoipa::path(post, path = "/bank/transfers", request_body = TransferBody,
    responses((status = 200, body = Transferred), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
async fn transfer(
    State(app): State<Arc<App>>,
    body: Result<Json<TransferBody>, JsonRejection>,
) -> Reply<Transferred> {
    let Json(body) = body?;
    Ok(Json(app.transfer(&body.from, &body.to, body.amount).await?))
}

#[utoipa::path(get, path = "/bank/balances",
    responses((status = 200, body = BalancesBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
async fn balances(State(app): State<Arc<App>>) -> Reply<BalancesBody> {
    Ok(Json(BalancesBody {
        balances: app.balances().await?,
    }))
}

#[utoipa::path(get, path = "/bank/transfers",
    responses((status = 200, body = TransfersBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
async fn transfers(State(app): State<Arc<App>>) -> Reply<TransfersBody> {
    Ok(Json(TransfersBody {
        transfers: app.transfers().await?,
    }))
}

#[utoipa::path(get, path = "/bank/timeline/{account}", params(("account" = String, Path, description = "an account name", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses((status = 200, body = TimelineBody), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn timeline(State(app): State<Arc<App>>, Path(account): Path<String>) -> Reply<TimelineBody> {
    let entries = app
        .timeline(&account)
        .await?
        .into_iter()
        .map(|(transfer, amount)| TimelineEntry { transfer, amount })
        .collect();
    Ok(Json(TimelineBody { account, entries }))
}

/// The async writes not applied yet (`GET /queue`).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueBody {
    /// Writes accepted into Kafka that the workers have not yet applied to Cassandra.
    pub pending: i64,
}

#[utoipa::path(get, path = "/queue",
    responses((status = 200, body = QueueBody), (status = 503, body = ErrorBody)))]
async fn queue(State(app): State<Arc<App>>) -> Reply<QueueBody> {
    Ok(Json(QueueBody {
        pending: app.queue.pending().await?,
    }))
}

#[utoipa::path(get, path = "/cluster",
    responses((status = 200, body = ClusterBody), (status = 503, body = ErrorBody)))]
async fn cluster(State(app): State<Arc<App>>) -> Reply<ClusterBody> {
    Ok(Json(ClusterBody {
        me: app.settings.name.clone(),
        instances: app.discovery.members().await?,
        config_revision: app.live.revision(),
        default_consistency: app.live.default_consistency(),
        conflict_policy: app.live.policy().name().into(),
        rate_limit: app.live.rate_limit(),
    }))
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "the process serves")))]
async fn healthz() -> &'static str {
    "ok\n"
}

#[utoipa::path(get, path = "/readyz",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
async fn readyz(State(app): State<Arc<App>>) -> Response {
    let readiness = app.readiness().await;
    let status = if readiness.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness)).into_response()
}

#[utoipa::path(get, path = "/metrics",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
        .into_response()
}

#[utoipa::path(get, path = "/debug/pprof/profile", params(crate::profile::Request),
    responses(
        (status = 200, description = "a flame graph (image/svg+xml) or folded stacks (text/plain)"),
        (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn profile(query: Result<Query<crate::profile::Request>, QueryRejection>) -> Response {
    use crate::profile::{take, ProfileError};
    let request = match query {
        Ok(Query(request)) => request,
        Err(e) => return Failure::from(e).into_response(),
    };
    match take(&request).await {
        Ok(body) => (
            [(header::CONTENT_TYPE, request.format.content_type())],
            body,
        )
            .into_response(),
        Err(e) => {
            let (status, kind) = match e {
                ProfileError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
                ProfileError::Busy => (StatusCode::CONFLICT, "conflict"),
                ProfileError::Failed(_) => (StatusCode::INTERNAL_SERVER_ERROR, "failed"),
            };
            let body = ErrorBody {
                error: kind.into(),
                message: e.to_string(),
            };
            Failure(status, body).into_response()
        }
    }
}

/// The OpenAPI document of this API.
#[derive(OpenApi)]
#[openapi(
    modifiers(&RateLimited),
    info(
        title = "lab service",
        description = "The service system under test: key-value requests, grow-only sets and counters in three consistencies, and a bank with a transactional outbox."
    ),
    paths(
        get_key,
        put_key,
        cas_key,
        read_set,
        add_to_set,
        read_counter,
        add_to_counter,
        open_account,
        transfer,
        transfers,
        timeline,
        balances,
        queue,
        cluster,
        healthz,
        readyz,
        metrics,
        profile
    ),
    components(schemas(
        ErrorBody,
        CasConsistency,
        ValueBody,
        PutBody,
        PutReply,
        Outcome,
        CasBody,
        Swap,
        SetAddBody,
        SetBody,
        CounterAddBody,
        CounterBody,
        OpenBody,
        TransferBody,
        Transferred,
        BalancesBody,
        TransfersBody,
        crate::strong::Transfer,
        TimelineEntry,
        TimelineBody,
        ClusterBody,
        QueueBody,
        Instance,
        Consistency,
        Readiness,
        crate::profile::Format
    ))
)]
pub struct ApiDoc;

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        ApiDoc::openapi().to_json().unwrap_or_default(),
    )
        .into_response()
}

/// Counts each request under its route (not its path: keys would make labels unbounded).
async fn track(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = format!("{} {route}", request.method());
    let response = next.run(request).await;
    app.metrics
        .request("http", &method, response.status().as_str(), started);
    response
}

/// The REST router of an api instance: the operations and [`operations_router`]'s routes.
pub fn router(app: Arc<App>) -> Router {
    let routes = Router::new()
        .route("/kv/{key}", get(get_key).put(put_key))
        .route("/kv/{key}/cas", post(cas_key))
        .route("/sets/{name}", get(read_set).post(add_to_set))
        .route("/counters/{name}", get(read_counter).post(add_to_counter))
        .route("/bank/accounts", post(open_account))
        .route("/bank/transfers", post(transfer).get(transfers))
        .route("/bank/timeline/{account}", get(timeline))
        .route("/bank/balances", get(balances))
        .route("/queue", get(queue))
        // The operations above, not the ones below: a probe or a scrape is never refused.
        .route_layer(middleware::from_fn_with_state(app.clone(), admit))
        .merge(operations());
    finish(routes, app)
}

/// Refuses a request over the instance's rate limit (429) before it reaches a store.
async fn admit(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    match app.live.admit() {
        Ok(()) => next.run(request).await,
        Err(e) => Failure::from(e).into_response(),
    }
}

/// Adds the rate limit's 429 to every operation of the document but the operational ones.
struct RateLimited;

impl utoipa::Modify for RateLimited {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let refused = ResponseBuilder::new()
            .description("over the instance's rate limit (the live setting rate-limit)")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            if OPERATIONAL.contains(&path.as_str()) {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                operation
                    .responses
                    .responses
                    .insert("429".into(), refused.clone().into());
            }
        }
    }
}

/// The routes no rate limit refuses.
const OPERATIONAL: &[&str] = &[
    "/cluster",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/debug/pprof/profile",
];

/// The routes every instance serves, workers too: `/cluster`, `/healthz`, `/readyz`,
/// `/metrics`, `/openapi.json`, `/debug/pprof/profile`.
pub fn operations_router(app: Arc<App>) -> Router {
    finish(operations(), app)
}

fn operations() -> Router<Arc<App>> {
    Router::new()
        .route("/cluster", get(cluster))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/debug/pprof/profile", get(profile))
}

/// Metrics and the body limit on every route, and the instance as their state.
fn finish(routes: Router<Arc<App>>, app: Arc<App>) -> Router {
    routes
        .layer(middleware::from_fn_with_state(app.clone(), track))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::{ApiDoc, CasBody, PutBody};
    use crate::limits::{ACCOUNT_PATTERN, KEY_PATTERN};
    use utoipa::OpenApi;

    /// The document's patterns are the ones `limits` checks, so that a fuzzer generating from the
    /// document sends what the api accepts (the literals in the attributes above must follow).
    #[test]
    fn the_documents_patterns_are_the_limits_patterns() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("a document");
        let key = &doc["paths"]["/kv/{key}"]["get"]["parameters"][0]["schema"]["pattern"];
        assert_eq!(key, KEY_PATTERN);
        let account = &doc["components"]["schemas"]["OpenBody"]["properties"]["account"]["pattern"];
        assert_eq!(account, ACCOUNT_PATTERN);
        let path =
            &doc["paths"]["/bank/timeline/{account}"]["get"]["parameters"][0]["schema"]["pattern"];
        assert_eq!(path, ACCOUNT_PATTERN);
        let consistency = &doc["paths"]["/kv/{key}"]["get"]["parameters"][1]["schema"];
        assert!(
            consistency.to_string().contains("Consistency"),
            "{consistency}"
        );
        let cas = &doc["paths"]["/kv/{key}/cas"]["post"]["parameters"][1]["schema"];
        assert!(cas.to_string().contains("CasConsistency"), "{cas}");
        assert!(doc["paths"]["/sets/{name}"]["post"]["responses"]["429"].is_object());
        assert!(doc["paths"]["/metrics"]["get"]["responses"]["429"].is_null());
    }

    #[test]
    fn integers_may_be_written_as_integral_floats_and_nothing_else() {
        let put = |body: &str| serde_json::from_str::<PutBody>(body).map(|b| b.value);
        assert_eq!(put(r#"{"value": 7}"#).unwrap(), 7);
        assert_eq!(put(r#"{"value": -1670154881.0}"#).unwrap(), -1_670_154_881);
        assert!(put(r#"{"value": 7.5}"#)
            .unwrap_err()
            .to_string()
            .contains("7.5"));
        assert!(put(r#"{"value": 1e19}"#).is_err(), "beyond i64");
        assert!(
            put(r#"{"value": -9223372036854775809}"#).is_err(),
            "rounds to i64::MIN"
        );
        assert_eq!(put(r#"{"value": -9223372036854775808}"#).unwrap(), i64::MIN);
        assert!(put(r#"{"value": "7"}"#).is_err());
        let cas = |body: &str| serde_json::from_str::<CasBody>(body).map(|b| (b.expected, b.new));
        assert_eq!(cas(r#"{"expected": null, "new": 2.0}"#).unwrap(), (None, 2));
        assert_eq!(cas(r#"{"new": 2}"#).unwrap(), (None, 2));
        assert_eq!(cas(r#"{"expected": 1.0, "new": 2}"#).unwrap(), (Some(1), 2));
    }
}

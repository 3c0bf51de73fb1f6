//! The outbox relay: one worker at a time, elected through etcd, publishes the bank's committed
//! events from PostgreSQL's outbox to [`TRANSFERS`], in batches.
//!
//! **Fencing.** A leader is only as current as its lease: paused (SIGSTOP) or cut off past its
//! TTL, it is deposed while it still believes it leads, as Jepsen's etcd 3.4.3 analysis showed for
//! lease-based locks. So every batch is fenced twice by the leadership's token (the etcd
//! revision of its election key, larger for every new leader):
//! - in PostgreSQL, the batch's transaction first raises `service.relay_fence` to the token and
//!   gives up if a newer leader's token is already there;
//! - in Kafka, the batch is one transaction of a producer whose `transactional.id` every leader
//!   shares, so a new leader's `init_transactions` fences the old producer: its batch is aborted
//!   and consumers reading committed messages never see it.
//!
//! A batch published but not marked (the leader died between the two) is published again by the
//! next leader; the timeline's consumer is idempotent, so each transfer appears there once.
//! `--no-fencing` turns both fences off, to show what they prevent.

use crate::app::App;
use crate::bank::TransferEvent;
use crate::queue::TRANSFERS;
use crate::ServiceError;
use etcd_client::ResignOptions;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The election's name in etcd.
pub const ELECTION: &str = "/lab/election/outbox-relay";
/// The Kafka transactional id all relay leaders share (so each new one fences the last).
pub const TRANSACTIONAL_ID: &str = "service-outbox-relay";
/// Events per batch.
const BATCH: i64 = 100;

/// Campaigns for the relay and, while leading, publishes batches; until `stop`.
pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        if let Err(e) = lead(&app, &mut stop).await {
            eprintln!("{}: outbox relay: {e}", app.settings.name);
        }
        app.metrics.relay_leader.set(0);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.changed() => {}
        }
    }
}

/// One term: campaign, then lead until the lease is lost (Err) or `stop` (Ok).
async fn lead(app: &App, stop: &mut watch::Receiver<bool>) -> Result<(), ServiceError> {
    let etcd = |e: etcd_client::Error| ServiceError::Unavailable(format!("etcd: {e}"));
    let name = app.settings.name.clone();
    let mut client = app.discovery.client().await?;
    let ttl = app.discovery.ttl;
    let lease = client.lease_grant(ttl, None).await.map_err(etcd)?.id();
    // The lease is renewed by a task of its own, so that a slow batch cannot starve it.
    let (lost_tx, mut lost) = watch::channel(false);
    let renewing = tokio::spawn(keep_alive(
        client.clone(),
        lease,
        ttl,
        app.settings.deadline(),
        lost_tx,
    ));
    let _stop_renewing = AbortOnDrop(renewing);

    // Campaign (a campaign waits as long as another leads).
    let mut campaigner = app.discovery.waiting_client().await?;
    let campaign = campaigner.campaign(ELECTION, name.clone(), lease);
    tokio::pin!(campaign);
    let won = tokio::select! {
        won = &mut campaign => won.map_err(etcd)?,
        _ = lost.changed() => return Err(ServiceError::Unavailable("the relay's lease is lost".into())),
        _ = stop.changed() => return Ok(()),
    };
    let leader = won
        .leader()
        .cloned()
        .ok_or_else(|| ServiceError::Unavailable("etcd named no leader".into()))?;
    let token = leader.rev();
    let fencing = !app.settings.no_fencing;
    eprintln!(
        "{name}: leads the outbox relay, token {token}, fencing {}",
        if fencing { "on" } else { "off" }
    );
    app.metrics.relay_leader.set(1);
    let producer = producer(app, fencing).await?;

    let mut publish = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = lost.changed() => return Err(ServiceError::Unavailable("the relay's lease is lost".into())),
            _ = publish.tick() => match publish_batch(app, &producer, token, fencing).await {
                Ok(()) => {}
                Err(Batch::Deposed(why)) => return Err(ServiceError::Unavailable(why)),
                Err(Batch::Failed(e)) => eprintln!("{name}: a batch failed: {e}"),
            },
            _ = stop.changed() => {
                let _ = client.resign(Some(ResignOptions::new().with_leader(leader))).await;
                return Ok(());
            }
        }
    }
}

/// Renews `lease` three times a TTL until it fails, then says so on `lost`.
async fn keep_alive(
    mut client: etcd_client::Client,
    lease: i64,
    ttl: i64,
    deadline: Duration,
    lost: watch::Sender<bool>,
) {
    let Ok((mut keeper, mut renewals)) = client.lease_keep_alive(lease).await else {
        let _ = lost.send(true);
        return;
    };
    let mut renew = tokio::time::interval(Duration::from_millis((ttl * 1000 / 3) as u64));
    loop {
        renew.tick().await;
        let renewed = keeper.keep_alive().await.is_ok()
            && matches!(
                tokio::time::timeout(deadline, renewals.message()).await,
                Ok(Ok(Some(r))) if r.ttl() > 0
            );
        if !renewed {
            let _ = lost.send(true);
            return;
        }
    }
}

/// Aborts a task when dropped (the lease stops being renewed when the term ends).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The leader's producer: transactional (fenced by the next leader) unless fencing is off.
async fn producer(app: &App, fencing: bool) -> Result<FutureProducer, ServiceError> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &app.settings.kafka)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", app.settings.deadline_ms.to_string());
    if fencing {
        config.set("transactional.id", TRANSACTIONAL_ID);
    }
    let producer: FutureProducer = config
        .create()
        .map_err(|e| ServiceError::Invalid(format!("the relay's producer: {e}")))?;
    if fencing {
        let deadline = app.settings.deadline() * 5;
        let p = producer.clone();
        tokio::task::spawn_blocking(move || p.init_transactions(deadline))
            .await
            .map_err(|e| ServiceError::Unavailable(e.to_string()))?
            .map_err(|e| ServiceError::Unavailable(format!("Kafka init_transactions: {e}")))?;
    }
    Ok(producer)
}

/// Why a batch did not go out.
enum Batch {
    /// A newer leader's token is in the store, or Kafka fenced this producer: stop leading.
    Deposed(String),
    /// Something to retry with the next batch.
    Failed(String),
}

impl From<tokio_postgres::Error> for Batch {
    fn from(e: tokio_postgres::Error) -> Batch {
        Batch::Failed(match e.as_db_error() {
            Some(db) => format!("PostgreSQL ({}): {}", db.code().code(), db.message()),
            None => format!("PostgreSQL: {e}"),
        })
    }
}

/// Publishes the oldest unpublished events and marks them, fenced by `token`.
async fn publish_batch(
    app: &App,
    producer: &FutureProducer,
    token: i64,
    fencing: bool,
) -> Result<(), Batch> {
    let mut conn = app
        .strong
        .connection()
        .await
        .map_err(|e| Batch::Failed(e.to_string()))?;
    // READ COMMITTED, not the sessions' SERIALIZABLE default (`strong::SESSION_OPTIONS`): the
    // outbox's rows are locked FOR UPDATE, and a serializable read of the whole backlog would
    // only abort transfers that insert into it meanwhile.
    let tx = conn
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::ReadCommitted)
        .start()
        .await?;
    // A leader paused inside a batch must not hold the outbox's locks forever.
    tx.batch_execute("SET LOCAL idle_in_transaction_session_timeout = '3s'")
        .await?;
    if fencing {
        let raised = tx
            .execute(
                "UPDATE service.relay_fence SET epoch = $1 WHERE id = 1 AND epoch <= $1",
                &[&token],
            )
            .await?;
        if raised == 0 {
            return Err(Batch::Deposed(format!(
                "a newer leader fenced token {token} out"
            )));
        }
    }
    let rows = tx
        .query(
            "SELECT id, event::text FROM service.outbox WHERE published_epoch IS NULL ORDER BY id LIMIT $1 FOR UPDATE",
            &[&BATCH],
        )
        .await?;
    if rows.is_empty() {
        app.metrics.outbox_backlog.set(0);
        return Ok(tx.commit().await?);
    }
    app.metrics.relay_in_flight.set(rows.len() as i64);
    if app.settings.relay_hold_ms > 0 {
        tokio::time::sleep(Duration::from_millis(app.settings.relay_hold_ms)).await;
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut event: TransferEvent = serde_json::from_str(row.get(1))
            .map_err(|e| Batch::Failed(format!("an outbox event: {e}")))?;
        event.publisher = Some(app.settings.name.clone());
        event.epoch = Some(token);
        events.push(event);
    }
    let sent = send(app, producer, &events, fencing).await;
    app.metrics.relay_in_flight.set(0);
    sent?;
    tx.execute(
        "UPDATE service.outbox SET published_epoch = $1 WHERE id = ANY($2)",
        &[&token, &ids],
    )
    .await?;
    // Counted inside the batch's transaction (which sees its own marks) and at its isolation.
    let backlog: i64 = tx
        .query_one(
            "SELECT count(*) FROM service.outbox WHERE published_epoch IS NULL",
            &[],
        )
        .await?
        .get(0);
    tx.commit().await?;
    app.metrics.outbox_backlog.set(backlog);
    Ok(())
}

/// Produces `events`, in one Kafka transaction when fencing.
async fn send(
    app: &App,
    producer: &FutureProducer,
    events: &[TransferEvent],
    fencing: bool,
) -> Result<(), Batch> {
    let deadline = app.settings.deadline();
    let fenced = |what: &str, e: rdkafka::error::KafkaError| {
        let text = format!("Kafka {what}: {e}");
        match e.rdkafka_error_code() {
            Some(rdkafka::types::RDKafkaErrorCode::Fenced)
            | Some(rdkafka::types::RDKafkaErrorCode::ProducerFenced)
            | Some(rdkafka::types::RDKafkaErrorCode::InvalidProducerEpoch) => Batch::Deposed(text),
            _ => Batch::Failed(text),
        }
    };
    if fencing {
        producer
            .begin_transaction()
            .map_err(|e| fenced("begin", e))?;
    }
    // Every event is queued at once and then awaited: one round trip for the batch, not one per
    // event (on brokers just started, 100 sequential acks took 10 s). The idempotent producer
    // keeps each partition's order.
    let mut result = Ok(());
    let mut deliveries = Vec::with_capacity(events.len());
    for event in events {
        let payload = serde_json::to_vec(event).map_err(|e| Batch::Failed(e.to_string()))?;
        let key = event.id.to_string();
        let record = FutureRecord::to(TRANSFERS).key(&key).payload(&payload);
        match producer.send_result(record) {
            Ok(delivery) => deliveries.push(delivery),
            Err((e, _)) => {
                result = Err(fenced("produce", e));
                break;
            }
        }
    }
    for delivery in deliveries {
        let delivered = match tokio::time::timeout(deadline, delivery).await {
            Ok(Ok(Ok(_))) => Ok(()),
            Ok(Ok(Err((e, _)))) => Err(fenced("produce", e)),
            Ok(Err(_)) => Err(Batch::Failed("Kafka dropped a queued event".into())),
            Err(_) => Err(Batch::Failed(
                "Kafka did not confirm an event in time".into(),
            )),
        };
        match delivered {
            Ok(()) => app.metrics.produced(TRANSFERS, "ok"),
            Err(e) => {
                app.metrics.produced(TRANSFERS, "error");
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
    }
    if fencing {
        let p = producer.clone();
        let ended = tokio::task::spawn_blocking(move || match result {
            Ok(()) => p
                .commit_transaction(deadline)
                .map_err(|e| fenced("commit", e)),
            Err(e) => {
                let _ = p.abort_transaction(deadline);
                Err(e)
            }
        })
        .await
        .map_err(|e| Batch::Failed(e.to_string()))?;
        return ended;
    }
    result
}

//! Coordination through etcd: every instance registers under a lease (`/lab/instances/<role>/
//! <name>`, its addresses as JSON), renews it while it runs and revokes it when it stops, and
//! watches the live settings ([`crate::live`]). An instance that stops renewing (killed, paused,
//! cut off) leaves discovery when its lease expires.

use crate::live::{Applied, Live, PREFIX};
use crate::metrics::Metrics;
use crate::ServiceError;
use etcd_client::{Client, ConnectOptions, EventType, GetOptions, PutOptions, WatchOptions};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The prefix of the registered instances.
pub const INSTANCES: &str = system::names::INSTANCES_PREFIX;

/// One live instance, as it registers itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Instance {
    /// `api` or `worker`.
    pub role: String,
    /// Its name, unique among the live instances.
    pub name: String,
    /// Where it serves HTTP (host:port).
    pub http: String,
    /// Where it serves gRPC (host:port; empty for a worker).
    pub grpc: String,
}

impl Instance {
    fn key(&self) -> String {
        format!("{INSTANCES}{}/{}", self.role, self.name)
    }
}

/// This instance's membership in etcd.
pub struct Discovery {
    endpoints: Vec<String>,
    me: Instance,
    /// The TTL of its leases, in seconds.
    pub ttl: i64,
    timeout: Duration,
    live: Arc<Live>,
    metrics: Metrics,
}

impl Discovery {
    /// Membership of `me` through `endpoints`, under a lease of `ttl` seconds.
    pub fn new(
        endpoints: Vec<String>,
        me: Instance,
        ttl: i64,
        timeout: Duration,
        live: Arc<Live>,
        metrics: Metrics,
    ) -> Discovery {
        Discovery {
            endpoints,
            me,
            ttl: ttl.max(1),
            timeout,
            live,
            metrics,
        }
    }

    /// A client of the instance's etcd, every request bounded by the deadline.
    pub async fn client(&self) -> Result<Client, ServiceError> {
        self.connect(ConnectOptions::new().with_timeout(self.timeout))
            .await
    }

    /// A client whose requests may wait as long as they need (an election campaign waits for
    /// the leader to go); connecting is still bounded.
    pub async fn waiting_client(&self) -> Result<Client, ServiceError> {
        self.connect(ConnectOptions::new()).await
    }

    async fn connect(&self, options: ConnectOptions) -> Result<Client, ServiceError> {
        let options = options.with_connect_timeout(self.timeout);
        Client::connect(&self.endpoints, Some(options))
            .await
            .map_err(|e| ServiceError::Unavailable(format!("etcd {:?}: {e}", self.endpoints)))
    }

    /// The live instances.
    pub async fn members(&self) -> Result<Vec<Instance>, ServiceError> {
        let mut client = self.client().await?;
        let found = client
            .get(INSTANCES, Some(GetOptions::new().with_prefix()))
            .await
            .map_err(|e| ServiceError::Unavailable(format!("etcd: {e}")))?;
        Ok(found
            .kvs()
            .iter()
            .filter_map(|kv| serde_json::from_slice(kv.value()).ok())
            .collect())
    }

    /// Keeps this instance registered and its settings live until `stop` turns true, then
    /// revokes the lease. Reconnects after every failure.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            match self.session(&mut stop).await {
                Ok(()) => break,
                Err(e) => {
                    self.metrics.lease_alive.set(0);
                    self.metrics.watch_alive.set(0);
                    eprintln!("{}: etcd: {e}; retrying", self.me.name);
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
        }
        self.metrics.lease_alive.set(0);
        self.metrics.watch_alive.set(0);
    }

    /// One registration: until `stop` (Ok) or until etcd fails us (Err).
    async fn session(&self, stop: &mut watch::Receiver<bool>) -> Result<(), ServiceError> {
        let etcd = |e: etcd_client::Error| ServiceError::Unavailable(format!("etcd: {e}"));
        let mut client = self.client().await?;
        // The settings as they are, then every change after that revision.
        let settings = client
            .get(PREFIX, Some(GetOptions::new().with_prefix()))
            .await
            .map_err(etcd)?;
        for kv in settings.kvs() {
            self.apply(kv.key_str().unwrap_or(""), kv.value_str().unwrap_or(""));
        }
        let revision = settings.header().map_or(0, |h| h.revision());
        self.applied(revision);
        let mut changes = client
            .watch(
                PREFIX,
                Some(
                    WatchOptions::new()
                        .with_prefix()
                        .with_start_revision(revision + 1),
                ),
            )
            .await
            .map_err(etcd)?;
        self.metrics.watch_alive.set(1);

        let lease = client.lease_grant(self.ttl, None).await.map_err(etcd)?.id();
        let me = serde_json::to_vec(&self.me).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        client
            .put(self.me.key(), me, Some(PutOptions::new().with_lease(lease)))
            .await
            .map_err(etcd)?;
        let (mut keeper, mut renewals) = client.lease_keep_alive(lease).await.map_err(etcd)?;
        self.metrics.lease_alive.set(1);
        // Renew three times a TTL, so one lost renewal does not drop the instance.
        let mut tick = tokio::time::interval(Duration::from_millis((self.ttl * 1000 / 3) as u64));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    keeper.keep_alive().await.map_err(etcd)?;
                    match tokio::time::timeout(self.timeout, renewals.message()).await {
                        Ok(Ok(Some(r))) if r.ttl() > 0 => {}
                        Ok(Ok(Some(_))) => return Err(ServiceError::Unavailable("the lease expired".into())),
                        Ok(Ok(None)) => return Err(ServiceError::Unavailable("the lease stream ended".into())),
                        Ok(Err(e)) => return Err(etcd(e)),
                        Err(_) => return Err(ServiceError::Unavailable("etcd did not renew the lease in time".into())),
                    }
                }
                change = changes.message() => {
                    let change = change.map_err(etcd)?
                        .ok_or_else(|| ServiceError::Unavailable("the settings watch ended".into()))?;
                    for event in change.events() {
                        if let (EventType::Put, Some(kv)) = (event.event_type(), event.kv()) {
                            self.apply(kv.key_str().unwrap_or(""), kv.value_str().unwrap_or(""));
                        }
                    }
                    self.applied(change.header().map_or(0, |h| h.revision()));
                }
                _ = stop.changed() => {
                    // Leave discovery now rather than when the lease runs out.
                    let _ = tokio::time::timeout(self.timeout, client.lease_revoke(lease)).await;
                    return Ok(());
                }
            }
        }
    }

    fn apply(&self, key: &str, value: &str) {
        if let Applied::Refused(why) = self.live.apply(key, value) {
            eprintln!("{}: ignoring a setting: {why}", self.me.name);
        }
    }

    fn applied(&self, revision: i64) {
        self.live.applied_up_to(revision);
        self.metrics.config_revision.set(self.live.revision());
    }
}

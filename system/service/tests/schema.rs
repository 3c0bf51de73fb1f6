//! Replicas that start together create the strong store's schema together: each must succeed
//! on its first attempt, against a real PostgreSQL whose sessions are SERIALIZABLE (as the
//! service's are), however their turns at the advisory lock fall.

mod servers;

use servers::Postgres;
use service::metrics::Metrics;
use service::strong::Strong;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn replicas_creating_the_schema_together_each_succeed_at_once() {
    let pg = Postgres::start("schema");
    let metrics = Metrics::new(&[]).expect("metrics");
    let replicas: Vec<_> = (0..6)
        .map(|_| {
            Arc::new(
                Strong::new(&pg.url(), 1, Duration::from_secs(10), metrics.clone())
                    .expect("a pool"),
            )
        })
        .collect();
    let mut attempts = tokio::task::JoinSet::new();
    for (i, strong) in replicas.iter().enumerate() {
        let strong = Arc::clone(strong);
        attempts.spawn(async move { (i, strong.create_schema().await) });
    }
    while let Some(joined) = attempts.join_next().await {
        let (i, result) = joined.expect("the attempt ran");
        assert!(result.is_ok(), "replica {i}: {result:?}");
    }
    // And a connection that made the schema is usable afterwards (not left in a transaction).
    let conn = replicas[0].connection().await.expect("a connection");
    let rows = conn
        .query("SELECT count(*) FROM service.relay_fence", &[])
        .await
        .expect("the schema is there");
    assert_eq!(rows[0].get::<_, i64>(0), 1);
}

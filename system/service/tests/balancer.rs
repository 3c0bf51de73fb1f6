//! The balancer's follower (`service::balancer::follow`) against a real etcd: it reports the api
//! replicas as they register and leave, ignores other roles, and between changes waits on one
//! watch instead of reading etcd again and again.

mod servers;

use servers::Etcd;
use service::balancer::{follow, Upstreams};
use service::discovery::{Instance, INSTANCES};
use std::time::Duration;
use tokio::sync::mpsc;

fn instance(role: &str, name: &str, port: u16) -> (String, String) {
    let me = Instance {
        role: role.into(),
        name: name.into(),
        http: format!("127.0.0.1:{port}"),
        grpc: format!("127.0.0.1:{}", port + 1000),
    };
    (
        format!("{INSTANCES}{role}/{name}"),
        serde_json::to_string(&me).expect("an instance encodes"),
    )
}

/// etcd's count of range requests served so far (`GET`s with or without a prefix).
async fn ranges(url: &str) -> f64 {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .expect("etcd's metrics")
        .text()
        .await
        .expect("a body");
    text.lines()
        .filter(|l| {
            l.starts_with("etcd_mvcc_range_total")
                || l.starts_with("etcd_debugging_mvcc_range_total")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn next(changes: &mut mpsc::UnboundedReceiver<Upstreams>) -> Upstreams {
    tokio::time::timeout(Duration::from_secs(10), changes.recv())
        .await
        .expect("a change within 10 s")
        .expect("the follower runs")
}

#[tokio::test]
async fn the_balancer_follows_the_api_replicas_and_idles_between_changes() {
    let etcd = Etcd::start("balancer");
    let (sender, mut changes) = mpsc::unbounded_channel();
    let endpoints = vec![etcd.url.clone()];
    tokio::spawn(async move {
        follow(
            &endpoints,
            Duration::from_secs(2),
            Upstreams::default(),
            move |u| {
                let _ = sender.send(u.clone());
            },
        )
        .await
    });
    let mut client = etcd_client::Client::connect([etcd.url.as_str()], None)
        .await
        .expect("etcd");
    let (key1, api1) = instance("api", "api1", 18080);
    client
        .put(key1.clone(), api1, None)
        .await
        .expect("put api1");
    assert_eq!(next(&mut changes).await.http, ["127.0.0.1:18080"]);

    // Idle: no reads while nothing changes (a follower that re-read on the watch's first,
    // empty answer read etcd thousands of times a second).
    let before = ranges(&etcd.url).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = ranges(&etcd.url).await - before;
    assert!(idle <= 2.0, "{idle} range requests in an idle second");

    // A worker is not balanced over; the next api is, and one that leaves is dropped.
    let (key, worker) = instance("worker", "worker1", 18090);
    client.put(key, worker, None).await.expect("put worker1");
    let (key2, api2) = instance("api", "api2", 18081);
    client.put(key2, api2, None).await.expect("put api2");
    let both = next(&mut changes).await;
    assert_eq!(both.http, ["127.0.0.1:18080", "127.0.0.1:18081"]);
    assert_eq!(both.grpc, ["127.0.0.1:19080", "127.0.0.1:19081"]);
    client.delete(key1, None).await.expect("delete api1");
    assert_eq!(next(&mut changes).await.http, ["127.0.0.1:18081"]);
}

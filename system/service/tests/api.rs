//! The api binary against a real PostgreSQL and a real etcd (Cassandra and Kafka are pointed at a
//! closed port: the eventual and async paths must then fail cleanly, as 503s).

mod servers;

use serde_json::{json, Value};
use servers::{free_port, wait_for, Etcd, Postgres};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use system::proto::{
    bank_client::BankClient, counters_client::CountersClient, kv_client::KvClient,
    sets_client::SetsClient,
};
use system::proto::{
    CasRequest, CounterAddRequest, CounterReadRequest, GetRequest, OpenRequest, PutRequest,
    SetAddRequest, TransferRequest,
};

/// An api process, killed on drop if the test did not stop it.
struct Api {
    child: Child,
    http: String,
    grpc: String,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_api(name: &str, pg: &Postgres, etcd: &Etcd) -> Api {
    let (http, grpc) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_api"))
        .args(["--name", name])
        .args([
            "--http",
            &format!("127.0.0.1:{http}"),
            "--grpc",
            &format!("127.0.0.1:{grpc}"),
        ])
        .args(["--postgres", &pg.url(), "--etcd", &etcd.url])
        // Nothing listens on port 1: the eventual and async stores are down.
        .args(["--cassandra", "127.0.0.1:1", "--kafka", "127.0.0.1:1"])
        .args(["--deadline-ms", "1000", "--lease-ttl", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the api binary");
    let api = Api {
        child,
        http: format!("http://127.0.0.1:{http}"),
        grpc: format!("http://127.0.0.1:{grpc}"),
    };
    let health = format!("{}/healthz", api.http);
    wait_for("the api serving", Duration::from_secs(30), || {
        servers::answers_ok(&health)
    });
    api
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the api answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn members(etcd: &Etcd) -> Vec<String> {
    let mut client = etcd_client::Client::connect([etcd.url.as_str()], None)
        .await
        .expect("etcd");
    let found = client
        .get(
            "/lab/instances/",
            Some(etcd_client::GetOptions::new().with_prefix()),
        )
        .await
        .expect("get");
    found
        .kvs()
        .iter()
        .map(|kv| kv.key_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_serves_strong_requests_refuses_bad_input_and_leaves_etcd_when_stopped() {
    let (pg, etcd) = (Postgres::start("api"), Etcd::start("api"));
    let mut api = start_api("api7", &pg, &etcd);
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", api.http);

    // Registered under its lease; Cassandra and Kafka are down, so it is alive but not ready.
    let (status, cluster) = loop {
        let (status, cluster) = send(http.get(url("/cluster"))).await;
        if cluster["instances"]
            .as_array()
            .is_some_and(|i| !i.is_empty())
        {
            break (status, cluster);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status, 200);
    assert_eq!(cluster["instances"][0]["name"], "api7");
    assert_eq!(cluster["instances"][0]["role"], "api");
    let (status, ready) = send(http.get(url("/readyz"))).await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(
        ready,
        json!({"postgres": true, "cassandra": false, "kafka": false, "etcd": true, "consuming": null})
    );

    // Strong key-value requests over REST.
    let (status, put) = send(
        http.put(url("/kv/a?consistency=strong"))
            .json(&json!({"value": 3})),
    )
    .await;
    assert_eq!((status, &put), (200, &json!({"outcome": "applied"})));
    let (_, got) = send(http.get(url("/kv/a?consistency=strong"))).await;
    assert_eq!(got, json!({"key": "a", "value": 3}));
    let (_, swap) = send(
        http.post(url("/kv/a/cas"))
            .json(&json!({"expected": 3, "new": 4})),
    )
    .await;
    assert_eq!(swap, json!({"swapped": true, "current": null}));
    let (_, swap) = send(
        http.post(url("/kv/a/cas"))
            .json(&json!({"expected": 3, "new": 5})),
    )
    .await;
    assert_eq!(
        swap,
        json!({"swapped": false, "current": 4}),
        "the default consistency is strong"
    );
    let (_, absent) = send(http.get(url("/kv/nothing-here"))).await;
    assert_eq!(absent["value"], Value::Null);

    // The same store over gRPC.
    let mut kv = KvClient::connect(api.grpc.clone()).await.expect("gRPC");
    let value = kv
        .get(GetRequest {
            key: "a".into(),
            consistency: 1,
        })
        .await
        .expect("get")
        .into_inner()
        .value;
    assert_eq!(value, Some(4));
    kv.put(PutRequest {
        key: "b".into(),
        value: 9,
        consistency: 1,
    })
    .await
    .expect("put");
    let swap = kv
        .cas(CasRequest {
            key: "b".into(),
            expected: Some(9),
            new: 1,
            consistency: 1,
        })
        .await
        .expect("cas")
        .into_inner();
    assert!(swap.swapped);
    let (_, got) = send(http.get(url("/kv/b"))).await;
    assert_eq!(got["value"], 1, "REST sees gRPC's write");

    // Sets and counters on the strong store: an element added twice is there once, increments
    // sum, over REST and gRPC alike.
    for element in [3, 1, 3] {
        let (status, added) = send(
            http.post(url("/sets/s?consistency=strong"))
                .json(&json!({"element": element})),
        )
        .await;
        assert_eq!((status, &added), (200, &json!({"outcome": "applied"})));
    }
    let mut sets = SetsClient::connect(api.grpc.clone()).await.expect("gRPC");
    sets.add(SetAddRequest {
        name: "s".into(),
        element: 2,
        consistency: 1,
    })
    .await
    .expect("add");
    let (_, set) = send(http.get(url("/sets/s?consistency=strong"))).await;
    assert_eq!(set, json!({"name": "s", "elements": [1, 2, 3]}));
    let (_, counter) = send(http.get(url("/counters/c"))).await;
    assert_eq!(counter["value"], 0, "a counter starts at 0");
    let mut counters = CountersClient::connect(api.grpc.clone())
        .await
        .expect("gRPC");
    for delta in [5, -2] {
        counters
            .add(CounterAddRequest {
                name: "c".into(),
                delta,
                consistency: 1,
            })
            .await
            .expect("add");
    }
    let (status, _) = send(http.post(url("/counters/c")).json(&json!({"delta": 4.0}))).await;
    assert_eq!(status, 200, "an integral float is an integer");
    let (status, refused) = send(
        http.post(url("/counters/c"))
            .json(&json!({"delta": 2_000_000_000_000i64})),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    let value = counters
        .read(CounterReadRequest {
            name: "c".into(),
            consistency: 1,
        })
        .await
        .expect("read")
        .into_inner()
        .value;
    assert_eq!(value, 7);

    // The bank, with one outbox event per committed transfer and none for a refused one.
    let mut bank = BankClient::connect(api.grpc.clone()).await.expect("gRPC");
    bank.open(OpenRequest {
        account: "alice".into(),
        balance: 10,
    })
    .await
    .expect("open");
    let (status, _) = send(
        http.post(url("/bank/accounts"))
            .json(&json!({"account": "bob", "balance": 0})),
    )
    .await;
    assert_eq!(status, 201);
    let t = bank
        .transfer(TransferRequest {
            from: "alice".into(),
            to: "bob".into(),
            amount: 7,
        })
        .await
        .expect("transfer")
        .into_inner();
    assert!(t.done && t.id > 0);
    let (_, refused) = send(
        http.post(url("/bank/transfers"))
            .json(&json!({"from": "alice", "to": "bob", "amount": 4})),
    )
    .await;
    assert_eq!(refused, json!({"id": 0, "done": false}), "alice holds 3");
    let (_, balances) = send(http.get(url("/bank/balances"))).await;
    assert_eq!(balances, json!({"balances": {"alice": 3, "bob": 7}}));
    let (db, connection) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .expect("pg");
    tokio::spawn(connection);
    let events = db
        .query("SELECT (event->>'id')::bigint, event->>'from', (event->>'amount')::bigint FROM service.outbox", &[])
        .await
        .expect("the outbox");
    let events: Vec<(i64, String, i64)> = events
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(events, vec![(t.id, "alice".to_string(), 7)]);

    // Bad input: 4xx with a message, never a 5xx.
    let bad: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            http.put(url("/kv/a"))
                .header("content-type", "application/json")
                .body("{\"value\":"),
            400,
            "EOF",
        ),
        (
            http.put(url("/kv/a")).json(&json!({"value": "three"})),
            422,
            "value",
        ),
        (
            http.put(url("/kv/a"))
                .json(&json!({"value": 1, "colour": 2})),
            422,
            "colour",
        ),
        (
            http.put(url("/kv/a")).body("{\"value\": 1}"),
            415,
            "Content-Type",
        ),
        (
            http.put(url("/kv/a"))
                .json(&json!({"value": 1, "pad": "x".repeat(20_000)})),
            413,
            "length limit",
        ),
        (http.get(url("/kv/a?consistency=weak")), 400, "weak"),
        (
            http.get(url(&format!("/kv/{}", "k".repeat(300)))),
            400,
            "256",
        ),
        (
            http.post(url("/bank/accounts"))
                .json(&json!({"account": "bad name", "balance": 1})),
            400,
            "bad name",
        ),
        (
            http.post(url("/bank/accounts"))
                .json(&json!({"account": "alice", "balance": 1})),
            409,
            "exists",
        ),
        (
            http.post(url("/bank/transfers"))
                .json(&json!({"from": "alice", "to": "bob", "amount": -5})),
            400,
            "-5",
        ),
        (
            http.post(url("/bank/transfers"))
                .json(&json!({"from": "alice", "to": "bob", "amount": 1e30})),
            422,
            "amount",
        ),
        (
            http.post(url("/bank/transfers"))
                .json(&json!({"from": "alice", "to": "carol", "amount": 1})),
            404,
            "carol",
        ),
        (
            http.post(url("/kv/a/cas?consistency=async"))
                .json(&json!({"expected": null, "new": 1})),
            400,
            "async",
        ),
    ];
    for (request, expected, mentions) in bad {
        let (status, body) = send(request).await;
        assert_eq!(status, expected, "{body}");
        assert!(
            body.to_string().contains(mentions),
            "{body} should mention {mentions}"
        );
    }
    let status = kv
        .get(GetRequest {
            key: "a".into(),
            consistency: 42,
        })
        .await
        .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let status = kv
        .put(PutRequest {
            key: String::new(),
            value: 1,
            consistency: 1,
        })
        .await
        .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    // A store that is down is a 503 (nothing happened), not a 500.
    let (status, body) = send(http.get(url("/kv/a?consistency=eventual"))).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "unavailable");

    // Metrics per route and per gRPC method; the OpenAPI document names every route.
    let metrics = http
        .get(url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(
            r#"service_requests_total{method="PUT /kv/{key}",protocol="http",status="422"}"#
        ),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(r#"service_requests_total{method="Kv/Cas",protocol="grpc",status="ok"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("service_store_seconds_bucket{statement=\"transfer\",store=\"postgres\"")
    );
    assert!(metrics.contains("process_resident_memory_bytes"));
    let (_, openapi) = send(http.get(url("/openapi.json"))).await;
    assert!(openapi["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.")));
    for path in [
        "/kv/{key}",
        "/kv/{key}/cas",
        "/bank/transfers",
        "/bank/balances",
        "/cluster",
        "/readyz",
    ] {
        assert!(
            openapi["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }

    // A live setting from etcd reaches the instance, with its revision.
    let mut etcd_client = etcd_client::Client::connect([etcd.url.as_str()], None)
        .await
        .expect("etcd");
    let put = etcd_client
        .put("/lab/config/default-consistency", "eventual", None)
        .await
        .expect("put");
    let revision = put.header().expect("header").revision();
    let started = Instant::now();
    loop {
        let (_, cluster) = send(http.get(url("/cluster"))).await;
        if cluster["default_consistency"] == "eventual" {
            assert!(
                cluster["config_revision"].as_i64().unwrap_or(0) >= revision,
                "{cluster}"
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the setting never applied: {cluster}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _) = send(http.get(url("/kv/a"))).await;
    assert_eq!(
        status, 503,
        "the default is now eventual, whose store is down"
    );

    // A rate limit set live (1 request a second): a burst beyond it is refused with 429 (REST) and RESOURCE_EXHAUSTED
    // (gRPC) before any store is touched, while /cluster still answers; 0 lifts it.
    etcd_client
        .put("/lab/config/rate-limit", "1", None)
        .await
        .expect("put");
    let started = Instant::now();
    while send(http.get(url("/cluster"))).await.1["rate_limit"] != 1 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the limit never applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(send(http.get(url("/kv/a?consistency=strong"))).await.0);
    }
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    // One request a second: of a burst of 20, the first and one per second it lasts get through.
    assert!(
        refused >= 15,
        "most of a 20-request burst refused at 1/s: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 429),
        "{statuses:?}"
    );
    let (status, body) = send(http.get(url("/kv/a?consistency=strong"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("overloaded")),
        "{body}"
    );
    let limited = kv
        .get(GetRequest {
            key: "a".into(),
            consistency: 1,
        })
        .await
        .expect_err("over the limit");
    assert_eq!(limited.code(), tonic::Code::ResourceExhausted);
    assert_eq!(
        send(http.get(url("/cluster"))).await.0,
        200,
        "never refused"
    );
    etcd_client
        .put("/lab/config/rate-limit", "0", None)
        .await
        .expect("put");
    let started = Instant::now();
    while send(http.get(url("/cluster"))).await.1["rate_limit"] != 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the limit never lifted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..20 {
        assert_eq!(send(http.get(url("/kv/a?consistency=strong"))).await.0, 200);
    }

    // SIGTERM: it exits cleanly and its lease is revoked at once, not when it expires.
    assert_eq!(
        members(&etcd).await,
        vec!["/lab/instances/api/api7".to_string()]
    );
    let pid = api.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let exit = tokio::task::spawn_blocking(move || {
        let status = api.child.wait();
        (status, api)
    });
    let (status, _api) = tokio::time::timeout(Duration::from_secs(10), exit)
        .await
        .expect("it stops within 10 s")
        .expect("join");
    assert!(status.expect("status").success());
    assert!(
        members(&etcd).await.is_empty(),
        "the lease was revoked on the way out"
    );
}

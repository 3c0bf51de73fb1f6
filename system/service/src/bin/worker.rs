//! `worker`: one member of the service system's Kafka consumer group, applying async writes to
//! Cassandra and bank events to the activity timeline, and, while elected, relaying the bank's
//! outbox to Kafka (see `service::relay`); serves `/metrics`, `/healthz`, `/readyz` and `/cluster` on `--http`.
//!
//! ```text
//! worker --name worker1 --http 10.47.0.61:8080 --cassandra 10.47.0.31:9042 \
//!     --kafka 10.47.0.41:9092 --etcd http://10.47.0.11:2379
//! ```
//!
//! SIGTERM or Ctrl-C stops it: the write in hand is finished, its etcd lease revoked.

use anyhow::Context;
use clap::Parser;
use service::lifecycle::{register, Stop};
use service::{relay, rest, worker, App, Settings};

/// One worker of the service system.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    /// Only check that URL answers 200 (`http://127.0.0.1:8080/readyz`), exit 0 if it does and
    /// 1 if not: the health check of the image, which has no curl.
    #[arg(long, value_name = "URL")]
    probe: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(url) = cli.probe {
        if let Err(e) = service::lifecycle::probe(&url) {
            eprintln!("worker: {e}");
            std::process::exit(1);
        }
        return Ok(());
    }
    let settings = cli.settings;
    let app = App::new("worker", settings.clone()).context("configuring the worker")?;
    let http = tokio::net::TcpListener::bind(settings.http)
        .await
        .with_context(|| format!("listening for HTTP on {}", settings.http))?;
    let stop = Stop::on_signal(&settings.name);
    let registered = register(&app, &stop);
    let consumer = worker::consumer(&app).context("joining the consumer group")?;
    let applying = tokio::spawn(worker::apply(app.clone(), consumer, stop.receiver()));
    let relaying = tokio::spawn(relay::run(app.clone(), stop.receiver()));
    eprintln!("worker {}: HTTP on {}", settings.name, settings.http);
    let served = axum::serve(http, rest::operations_router(app.clone()))
        .with_graceful_shutdown(stop.stopped())
        .await;
    let _ = applying.await;
    let _ = relaying.await;
    let _ = registered.await;
    served.context("serving HTTP")
}

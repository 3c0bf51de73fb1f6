//! `api`: one stateless replica of the service system, serving gRPC and REST.
//!
//! ```text
//! api --name api1 --http 10.47.0.51:8080 --grpc 10.47.0.51:9090 \
//!     --postgres 'host=10.47.0.21 user=postgres dbname=postgres' \
//!     --cassandra 10.47.0.31:9042,10.47.0.32:9042 --kafka 10.47.0.41:9092 \
//!     --etcd http://10.47.0.11:2379
//! ```
//!
//! SIGTERM or Ctrl-C stops it gracefully: no new connections, requests in flight finish, its
//! etcd lease is revoked.

use anyhow::Context;
use clap::Parser;
use service::lifecycle::{register, Stop};
use service::{grpc::Grpc, rest, App, Settings};
use std::time::Duration;

/// One replica of the service system's api.
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
            eprintln!("api: {e}");
            std::process::exit(1);
        }
        return Ok(());
    }
    let settings = cli.settings;
    let app = App::new("api", settings.clone()).context("configuring the api")?;
    let http = tokio::net::TcpListener::bind(settings.http)
        .await
        .with_context(|| format!("listening for HTTP on {}", settings.http))?;
    let grpc = tokio::net::TcpListener::bind(settings.grpc)
        .await
        .with_context(|| format!("listening for gRPC on {}", settings.grpc))?;
    let stop = Stop::on_signal(&settings.name);
    let registered = register(&app, &stop);
    // The schema first, so that the first replica has made it before the lab starts the next.
    tokio::spawn({
        let app = app.clone();
        async move {
            while let Err(e) = app.strong.create_schema().await {
                eprintln!("api: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    });

    let rest = axum::serve(http, rest::router(app.clone())).with_graceful_shutdown(stop.stopped());
    let grpc = tonic::transport::Server::builder()
        .add_routes(Grpc(app.clone()).router())
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(grpc),
            stop.stopped(),
        );
    eprintln!(
        "api {}: HTTP on {}, gRPC on {}",
        settings.name, settings.http, settings.grpc
    );
    let (rest, grpc) = tokio::join!(rest, grpc);
    let _ = registered.await;
    rest.context("serving HTTP")?;
    grpc.context("serving gRPC")?;
    Ok(())
}

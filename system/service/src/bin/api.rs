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
use service::{grpc::Grpc, rest, App, Settings};
use tokio::sync::watch;

/// One replica of the service system's api.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Cli::parse().settings;
    let app = App::new("api", settings.clone()).context("configuring the api")?;
    let http = tokio::net::TcpListener::bind(settings.http)
        .await
        .with_context(|| format!("listening for HTTP on {}", settings.http))?;
    let grpc = tokio::net::TcpListener::bind(settings.grpc)
        .await
        .with_context(|| format!("listening for gRPC on {}", settings.grpc))?;
    let (stop, stopped) = watch::channel(false);

    let discovery = tokio::spawn({
        let app = app.clone();
        let stopped = stopped.clone();
        async move { app.discovery.run(stopped).await }
    });
    // Schemas first, so the instance is ready only once they exist (the lab starts replicas one
    // by one, so only the first creates them).
    tokio::spawn({
        let app = app.clone();
        async move {
            loop {
                match app.strong.create_schema().await {
                    Ok(()) => break,
                    Err(e) => eprintln!("api: {e}; retrying"),
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        }
    });

    let rest = axum::serve(http, rest::router(app.clone()))
        .with_graceful_shutdown(signalled(stopped.clone()));
    let grpc = tonic::transport::Server::builder()
        .add_routes(Grpc(app.clone()).router())
        .serve_with_incoming_shutdown(
            tokio_stream_of(grpc),
            signalled(stopped.clone()),
        );
    eprintln!("api {}: HTTP on {}, gRPC on {}", settings.name, settings.http, settings.grpc);
    let stopper = tokio::spawn(async move {
        shutdown_signal().await;
        eprintln!("api: stopping: finishing requests in flight, leaving etcd");
        let _ = stop.send(true);
    });
    let (rest, grpc) = tokio::join!(rest, grpc);
    stopper.abort();
    let _ = discovery.await;
    rest.context("serving HTTP")?;
    grpc.context("serving gRPC")?;
    Ok(())
}

/// Resolves once `stop` turns true.
async fn signalled(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The gRPC listener's connections as the stream tonic serves.
fn tokio_stream_of(
    listener: tokio::net::TcpListener,
) -> impl futures_core::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    tokio_stream::wrappers::TcpListenerStream::new(listener)
}

//! What every instance does around its work: stop on SIGTERM or Ctrl-C, and stay registered in
//! etcd until then.

use crate::app::App;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The instance's stop switch: `true` once a signal asked it to stop.
pub struct Stop {
    sender: watch::Sender<bool>,
}

impl Stop {
    /// A switch, and a task that turns it on at SIGTERM or SIGINT.
    pub fn on_signal(name: &str) -> Stop {
        let (sender, _) = watch::channel(false);
        let stop = Stop { sender };
        let sender = stop.sender.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            signal().await;
            eprintln!("{name}: stopping: finishing work in flight, leaving etcd");
            let _ = sender.send(true);
        });
        stop
    }

    /// A receiver that sees the switch.
    pub fn receiver(&self) -> watch::Receiver<bool> {
        self.sender.subscribe()
    }

    /// Resolves once the switch is on.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut receiver = self.receiver();
        async move {
            let _ = receiver.wait_for(|s| *s).await;
        }
    }
}

/// Keeps `app` registered in etcd until `stop`; the handle ends once the lease is revoked.
pub fn register(app: &Arc<App>, stop: &Stop) -> JoinHandle<()> {
    let app = app.clone();
    let receiver = stop.receiver();
    tokio::spawn(async move { app.discovery.run(receiver).await })
}

async fn signal() {
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

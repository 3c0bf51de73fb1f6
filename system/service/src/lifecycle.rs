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

/// Whether `GET url` (`http://127.0.0.1:8080/readyz`) answers 200 within 2 s: the health check
/// of an image FROM scratch, which has no curl (`api --probe URL`, the Containerfiles'
/// `HEALTHCHECK`). Plain HTTP/1.0 over a socket, so it needs nothing else; the error says why not.
pub fn probe(url: &str) -> Result<(), String> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs can be probed"))?;
    let (authority, path) = match rest.split_once('/') {
        Some((authority, path)) => (authority, format!("/{path}")),
        None => (rest, "/".to_string()),
    };
    let timeout = std::time::Duration::from_secs(2);
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| format!("{authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority}: no address"))?;
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    let _ = stream.set_read_timeout(Some(timeout));
    // One write: `write!` would send each formatted piece as a segment of its own.
    let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{addr}: {e}"))?;
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    let status = reply.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("{url}: {status:?}"))
    }
}

#[cfg(test)]
mod probe_tests {
    use super::probe;
    use std::io::{Read, Write};

    /// A one-request server answering `status`; its URL.
    fn answering(status: &'static str) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/readyz", listener.local_addr().expect("addr"));
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            // The whole request, or closing with some of it unread would reset the connection.
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                request.push(byte[0]);
            }
            let _ = write!(stream, "HTTP/1.0 {status}\r\n\r\n");
        });
        url
    }

    #[test]
    fn a_200_passes_and_anything_else_fails_with_the_status() {
        assert_eq!(probe(&answering("200 OK")), Ok(()));
        let failed = probe(&answering("503 Service Unavailable")).expect_err("503 fails");
        assert!(failed.contains("503"), "{failed}");
        assert!(probe("https://example/")
            .expect_err("not http")
            .contains("only http://"));
    }
}

//! Whether the service's queue has drained, as its api replicas say (`GET /queue`: for every
//! partition of the async writes' topic, how far its end is past what the workers' group has
//! committed, which a worker does only once the write is in Cassandra). The async target waits
//! for it before its final reads, so that convergence is judged on what the system applied, not
//! on how far the workers had got. Asking the api rather than Kafka works wherever the api is
//! reached, on Kubernetes too, where the brokers are names only pods resolve.

use std::time::{Duration, Instant};

/// Queued writes the workers have not applied yet, as the first of the api replicas at `bases`
/// (`http://10.47.0.51:8080`) that answers says.
pub async fn pending(http: &reqwest::Client, bases: &[String]) -> Result<i64, String> {
    let mut errors = Vec::new();
    for base in bases {
        let url = format!("{base}/queue");
        let answer = async {
            let response = http.get(&url).send().await.map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                return Err(format!("{status}: {}", text.trim()));
            }
            let body: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
            body["pending"]
                .as_i64()
                .ok_or_else(|| format!("no `pending` count in {body}"))
        };
        match answer.await {
            Ok(n) => return Ok(n),
            Err(e) => errors.push(format!("{url}: {e}")),
        }
    }
    Err(errors.join("; "))
}

/// Polls [`pending`] until it is 0 or `limit` has passed; the error says how many were left.
pub async fn drain(bases: &[String], limit: Duration) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    loop {
        let left = pending(&http, bases).await;
        if left == Ok(0) {
            return Ok(());
        }
        if started.elapsed() >= limit {
            return Err(match left {
                Ok(n) => format!("{n} queued writes not yet applied after {limit:?}"),
                Err(e) => format!("cannot tell whether the queue drained: {e}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

//! Throughput of the simulated cluster without faults: 32 client tasks (spread over the
//! replicas) each issue reads and writes back to back on 100 keys, for each mode.
//!
//! ```sh
//! cargo run --release -p system --example sim_throughput [SECONDS]
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use system::sim::{ConflictPolicy, Mode, SimCluster, SimConfig};
use system::store::Command;

const CLIENTS: usize = 32;
const TIMEOUT: Duration = Duration::from_secs(1);

async fn run(mode: Mode, seconds: f64) {
    let cluster = SimCluster::start(SimConfig::new(3, mode));
    let stop = Arc::new(AtomicBool::new(false));
    let (done, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let client = cluster.client(c % cluster.nodes());
        let (stop, done, failed) = (stop.clone(), done.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = c as u64;
            while !stop.load(Ordering::Relaxed) {
                i = i
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let key = (i >> 33) % 100;
                let command = if i >> 63 == 0 {
                    Command::Read { key }
                } else {
                    Command::Write {
                        key,
                        value: (i >> 40) as i64,
                    }
                };
                match client.call(command, TIMEOUT).await {
                    Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ops = done.load(Ordering::Relaxed);
    println!(
        "{mode:?}: {ops} ops in {elapsed:.2} s = {:.0} ops/s ({} failed)",
        ops as f64 / elapsed,
        failed.load(Ordering::Relaxed)
    );
    cluster.shutdown().await;
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        for mode in [
            Mode::Strong,
            Mode::Eventual(ConflictPolicy::Lww),
            Mode::Eventual(ConflictPolicy::Siblings),
        ] {
            run(mode, seconds).await;
        }
    });
}

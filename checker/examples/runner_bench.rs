//! Runner benchmark: operations recorded per second on the sim target with
//! 32 processes and no faults, against the same load without recording.
//!
//! `cargo run --release -p checker --example runner_bench -- [SECONDS] [strong|eventual]`

use checker::run::{run, RunConfig, Stop};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use system::sim::{ConflictPolicy, Mode, SimCluster, SimConfig};
use targets::sim::client::{Shape, SimTarget};
use workloads::generator::{Context, Next};
use workloads::{Rng, Target};

const PROCESSES: usize = 32;

fn target(mode: Mode) -> (Arc<SimCluster>, Arc<dyn Target>) {
    let cluster = Arc::new(SimCluster::start(SimConfig::new(3, mode)));
    let target: Arc<dyn Target> = Arc::new(SimTarget::new(
        Arc::clone(&cluster),
        mode,
        Shape::Registers,
        Duration::from_secs(1),
    ));
    (cluster, target)
}

/// The same clients and generator, without recording anything.
async fn bare(mode: Mode, seconds: f64) -> f64 {
    let (_cluster, target) = target(mode);
    let workload = workloads::register::workload(&workloads::Options::default());
    let source = Arc::new(Mutex::new((workload.generator, Rng::new(1, 0))));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for p in 0..PROCESSES {
        let client = target.open(p % 3).await.expect("client");
        let source = Arc::clone(&source);
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                let next = {
                    let mut g = source.lock().expect("lock");
                    let (gen, rng) = &mut *g;
                    gen.next(&mut Context {
                        now: start.elapsed().as_nanos() as u64,
                        process: p as u64,
                        rng,
                    })
                };
                let Next::Op(op) = next else { break };
                let _ = client.invoke(&op).await;
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("task");
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// The runner, recording every invocation and completion (and streaming them to a file).
async fn recorded(mode: Mode, seconds: f64) -> (f64, usize) {
    let (_cluster, target) = target(mode);
    let workload = workloads::register::workload(&workloads::Options::default());
    let mut workload = workload;
    workload.final_reads.clear();
    let path = std::env::temp_dir().join("runner-bench-history.jsonl");
    let config = RunConfig {
        concurrency: PROCESSES,
        time_limit: Duration::from_secs_f64(seconds),
        rate: None,
        seed: 1,
        op_timeout: Duration::from_secs(1),
        settle: Duration::ZERO,
        history_path: Some(path.clone()),
        progress: false,
    };
    let start = Instant::now();
    let rec = run(target, workload, None, &config, Stop::default())
        .await
        .expect("run");
    let elapsed = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(path);
    let ops = rec
        .history
        .ops()
        .iter()
        .filter(|o| o.kind != history::OpType::Invoke)
        .count();
    (ops as f64 / elapsed, rec.history.len())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let mode = match args.get(2).map(String::as_str) {
        Some("strong") => Mode::Strong,
        _ => Mode::Eventual(ConflictPolicy::Lww),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bare = rt.block_on(bare(mode, seconds));
    let (with, events) = rt.block_on(recorded(mode, seconds));
    println!("mode {mode:?}, {PROCESSES} processes, {seconds} s, no faults");
    println!("without recording: {bare:>10.0} ops/s");
    println!("recorded:          {with:>10.0} ops/s ({events} events, streamed to a file)");
    println!("recording overhead: {:.1}%", (1.0 - with / bare) * 100.0);
}

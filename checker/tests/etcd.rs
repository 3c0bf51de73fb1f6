//! The etcd client against a real etcd (Debian's `etcd-server`, installed
//! by `test.sh`): compare-and-set semantics, and the register workload
//! judged linearizable on a single member.

use checker::linearizable::Options;
use checker::run::judge::judge;
use checker::run::{run, RunConfig, Stop};
use checker::Verdict;
use history::{OpType, Value};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workloads::etcd::EtcdTarget;
use workloads::{Invocation, Target};

/// A one-member etcd on free loopback ports, killed on drop.
struct Etcd {
    child: Child,
    url: String,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl Etcd {
    fn start(name: &str) -> Etcd {
        let dir = std::env::temp_dir().join(format!("checker-etcd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (client, peer) = (free_port(), free_port());
        let url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new("etcd")
            .args(["--name", name, "--data-dir"])
            .arg(&dir)
            .args([
                "--listen-client-urls",
                &url,
                "--advertise-client-urls",
                &url,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args(["--initial-cluster", &format!("{name}={peer_url}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd is installed (test.sh installs Debian's etcd-server)");
        let etcd = Etcd {
            child,
            url,
            _dir: TempDir(dir),
        };
        // Wait until it serves (polling its health endpoint).
        let started = Instant::now();
        loop {
            let health = Command::new("curl")
                .args(["-sf", &format!("{}/health", etcd.url)])
                .output();
            if health.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("true")) {
                return etcd;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "etcd did not become healthy"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn compare_and_set_follows_etcd() {
    let etcd = Etcd::start("cas");
    let target = EtcdTarget::new(vec![etcd.url.clone()], false, Duration::from_secs(5));
    runtime().block_on(async {
        let client = target.open(0).await.expect("client");
        let op = |f: &str, v: Value| Invocation::new(f, v).on(Value::Int(1));
        let pair = |a: Value, b: i64| Value::Vector(vec![a, Value::Int(b)]);
        let read = client.invoke(&op("read", Value::Nil)).await;
        assert_eq!(
            (read.kind, read.value),
            (OpType::Ok, Value::Nil),
            "a key never written reads nil"
        );
        assert_eq!(
            client.invoke(&op("cas", pair(Value::Int(1), 2))).await.kind,
            OpType::Fail
        );
        assert_eq!(
            client.invoke(&op("cas", pair(Value::Nil, 1))).await.kind,
            OpType::Ok,
            "nil → 1 creates it"
        );
        assert_eq!(
            client.invoke(&op("cas", pair(Value::Nil, 3))).await.kind,
            OpType::Fail,
            "it exists now"
        );
        assert_eq!(
            client.invoke(&op("cas", pair(Value::Int(1), 2))).await.kind,
            OpType::Ok
        );
        assert_eq!(
            client.invoke(&op("write", Value::Int(4))).await.kind,
            OpType::Ok
        );
        let read = client.invoke(&op("read", Value::Nil)).await;
        assert_eq!((read.kind, read.value), (OpType::Ok, Value::Int(4)));
    });
}

#[test]
fn a_member_that_is_gone_fails_definitely() {
    let port = free_port();
    let target = EtcdTarget::new(
        vec![format!("http://127.0.0.1:{port}")],
        false,
        Duration::from_secs(2),
    );
    runtime().block_on(async {
        let client = target.open(0).await.expect("client");
        let c = client
            .invoke(&Invocation::new("write", Value::Int(1)).on(Value::Int(1)))
            .await;
        assert_eq!(
            c.kind,
            OpType::Fail,
            "connection refused: the write was never sent"
        );
    });
}

#[test]
fn the_register_workload_on_one_member_is_linearizable() {
    for serializable in [false, true] {
        // A fresh member each time: the workload assumes its keys start empty.
        let etcd = Etcd::start(if serializable {
            "serializable"
        } else {
            "linearizable"
        });
        let target: Arc<dyn Target> = Arc::new(EtcdTarget::new(
            vec![etcd.url.clone()],
            serializable,
            Duration::from_secs(5),
        ));
        let workload =
            workloads::by_name("register", &workloads::Options::default()).expect("workload");
        let checks = workload.checks.clone();
        let config = RunConfig {
            concurrency: 4,
            time_limit: Duration::from_secs(2),
            rate: Some(200.0),
            seed: 3,
            op_timeout: Duration::from_secs(5),
            settle: Duration::from_secs(5),
            history_path: None,
            progress: false,
        };
        let recorded = runtime()
            .block_on(run(target, workload, None, &config, Stop::default()))
            .expect("runs");
        let ok = recorded
            .history
            .ops()
            .iter()
            .filter(|o| o.kind == OpType::Ok)
            .count();
        assert!(ok > 50, "the workload ran against etcd: {ok} ok");
        let judgement = judge(&checks, &recorded.history, &Options::default());
        let why: Vec<String> = judgement
            .sections
            .iter()
            .map(|s| format!("{}: {} {}", s.title, s.verdict, s.summary))
            .collect();
        assert_eq!(
            judgement.verdict,
            Verdict::Valid,
            "serializable: {serializable}: {why:?}"
        );
    }
}

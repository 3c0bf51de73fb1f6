//! `checker run`: one workload against one target, with faults; writes a
//! report folder under `results/`.

use super::EXIT_BAD_INPUT;
use checker::load::locust::Users;
use checker::run::spec::{execute, resolve, Executed, Lab, LoadSpec, Spec};
use checker::run::{RunConfig, Stop};
use cluster::netns::Net;
use nemesis::FaultKind;

/// `--nemesis default`: the target's default faults ([`targets::System::default_faults`]).
pub const DEFAULT_NEMESIS: &str = "default";
use std::path::{Path, PathBuf};
use std::time::Duration;
use system::sim::ConflictPolicy;

fn after_help() -> String {
    format!(
        "Examples:
  checker run --workload register --target sim --consistency strong --nemesis partition
  checker run --workload register --target sim --consistency eventual --nemesis partition,clock --time-limit 30
  checker run --workload bank --target sim --nemesis all --seed 7 --out results/bank-run
  checker cluster up etcd && checker run --target etcd-serializable --nemesis partition,kill
  checker cluster up system && checker cluster up observability &&
    checker run --target system-strong --nemesis kill --load locust --load-users 10:10:40 --time-limit 60

{}
Writes results/<time>-<workload>-<target>-<consistency>/ with history.jsonl, history.edn,
results.json, results.edn, report.html, latency.svg and rate.svg; results/latest points at it.
With --load locust, load/ holds Locust's CSV, JSON and HTML, and the report adds the load per
step, Prometheus's panels for the run (faults shaded) and a check that Prometheus counted the
requests Locust and the checker sent (within 1 %; unknown without `cluster up observability`).
Ctrl-C stops the run, heals every fault, and still checks and reports what was recorded.
Exit codes: 0 valid, 1 invalid, 2 unknown, 254 bad arguments (a target that does not run the
workload, say), 255 internal error (a client, worker or nemesis task that panicked, say).",
        checker::catalog::runs_text()
    )
}

#[derive(clap::Args, Clone)]
#[command(after_help = after_help())]
pub struct Args {
    /// Workload (see the list below).
    #[arg(long, short, default_value = "register")]
    workload: String,
    /// System under test: the embedded sim, or a real cluster (see the list below).
    #[arg(long, short, default_value = "sim")]
    target: String,
    /// Consistency of the sim: strong or eventual (a real target has its own).
    #[arg(long, short, default_value = "strong")]
    consistency: String,
    /// Faults: none, all (partition, kill, pause, clock), or a comma-separated list of those and
    /// partition-leader (cut off whichever node leads: sim strong, etcd, postgres); `default`:
    /// partition, or the first fault the target can take (kill on kube-*).
    #[arg(long, short, default_value = DEFAULT_NEMESIS)]
    nemesis: String,
    /// Check the arguments and print what would run, without running it.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    common: Common,
}

/// The settings `run` and `compare` share.
#[derive(clap::Args, Clone)]
pub struct Common {
    /// Conflict resolution in eventual mode: lww (last write wins) or siblings (vector clocks).
    #[arg(long, default_value = "lww")]
    conflict: String,
    /// Length of the main phase, in seconds.
    #[arg(long, default_value = "20")]
    time_limit: f64,
    /// Quiet seconds before each fault.
    #[arg(long, default_value = "3")]
    fault_interval: f64,
    /// Seconds each fault lasts.
    #[arg(long, default_value = "4")]
    fault_duration: f64,
    /// Client processes.
    #[arg(long, default_value = "8")]
    concurrency: usize,
    /// Total operations per second; 0 means as fast as the target answers.
    #[arg(long, default_value = "500")]
    rate: f64,
    /// Seed of the operation mix and the fault schedule.
    #[arg(long, default_value = "1")]
    seed: u64,
    /// Replicas of the sim target.
    #[arg(long, default_value = "3")]
    replicas: usize,
    /// The lab's state folder, where `checker cluster up` put the real targets' clusters.
    #[arg(long, default_value = ".lab")]
    state: PathBuf,
    /// The sim's per-message delay on every link, in ms: MIN,MAX (uniform).
    #[arg(long, default_value = "0.1,2", value_name = "MIN,MAX")]
    link_delay_ms: String,
    /// The sim's probability of losing each message (0 to 1).
    #[arg(long, default_value = "0")]
    loss: f64,
    /// How clients reach the service system's api (system-* targets): rest or grpc.
    #[arg(long, value_enum, default_value_t = targets::service::client::Via::Rest)]
    via: targets::service::client::Via,
    /// Milliseconds after which an operation is recorded as indeterminate (info).
    #[arg(long, default_value = "500")]
    op_timeout_ms: u64,
    /// Seconds the final reads may take to agree after healing.
    #[arg(long, default_value = "5")]
    settle: f64,
    /// Load beside the run: none, or locust (the locustfile's users through NGINX, on system-*
    /// targets; its figures, Prometheus's panels and a count check join the report).
    #[arg(long, value_enum, default_value_t = LoadKind::None)]
    load: LoadKind,
    /// Locust's users: N for the whole run, or FROM:BY:TO in equal steps across --time-limit.
    #[arg(long, default_value = "20", value_name = "N|FROM:BY:TO")]
    load_users: String,
    /// The locustfile's user class: MixedUser, RestUser, GrpcUser or AsyncUser.
    #[arg(long, default_value = "MixedUser")]
    load_class: String,
    /// The output folder (default: results/<time>-<workload>-<target>-<consistency>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    elle: super::elle::ElleArgs,
}

/// What `--load` puts beside a run.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadKind {
    /// Nothing: the checker's clients only.
    None,
    /// Locust, through `tools/locust/run`.
    Locust,
}

fn seconds(name: &str, s: f64) -> Result<Duration, String> {
    if s.is_finite() && s >= 0.0 {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(format!("--{name} must be a number of seconds, got {s}"))
    }
}

/// Parses `MIN,MAX` (or one number) in milliseconds.
fn delay_range(text: &str) -> Result<(Duration, Duration), String> {
    let ms = |t: &str| -> Result<Duration, String> {
        t.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| Duration::from_secs_f64(v / 1e3))
            .ok_or_else(|| format!("--link-delay-ms takes MIN,MAX in milliseconds, got `{text}`"))
    };
    match text.split_once(',') {
        Some((lo, hi)) => Ok((ms(lo)?, ms(hi)?)),
        None => ms(text).map(|d| (d, d)),
    }
}

impl Common {
    /// The spec of one run with these settings.
    pub fn spec(
        &self,
        workload: &str,
        target: &str,
        consistency: &str,
        nemesis: &str,
    ) -> Result<Spec, String> {
        let conflict = match self.conflict.as_str() {
            "lww" => ConflictPolicy::Lww,
            "siblings" => ConflictPolicy::Siblings,
            other => {
                return Err(format!(
                    "unknown --conflict `{other}`; choose lww or siblings"
                ))
            }
        };
        let (workload, system, target) = resolve(workload, target).map_err(|e| e.to_string())?;
        let spec = Spec {
            workload,
            system,
            target,
            consistency: consistency.to_string(),
            conflict,
            nemesis: if nemesis == DEFAULT_NEMESIS {
                system.default_faults()
            } else {
                FaultKind::parse_list(nemesis)?
            },
            fault_interval: seconds("fault-interval", self.fault_interval)?,
            fault_duration: seconds("fault-duration", self.fault_duration)?,
            replicas: self.replicas,
            link_delay: delay_range(&self.link_delay_ms)?,
            loss: self.loss,
            via: self.via,
            run: RunConfig {
                concurrency: self.concurrency,
                time_limit: seconds("time-limit", self.time_limit)?,
                rate: (self.rate > 0.0).then_some(self.rate),
                seed: self.seed,
                op_timeout: Duration::from_millis(self.op_timeout_ms.max(1)),
                settle: seconds("settle", self.settle)?,
                history_path: None,
                progress: !self.quiet,
            },
            lab: Lab {
                net: Net::from_env().map_err(|e| e.to_string())?,
                state: self.state.clone(),
            },
            transactions: self.elle.options()?,
            command: std::env::args().collect::<Vec<_>>().join(" "),
            load: match self.load {
                LoadKind::None => None,
                LoadKind::Locust => Some(LoadSpec {
                    class: self.load_class.clone(),
                    users: Users::parse(&self.load_users, self.time_limit)?,
                }),
            },
        };
        spec.validate().map_err(|e| e.to_string())?;
        Ok(spec)
    }
}

/// The folder for a run: `--out`, or a fresh one under `results/`.
pub fn folder(out: Option<&Path>, root: &Path, spec: &Spec) -> PathBuf {
    out.map_or_else(
        || {
            root.join(format!(
                "{}-{}",
                checker::timestamp::now_compact(),
                spec.name()
            ))
        },
        Path::to_path_buf,
    )
}

/// Checks that `dir` can be written before anything runs.
pub fn writable(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the output folder {}: {e}", dir.display()))?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"")
        .map_err(|e| format!("cannot write in the output folder {}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// A tokio runtime and a Ctrl-C handler that stops the run (a second Ctrl-C exits).
pub fn runtime_with_stop() -> anyhow::Result<(tokio::runtime::Runtime, Stop)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let stop = Stop::default();
    let on_signal = stop.clone();
    rt.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping: healing faults, then checking what was recorded (Ctrl-C again to abort)");
            on_signal.stop();
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("aborting: healing faults first");
                nemesis::local::heal_active();
                std::process::exit(130);
            }
        }
    });
    Ok((rt, stop))
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let spec = match args.common.spec(
        &args.workload,
        &args.target,
        &args.consistency,
        &args.nemesis,
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_BAD_INPUT);
        }
    };
    if args.dry_run {
        println!("would run {}", spec.describe());
        return Ok(0);
    }
    let root = PathBuf::from("results");
    let dir = folder(args.common.out.as_deref(), &root, &spec);
    if let Err(e) = writable(&dir) {
        eprintln!("error: {e}");
        return Ok(EXIT_BAD_INPUT);
    }
    let (rt, stop) = runtime_with_stop()?;
    eprintln!("running {}", spec.describe());
    let executed = rt.block_on(execute(&spec, &dir, stop))?;
    print_run(&executed);
    if args.common.out.is_none() {
        super::demo::link_latest(&dir);
    }
    Ok(exit_code(&executed))
}

/// The exit code of an executed run: the verdict's, or 255 when one of
/// its tasks panicked (after saying which).
pub fn exit_code(e: &Executed) -> u8 {
    if e.crashed.is_empty() {
        return e.judgement.verdict.exit_code();
    }
    for crash in &e.crashed {
        eprintln!("error: {crash}");
    }
    eprintln!(
        "error: the run ended early; every fault was healed, and {} keeps what was recorded",
        e.dir.display()
    );
    super::EXIT_INTERNAL
}

/// Prints a run's verdicts and where its report is.
pub fn print_run(e: &Executed) {
    if e.interrupted {
        println!("(stopped early: the verdicts cover what was recorded)");
    }
    for s in &e.judgement.sections {
        println!(
            "  {:<40} {:<8} {}",
            s.title,
            s.verdict.to_string(),
            s.summary
        );
    }
    println!("{}\t{}", e.dir.display(), e.judgement.verdict);
    println!("  report: {}", e.dir.join("report.html").display());
}

//! The progress bar of a run: elapsed and remaining time, operations per
//! second, ok / fail / info counts, and the fault in force.

use super::recorder::Recorder;
use super::RunConfig;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A progress bar updated by a background task; hidden when disabled or
/// when stderr is not a terminal.
pub struct Progress {
    bar: ProgressBar,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Starts showing progress of a run.
    pub fn start(
        config: &RunConfig,
        recorder: Arc<Recorder>,
        fault: Arc<Mutex<Option<String>>>,
    ) -> Progress {
        let total = config.time_limit.as_secs().max(1);
        let bar = if config.progress {
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(5))
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:25}] {pos}/{len}s  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let task = config.progress.then(|| {
            let bar = bar.clone();
            tokio::spawn(async move {
                let mut last = (0u64, std::time::Instant::now());
                loop {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    let c = &recorder.counts;
                    let (ok, fail, info) = (
                        c.ok.load(Ordering::Relaxed),
                        c.fail.load(Ordering::Relaxed),
                        c.info.load(Ordering::Relaxed),
                    );
                    let done = ok + fail + info;
                    let rate = (done - last.0) as f64 / last.1.elapsed().as_secs_f64().max(1e-3);
                    last = (done, std::time::Instant::now());
                    let fault = fault.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    bar.set_position(recorder.now() / 1_000_000_000);
                    bar.set_message(format!(
                        "{rate:>8.0} ops/s  ok {ok}  fail {fail}  info {info}  {}",
                        fault.map_or_else(|| "no fault".to_string(), |f| format!("fault: {f}"))
                    ));
                }
            })
        });
        Progress { bar, task }
    }

    /// Removes the bar.
    pub fn finish(self) {
        if let Some(task) = self.task {
            task.abort();
        }
        self.bar.finish_and_clear();
    }
}

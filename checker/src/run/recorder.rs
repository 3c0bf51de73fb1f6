//! [`Recorder`]: the history as it happens, kept in memory and streamed to
//! disk.
//!
//! Every event gets the next index and a monotonic time (ns since the run
//! started) under one lock, so index order is real-time order. A flusher
//! thread appends new events to `history.jsonl` every
//! [`FLUSH_EVERY`], so a crash or Ctrl-C keeps everything recorded up to
//! the last flush.

use history::{History, Op};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often new events are written to disk.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Counts of completions, for progress reports.
#[derive(Debug, Default)]
pub struct Counts {
    /// `ok` completions.
    pub ok: AtomicU64,
    /// `fail` completions.
    pub fail: AtomicU64,
    /// `info` completions.
    pub info: AtomicU64,
}

/// The recording of one run.
pub struct Recorder {
    start: Instant,
    ops: Mutex<Vec<Op>>,
    /// Completion counts.
    pub counts: Counts,
    flushed: Mutex<usize>,
    file: Mutex<Option<std::io::BufWriter<std::fs::File>>>,
    closed: AtomicBool,
}

impl Recorder {
    /// A recorder whose clock starts now; with `path`, events are also
    /// streamed there as JSON Lines (the file is created or truncated).
    pub fn new(path: Option<&Path>) -> std::io::Result<Arc<Recorder>> {
        let file = match path {
            Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p)?)),
            None => None,
        };
        let recorder = Arc::new(Recorder {
            start: Instant::now(),
            ops: Mutex::new(Vec::new()),
            counts: Counts::default(),
            flushed: Mutex::new(0),
            file: Mutex::new(file),
            closed: AtomicBool::new(false),
        });
        if path.is_some() {
            let r = Arc::clone(&recorder);
            std::thread::spawn(move || {
                while !r.closed.load(Ordering::Acquire) {
                    std::thread::sleep(FLUSH_EVERY);
                    let _ = r.flush();
                }
            });
        }
        Ok(recorder)
    }

    /// Nanoseconds since the recording started.
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Records an event, giving it the next index and the current time;
    /// returns the time.
    pub fn record(&self, mut op: Op) -> u64 {
        match op.kind {
            history::OpType::Ok => self.counts.ok.fetch_add(1, Ordering::Relaxed),
            history::OpType::Fail => self.counts.fail.fetch_add(1, Ordering::Relaxed),
            history::OpType::Info if op.process.client().is_some() => {
                self.counts.info.fetch_add(1, Ordering::Relaxed)
            }
            _ => 0,
        };
        let mut ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        // Time is read under the lock, so index order and time order agree.
        let now = self.now();
        op.time = now as i64;
        op.index = ops.len() as u64;
        ops.push(op);
        now
    }

    /// Writes events recorded since the last flush to the file, if any
    /// (nothing once the recording is finished).
    pub fn flush(&self) -> std::io::Result<()> {
        let mut flushed = self.flushed.lock().unwrap_or_else(|e| e.into_inner());
        if self.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        self.write_fresh(&mut flushed)
    }

    /// Writes the events after `flushed` and advances it; the caller holds
    /// the `flushed` lock, so flushes never interleave.
    fn write_fresh(&self, flushed: &mut usize) -> std::io::Result<()> {
        let fresh: Vec<Op> = {
            let ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
            ops.get(*flushed..).unwrap_or_default().to_vec()
        };
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(out) = file.as_mut() {
            let mut line = String::with_capacity(256);
            for op in &fresh {
                line.clear();
                history::json::write_op(&mut line, op);
                line.push('\n');
                out.write_all(line.as_bytes())?;
            }
            out.flush()?;
        }
        *flushed += fresh.len();
        Ok(())
    }

    /// Stops streaming, flushes, and returns the history (leaving the
    /// recorder empty).
    pub fn finish(&self) -> std::io::Result<History> {
        let mut flushed = self.flushed.lock().unwrap_or_else(|e| e.into_inner());
        self.write_fresh(&mut flushed)?;
        self.closed.store(true, Ordering::Release);
        let ops = std::mem::take(&mut *self.ops.lock().unwrap_or_else(|e| e.into_inner()));
        // Indices were assigned in order from 0, so pushing keeps them.
        Ok(History::from_ops(ops))
    }
}

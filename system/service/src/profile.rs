//! On-demand CPU profiles: `GET /debug/pprof/profile?seconds=N` samples the instance's threads
//! for N seconds (pprof's SIGPROF sampler) and answers with a flame graph (SVG, by `inferno`), or
//! with the folded stacks (`format=folded`) that `inferno-flamegraph` and `flamegraph.pl` read.
//!
//! Sampling costs nothing until asked for. One profile runs at a time: the sampler is one
//! process-wide timer, so a second request is refused (409) rather than queued behind the first.

use serde::Deserialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The longest profile a request may ask for: long enough for a load step, short enough that a
/// forgotten request does not sample for ever.
pub const MAX_SECONDS: u64 = 120;

/// The default sampling rate: pprof's own default, prime so as not to beat with periodic work.
pub const DEFAULT_FREQUENCY: i32 = 99;

/// What a profile request asks for (its query string).
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
pub struct Request {
    /// How long to sample, 1 to 120 seconds (default 10).
    #[serde(default = "default_seconds")]
    pub seconds: u64,
    /// Samples per second per thread, 1 to 1000 (default 99).
    #[serde(default = "default_frequency")]
    pub frequency: i32,
    /// `svg` (a flame graph, the default) or `folded` (one line per stack and its count).
    #[serde(default)]
    pub format: Format,
}

fn default_seconds() -> u64 {
    10
}

fn default_frequency() -> i32 {
    DEFAULT_FREQUENCY
}

/// The shape of a profile's answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A flame graph, `image/svg+xml`.
    #[default]
    Svg,
    /// Folded stacks, `text/plain`: `frame;frame;frame count` per line.
    Folded,
}

impl Format {
    /// The answer's content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Svg => "image/svg+xml",
            Format::Folded => "text/plain; charset=utf-8",
        }
    }
}

/// Why no profile was taken.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The request's parameters are out of range.
    #[error("{0}")]
    Invalid(String),
    /// Another profile is being taken.
    #[error("a profile is already being taken; try again when it ends")]
    Busy,
    /// The sampler or the renderer failed.
    #[error("profiling failed: {0}")]
    Failed(String),
}

/// Set while a profile is being taken.
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Clears [`RUNNING`] however the profile ends (an error, or the request dropped mid-way).
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.store(false, Ordering::Release);
    }
}

impl Request {
    fn validate(&self) -> Result<(), ProfileError> {
        if !(1..=MAX_SECONDS).contains(&self.seconds) {
            return Err(ProfileError::Invalid(format!(
                "seconds must be 1 to {MAX_SECONDS}, not {}",
                self.seconds
            )));
        }
        if !(1..=1000).contains(&self.frequency) {
            return Err(ProfileError::Invalid(format!(
                "frequency must be 1 to 1000 samples a second, not {}",
                self.frequency
            )));
        }
        Ok(())
    }
}

/// Samples this process for the request's duration and renders what it saw.
pub async fn take(request: &Request) -> Result<Vec<u8>, ProfileError> {
    request.validate()?;
    if RUNNING
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(ProfileError::Busy);
    }
    let _running = Running;
    let failed = |e: &dyn std::fmt::Display| ProfileError::Failed(e.to_string());
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(request.frequency)
        // Unwinding through these from a signal handler can deadlock or crash (pprof's advice).
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .map_err(|e| failed(&e))?;
    tokio::time::sleep(Duration::from_secs(request.seconds)).await;
    let report = guard.report().build().map_err(|e| failed(&e))?;
    drop(guard);
    render(&report, request.format).map_err(|e| failed(&e))
}

fn render(report: &pprof::Report, format: Format) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    match format {
        // inferno draws nothing from no stacks: say so rather than answer an empty document.
        Format::Svg if report.data.is_empty() => Ok(IDLE_SVG.as_bytes().to_vec()),
        Format::Svg => {
            let mut svg = Vec::new();
            let mut options = pprof::flamegraph::Options::default();
            options.title = "CPU profile".to_string();
            report.flamegraph_with_options(&mut svg, &mut options)?;
            Ok(svg)
        }
        Format::Folded => Ok(folded(report).into_bytes()),
    }
}

/// The flame graph of a profile that caught no thread on a CPU.
const IDLE_SVG: &str = "<?xml version=\"1.0\" standalone=\"no\"?>\n\
<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"40\">\
<text x=\"10\" y=\"25\">no samples: the instance was idle for the whole profile</text></svg>\n";

/// The report's stacks, root first, as `inferno` reads them.
fn folded(report: &pprof::Report) -> String {
    let mut lines: Vec<String> = report
        .data
        .iter()
        .map(|(frames, count)| {
            let mut stack: Vec<String> = vec![frames.thread_name_or_id()];
            for frame in frames.frames.iter().rev() {
                for symbol in frame.iter().rev() {
                    stack.push(symbol.to_string());
                }
            }
            format!("{} {count}", stack.join(";"))
        })
        .collect();
    lines.sort();
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::{take, Format, ProfileError, Request};

    fn request(seconds: u64, format: Format) -> Request {
        Request {
            seconds,
            frequency: 199,
            format,
        }
    }

    /// A profile of a busy thread names the function that kept it busy.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_profile_sees_the_busy_function() {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let spinning = stop.clone();
        let busy = std::thread::spawn(move || spin_for_the_profile(&spinning));
        let folded = take(&request(1, Format::Folded)).await.expect("a profile");
        let svg = take(&request(1, Format::Svg)).await.expect("a flame graph");
        stop.store(true, std::sync::atomic::Ordering::Release);
        busy.join().expect("the busy thread ends");
        let folded = String::from_utf8(folded).expect("text");
        assert!(
            folded.contains("spin_for_the_profile"),
            "the busy function is in the stacks:\n{folded}"
        );
        let svg = String::from_utf8(svg).expect("text");
        assert!(
            svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
            "an SVG document: {}",
            &svg[..svg.len().min(200)]
        );
        assert!(
            svg.contains("spin_for_the_profile"),
            "the flame graph names it too"
        );
    }

    #[inline(never)]
    fn spin_for_the_profile(stop: &std::sync::atomic::AtomicBool) {
        let mut x = 0u64;
        while !stop.load(std::sync::atomic::Ordering::Acquire) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }

    #[tokio::test]
    async fn out_of_range_requests_are_refused() {
        let error = take(&request(0, Format::Svg)).await.unwrap_err();
        assert!(
            matches!(error, ProfileError::Invalid(ref m) if m.contains("seconds")),
            "{error}"
        );
        let mut fast = request(1, Format::Svg);
        fast.frequency = 5000;
        let error = take(&fast).await.unwrap_err();
        assert!(
            matches!(error, ProfileError::Invalid(ref m) if m.contains("frequency")),
            "{error}"
        );
    }
}

//! What a run's history shows, measured (no drawing): when faults were in
//! effect ([`faults`]), and the client operations' counts and latencies
//! ([`latency`]). The report draws these; the summaries read them.

pub mod faults;
pub mod latency;

pub use faults::{fault_intervals, is_nemesis, FaultInterval};
pub use latency::{latency_table, percentile, LatencyRow};

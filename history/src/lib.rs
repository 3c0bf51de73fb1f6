//! Jepsen-compatible operation histories.
//!
//! A history is the ordered list of events a test recorded: every
//! invocation and every completion ([`Op`]), with Jepsen's semantics
//! (`ok` happened, `fail` did not, `info` and unfinished invocations may
//! have happened at any later time or never). [`operations`] pairs
//! invocations with completions and rejects histories that break the rules
//! for processes.
//!
//! Codecs: native JSON Lines and elle-cli JSON ([`json`]), Jepsen EDN
//! ([`edn`]), Jepsen's log lines and `history.txt` ([`jepsen_log`]);
//! [`mod@format`] detects which one a file is in.
//!
//! ```
//! use history::{format, operations, Format};
//! let text = b"{:process 0, :type :invoke, :f :write, :value 3}\n\
//!              {:process 0, :type :ok, :f :write, :value 3}\n";
//! let h = format::read(text, Format::Auto).unwrap();
//! let ops = operations(&h).unwrap();
//! assert_eq!(ops.len(), 1);
//! assert_eq!(ops[0].f(), "write");
//! ```

pub mod edn;
mod error;
pub mod format;
mod history;
pub mod jepsen_log;
pub mod json;
mod op;
mod operation;
mod value;

pub use error::{HistoryError, ParseError};
pub use format::Format;
pub use history::History;
pub use op::{Op, OpType, Process};
pub use operation::{operations, Location, Operation, Outcome};
pub use value::Value;

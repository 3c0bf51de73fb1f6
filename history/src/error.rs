//! Errors reading and validating histories.

/// A history file could not be read: what was wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in bytes).
    pub column: u32,
    /// What was expected and what was found.
    pub message: String,
}

/// A history that parses but breaks Jepsen's rules for processes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// A completion arrived for a process with nothing in flight.
    #[error("{at}: process {process} completed :{kind} :{f} but has no invocation in flight (every completion needs an earlier :invoke by the same process)")]
    CompletionWithoutInvoke {
        /// Where.
        at: String,
        /// The process.
        process: u64,
        /// `ok`, `fail` or `info`.
        kind: &'static str,
        /// The function.
        f: String,
    },
    /// A process invoked while its previous invocation was still in flight.
    #[error("{at}: process {process} invoked again while its invocation at {earlier} is still in flight (a process performs one operation at a time)")]
    DoubleInvoke {
        /// Where.
        at: String,
        /// The process.
        process: u64,
        /// Where the earlier invocation is.
        earlier: String,
    },
    /// A completion's `:f` differs from its invocation's.
    #[error("{at}: process {process} invoked :{invoked} but completed :{completed}")]
    MismatchedCompletion {
        /// Where.
        at: String,
        /// The process.
        process: u64,
        /// The invocation's function.
        invoked: String,
        /// The completion's function.
        completed: String,
    },
}

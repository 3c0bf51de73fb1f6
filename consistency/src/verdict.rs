//! [`Verdict`]: valid, invalid or unknown, with Jepsen's exit codes.

use serde::Serialize;
use std::fmt;

/// The answer of a checker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "valid")]
pub enum Verdict {
    /// The history is allowed by the consistency model.
    Valid,
    /// The history is not allowed; there is a counterexample.
    Invalid,
    /// The checker could not decide, and says why. Never a hidden `Valid`.
    Unknown(Unknown),
}

/// Why a check could not decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unknown {
    /// The time limit ran out.
    Timeout,
    /// The memory budget for the search ran out.
    OutOfMemory,
    /// The checker could not run (its input was not what it needs).
    Error,
}

impl Verdict {
    /// Jepsen's exit code: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(&self) -> u8 {
        match self {
            Verdict::Valid => 0,
            Verdict::Invalid => 1,
            Verdict::Unknown(_) => 2,
        }
    }

    /// Combines verdicts the way Jepsen composes checkers: invalid beats
    /// unknown beats valid.
    pub fn and(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::Invalid, _) | (_, Verdict::Invalid) => Verdict::Invalid,
            (Verdict::Unknown(u), _) | (_, Verdict::Unknown(u)) => Verdict::Unknown(u),
            _ => Verdict::Valid,
        }
    }

    /// Jepsen's `:valid?` as EDN text: `true`, `false` or `:unknown`.
    pub fn edn(&self) -> &'static str {
        match self {
            Verdict::Valid => "true",
            Verdict::Invalid => "false",
            Verdict::Unknown(_) => ":unknown",
        }
    }

    /// Jepsen's `:valid?` as JSON: `true`, `false` or `"unknown"`.
    pub fn json(&self) -> serde_json::Value {
        match self {
            Verdict::Valid => serde_json::Value::Bool(true),
            Verdict::Invalid => serde_json::Value::Bool(false),
            Verdict::Unknown(_) => serde_json::Value::String("unknown".into()),
        }
    }
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unknown::Timeout => "timeout",
            Unknown::OutOfMemory => "out-of-memory",
            Unknown::Error => "error",
        })
    }
}

/// `true`, `false` or `unknown`, as elle-cli prints it.
impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Valid => "true",
            Verdict::Invalid => "false",
            Verdict::Unknown(_) => "unknown",
        })
    }
}

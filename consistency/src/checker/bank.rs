//! Jepsen's bank checker (`jepsen.tests.bank`, as elle-cli runs it).
//!
//! Operations: `:transfer {:from a :to b :amount n}` and `:read`, which
//! returns a map of account → balance. Transfers are not checked: the
//! invariant is on reads. Every `ok` read must
//!
//! - have only known accounts (the [`Options::accounts`], by default those
//!   of the first `ok` read), else `unexpected-key`;
//! - have no `nil` balance, else `nil-balance`;
//! - sum to the total ([`Options::total`], by default the sum of the first
//!   `ok` read), else `wrong-total`;
//! - have no negative balance unless [`Options::negative_balances_allowed`],
//!   else `negative-value`.
//!
//! Each read gets at most its first error in that order. The output is
//! Jepsen's: `read-count`, `error-count`, `first-error`, and `errors`
//! grouped by type, each with `count`, `first`, `worst`, `last` (and
//! `lowest` / `highest` total for `wrong-total`). An error carries its
//! type, the evidence (`total`, `negative`, `nils` or `unexpected`) and the
//! read's `op`. *Worst* is by Jepsen's `err-badness`: the relative
//! distance from the total, the sum of the negative balances, or the number
//! of nil balances or unexpected keys; ties go to the earliest.
//!
//! Valid iff no read has an error (so also when there are no reads, as in
//! Jepsen). The report's [`Details::Bank`] holds the result typed, as
//! [`Reads`].
//!
//! ```
//! use history::{History, Op, OpType, Process, Value};
//! use consistency::checker::bank::{check, ErrorKind, Options};
//! use consistency::checker::Details;
//! use consistency::Verdict;
//!
//! let p = Process::Client(0);
//! let balances = |a: i64, b: i64| Value::Map(vec![(Value::Int(0), Value::Int(a)), (Value::Int(1), Value::Int(b))]);
//! let h = History::from_ops([
//!     Op::new(p.clone(), OpType::Invoke, "read", Value::Nil),
//!     Op::new(p.clone(), OpType::Ok, "read", balances(50, 50)),
//!     Op::new(p.clone(), OpType::Invoke, "read", Value::Nil),
//!     Op::new(p.clone(), OpType::Ok, "read", balances(45, 50)), // 5 vanished
//! ]);
//! let report = check(&h, &Options::default()).unwrap();
//! assert_eq!(report.verdict, Verdict::Invalid);
//! assert_eq!(report.to_json()["errors"]["wrong-total"]["count"], 1);
//! assert_eq!(report.to_json()["errors"]["wrong-total"]["first"]["total"], 95);
//! let Details::Bank(reads) = &report.details else { panic!("a bank report") };
//! let wrong = reads.errors.wrong_total.as_ref().unwrap();
//! assert_eq!(wrong.count, 1);
//! assert_eq!(wrong.first.kind, ErrorKind::WrongTotal { total: 95 });
//! ```

use super::{bad_operation, op_json, ser, value_json, CheckError, Checker, Details, Report};
use crate::Verdict;
use history::{operations, History, Op, Operation, Outcome, Value};
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeSet;

/// The checker's name (`checker check --model bank`), in its reports too.
const NAME: &str = "bank";

/// What the bank checker found: Jepsen's `tests/bank` checker fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Reads {
    /// `ok` reads.
    pub read_count: u64,
    /// Reads with an error.
    pub error_count: u64,
    /// The first read with an error (`null` if none).
    pub first_error: Option<ReadError>,
    /// The errors, grouped by type.
    pub errors: Errors,
}

/// [`Reads::errors`]: one group per type of error that occurred, in the
/// order reads are tested for them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Errors {
    /// Reads with accounts other than the known ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unexpected_key: Option<ErrorGroup>,
    /// Reads with a `nil` balance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nil_balance: Option<ErrorGroup>,
    /// Reads not summing to the total (with `lowest` and `highest`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrong_total: Option<ErrorGroup>,
    /// Reads with a negative balance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negative_value: Option<ErrorGroup>,
}

/// The reads with one type of error.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ErrorGroup {
    /// How many.
    pub count: u64,
    /// The first.
    pub first: ReadError,
    /// The worst, by Jepsen's `err-badness` (the earliest of equals).
    pub worst: ReadError,
    /// The last.
    pub last: ReadError,
    /// The lowest total (`wrong-total` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lowest: Option<ReadError>,
    /// The highest total (`wrong-total` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highest: Option<ReadError>,
}

/// One read's error: its type and evidence, and the read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadError {
    /// The type (serialized as `type`) and the evidence.
    #[serde(flatten)]
    pub kind: ErrorKind,
    /// The read's completion, as Jepsen prints ops.
    pub op: Json,
}

/// The type of a read's error (`type`: `unexpected-key`, ...) and its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ErrorKind {
    /// Accounts other than the known ones.
    UnexpectedKey {
        /// Those accounts, in the order read.
        #[serde(serialize_with = "ser::values")]
        unexpected: Vec<Value>,
    },
    /// Accounts with a `nil` balance.
    NilBalance {
        /// Those accounts, in the order read (serialized as a map to nil).
        #[serde(serialize_with = "nil_map")]
        nils: Vec<Value>,
    },
    /// The balances do not sum to the total.
    WrongTotal {
        /// Their sum.
        total: i64,
    },
    /// Negative balances.
    NegativeValue {
        /// Those balances, in the order read.
        negative: Vec<i64>,
    },
}

/// [`ErrorKind::NilBalance`]'s accounts as Jepsen's map `{account nil}`.
fn nil_map<S: serde::Serializer>(accounts: &[Value], s: S) -> Result<S::Ok, S::Error> {
    value_json(&Value::Map(
        accounts.iter().map(|a| (a.clone(), Value::Nil)).collect(),
    ))
    .serialize(s)
}

/// Options of the bank checker (Jepsen's test map and checker options).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The total every read must sum to (Jepsen's `:total-amount`); by
    /// default the sum of the first `ok` read's balances.
    pub total: Option<i64>,
    /// The accounts (Jepsen's `:accounts`); by default those of the first
    /// `ok` read.
    pub accounts: Option<Vec<Value>>,
    /// Allow negative balances (Jepsen's `:negative-balances?`).
    pub negative_balances_allowed: bool,
}

/// The kinds of error, in the order a read is tested for them.
const TYPES: [&str; 4] = [
    "unexpected-key",
    "nil-balance",
    "wrong-total",
    "negative-value",
];

/// One read's error, as found.
struct BankError<'h> {
    /// Index into [`TYPES`].
    kind: usize,
    /// The sum of the balances (wrong-total only).
    total: i64,
    /// How bad, by Jepsen's `err-badness`.
    badness: f64,
    /// The type and evidence.
    evidence: ErrorKind,
    /// The read's completion.
    op: &'h Op,
}

impl BankError<'_> {
    /// As reported (only the errors reported get their op printed).
    fn report(&self) -> ReadError {
        ReadError {
            kind: self.evidence.clone(),
            op: op_json(self.op),
        }
    }
}

/// A read's balances in the order read: account and balance (`None` for nil).
type Balances<'h> = Vec<(&'h Value, Option<i64>)>;

/// A read's balances, or an error naming the read.
fn balances<'h>(history: &History, o: &Operation<'h>) -> Result<Balances<'h>, CheckError> {
    let v = o.value();
    let Value::Map(entries) = v else {
        return Err(bad_operation(
            history,
            o,
            true,
            format!(
                "an ok bank :read must return a map of account to balance, found {} `{}`",
                v.kind(),
                v
            ),
        ));
    };
    entries
        .iter()
        .map(|(account, balance)| match balance {
            Value::Int(n) => Ok((account, Some(*n))),
            Value::Nil => Ok((account, None)),
            b => Err(bad_operation(
                history,
                o,
                true,
                format!(
                    "a bank balance must be an integer or nil, found {} `{b}` for account {account}",
                    b.kind()
                ),
            )),
        })
        .collect()
}

fn sum(
    history: &History,
    o: &Operation<'_>,
    bs: &[(&Value, Option<i64>)],
) -> Result<i64, CheckError> {
    bs.iter()
        .filter_map(|(_, b)| *b)
        .try_fold(0i64, |acc, b| acc.checked_add(b))
        .ok_or_else(|| {
            bad_operation(
                history,
                o,
                true,
                "the balances' sum overflows a 64-bit integer".into(),
            )
        })
}

/// Jepsen's bank checker as a [`Checker`], with its options.
#[derive(Debug, Clone, Default)]
pub struct Bank(pub Options);

impl Bank {
    /// The defaults: the first read's total and accounts, no negative balance.
    pub const DEFAULT: Bank = Bank(Options {
        total: None,
        accounts: None,
        negative_balances_allowed: false,
    });
}

impl Checker for Bank {
    fn name(&self) -> &'static str {
        NAME
    }

    fn about(&self) -> &'static str {
        "every read sums to the total (the first read's), no negative balance"
    }

    fn check(
        &self,
        history: &History,
        _options: &crate::linearizable::Options,
    ) -> Result<Report, CheckError> {
        check(history, &self.0)
    }
}

/// Jepsen's bank checker; see the [module docs](self).
pub fn check(history: &History, options: &Options) -> Result<Report, CheckError> {
    let ops = operations(history)?;
    let mut reads: Vec<(&Operation<'_>, Balances<'_>)> = ops
        .iter()
        .filter(|o| o.f() == "read" && o.outcome == Outcome::Ok)
        .map(|o| Ok((o, balances(history, o)?)))
        .collect::<Result<_, CheckError>>()?;
    // Jepsen filters ok ops in history order: by completion.
    reads.sort_by_key(|(o, _)| o.complete_at);

    let (accounts, total): (BTreeSet<&Value>, i64) = {
        let first = reads.first();
        let accounts = match &options.accounts {
            Some(a) => a.iter().collect(),
            None => first
                .map(|(_, bs)| bs.iter().map(|(a, _)| *a).collect())
                .unwrap_or_default(),
        };
        let total = match (options.total, first) {
            (Some(t), _) => t,
            (None, Some((o, bs))) => sum(history, o, bs)?,
            (None, None) => 0,
        };
        (accounts, total)
    };

    let mut errors: Vec<BankError<'_>> = Vec::new();
    for (o, bs) in &reads {
        let Some(op) = o.completion else { continue };
        let unexpected: Vec<&Value> = bs
            .iter()
            .map(|(a, _)| *a)
            .filter(|a| !accounts.contains(a))
            .collect();
        let nils: Vec<&Value> = bs
            .iter()
            .filter(|(_, b)| b.is_none())
            .map(|(a, _)| *a)
            .collect();
        let negative: Vec<i64> = bs
            .iter()
            .filter_map(|(_, b)| *b)
            .filter(|b| *b < 0)
            .collect();
        let error = if !unexpected.is_empty() {
            Some(BankError {
                kind: 0,
                total: 0,
                badness: unexpected.len() as f64,
                evidence: ErrorKind::UnexpectedKey {
                    unexpected: unexpected.iter().map(|&a| a.clone()).collect(),
                },
                op,
            })
        } else if !nils.is_empty() {
            Some(BankError {
                kind: 1,
                total: 0,
                badness: nils.len() as f64,
                evidence: ErrorKind::NilBalance {
                    nils: nils.iter().map(|&a| a.clone()).collect(),
                },
                op,
            })
        } else {
            let read_total = sum(history, o, bs)?;
            if read_total != total {
                Some(BankError {
                    kind: 2,
                    total: read_total,
                    badness: if total > 0 {
                        ((read_total as f64 - total as f64) / total as f64).abs()
                    } else {
                        0.0
                    },
                    evidence: ErrorKind::WrongTotal { total: read_total },
                    op,
                })
            } else if !options.negative_balances_allowed && !negative.is_empty() {
                Some(BankError {
                    kind: 3,
                    total: 0,
                    badness: -(negative.iter().map(|&n| n as f64).sum::<f64>()),
                    evidence: ErrorKind::NegativeValue { negative },
                    op,
                })
            } else {
                None
            }
        };
        errors.extend(error);
    }

    let mut by_type = Errors::default();
    let mut counts: Vec<String> = Vec::new();
    for (kind, name) in TYPES.iter().enumerate() {
        let errs: Vec<&BankError<'_>> = errors.iter().filter(|e| e.kind == kind).collect();
        let (Some(first), Some(last)) = (errs.first(), errs.last()) else {
            continue;
        };
        // Jepsen's max-by / min-by keep the earliest of equals.
        let pick = |better: &dyn Fn(&BankError<'_>, &BankError<'_>) -> bool| {
            errs.iter()
                .copied()
                .fold(*first, |best, e| if better(e, best) { e } else { best })
        };
        let wrong_total = *name == "wrong-total";
        let group = ErrorGroup {
            count: errs.len() as u64,
            first: first.report(),
            worst: pick(&|e, b| e.badness > b.badness).report(),
            last: last.report(),
            lowest: wrong_total.then(|| pick(&|e, b| e.total < b.total).report()),
            highest: wrong_total.then(|| pick(&|e, b| e.total > b.total).report()),
        };
        let slot = match kind {
            0 => &mut by_type.unexpected_key,
            1 => &mut by_type.nil_balance,
            2 => &mut by_type.wrong_total,
            _ => &mut by_type.negative_value,
        };
        *slot = Some(group);
        counts.push(format!("{} {name}", errs.len()));
    }

    let verdict = if errors.is_empty() {
        Verdict::Valid
    } else {
        Verdict::Invalid
    };
    let summary = if errors.is_empty() {
        format!(
            "{} reads, all summing to {total}{}",
            reads.len(),
            if options.negative_balances_allowed {
                " (negative balances allowed)"
            } else {
                ", none negative"
            }
        )
    } else {
        format!(
            "{} of {} reads wrong (expected total {total}): {}",
            errors.len(),
            reads.len(),
            counts.join(", ")
        )
    };
    Ok(Report {
        checker: NAME,
        verdict,
        summary,
        details: Details::Bank(Reads {
            read_count: reads.len() as u64,
            error_count: errors.len() as u64,
            first_error: errors.first().map(BankError::report),
            errors: by_type,
        }),
    })
}

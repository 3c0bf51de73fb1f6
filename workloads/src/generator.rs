//! Generators of operations, composed like Jepsen's.
//!
//! A [`Generator`] is asked for the next operation whenever a process is
//! free; it answers with an operation, "not yet" ([`Next::Wait`]), or
//! [`Next::Done`]. Combinators are values: [`mix`], [`limit`],
//! [`time_limit`], [`stagger`], [`phases`], [`each_key`]. All randomness
//! comes from the [`Context`]'s seeded [`Rng`], so a seed fixes the
//! sequence of operations handed out.

use history::Value;
use rng::Rng;
use std::time::Duration;

/// One operation to perform: what a client is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The function, e.g. `read`, `write`, `cas`, `add`, `transfer`.
    pub f: String,
    /// Its argument (`nil` for reads).
    pub value: Value,
    /// The key, for workloads over many independent objects.
    pub key: Option<Value>,
}

impl Invocation {
    /// An invocation of `f` with `value` and no key.
    pub fn new(f: &str, value: Value) -> Invocation {
        Invocation {
            f: f.to_string(),
            value,
            key: None,
        }
    }

    /// The same invocation on `key`.
    pub fn on(mut self, key: Value) -> Invocation {
        self.key = Some(key);
        self
    }
}

/// What a generator answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Perform this.
    Op(Invocation),
    /// Nothing now; ask again at this time (ns since the run started).
    Wait(u64),
    /// Nothing more, ever.
    Done,
}

/// What a generator knows when asked.
pub struct Context<'a> {
    /// Nanoseconds since the run started.
    pub now: u64,
    /// The process asking.
    pub process: u64,
    /// The run's random stream.
    pub rng: &'a mut Rng,
}

/// A source of operations.
pub trait Generator: Send {
    /// The next operation for `ctx.process`, or why there is none.
    fn next(&mut self, ctx: &mut Context<'_>) -> Next;
}

/// A boxed generator.
pub type BoxGen = Box<dyn Generator>;

/// A generator from a closure that always has an operation.
pub struct FromFn<F>(F);

impl<F: FnMut(&mut Context<'_>) -> Invocation + Send> Generator for FromFn<F> {
    fn next(&mut self, ctx: &mut Context<'_>) -> Next {
        Next::Op((self.0)(ctx))
    }
}

/// An endless generator from a closure.
pub fn from_fn(f: impl FnMut(&mut Context<'_>) -> Invocation + Send + 'static) -> BoxGen {
    Box::new(FromFn(f))
}

/// Operations from `gens`, each time from one chosen at random (weighted
/// equally); done when all are done.
pub fn mix(gens: Vec<BoxGen>) -> BoxGen {
    Box::new(Mix { gens })
}

struct Mix {
    gens: Vec<BoxGen>,
}

impl Generator for Mix {
    fn next(&mut self, ctx: &mut Context<'_>) -> Next {
        while !self.gens.is_empty() {
            let i = ctx.rng.below(self.gens.len() as u64) as usize;
            match self.gens[i].next(ctx) {
                Next::Op(op) => return Next::Op(op),
                Next::Done => {
                    self.gens.swap_remove(i);
                }
                Next::Wait(t) => return Next::Wait(t),
            }
        }
        Next::Done
    }
}

/// At most `n` operations from `inner`.
pub fn limit(n: usize, inner: BoxGen) -> BoxGen {
    Box::new(Limit { left: n, inner })
}

struct Limit {
    left: usize,
    inner: BoxGen,
}

impl Generator for Limit {
    fn next(&mut self, ctx: &mut Context<'_>) -> Next {
        if self.left == 0 {
            return Next::Done;
        }
        let next = self.inner.next(ctx);
        if matches!(next, Next::Op(_)) {
            self.left -= 1;
        }
        next
    }
}

/// Operations from `inner` until `duration` after its first request.
pub fn time_limit(duration: Duration, inner: BoxGen) -> BoxGen {
    Box::new(TimeLimit {
        duration: duration.as_nanos() as u64,
        deadline: None,
        inner,
    })
}

struct TimeLimit {
    duration: u64,
    deadline: Option<u64>,
    inner: BoxGen,
}

impl Generator for TimeLimit {
    fn next(&mut self, ctx: &mut Context<'_>) -> Next {
        let deadline = *self.deadline.get_or_insert(ctx.now + self.duration);
        if ctx.now >= deadline {
            return Next::Done;
        }
        match self.inner.next(ctx) {
            Next::Wait(t) if t >= deadline => Next::Done,
            next => next,
        }
    }
}

/// Spaces operations out: the gap before each is uniform in [0, 2·mean],
/// so the total rate is about one per `mean` (Jepsen's `stagger`; a total
/// rate, not per process).
pub fn stagger(mean: Duration, inner: BoxGen) -> BoxGen {
    Box::new(Stagger {
        mean: mean.as_nanos() as u64,
        next_at: None,
        inner,
    })
}

struct Stagger {
    mean: u64,
    next_at: Option<u64>,
    inner: BoxGen,
}

impl Generator for Stagger {
    fn next(&mut self, ctx: &mut Context<'_>) -> Next {
        let due = *self.next_at.get_or_insert(ctx.now);
        if ctx.now < due {
            return Next::Wait(due);
        }
        let next = self.inner.next(ctx);
        if matches!(next, Next::Op(_)) {
            let gap = ctx.rng.below(2 * self.mean + 1);
            self.next_at = Some(due.max(ctx.now.saturating_sub(self.mean)) + gap);
        }
        next
    }
}

/// The generators one after the other: the next starts when the previous
/// is done. (The runner waits for operations in flight between phases.)
pub fn phases(gens: Vec<BoxGen>) -> BoxGen {
    Box::new(Phases {
        gens: gens.into_iter().collect(),
    })
}

struct Phases {
    gens: std::collections::VecDeque<BoxGen>,
}

impl Generator for Phases {
    fn next(&mut self, ctx: &mut Context<'_>) -> Next {
        while let Some(g) = self.gens.front_mut() {
            match g.next(ctx) {
                Next::Done => {
                    self.gens.pop_front();
                }
                next => return next,
            }
        }
        Next::Done
    }
}

/// Independent keys (Jepsen's `independent`): every operation of `inner`
/// is given a key chosen uniformly from `0..keys`, so each key is a small
/// object of its own that the checker can check separately.
pub fn each_key(keys: u64, inner: BoxGen) -> BoxGen {
    Box::new(EachKey {
        keys: keys.max(1),
        inner,
    })
}

struct EachKey {
    keys: u64,
    inner: BoxGen,
}

impl Generator for EachKey {
    fn next(&mut self, ctx: &mut Context<'_>) -> Next {
        match self.inner.next(ctx) {
            Next::Op(op) => {
                let key = ctx.rng.below(self.keys) as i64;
                Next::Op(op.on(Value::Int(key)))
            }
            other => other,
        }
    }
}

/// Draws up to `n` operations from `g` at time `now`, for tests and previews.
pub fn take(g: &mut BoxGen, rng: &mut Rng, n: usize, now: u64) -> Vec<Invocation> {
    let mut out = Vec::new();
    for process in 0..n as u64 {
        match g.next(&mut Context { now, process, rng }) {
            Next::Op(op) => out.push(op),
            Next::Wait(_) => continue,
            Next::Done => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writes() -> BoxGen {
        from_fn(|ctx| Invocation::new("write", Value::Int(ctx.rng.below(5) as i64)))
    }

    #[test]
    fn limit_stops_after_n() {
        let mut g = limit(3, writes());
        assert_eq!(take(&mut g, &mut Rng::new(1, 0), 10, 0).len(), 3);
    }

    #[test]
    fn the_same_seed_gives_the_same_operations() {
        let mk = || {
            each_key(
                10,
                mix(vec![
                    writes(),
                    from_fn(|_| Invocation::new("read", Value::Nil)),
                ]),
            )
        };
        let a = take(&mut mk(), &mut Rng::new(7, 0), 100, 0);
        let b = take(&mut mk(), &mut Rng::new(7, 0), 100, 0);
        let c = take(&mut mk(), &mut Rng::new(8, 0), 100, 0);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|op| op
            .key
            .as_ref()
            .and_then(Value::as_int)
            .is_some_and(|k| (0..10).contains(&k))));
    }

    #[test]
    fn time_limit_ends_at_the_deadline() {
        let mut g = time_limit(Duration::from_secs(1), writes());
        let mut rng = Rng::new(1, 0);
        assert!(matches!(
            g.next(&mut Context {
                now: 0,
                process: 0,
                rng: &mut rng
            }),
            Next::Op(_)
        ));
        assert!(matches!(
            g.next(&mut Context {
                now: 999_999_999,
                process: 0,
                rng: &mut rng
            }),
            Next::Op(_)
        ));
        assert_eq!(
            g.next(&mut Context {
                now: 1_000_000_000,
                process: 0,
                rng: &mut rng
            }),
            Next::Done
        );
    }

    #[test]
    fn stagger_spaces_operations_at_the_mean_rate() {
        let mut g = stagger(Duration::from_millis(10), writes());
        let mut rng = Rng::new(3, 0);
        let mut now = 0;
        let mut ops = 0;
        while now < 10_000_000_000 {
            match g.next(&mut Context {
                now,
                process: 0,
                rng: &mut rng,
            }) {
                Next::Op(_) => ops += 1,
                Next::Wait(t) => now = t,
                Next::Done => break,
            }
        }
        // 10 s at one per 10 ms on average: about 1000.
        assert!((800..1200).contains(&ops), "{ops}");
    }

    #[test]
    fn phases_run_in_order() {
        let mut g = phases(vec![
            limit(2, from_fn(|_| Invocation::new("a", Value::Nil))),
            limit(1, from_fn(|_| Invocation::new("b", Value::Nil))),
        ]);
        let fs: Vec<String> = take(&mut g, &mut Rng::new(0, 0), 10, 0)
            .into_iter()
            .map(|o| o.f)
            .collect();
        assert_eq!(fs, ["a", "a", "b"]);
    }
}

//! Generates a large, linearizable key-value history in Jepsen EDN, one map per
//! line, in the format of `consistency/tests/data/porcupine/kv/*.txt` plus `:index`
//! and `:time`:
//!
//! ```text
//! {:index 7, :time 123456, :process 3, :type :invoke, :f :append, :key "17", :value "x 3 5 y"}
//! {:index 9, :time 123999, :process 3, :type :ok, :f :append, :key "17", :value "x 3 5 y"}
//! ```
//!
//! P simulated clients run against one linearizable in-memory store. Each step
//! picks a random process: an idle one invokes a random get (50%), put (25%) or
//! append (25%) on a random key with a unique value `"x <process> <n> y"`; a
//! busy one whose op has not taken effect yet applies it to the store (its
//! linearization point, strictly after its invocation) and, half of the time,
//! completes at once; otherwise it completes on a later pick. Gets return the
//! key's value at the linearization point ("" for a missing key). After N
//! invocations the remaining in-flight ops are completed, so nothing is
//! pending.
//!
//! `--bad` turns one get (around the middle of the history) into a stale read.
//! It returns a state `s` of its key such that every linearization must have
//! left `s` behind before the get was invoked: `s` is the state produced by a
//! write W1 (or the initial ""), and another write W2 on that key was invoked
//! after W1 completed and completed before the get was invoked. A key's state
//! always ends with the (unique, non-empty) value of the last write applied to
//! it, so after W2 the state can never be `s` again; the history is not
//! linearizable.
//!
//! Usage:
//!   cargo run --release -p checker --example gen_kv_history -- \
//!       [--ops N] [--keys K] [--processes P] [--seed S] [--out FILE] [--bad]
//!
//! Only std is used, so `rustc -O checker/examples/gen_kv_history.rs` works too.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::exit;

/// splitmix64
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0), via the multiply-shift reduction.
    fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum F {
    Get,
    Put,
    Append,
}

impl F {
    fn name(self) -> &'static str {
        match self {
            F::Get => "get",
            F::Put => "put",
            F::Append => "append",
        }
    }
}

struct InFlight {
    f: F,
    key: usize,
    /// put/append argument, or (after it took effect) the value a get read.
    value: String,
    applied: bool,
    /// --bad only, writes: the state this op produced (recorded when applied).
    produced: Option<String>,
    /// --bad only, writes: a state that every linearization has left behind
    /// once this op completes (see the module docs).
    left_behind: Option<String>,
    /// This get is the injected stale read.
    stale: bool,
}

struct Args {
    ops: u64,
    keys: usize,
    processes: usize,
    seed: u64,
    out: Option<String>,
    bad: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: gen_kv_history [--ops N (1000000)] [--keys K (1000)] [--processes P (32)] \
         [--seed S (1)] [--out FILE (stdout)] [--bad]"
    );
    exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        ops: 1_000_000,
        keys: 1000,
        processes: 32,
        seed: 1,
        out: None,
        bad: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let val = |it: &mut dyn Iterator<Item = String>| -> String {
            inline.clone().or_else(|| it.next()).unwrap_or_else(|| {
                eprintln!("missing value for {name}");
                usage()
            })
        };
        fn num<T: std::str::FromStr>(s: &str, name: &str) -> T {
            s.replace('_', "").parse().unwrap_or_else(|_| {
                eprintln!("bad value for {name}: {s}");
                usage()
            })
        }
        match name.as_str() {
            "--ops" => a.ops = num(&val(&mut it), &name),
            "--keys" => a.keys = num(&val(&mut it), &name),
            "--processes" => a.processes = num(&val(&mut it), &name),
            "--seed" => a.seed = num(&val(&mut it), &name),
            "--out" => a.out = Some(val(&mut it)),
            "--bad" => a.bad = true,
            "-h" | "--help" => usage(),
            _ => {
                eprintln!("unknown argument: {arg}");
                usage()
            }
        }
    }
    if a.keys == 0 || a.processes == 0 {
        eprintln!("--keys and --processes must be positive");
        usage()
    }
    a
}

struct Out<W: Write> {
    w: W,
    index: u64,
    time: u64,
}

impl<W: Write> Out<W> {
    fn line(
        &mut self,
        rng: &mut Rng,
        process: usize,
        typ: &str,
        f: F,
        key: usize,
        value: Option<&str>,
    ) -> io::Result<()> {
        self.time += 1 + rng.below(1000);
        write!(
            self.w,
            "{{:index {}, :time {}, :process {}, :type :{}, :f :{}, :key \"{}\", :value ",
            self.index,
            self.time,
            process,
            typ,
            f.name(),
            key
        )?;
        match value {
            None => self.w.write_all(b"nil}\n")?,
            Some(v) => {
                self.w.write_all(b"\"")?;
                // The generated values never need escaping, but keep the output valid EDN.
                if v.bytes().any(|b| b == b'"' || b == b'\\') {
                    for c in v.chars() {
                        if c == '"' || c == '\\' {
                            self.w.write_all(b"\\")?;
                        }
                        write!(self.w, "{c}")?;
                    }
                } else {
                    self.w.write_all(v.as_bytes())?;
                }
                self.w.write_all(b"\"}\n")?;
            }
        }
        self.index += 1;
        Ok(())
    }
}

fn main() {
    let args = parse_args();
    let result = match &args.out {
        Some(path) => {
            let f = File::create(path).unwrap_or_else(|e| {
                eprintln!("cannot create {path}: {e}");
                exit(1)
            });
            run(&args, BufWriter::with_capacity(1 << 20, f))
        }
        None => run(
            &args,
            BufWriter::with_capacity(1 << 20, io::stdout().lock()),
        ),
    };
    if let Err(e) = result {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("write error: {e}");
            exit(1)
        }
    }
}

fn run<W: Write>(args: &Args, w: W) -> io::Result<()> {
    let mut rng = Rng(args.seed ^ 0x5EED_0FC0_FFEE);
    let mut out = Out {
        w,
        index: 0,
        time: 0,
    };
    let p = args.processes;
    let mut store: Vec<String> = vec![String::new(); args.keys];
    // --bad only, per key: the state produced by the most recently completed
    // write, and a state that is certainly stale for any get invoked now.
    let nk = if args.bad { args.keys } else { 0 };
    let mut last_done_produced: Vec<Option<String>> = vec![None; nk];
    let mut stale_now: Vec<Option<String>> = vec![None; nk];
    let mut inflight: Vec<Option<InFlight>> = (0..p).map(|_| None).collect();
    let mut counter: Vec<u64> = vec![0; p];
    let mut invoked: u64 = 0;
    let mut busy: usize = 0;
    let mut want_stale = false;
    let mut injected = false;

    while invoked < args.ops || busy > 0 {
        let pr = rng.below(p as u64) as usize;
        match &mut inflight[pr] {
            slot @ None => {
                if invoked >= args.ops {
                    continue;
                }
                let r = rng.below(4);
                let f = match r {
                    0 | 1 => F::Get,
                    2 => F::Put,
                    _ => F::Append,
                };
                let key = rng.below(args.keys as u64) as usize;
                let mut stale = false;
                if args.bad && !injected && invoked >= args.ops / 2 {
                    want_stale = true;
                }
                let value = if f == F::Get {
                    // The stale value is fixed at invocation time: it was
                    // replaced by a write that completed before this point.
                    match (want_stale, stale_now.get(key)) {
                        (true, Some(Some(old))) => {
                            stale = true;
                            want_stale = false;
                            injected = true;
                            old.clone()
                        }
                        _ => String::new(),
                    }
                } else {
                    let c = counter[pr];
                    counter[pr] += 1;
                    format!("x {pr} {c} y")
                };
                out.line(
                    &mut rng,
                    pr,
                    "invoke",
                    f,
                    key,
                    if f == F::Get { None } else { Some(&value) },
                )?;
                let left_behind = if args.bad && f != F::Get {
                    // A write completed before this invocation produced it
                    // (or nothing did, and it is the initial "").
                    Some(last_done_produced[key].clone().unwrap_or_default())
                } else {
                    None
                };
                *slot = Some(InFlight {
                    f,
                    key,
                    value,
                    applied: false,
                    produced: None,
                    left_behind,
                    stale,
                });
                invoked += 1;
                busy += 1;
            }
            Some(op) => {
                let mut complete = op.applied;
                if !op.applied {
                    // Linearization point.
                    let cur = &mut store[op.key];
                    match op.f {
                        F::Get => {
                            if !op.stale {
                                op.value = cur.clone();
                            }
                        }
                        F::Put => {
                            cur.clone_from(&op.value);
                            if args.bad {
                                op.produced = Some(cur.clone());
                            }
                        }
                        F::Append => {
                            cur.push_str(&op.value);
                            if args.bad {
                                op.produced = Some(cur.clone());
                            }
                        }
                    }
                    op.applied = true;
                    complete = rng.below(2) == 0;
                }
                if complete {
                    let op = inflight[pr].take().unwrap();
                    out.line(&mut rng, pr, "ok", op.f, op.key, Some(&op.value))?;
                    if let Some(p) = op.produced {
                        last_done_produced[op.key] = Some(p);
                    }
                    if let Some(s) = op.left_behind {
                        stale_now[op.key] = Some(s);
                    }
                    busy -= 1;
                }
            }
        }
    }
    if args.bad && !injected {
        eprintln!("warning: --bad: found no get to turn into a stale read (history too small?)");
    }
    out.w.flush()
}

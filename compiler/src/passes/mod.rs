//! The middle end's graph rewrites, run between import and lowering.
//!
//! Each pass is a plain function `run(&mut Graph, &mut PassCx) -> Result<Changed>` in its own
//! file, whose `//!` doc states its precondition and its guarantee. [`PIPELINE`] lists them in
//! order; a comment on each entry says why it sits where it does. A rewrite group runs its passes
//! in turn until none changes the graph, at most [`Stage::Fixpoint::max_rounds`] times.
//!
//! The verifier ([`crate::ir::verify::verify`]) runs after every pass when
//! [`PassOptions::verify`] is set (the default in debug builds and tests, or with
//! `MVCC_VERIFY_PASSES=1`); a failure names the pass that broke the graph.
//! [`PassOptions::stop_after`] (`MVCC_STOP_AFTER=<pass or group name>`, or `none` to run no pass)
//! stops the pipeline after the first run of that pass, to bisect which rewrite broke a model.
//! Every run of a pass records the op counts by kind before and after it ([`PassStats`], printed
//! by `mvcc inspect --passes`).
//!
//! What every pass keeps: the model's inputs and outputs (tensors, order, types); every tensor
//! that still exists after the pipeline holds the value it held before, up to float rounding
//! where a pass says so (a fused-away intermediate tensor simply disappears); integer results are
//! bit-exact.

pub mod fold_batch_norm;
pub mod fold_constants;
pub mod fold_pad;
pub mod fuse_activation;
pub mod fuse_residual_add;
pub mod pair_depthwise_pointwise;
pub mod recognize_hard_swish;
pub mod remove_dead_ops;
pub mod remove_identity;
pub mod rewrite;

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::error::{Error, Location, Problem, Result};
use crate::ir::{verify, Graph, OpKind};

/// What a pass did: the number of rewrites it applied (0: the graph is unchanged).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changed(pub usize);

impl Changed {
    /// Nothing changed.
    pub const NONE: Changed = Changed(0);

    /// Whether the graph changed.
    pub fn any(self) -> bool {
        self.0 > 0
    }
}

/// A pass: its name and its function.
#[derive(Clone, Copy, Debug)]
pub struct Pass {
    /// The name (`MVCC_STOP_AFTER`, statistics); the file name of the pass.
    pub name: &'static str,
    /// The pass.
    pub run: fn(&mut Graph, &mut PassCx) -> Result<Changed>,
}

/// One entry of the pipeline.
#[derive(Clone, Copy, Debug)]
pub enum Stage {
    /// A pass run once.
    Once(Pass),
    /// Passes run in turn until a round changes nothing, at most `max_rounds` rounds.
    Fixpoint {
        /// The group's name (`MVCC_STOP_AFTER` accepts it: stop when the group is done).
        name: &'static str,
        /// The passes, in order.
        passes: &'static [Pass],
        /// Bound on the rounds (each pass sweeps the whole graph, so few rounds are needed).
        max_rounds: usize,
    },
}

macro_rules! pass {
    ($m:ident) => {
        Pass {
            name: stringify!($m),
            run: $m::run,
        }
    };
}

/// The pipeline, in order.
pub const PIPELINE: &[Stage] = &[
    // First: later patterns need constant operands, and weights stored as float16 or int8 behind
    // DEQUANTIZE become plain float32 constants here (BatchNorm folding reads them).
    Stage::Once(pass!(fold_constants)),
    Stage::Fixpoint {
        name: "simplify",
        passes: &[
            // Identity ops sit between the ops the later patterns pair up (conv → RESHAPE to the
            // same shape → RELU); removing them first exposes those pairs.
            pass!(remove_identity),
            // A dead reader (e.g. a DEQUANTIZE left behind by a removed pair) counts as a
            // consumer and would block the single-consumer fusions below.
            pass!(remove_dead_ops),
            // Before activation fusion: the folded MUL/ADD sits between the convolution and its
            // activation (conv → MUL → ADD → RELU), and folding needs the conv's activation
            // still NONE.
            pass!(fold_batch_norm),
            // Before activation fusion, so it sees the pattern as the model wrote it. It also
            // accepts the forms activation fusion leaves (an ADD with a fused RELU6), so this
            // order is for clarity, not correctness.
            pass!(recognize_hard_swish),
            pass!(fuse_activation),
        ],
        max_rounds: 8,
    },
    // The fusions below run after the simplify group: they need the activations fused and the
    // identities gone. CONCATENATION elimination happens in lowering (memory aliases).
    //
    // After fold_constants: the paddings and PADV2's value must be constants.
    Stage::Once(pass!(fold_pad)),
    // After activation fusion: a RELU after the ADD must be the ADD's fused activation by now
    // (it becomes the fused convolution's), and BatchNorm folding must be done (a MUL folded
    // into a convolution with a residual would scale the residual too; fold_batch_norm skips
    // those).
    Stage::Once(pass!(fuse_residual_add)),
    // Last: it marks the final ops (a PAD folded away and a residual fused in first, so the
    // pair is adjacent and the pointwise convolution is the one that will run).
    Stage::Once(pass!(pair_depthwise_pointwise)),
];

/// Options of the pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassOptions {
    /// Run the verifier after every pass.
    pub verify: bool,
    /// Stop after the first run of this pass (or when this group is done); `"none"` runs no pass.
    pub stop_after: Option<String>,
    /// Largest result, in bytes, of one op that constant folding evaluates at compile time.
    pub fold_max_bytes: usize,
    /// Total bytes constant folding may create over one pipeline run.
    pub fold_budget_bytes: usize,
    /// Most multiply-accumulates of one op that constant folding evaluates.
    pub fold_max_macs: u64,
}

impl Default for PassOptions {
    fn default() -> PassOptions {
        PassOptions {
            verify: cfg!(debug_assertions),
            stop_after: None,
            fold_max_bytes: 256 << 20,
            fold_budget_bytes: 1 << 30,
            fold_max_macs: 1 << 28,
        }
    }
}

impl PassOptions {
    /// The defaults, with `MVCC_STOP_AFTER=<name>` and `MVCC_VERIFY_PASSES=1|0` applied.
    pub fn from_env() -> PassOptions {
        let mut o = PassOptions::default();
        if let Ok(s) = std::env::var("MVCC_STOP_AFTER") {
            if !s.is_empty() {
                o.stop_after = Some(s);
            }
        }
        match std::env::var("MVCC_VERIFY_PASSES").as_deref() {
            Ok("1") => o.verify = true,
            Ok("0") => o.verify = false,
            _ => {}
        }
        o
    }
}

/// What one run of a pass did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassStats {
    /// The pass.
    pub pass: &'static str,
    /// The group it ran in and the round (1-based), if any.
    pub group: Option<(&'static str, usize)>,
    /// Rewrites applied.
    pub rewrites: usize,
    /// Ops by kind before the pass.
    pub before: BTreeMap<OpKind, usize>,
    /// Ops by kind after the pass.
    pub after: BTreeMap<OpKind, usize>,
}

impl PassStats {
    /// The op kinds whose count changed: `(kind, before, after)`.
    pub fn changed_kinds(&self) -> Vec<(OpKind, usize, usize)> {
        let kinds: std::collections::BTreeSet<OpKind> = self
            .before
            .keys()
            .chain(self.after.keys())
            .copied()
            .collect();
        kinds
            .into_iter()
            .filter_map(|k| {
                let (b, a) = (
                    self.before.get(&k).copied().unwrap_or(0),
                    self.after.get(&k).copied().unwrap_or(0),
                );
                (b != a).then_some((k, b, a))
            })
            .collect()
    }
}

/// State shared by the passes of one pipeline run: options, statistics, budgets.
#[derive(Debug, Default)]
pub struct PassCx {
    /// The options.
    pub options: PassOptions,
    /// One entry per pass run, in order.
    pub stats: Vec<PassStats>,
    /// Bytes constant folding created so far (against [`PassOptions::fold_budget_bytes`]).
    pub folded_bytes: usize,
}

impl PassCx {
    /// A context with `options`.
    pub fn new(options: PassOptions) -> PassCx {
        PassCx {
            options,
            stats: Vec::new(),
            folded_bytes: 0,
        }
    }
}

/// Every pass name and group name, in pipeline order.
pub fn names() -> Vec<&'static str> {
    let mut v = Vec::new();
    for s in PIPELINE {
        match s {
            Stage::Once(p) => v.push(p.name),
            Stage::Fixpoint { name, passes, .. } => {
                v.push(*name);
                v.extend(passes.iter().map(|p| p.name));
            }
        }
    }
    v
}

fn sum(m: &BTreeMap<OpKind, usize>) -> usize {
    m.values().sum()
}

/// Runs one pass, verifies, records statistics; `Ok(true)` when the pipeline should stop here.
fn run_pass(
    g: &mut Graph,
    cx: &mut PassCx,
    p: &Pass,
    group: Option<(&'static str, usize)>,
) -> Result<(Changed, bool)> {
    let before = rewrite::op_counts(g);
    let changed = (p.run)(g, cx)?;
    if cx.options.verify {
        verify::verify(g).map_err(|e| {
            let mut problems = vec![Problem::Invalid {
                location: Location::model(),
                message: format!(
                    "the graph is invalid after pass `{}` (a compiler bug):",
                    p.name
                ),
            }];
            problems.extend(e.problems);
            Error { problems }
        })?;
    }
    let after = rewrite::op_counts(g);
    cx.stats.push(PassStats {
        pass: p.name,
        group,
        rewrites: changed.0,
        before,
        after,
    });
    let stop = cx.options.stop_after.as_deref() == Some(p.name);
    Ok((changed, stop))
}

/// Runs the [`PIPELINE`] on a verified graph.
///
/// # Errors
/// An unknown `stop_after` name; a pass's error (e.g. a constant op whose evaluation fails); the
/// verifier's problems after a pass, headed by the pass's name.
pub fn run(g: &mut Graph, cx: &mut PassCx) -> Result<()> {
    if let Some(s) = cx.options.stop_after.as_deref() {
        if s == "none" {
            return Ok(());
        }
        if !names().contains(&s) {
            return Err(Error::invalid(
                Location::model(),
                format!(
                    "unknown pass `{s}` to stop after; the passes are: none, {}",
                    names().join(", ")
                ),
            ));
        }
    }
    for stage in PIPELINE {
        match stage {
            Stage::Once(p) => {
                if run_pass(g, cx, p, None)?.1 {
                    return Ok(());
                }
            }
            Stage::Fixpoint {
                name,
                passes,
                max_rounds,
            } => {
                for round in 1..=*max_rounds {
                    let mut any = false;
                    for p in *passes {
                        let (changed, stop) = run_pass(g, cx, p, Some((name, round)))?;
                        any |= changed.any();
                        if stop {
                            return Ok(());
                        }
                    }
                    if !any {
                        break;
                    }
                }
                if cx.options.stop_after.as_deref() == Some(*name) {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// A copy of `graph` optimized by the [`PIPELINE`] with [`PassOptions::from_env`].
///
/// # Errors
/// As [`run`].
pub fn optimize(graph: &Graph) -> Result<Graph> {
    let mut g = graph.clone();
    run(&mut g, &mut PassCx::new(PassOptions::from_env()))?;
    Ok(g)
}

/// The statistics as a table: one line per pass run, op counts before → after and the kinds that
/// changed (`mvcc inspect --passes`).
pub fn report(stats: &[PassStats]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<32} {:>8} {:>13}  changed op kinds",
        "pass", "rewrites", "ops"
    );
    for s in stats {
        let name = match s.group {
            Some((g, r)) => format!("{g}[{r}].{}", s.pass),
            None => s.pass.to_string(),
        };
        let kinds: Vec<String> = s
            .changed_kinds()
            .into_iter()
            .map(|(k, b, a)| format!("{} {b}→{a}", k.name()))
            .collect();
        let ops = format!("{} → {}", sum(&s.before), sum(&s.after));
        let _ = writeln!(
            out,
            "{name:<32} {:>8} {ops:>13}  {}",
            s.rewrites,
            kinds.join(", ")
        );
    }
    if let (Some(first), Some(last)) = (stats.first(), stats.last()) {
        let _ = writeln!(
            out,
            "total: {} → {} ops",
            sum(&first.before),
            sum(&last.after)
        );
    }
    out
}

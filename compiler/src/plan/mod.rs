//! The static memory plan: every value of a [`Program`] gets a byte offset in one arena.
//!
//! Model inputs and outputs live in the caller's buffers, not in the arena; values aliased to
//! them (reshapes of an input, slices of an output) live there too. Every other root value (one
//! with no [`crate::lower::Alias`]) and every step's scratch memory is a buffer with a live range
//! over the schedule ([`mod@liveness`]). Offsets are assigned by greedy-by-size best fit
//! ([`greedy_by_size`]) and by greedy-by-breadth ([`greedy_by_breadth`]), each with three
//! tie-breaks between buffers of equal size ([`Ties`]) and improved by reordering the buffers
//! that end above the lower bound ([`reorder`]); the smallest arena is kept. Every offset and
//! every buffer size is a multiple of [`ALIGN`].
//!
//! # In place
//!
//! A step whose `in_place` names operand `i` may have its result 0 placed over that operand when
//! the operand's bytes die at the step (see [`mod@liveness`] for the exact conditions);
//! [`Plan::in_place`] records the steps that do. The contract for a kernel that runs in place:
//! result element `k` occupies the bytes of operand element `k`, so the kernel must not read
//! operand element `k` after writing result element `k`. An element-wise kernel that reads
//! element `k` and then writes element `k` (in any order over `k`) meets it; vectorized code must
//! load a whole vector before storing it; a kernel that reads operand `i` at other positions
//! than the one it writes (a convolution, a transpose) must not ask for in place. No other
//! operand of an in-place step views the same bytes (the planner refuses it). The interpreter
//! copies every operand out before a kernel writes, so it is safe whatever the kernel does; code
//! back ends must honour the contract.
//!
//! [`check`] verifies a plan independently of how it was made: no two buffers live at the same
//! step share bytes unless the step runs in place, every offset is aligned and inside the arena.

pub mod best_fit;
pub mod greedy_by_breadth;
pub mod greedy_by_size;
pub mod liveness;
pub mod reorder;
pub mod svg;
pub mod text;

use std::collections::BTreeSet;

use crate::error::{Error, Location, Problems, Result};
use crate::lower::{Io, Operand, Program, ValueId, ALIGN};
pub use greedy_by_size::Ties;
use liveness::{aligned, liveness};

/// Where a value's bytes are at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// In the arena at this byte offset.
    Arena(usize),
    /// In the caller's `n`th input buffer at this byte offset.
    Input(usize, usize),
    /// In the caller's `n`th output buffer at this byte offset.
    Output(usize, usize),
}

/// The order in which buffers are placed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// [`greedy_by_size`].
    #[default]
    GreedyBySize,
    /// [`greedy_by_breadth`].
    GreedyByBreadth,
}

/// Which offset assignment a plan kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Strategy {
    /// The placement order.
    pub order: Order,
    /// How buffers of equal size are ordered.
    pub ties: Ties,
    /// Rounds of [`reorder`] applied to the order (0: the plain greedy order).
    pub reorders: usize,
}

/// Most rounds of [`reorder::improve`] per strategy.
pub const REORDER_ROUNDS: usize = 16;

impl Strategy {
    /// Every strategy, in the order the planner tries them (the first smallest is kept).
    pub fn all() -> Vec<Strategy> {
        let mut v = Vec::new();
        for order in [Order::GreedyBySize, Order::GreedyByBreadth] {
            for ties in Ties::ALL {
                v.push(Strategy {
                    order,
                    ties,
                    reorders: 0,
                });
            }
        }
        v
    }

    /// The name used in listings (`greedy-by-size, ties by first use`).
    pub fn name(self) -> String {
        let order = match self.order {
            Order::GreedyBySize => "greedy-by-size",
            Order::GreedyByBreadth => "greedy-by-breadth",
        };
        let mut s = format!("{order}, ties by {}", self.ties.name());
        if self.reorders > 0 {
            s.push_str(&format!(", {} reorder(s)", self.reorders));
        }
        s
    }

    /// The greedy placement order of `buffers` over `steps` steps (before any reordering).
    pub fn order(self, buffers: &[liveness::Buffer], steps: usize) -> Vec<usize> {
        match self.order {
            Order::GreedyBySize => greedy_by_size::order(buffers, self.ties),
            Order::GreedyByBreadth => greedy_by_breadth::order(buffers, steps, self.ties),
        }
    }
}

/// The memory plan of a program.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Arena offset of each value that is the root of its alias group, not external, and used by
    /// some step (`None` otherwise).
    pub offsets: Vec<Option<usize>>,
    /// Arena offset of each step's scratch memory.
    pub scratch: Vec<Option<usize>>,
    /// For each step: whether its result 0 is placed over its `in_place` operand.
    pub in_place: Vec<bool>,
    /// Size of the arena in bytes (a multiple of [`ALIGN`]).
    pub arena_bytes: usize,
    /// The most bytes of arena values (and scratch), each rounded up to [`ALIGN`], live at any one
    /// step: no plan of these buffers can be smaller.
    pub lower_bound_bytes: usize,
    /// The offset assignment kept.
    pub strategy: Strategy,
}

impl Plan {
    /// Where value `v` is.
    pub fn place(&self, p: &Program, v: ValueId) -> Place {
        let (root, off) = p.root(v);
        match p.value(root).io {
            Some(Io::Input(n)) => Place::Input(n, off),
            Some(Io::Output(n)) => Place::Output(n, off),
            None => {
                // Untouched roots have no offset; nothing reads them.
                let base = self.offsets.get(root.index()).copied().flatten();
                Place::Arena(base.unwrap_or(0) + off)
            }
        }
    }
}

/// Plans `p`'s memory: liveness, in-place decisions, then the smallest of the greedy-by-size and
/// greedy-by-breadth assignments, each with every tie-break ([`Strategy::all`]) and improved by
/// [`reorder`] when above the lower bound; the first smallest is kept. An assignment equal to the
/// lower bound ends the search.
pub fn plan(p: &Program) -> Plan {
    let live = liveness(p);
    let steps = p.steps.len();
    let lower_bound_bytes = live.lower_bound(steps);
    let mut best: Option<(Vec<usize>, usize, Strategy)> = None;
    for strategy in Strategy::all() {
        let order = strategy.order(&live.buffers, steps);
        let (offsets, arena, reorders) =
            reorder::improve(&live.buffers, order, lower_bound_bytes, REORDER_ROUNDS);
        if best.as_ref().is_none_or(|b| arena < b.1) {
            best = Some((
                offsets,
                arena,
                Strategy {
                    reorders,
                    ..strategy
                },
            ));
        }
        if arena <= lower_bound_bytes {
            break;
        }
    }
    let (offsets, arena_bytes, strategy) = best.unwrap_or_default();
    let at = |b: Option<usize>| b.and_then(|b| offsets.get(b).copied());
    Plan {
        offsets: live.buffer_of_value.iter().map(|&b| at(b)).collect(),
        scratch: live.buffer_of_scratch.iter().map(|&b| at(b)).collect(),
        in_place: live.in_place.clone(),
        arena_bytes,
        lower_bound_bytes,
        strategy,
    }
}

fn value_loc(p: &Program, v: ValueId) -> Location {
    let val = p.value(v);
    Location::tensor(val.tflite_index, &val.name)
}

fn step_loc(p: &Program, s: usize) -> Location {
    let o = &p.steps[s].origin;
    Location::operator(o.ops.first().copied(), o.op)
}

/// Why step `s` cannot run in place, if it cannot (`ranges`: each root's own live range).
fn in_place_problem(
    p: &Program,
    plan: &Plan,
    s: usize,
    ranges: &[Option<(usize, usize)>],
) -> Option<String> {
    let step = &p.steps[s];
    let Some(i) = step.in_place else {
        return Some("runs in place but has no in-place operand".into());
    };
    let Some(Some(Operand::Value(x))) = step.inputs.get(i) else {
        return Some(format!(
            "runs in place over operand {i}, which is not a value"
        ));
    };
    let Some(&out) = step.outputs.first() else {
        return Some("runs in place but has no result".into());
    };
    let (vx, vo) = (p.value(*x), p.value(out));
    if vx.bytes != vo.bytes || vx.shape != vo.shape || vx.dtype.size() != vo.dtype.size() {
        return Some(format!(
            "runs in place over operand {i} of another shape or element size"
        ));
    }
    let ((rx, ox), (ro, oo)) = (p.root(*x), p.root(out));
    if ox != 0 || oo != 0 || p.value(rx).bytes != vx.bytes || p.value(ro).bytes != vo.bytes {
        return Some("runs in place over part of a value".into());
    }
    if p.is_external(rx) || p.is_external(ro) {
        return Some("runs in place over a model input or output".into());
    }
    if ranges[rx.index()].map(|r| r.1) != Some(s) {
        return Some(format!(
            "runs in place over operand {i}, which is used after this step"
        ));
    }
    if ranges[ro.index()].map(|r| r.0) != Some(s) {
        return Some("runs in place but its result is written before this step".into());
    }
    if plan.offsets[rx.index()].is_none() || plan.offsets[rx.index()] != plan.offsets[ro.index()] {
        return Some("runs in place but its result is not at its operand's offset".into());
    }
    let other_view = step.inputs.iter().enumerate().any(|(j, o)| match o {
        Some(Operand::Value(y)) => j != i && y != x && p.root(*y).0 == rx,
        _ => false,
    });
    other_view.then(|| "runs in place while another operand views the same bytes".into())
}

/// Each root value's live range, recomputed here rather than taken from [`mod@liveness`] so that
/// [`check`] does not share the planner's code: every step reading or writing a value or a view
/// of it touches the root.
fn own_ranges(p: &Program) -> Vec<Option<(usize, usize)>> {
    let mut ranges: Vec<Option<(usize, usize)>> = vec![None; p.values.len()];
    for (s, step) in p.steps.iter().enumerate() {
        let read = step.inputs.iter().filter_map(|o| match o {
            Some(Operand::Value(v)) => Some(*v),
            _ => None,
        });
        for v in read.chain(step.outputs.iter().copied()) {
            let r = &mut ranges[p.root(v).0.index()];
            let (first, last) = r.unwrap_or((s, s));
            *r = Some((first.min(s), last.max(s)));
        }
    }
    for (v, r) in ranges.iter_mut().enumerate() {
        if p.values[v].io.is_some() {
            *r = None;
        }
    }
    ranges
}

/// Verifies a plan of `p`: every touched arena root value and every scratch area has an aligned
/// offset inside the arena; aliases lie inside their root; no two buffers live at the same step
/// share bytes unless a step runs in place over one into the other, which must meet the in-place
/// conditions; the arena is at least the lower bound.
///
/// # Errors
/// Every violation found, each located at its value or step.
pub fn check(p: &Program, plan: &Plan) -> Result<()> {
    let (nv, ns) = (p.values.len(), p.steps.len());
    if plan.offsets.len() != nv || plan.scratch.len() != ns || plan.in_place.len() != ns {
        return Err(Error::invalid(
            Location::model(),
            format!(
                "memory plan: {} offsets, {} scratch, {} in-place flags for {nv} values and {ns} steps",
                plan.offsets.len(),
                plan.scratch.len(),
                plan.in_place.len()
            ),
        ));
    }
    let mut problems = Problems::default();
    let arena = plan.arena_bytes;
    if !arena.is_multiple_of(ALIGN) || plan.lower_bound_bytes > arena {
        problems.invalid(
            Location::model(),
            format!(
                "memory plan: arena of {arena} bytes (lower bound {})",
                plan.lower_bound_bytes
            ),
        );
    }
    let ranges = own_ranges(p);
    // (first, last, offset, end, what) of every buffer; `what` = value index or nv + step.
    let mut items = Vec::new();
    let placed = |off: usize, bytes: usize, loc: Location, problems: &mut Problems| {
        if !off.is_multiple_of(ALIGN) || off + aligned(bytes) > arena {
            problems.invalid(loc, format!("memory plan: offset {off} + {bytes} bytes is unaligned or past the arena ({arena} bytes)"));
        }
    };
    for (v, val) in p.values.iter().enumerate() {
        let id = ValueId(v as u32);
        let (root, off) = p.root(id);
        if val.alias.is_some() {
            if off + val.bytes > p.value(root).bytes {
                problems.invalid(
                    value_loc(p, id),
                    format!("memory plan: alias at byte {off} ends past its root"),
                );
            }
            continue;
        }
        match (ranges[v], plan.offsets[v]) {
            (Some((first, last)), Some(o)) => {
                placed(o, val.bytes, value_loc(p, id), &mut problems);
                items.push((first, last, o, o + aligned(val.bytes), v));
            }
            (Some(_), None) => {
                problems.invalid(value_loc(p, id), "memory plan: a used value has no offset")
            }
            (None, _) => {}
        }
    }
    for (s, step) in p.steps.iter().enumerate() {
        if step.scratch_bytes == 0 {
            continue;
        }
        match plan.scratch[s] {
            Some(o) => {
                placed(o, step.scratch_bytes, step_loc(p, s), &mut problems);
                items.push((s, s, o, o + aligned(step.scratch_bytes), nv + s));
            }
            None => problems.invalid(step_loc(p, s), "memory plan: scratch has no offset"),
        }
    }
    let mut allowed = BTreeSet::new();
    for s in (0..ns).filter(|&s| plan.in_place[s]) {
        match in_place_problem(p, plan, s, &ranges) {
            Some(why) => problems.invalid(step_loc(p, s), format!("memory plan: step {s} {why}")),
            None => {
                if let (Some(Some(Operand::Value(x))), Some(&out)) = (
                    p.steps[s].inputs.get(p.steps[s].in_place.unwrap_or(0)),
                    p.steps[s].outputs.first(),
                ) {
                    let (a, b) = (p.root(*x).0.index(), p.root(out).0.index());
                    allowed.insert((a.min(b), a.max(b)));
                }
            }
        }
    }
    // Pairs of buffers overlapping in memory must not be live at the same step, unless in place.
    items.sort_by_key(|&(_, _, o, e, w)| (o, e, w));
    for (k, &(f1, l1, _, e1, w1)) in items.iter().enumerate() {
        for &(f2, l2, o2, e2, w2) in &items[k + 1..] {
            if o2 >= e1 {
                break;
            }
            if e2 == o2 || !(f1 <= l2 && f2 <= l1) || allowed.contains(&(w1.min(w2), w1.max(w2))) {
                continue;
            }
            let name = |w: usize| {
                if w < nv {
                    format!("value {w} \"{}\"", p.values[w].name)
                } else {
                    format!("scratch of step {}", w - nv)
                }
            };
            let loc = if w1 < nv {
                value_loc(p, ValueId(w1 as u32))
            } else {
                step_loc(p, w1 - nv)
            };
            problems.invalid(
                loc,
                format!(
                    "memory plan: {} and {} share bytes while both live",
                    name(w1),
                    name(w2)
                ),
            );
        }
    }
    problems.finish(())
}

//! Liveness over a program's schedule: which arena buffers exist, when each is live, and which
//! steps run in place.
//!
//! A *buffer* is a range of arena bytes with one live range `[first, last]` (step indices,
//! inclusive). It holds one or more root values — values with no [`crate::lower::Alias`] that are
//! not model inputs or outputs — or one step's scratch memory. A root value is live from the first
//! step that touches it (writes it, or writes a value aliased into it) to the last step that
//! touches it (reads it or any value aliased to it); a value that is written and never read is live
//! at its writing step. Scratch is live during its step only. Values aliased to model inputs or
//! outputs are in the caller's buffers and not here.
//!
//! In place: a step with `in_place = Some(i)` may write result 0 over operand `i` when the operand
//! is an arena value whose buffer dies at this step, the result is an arena value first written
//! here, each covers its whole root value, and both have the same size. The result's root then
//! joins the operand's buffer (one interval), and [`Liveness::in_place`] marks the step.

use crate::lower::{Operand, Program, ValueId, ALIGN};

/// What a buffer holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holds {
    /// Root values sharing the bytes one after another (an in-place chain), in schedule order.
    Values(Vec<ValueId>),
    /// The scratch memory of this step.
    Scratch(usize),
}

/// A range of arena bytes with one live range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buffer {
    /// First step at which it is live.
    pub first: usize,
    /// Last step at which it is live (inclusive).
    pub last: usize,
    /// Size in bytes, rounded up to [`ALIGN`].
    pub bytes: usize,
    /// What it holds.
    pub holds: Holds,
}

impl Buffer {
    /// Whether the live ranges of `self` and `other` share a step.
    pub fn overlaps_in_time(&self, other: &Buffer) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

/// The buffers of a program and the in-place decisions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Liveness {
    /// Every buffer: root values in value order, then scratch in step order.
    pub buffers: Vec<Buffer>,
    /// For each value that is a touched arena root: its buffer.
    pub buffer_of_value: Vec<Option<usize>>,
    /// For each step with scratch: its buffer.
    pub buffer_of_scratch: Vec<Option<usize>>,
    /// For each step: whether result 0 is written over operand `in_place`.
    pub in_place: Vec<bool>,
    /// For each touched arena root value, its own live range (an in-place chain's buffer is the
    /// union of its members' ranges).
    pub value_range: Vec<Option<(usize, usize)>>,
}

impl Liveness {
    /// Bytes of live buffers at each step.
    pub fn live_bytes(&self, steps: usize) -> Vec<usize> {
        let mut delta = vec![0isize; steps + 1];
        for b in &self.buffers {
            if b.first < steps {
                delta[b.first] += b.bytes as isize;
                delta[(b.last + 1).min(steps)] -= b.bytes as isize;
            }
        }
        let mut live = Vec::with_capacity(steps);
        let mut cur = 0isize;
        for d in delta.iter().take(steps) {
            cur += d;
            live.push(cur.max(0) as usize);
        }
        live
    }

    /// The most bytes live at any one step: no arena for these buffers can be smaller.
    pub fn lower_bound(&self, steps: usize) -> usize {
        self.live_bytes(steps).into_iter().max().unwrap_or(0)
    }
}

/// `bytes` rounded up to [`ALIGN`].
pub fn aligned(bytes: usize) -> usize {
    bytes.div_ceil(ALIGN) * ALIGN
}

/// Whether `v` is an arena value that covers its whole root value (offset 0, same size).
fn covers_root(p: &Program, v: ValueId) -> Option<ValueId> {
    let (root, off) = p.root(v);
    let whole = off == 0 && p.value(v).bytes == p.value(root).bytes;
    (whole && !p.is_external(root)).then_some(root)
}

/// Each arena root value's own live range: the first and last step touching it or a value
/// aliased into it. `None` for external values, aliases and untouched values.
pub fn value_ranges(p: &Program) -> Vec<Option<(usize, usize)>> {
    let mut range: Vec<Option<(usize, usize)>> = vec![None; p.values.len()];
    let mut touch = |v: ValueId, s: usize| {
        let (root, _) = p.root(v);
        if p.is_external(root) {
            return;
        }
        if let Some(r) = range.get_mut(root.index()) {
            *r = Some(match *r {
                None => (s, s),
                Some((a, b)) => (a.min(s), b.max(s)),
            });
        }
    };
    for (s, step) in p.steps.iter().enumerate() {
        for o in step.inputs.iter().flatten() {
            if let Operand::Value(v) = o {
                touch(*v, s);
            }
        }
        for &v in &step.outputs {
            touch(v, s);
        }
    }
    for &(v, s) in &p.keep_live {
        touch(v, s);
    }
    range
}

/// Whether step `s` of `p` may run in place, given each root's buffer so far (`buffer_of`) and
/// the buffers' live ranges: returns the operand's and the result's root values.
fn in_place_pair(
    p: &Program,
    s: usize,
    buffers: &[Buffer],
    buffer_of: &[Option<usize>],
) -> Option<(ValueId, ValueId)> {
    let step = &p.steps[s];
    let i = step.in_place?;
    let Some(Some(Operand::Value(x))) = step.inputs.get(i) else {
        return None;
    };
    let out = *step.outputs.first()?;
    let (vx, vo) = (p.value(*x), p.value(out));
    // Element k of the result occupies element k's bytes of the operand.
    if vx.bytes != vo.bytes || vx.shape != vo.shape || vx.dtype.size() != vo.dtype.size() {
        return None;
    }
    let (rx, ro) = (covers_root(p, *x)?, covers_root(p, out)?);
    let (bx, bo) = (
        buffer_of.get(rx.index()).copied().flatten()?,
        buffer_of.get(ro.index()).copied().flatten()?,
    );
    // The operand's bytes die here and the result's are born here; no other operand of the step
    // may live in the operand's buffer (it would be read after being overwritten by a kernel that
    // reads operands element by element).
    let others_share = step.inputs.iter().enumerate().any(|(j, o)| match o {
        Some(Operand::Value(y)) if j != i => {
            let (ry, _) = p.root(*y);
            buffer_of.get(ry.index()).copied().flatten() == Some(bx) && *y != *x
        }
        _ => false,
    });
    let ok = bx != bo && buffers[bx].last == s && buffers[bo].first == s && !others_share;
    ok.then_some((rx, ro))
}

/// Liveness of `p`'s arena values and scratch, with in-place decisions.
pub fn liveness(p: &Program) -> Liveness {
    let value_range = value_ranges(p);
    let mut buffers = Vec::new();
    let mut buffer_of: Vec<Option<usize>> = vec![None; p.values.len()];
    for (v, r) in value_range.iter().enumerate() {
        if let Some((first, last)) = *r {
            buffer_of[v] = Some(buffers.len());
            buffers.push(Buffer {
                first,
                last,
                bytes: aligned(p.values[v].bytes),
                holds: Holds::Values(vec![ValueId(v as u32)]),
            });
        }
    }
    // In-place chains, in schedule order: the result's buffer joins the operand's.
    let mut in_place = vec![false; p.steps.len()];
    let mut merged = vec![false; buffers.len()];
    for (s, flag) in in_place.iter_mut().enumerate() {
        let Some((rx, ro)) = in_place_pair(p, s, &buffers, &buffer_of) else {
            continue;
        };
        let (Some(bx), Some(bo)) = (buffer_of[rx.index()], buffer_of[ro.index()]) else {
            continue;
        };
        let Holds::Values(moved) =
            std::mem::replace(&mut buffers[bo].holds, Holds::Values(Vec::new()))
        else {
            continue;
        };
        let last = buffers[bo].last;
        let bytes = buffers[bo].bytes;
        let into = &mut buffers[bx];
        into.last = into.last.max(last);
        into.bytes = into.bytes.max(bytes);
        if let Holds::Values(vs) = &mut into.holds {
            for &m in &moved {
                buffer_of[m.index()] = Some(bx);
            }
            vs.extend(moved);
        }
        merged[bo] = true;
        *flag = true;
    }
    // Drop the emptied buffers and renumber.
    let mut renumber = vec![None; buffers.len()];
    let mut kept = Vec::new();
    for (i, b) in buffers.into_iter().enumerate() {
        if !merged[i] {
            renumber[i] = Some(kept.len());
            kept.push(b);
        }
    }
    let buffer_of_value = buffer_of
        .iter()
        .map(|b| b.and_then(|b| renumber[b]))
        .collect();
    let mut buffer_of_scratch = vec![None; p.steps.len()];
    for (s, step) in p.steps.iter().enumerate() {
        if step.scratch_bytes > 0 {
            buffer_of_scratch[s] = Some(kept.len());
            kept.push(Buffer {
                first: s,
                last: s,
                bytes: aligned(step.scratch_bytes),
                holds: Holds::Scratch(s),
            });
        }
    }
    Liveness {
        buffers: kept,
        buffer_of_value,
        buffer_of_scratch,
        in_place,
        value_range,
    }
}

//! Hard-swish recognition: the decomposed `x · relu6(x + 3) / 6` becomes one HARD_SWISH op.
//!
//! Precondition: a verified graph.
//!
//! Recognized in float32, with `r = relu6(x + 3)` and every constant a single repeated value that
//! does not broadcast the other operand:
//! - `r` as RELU6(ADD(x, 3)), ADD(x, 3) with a fused RELU6, or a clamp MINIMUM(MAXIMUM(·, 0), 6) /
//!   MAXIMUM(MINIMUM(·, 6), 0) of ADD(x, 3) (operands of ADD, MUL, MINIMUM and MAXIMUM in either
//!   order);
//! - the whole as `(x · r) / 6`, `(x · r) · (1/6)`, `x · (r / 6)` or `x · (r · (1/6))`.
//!
//! Every intermediate must be read only by the next op of the pattern (and not be a model
//! output), and no op of the pattern may have a fused activation (but the ADD's RELU6). The
//! pattern's ops are replaced by HARD_SWISH(x) writing the pattern's result tensor.
//!
//! Guarantee: the result changes by float rounding only (HARD_SWISH computes `x · r / 6` in that
//! order; `· (1/6)` and `x · (r / 6)` round differently), inside the conformance tolerance.
//! Quantized patterns are left alone: their chain of requantizations is not bit-identical to
//! TFLite's quantized HARD_SWISH.

use super::rewrite::{const_f32, fused_activation, input, topo, Uses};
use super::{Changed, PassCx};
use crate::error::Result;
use crate::ir::{
    Activation, DType, FusedActAttrs, Graph, NoAttrs, Op, OpId, OpKind, OpNode, TensorId,
};

/// Runs the pass.
///
/// # Errors
/// None in practice (a cycle, which the verifier rules out).
pub fn run(g: &mut Graph, _cx: &mut PassCx) -> Result<Changed> {
    let mut found = 0;
    let mut uses = Uses::new(g);
    for id in topo(g)? {
        if !g.contains_op(id) {
            continue;
        }
        let Some((x, ops)) = hard_swish_at(g, &uses, id) else {
            continue;
        };
        let node = g.op(id);
        let Some(&out) = node.outputs.first() else {
            continue;
        };
        let tflite_index = node.tflite_index;
        for op in ops {
            g.remove_op(op);
        }
        g.add_op(OpNode {
            op: Op::HardSwish(NoAttrs),
            inputs: vec![Some(x)],
            outputs: vec![out],
            tflite_index,
            version: 1,
        });
        g.relink();
        uses = Uses::new(g);
        found += 1;
    }
    Ok(Changed(found))
}

/// Whether `v` is 1/6 up to float32 rounding.
fn is_sixth(v: f32) -> bool {
    (f64::from(v) - 1.0 / 6.0).abs() <= 1e-7
}

/// A binary op of `kind` with no fused activation, one operand constant (a single repeated
/// float32 value, not broadcasting the other operand): the other operand, the constant value and
/// whether the constant is the second operand.
fn with_const(g: &Graph, id: OpId, kind: OpKind) -> Option<(TensorId, f32, bool)> {
    let node = g.op(id);
    if node.op.kind() != kind
        || matches!(fused_activation(&node.op), Some(a) if a != Activation::None)
    {
        return None;
    }
    let (a, b) = (input(node, 0)?, input(node, 1)?);
    let (x, c, second) = match (g.tensor(a).is_const(), g.tensor(b).is_const()) {
        (false, true) => (a, b, true),
        (true, false) => (b, a, false),
        _ => return None,
    };
    let (xt, ot) = (g.tensor(x), g.tensor(*node.outputs.first()?));
    if xt.dtype != DType::F32 || ot.dtype != DType::F32 || xt.shape != ot.shape {
        return None;
    }
    let v = const_f32(g.tensor(c))?;
    let first = *v.first()?;
    v.iter()
        .all(|&y| y.to_bits() == first.to_bits())
        .then_some((x, first, second))
}

/// Both operands of a binary op of `kind` without fused activation (float32, no broadcasting).
fn operands(g: &Graph, id: OpId, kind: OpKind) -> Option<(TensorId, TensorId)> {
    let node = g.op(id);
    if node.op.kind() != kind || fused_activation(&node.op) != Some(Activation::None) {
        return None;
    }
    let (a, b) = (input(node, 0)?, input(node, 1)?);
    let out = g.tensor(*node.outputs.first()?);
    let ok = |t: TensorId| g.tensor(t).dtype == DType::F32 && g.tensor(t).shape == out.shape;
    (ok(a) && ok(b)).then_some((a, b))
}

/// The producer of `t` if `t` is read only by `reader`.
fn single_producer(g: &Graph, uses: &Uses, t: TensorId, reader: OpId) -> Option<OpId> {
    (uses.sole_reader(t) == Some(reader)).then_some(())?;
    g.producer(t)
}

/// `t / 6` or `t · (1/6)` computed by op `id`: `t`.
fn div_six(g: &Graph, id: OpId) -> Option<TensorId> {
    if let Some((t, c, true)) = with_const(g, id, OpKind::Div) {
        return (c == 6.0).then_some(t);
    }
    let (t, c, _) = with_const(g, id, OpKind::Mul)?;
    is_sixth(c).then_some(t)
}

/// If `r` (read only by `reader`) is `relu6(x + 3)`: `x` and the ops computing `r`.
fn relu6_x_plus_3(
    g: &Graph,
    uses: &Uses,
    r: TensorId,
    reader: OpId,
) -> Option<(TensorId, Vec<OpId>)> {
    let p = single_producer(g, uses, r, reader)?;
    let node = g.op(p);
    // ADD(x, 3) with a fused RELU6.
    if let Some((x, c)) = add_const(g, node, Activation::Relu6) {
        return (c == 3.0).then_some((x, vec![p]));
    }
    // The clamp to [0, 6] around ADD(x, 3).
    let (y, clamp_ops) = match node.op.kind() {
        OpKind::Relu6 => (input(node, 0)?, vec![p]),
        OpKind::Minimum => {
            let (u, hi, _) = with_const(g, p, OpKind::Minimum)?;
            let q = single_producer(g, uses, u, p)?;
            let (y, lo, _) = with_const(g, q, OpKind::Maximum)?;
            (lo == 0.0 && hi == 6.0).then_some((y, vec![q, p]))?
        }
        OpKind::Maximum => {
            let (u, lo, _) = with_const(g, p, OpKind::Maximum)?;
            let q = single_producer(g, uses, u, p)?;
            let (y, hi, _) = with_const(g, q, OpKind::Minimum)?;
            (lo == 0.0 && hi == 6.0).then_some((y, vec![q, p]))?
        }
        _ => return None,
    };
    let first = *clamp_ops.first()?;
    let add = single_producer(g, uses, y, first)?;
    let (x, c) = add_const(g, g.op(add), Activation::None)?;
    if c != 3.0 || g.tensor(y).dtype != DType::F32 {
        return None;
    }
    let mut ops = vec![add];
    ops.extend(clamp_ops);
    Some((x, ops))
}

/// For an ADD with fused activation `act` and a constant operand (a single repeated float32
/// value, not broadcasting the other operand): the other operand and the constant.
fn add_const(g: &Graph, node: &OpNode, act: Activation) -> Option<(TensorId, f32)> {
    if node.op != Op::Add(FusedActAttrs { act }) {
        return None;
    }
    let (a, b) = (input(node, 0)?, input(node, 1)?);
    let (x, c) = match (g.tensor(a).is_const(), g.tensor(b).is_const()) {
        (false, true) => (a, b),
        (true, false) => (b, a),
        _ => return None,
    };
    let (xt, ot) = (g.tensor(x), g.tensor(*node.outputs.first()?));
    if xt.dtype != DType::F32 || xt.shape != ot.shape {
        return None;
    }
    let v = const_f32(g.tensor(c))?;
    let first = *v.first()?;
    v.iter()
        .all(|&y| y.to_bits() == first.to_bits())
        .then_some((x, first))
}

/// If op `id` ends a hard-swish pattern: `x` and every op of the pattern.
fn hard_swish_at(g: &Graph, uses: &Uses, id: OpId) -> Option<(TensorId, Vec<OpId>)> {
    // (x · r) / 6 or (x · r) · (1/6).
    if let Some(m) = div_six(g, id) {
        if let Some(mul) = single_producer(g, uses, m, id) {
            if let Some((a, b)) = operands(g, mul, OpKind::Mul) {
                for (x, r) in [(a, b), (b, a)] {
                    if let Some((x2, mut ops)) = relu6_x_plus_3(g, uses, r, mul) {
                        if x2 == x {
                            ops.extend([mul, id]);
                            return Some((x, ops));
                        }
                    }
                }
            }
        }
    }
    // x · (r / 6) or x · (r · (1/6)).
    let (a, b) = operands(g, id, OpKind::Mul)?;
    for (x, s) in [(a, b), (b, a)] {
        let Some(d) = single_producer(g, uses, s, id) else {
            continue;
        };
        let Some(r) = div_six(g, d) else { continue };
        if let Some((x2, mut ops)) = relu6_x_plus_3(g, uses, r, d) {
            if x2 == x {
                ops.extend([d, id]);
                return Some((x, ops));
            }
        }
    }
    None
}

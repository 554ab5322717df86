//! Activation fusion: a standalone RELU, RELU6 or RELU_N1_TO_1, or a clamp written as
//! `MINIMUM(MAXIMUM(x, lo), hi)` / `MAXIMUM(MINIMUM(x, hi), lo)` (or `MAXIMUM(x, 0)` alone) with
//! constant bounds matching one of those ranges, becomes the fused activation of the op producing
//! `x`.
//!
//! Precondition: a verified graph.
//!
//! Matched when the producer has a fused-activation attribute (CONV_2D, DEPTHWISE_CONV_2D,
//! TRANSPOSE_CONV, FULLY_CONNECTED, ADD, SUB, MUL, DIV, AVERAGE_POOL_2D, MAX_POOL_2D) set to NONE,
//! `x` is read only by the activation (and is not a model output), every intermediate of a clamp
//! pair likewise, and the activation's result has `x`'s shape and type. The producer then writes
//! the activation's result tensor directly; `x` and the activation ops disappear.
//!
//! Guarantee, float32: a producer with no activation clamps to `±FLT_MAX` (TFLite's
//! `CalculateActivationRange`), so its fused RELU/RELU6/RELU_N1_TO_1 clamp gives exactly the
//! standalone op's result for every value, NaN included. The one difference is MAXIMUM's NaN
//! rule: `MAXIMUM(NaN, 0)` is 0 (TFLite's `a > b ? a : b`), a fused clamp keeps NaN; finite and
//! infinite values are identical.
//!
//! Guarantee, int8/uint8: bit-exact, and only fused where provably so. A fused quantized
//! activation clamps the producer's result, in its output's integer domain, to
//! `CalculateActivationRangeQuantized(act, S_out, Z_out)`; a standalone RELU requantizes from its
//! input to its output scale and then clamps to bounds computed the same way on its output scale.
//! The pass requires the activation's input and output quantization to be identical (then the
//! requantization multiplier is exactly 1 and the bounds coincide) and, rather than trusting that
//! argument, evaluates the standalone op(s) with the reference kernels on every one of the 256
//! input codes and compares with the fused clamp. A clamp pair is fused when one of the three
//! activation ranges reproduces it on every code.

use super::rewrite::{
    all_codes, const_f32, eval_alone, fused_activation, fused_activation_mut, input,
    same_type_and_quant, sane_per_tensor, tensor_like, topo, Uses,
};
use super::{Changed, PassCx};
use crate::error::Result;
use crate::ir::{Activation, DType, Graph, Op, OpId, OpKind, Tensor, TensorId};
use crate::quant::act_q;

/// A standalone activation found in the graph.
struct Candidate {
    /// The activated tensor.
    x: TensorId,
    /// The ops computing the activation, first to last.
    ops: Vec<OpId>,
    /// The activation's result.
    out: TensorId,
    /// For float: the fused activation it equals. For quantized graphs it is found by evaluation.
    float_act: Option<Activation>,
}

/// Runs the pass.
///
/// # Errors
/// None in practice (a cycle, which the verifier rules out).
pub fn run(g: &mut Graph, _cx: &mut PassCx) -> Result<Changed> {
    let mut fused = 0;
    let mut uses = Uses::new(g);
    for id in topo(g)? {
        if !g.contains_op(id) {
            continue;
        }
        let Some((c, producer, act)) = candidates(g, &uses, id)
            .into_iter()
            .find_map(|c| fusable(g, c))
        else {
            continue;
        };
        let p = g.op_mut(producer);
        if let Some(a) = fused_activation_mut(&mut p.op) {
            *a = act;
        }
        for o in p.outputs.iter_mut() {
            if *o == c.x {
                *o = c.out;
            }
        }
        for op in &c.ops {
            g.remove_op(*op);
        }
        g.relink();
        uses = Uses::new(g);
        fused += 1;
    }
    Ok(Changed(fused))
}

/// The candidate, its producer and the activation to fuse, if it can be fused.
fn fusable(g: &Graph, c: Candidate) -> Option<(Candidate, OpId, Activation)> {
    let producer = g.producer(c.x)?;
    // TFLite's CONCATENATION takes no fused activation (the IR's is for float only): skip it.
    let pop = &g.op(producer).op;
    if pop.kind() == OpKind::Concatenation || fused_activation(pop) != Some(Activation::None) {
        return None;
    }
    let (xt, ot) = (g.tensor(c.x), g.tensor(c.out));
    if xt.shape != ot.shape || !same_type_and_quant(xt, ot) {
        return None;
    }
    let act = match xt.dtype {
        DType::F32 => c.float_act,
        DType::I8 | DType::U8 => quantized_act(g, &c),
        _ => None,
    }?;
    Some((c, producer, act))
}

/// The standalone activations starting at op `id`, in order of preference (a clamp pair before
/// its MAXIMUM alone), with every intermediate read only once.
fn candidates(g: &Graph, uses: &Uses, id: OpId) -> Vec<Candidate> {
    let node = g.op(id);
    let Some(&out) = node.outputs.first() else {
        return Vec::new();
    };
    let single = |t: TensorId, reader: OpId| uses.sole_reader(t) == Some(reader);
    let simple = |act: Activation| -> Vec<Candidate> {
        match input(node, 0) {
            Some(x) if single(x, id) => {
                vec![Candidate {
                    x,
                    ops: vec![id],
                    out,
                    float_act: Some(act),
                }]
            }
            _ => Vec::new(),
        }
    };
    let kind = node.op.kind();
    match kind {
        OpKind::Relu => return simple(Activation::Relu),
        OpKind::Relu6 => return simple(Activation::Relu6),
        OpKind::ReluN1To1 => return simple(Activation::ReluN1To1),
        OpKind::Minimum | OpKind::Maximum => {}
        _ => return Vec::new(),
    }
    let Some((x, bound)) = split_const(g, id) else {
        return Vec::new();
    };
    if !single(x, id) {
        return Vec::new();
    }
    let mut found = Vec::new();
    // A clamp pair: this op and its one reader, the other of MINIMUM/MAXIMUM.
    if let Some(outer) = uses.sole_reader(out) {
        let outer_kind = g.op(outer).op.kind();
        let complementary = matches!(
            (kind, outer_kind),
            (OpKind::Maximum, OpKind::Minimum) | (OpKind::Minimum, OpKind::Maximum)
        );
        if complementary {
            if let Some((inner_out, outer_bound)) = split_const(g, outer) {
                if let (true, Some(&end)) = (inner_out == out, g.op(outer).outputs.first()) {
                    let (lo, hi) = if kind == OpKind::Maximum {
                        (bound, outer_bound)
                    } else {
                        (outer_bound, bound)
                    };
                    let float_act = match (lo, hi) {
                        (Some(lo), Some(hi)) if lo == 0.0 && hi == 6.0 => Some(Activation::Relu6),
                        (Some(lo), Some(hi)) if lo == -1.0 && hi == 1.0 => {
                            Some(Activation::ReluN1To1)
                        }
                        _ => None,
                    };
                    found.push(Candidate {
                        x,
                        ops: vec![id, outer],
                        out: end,
                        float_act,
                    });
                }
            }
        }
    }
    // MAXIMUM(x, 0) alone is a RELU.
    if kind == OpKind::Maximum {
        let float_act = (bound == Some(0.0)).then_some(Activation::Relu);
        found.push(Candidate {
            x,
            ops: vec![id],
            out,
            float_act,
        });
    }
    found
}

/// For a MINIMUM/MAXIMUM with one constant operand of one repeated value that does not broadcast
/// the other operand: the other operand and, for float32, the bound.
fn split_const(g: &Graph, id: OpId) -> Option<(TensorId, Option<f32>)> {
    let node = g.op(id);
    let (a, b) = (input(node, 0)?, input(node, 1)?);
    let (x, c) = match (g.tensor(a).is_const(), g.tensor(b).is_const()) {
        (false, true) => (a, b),
        (true, false) => (b, a),
        _ => return None,
    };
    let out = g.tensor(*node.outputs.first()?);
    if out.shape != g.tensor(x).shape {
        return None;
    }
    let ct = g.tensor(c);
    if ct.dtype != DType::F32 {
        // Quantized bounds are checked by evaluation; they must still be one repeated code.
        let d = ct.data.as_ref()?;
        let size = ct.dtype.size();
        let first = d.get(..size)?;
        return d
            .chunks_exact(size)
            .all(|v| v == first)
            .then_some((x, None));
    }
    let v = const_f32(ct)?;
    let first = *v.first()?;
    v.iter()
        .all(|&y| y.to_bits() == first.to_bits())
        .then_some((x, Some(first)))
}

/// The fused activation that reproduces the quantized candidate on every input code, if any.
fn quantized_act(g: &Graph, c: &Candidate) -> Option<Activation> {
    let xt = g.tensor(c.x);
    if !sane_per_tensor(xt) {
        return None;
    }
    let (scale, zp) = xt.per_tensor_quant()?;
    let codes = all_codes(xt.dtype)?;
    let got = eval_chain(g, c, xt, &codes)?;
    [Activation::Relu, Activation::Relu6, Activation::ReluN1To1]
        .into_iter()
        .find(|&act| {
            let a = act_q(act, xt.dtype, scale, zp as i32);
            if a.min > a.max {
                return false;
            }
            let decode = |b: u8| {
                if xt.dtype == DType::I8 {
                    i32::from(b as i8)
                } else {
                    i32::from(b)
                }
            };
            codes
                .iter()
                .zip(&got)
                .all(|(&x, &y)| decode(x).clamp(a.min, a.max) == decode(y))
        })
}

/// Runs the candidate's ops alone, with the reference kernels, on `codes` (a 1-D tensor of `x`'s
/// type), returning the result bytes.
fn eval_chain(g: &Graph, c: &Candidate, xt: &Tensor, codes: &[u8]) -> Option<Vec<u8>> {
    let n = codes.len();
    let mut cur = tensor_like(xt, vec![n], Some(codes.to_vec()));
    let mut cur_id = c.x;
    for &op in &c.ops {
        let node = g.op(op);
        let out_t = g.tensor(*node.outputs.first()?);
        let mut ins = Vec::new();
        for t in &node.inputs {
            let t = (*t)?;
            if t == cur_id {
                ins.push(Some(cur.clone()));
            } else {
                // A constant bound of one repeated value: one element broadcasts.
                let ct = g.tensor(t);
                let d = ct.data.as_ref()?.get(..ct.dtype.size())?.to_vec();
                ins.push(Some(tensor_like(ct, vec![1], Some(d))));
            }
        }
        let op_copy: Op = node.op.clone();
        let out = eval_alone(op_copy, ins, vec![tensor_like(out_t, vec![n], None)]).ok()?;
        let bytes = out.first()?.bytes().to_vec();
        cur = tensor_like(out_t, vec![n], Some(bytes));
        cur_id = *node.outputs.first()?;
    }
    cur.data
}

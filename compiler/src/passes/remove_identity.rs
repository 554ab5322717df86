//! Identity removal: ops that give back their operand unchanged are removed and their readers
//! read the operand instead.
//!
//! Precondition: a verified graph.
//!
//! Removed, when the result has the operand's element type, shape and quantization (bit-equal
//! scales and zero points):
//! - RESHAPE and SQUEEZE to the same shape, CAST to the same type (plain copies);
//! - QUANTIZE from a quantized type to the same type, scale and zero point;
//! - DEQUANTIZE → QUANTIZE pairs giving back the DEQUANTIZE's operand.
//!
//! The two quantized forms are not trusted on their parameters: each is evaluated with the
//! reference kernels on every one of the 256 codes of its type and removed only if every code
//! comes back unchanged (a DEQUANTIZE left without readers goes to dead-code elimination).
//!
//! Guarantee: bit-exact; the model's outputs stay the same tensors. When the identity's result is
//! a model output, the op producing its operand writes the result tensor instead (if that operand
//! is not itself a model input or output); otherwise the identity stays.

use super::rewrite::{
    all_codes, eval_alone, input, replace_reads, same_type_and_quant, sane_per_tensor, tensor_like,
    topo, Uses,
};
use super::{Changed, PassCx};
use crate::error::Result;
use crate::ir::{DType, Graph, Op, OpId, OpKind, TensorId};

/// Runs the pass.
///
/// # Errors
/// None in practice (a cycle, which the verifier rules out).
pub fn run(g: &mut Graph, _cx: &mut PassCx) -> Result<Changed> {
    let mut removed = 0;
    let mut uses = Uses::new(g);
    for id in topo(g)? {
        if !g.contains_op(id) {
            continue;
        }
        let Some((a, b, ops)) = identity(g, id) else {
            continue;
        };
        if bypass(g, &uses, a, b, &ops) {
            uses = Uses::new(g);
            removed += 1;
        }
    }
    Ok(Changed(removed))
}

/// If op `id` ends an identity: its operand `a`, its result `b` and the ops computing `b` from
/// `a` that may be removed (first to last).
fn identity(g: &Graph, id: OpId) -> Option<(TensorId, TensorId, Vec<OpId>)> {
    let node = g.op(id);
    let x = input(node, 0)?;
    let y = *node.outputs.first()?;
    let (xt, yt) = (g.tensor(x), g.tensor(y));
    let same = xt.shape == yt.shape && same_type_and_quant(xt, yt);
    match node.op.kind() {
        OpKind::Reshape | OpKind::Squeeze | OpKind::Cast if same => Some((x, y, vec![id])),
        OpKind::Quantize if same && xt.dtype != DType::F32 => {
            let codes = all_codes(xt.dtype)?;
            if !sane_per_tensor(xt) {
                return None;
            }
            let n = codes.len();
            let out = eval_alone(
                node.op.clone(),
                vec![Some(tensor_like(xt, vec![n], Some(codes.clone())))],
                vec![tensor_like(yt, vec![n], None)],
            )
            .ok()?;
            (out.first()?.bytes() == codes.as_slice()).then_some((x, y, vec![id]))
        }
        OpKind::Quantize if xt.dtype == DType::F32 => {
            // QUANTIZE(DEQUANTIZE(q)).
            let dq = g.producer(x)?;
            let dq_node = g.op(dq);
            if dq_node.op.kind() != OpKind::Dequantize {
                return None;
            }
            let q = input(dq_node, 0)?;
            let qt = g.tensor(q);
            if qt.shape != yt.shape || !same_type_and_quant(qt, yt) || !sane_per_tensor(qt) {
                return None;
            }
            let codes = all_codes(qt.dtype)?;
            let n = codes.len();
            let f = eval_alone(
                Op::Dequantize(crate::ir::NoAttrs),
                vec![Some(tensor_like(qt, vec![n], Some(codes.clone())))],
                vec![tensor_like(xt, vec![n], None)],
            )
            .ok()?;
            let back = eval_alone(
                node.op.clone(),
                vec![Some(tensor_like(
                    xt,
                    vec![n],
                    Some(f.first()?.bytes().to_vec()),
                ))],
                vec![tensor_like(yt, vec![n], None)],
            )
            .ok()?;
            (back.first()?.bytes() == codes.as_slice()).then_some((q, y, vec![id]))
        }
        _ => None,
    }
}

/// Makes the readers of `b` read `a` and removes `ops`; returns whether it did.
fn bypass(g: &mut Graph, uses: &Uses, a: TensorId, b: TensorId, ops: &[OpId]) -> bool {
    if !uses.is_output(b) {
        replace_reads(g, b, a);
    } else {
        // `b` must stay: the op producing `a` writes `b`, and `a`'s other readers read `b`.
        let Some(p) = g.producer(a) else { return false };
        if uses.is_output(a) || ops.contains(&p) {
            return false;
        }
        for o in g.op_mut(p).outputs.iter_mut() {
            if *o == a {
                *o = b;
            }
        }
        for &op in ops {
            g.remove_op(op);
        }
        replace_reads(g, a, b);
        g.relink();
        return true;
    }
    for &op in ops {
        g.remove_op(op);
    }
    g.relink();
    true
}

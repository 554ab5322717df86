//! Residual-add fusion: `ADD(conv, other)` (or `ADD(other, conv)`) where `conv` is the result of
//! a CONV_2D becomes that convolution with a residual operand ([`Conv2dAttrs::residual`]): it
//! computes the sum in its epilogue and writes the ADD's result; the ADD and the convolution's
//! own result disappear. This is MobileNet v2's projection (a 1×1 convolution) plus shortcut, but
//! any CONV_2D qualifies.
//!
//! Precondition: a verified graph; activations fused (a RELU after the ADD is the ADD's fused
//! activation by then, and a convolution with a fused activation does not match).
//!
//! Matched when the convolution has no fused activation and no residual yet, its result is read
//! only by the ADD (once) and is not a model output, and `conv`, `other` and the ADD's result
//! have the same shape (no broadcasting) and type. Quantized, `conv` must be quantized per
//! tensor with its zero point in its type's range (its quantization is kept in the residual
//! attribute: the epilogue requantizes to it first).
//!
//! Guarantee: bit-identical results, float and quantized. The fused kernel finishes the
//! convolution's value exactly as the unfused CONV_2D stored it (float: rounded to `f32` and
//! clamped to `±FLT_MAX`; quantized: requantized with the multipliers of the removed tensor's
//! scale, offset by its zero point, clamped to the type's range), then applies TFLite's ADD to it
//! and `other` — the float sum and the ADD's clamp, or the quantized ADD's arithmetic (left shift
//! 20, both operands rescaled to twice the larger scale, the sum rescaled to the output, the
//! ADD's activation range) with the parameters `ops::binary` computes for the ADD. Which operand
//! of the ADD the convolution was does not matter: the float sum and the sum of the two rescaled
//! operands commute.

use super::rewrite::{input, sane_per_tensor, topo, Uses};
use super::{Changed, PassCx};
use crate::error::Result;
use crate::ir::{Activation, Conv2dAttrs, DType, Graph, Op, OpId, Residual, TensorId};

/// A fusable ADD and the convolution producing one of its operands.
struct Match {
    add: OpId,
    conv: OpId,
    other: TensorId,
    out: TensorId,
    act: Activation,
    conv_quant: Option<(f32, i64)>,
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
        let Some(m) = find(g, &uses, id) else {
            continue;
        };
        let node = g.op_mut(m.conv);
        node.inputs.resize(3, None);
        node.inputs.push(Some(m.other));
        node.outputs = vec![m.out];
        if let Op::Conv2d(a) = &mut node.op {
            a.act = m.act;
            a.residual = Some(Residual {
                conv_quant: m.conv_quant,
            });
        }
        g.remove_op(m.add);
        g.relink();
        uses = Uses::new(g);
        fused += 1;
    }
    Ok(Changed(fused))
}

/// The fusion of op `id`, if it is an ADD of a convolution's result and another tensor.
fn find(g: &Graph, uses: &Uses, id: OpId) -> Option<Match> {
    let node = g.op(id);
    let Op::Add(attrs) = &node.op else {
        return None;
    };
    let (a, b) = (input(node, 0)?, input(node, 1)?);
    let [out] = node.outputs[..] else {
        return None;
    };
    [(a, b), (b, a)]
        .into_iter()
        .find_map(|(c, other)| candidate(g, uses, id, [c, other, out], attrs.act))
}

/// The match when `conv` is a fusable convolution's result and `other` fits.
fn candidate(
    g: &Graph,
    uses: &Uses,
    add: OpId,
    [conv, other, out]: [TensorId; 3],
    act: Activation,
) -> Option<Match> {
    if conv == other || uses.sole_reader(conv) != Some(add) || act == Activation::Tanh {
        return None;
    }
    let producer = g.producer(conv)?;
    let pnode = g.op(producer);
    let Op::Conv2d(Conv2dAttrs {
        act: Activation::None,
        residual: None,
        ..
    }) = &pnode.op
    else {
        return None;
    };
    if pnode.outputs[..] != [conv] || pnode.inputs.len() > 3 {
        return None;
    }
    let (ct, ot, yt) = (g.tensor(conv), g.tensor(other), g.tensor(out));
    if ct.shape != yt.shape || ot.shape != yt.shape || ct.dtype != yt.dtype || ot.dtype != yt.dtype
    {
        return None;
    }
    let conv_quant = match ct.dtype {
        DType::F32 => None,
        DType::I8 | DType::U8 if sane_per_tensor(ct) => Some(ct.per_tensor_quant()?),
        _ => return None,
    };
    Some(Match {
        add,
        conv: producer,
        other,
        out,
        act,
        conv_quant,
    })
}

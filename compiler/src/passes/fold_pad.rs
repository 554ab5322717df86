//! Pad folding: a PAD (or a PADV2 padding with zero) of the height and width of an NHWC tensor
//! whose result only convolutions read becomes explicit padding of those convolutions
//! ([`Padding::Explicit`]); the padded copy disappears.
//!
//! Precondition: a verified graph; constants folded (the paddings and PADV2's value are
//! constants by then).
//!
//! Matched when the PAD's input has rank 4, its paddings are zero on the batch and channel
//! dimensions, its pad value is zero — 0.0 in float (PAD always; PADV2 when its constant is ±0.0),
//! the zero point in quantized graphs (PAD's choice, or PADV2's constant equal to it) — and every
//! reader of its result is a CONV_2D or DEPTHWISE_CONV_2D reading it as the input (operand 0);
//! the result is not a model output. Quantized, the PAD's input and output must have the same
//! type and per-tensor quantization (the convolution then reads the PAD's input with the
//! quantization it read the padded copy with). Float, each convolution's filter must be a finite
//! constant. MIRROR_PAD never folds (it does not pad with zeros).
//!
//! Each convolution then reads the PAD's input, with explicit padding: the PAD's amounts plus
//! what its own padding added on the padded size (SAME's before/after split as TFLite computes
//! it, VALID's nothing, explicit amounts as they are). Its output size is unchanged (checked).
//!
//! Guarantee: every tap that read a padded cell now falls in the convolution's padding, and every
//! other tap reads the same input element. Quantized, TFLite's kernels skip padding taps, and a
//! padded cell holding the zero point contributed `(Z − Z) · w = 0` to the accumulator, so the
//! results are bit-identical. Float, a padded cell contributed `0 · w = ±0` (finite `w`), which
//! leaves the sum unchanged (up to the sign of a zero sum).
//!
//! Pools are not folded: TFLite's MAX_POOL_2D and AVERAGE_POOL_2D leave padded cells out of the
//! window (an average divides by the cells inside the input only), while a PAD makes them cells
//! of the image (an average counts its zeros, a maximum sees them), so a pool's padding cannot
//! express a PAD.

use super::rewrite::{const_f32, input, same_type_and_quant, sane_per_tensor, topo, Uses};
use super::{Changed, PassCx};
use crate::error::Result;
use crate::ir::{DType, Graph, Op, OpId, OpKind, Padding, TensorId};
use crate::ops::conv_2d::axis_window;
use crate::ops::pad::pad_value_bits;
use crate::ops::InferCx;

/// A foldable PAD: the op, its input, and each reader with its new padding.
struct Fold {
    pad: OpId,
    x: TensorId,
    readers: Vec<(OpId, Padding)>,
}

/// Runs the pass.
///
/// # Errors
/// None in practice (a cycle, which the verifier rules out).
pub fn run(g: &mut Graph, _cx: &mut PassCx) -> Result<Changed> {
    let mut folded = 0;
    let mut uses = Uses::new(g);
    // Last op first: of two PADs in a row, the one next to the convolution folds first, which
    // makes the convolution the reader of the other.
    for id in topo(g)?.into_iter().rev() {
        if !g.contains_op(id) {
            continue;
        }
        let Some(f) = find(g, &uses, id) else {
            continue;
        };
        for (reader, padding) in f.readers {
            let node = g.op_mut(reader);
            if let Some(slot) = node.inputs.first_mut() {
                *slot = Some(f.x);
            }
            set_padding(&mut node.op, padding);
        }
        g.remove_op(f.pad);
        g.relink();
        uses = Uses::new(g);
        folded += 1;
    }
    Ok(Changed(folded))
}

/// The fold of op `id`, if it is a foldable PAD.
fn find(g: &Graph, uses: &Uses, id: OpId) -> Option<Fold> {
    let node = g.op(id);
    if !matches!(node.op.kind(), OpKind::Pad | OpKind::PadV2) {
        return None;
    }
    let x = input(node, 0)?;
    let [y] = node.outputs[..] else {
        return None;
    };
    if g.tensor(x).shape.len() != 4 || !pads_zero(g, id) {
        return None;
    }
    let pads = g.tensor(input(node, 1)?).const_ints()?;
    let amount = |i: usize| pads.get(i).and_then(|&v| usize::try_from(v).ok());
    if pads.len() != 8 || [0, 1, 6, 7].iter().any(|&i| amount(i) != Some(0)) {
        return None;
    }
    let hw = [[amount(2)?, amount(3)?], [amount(4)?, amount(5)?]];
    let reads = uses.of(y);
    if uses.is_output(y) || reads.is_empty() {
        return None;
    }
    let mut readers = Vec::with_capacity(reads.len());
    for &(reader, slot) in reads {
        if slot != 0 {
            return None;
        }
        readers.push((reader, folded_padding(g, reader, x, hw)?));
    }
    Some(Fold {
        pad: id,
        x,
        readers,
    })
}

/// Whether PAD / PADV2 `id` pads with zero (float) or with its input's zero point (quantized,
/// input and output quantized alike).
fn pads_zero(g: &Graph, id: OpId) -> bool {
    let node = g.op(id);
    let (Some(x), Some(&y)) = (input(node, 0), node.outputs.first()) else {
        return false;
    };
    let (xt, yt) = (g.tensor(x), g.tensor(y));
    let Ok(bits) = pad_value_bits(&InferCx { graph: g, node }) else {
        return false;
    };
    match xt.dtype {
        DType::F32 => yt.dtype == DType::F32 && f32::from_bits(bits as u32) == 0.0,
        DType::I8 | DType::U8 => {
            if !same_type_and_quant(xt, yt) || !sane_per_tensor(yt) {
                return false;
            }
            let code = if xt.dtype == DType::I8 {
                i64::from(bits as u8 as i8)
            } else {
                i64::from(bits as u8)
            };
            yt.per_tensor_quant().is_some_and(|(_, z)| z == code)
        }
        _ => false,
    }
}

/// The padding convolution `reader` needs to read `x` (the PAD's input) instead of the padded
/// copy, padded by `hw` (`[[top, bottom], [left, right]]`); `None` when it is not a convolution
/// or the fold does not apply.
fn folded_padding(g: &Graph, reader: OpId, x: TensorId, hw: [[usize; 2]; 2]) -> Option<Padding> {
    let node = g.op(reader);
    let (padding, stride, dilation) = if let Op::Conv2d(a) = &node.op {
        (a.padding, a.stride, a.dilation)
    } else if let Op::DepthwiseConv2d(a) = &node.op {
        (a.padding, a.stride, a.dilation)
    } else {
        return None;
    };
    let filter = g.tensor(input(node, 1)?);
    let (padded, out) = (
        &g.tensor(input(node, 0)?).shape,
        &g.tensor(*node.outputs.first()?).shape,
    );
    let image = &g.tensor(x).shape;
    if filter.shape.len() != 4 || padded.len() != 4 || out.len() != 4 || image.len() != 4 {
        return None;
    }
    if filter.dtype == DType::F32 && !const_f32(filter)?.iter().all(|w| w.is_finite()) {
        return None;
    }
    let mut new = [[0usize; 2]; 2];
    for axis in 0..2 {
        let (f, s, d) = (filter.shape[1 + axis], stride[axis], dilation[axis]);
        let (n, [before, after]) = axis_window(padding, axis, padded[1 + axis], f, s, d)?;
        new[axis] = [
            hw[axis][0].checked_add(before)?,
            hw[axis][1].checked_add(after)?,
        ];
        let explicit = explicit(new);
        if n != out[1 + axis] || axis_window(explicit, axis, image[1 + axis], f, s, d)?.0 != n {
            return None;
        }
    }
    Some(explicit(new))
}

fn explicit([[top, bottom], [left, right]]: [[usize; 2]; 2]) -> Padding {
    Padding::Explicit {
        top,
        bottom,
        left,
        right,
    }
}

fn set_padding(op: &mut Op, padding: Padding) {
    if let Op::Conv2d(a) = op {
        a.padding = padding;
    } else if let Op::DepthwiseConv2d(a) = op {
        a.padding = padding;
    }
}

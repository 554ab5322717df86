//! Rules of the windowed operations, after `NeuralNetworksTypes.h` and the AOSP runtime's
//! `validate`/`prepare`: CONV_2D and DEPTHWISE_CONV_2D (input counts of the implicit and explicit
//! padding forms with optional layout and dilation, filter and bias types and shapes, per-channel
//! filters, the bias-scale rule), AVERAGE_POOL_2D and MAX_POOL_2D, and the output size NNAPI
//! computes for a window, its padding and strides.

use super::cx::{bias_scale_ok, is_q8, Cx, DATA};
use super::Slot;
use crate::nnapi::desc::{padding, Operand, OperandType as T};

/// Height, width and channels of a 4-D activation.
pub(super) fn hwc(dims: &[u32], nchw: bool) -> Option<(u32, u32, u32)> {
    match (dims, nchw) {
        ([_, h, w, c], false) | ([_, c, h, w], true) => Some((*h, *w, *c)),
        _ => None,
    }
}

/// A 4-D activation shape from its parts.
pub(super) fn shape4(n: u32, h: u32, w: u32, c: u32, nchw: bool) -> Vec<u32> {
    if nchw {
        vec![n, c, h, w]
    } else {
        vec![n, h, w, c]
    }
}

/// Padding of a windowed operation.
#[derive(Clone, Copy)]
enum Padding {
    /// Left, right, top, bottom.
    Explicit([i32; 4]),
    /// A `PaddingCode`.
    Implicit(i32),
}

/// The output size along one axis and the padding applied, or why there is none.
fn window_axis(
    size: u32,
    filter: u32,
    stride: i32,
    dilation: i32,
    pad: (Option<i32>, Option<i32>, i32),
) -> Result<(u32, i128, i128), String> {
    let (size, filter, stride, dilation) = (
        i128::from(size),
        i128::from(filter),
        i128::from(stride),
        i128::from(dilation),
    );
    let eff = (filter - 1) * dilation + 1;
    let (head, tail) = match pad {
        (Some(h), Some(t), _) => (i128::from(h), i128::from(t)),
        (_, _, padding::SAME) => {
            let out = (size + stride - 1) / stride;
            let total = ((out - 1) * stride + eff - size).max(0);
            (total / 2, total - total / 2)
        }
        _ => (0, 0),
    };
    let padded = size + head + tail;
    if padded < eff {
        return Err(format!(
            "the window ({eff} with dilation) is larger than the padded input ({padded})"
        ));
    }
    let out = (padded - eff) / stride + 1;
    let out = u32::try_from(out).map_err(|_| format!("output size {out} out of range"))?;
    Ok((out, head.max(tail), eff))
}

/// Output height and width of a windowed operation; reports padding not below the window.
#[allow(clippy::too_many_arguments)]
fn window(
    cx: &mut Cx<'_>,
    size: (u32, u32),
    filter: (u32, u32),
    stride: (i32, i32),
    dilation: (i32, i32),
    pad: Padding,
    pad_slot: usize,
) -> Option<(u32, u32)> {
    let (h_pad, w_pad, code) = match pad {
        Padding::Explicit([l, r, t, b]) => ((Some(t), Some(b)), (Some(l), Some(r)), 0),
        Padding::Implicit(code) => ((None, None), (None, None), code),
    };
    let h = window_axis(
        size.0,
        filter.0,
        stride.1,
        dilation.1,
        (h_pad.0, h_pad.1, code),
    );
    let w = window_axis(
        size.1,
        filter.1,
        stride.0,
        dilation.0,
        (w_pad.0, w_pad.1, code),
    );
    match (h, w) {
        (Ok((oh, hp, he)), Ok((ow, wp, we))) => {
            if hp >= he || wp >= we {
                cx.input(
                    pad_slot,
                    format!(
                        "padding ({wp} wide, {hp} high) must be smaller than the window \
                         ({we} × {he})"
                    ),
                );
            }
            Some((oh, ow))
        }
        (Err(e), _) | (_, Err(e)) => {
            cx.whole(e);
            None
        }
    }
}

/// Reads the padding at `first` (four explicit values or one code).
fn padding_args(
    cx: &mut Cx<'_>,
    ins: &[&Operand],
    first: usize,
    explicit: bool,
) -> Option<Padding> {
    if explicit {
        let mut p = [0; 4];
        let mut ok = true;
        for (j, v) in p.iter_mut().enumerate() {
            match ins.get(first + j) {
                Some(o) => match cx.int_min(first + j, o, 0, "padding") {
                    Some(x) => *v = x,
                    None => ok = false,
                },
                None => ok = false,
            }
        }
        ok.then_some(Padding::Explicit(p))
    } else {
        let o = ins.get(first)?;
        let code = cx.int(first, o)?;
        if code != padding::SAME && code != padding::VALID {
            cx.input(
                first,
                format!("PaddingCode {code} is not SAME 1 or VALID 2"),
            );
            return None;
        }
        Some(Padding::Implicit(code))
    }
}

/// Two strides (width, height) at `k`, `k + 1`.
fn pair_min(cx: &mut Cx<'_>, ins: &[&Operand], k: usize, what: &str) -> Option<(i32, i32)> {
    let a = ins.get(k).and_then(|o| cx.int_min(k, o, 1, what));
    let b = ins.get(k + 1).and_then(|o| cx.int_min(k + 1, o, 1, what));
    Some((a?, b?))
}

/// CONV_2D and DEPTHWISE_CONV_2D.
pub(super) fn conv(cx: &mut Cx<'_>, ins: &[&Operand], outs: &[&Operand], depthwise: bool) {
    let (implicit, explicit, first_optional) = if depthwise {
        ([8, 9, 11], [11, 12, 14], 8)
    } else {
        ([7, 8, 10], [10, 11, 13], 7)
    };
    let n = ins.len();
    let is_explicit = n >= explicit[0] && ins.get(first_optional).is_some_and(|o| o.ty == T::Int32);
    let allowed: &[usize] = if is_explicit { &explicit } else { &implicit };
    if !cx.counts(allowed, 1) {
        return;
    }
    let ([input, filter, bias, ..], [output]) = (ins, outs) else {
        return;
    };
    if !cx.data(Slot::Input(0), input, &DATA) {
        return;
    }
    let q = is_q8(input.ty);
    let per_channel = filter.ty == T::TensorQuant8SymmPerChannel;
    let filter_types: &[T] = if q {
        &[input.ty, T::TensorQuant8SymmPerChannel]
    } else {
        &[input.ty]
    };
    let mut ok = cx.ty(Slot::Input(1), filter, filter_types);
    if per_channel {
        cx.need(29, &format!("{} with a per-channel filter", cx.op.ty));
        let want = if depthwise { 3 } else { 0 };
        if let Some(cq) = &filter.channel_quant {
            if cq.channel_dim != want {
                cx.input(
                    1,
                    format!(
                        "per-channel filter of {} has channel dimension {}; it must be {want}",
                        cx.op.ty, cq.channel_dim
                    ),
                );
            }
        }
    }
    let bias_type = if q { T::TensorInt32 } else { input.ty };
    ok &= cx.ty(Slot::Input(2), bias, &[bias_type]);
    if q && bias.ty == T::TensorInt32 {
        if per_channel {
            if bias.scale != 0.0 {
                cx.input(
                    2,
                    format!(
                        "bias scale {} with a per-channel filter: it must be 0 (each channel's \
                         scale is input scale × filter scale)",
                        bias.scale
                    ),
                );
            }
        } else if !bias_scale_ok(input.scale, filter.scale, bias.scale) {
            cx.input(
                2,
                format!(
                    "bias scale {} must equal input scale × filter scale = {} (NNAPI allows a \
                     relative difference of 1e-6)",
                    bias.scale,
                    input.scale * filter.scale
                ),
            );
        }
    }
    ok &= cx.rank(Slot::Input(0), input, 4, 4);
    ok &= cx.rank(Slot::Input(1), filter, 4, 4);
    ok &= cx.rank(Slot::Input(2), bias, 1, 1);
    ok &= cx.same_type(0, output, input);
    if input.ty == T::TensorQuant8Asymm
        && !per_channel
        && output.scale <= input.scale * filter.scale
    {
        cx.need(
            29,
            &format!(
                "{} with an output scale not above input scale × filter scale",
                cx.op.ty
            ),
        );
    }
    // Parameters.
    let pad = padding_args(cx, ins, 3, is_explicit);
    let mut k = if is_explicit { 7 } else { 4 };
    let stride = pair_min(cx, ins, k, "stride");
    k += 2;
    let multiplier = if depthwise {
        let m = ins
            .get(k)
            .and_then(|o| cx.int_min(k, o, 1, "depth multiplier"));
        k += 1;
        m
    } else {
        Some(1)
    };
    let _ = ins.get(k).and_then(|o| cx.fuse(k, o));
    k += 1;
    let nchw = cx.layout(k, ins.get(k));
    k += 1;
    let dilation = if n > k {
        cx.need(29, &format!("dilation of {}", cx.op.ty));
        pair_min(cx, ins, k, "dilation factor")
    } else {
        Some((1, 1))
    };
    // Shapes.
    let (Some(pad), Some(stride), Some(multiplier), Some(nchw), Some(dilation), true) =
        (pad, stride, multiplier, nchw, dilation, ok)
    else {
        return;
    };
    let (Some((h, w, cin)), [n0, fh, fw, f3], [nb]) = (
        hwc(&input.dims, nchw),
        filter.dims.as_slice(),
        bias.dims.as_slice(),
    ) else {
        return;
    };
    let batches = input.dims.first().copied().unwrap_or(0);
    let cout = if depthwise {
        if *n0 != 1 {
            cx.input(
                1,
                format!(
                    "filter shape {:?}: a depthwise filter is [1, height, width, channels]",
                    filter.dims
                ),
            );
        }
        if u64::from(cin) * multiplier as u64 != u64::from(*f3) {
            cx.input(
                1,
                format!(
                    "filter has {f3} channels; input channels {cin} × depth multiplier \
                     {multiplier} = {}",
                    u64::from(cin) * multiplier as u64
                ),
            );
        }
        *f3
    } else {
        if *f3 != cin {
            cx.input(
                1,
                format!(
                    "filter shape {:?} is [out, height, width, {f3}]; the input has {cin} channels",
                    filter.dims
                ),
            );
        }
        *n0
    };
    if *nb != cout {
        cx.input(
            2,
            format!("bias has {nb} elements; the filter has {cout} output channels"),
        );
    }
    let pad_slot = 3;
    if let Some((oh, ow)) = window(cx, (h, w), (*fh, *fw), stride, dilation, pad, pad_slot) {
        let want = shape4(batches, oh, ow, cout, nchw);
        cx.dims(
            Slot::Output(0),
            output,
            &want,
            "from the input, filter, padding and strides",
        );
    }
}

/// AVERAGE_POOL_2D and MAX_POOL_2D.
pub(super) fn pool(cx: &mut Cx<'_>, ins: &[&Operand], outs: &[&Operand]) {
    if !cx.counts(&[7, 8, 10, 11], 1) {
        return;
    }
    let ([input, ..], [output]) = (ins, outs) else {
        return;
    };
    if !cx.data(Slot::Input(0), input, &DATA) {
        return;
    }
    let mut ok = cx.rank(Slot::Input(0), input, 4, 4);
    ok &= cx.same_type(0, output, input);
    cx.same_quant(Slot::Output(0), output, input, "input 0");
    let explicit = ins.len() >= 10;
    let pad = padding_args(cx, ins, 1, explicit);
    let k = if explicit { 5 } else { 2 };
    let stride = pair_min(cx, ins, k, "stride");
    let filter = pair_min(cx, ins, k + 2, "filter size");
    let _ = ins.get(k + 4).and_then(|o| cx.fuse(k + 4, o));
    let nchw = cx.layout(k + 5, ins.get(k + 5));
    let (Some(pad), Some(stride), Some((fw, fh)), Some(nchw), true) =
        (pad, stride, filter, nchw, ok)
    else {
        return;
    };
    let Some((h, w, c)) = hwc(&input.dims, nchw) else {
        return;
    };
    let batches = input.dims.first().copied().unwrap_or(0);
    if let Some((oh, ow)) = window(cx, (h, w), (fh as u32, fw as u32), stride, (1, 1), pad, 1) {
        let want = shape4(batches, oh, ow, c, nchw);
        cx.dims(
            Slot::Output(0),
            output,
            &want,
            "from the input, window, padding and strides",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_nnapi_padding() {
        // SAME: ceil(in / stride), extra padding at the end.
        assert_eq!(
            window_axis(5, 3, 2, 1, (None, None, padding::SAME)),
            Ok((3, 1, 3))
        );
        assert_eq!(
            window_axis(4, 3, 2, 1, (None, None, padding::SAME)),
            Ok((2, 1, 3))
        );
        // VALID, with dilation 2: effective window 5.
        assert_eq!(
            window_axis(7, 3, 1, 2, (None, None, padding::VALID)),
            Ok((3, 0, 5))
        );
        assert!(window_axis(2, 3, 1, 1, (None, None, padding::VALID)).is_err());
        assert_eq!(
            window_axis(3, 3, 1, 1, (Some(1), Some(1), 0)),
            Ok((3, 1, 3))
        );
    }
}

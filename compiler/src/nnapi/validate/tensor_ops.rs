//! Rules of the operations without a window, after `NeuralNetworksTypes.h` and the AOSP
//! runtime's `validate`/`prepare`: element-wise (ADD, MUL, the activations, PRELU),
//! FULLY_CONNECTED, data movement (CONCATENATION, RESHAPE, PAD, DEPTH_TO_SPACE,
//! RESIZE_BILINEAR), reductions (MEAN, SOFTMAX) and (de)quantization.

use super::cx::{bias_scale_ok, broadcast, data_api, elements, is_q8, Cx, DATA};
use super::windowed::{hwc, shape4};
use super::Slot;
use crate::nnapi::desc::{Operand, OperandType as T, OperationType as Op};

/// ADD and MUL.
pub(super) fn binary(cx: &mut Cx<'_>, ins: &[&Operand], outs: &[&Operand]) {
    if !cx.counts(&[3], 1) {
        return;
    }
    let ([a, b, act], [output]) = (ins, outs) else {
        return;
    };
    let types = [DATA.as_slice(), &[T::TensorInt32]].concat();
    if !cx.ty(Slot::Input(0), a, &types) {
        return;
    }
    let what = format!("{} on {}", cx.op.ty, a.ty);
    cx.need(
        if a.ty == T::TensorInt32 {
            30
        } else {
            data_api(a.ty)
        },
        &what,
    );
    let mut ok = cx.ty(Slot::Input(1), b, &[a.ty]);
    ok &= cx.rank(Slot::Input(0), a, 1, 4);
    ok &= cx.rank(Slot::Input(1), b, 1, 4);
    ok &= cx.same_type(0, output, a);
    if let Some(f) = cx.fuse(2, act) {
        if a.ty == T::TensorInt32 && f != 0 {
            cx.input(2, format!("FuseCode {f} on TENSOR_INT32: it must be NONE"));
        }
    }
    if cx.op.ty == Op::Mul && is_q8(a.ty) && output.scale <= a.scale * b.scale {
        cx.output(
            0,
            format!(
                "scale {} must be above the product of the input scales {}",
                output.scale,
                a.scale * b.scale
            ),
        );
    }
    if !ok {
        return;
    }
    match broadcast(&a.dims, &b.dims) {
        Some(want) => cx.dims(
            Slot::Output(0),
            output,
            &want,
            "the inputs' broadcast shape",
        ),
        None => cx.whole(format!(
            "input shapes {:?} and {:?} do not broadcast",
            a.dims, b.dims
        )),
    }
}

/// CONCATENATION.
pub(super) fn concatenation(cx: &mut Cx<'_>, ins: &[&Operand], outs: &[&Operand]) {
    let n = ins.len();
    let ok_counts = n >= 2 && outs.len() == 1;
    if !ok_counts {
        cx.whole(format!(
            "{n} inputs and {} outputs; CONCATENATION takes at least one tensor and an axis, \
             and has one output",
            outs.len()
        ));
        return;
    }
    let ([tensors @ .., axis], [output]) = (ins, outs) else {
        return;
    };
    let Some(first) = tensors.first() else {
        return;
    };
    if !cx.data(Slot::Input(0), first, &DATA) {
        return;
    }
    let mut ok = true;
    for (k, t) in tensors.iter().enumerate() {
        ok &= cx.ty(Slot::Input(k), t, &[first.ty]);
        ok &= cx.rank(Slot::Input(k), t, 1, 4);
        if t.dims.len() != first.dims.len() {
            cx.input(
                k,
                format!(
                    "rank {} differs from input 0's {}",
                    t.dims.len(),
                    first.dims.len()
                ),
            );
            ok = false;
        }
        if first.ty == T::TensorQuant8Asymm
            && (t.scale != output.scale || t.zero_point != output.zero_point)
        {
            cx.need(
                29,
                "CONCATENATION with inputs quantized differently from the output",
            );
        }
    }
    ok &= cx.same_type(0, output, first);
    let rank = first.dims.len() as i64;
    let Some(a) = cx.int(n - 1, axis) else {
        return;
    };
    if !(-rank..rank).contains(&i64::from(a)) {
        cx.input(n - 1, format!("axis {a} is outside -{rank}..{rank}"));
        return;
    }
    if !ok {
        return;
    }
    let a = (i64::from(a) + rank) as usize % first.dims.len().max(1);
    let mut want = first.dims.clone();
    let mut total: u64 = 0;
    for (k, t) in tensors.iter().enumerate() {
        for (j, (&d, &e)) in t.dims.iter().zip(&first.dims).enumerate() {
            if j != a && d != e {
                cx.input(
                    k,
                    format!(
                        "shape {:?} differs from input 0's {:?} outside the axis {a}",
                        t.dims, first.dims
                    ),
                );
                return;
            }
        }
        total += u64::from(t.dims.get(a).copied().unwrap_or(0));
    }
    match (want.get_mut(a), u32::try_from(total)) {
        (Some(d), Ok(t)) => *d = t,
        _ => return,
    }
    cx.dims(
        Slot::Output(0),
        output,
        &want,
        "the inputs joined along the axis",
    );
}

/// DEPTH_TO_SPACE.
pub(super) fn depth_to_space(cx: &mut Cx<'_>, ins: &[&Operand], outs: &[&Operand]) {
    if !cx.counts(&[2, 3], 1) {
        return;
    }
    let ([input, block, ..], [output]) = (ins, outs) else {
        return;
    };
    if !cx.data(Slot::Input(0), input, &DATA) {
        return;
    }
    let mut ok = cx.rank(Slot::Input(0), input, 4, 4);
    ok &= cx.same_type(0, output, input);
    cx.same_quant(Slot::Output(0), output, input, "input 0");
    let b = cx.int_min(1, block, 1, "block size");
    let nchw = cx.layout(2, ins.get(2));
    let (Some(b), Some(nchw), true) = (b, nchw, ok) else {
        return;
    };
    let Some((h, w, c)) = hwc(&input.dims, nchw) else {
        return;
    };
    let b = b as u64;
    if u64::from(c) % (b * b) != 0 {
        cx.input(
            0,
            format!("{c} channels are not a multiple of block size² = {}", b * b),
        );
        return;
    }
    let (Ok(oh), Ok(ow)) = (
        u32::try_from(u64::from(h) * b),
        u32::try_from(u64::from(w) * b),
    ) else {
        return;
    };
    let oc = (u64::from(c) / (b * b)) as u32;
    let batches = input.dims.first().copied().unwrap_or(0);
    let want = shape4(batches, oh, ow, oc, nchw);
    cx.dims(
        Slot::Output(0),
        output,
        &want,
        "depth moved into blocks of space",
    );
}

/// DEQUANTIZE.
pub(super) fn dequantize(cx: &mut Cx<'_>, ins: &[&Operand], outs: &[&Operand]) {
    if !cx.counts(&[1], 1) {
        return;
    }
    let ([input], [output]) = (ins, outs) else {
        return;
    };
    let ok_in = cx.ty(
        Slot::Input(0),
        input,
        &[
            T::TensorQuant8Asymm,
            T::TensorQuant8AsymmSigned,
            T::TensorQuant8Symm,
            T::TensorQuant8SymmPerChannel,
        ],
    );
    let ok_out = cx.ty(
        Slot::Output(0),
        output,
        &[T::TensorFloat32, T::TensorFloat16],
    );
    if ok_in && ok_out && !(input.ty == T::TensorQuant8Asymm && output.ty == T::TensorFloat32) {
        cx.need(
            29,
            &format!("DEQUANTIZE from {} to {}", input.ty, output.ty),
        );
    }
    if cx.rank(Slot::Input(0), input, 1, 4) {
        cx.dims(Slot::Output(0), output, &input.dims, "the input's shape");
    }
}

/// QUANTIZE.
pub(super) fn quantize(cx: &mut Cx<'_>, ins: &[&Operand], outs: &[&Operand]) {
    if !cx.counts(&[1], 1) {
        return;
    }
    let ([input], [output]) = (ins, outs) else {
        return;
    };
    cx.ty(Slot::Input(0), input, &[T::TensorFloat32, T::TensorFloat16]);
    if cx.ty(
        Slot::Output(0),
        output,
        &[T::TensorQuant8Asymm, T::TensorQuant8AsymmSigned],
    ) {
        cx.need(data_api(output.ty), &format!("QUANTIZE to {}", output.ty));
    }
    cx.dims(Slot::Output(0), output, &input.dims, "the input's shape");
}

/// FULLY_CONNECTED.
pub(super) fn fully_connected(cx: &mut Cx<'_>, ins: &[&Operand], outs: &[&Operand]) {
    if !cx.counts(&[4], 1) {
        return;
    }
    let ([input, weights, bias, act], [output]) = (ins, outs) else {
        return;
    };
    if !cx.data(Slot::Input(0), input, &DATA) {
        return;
    }
    let q = is_q8(input.ty);
    let mut ok = if weights.ty == T::TensorQuant8SymmPerChannel {
        cx.input(
            1,
            "NNAPI has no per-channel FULLY_CONNECTED: the weights must be per-tensor".to_string(),
        );
        false
    } else {
        cx.ty(Slot::Input(1), weights, &[input.ty])
    };
    let bias_type = if q { T::TensorInt32 } else { input.ty };
    ok &= cx.ty(Slot::Input(2), bias, &[bias_type]);
    if q && ok && !bias_scale_ok(input.scale, weights.scale, bias.scale) {
        cx.input(
            2,
            format!(
                "bias scale {} must equal input scale × weights scale = {} (NNAPI allows a \
                 relative difference of 1e-6)",
                bias.scale,
                input.scale * weights.scale
            ),
        );
    }
    if input.ty == T::TensorQuant8Asymm && output.scale <= input.scale * weights.scale {
        cx.need(
            29,
            "FULLY_CONNECTED with an output scale not above input scale × weights scale",
        );
    }
    let _ = cx.fuse(3, act);
    ok &= cx.rank(Slot::Input(0), input, 2, 4);
    ok &= cx.rank(Slot::Input(1), weights, 2, 2);
    ok &= cx.rank(Slot::Input(2), bias, 1, 1);
    ok &= cx.same_type(0, output, input);
    let ([units, size], [nb], true) = (weights.dims.as_slice(), bias.dims.as_slice(), ok) else {
        return;
    };
    if *nb != *units {
        cx.input(
            2,
            format!("bias has {nb} elements; the weights have {units} rows"),
        );
    }
    let total = elements(&input.dims);
    if *size == 0 || !total.is_multiple_of(u128::from(*size)) {
        cx.input(
            0,
            format!("{total} input elements are not a multiple of the weights' input size {size}"),
        );
        return;
    }
    let Ok(batch) = u32::try_from(total / u128::from(*size)) else {
        return;
    };
    cx.dims(Slot::Output(0), output, &[batch, *units], "[batch, units]");
}

/// RELU, RELU1, RELU6, LOGISTIC, TANH, HARD_SWISH.
pub(super) fn activation(cx: &mut Cx<'_>, ins: &[&Operand], outs: &[&Operand]) {
    if !cx.counts(&[1], 1) {
        return;
    }
    let ([input], [output]) = (ins, outs) else {
        return;
    };
    let op = cx.op.ty;
    if !cx.data(Slot::Input(0), input, &DATA) {
        return;
    }
    if op == Op::Tanh && input.ty == T::TensorQuant8Asymm {
        cx.need(29, "TANH on TENSOR_QUANT8_ASYMM");
    }
    if op != Op::HardSwish {
        cx.rank(Slot::Input(0), input, 1, 4);
    }
    if !cx.same_type(0, output, input) {
        return;
    }
    cx.dims(Slot::Output(0), output, &input.dims, "the input's shape");
    if !is_q8(input.ty) {
        return;
    }
    let signed = input.ty == T::TensorQuant8AsymmSigned;
    let fixed = match op {
        Op::Logistic => Some((1.0 / 256.0, if signed { -128 } else { 0 })),
        Op::Tanh => Some((1.0 / 128.0, if signed { 0 } else { 128 })),
        Op::Relu | Op::Relu1 | Op::Relu6 => {
            cx.same_quant(Slot::Output(0), output, input, "input 0");
            None
        }
        _ => None,
    };
    if let Some((scale, zp)) = fixed {
        if output.scale != scale || output.zero_point != zp {
            cx.output(
                0,
                format!(
                    "{op} output on {} must have scale {scale} and zero point {zp}, has {} and {}",
                    input.ty, output.scale, output.zero_point
                ),
            );
        }
    }
}

/// RESHAPE.
pub(super) fn reshape(cx: &mut Cx<'_>, ins: &[&Operand], outs: &[&Operand]) {
    if !cx.counts(&[2], 1) {
        return;
    }
    let ([input, shape], [output]) = (ins, outs) else {
        return;
    };
    if !cx.data(Slot::Input(0), input, &DATA) {
        return;
    }
    let mut ok = cx.rank(Slot::Input(0), input, 1, 4);
    ok &= cx.ty(Slot::Input(1), shape, &[T::TensorInt32]) && cx.rank(Slot::Input(1), shape, 1, 1);
    ok &= cx.same_type(0, output, input);
    cx.same_quant(Slot::Output(0), output, input, "input 0");
    if !ok {
        return;
    }
    let count = elements(&input.dims);
    let Some(values) = cx.ints(shape) else {
        if elements(&output.dims) != count {
            cx.output(
                0,
                format!(
                    "shape {:?} has {} elements; the input {:?} has {count}",
                    output.dims,
                    elements(&output.dims),
                    input.dims
                ),
            );
        }
        return;
    };
    let mut want = Vec::with_capacity(values.len());
    let mut stretch = None;
    let mut known: u128 = 1;
    for (j, &v) in values.iter().enumerate() {
        match v {
            -1 if stretch.is_none() => {
                stretch = Some(j);
                want.push(0);
            }
            v if v > 0 => {
                known = known.saturating_mul(v as u128);
                want.push(v as u32);
            }
            _ => {
                cx.input(
                    1,
                    format!(
                        "target shape {values:?}: entries must be positive, with at most one -1"
                    ),
                );
                return;
            }
        }
    }
    if let Some(j) = stretch {
        if known == 0 || !count.is_multiple_of(known) {
            cx.input(
                1,
                format!("target shape {values:?} cannot hold {count} elements"),
            );
            return;
        }
        match (want.get_mut(j), u32::try_from(count / known)) {
            (Some(d), Ok(v)) => *d = v,
            _ => return,
        }
    } else if known != count {
        cx.input(
            1,
            format!("target shape {values:?} has {known} elements; the input has {count}"),
        );
        return;
    }
    cx.dims(Slot::Output(0), output, &want, "the target shape");
}

/// RESIZE_BILINEAR.
pub(super) fn resize_bilinear(cx: &mut Cx<'_>, ins: &[&Operand], outs: &[&Operand]) {
    if !cx.counts(&[3, 4, 5, 6], 1) {
        return;
    }
    let ([input, width, height, rest @ ..], [output]) = (ins, outs) else {
        return;
    };
    if !cx.data(Slot::Input(0), input, &DATA) {
        return;
    }
    if input.ty == T::TensorQuant8Asymm {
        cx.need(29, "RESIZE_BILINEAR on TENSOR_QUANT8_ASYMM");
    }
    let mut ok = cx.rank(Slot::Input(0), input, 4, 4);
    ok &= cx.same_type(0, output, input);
    cx.same_quant(Slot::Output(0), output, input, "input 0");
    let scale_type = if input.ty == T::TensorFloat16 {
        T::Float16
    } else {
        T::Float32
    };
    let by_size = width.ty == T::Int32;
    ok &= cx.ty(Slot::Input(1), width, &[T::Int32, scale_type]);
    ok &= cx.ty(Slot::Input(2), height, &[width.ty]);
    if !by_size {
        cx.need(29, "RESIZE_BILINEAR with scales");
    }
    let nchw = cx.layout(3, rest.first());
    let mut flags = [false; 2];
    for (j, o) in rest.iter().enumerate().skip(1) {
        cx.need(30, "RESIZE_BILINEAR's align_corners and half_pixel_centers");
        if let Some(v) = cx.boolean(3 + j, o) {
            if let Some(f) = flags.get_mut(j - 1) {
                *f = v;
            }
        }
    }
    if flags == [true, true] {
        cx.whole("align_corners and half_pixel_centers cannot both be true".to_string());
    }
    let (Some(nchw), true) = (nchw, ok) else {
        return;
    };
    let Some((h, w, c)) = hwc(&input.dims, nchw) else {
        return;
    };
    let (oh, ow) = if by_size {
        let ow = cx.int_min(1, width, 1, "output width");
        let oh = cx.int_min(2, height, 1, "output height");
        let (Some(oh), Some(ow)) = (oh, ow) else {
            return;
        };
        (oh as u32, ow as u32)
    } else {
        let (c1, c2) = (cx.constant(1, width), cx.constant(2, height));
        // FLOAT16 scales are not read (mvcc does not emit them).
        let (Some(sw), Some(sh), true, true) = (
            width.scalar_f32(cx.weights),
            height.scalar_f32(cx.weights),
            c1,
            c2,
        ) else {
            return;
        };
        if !(sw > 0.0 && sh > 0.0) {
            cx.whole(format!("scales {sw} and {sh} must be positive"));
            return;
        }
        (
            (h as f32 * sh).floor() as u32,
            (w as f32 * sw).floor() as u32,
        )
    };
    let batches = input.dims.first().copied().unwrap_or(0);
    let want = shape4(batches, oh, ow, c, nchw);
    cx.dims(Slot::Output(0), output, &want, "from the output size");
}

/// SOFTMAX.
pub(super) fn softmax(cx: &mut Cx<'_>, ins: &[&Operand], outs: &[&Operand]) {
    if !cx.counts(&[2, 3], 1) {
        return;
    }
    let ([input, beta, rest @ ..], [output]) = (ins, outs) else {
        return;
    };
    if !cx.data(Slot::Input(0), input, &DATA) {
        return;
    }
    let rank_ok = cx.rank(Slot::Input(0), input, 1, 4);
    let beta_type = if input.ty == T::TensorFloat16 {
        T::Float16
    } else {
        T::Float32
    };
    if cx.ty(Slot::Input(1), beta, &[beta_type]) && cx.constant(1, beta) {
        if let Some(b) = beta.scalar_f32(cx.weights) {
            if b.is_nan() || b <= 0.0 {
                cx.input(1, format!("beta {b} must be positive"));
            }
        }
    }
    let rank = input.dims.len() as i64;
    match rest.first() {
        Some(axis) => {
            cx.need(29, "SOFTMAX's axis argument");
            if let Some(a) = cx.int(2, axis) {
                if !(-rank..rank).contains(&i64::from(a)) {
                    cx.input(2, format!("axis {a} is outside -{rank}..{rank}"));
                }
            }
        }
        None if rank_ok && rank != 2 && rank != 4 => {
            cx.need(29, &format!("SOFTMAX on rank {rank}"));
        }
        None => {}
    }
    if !cx.same_type(0, output, input) {
        return;
    }
    cx.dims(Slot::Output(0), output, &input.dims, "the input's shape");
    if is_q8(input.ty) {
        let zp = if input.ty == T::TensorQuant8AsymmSigned {
            -128
        } else {
            0
        };
        if output.scale != 1.0 / 256.0 || output.zero_point != zp {
            cx.output(
                0,
                format!(
                    "SOFTMAX output on {} must have scale 1/256 and zero point {zp}, has {} and {}",
                    input.ty, output.scale, output.zero_point
                ),
            );
        }
    }
}

/// MEAN.
pub(super) fn mean(cx: &mut Cx<'_>, ins: &[&Operand], outs: &[&Operand]) {
    if !cx.counts(&[3], 1) {
        return;
    }
    let ([input, axes, keep], [output]) = (ins, outs) else {
        return;
    };
    if !cx.data(Slot::Input(0), input, &DATA) {
        return;
    }
    let mut ok = cx.rank(Slot::Input(0), input, 1, 4);
    ok &= cx.ty(Slot::Input(1), axes, &[T::TensorInt32]) && cx.rank(Slot::Input(1), axes, 1, 1);
    ok &= cx.same_type(0, output, input);
    cx.same_quant(Slot::Output(0), output, input, "input 0");
    let keep = cx.int(2, keep);
    let (Some(keep), true) = (keep, ok) else {
        return;
    };
    let Some(values) = cx.ints(axes) else {
        return;
    };
    let rank = input.dims.len() as i64;
    let mut reduced = vec![false; input.dims.len()];
    for &a in &values {
        if !(-rank..rank).contains(&i64::from(a)) {
            cx.input(1, format!("axis {a} is outside -{rank}..{rank}"));
            return;
        }
        if let Some(r) = reduced.get_mut(((i64::from(a) + rank) % rank) as usize) {
            *r = true;
        }
    }
    let mut want: Vec<u32> = input
        .dims
        .iter()
        .zip(&reduced)
        .filter_map(|(&d, &r)| match (r, keep > 0) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    if want.is_empty() {
        want.push(1);
    }
    cx.dims(
        Slot::Output(0),
        output,
        &want,
        "the input with the axes reduced",
    );
}

/// PAD.
pub(super) fn pad(cx: &mut Cx<'_>, ins: &[&Operand], outs: &[&Operand]) {
    if !cx.counts(&[2], 1) {
        return;
    }
    let ([input, paddings], [output]) = (ins, outs) else {
        return;
    };
    if !cx.data(Slot::Input(0), input, &DATA) {
        return;
    }
    if input.ty == T::TensorQuant8Asymm && input.zero_point != 0 {
        cx.need(29, "PAD on TENSOR_QUANT8_ASYMM with a non-zero zero point");
    }
    let mut ok = cx.rank(Slot::Input(0), input, 1, 4);
    ok &= cx.ty(Slot::Input(1), paddings, &[T::TensorInt32]);
    ok &= cx.same_type(0, output, input);
    cx.same_quant(Slot::Output(0), output, input, "input 0");
    if !ok {
        return;
    }
    let rank = input.dims.len() as u32;
    if paddings.dims != [rank, 2] {
        cx.input(
            1,
            format!("paddings shape {:?}; expected [{rank}, 2]", paddings.dims),
        );
        return;
    }
    let Some(values) = cx.ints(paddings) else {
        return;
    };
    if let Some(v) = values.iter().find(|&&v| v < 0) {
        cx.input(1, format!("padding {v} is negative"));
        return;
    }
    let mut want = Vec::with_capacity(input.dims.len());
    for (j, &d) in input.dims.iter().enumerate() {
        let before = values.get(2 * j).copied().unwrap_or(0) as u64;
        let after = values.get(2 * j + 1).copied().unwrap_or(0) as u64;
        let Ok(v) = u32::try_from(u64::from(d) + before + after) else {
            return;
        };
        want.push(v);
    }
    cx.dims(
        Slot::Output(0),
        output,
        &want,
        "the input with the paddings",
    );
}

/// PRELU.
pub(super) fn prelu(cx: &mut Cx<'_>, ins: &[&Operand], outs: &[&Operand]) {
    if !cx.counts(&[2], 1) {
        return;
    }
    let ([input, alpha], [output]) = (ins, outs) else {
        return;
    };
    if !cx.data(Slot::Input(0), input, &DATA) {
        return;
    }
    let mut ok = cx.ty(Slot::Input(1), alpha, &[input.ty]);
    ok &= cx.same_type(0, output, input);
    if !ok {
        return;
    }
    match broadcast(&input.dims, &alpha.dims) {
        Some(want) => cx.dims(
            Slot::Output(0),
            output,
            &want,
            "the inputs' broadcast shape",
        ),
        None => cx.whole(format!(
            "input shape {:?} and alpha shape {:?} do not broadcast",
            input.dims, alpha.dims
        )),
    }
}

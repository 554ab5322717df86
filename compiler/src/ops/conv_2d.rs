//! CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV: shape rules and reference evaluation.
//!
//! Shapes and padding follow TFLite's `padding.h` (`ComputeOutSize`, `ComputePaddingWithOffset`);
//! the requantization constants follow `kernel_util.cc`'s `PopulateConvolutionQuantizationParams`:
//!
//! - int8 (per-channel or per-tensor filter, broadcast to every output channel):
//!   `M[c] = f64(S_in) · f64(S_w[c]) / f64(S_out)`;
//! - legacy uint8 (per-tensor filter): `M = f64(S_in ·_f32 S_w) / f64(S_out)` — the product of the
//!   two scales is rounded to `f32` first (`GetQuantizedConvolutionMultipler`), which can change
//!   the last bit of the multiplier;
//!
//! each through `QuantizeMultiplier`, and the fused activation through
//! `CalculateActivationRangeQuantized` with the output's scale and zero point.
//!
//! Float activations `(float input, int8/uint8 weights)` are TFLite's hybrid kernels, written only
//! by dynamic-range quantization: unsupported.

use mvcc_runtime::kernels::common::{ActF32, Requant};
use mvcc_runtime::kernels::conv_2d::{
    conv_2d_f32, conv_2d_q, Conv2dParams, ConvGeometry, ConvQuant,
};
use mvcc_runtime::kernels::depthwise_conv_2d::{
    depthwise_conv_2d_f32, depthwise_conv_2d_q, DepthwiseConv2dParams,
};
use mvcc_runtime::kernels::transpose_conv::{
    transpose_conv_f32, transpose_conv_q, TransposeConvParams,
};

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{
    Activation, Conv2dAttrs, DType, DepthwiseConv2dAttrs, Padding, Shape, Tensor,
    TransposeConvAttrs,
};
use crate::quant::{act_f32, act_q, quantize_multiplier};

/// TFLite's `ComputeOutSize`: the output length along one axis, or `None` when the (dilated)
/// filter does not fit a VALID window into the input.
pub fn out_size(
    padding: Padding,
    image: usize,
    filter: usize,
    stride: usize,
    dilation: usize,
) -> Option<usize> {
    if stride == 0 || dilation == 0 || filter == 0 || image == 0 {
        return None;
    }
    let effective = (filter - 1).checked_mul(dilation)?.checked_add(1)?;
    let n = match padding {
        Padding::Same => image.checked_add(stride - 1)? / stride,
        Padding::Valid => (image + stride).checked_sub(effective)? / stride,
    };
    (n > 0).then_some(n)
}

/// TFLite's `ComputePaddingWithOffset`: the padding before the first row/column (the odd extra
/// one of SAME goes after the last).
pub fn pad_before(
    stride: usize,
    dilation: usize,
    image: usize,
    filter: usize,
    out: usize,
) -> usize {
    let effective = (filter.saturating_sub(1)) * dilation + 1;
    let total = ((out.saturating_sub(1)) * stride + effective).saturating_sub(image);
    total / 2
}

/// The numeric flavour of a convolution-like op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    F32,
    I8,
    U8,
}

/// Checks the operand types of a convolution-like op (`input`, `filter`, optional `bias`,
/// `output`) against the combinations TFLite's reference kernels run.
fn flavor(
    cx: &InferCx<'_>,
    input: &Tensor,
    filter: &Tensor,
    bias: Option<&Tensor>,
    output: &Tensor,
) -> Result<Flavor> {
    let f = match (input.dtype, filter.dtype) {
        (DType::F32, DType::F32) => Flavor::F32,
        (DType::I8, DType::I8) => Flavor::I8,
        (DType::U8, DType::U8) => Flavor::U8,
        (DType::F32, DType::I8 | DType::U8) => {
            return Err(cx.unsupported(
                "hybrid kernel (float input, quantized weights; dynamic-range quantization)",
            ))
        }
        (DType::I16, _) => return Err(cx.unsupported("int16 activations")),
        (i, w) => return Err(cx.unsupported(format!("input type {i} with filter type {w}"))),
    };
    if output.dtype != input.dtype {
        return Err(cx.err(format!(
            "output type {} differs from input type {}",
            output.dtype, input.dtype
        )));
    }
    if let Some(b) = bias {
        let want = if f == Flavor::F32 {
            DType::F32
        } else {
            DType::I32
        };
        if b.dtype != want {
            return Err(cx.err(format!("bias has type {}, expected {want}", b.dtype)));
        }
    }
    Ok(f)
}

/// The fused activation, rejecting TANH (TFLite's convolutions silently ignore it).
fn fused_act(cx: &InferCx<'_>, act: Activation) -> Result<Activation> {
    if act == Activation::Tanh {
        return Err(cx.unsupported("fused TANH activation"));
    }
    Ok(act)
}

/// The bias operand (slot `slot`), checked to hold `n` elements.
fn bias_operand<'g>(cx: &InferCx<'g>, slot: usize, n: usize) -> Result<Option<&'g Tensor>> {
    let bias = cx.opt_input(slot);
    if let Some(b) = bias {
        if b.num_elements() != n {
            return Err(cx.err(format!(
                "bias has {} elements for {n} output channels",
                b.num_elements()
            )));
        }
    }
    Ok(bias)
}

/// How a convolution-like kernel computes: float with a clamp, or quantized with its offsets and
/// one requantization multiplier per output channel.
#[derive(Clone, Debug, PartialEq)]
pub enum ConvNumerics {
    /// float32.
    F32(ActF32),
    /// int8 (per-channel) or uint8 (per-tensor, repeated per channel).
    Quant {
        /// `I8` or `U8`.
        dtype: DType,
        /// Offsets and clamp.
        q: ConvQuant,
        /// One multiplier per output channel.
        requant: Vec<Requant>,
    },
}

/// Computes the numerics of a convolution-like op (operands input, filter, output) as TFLite's
/// `Prepare` does. `channel_axis` is
/// the filter dimension of the output channels (0 for CONV_2D and TRANSPOSE_CONV, 3 for
/// DEPTHWISE_CONV_2D).
fn numerics(
    cx: &InferCx<'_>,
    flavor: Flavor,
    act: Activation,
    [input, filter, output]: [&Tensor; 3],
    out_c: usize,
    channel_axis: usize,
) -> Result<ConvNumerics> {
    let act = fused_act(cx, act)?;
    let dtype = match flavor {
        Flavor::F32 => return Ok(ConvNumerics::F32(act_f32(act))),
        Flavor::I8 => DType::I8,
        Flavor::U8 => DType::U8,
    };
    let (s_in, z_in) = cx.per_tensor_quant(input)?;
    let (s_out, z_out) = cx.per_tensor_quant(output)?;
    let (scales, zero_points) = cx.channel_quant(filter, out_c)?;
    if let Some(q) = &filter.quant {
        if q.is_per_axis() && q.axis != channel_axis {
            return Err(cx.err(format!(
                "filter is quantized along dimension {}, expected {channel_axis}",
                q.axis
            )));
        }
    }
    if scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(cx.err(format!("filter \"{}\" has an invalid scale", filter.name)));
    }
    let (filter_offset, requant) = match dtype {
        DType::U8 => {
            if filter.quant.as_ref().is_some_and(|q| q.is_per_axis()) {
                return Err(cx.unsupported("per-channel uint8 filter"));
            }
            let z_w = i32::try_from(zero_points[0])
                .map_err(|_| cx.err("filter zero point out of range"))?;
            // GetQuantizedConvolutionMultipler: the scale product in float.
            let m = f64::from(s_in * scales[0]) / f64::from(s_out);
            (-z_w, vec![quantize_multiplier(m); out_c])
        }
        _ => {
            // Per-channel int8: symmetric filters; the kernel never reads their zero point.
            let requant = scales
                .iter()
                .map(|&s_w| {
                    quantize_multiplier(f64::from(s_in) * f64::from(s_w) / f64::from(s_out))
                })
                .collect();
            (0, requant)
        }
    };
    let q = ConvQuant {
        input_offset: -z_in,
        filter_offset,
        output_offset: z_out,
        act: act_q(act, dtype, s_out, z_out),
    };
    Ok(ConvNumerics::Quant { dtype, q, requant })
}

/// Reads the `[N, H, W, C]` dimensions of a rank-4 operand.
fn dims4(cx: &InferCx<'_>, t: &Tensor, what: &str) -> Result<[usize; 4]> {
    match t.shape[..] {
        [n, h, w, c] => Ok([n, h, w, c]),
        _ => Err(cx.err(format!("{what} must have rank 4, has shape {:?}", t.shape))),
    }
}

/// Output size and leading padding along one axis, or an error naming the axis.
fn axis_geometry(
    cx: &InferCx<'_>,
    padding: Padding,
    image: usize,
    filter: usize,
    stride: usize,
    dilation: usize,
    axis: &str,
) -> Result<(usize, usize)> {
    let out = out_size(padding, image, filter, stride, dilation).ok_or_else(|| {
        cx.err(format!(
            "{axis}: filter {filter} (dilation {dilation}, stride {stride}) does not fit input {image}"
        ))
    })?;
    Ok((out, pad_before(stride, dilation, image, filter, out)))
}

/// Geometry of a forward (CONV_2D, DEPTHWISE_CONV_2D) window op.
fn forward_geometry(
    cx: &InferCx<'_>,
    input: [usize; 4],
    filter_hw: [usize; 2],
    out_c: usize,
    padding: Padding,
    stride: [usize; 2],
    dilation: [usize; 2],
) -> Result<ConvGeometry> {
    let (out_h, pad_h) = axis_geometry(
        cx,
        padding,
        input[1],
        filter_hw[0],
        stride[0],
        dilation[0],
        "height",
    )?;
    let (out_w, pad_w) = axis_geometry(
        cx,
        padding,
        input[2],
        filter_hw[1],
        stride[1],
        dilation[1],
        "width",
    )?;
    Ok(ConvGeometry {
        batches: input[0],
        in_h: input[1],
        in_w: input[2],
        in_c: input[3],
        out_h,
        out_w,
        out_c,
        filter_h: filter_hw[0],
        filter_w: filter_hw[1],
        stride,
        dilation,
        pad: [pad_h, pad_w],
    })
}

/// CONV_2D's kernel parameters and numerics, computed from the IR as TFLite's `Prepare` does.
///
/// # Errors
/// Invalid shapes or quantization; unsupported type combinations.
pub fn conv_2d_params(cx: &InferCx<'_>, a: &Conv2dAttrs) -> Result<(Conv2dParams, ConvNumerics)> {
    cx.arity(2, 3, 1)?;
    let input = cx.input(0)?;
    let filter = cx.input(1)?;
    let output = cx.output(0)?;
    let i = dims4(cx, input, "input")?;
    let [out_c, fh, fw, fic] = dims4(cx, filter, "filter")?;
    if fic == 0 || i[3] % fic != 0 {
        return Err(cx.err(format!(
            "input has {} channels, filter reads {fic} per group",
            i[3]
        )));
    }
    let groups = i[3] / fic;
    if out_c == 0 || out_c % groups != 0 {
        return Err(cx.err(format!(
            "{out_c} output channels do not split into {groups} groups"
        )));
    }
    let bias = bias_operand(cx, 2, out_c)?;
    let fl = flavor(cx, input, filter, bias, output)?;
    // TFLite's CONV_2D `Prepare` requires symmetric int8 filters (the other ops ignore the zero
    // point).
    if fl == Flavor::I8
        && filter
            .quant
            .as_ref()
            .is_some_and(|q| q.zero_point.iter().any(|&z| z != 0))
    {
        return Err(cx.err("int8 filter has a non-zero zero point"));
    }
    let geom = forward_geometry(cx, i, [fh, fw], out_c, a.padding, a.stride, a.dilation)?;
    let num = numerics(cx, fl, a.act, [input, filter, output], out_c, 0)?;
    Ok((Conv2dParams { geom, groups }, num))
}

/// DEPTHWISE_CONV_2D's kernel parameters and numerics. The depth multiplier comes from the shapes
/// (`filter_c / in_c`), as in TFLite's `ComputeDepthMultiplier`; the option is not consulted.
///
/// # Errors
/// Invalid shapes or quantization; unsupported type combinations.
pub fn depthwise_conv_2d_params(
    cx: &InferCx<'_>,
    a: &DepthwiseConv2dAttrs,
) -> Result<(DepthwiseConv2dParams, ConvNumerics)> {
    cx.arity(2, 3, 1)?;
    let input = cx.input(0)?;
    let filter = cx.input(1)?;
    let output = cx.output(0)?;
    let i = dims4(cx, input, "input")?;
    let [one, fh, fw, out_c] = dims4(cx, filter, "filter")?;
    if one != 1 {
        return Err(cx.err(format!(
            "filter must have shape [1, H, W, C], has {:?}",
            filter.shape
        )));
    }
    if i[3] == 0 || out_c % i[3] != 0 {
        return Err(cx.err(format!(
            "filter has {out_c} channels, not a multiple of the input's {}",
            i[3]
        )));
    }
    let bias = bias_operand(cx, 2, out_c)?;
    let fl = flavor(cx, input, filter, bias, output)?;
    let geom = forward_geometry(cx, i, [fh, fw], out_c, a.padding, a.stride, a.dilation)?;
    let num = numerics(cx, fl, a.act, [input, filter, output], out_c, 3)?;
    Ok((
        DepthwiseConv2dParams {
            geom,
            depth_multiplier: out_c / i[3],
        },
        num,
    ))
}

/// TRANSPOSE_CONV's kernel parameters and numerics. Operands: output shape (constant), filter
/// `[out_c, H, W, in_c]`, input, optional bias. The padding is computed with the output's size as
/// the image size, as TFLite's `Eval` does.
///
/// # Errors
/// Invalid shapes or quantization; unsupported type combinations; a non-constant output shape.
pub fn transpose_conv_params(
    cx: &InferCx<'_>,
    a: &TransposeConvAttrs,
) -> Result<(TransposeConvParams, ConvNumerics)> {
    cx.arity(3, 4, 1)?;
    let shape = cx.const_ints(0)?;
    let filter = cx.input(1)?;
    let input = cx.input(2)?;
    let output = cx.output(0)?;
    let [n, out_h, out_w, out_c] = match shape[..] {
        [n, h, w, c] => {
            let d = |v: i64| usize::try_from(v).ok().filter(|&v| v > 0);
            match (d(n), d(h), d(w), d(c)) {
                (Some(n), Some(h), Some(w), Some(c)) => [n, h, w, c],
                _ => return Err(cx.err(format!("invalid output shape {shape:?}"))),
            }
        }
        _ => {
            return Err(cx.err(format!(
                "output shape must have 4 elements, has {}",
                shape.len()
            )))
        }
    };
    let i = dims4(cx, input, "input")?;
    let [f_out_c, fh, fw, f_in_c] = dims4(cx, filter, "filter")?;
    if f_in_c != i[3] {
        return Err(cx.err(format!(
            "filter reads {f_in_c} channels, input has {}",
            i[3]
        )));
    }
    if f_out_c != out_c {
        return Err(cx.err(format!(
            "filter makes {f_out_c} channels, output shape says {out_c}"
        )));
    }
    if n != i[0] {
        return Err(cx.err(format!(
            "output batch {n} differs from input batch {}",
            i[0]
        )));
    }
    if a.stride.contains(&0) || fh == 0 || fw == 0 {
        return Err(cx.err("stride and filter size must be positive"));
    }
    // LiteRT checks that a convolution of the output would give back the input's size.
    for (axis, (out, f, s, image)) in [
        ("height", (out_h, fh, a.stride[0], i[1])),
        ("width", (out_w, fw, a.stride[1], i[2])),
    ] {
        if out_size(a.padding, out, f, s, 1) != Some(image) {
            return Err(cx.err(format!(
                "{axis}: output {out} with filter {f} and stride {s} does not correspond to input {image}"
            )));
        }
    }
    let bias = bias_operand(cx, 3, out_c)?;
    let fl = flavor(cx, input, filter, bias, output)?;
    // The padding of the forward convolution output → input (the output's size as the image).
    let pad = [
        pad_before(a.stride[0], 1, out_h, fh, i[1]),
        pad_before(a.stride[1], 1, out_w, fw, i[2]),
    ];
    let geom = ConvGeometry {
        batches: n,
        in_h: i[1],
        in_w: i[2],
        in_c: i[3],
        out_h,
        out_w,
        out_c,
        filter_h: fh,
        filter_w: fw,
        stride: a.stride,
        dilation: [1, 1],
        pad,
    };
    let num = numerics(cx, fl, a.act, [input, filter, output], out_c, 0)?;
    Ok((TransposeConvParams { geom }, num))
}

fn out_shape(g: &ConvGeometry) -> Shape {
    vec![g.batches, g.out_h, g.out_w, g.out_c]
}

/// CONV_2D: `[N, H, W, Ci] ⊛ [Co, Kh, Kw, Ci/groups] → [N, Ho, Wo, Co]`.
pub fn infer_conv_2d(cx: &InferCx<'_>, a: &Conv2dAttrs) -> Result<Vec<Shape>> {
    let (p, _) = conv_2d_params(cx, a)?;
    Ok(vec![out_shape(&p.geom)])
}

/// DEPTHWISE_CONV_2D: `[N, H, W, Ci] → [N, Ho, Wo, Ci·m]`.
pub fn infer_depthwise_conv_2d(cx: &InferCx<'_>, a: &DepthwiseConv2dAttrs) -> Result<Vec<Shape>> {
    let (p, _) = depthwise_conv_2d_params(cx, a)?;
    Ok(vec![out_shape(&p.geom)])
}

/// TRANSPOSE_CONV: the output shape is the constant operand 0.
pub fn infer_transpose_conv(cx: &InferCx<'_>, a: &TransposeConvAttrs) -> Result<Vec<Shape>> {
    let (p, _) = transpose_conv_params(cx, a)?;
    Ok(vec![out_shape(&p.geom)])
}

/// Checks that the operand buffers hold what the geometry says (the interpreter sizes them from
/// the tensors, so this only fails on an unverified graph).
fn check_lens(cx: &EvalCx<'_>, slots: &[(usize, usize)], out_len: usize) -> Result<()> {
    for &(slot, want) in slots {
        let t = cx.in_tensor(slot)?;
        if t.num_elements() != want {
            return Err(cx.err(format!(
                "input {slot} has {} elements, expected {want}",
                t.num_elements()
            )));
        }
    }
    if cx.out_tensor(0)?.num_elements() != out_len {
        return Err(cx.err("output size does not match the shape rule"));
    }
    Ok(())
}

/// Runs CONV_2D with the reference kernels.
pub fn eval_conv_2d(cx: &mut EvalCx<'_>, a: &Conv2dAttrs) -> Result<()> {
    let (p, num) = conv_2d_params(&cx.infer_cx(), a)?;
    check_lens(
        cx,
        &[(0, p.geom.input_len()), (1, p.filter_len())],
        p.geom.output_len(),
    )?;
    match num {
        ConvNumerics::F32(act) => {
            let (x, w, b) = (
                cx.input::<f32>(0)?,
                cx.input::<f32>(1)?,
                cx.opt_input::<f32>(2)?,
            );
            conv_2d_f32(&p, act, x, w, b, cx.output::<f32>(0)?);
        }
        ConvNumerics::Quant {
            dtype: DType::U8,
            q,
            requant,
        } => {
            let (x, w, b) = (
                cx.input::<u8>(0)?,
                cx.input::<u8>(1)?,
                cx.opt_input::<i32>(2)?,
            );
            conv_2d_q(&p, &q, &requant, x, w, b, cx.output::<u8>(0)?);
        }
        ConvNumerics::Quant { q, requant, .. } => {
            let (x, w, b) = (
                cx.input::<i8>(0)?,
                cx.input::<i8>(1)?,
                cx.opt_input::<i32>(2)?,
            );
            conv_2d_q(&p, &q, &requant, x, w, b, cx.output::<i8>(0)?);
        }
    }
    Ok(())
}

/// Runs DEPTHWISE_CONV_2D with the reference kernels.
pub fn eval_depthwise_conv_2d(cx: &mut EvalCx<'_>, a: &DepthwiseConv2dAttrs) -> Result<()> {
    let (p, num) = depthwise_conv_2d_params(&cx.infer_cx(), a)?;
    check_lens(
        cx,
        &[(0, p.geom.input_len()), (1, p.filter_len())],
        p.geom.output_len(),
    )?;
    match num {
        ConvNumerics::F32(act) => {
            let (x, w, b) = (
                cx.input::<f32>(0)?,
                cx.input::<f32>(1)?,
                cx.opt_input::<f32>(2)?,
            );
            depthwise_conv_2d_f32(&p, act, x, w, b, cx.output::<f32>(0)?);
        }
        ConvNumerics::Quant {
            dtype: DType::U8,
            q,
            requant,
        } => {
            let (x, w, b) = (
                cx.input::<u8>(0)?,
                cx.input::<u8>(1)?,
                cx.opt_input::<i32>(2)?,
            );
            depthwise_conv_2d_q(&p, &q, &requant, x, w, b, cx.output::<u8>(0)?);
        }
        ConvNumerics::Quant { q, requant, .. } => {
            let (x, w, b) = (
                cx.input::<i8>(0)?,
                cx.input::<i8>(1)?,
                cx.opt_input::<i32>(2)?,
            );
            depthwise_conv_2d_q(&p, &q, &requant, x, w, b, cx.output::<i8>(0)?);
        }
    }
    Ok(())
}

/// Runs TRANSPOSE_CONV with the reference kernels (the quantized ones accumulate in a scratch
/// buffer allocated here).
pub fn eval_transpose_conv(cx: &mut EvalCx<'_>, a: &TransposeConvAttrs) -> Result<()> {
    let (p, num) = transpose_conv_params(&cx.infer_cx(), a)?;
    let g = p.geom;
    let filter_len = g.out_c * g.filter_h * g.filter_w * g.in_c;
    check_lens(cx, &[(2, g.input_len()), (1, filter_len)], g.output_len())?;
    match num {
        ConvNumerics::F32(act) => {
            let (w, x, b) = (
                cx.input::<f32>(1)?,
                cx.input::<f32>(2)?,
                cx.opt_input::<f32>(3)?,
            );
            transpose_conv_f32(&p, act, x, w, b, cx.output::<f32>(0)?);
        }
        ConvNumerics::Quant {
            dtype: DType::U8,
            q,
            requant,
        } => {
            let (w, x, b) = (
                cx.input::<u8>(1)?,
                cx.input::<u8>(2)?,
                cx.opt_input::<i32>(3)?,
            );
            let mut scratch = vec![0i32; g.output_len()];
            transpose_conv_q(&p, &q, &requant, x, w, b, &mut scratch, cx.output::<u8>(0)?);
        }
        ConvNumerics::Quant { q, requant, .. } => {
            let (w, x, b) = (
                cx.input::<i8>(1)?,
                cx.input::<i8>(2)?,
                cx.opt_input::<i32>(3)?,
            );
            let mut scratch = vec![0i32; g.output_len()];
            transpose_conv_q(&p, &q, &requant, x, w, b, &mut scratch, cx.output::<i8>(0)?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Graph, Op, OpNode, Quant};

    fn tensor(
        name: &str,
        dtype: DType,
        shape: &[usize],
        quant: Option<Quant>,
        data: bool,
    ) -> Tensor {
        let len = shape.iter().product::<usize>() * dtype.size();
        Tensor {
            name: name.into(),
            dtype,
            shape: shape.to_vec(),
            quant,
            data: data.then(|| vec![0; len]),
            tflite_index: None,
        }
    }

    /// A one-op graph; `tensors[..n-1]` are the operands, the last the result.
    fn graph(op: Op, tensors: Vec<Tensor>) -> Graph {
        let mut g = Graph::new();
        let ids: Vec<_> = tensors.into_iter().map(|t| g.add_tensor(t)).collect();
        let (out, ins) = ids.split_last().unwrap();
        g.add_op(OpNode {
            op,
            inputs: ins.iter().map(|&t| Some(t)).collect(),
            outputs: vec![*out],
            tflite_index: Some(0),
            version: 1,
        });
        g
    }

    fn with_cx<R>(g: &Graph, f: impl FnOnce(&InferCx<'_>) -> R) -> R {
        let id = g.op_ids()[0];
        f(&InferCx {
            graph: g,
            node: g.op(id),
        })
    }

    fn conv_attrs(padding: Padding, stride: usize) -> Conv2dAttrs {
        Conv2dAttrs {
            padding,
            stride: [stride, stride],
            dilation: [1, 1],
            act: Activation::Relu6,
        }
    }

    #[test]
    fn out_size_matches_tflite() {
        assert_eq!(out_size(Padding::Same, 224, 3, 2, 1), Some(112));
        assert_eq!(out_size(Padding::Same, 7, 3, 2, 1), Some(4));
        assert_eq!(out_size(Padding::Valid, 8, 3, 2, 1), Some(3));
        assert_eq!(out_size(Padding::Valid, 8, 3, 1, 2), Some(4));
        assert_eq!(out_size(Padding::Valid, 2, 3, 1, 1), None);
        assert_eq!(out_size(Padding::Valid, 3, 3, 1, 1), Some(1));
    }

    #[test]
    fn padding_puts_the_odd_one_after() {
        // 224, 3x3, stride 2, SAME: out 112, total (111·2 + 3 − 224) = 1 → before 0.
        assert_eq!(pad_before(2, 1, 224, 3, 112), 0);
        // 8, 3x3, stride 1, SAME: total 2 → 1.
        assert_eq!(pad_before(1, 1, 8, 3, 8), 1);
        // dilation 2: effective 5, total 4 → 2.
        assert_eq!(pad_before(1, 2, 8, 3, 8), 2);
        // 8, 2x2, stride 2, SAME: total 0.
        assert_eq!(pad_before(2, 1, 8, 2, 4), 0);
    }

    #[test]
    fn uint8_multiplier_uses_the_float_product() {
        // Scales of a real TF1 uint8 conv for which f32(S_in·S_w) changes the multiplier.
        let (s_in, s_w, s_out) = (
            f32::from_bits(0x3c00_8081),
            f32::from_bits(0x3c11_0757),
            f32::from_bits(0x3d13_37f3),
        );
        let g = graph(
            Op::Conv2d(conv_attrs(Padding::Same, 2)),
            vec![
                tensor(
                    "x",
                    DType::U8,
                    &[1, 7, 7, 3],
                    Some(Quant::per_tensor(s_in, 128)),
                    false,
                ),
                tensor(
                    "w",
                    DType::U8,
                    &[4, 3, 3, 3],
                    Some(Quant::per_tensor(s_w, 120)),
                    true,
                ),
                tensor("b", DType::I32, &[4], None, true),
                tensor(
                    "y",
                    DType::U8,
                    &[1, 4, 4, 4],
                    Some(Quant::per_tensor(s_out, 126)),
                    false,
                ),
            ],
        );
        let (p, num) = with_cx(&g, |cx| conv_2d_params(cx, &conv_attrs(Padding::Same, 2))).unwrap();
        assert_eq!((p.geom.out_h, p.geom.out_w, p.geom.pad), (4, 4, [1, 1]));
        let ConvNumerics::Quant { dtype, q, requant } = num else {
            panic!("not quantized")
        };
        assert_eq!(dtype, DType::U8);
        assert_eq!(
            requant,
            vec![
                Requant {
                    multiplier: 2_123_836_235,
                    shift: -9
                };
                4
            ]
        );
        assert_eq!(
            (q.input_offset, q.filter_offset, q.output_offset),
            (-128, -120, 126)
        );
        // RELU6 with the output's scale: zero point .. 126 + round(6 / 0.0359).
        assert_eq!((q.act.min, q.act.max), (126, 255));
    }

    #[test]
    fn int8_per_channel_and_broadcast_filters() {
        let attrs = conv_attrs(Padding::Valid, 1);
        let build = |wq: Quant| {
            graph(
                Op::Conv2d(attrs.clone()),
                vec![
                    tensor(
                        "x",
                        DType::I8,
                        &[1, 3, 3, 2],
                        Some(Quant::per_tensor(0.5, -3)),
                        false,
                    ),
                    tensor("w", DType::I8, &[2, 3, 3, 2], Some(wq), true),
                    tensor(
                        "y",
                        DType::I8,
                        &[1, 1, 1, 2],
                        Some(Quant::per_tensor(0.25, 1)),
                        false,
                    ),
                ],
            )
        };
        let pc = Quant {
            scale: vec![0.25, 1.5],
            zero_point: vec![0, 0],
            axis: 0,
        };
        let g = build(pc);
        let (_, num) = with_cx(&g, |cx| conv_2d_params(cx, &attrs)).unwrap();
        let ConvNumerics::Quant { requant, q, .. } = num else {
            panic!("not quantized")
        };
        // 0.5 · 0.25 / 0.25 = 0.5 and 0.5 · 1.5 / 0.25 = 3.
        assert_eq!(
            requant,
            vec![quantize_multiplier(0.5), quantize_multiplier(3.0)]
        );
        assert_eq!((q.input_offset, q.filter_offset), (3, 0));
        let g = build(Quant::per_tensor(0.25, 0));
        let (_, num) = with_cx(&g, |cx| conv_2d_params(cx, &attrs)).unwrap();
        let ConvNumerics::Quant { requant, .. } = num else {
            panic!("not quantized")
        };
        assert_eq!(requant, vec![quantize_multiplier(0.5); 2]);
    }

    #[test]
    fn hybrid_and_int16_are_unsupported() {
        let attrs = conv_attrs(Padding::Valid, 1);
        let g = graph(
            Op::Conv2d(attrs.clone()),
            vec![
                tensor("x", DType::F32, &[1, 3, 3, 2], None, false),
                tensor(
                    "w",
                    DType::I8,
                    &[2, 3, 3, 2],
                    Some(Quant::per_tensor(0.1, 0)),
                    true,
                ),
                tensor("y", DType::F32, &[1, 1, 1, 2], None, false),
            ],
        );
        let e = with_cx(&g, |cx| conv_2d_params(cx, &attrs))
            .unwrap_err()
            .to_string();
        assert!(e.contains("hybrid"), "{e}");
    }

    #[test]
    fn transpose_conv_shape_and_padding() {
        let attrs = TransposeConvAttrs {
            padding: Padding::Same,
            stride: [2, 2],
            act: Activation::None,
        };
        let shape = |dims: [i32; 4]| Tensor {
            data: Some(dims.iter().flat_map(|d| d.to_le_bytes()).collect()),
            ..tensor("shape", DType::I32, &[4], None, false)
        };
        let build = |dims: [i32; 4]| {
            graph(
                Op::TransposeConv(attrs.clone()),
                vec![
                    shape(dims),
                    tensor("w", DType::F32, &[6, 3, 3, 8], None, true),
                    tensor("x", DType::F32, &[1, 4, 4, 8], None, false),
                    tensor("y", DType::F32, &[1, 8, 7, 6], None, false),
                ],
            )
        };
        let g = build([1, 8, 7, 6]);
        let (p, _) = with_cx(&g, |cx| transpose_conv_params(cx, &attrs)).unwrap();
        // height: 8 from 4 with 3 taps, stride 2: total (4−1)·2 + 3 − 8 = 1 → 0 before;
        // width: 7: total 2 → 1 before.
        assert_eq!((p.geom.out_h, p.geom.out_w, p.geom.pad), (8, 7, [0, 1]));
        // 10 rows do not come from 4 with stride 2 (LiteRT rejects it too).
        let g = build([1, 10, 7, 6]);
        assert!(with_cx(&g, |cx| transpose_conv_params(cx, &attrs)).is_err());
    }
}

/// Lowers Conv2d (transitional: evaluated from the graph).
pub fn lower_conv_2d(cx: &mut crate::lower::LowerCx<'_>, _a: &crate::ir::Conv2dAttrs) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}

/// Lowers DepthwiseConv2d (transitional: evaluated from the graph).
pub fn lower_depthwise_conv_2d(cx: &mut crate::lower::LowerCx<'_>, _a: &crate::ir::DepthwiseConv2dAttrs) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}

/// Lowers TransposeConv (transitional: evaluated from the graph).
pub fn lower_transpose_conv(cx: &mut crate::lower::LowerCx<'_>, _a: &crate::ir::TransposeConvAttrs) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}


/// The `conv_2d` family's kernels, each with its parameters (filled in as the family is lowered).
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match *self {}
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn exec(&self, _io: &mut crate::interp::StepIo<'_>) -> Result<()> {
        match *self {}
    }
}

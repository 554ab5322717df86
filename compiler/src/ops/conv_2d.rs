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

use mvcc_kernels::kernels::binary::BroadcastShape;
use mvcc_kernels::kernels::common::{ActF32, Quantized, Requant};
use mvcc_kernels::kernels::conv_2d::{
    blocked_len, fold_bias, pack_cols_blocked, pack_rows_blocked, Conv2dParams, ConvGeometry,
    ConvQuant, ResidualQ,
};
use mvcc_kernels::kernels::depthwise_conv_2d::DepthwiseConv2dParams;
use mvcc_kernels::kernels::transpose_conv::TransposeConvParams;

use super::binary::add_q_params_of;
use super::{const_data, EvalCx, InferCx, Lowered};
use crate::error::Result;
use crate::ir::{
    Activation, Conv2dAttrs, DType, DepthwiseConv2dAttrs, Padding, Quant, Shape, Tensor,
    TransposeConvAttrs,
};
use crate::lower::{LowerCx, Step};
use crate::quant::{act_f32, act_q, quantize_multiplier};

#[cfg(feature = "cranelift")]
mod clif;
mod kernel;

pub use kernel::Kernel;
pub(crate) use kernel::Operands;

/// TFLite's `ComputeOutSize`: the output length along one axis, or `None` when the (dilated)
/// filter does not fit a VALID window into the input. SAME and VALID only: explicit padding
/// differs per axis ([`axis_window`] handles it); `None` for it.
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
        Padding::Explicit { .. } => return None,
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

/// The window along `axis` (0 height, 1 width): `(output length, [padding before, padding
/// after])`, or `None` when the filter does not fit. SAME and VALID as TFLite computes them
/// (the amount after is what the last window reaches past the input, at least 0); explicit
/// padding gives `(in + before + after − dilated_filter) / stride + 1`.
///
/// A window with explicit padding `[before, after]` taken from this function reads exactly the
/// input positions the SAME or VALID window reads.
pub fn axis_window(
    padding: Padding,
    axis: usize,
    image: usize,
    filter: usize,
    stride: usize,
    dilation: usize,
) -> Option<(usize, [usize; 2])> {
    if stride == 0 || dilation == 0 || filter == 0 || image == 0 {
        return None;
    }
    let effective = (filter - 1).checked_mul(dilation)?.checked_add(1)?;
    match padding.explicit(axis) {
        Some([before, after]) => {
            let padded = image.checked_add(before)?.checked_add(after)?;
            let out = padded.checked_sub(effective)? / stride + 1;
            Some((out, [before, after]))
        }
        None => {
            let out = out_size(padding, image, filter, stride, dilation)?;
            let reach = (out - 1).checked_mul(stride)?.checked_add(effective)?;
            let total = reach.saturating_sub(image);
            let before = pad_before(stride, dilation, image, filter, out);
            Some((out, [before, total - before]))
        }
    }
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
    axis: usize,
    image: usize,
    filter: usize,
    stride: usize,
    dilation: usize,
) -> Result<(usize, usize)> {
    let name = if axis == 0 { "height" } else { "width" };
    let (out, [before, _]) = axis_window(padding, axis, image, filter, stride, dilation)
        .ok_or_else(|| {
            cx.err(format!(
                "{name}: filter {filter} (dilation {dilation}, stride {stride}) does not fit input {image}"
            ))
        })?;
    Ok((out, before))
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
        0,
        input[1],
        filter_hw[0],
        stride[0],
        dilation[0],
    )?;
    let (out_w, pad_w) = axis_geometry(
        cx,
        padding,
        1,
        input[2],
        filter_hw[1],
        stride[1],
        dilation[1],
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
/// With a fused residual ADD, the numerics are those of the convolution's own result (quantized
/// as [`crate::ir::Residual::conv_quant`] says, no activation) and [`ResidualNumerics`] finishes
/// the sum.
///
/// # Errors
/// Invalid shapes or quantization; unsupported type combinations.
pub fn conv_2d_params(
    cx: &InferCx<'_>,
    a: &Conv2dAttrs,
) -> Result<(Conv2dParams, ConvNumerics, Option<ResidualNumerics>)> {
    cx.arity(2, if a.residual.is_some() { 4 } else { 3 }, 1)?;
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
    let params = Conv2dParams { geom, groups };
    let Some(r) = a.residual else {
        let num = numerics(cx, fl, a.act, [input, filter, output], out_c, 0)?;
        return Ok((params, num, None));
    };
    let residual = cx.input(3)?;
    if residual.dtype != output.dtype || residual.shape != out_shape(&geom) {
        return Err(cx.err(format!(
            "the residual operand is {}{:?}, the result {}{:?}",
            residual.dtype,
            residual.shape,
            output.dtype,
            out_shape(&geom)
        )));
    }
    // The convolution's own result, as the fused-away tensor was.
    let mid = match (fl, r.conv_quant) {
        (Flavor::F32, None) => output.clone(),
        (Flavor::I8 | Flavor::U8, Some((scale, zero_point))) => Tensor {
            quant: Some(Quant::per_tensor(scale, zero_point)),
            data: None,
            ..output.clone()
        },
        _ => {
            return Err(
                cx.err("the residual's convolution quantization does not match the result's type")
            )
        }
    };
    let num = numerics(cx, fl, Activation::None, [input, filter, &mid], out_c, 0)?;
    let add = match fl {
        Flavor::F32 => ResidualNumerics::F32(fused_act(cx, a.act).map(act_f32)?),
        Flavor::I8 | Flavor::U8 => {
            let q = [cx.per_tensor_quant(&mid)?, cx.per_tensor_quant(residual)?];
            let n = output.num_elements();
            let shape = BroadcastShape::new(&[n], &[n])
                .ok_or_else(|| cx.err("the residual does not fit the result"))?;
            let p = add_q_params_of(cx, q, output, a.act, false, shape)?;
            ResidualNumerics::Quant(ResidualQ {
                left_shift: p.left_shift,
                conv_offset: p.input1_offset,
                conv_multiplier: p.input1,
                residual_offset: p.input2_offset,
                residual_multiplier: p.input2,
                output: p.output,
                output_offset: p.output_offset,
                act: p.act,
            })
        }
    };
    Ok((params, num, Some(add)))
}

/// How a CONV_2D with a fused residual ADD finishes each output from the convolution's value
/// (see [`crate::ir::Residual`]). TFLite's quantized ADD treats its operands alike (the sum of the two
/// rescaled values commutes), so which operand of the ADD the convolution was does not matter.
#[derive(Clone, Debug, PartialEq)]
pub enum ResidualNumerics {
    /// float32: the ADD's clamp (`CalculateActivationRange`) of the sum.
    F32(ActF32),
    /// int8 / uint8: TFLite's quantized ADD.
    Quant(ResidualQ),
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
    if let Padding::Explicit { .. } = a.padding {
        return Err(cx.unsupported("explicit padding on TRANSPOSE_CONV"));
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

/// CONV_2D: `[N, H, W, Ci] ⊛ [Co, Kh, Kw, Ci/groups] → [N, Ho, Wo, Co]` (plus a residual of
/// that shape).
pub fn infer_conv_2d(cx: &InferCx<'_>, a: &Conv2dAttrs) -> Result<Vec<Shape>> {
    let (p, _, _) = conv_2d_params(cx, a)?;
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

/// How a convolution-like step (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED) reads its weight
/// operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weights {
    /// Pre-packed at compile time into the blob. Operand 1 holds the filter in output-channel
    /// blocks of 16 (`mvcc_kernels::kernels::conv_2d::OC_BLOCK`), zero-padded: `[ceil(Co/16)][K][16]` with `K = Kh·Kw·Ci/groups`
    /// taps for CONV_2D (tap order `(fy, fx, ic)`), `K = Kh·Kw` for DEPTHWISE_CONV_2D (tap order
    /// `(fy, fx)`) and `K = depth` for FULLY_CONNECTED. Operand 2 is always present: the float
    /// bias (zeros when the model has none), or for quantized ops the `i32` bias with the
    /// input-independent zero-point terms folded in,
    /// `bias'[c] = bias[c] − Z_in · Σ_k (w[c][k] − Z_w)` in wrapping `i32` (see
    /// `mvcc_kernels::kernels::conv_2d::fold_bias`); for uint8 the input-dependent
    /// `−Z_w · Σ x` term stays in the kernel. Padding taps are read as `Z_in`, which makes the
    /// result bit-identical to TFLite's form, which skips them.
    Packed,
    /// As in the model (TFLite's layouts, the optional model bias, TFLite's arithmetic): for
    /// filters or biases that are not compile-time constants.
    Model,
}

/// Packs the weights (operand 1) and bias (operand 2) of a convolution-like op for
/// [`Weights::Packed`]: `n` output channels of `k` taps, stored row-major `[n][k]` (`cols`
/// false) or column-major `[k][n]` (`cols` true, DEPTHWISE_CONV_2D). `offsets` are the quantized
/// op's `(input_offset, filter_offset)`. `None` when the filter or the bias is not a constant.
pub fn pack_weights(
    cx: &InferCx<'_>,
    dtype: DType,
    n: usize,
    k: usize,
    cols: bool,
    offsets: (i32, i32),
) -> Option<Vec<(usize, Vec<u8>)>> {
    fn pack<W: Copy + Default>(n: usize, k: usize, cols: bool, src: &[W]) -> Option<Vec<W>> {
        if src.len() != n.checked_mul(k)? {
            return None;
        }
        let mut dst = vec![W::default(); blocked_len(n, k)];
        if cols {
            pack_cols_blocked(n, k, src, &mut dst);
        } else {
            pack_rows_blocked(n, k, src, &mut dst);
        }
        Some(dst)
    }
    fn bias<B: bytemuck::Pod + Default>(cx: &InferCx<'_>, n: usize) -> Option<Vec<B>> {
        let b = match cx.opt_input(2) {
            Some(_) => const_data::<B>(cx, 2)?,
            None => vec![B::default(); n],
        };
        (b.len() == n).then_some(b)
    }
    fn quantized<W: Quantized + bytemuck::Pod>(
        cx: &InferCx<'_>,
        n: usize,
        k: usize,
        cols: bool,
        (input_offset, filter_offset): (i32, i32),
    ) -> Option<Vec<(usize, Vec<u8>)>> {
        let w = const_data::<W>(cx, 1)?;
        let b = bias::<i32>(cx, n)?;
        let packed = pack(n, k, cols, &w)?;
        let mut folded = vec![0i32; n];
        let weight = |c: usize, i: usize| {
            let at = if cols { i * n + c } else { c * k + i };
            w[at].to_i32()
        };
        fold_bias(
            n,
            k,
            input_offset,
            filter_offset,
            weight,
            Some(&b),
            &mut folded,
        );
        Some(vec![
            (1, bytemuck::cast_slice(&packed).to_vec()),
            (2, bytemuck::cast_slice(&folded).to_vec()),
        ])
    }
    match dtype {
        DType::F32 => {
            let w = const_data::<f32>(cx, 1)?;
            let b = bias::<f32>(cx, n)?;
            let packed = pack(n, k, cols, &w)?;
            Some(vec![
                (1, bytemuck::cast_slice(&packed).to_vec()),
                (2, bytemuck::cast_slice(&b).to_vec()),
            ])
        }
        DType::I8 => quantized::<i8>(cx, n, k, cols, offsets),
        DType::U8 => quantized::<u8>(cx, n, k, cols, offsets),
        _ => None,
    }
}

/// The kernel of a convolution-like op from its numerics: `f32` or `q` builds the variant, given
/// the weights' form; the weights are packed when they are constants.
fn conv_like(
    cx: &InferCx<'_>,
    num: ConvNumerics,
    n: usize,
    k: usize,
    cols: bool,
    f32: impl FnOnce(ActF32, Weights) -> Kernel,
    q: impl FnOnce(DType, ConvQuant, Vec<Requant>, Weights) -> Kernel,
) -> Lowered<Kernel> {
    let (dtype, offsets) = match &num {
        ConvNumerics::F32(_) => (DType::F32, (0, 0)),
        ConvNumerics::Quant { dtype, q, .. } => (*dtype, (q.input_offset, q.filter_offset)),
    };
    let packed = pack_weights(cx, dtype, n, k, cols, offsets);
    let weights = if packed.is_some() {
        Weights::Packed
    } else {
        Weights::Model
    };
    let kernel = match num {
        ConvNumerics::F32(act) => f32(act, weights),
        ConvNumerics::Quant {
            dtype,
            q: cq,
            requant,
        } => q(dtype, cq, requant, weights),
    };
    let mut l = Lowered::new(kernel);
    l.packed = packed.unwrap_or_default();
    l
}

/// CONV_2D's kernel: parameters computed once, weights packed and bias folded when constant.
/// With a residual the result may overwrite the residual operand (each residual element is read
/// once, for the output element at its place), unless the residual is also the convolution's
/// input (read at other places).
///
/// # Errors
/// As [`conv_2d_params`].
pub fn plan_conv_2d(cx: &InferCx<'_>, a: &Conv2dAttrs) -> Result<Lowered<Kernel>> {
    let (params, num, residual) = conv_2d_params(cx, a)?;
    let g = &params.geom;
    let k = g.filter_h * g.filter_w * params.filter_in_c();
    let inputs = &cx.node.inputs;
    let in_place = (residual.is_some() && inputs.get(3) != inputs.first()).then_some(3);
    let (add_f32, add_q) = match residual {
        Some(ResidualNumerics::F32(act)) => (Some(act), None),
        Some(ResidualNumerics::Quant(r)) => (None, Some(r)),
        None => (None, None),
    };
    let mut l = conv_like(
        cx,
        num,
        g.out_c,
        k,
        false,
        |act, weights| Kernel::Conv2dF32 {
            params,
            act,
            weights,
            residual: add_f32,
        },
        |dtype, q, requant, weights| Kernel::Conv2dQ {
            dtype,
            params,
            q,
            requant,
            weights,
            residual: add_q,
        },
    );
    l.in_place = in_place;
    Ok(l)
}

/// DEPTHWISE_CONV_2D's kernel: parameters computed once, weights packed and bias folded when
/// constant.
///
/// # Errors
/// As [`depthwise_conv_2d_params`].
pub fn plan_depthwise_conv_2d(
    cx: &InferCx<'_>,
    a: &DepthwiseConv2dAttrs,
) -> Result<Lowered<Kernel>> {
    let (params, num) = depthwise_conv_2d_params(cx, a)?;
    let g = &params.geom;
    Ok(conv_like(
        cx,
        num,
        g.out_c,
        g.filter_h * g.filter_w,
        true,
        |act, weights| Kernel::DepthwiseConv2dF32 {
            params,
            act,
            weights,
        },
        |dtype, q, requant, weights| Kernel::DepthwiseConv2dQ {
            dtype,
            params,
            q,
            requant,
            weights,
        },
    ))
}

/// TRANSPOSE_CONV's kernel (weights in the model's layout); the quantized kernels accumulate in
/// `i32` scratch of the output's size.
///
/// # Errors
/// As [`transpose_conv_params`].
pub fn plan_transpose_conv(cx: &InferCx<'_>, a: &TransposeConvAttrs) -> Result<Lowered<Kernel>> {
    let (params, num) = transpose_conv_params(cx, a)?;
    Ok(match num {
        ConvNumerics::F32(act) => Lowered::new(Kernel::TransposeConvF32 { params, act }),
        ConvNumerics::Quant { dtype, q, requant } => {
            let mut l = Lowered::new(Kernel::TransposeConvQ {
                dtype,
                params,
                q,
                requant,
            });
            l.scratch_bytes = params.geom.output_len() * std::mem::size_of::<i32>();
            l
        }
    })
}

/// Runs CONV_2D with the reference kernels (the lowered kernel on the op's values).
pub fn eval_conv_2d(cx: &mut EvalCx<'_>, a: &Conv2dAttrs) -> Result<()> {
    plan_conv_2d(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// Runs DEPTHWISE_CONV_2D with the reference kernels.
pub fn eval_depthwise_conv_2d(cx: &mut EvalCx<'_>, a: &DepthwiseConv2dAttrs) -> Result<()> {
    plan_depthwise_conv_2d(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// Runs TRANSPOSE_CONV with the reference kernels.
pub fn eval_transpose_conv(cx: &mut EvalCx<'_>, a: &TransposeConvAttrs) -> Result<()> {
    plan_transpose_conv(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// Lowers CONV_2D to one step.
///
/// # Errors
/// As [`conv_2d_params`].
pub fn lower_conv_2d(cx: &mut LowerCx<'_>, a: &Conv2dAttrs) -> Result<Vec<Step>> {
    let l = plan_conv_2d(&cx.icx, a)?;
    Ok(vec![l.into_step(cx, crate::lower::Kernel::Conv2d)?])
}

/// Lowers DEPTHWISE_CONV_2D to one step.
///
/// # Errors
/// As [`depthwise_conv_2d_params`].
pub fn lower_depthwise_conv_2d(
    cx: &mut LowerCx<'_>,
    a: &DepthwiseConv2dAttrs,
) -> Result<Vec<Step>> {
    let l = plan_depthwise_conv_2d(&cx.icx, a)?;
    Ok(vec![l.into_step(cx, crate::lower::Kernel::Conv2d)?])
}

/// Lowers TRANSPOSE_CONV to one step.
///
/// # Errors
/// As [`transpose_conv_params`].
pub fn lower_transpose_conv(cx: &mut LowerCx<'_>, a: &TransposeConvAttrs) -> Result<Vec<Step>> {
    let l = plan_transpose_conv(&cx.icx, a)?;
    Ok(vec![l.into_step(cx, crate::lower::Kernel::Conv2d)?])
}

#[cfg(test)]
pub(crate) mod tests;

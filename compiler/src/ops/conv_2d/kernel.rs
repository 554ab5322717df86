//! The `conv_2d` family's kernels and how they run on a step's operands.

use mvcc_kernels::kernels::common::{ActF32, Quantized, Requant};
use mvcc_kernels::kernels::conv_2d::{
    blocked_len, conv_2d_f32, conv_2d_f32_packed, conv_2d_f32_packed_residual,
    conv_2d_f32_residual, conv_2d_q, conv_2d_q_packed, conv_2d_q_packed_residual,
    conv_2d_q_residual, Conv2dParams, ConvGeometry, ConvQuant, ResidualQ,
};
use mvcc_kernels::kernels::depthwise_conv_2d::{
    depthwise_conv_2d_f32, depthwise_conv_2d_f32_packed, depthwise_conv_2d_q,
    depthwise_conv_2d_q_packed, DepthwiseConv2dParams,
};
use mvcc_kernels::kernels::transpose_conv::{
    transpose_conv_f32, transpose_conv_q, TransposeConvParams,
};

use super::Weights;
use crate::error::Result;
use crate::interp::{Buf, StepIo};
use crate::ir::DType;
use crate::rust::step::{rust_type, Slice, StepCx};

/// The `conv_2d` family's kernels: CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV, float32 or
/// quantized (`dtype` `I8` or `U8` selects the element type of input, filter and output).
///
/// Operands are the op's: `[input, filter, bias]` for the forward convolutions (with
/// [`Weights::Packed`] the filter and bias come from the lowering, see there), then for a
/// CONV_2D with a fused residual ADD the residual (of the output's size); `[output_shape,
/// filter, input, bias]` for TRANSPOSE_CONV, whose filter stays in TFLite's
/// `[Co, Kh, Kw, Ci]` layout.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// Float CONV_2D.
    Conv2dF32 {
        /// Geometry and groups.
        params: Conv2dParams,
        /// Fused activation clamp (of the convolution's own result when there is a residual).
        act: ActF32,
        /// Weight form.
        weights: Weights,
        /// With a fused residual ADD (operand 3): the ADD's clamp of the sum.
        residual: Option<ActF32>,
    },
    /// Quantized CONV_2D (int8 per-channel or uint8 per-tensor).
    Conv2dQ {
        /// `I8` or `U8`.
        dtype: DType,
        /// Geometry and groups.
        params: Conv2dParams,
        /// Zero-point offsets and clamp (of the convolution's own result when there is a
        /// residual).
        q: ConvQuant,
        /// One multiplier per output channel.
        requant: Vec<Requant>,
        /// Weight form.
        weights: Weights,
        /// With a fused residual ADD (operand 3): the ADD's arithmetic.
        residual: Option<ResidualQ>,
    },
    /// Float DEPTHWISE_CONV_2D.
    DepthwiseConv2dF32 {
        /// Geometry and depth multiplier.
        params: DepthwiseConv2dParams,
        /// Fused activation clamp.
        act: ActF32,
        /// Weight form.
        weights: Weights,
    },
    /// Quantized DEPTHWISE_CONV_2D.
    DepthwiseConv2dQ {
        /// `I8` or `U8`.
        dtype: DType,
        /// Geometry and depth multiplier.
        params: DepthwiseConv2dParams,
        /// Zero-point offsets and clamp.
        q: ConvQuant,
        /// One multiplier per output channel.
        requant: Vec<Requant>,
        /// Weight form.
        weights: Weights,
    },
    /// Float TRANSPOSE_CONV (accumulates in the output).
    TransposeConvF32 {
        /// Geometry.
        params: TransposeConvParams,
        /// Fused activation clamp.
        act: ActF32,
    },
    /// Quantized TRANSPOSE_CONV; accumulates in the step's scratch (`4 · output elements`
    /// bytes).
    TransposeConvQ {
        /// `I8` or `U8`.
        dtype: DType,
        /// Geometry.
        params: TransposeConvParams,
        /// Zero-point offsets and clamp.
        q: ConvQuant,
        /// One multiplier per output channel.
        requant: Vec<Requant>,
    },
}

/// Picks the name for `(dtype, weights)` from `[i8 packed, i8 model, u8 packed, u8 model]`.
fn qname(dtype: DType, weights: Weights, names: [&'static str; 4]) -> &'static str {
    let u8 = usize::from(dtype == DType::U8) * 2;
    names[u8 + usize::from(weights == Weights::Model)]
}

/// An error unless a slice holds `want` elements.
fn expect_len(io: &StepIo<'_>, what: &str, got: usize, want: usize) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(io.err(format!(
            "{what} has {got} elements, the kernel expects {want}"
        )))
    }
}

/// Two data operands and an optional bias of a kernel, as typed slices.
pub(crate) type Operands<'a, T, W, B> = (&'a [T], &'a [W], Option<&'a [B]>);

/// Input, filter and bias of a forward convolution, checked against the kernel's sizes:
/// `n` channels of `k` taps, `input_len` input elements.
fn conv_operands<'a, T: bytemuck::Pod, W: bytemuck::Pod, B: bytemuck::Pod>(
    io: &StepIo<'a>,
    weights: Weights,
    (input_len, n, k): (usize, usize, usize),
) -> Result<Operands<'a, T, W, B>> {
    let x = io.input::<T>(0)?;
    let w = io.input::<W>(1)?;
    expect_len(io, "the input", x.len(), input_len)?;
    let (w_len, b) = match weights {
        Weights::Packed => (blocked_len(n, k), Some(io.input::<B>(2)?)),
        Weights::Model => (n * k, io.opt_input::<B>(2)?),
    };
    expect_len(io, "the filter", w.len(), w_len)?;
    if let Some(b) = b {
        expect_len(io, "the bias", b.len(), n)?;
    }
    Ok((x, w, b))
}

/// The packed bias, present by construction (checked by [`conv_operands`]).
fn packed_bias<'a, B>(io: &StepIo<'_>, b: Option<&'a [B]>) -> Result<&'a [B]> {
    b.ok_or_else(|| io.err("the packed bias is missing"))
}

/// The residual operand (slot 3) of a CONV_2D with a fused ADD, checked to hold `n` elements.
fn residual_operand<'a, T: bytemuck::Pod>(io: &StepIo<'a>, n: usize) -> Result<&'a [T]> {
    let r = io.input::<T>(3)?;
    expect_len(io, "the residual", r.len(), n)?;
    Ok(r)
}

fn exec_conv_2d_q<T: Quantized + bytemuck::Pod>(
    io: &mut StepIo<'_>,
    p: &Conv2dParams,
    q: &ConvQuant,
    requant: &[Requant],
    weights: Weights,
    residual: Option<&ResidualQ>,
) -> Result<()> {
    let g = &p.geom;
    let k = g.filter_h * g.filter_w * p.filter_in_c();
    let (x, w, b) = conv_operands::<T, T, i32>(io, weights, (g.input_len(), g.out_c, k))?;
    let packed = match weights {
        Weights::Packed => Some(packed_bias(io, b)?),
        Weights::Model => None,
    };
    let add = match residual {
        Some(r) => Some((r, residual_operand::<T>(io, g.output_len())?)),
        None => None,
    };
    if io.output::<T>(0)?.len() != g.output_len() || requant.len() != g.out_c {
        return Err(io.err("the output size does not match the kernel"));
    }
    let out = io.output::<T>(0)?;
    match (packed, add) {
        (Some(b), None) => conv_2d_q_packed(p, q, requant, x, w, b, out),
        (None, None) => conv_2d_q(p, q, requant, x, w, b, out),
        (Some(b), Some((r, y))) => conv_2d_q_packed_residual(p, q, requant, r, x, w, b, y, out),
        (None, Some((r, y))) => conv_2d_q_residual(p, q, requant, r, x, w, b, y, out),
    }
    Ok(())
}

fn exec_conv_2d_f32(
    io: &mut StepIo<'_>,
    params: &Conv2dParams,
    act: ActF32,
    weights: Weights,
    residual: Option<ActF32>,
) -> Result<()> {
    let g = &params.geom;
    let k = g.filter_h * g.filter_w * params.filter_in_c();
    let (x, w, b) = conv_operands::<f32, f32, f32>(io, weights, (g.input_len(), g.out_c, k))?;
    let packed = match weights {
        Weights::Packed => Some(packed_bias(io, b)?),
        Weights::Model => None,
    };
    let add = match residual {
        Some(r) => Some((r, residual_operand::<f32>(io, g.output_len())?)),
        None => None,
    };
    let out = io.output::<f32>(0)?;
    if out.len() != g.output_len() {
        return Err(io.err("the output size does not match the kernel"));
    }
    match (packed, add) {
        (Some(b), None) => conv_2d_f32_packed(params, act, x, w, b, out),
        (None, None) => conv_2d_f32(params, act, x, w, b, out),
        (Some(b), Some((r, y))) => conv_2d_f32_packed_residual(params, act, r, x, w, b, y, out),
        (None, Some((r, y))) => conv_2d_f32_residual(params, act, r, x, w, b, y, out),
    }
    Ok(())
}

fn exec_depthwise_q<T: Quantized + bytemuck::Pod>(
    io: &mut StepIo<'_>,
    p: &DepthwiseConv2dParams,
    q: &ConvQuant,
    requant: &[Requant],
    weights: Weights,
) -> Result<()> {
    let g = &p.geom;
    let k = g.filter_h * g.filter_w;
    let (x, w, b) = conv_operands::<T, T, i32>(io, weights, (g.input_len(), g.out_c, k))?;
    let packed = match weights {
        Weights::Packed => Some(packed_bias(io, b)?),
        Weights::Model => None,
    };
    if io.output::<T>(0)?.len() != g.output_len() || requant.len() != g.out_c {
        return Err(io.err("the output size does not match the kernel"));
    }
    let out = io.output::<T>(0)?;
    match packed {
        Some(b) => depthwise_conv_2d_q_packed(p, q, requant, x, w, b, out),
        None => depthwise_conv_2d_q(p, q, requant, x, w, b, out),
    }
    Ok(())
}

/// Operands of TRANSPOSE_CONV (filter, input, bias), checked against the geometry.
fn transpose_operands<'a, T: bytemuck::Pod, B: bytemuck::Pod>(
    io: &StepIo<'a>,
    g: &ConvGeometry,
) -> Result<Operands<'a, T, T, B>> {
    let w = io.input::<T>(1)?;
    let x = io.input::<T>(2)?;
    let b = io.opt_input::<B>(3)?;
    expect_len(
        io,
        "the filter",
        w.len(),
        g.out_c * g.filter_h * g.filter_w * g.in_c,
    )?;
    expect_len(io, "the input", x.len(), g.input_len())?;
    if let Some(b) = b {
        expect_len(io, "the bias", b.len(), g.out_c)?;
    }
    Ok((w, x, b))
}

fn exec_transpose_q<T: Quantized + bytemuck::Pod>(
    io: &mut StepIo<'_>,
    p: &TransposeConvParams,
    q: &ConvQuant,
    requant: &[Requant],
) -> Result<()> {
    let g = &p.geom;
    let (w, x, b) = transpose_operands::<T, i32>(io, g)?;
    if io.output::<T>(0)?.len() != g.output_len() || requant.len() != g.out_c {
        return Err(io.err("the output size does not match the kernel"));
    }
    let mut scratch = std::mem::replace(&mut io.scratch, Buf::zeroed(0));
    let r = match scratch.as_mut_slice::<i32>() {
        Some(acc) if acc.len() == g.output_len() => {
            transpose_conv_q(p, q, requant, x, w, b, acc, io.output::<T>(0)?);
            Ok(())
        }
        _ => Err(io.err("the scratch does not hold the output's accumulators")),
    };
    io.scratch = scratch;
    r
}

impl Kernel {
    /// A short name for listings (`conv_2d_i8`; `_unpacked` for weights in the model's form).
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::Conv2dF32 {
                weights, residual, ..
            } => match (weights, residual.is_some()) {
                (Weights::Packed, false) => "conv_2d_f32",
                (Weights::Model, false) => "conv_2d_f32_unpacked",
                (Weights::Packed, true) => "conv_2d_add_f32",
                (Weights::Model, true) => "conv_2d_add_f32_unpacked",
            },
            Kernel::Conv2dQ {
                dtype,
                weights,
                residual: None,
                ..
            } => qname(
                *dtype,
                *weights,
                [
                    "conv_2d_i8",
                    "conv_2d_i8_unpacked",
                    "conv_2d_u8",
                    "conv_2d_u8_unpacked",
                ],
            ),
            Kernel::Conv2dQ {
                dtype,
                weights,
                residual: Some(_),
                ..
            } => qname(
                *dtype,
                *weights,
                [
                    "conv_2d_add_i8",
                    "conv_2d_add_i8_unpacked",
                    "conv_2d_add_u8",
                    "conv_2d_add_u8_unpacked",
                ],
            ),
            Kernel::DepthwiseConv2dF32 { weights, .. } => match weights {
                Weights::Packed => "depthwise_conv_2d_f32",
                Weights::Model => "depthwise_conv_2d_f32_unpacked",
            },
            Kernel::DepthwiseConv2dQ { dtype, weights, .. } => qname(
                *dtype,
                *weights,
                [
                    "depthwise_conv_2d_i8",
                    "depthwise_conv_2d_i8_unpacked",
                    "depthwise_conv_2d_u8",
                    "depthwise_conv_2d_u8_unpacked",
                ],
            ),
            Kernel::TransposeConvF32 { .. } => "transpose_conv_f32",
            Kernel::TransposeConvQ { dtype, .. } => qname(
                *dtype,
                Weights::Model,
                ["", "transpose_conv_i8", "", "transpose_conv_u8"],
            ),
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::Conv2dF32 {
                params,
                act,
                weights,
                residual,
            } => exec_conv_2d_f32(io, params, *act, *weights, *residual),
            Kernel::Conv2dQ {
                dtype,
                params,
                q,
                requant,
                weights,
                residual,
            } => match dtype {
                DType::U8 => {
                    exec_conv_2d_q::<u8>(io, params, q, requant, *weights, residual.as_ref())
                }
                _ => exec_conv_2d_q::<i8>(io, params, q, requant, *weights, residual.as_ref()),
            },
            Kernel::DepthwiseConv2dF32 {
                params,
                act,
                weights,
            } => {
                let g = &params.geom;
                let k = g.filter_h * g.filter_w;
                let (x, w, b) =
                    conv_operands::<f32, f32, f32>(io, *weights, (g.input_len(), g.out_c, k))?;
                let packed = match weights {
                    Weights::Packed => Some(packed_bias(io, b)?),
                    Weights::Model => None,
                };
                let out = io.output::<f32>(0)?;
                if out.len() != g.output_len() {
                    return Err(io.err("the output size does not match the kernel"));
                }
                match packed {
                    Some(b) => depthwise_conv_2d_f32_packed(params, *act, x, w, b, out),
                    None => depthwise_conv_2d_f32(params, *act, x, w, b, out),
                }
                Ok(())
            }
            Kernel::DepthwiseConv2dQ {
                dtype,
                params,
                q,
                requant,
                weights,
            } => match dtype {
                DType::U8 => exec_depthwise_q::<u8>(io, params, q, requant, *weights),
                _ => exec_depthwise_q::<i8>(io, params, q, requant, *weights),
            },
            Kernel::TransposeConvF32 { params, act } => {
                let (w, x, b) = transpose_operands::<f32, f32>(io, &params.geom)?;
                let out = io.output::<f32>(0)?;
                if out.len() != params.geom.output_len() {
                    return Err(io.err("the output size does not match the kernel"));
                }
                transpose_conv_f32(params, *act, x, w, b, out);
                Ok(())
            }
            Kernel::TransposeConvQ {
                dtype,
                params,
                q,
                requant,
            } => match dtype {
                DType::U8 => exec_transpose_q::<u8>(io, params, q, requant),
                _ => exec_transpose_q::<i8>(io, params, q, requant),
            },
        }
    }
}

/// Input, filter and bias expressions of a forward convolution, checked like [`conv_operands`].
fn rust_conv_operands(
    cx: &mut StepCx<'_>,
    (t, b_ty): (&str, &str),
    weights: Weights,
    (input_len, n, k): (usize, usize, usize),
) -> Result<(Slice, Slice, Option<Slice>)> {
    let x = cx.input(0, t)?;
    let w = cx.input(1, t)?;
    let (w_len, b) = match weights {
        Weights::Packed => (blocked_len(n, k), Some(cx.input(2, b_ty)?)),
        Weights::Model => (n * k, cx.opt_input(2, b_ty)?),
    };
    let bias_ok = b.as_ref().is_none_or(|b| b.len == n);
    if x.len != input_len || w.len != w_len || !bias_ok {
        return Err(cx.err("operand sizes do not match the convolution"));
    }
    Ok((x, w, b))
}

/// `Some(expr)` / `None`.
fn opt_expr(s: Option<Slice>) -> String {
    s.map_or_else(|| "None".into(), |s| format!("Some({s})"))
}

impl Kernel {
    /// Writes the step's Rust code: the same kernel [`Kernel::exec`] runs, with every parameter a
    /// `static`.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        match self {
            Kernel::Conv2dF32 {
                params,
                act,
                weights,
                residual,
            } => {
                let g = &params.geom;
                let k = g.filter_h * g.filter_w * params.filter_in_c();
                let (x, w, b) =
                    rust_conv_operands(cx, ("f32", "f32"), *weights, (g.input_len(), g.out_c, k))?;
                let p = cx.param("params", params);
                let a = cx.param("act", act);
                let mut args = vec![format!("&{p}"), a];
                if let Some(r) = residual {
                    args.push(cx.param("residual", r));
                }
                let inputs = (x, w, b);
                conv_call(
                    cx,
                    "k::conv_2d::conv_2d_f32",
                    args,
                    inputs,
                    *weights,
                    residual.is_some(),
                    ("f32", g),
                )
            }
            Kernel::Conv2dQ {
                dtype,
                params,
                q,
                requant,
                weights,
                residual,
            } => {
                let t = rust_type(*dtype);
                let g = &params.geom;
                let k = g.filter_h * g.filter_w * params.filter_in_c();
                let (x, w, b) =
                    rust_conv_operands(cx, (t, "i32"), *weights, (g.input_len(), g.out_c, k))?;
                if requant.len() != g.out_c {
                    return Err(cx.err("one multiplier per output channel is needed"));
                }
                let p = cx.param("params", params);
                let qn = cx.param("quant", q);
                let rq = cx.param_array("requant", requant);
                let mut args = vec![format!("&{p}"), format!("&{qn}"), format!("&{rq}")];
                if let Some(r) = residual {
                    let r = cx.param("residual", r);
                    args.push(format!("&{r}"));
                }
                let inputs = (x, w, b);
                conv_call(
                    cx,
                    "k::conv_2d::conv_2d_q",
                    args,
                    inputs,
                    *weights,
                    residual.is_some(),
                    (t, g),
                )
            }
            Kernel::DepthwiseConv2dF32 {
                params,
                act,
                weights,
            } => {
                let g = &params.geom;
                let k = g.filter_h * g.filter_w;
                let (x, w, b) =
                    rust_conv_operands(cx, ("f32", "f32"), *weights, (g.input_len(), g.out_c, k))?;
                let p = cx.param("params", params);
                let a = cx.param("act", act);
                let mut args = vec![format!("&{p}"), a, x.expr, w.expr];
                let path = match (weights, b) {
                    (Weights::Packed, Some(b)) => {
                        args.push(b.expr);
                        "k::depthwise_conv_2d::depthwise_conv_2d_f32_packed"
                    }
                    (_, b) => {
                        args.push(opt_expr(b));
                        "k::depthwise_conv_2d::depthwise_conv_2d_f32"
                    }
                };
                let out = cx.output(0, "f32")?;
                if out.len != g.output_len() {
                    return Err(cx.err("the output size does not match the kernel"));
                }
                args.push(out.expr);
                cx.call(path, &args);
                Ok(())
            }
            Kernel::DepthwiseConv2dQ {
                dtype,
                params,
                q,
                requant,
                weights,
            } => {
                let t = rust_type(*dtype);
                let g = &params.geom;
                let k = g.filter_h * g.filter_w;
                let (x, w, b) =
                    rust_conv_operands(cx, (t, "i32"), *weights, (g.input_len(), g.out_c, k))?;
                if requant.len() != g.out_c {
                    return Err(cx.err("one multiplier per output channel is needed"));
                }
                let p = cx.param("params", params);
                let qn = cx.param("quant", q);
                let rq = cx.param_array("requant", requant);
                let mut args = vec![
                    format!("&{p}"),
                    format!("&{qn}"),
                    format!("&{rq}"),
                    x.expr,
                    w.expr,
                ];
                let path = match (weights, b) {
                    (Weights::Packed, Some(b)) => {
                        args.push(b.expr);
                        "k::depthwise_conv_2d::depthwise_conv_2d_q_packed"
                    }
                    (_, b) => {
                        args.push(opt_expr(b));
                        "k::depthwise_conv_2d::depthwise_conv_2d_q"
                    }
                };
                let out = cx.output(0, t)?;
                if out.len != g.output_len() {
                    return Err(cx.err("the output size does not match the kernel"));
                }
                args.push(out.expr);
                cx.call(path, &args);
                Ok(())
            }
            Kernel::TransposeConvF32 { params, act } => {
                let g = &params.geom;
                let w = cx.input(1, "f32")?;
                let x = cx.input(2, "f32")?;
                let b = cx.opt_input(3, "f32")?;
                transpose_sizes(cx, g, &w, &x, b.as_ref())?;
                let p = cx.param("params", params);
                let a = cx.param("act", act);
                let out = cx.output(0, "f32")?;
                if out.len != g.output_len() {
                    return Err(cx.err("the output size does not match the kernel"));
                }
                let args = [format!("&{p}"), a, x.expr, w.expr, opt_expr(b), out.expr];
                cx.call("k::transpose_conv::transpose_conv_f32", &args);
                Ok(())
            }
            Kernel::TransposeConvQ {
                dtype,
                params,
                q,
                requant,
            } => {
                let t = rust_type(*dtype);
                let g = &params.geom;
                let w = cx.input(1, t)?;
                let x = cx.input(2, t)?;
                let b = cx.opt_input(3, "i32")?;
                transpose_sizes(cx, g, &w, &x, b.as_ref())?;
                if requant.len() != g.out_c {
                    return Err(cx.err("one multiplier per output channel is needed"));
                }
                let p = cx.param("params", params);
                let qn = cx.param("quant", q);
                let rq = cx.param_array("requant", requant);
                let acc = cx.scratch("i32")?;
                let out = cx.output(0, t)?;
                if out.len != g.output_len() || acc.len != g.output_len() {
                    return Err(cx.err("the output or scratch size does not match the kernel"));
                }
                let args = [
                    format!("&{p}"),
                    format!("&{qn}"),
                    format!("&{rq}"),
                    x.expr,
                    w.expr,
                    opt_expr(b),
                    acc.expr,
                    out.expr,
                ];
                cx.call("k::transpose_conv::transpose_conv_q", &args);
                Ok(())
            }
        }
    }
}

/// The call of a CONV_2D kernel `base` (`_packed` for packed weights, `_residual` with a fused
/// ADD): `args` (parameters), then input, filter, bias, the residual (operand 3) and the output.
fn conv_call(
    cx: &mut StepCx<'_>,
    base: &str,
    mut args: Vec<String>,
    (x, w, b): (Slice, Slice, Option<Slice>),
    weights: Weights,
    residual: bool,
    (t, g): (&str, &ConvGeometry),
) -> Result<()> {
    args.extend([x.expr, w.expr]);
    let mut path = base.to_string();
    match (weights, b) {
        (Weights::Packed, Some(b)) => {
            path.push_str("_packed");
            args.push(b.expr);
        }
        (_, b) => args.push(opt_expr(b)),
    }
    if residual {
        path.push_str("_residual");
        let y = cx.input(3, t)?;
        if y.len != g.output_len() {
            return Err(cx.err("the residual does not match the output"));
        }
        args.push(y.expr);
    }
    let out = cx.output(0, t)?;
    if out.len != g.output_len() {
        return Err(cx.err("the output size does not match the kernel"));
    }
    args.push(out.expr);
    cx.call(&path, &args);
    Ok(())
}

/// TRANSPOSE_CONV operand sizes, checked like [`transpose_operands`].
fn transpose_sizes(
    cx: &StepCx<'_>,
    g: &ConvGeometry,
    w: &Slice,
    x: &Slice,
    b: Option<&Slice>,
) -> Result<()> {
    let ok = w.len == g.out_c * g.filter_h * g.filter_w * g.in_c
        && x.len == g.input_len()
        && b.is_none_or(|b| b.len == g.out_c);
    if ok {
        Ok(())
    } else {
        Err(cx.err("operand sizes do not match the transpose convolution"))
    }
}

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code (see [`crate::clif`] and the family's `clif` module).
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        use super::clif;
        match self {
            Kernel::Conv2dF32 {
                params,
                act,
                weights: Weights::Packed,
                residual,
            } => clif::conv_2d_f32_packed(cx, params, *act, *residual),
            Kernel::Conv2dF32 {
                params,
                act,
                weights: Weights::Model,
                residual,
            } => clif::conv_2d_f32_model(cx, params, *act, *residual),
            Kernel::Conv2dQ {
                dtype,
                params,
                q,
                requant,
                weights,
                residual,
            } => clif::conv_2d_q(
                cx,
                params,
                *dtype,
                (q, requant),
                *weights,
                residual.as_ref(),
            ),
            Kernel::DepthwiseConv2dF32 {
                params,
                act,
                weights: Weights::Packed,
            } => clif::depthwise_f32_packed(cx, params, *act),
            Kernel::DepthwiseConv2dF32 {
                params,
                act,
                weights: Weights::Model,
            } => clif::depthwise_f32_model(cx, params, *act),
            Kernel::DepthwiseConv2dQ {
                dtype,
                params,
                q,
                requant,
                weights,
            } => clif::depthwise_q(cx, params, *dtype, (q, requant), *weights),
            Kernel::TransposeConvF32 { params, act } => clif::transpose_conv_f32(cx, params, *act),
            Kernel::TransposeConvQ {
                dtype,
                params,
                q,
                requant,
            } => clif::transpose_conv_q(cx, params, *dtype, (q, requant)),
        }
    }
}

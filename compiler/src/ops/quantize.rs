//! QUANTIZE, DEQUANTIZE and CAST (TFLite `kernels/quantize.cc`, `kernels/dequantize.cc`,
//! `kernels/cast.cc`, reference kernels).
//!
//! - QUANTIZE float → `int8`/`uint8` (per-tensor): `round(x / S)` in float, plus `Z`, clamped.
//!   Quantized → quantized (`int8`/`uint8` either way): `Requantize` with
//!   `QuantizeMultiplier(S_in / S_out)` in double.
//! - DEQUANTIZE `int8`/`uint8`/`int16` (per-tensor, in double), `int8`/`uint8` per-axis (in
//!   float), float16 → float32.
//! - CAST between f32, i32, i64, i16, i8, u8 and bool (no quantization involved): integers
//!   narrow by wrapping, floats convert to integers by truncation saturating at the type's
//!   limits with NaN going to the maximum (what LiteRT 2.3.0 does; see
//!   `mvcc_kernels::kernels::quantize::CastElem`), anything converts to bool as `!= 0`.
//!
//! QUANTIZE's float → integer conversion is C++'s `static_cast<int32_t>(float)` as x86-64
//! executes it (out-of-range and NaN give `INT32_MIN` before the zero point is added), which
//! LiteRT's reference kernel reproduces too.

use mvcc_kernels::kernels::common::Quantized;
use mvcc_kernels::kernels::quantize::{
    self as k, AffineQuantizeParams, CastElem, DequantizeParams, PerChannelDequantizeParams,
    RequantizeParams,
};

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{DType, OutTypeAttrs, Shape, Tensor};
use crate::lower::{LowerCx, Step};
use crate::quant::quantize_multiplier;
use crate::rust::lit::ToLit;
use crate::rust::step::{rust_type, StepCx};

/// Cranelift code generation.
#[cfg(feature = "cranelift")]
#[path = "quantize_clif.rs"]
mod clif;

/// QUANTIZE: float → `int8`/`uint8`, or `int8`/`uint8` → `int8`/`uint8`.
pub fn infer_quantize(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    cx.arity(1, 1, 1)?;
    let input = cx.expect_dtype(0, &[DType::F32, DType::I8, DType::U8])?;
    let out = cx.output(0)?;
    if !matches!(out.dtype, DType::I8 | DType::U8) {
        return Err(cx.unsupported(format!(
            "input type {} with output type {}",
            input.dtype, out.dtype
        )));
    }
    if out.quant.as_ref().is_some_and(|q| q.is_per_axis()) {
        return Err(cx.unsupported("per-axis quantized output"));
    }
    cx.per_tensor_quant(out)?;
    if input.dtype != DType::F32 {
        cx.per_tensor_quant(input)?;
    }
    Ok(vec![input.shape.clone()])
}

/// Parameters of QUANTIZE float → quantized.
pub fn affine_quantize_params(cx: &InferCx<'_>) -> Result<AffineQuantizeParams> {
    let (scale, zero_point) = cx.per_tensor_quant(cx.output(0)?)?;
    Ok(AffineQuantizeParams { scale, zero_point })
}

/// Parameters of QUANTIZE quantized → quantized.
pub fn requantize_params(cx: &InferCx<'_>) -> Result<RequantizeParams> {
    let (in_scale, in_zp) = cx.per_tensor_quant(cx.input(0)?)?;
    let (out_scale, out_zp) = cx.per_tensor_quant(cx.output(0)?)?;
    let m = quantize_multiplier(f64::from(in_scale) / f64::from(out_scale));
    Ok(RequantizeParams {
        multiplier: m.multiplier,
        shift: m.shift,
        input_zero_point: in_zp,
        output_zero_point: out_zp,
    })
}

/// DEQUANTIZE: `int8`/`uint8`/`int16`/float16 → float32.
pub fn infer_dequantize(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    cx.arity(1, 1, 1)?;
    let input = cx.expect_dtype(0, &[DType::I8, DType::U8, DType::I16, DType::F16])?;
    let out = cx.output(0)?;
    if out.dtype != DType::F32 {
        return Err(cx.unsupported(format!("output type {}", out.dtype)));
    }
    if input.dtype != DType::F16 {
        match input.quant.as_ref() {
            Some(q) if q.is_per_axis() => {
                if input.dtype == DType::I16 {
                    return Err(cx.unsupported("per-axis int16"));
                }
                per_channel_params(cx, input)?;
            }
            _ => {
                cx.per_tensor_quant(input)?;
            }
        }
    }
    Ok(vec![input.shape.clone()])
}

/// The per-axis layout and the scales and zero points of a per-axis quantized DEQUANTIZE input.
pub fn per_channel_params(
    cx: &InferCx<'_>,
    input: &Tensor,
) -> Result<(PerChannelDequantizeParams, Vec<f32>, Vec<i32>)> {
    let q = input
        .quant
        .as_ref()
        .ok_or_else(|| cx.err(format!("tensor \"{}\" needs quantization", input.name)))?;
    let axis = q.axis;
    let Some(&channels) = input.shape.get(axis) else {
        return Err(cx.err(format!("quantized dimension {axis} out of range")));
    };
    let (scales, zps) = cx.channel_quant(input, channels)?;
    let zps = zps
        .iter()
        .map(|&z| i32::try_from(z).map_err(|_| cx.err("zero point out of range")))
        .collect::<Result<Vec<i32>>>()?;
    let outer = input.shape[..axis].iter().product();
    let inner = input.shape[axis + 1..].iter().product();
    Ok((
        PerChannelDequantizeParams {
            outer,
            channels,
            inner,
        },
        scales,
        zps,
    ))
}

/// Parameters of a per-tensor DEQUANTIZE.
pub fn dequantize_params(cx: &InferCx<'_>) -> Result<DequantizeParams> {
    let (scale, zero_point) = cx.per_tensor_quant(cx.input(0)?)?;
    Ok(DequantizeParams { scale, zero_point })
}

const CAST_TYPES: [DType; 7] = [
    DType::F32,
    DType::I32,
    DType::I64,
    DType::I16,
    DType::I8,
    DType::U8,
    DType::Bool,
];

/// CAST between f32, i32, i64, i16, i8, u8 and bool; the output type is the output tensor's.
pub fn infer_cast(cx: &InferCx<'_>, a: &OutTypeAttrs) -> Result<Vec<Shape>> {
    cx.arity(1, 1, 1)?;
    let input = cx.expect_dtype(0, &CAST_TYPES)?;
    let out = cx.output(0)?;
    if !CAST_TYPES.contains(&out.dtype) {
        return Err(cx.unsupported(format!("output type {}", out.dtype)));
    }
    let _ = a;
    Ok(vec![input.shape.clone()])
}

/// The kernel of a QUANTIZE and its parameters (what `quantize.cc`'s `Prepare` computes).
pub fn quantize_kernel(cx: &InferCx<'_>) -> Result<Kernel> {
    let (i, o) = (cx.input(0)?.dtype, cx.output(0)?.dtype);
    Ok(match (i, o) {
        (DType::F32, DType::I8) => Kernel::QuantizeF32ToI8(affine_quantize_params(cx)?),
        (DType::F32, DType::U8) => Kernel::QuantizeF32ToU8(affine_quantize_params(cx)?),
        (DType::I8, DType::I8) => Kernel::RequantizeI8ToI8(requantize_params(cx)?),
        (DType::I8, DType::U8) => Kernel::RequantizeI8ToU8(requantize_params(cx)?),
        (DType::U8, DType::I8) => Kernel::RequantizeU8ToI8(requantize_params(cx)?),
        (DType::U8, DType::U8) => Kernel::RequantizeU8ToU8(requantize_params(cx)?),
        (i, o) => return Err(cx.unsupported(format!("input type {i} with output type {o}"))),
    })
}

/// The kernel of a DEQUANTIZE and its parameters.
pub fn dequantize_kernel(cx: &InferCx<'_>) -> Result<Kernel> {
    let input = cx.input(0)?;
    if input.dtype == DType::F16 {
        return Ok(Kernel::DequantizeF16);
    }
    if input.quant.as_ref().is_some_and(|q| q.is_per_axis()) {
        let (params, scales, zero_points) = per_channel_params(cx, input)?;
        let pc = PerChannel {
            params,
            scales,
            zero_points,
        };
        return Ok(match input.dtype {
            DType::I8 => Kernel::DequantizePerChannelI8(pc),
            DType::U8 => Kernel::DequantizePerChannelU8(pc),
            t => return Err(cx.unsupported(format!("per-axis {t}"))),
        });
    }
    let p = dequantize_params(cx)?;
    Ok(match input.dtype {
        DType::I8 => Kernel::DequantizeI8(p),
        DType::U8 => Kernel::DequantizeU8(p),
        DType::I16 => Kernel::DequantizeI16(p),
        t => return Err(cx.unsupported(format!("input type {t}"))),
    })
}

/// The kernel of a CAST.
pub fn cast_kernel(cx: &InferCx<'_>) -> Result<Kernel> {
    let (from, to) = (cx.input(0)?.dtype, cx.output(0)?.dtype);
    if !CAST_TYPES.contains(&from) || !CAST_TYPES.contains(&to) {
        return Err(cx.unsupported(format!("input type {from} with output type {to}")));
    }
    Ok(Kernel::Cast { from, to })
}

/// Runs `kernel` on the operands of an evaluation context.
fn eval_kernel(cx: &mut EvalCx<'_>, kernel: &Kernel) -> Result<()> {
    let inputs = cx.inputs.clone();
    cx.run_step(inputs, 0, |io| kernel.exec(io))
}

/// QUANTIZE.
pub fn eval_quantize(cx: &mut EvalCx<'_>) -> Result<()> {
    let kernel = quantize_kernel(&cx.infer_cx())?;
    eval_kernel(cx, &kernel)
}

/// DEQUANTIZE.
pub fn eval_dequantize(cx: &mut EvalCx<'_>) -> Result<()> {
    let kernel = dequantize_kernel(&cx.infer_cx())?;
    eval_kernel(cx, &kernel)
}

/// CAST.
pub fn eval_cast(cx: &mut EvalCx<'_>, _a: &OutTypeAttrs) -> Result<()> {
    let kernel = cast_kernel(&cx.infer_cx())?;
    eval_kernel(cx, &kernel)
}

/// One element-wise step; the result may overwrite the operand when their elements have the
/// same size.
fn lower_elementwise(cx: &mut LowerCx<'_>, kernel: Kernel) -> Result<Vec<Step>> {
    let same_size = cx.icx.input(0)?.dtype.size() == cx.icx.output(0)?.dtype.size();
    let mut step = cx.step(crate::lower::Kernel::Quantize(kernel))?;
    if same_size {
        step.in_place = Some(0);
    }
    Ok(vec![step])
}

/// Lowers QUANTIZE to one step.
pub fn lower_quantize(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let kernel = quantize_kernel(&cx.icx)?;
    lower_elementwise(cx, kernel)
}

/// Lowers DEQUANTIZE to one step.
pub fn lower_dequantize(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let kernel = dequantize_kernel(&cx.icx)?;
    lower_elementwise(cx, kernel)
}

/// Lowers CAST to one step.
pub fn lower_cast(cx: &mut LowerCx<'_>, _a: &OutTypeAttrs) -> Result<Vec<Step>> {
    let kernel = cast_kernel(&cx.icx)?;
    lower_elementwise(cx, kernel)
}

/// Per-axis DEQUANTIZE parameters: the layout and one scale and zero point per channel.
#[derive(Clone, Debug, PartialEq)]
pub struct PerChannel {
    /// `[outer, channels, inner]` around the quantized axis.
    pub params: PerChannelDequantizeParams,
    /// One scale per channel.
    pub scales: Vec<f32>,
    /// One zero point per channel.
    pub zero_points: Vec<i32>,
}

/// The `quantize` family's kernels, each with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// float → `int8`.
    QuantizeF32ToI8(AffineQuantizeParams),
    /// float → `uint8`.
    QuantizeF32ToU8(AffineQuantizeParams),
    /// `int8` → `int8`.
    RequantizeI8ToI8(RequantizeParams),
    /// `int8` → `uint8`.
    RequantizeI8ToU8(RequantizeParams),
    /// `uint8` → `int8`.
    RequantizeU8ToI8(RequantizeParams),
    /// `uint8` → `uint8`.
    RequantizeU8ToU8(RequantizeParams),
    /// `int8` → float.
    DequantizeI8(DequantizeParams),
    /// `uint8` → float.
    DequantizeU8(DequantizeParams),
    /// `int16` → float.
    DequantizeI16(DequantizeParams),
    /// float16 → float.
    DequantizeF16,
    /// Per-axis `int8` → float.
    DequantizePerChannelI8(PerChannel),
    /// Per-axis `uint8` → float.
    DequantizePerChannelU8(PerChannel),
    /// CAST between two element types.
    Cast {
        /// Input element type.
        from: DType,
        /// Output element type.
        to: DType,
    },
}

/// Operand 0 as `S`, result 0 as `D`, checked to have the same number of elements.
fn io_pair<'a, S: bytemuck::Pod, D: bytemuck::Pod>(
    io: &'a mut StepIo<'_>,
) -> Result<(&'a [S], &'a mut [D])> {
    let x = io.input::<S>(0)?;
    if io.output::<D>(0)?.len() != x.len() {
        return Err(io.err("operand and result have different element counts"));
    }
    Ok((x, io.output::<D>(0)?))
}

fn exec_cast_from<S: CastElem + bytemuck::Pod>(io: &mut StepIo<'_>, to: DType) -> Result<()> {
    match to {
        DType::F32 => io_pair::<S, f32>(io).map(|(x, y)| k::cast(x, y)),
        DType::I32 => io_pair::<S, i32>(io).map(|(x, y)| k::cast(x, y)),
        DType::I64 => io_pair::<S, i64>(io).map(|(x, y)| k::cast(x, y)),
        DType::I16 => io_pair::<S, i16>(io).map(|(x, y)| k::cast(x, y)),
        DType::I8 => io_pair::<S, i8>(io).map(|(x, y)| k::cast(x, y)),
        DType::U8 => io_pair::<S, u8>(io).map(|(x, y)| k::cast(x, y)),
        DType::Bool => io_pair::<S, u8>(io).map(|(x, y)| k::cast_to_bool_bytes(x, y)),
        t => Err(io.err(format!("CAST to {t} is not supported"))),
    }
}

fn exec_cast_from_bool(io: &mut StepIo<'_>, to: DType) -> Result<()> {
    match to {
        DType::F32 => io_pair::<u8, f32>(io).map(|(x, y)| k::cast_from_bool_bytes(x, y)),
        DType::I32 => io_pair::<u8, i32>(io).map(|(x, y)| k::cast_from_bool_bytes(x, y)),
        DType::I64 => io_pair::<u8, i64>(io).map(|(x, y)| k::cast_from_bool_bytes(x, y)),
        DType::I16 => io_pair::<u8, i16>(io).map(|(x, y)| k::cast_from_bool_bytes(x, y)),
        DType::I8 => io_pair::<u8, i8>(io).map(|(x, y)| k::cast_from_bool_bytes(x, y)),
        DType::U8 | DType::Bool => {
            io_pair::<u8, u8>(io).map(|(x, y)| k::cast_from_bool_bytes(x, y))
        }
        t => Err(io.err(format!("CAST to {t} is not supported"))),
    }
}

fn exec_per_channel<T: Quantized + bytemuck::Pod>(
    io: &mut StepIo<'_>,
    pc: &PerChannel,
) -> Result<()> {
    let p = &pc.params;
    let n = p
        .outer
        .checked_mul(p.channels)
        .and_then(|v| v.checked_mul(p.inner));
    let (x, y) = io_pair::<T, f32>(io)?;
    if n != Some(x.len()) || pc.scales.len() != p.channels || pc.zero_points.len() != p.channels {
        return Err(io.err("operand size does not match the per-axis quantization"));
    }
    k::per_channel_dequantize(p, &pc.scales, &pc.zero_points, x, y);
    Ok(())
}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::QuantizeF32ToI8(_) => "quantize_f32_i8",
            Kernel::QuantizeF32ToU8(_) => "quantize_f32_u8",
            Kernel::RequantizeI8ToI8(_) => "requantize_i8_i8",
            Kernel::RequantizeI8ToU8(_) => "requantize_i8_u8",
            Kernel::RequantizeU8ToI8(_) => "requantize_u8_i8",
            Kernel::RequantizeU8ToU8(_) => "requantize_u8_u8",
            Kernel::DequantizeI8(_) => "dequantize_i8",
            Kernel::DequantizeU8(_) => "dequantize_u8",
            Kernel::DequantizeI16(_) => "dequantize_i16",
            Kernel::DequantizeF16 => "dequantize_f16",
            Kernel::DequantizePerChannelI8(_) => "dequantize_per_channel_i8",
            Kernel::DequantizePerChannelU8(_) => "dequantize_per_channel_u8",
            Kernel::Cast { .. } => "cast",
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand and result of different element counts; an unsupported CAST type.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::QuantizeF32ToI8(p) => {
                io_pair::<f32, i8>(io).map(|(x, y)| k::affine_quantize(p, x, y))
            }
            Kernel::QuantizeF32ToU8(p) => {
                io_pair::<f32, u8>(io).map(|(x, y)| k::affine_quantize(p, x, y))
            }
            Kernel::RequantizeI8ToI8(p) => {
                io_pair::<i8, i8>(io).map(|(x, y)| k::requantize(p, x, y))
            }
            Kernel::RequantizeI8ToU8(p) => {
                io_pair::<i8, u8>(io).map(|(x, y)| k::requantize(p, x, y))
            }
            Kernel::RequantizeU8ToI8(p) => {
                io_pair::<u8, i8>(io).map(|(x, y)| k::requantize(p, x, y))
            }
            Kernel::RequantizeU8ToU8(p) => {
                io_pair::<u8, u8>(io).map(|(x, y)| k::requantize(p, x, y))
            }
            Kernel::DequantizeI8(p) => io_pair::<i8, f32>(io).map(|(x, y)| k::dequantize(p, x, y)),
            Kernel::DequantizeU8(p) => io_pair::<u8, f32>(io).map(|(x, y)| k::dequantize(p, x, y)),
            Kernel::DequantizeI16(p) => {
                io_pair::<i16, f32>(io).map(|(x, y)| k::dequantize(p, x, y))
            }
            Kernel::DequantizeF16 => io_pair::<u16, f32>(io).map(|(x, y)| k::dequantize_f16(x, y)),
            Kernel::DequantizePerChannelI8(pc) => exec_per_channel::<i8>(io, pc),
            Kernel::DequantizePerChannelU8(pc) => exec_per_channel::<u8>(io, pc),
            Kernel::Cast { from, to } => match from {
                DType::F32 => exec_cast_from::<f32>(io, *to),
                DType::I32 => exec_cast_from::<i32>(io, *to),
                DType::I64 => exec_cast_from::<i64>(io, *to),
                DType::I16 => exec_cast_from::<i16>(io, *to),
                DType::I8 => exec_cast_from::<i8>(io, *to),
                DType::U8 => exec_cast_from::<u8>(io, *to),
                DType::Bool => exec_cast_from_bool(io, *to),
                t => Err(io.err(format!("CAST from {t} is not supported"))),
            },
        }
    }
}

impl Kernel {
    /// Writes the step's Rust code: the call [`Kernel::exec`] makes.
    ///
    /// # Errors
    /// Operand and result of different element counts; an unsupported CAST type; per-axis
    /// parameters that do not match the operand.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        match self {
            Kernel::QuantizeF32ToI8(p) => emit_with_params(cx, ("f32", "i8"), "affine_quantize", p),
            Kernel::QuantizeF32ToU8(p) => emit_with_params(cx, ("f32", "u8"), "affine_quantize", p),
            Kernel::RequantizeI8ToI8(p) => emit_with_params(cx, ("i8", "i8"), "requantize", p),
            Kernel::RequantizeI8ToU8(p) => emit_with_params(cx, ("i8", "u8"), "requantize", p),
            Kernel::RequantizeU8ToI8(p) => emit_with_params(cx, ("u8", "i8"), "requantize", p),
            Kernel::RequantizeU8ToU8(p) => emit_with_params(cx, ("u8", "u8"), "requantize", p),
            Kernel::DequantizeI8(p) => emit_with_params(cx, ("i8", "f32"), "dequantize", p),
            Kernel::DequantizeU8(p) => emit_with_params(cx, ("u8", "f32"), "dequantize", p),
            Kernel::DequantizeI16(p) => emit_with_params(cx, ("i16", "f32"), "dequantize", p),
            Kernel::DequantizeF16 => {
                let (x, y) = emit_io_pair(cx, "u16", "f32")?;
                cx.call("k::quantize::dequantize_f16", &[x, y]);
                Ok(())
            }
            Kernel::DequantizePerChannelI8(pc) => emit_per_channel(cx, "i8", pc),
            Kernel::DequantizePerChannelU8(pc) => emit_per_channel(cx, "u8", pc),
            Kernel::Cast { from, to } => {
                let f = match (from, to) {
                    (DType::F16, _) => return Err(cx.err("CAST from f16 is not supported")),
                    (_, DType::F16) => return Err(cx.err("CAST to f16 is not supported")),
                    (DType::Bool, _) => "cast_from_bool_bytes",
                    (_, DType::Bool) => "cast_to_bool_bytes",
                    _ => "cast",
                };
                let (x, y) = emit_io_pair(cx, rust_type(*from), rust_type(*to))?;
                cx.call(&format!("k::quantize::{f}"), &[x, y]);
                Ok(())
            }
        }
    }
}

/// Operand 0 as `&[src]` and result 0 as `&mut [dst]`, checked to have the same number of
/// elements (as `io_pair` does for `exec`).
fn emit_io_pair(cx: &mut StepCx<'_>, src: &str, dst: &str) -> Result<(String, String)> {
    let x = cx.input(0, src)?;
    let y = cx.output(0, dst)?;
    if x.len != y.len {
        return Err(cx.err("operand and result have different element counts"));
    }
    Ok((x.expr, y.expr))
}

/// `k::quantize::f(&PARAMS, x, y)`.
fn emit_with_params<T: ToLit>(
    cx: &mut StepCx<'_>,
    (src, dst): (&str, &str),
    f: &str,
    params: &T,
) -> Result<()> {
    let (x, y) = emit_io_pair(cx, src, dst)?;
    let p = cx.param("params", params);
    cx.call(&format!("k::quantize::{f}"), &[format!("&{p}"), x, y]);
    Ok(())
}

/// A per-axis DEQUANTIZE, checked as `exec_per_channel` does.
fn emit_per_channel(cx: &mut StepCx<'_>, src: &str, pc: &PerChannel) -> Result<()> {
    let p = &pc.params;
    let n = p
        .outer
        .checked_mul(p.channels)
        .and_then(|v| v.checked_mul(p.inner));
    let (x, y) = emit_io_pair(cx, src, "f32")?;
    let len = cx.output_len(0, "f32");
    if n != Some(len) || pc.scales.len() != p.channels || pc.zero_points.len() != p.channels {
        return Err(cx.err("operand size does not match the per-axis quantization"));
    }
    let params = cx.param("params", p);
    let scales = cx.param_array("scales", &pc.scales);
    let zero_points = cx.param_array("zero_points", &pc.zero_points);
    cx.call(
        "k::quantize::per_channel_dequantize",
        &[
            format!("&{params}"),
            format!("&{scales}"),
            format!("&{zero_points}"),
            x,
            y,
        ],
    );
    Ok(())
}

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code (see `quantize_clif.rs`).
    ///
    /// # Errors
    /// Operand and result of different element counts; an unsupported CAST type; per-axis
    /// parameters that do not match the operand.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        clif::emit(self, cx)
    }
}

#[cfg(test)]
mod tests {
    use crate::interp::Buf;
    use crate::ir::{DType, NoAttrs, Op, OutTypeAttrs, Quant};
    use crate::ops::pad::rust_testutil::emitted;
    use crate::ops::transpose::testutil::t;

    #[test]
    fn rust_back_end_per_axis_dequantize() {
        let mut x = t(DType::I8, &[2, 3]);
        x.quant = Some(Quant {
            scale: vec![0.5, 0.25, 2.0],
            zero_point: vec![1, -2, 0],
            axis: 1,
        });
        let code = emitted(
            Op::Dequantize(NoAttrs),
            vec![x],
            vec![t(DType::F32, &[2, 3])],
            &[Buf::from_slice(&[1i8, -2, 3, -128, 127, 0])],
        );
        assert!(
            code.contains("static S0_SCALES: [f32; 3] = [0.5, 0.25, 2.0];"),
            "{code}"
        );
        assert!(
            code.contains("static S0_ZERO_POINTS: [i32; 3] = [1, -2, 0];"),
            "{code}"
        );
        assert!(
            code.contains("k::quantize::per_channel_dequantize("),
            "{code}"
        );
    }

    #[test]
    fn rust_back_end_casts_pick_the_bool_kernels() {
        let cast = |from: DType, to: DType, value: Buf| {
            emitted(
                Op::Cast(OutTypeAttrs { out: to }),
                vec![t(from, &[2])],
                vec![t(to, &[2])],
                &[value],
            )
        };
        let code = cast(DType::F32, DType::Bool, Buf::from_slice(&[0f32, 2.]));
        assert!(
            code.contains("k::quantize::cast_to_bool_bytes(view::<f32>("),
            "{code}"
        );
        let code = cast(DType::Bool, DType::I64, Buf::from_slice(&[0u8, 1]));
        assert!(
            code.contains("k::quantize::cast_from_bool_bytes(view::<u8>("),
            "{code}"
        );
        assert!(code.contains("view_mut::<i64>("), "{code}");
        let code = cast(DType::I16, DType::U8, Buf::from_slice(&[-1i16, 300]));
        assert!(code.contains("k::quantize::cast(view::<i16>("), "{code}");
    }
}

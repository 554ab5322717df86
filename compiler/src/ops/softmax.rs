//! SOFTMAX and LOG_SOFTMAX over the last axis (TFLite `kernels/activations.cc`, `SoftmaxPrepare`
//! and `LogSoftmaxPrepare` for the reference kernels).
//!
//! Types: float; `int8`/`uint8` input with an output of the same type or `int16` (SOFTMAX);
//! `int8`/`uint8` (LOG_SOFTMAX, output scale 16/256 and zero point 127 or 255). The quantized
//! parameters come from `PreprocessSoftmaxScaling` / `PreprocessLogSoftmaxScalingExp` with
//! 5 integer bits for the scaled differences, all in double.

use mvcc_kernels::kernels::common::Quantized;
use mvcc_kernels::kernels::softmax::{
    self as k, LogSoftmaxF32Params, LogSoftmaxQParams, SoftmaxF32Params, SoftmaxQParams,
};

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{DType, Shape, SoftmaxAttrs};
use crate::lower::{LowerCx, Step};
use crate::quant::quantize_multiplier;
use crate::rust::step::StepCx;

/// Integer bits of the scaled input differences.
const SCALED_DIFF_INTEGER_BITS: i32 = 5;

/// `(outer, depth)`: rows and row length of the last axis.
fn rows(shape: &[usize]) -> (usize, usize) {
    let depth = shape.last().copied().unwrap_or(1);
    let total: usize = shape.iter().product();
    (total.checked_div(depth).unwrap_or(0), depth)
}

/// TFLite's `CalculateInputRadius(input_integer_bits, input_left_shift, 31)` (in double).
pub fn calculate_input_radius(input_integer_bits: i32, input_left_shift: i32) -> i32 {
    let max_input_rescaled = f64::from((1i32 << input_integer_bits) - 1)
        * (1i64 << (31 - input_integer_bits)) as f64
        / (1i64 << input_left_shift) as f64;
    max_input_rescaled.floor() as i32
}

/// TFLite's `PreprocessSoftmaxScaling(beta, input_scale, 5)`: the Q31 multiplier and left shift
/// of `min(β·S·2^26, 2^31 − 1)`, or `None` where TFLite's `QuantizeMultiplierGreaterThanOne`
/// check fails (the product is not above 1).
pub fn preprocess_softmax_scaling(beta: f64, input_scale: f64) -> Option<(i32, i32)> {
    let real = (beta * input_scale * f64::from(1u32 << (31 - SCALED_DIFF_INTEGER_BITS)))
        .min(f64::from(i32::MAX));
    if real.is_nan() || real <= 1.0 {
        return None;
    }
    let m = quantize_multiplier(real);
    (m.shift >= 0 && m.shift <= 31).then_some((m.multiplier, m.shift))
}

/// Quantized SOFTMAX parameters for `beta` and the input scale.
pub fn softmax_q_params(
    outer: usize,
    depth: usize,
    beta: f32,
    input_scale: f32,
) -> Option<SoftmaxQParams> {
    let (input_multiplier, input_left_shift) =
        preprocess_softmax_scaling(f64::from(beta), f64::from(input_scale))?;
    Some(SoftmaxQParams {
        outer,
        depth,
        input_multiplier,
        input_left_shift,
        diff_min: -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, input_left_shift),
    })
}

/// Quantized LOG_SOFTMAX parameters (`PreprocessLogSoftmaxScalingExp` with β = 1).
pub fn log_softmax_q_params(
    outer: usize,
    depth: usize,
    input_scale: f32,
) -> Option<LogSoftmaxQParams> {
    let (input_multiplier, input_left_shift) =
        preprocess_softmax_scaling(1.0, f64::from(input_scale))?;
    // (1 << (31 − shift)) / multiplier must be in (0, 1) (QuantizeMultiplierSmallerThanOneExp).
    if !(1..=31).contains(&input_left_shift) {
        return None;
    }
    let reverse = f64::from(1u32 << (31 - input_left_shift)) / f64::from(input_multiplier);
    if !(reverse > 0.0 && reverse < 1.0) {
        return None;
    }
    let r = quantize_multiplier(reverse);
    if r.shift > 0 {
        return None;
    }
    Some(LogSoftmaxQParams {
        outer,
        depth,
        input_multiplier,
        input_left_shift,
        reverse_scaling_divisor: r.multiplier,
        reverse_scaling_right_shift: -r.shift,
        diff_min: -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, input_left_shift),
    })
}

/// SOFTMAX: float → float; `int8` → `int8`/`int16`; `uint8` → `uint8`/`int16`.
pub fn infer_softmax(cx: &InferCx<'_>, a: &SoftmaxAttrs) -> Result<Vec<Shape>> {
    cx.arity(1, 1, 1)?;
    let input = cx.expect_dtype(0, &[DType::F32, DType::I8, DType::U8])?;
    let out = cx.output(0)?;
    let ok = match input.dtype {
        DType::F32 => out.dtype == DType::F32,
        _ => out.dtype == input.dtype || out.dtype == DType::I16,
    };
    if !ok {
        return Err(cx.unsupported(format!(
            "input type {} with output type {}",
            input.dtype, out.dtype
        )));
    }
    if input.shape.is_empty() {
        return Err(cx.err("the input needs at least one dimension"));
    }
    if input.dtype != DType::F32 {
        softmax_params_checked(cx, a)?;
    }
    Ok(vec![input.shape.clone()])
}

fn softmax_params_checked(cx: &InferCx<'_>, a: &SoftmaxAttrs) -> Result<SoftmaxQParams> {
    let input = cx.input(0)?;
    let out = cx.output(0)?;
    let (in_scale, _) = cx.per_tensor_quant(input)?;
    let (out_scale, out_zp) = cx.per_tensor_quant(out)?;
    if input.dtype == DType::I8 && out.dtype == DType::I8 {
        // SoftmaxPrepare: zero point −128 and scale within 0.1% of 1/256.
        if out_zp != -128 || (out_scale - 1.0 / 256.0).abs() > 0.001 / 256.0 {
            return Err(cx.err("an int8 softmax output needs scale 1/256 and zero point -128"));
        }
    }
    let (outer, depth) = rows(&input.shape);
    softmax_q_params(outer, depth, a.beta, in_scale).ok_or_else(|| {
        cx.unsupported(format!(
            "beta·input_scale·2^26 = {} is not above 1 (TFLite rejects it)",
            f64::from(a.beta) * f64::from(in_scale) * 67_108_864.0
        ))
    })
}

/// LOG_SOFTMAX: float, `int8`, `uint8` (same type out).
pub fn infer_log_softmax(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    cx.arity(1, 1, 1)?;
    let input = cx.expect_dtype(0, &[DType::F32, DType::I8, DType::U8])?;
    let out = cx.output(0)?;
    if out.dtype != input.dtype {
        return Err(cx.err(format!(
            "output type {} differs from input type {}",
            out.dtype, input.dtype
        )));
    }
    if input.shape.is_empty() {
        return Err(cx.err("the input needs at least one dimension"));
    }
    if input.dtype != DType::F32 {
        log_softmax_params_checked(cx)?;
    }
    Ok(vec![input.shape.clone()])
}

fn log_softmax_params_checked(cx: &InferCx<'_>) -> Result<LogSoftmaxQParams> {
    let input = cx.input(0)?;
    let out = cx.output(0)?;
    let (in_scale, _) = cx.per_tensor_quant(input)?;
    let (out_scale, out_zp) = cx.per_tensor_quant(out)?;
    let want_zp = if input.dtype == DType::U8 { 255 } else { 127 };
    if out_scale != 16.0 / 256.0 || out_zp != want_zp {
        return Err(cx.err(format!(
            "a quantized log_softmax output needs scale 16/256 and zero point {want_zp}"
        )));
    }
    let (outer, depth) = rows(&input.shape);
    log_softmax_q_params(outer, depth, in_scale)
        .ok_or_else(|| cx.unsupported(format!("input scale {in_scale} (TFLite rejects it)")))
}

/// The kernel of a SOFTMAX and its parameters (what `SoftmaxPrepare` computes).
pub fn softmax_kernel(cx: &InferCx<'_>, a: &SoftmaxAttrs) -> Result<Kernel> {
    let (input, out) = (cx.input(0)?, cx.output(0)?);
    let (outer, depth) = rows(&input.shape);
    if input.dtype == DType::F32 {
        return Ok(Kernel::SoftmaxF32(SoftmaxF32Params {
            outer,
            depth,
            beta: a.beta,
        }));
    }
    let p = softmax_params_checked(cx, a)?;
    Ok(match (input.dtype, out.dtype) {
        (DType::I8, DType::I8) => Kernel::SoftmaxI8(p),
        (DType::I8, DType::I16) => Kernel::SoftmaxI8ToI16(p),
        (DType::U8, DType::U8) => Kernel::SoftmaxU8(p),
        (DType::U8, DType::I16) => Kernel::SoftmaxU8ToI16(p),
        (i, o) => return Err(cx.unsupported(format!("input type {i} with output type {o}"))),
    })
}

/// The kernel of a LOG_SOFTMAX and its parameters (what `LogSoftmaxPrepare` computes).
pub fn log_softmax_kernel(cx: &InferCx<'_>) -> Result<Kernel> {
    let input = cx.input(0)?;
    let (outer, depth) = rows(&input.shape);
    Ok(match input.dtype {
        DType::F32 => Kernel::LogSoftmaxF32(LogSoftmaxF32Params { outer, depth }),
        DType::I8 => Kernel::LogSoftmaxI8(log_softmax_params_checked(cx)?),
        DType::U8 => Kernel::LogSoftmaxU8(log_softmax_params_checked(cx)?),
        t => return Err(cx.unsupported(format!("input type {t}"))),
    })
}

/// Runs `kernel` on the operands of an evaluation context.
fn eval_kernel(cx: &mut EvalCx<'_>, kernel: &Kernel) -> Result<()> {
    let inputs = cx.inputs.clone();
    cx.run_step(inputs, 0, |io| kernel.exec(io))
}

/// SOFTMAX.
pub fn eval_softmax(cx: &mut EvalCx<'_>, a: &SoftmaxAttrs) -> Result<()> {
    let kernel = softmax_kernel(&cx.infer_cx(), a)?;
    eval_kernel(cx, &kernel)
}

/// LOG_SOFTMAX.
pub fn eval_log_softmax(cx: &mut EvalCx<'_>) -> Result<()> {
    let kernel = log_softmax_kernel(&cx.infer_cx())?;
    eval_kernel(cx, &kernel)
}

/// Lowers SOFTMAX to one step.
pub fn lower_softmax(cx: &mut LowerCx<'_>, a: &SoftmaxAttrs) -> Result<Vec<Step>> {
    let kernel = softmax_kernel(&cx.icx, a)?;
    Ok(vec![cx.step(crate::lower::Kernel::Softmax(kernel))?])
}

/// Lowers LOG_SOFTMAX to one step.
pub fn lower_log_softmax(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let kernel = log_softmax_kernel(&cx.icx)?;
    Ok(vec![cx.step(crate::lower::Kernel::Softmax(kernel))?])
}

/// The `softmax` family's kernels, each with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// Float SOFTMAX.
    SoftmaxF32(SoftmaxF32Params),
    /// `int8` → `int8` SOFTMAX.
    SoftmaxI8(SoftmaxQParams),
    /// `int8` → `int16` SOFTMAX.
    SoftmaxI8ToI16(SoftmaxQParams),
    /// `uint8` → `uint8` SOFTMAX.
    SoftmaxU8(SoftmaxQParams),
    /// `uint8` → `int16` SOFTMAX.
    SoftmaxU8ToI16(SoftmaxQParams),
    /// Float LOG_SOFTMAX.
    LogSoftmaxF32(LogSoftmaxF32Params),
    /// `int8` LOG_SOFTMAX.
    LogSoftmaxI8(LogSoftmaxQParams),
    /// `uint8` LOG_SOFTMAX.
    LogSoftmaxU8(LogSoftmaxQParams),
}

/// Checks that a step's operand and result hold `outer · depth` elements.
fn check_rows(
    io: &StepIo<'_>,
    outer: usize,
    depth: usize,
    n_in: usize,
    n_out: usize,
) -> Result<()> {
    let n = outer.checked_mul(depth);
    if n != Some(n_in) || n != Some(n_out) {
        return Err(io.err(format!(
            "operand sizes {n_in} and {n_out} do not match {outer} rows of {depth}"
        )));
    }
    Ok(())
}

fn exec_q<In: Quantized + bytemuck::Pod, Out: Quantized + bytemuck::Pod>(
    io: &mut StepIo<'_>,
    p: &SoftmaxQParams,
) -> Result<()> {
    let x = io.input::<In>(0)?;
    let n_in = x.len();
    let n_out = io.output::<Out>(0)?.len();
    check_rows(io, p.outer, p.depth, n_in, n_out)?;
    k::softmax_q(p, x, io.output::<Out>(0)?);
    Ok(())
}

fn exec_log_q<T: Quantized + bytemuck::Pod>(
    io: &mut StepIo<'_>,
    p: &LogSoftmaxQParams,
) -> Result<()> {
    let x = io.input::<T>(0)?;
    let n_in = x.len();
    let n_out = io.output::<T>(0)?.len();
    check_rows(io, p.outer, p.depth, n_in, n_out)?;
    k::log_softmax_q(p, x, io.output::<T>(0)?);
    Ok(())
}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::SoftmaxF32(_) => "softmax_f32",
            Kernel::SoftmaxI8(_) => "softmax_i8",
            Kernel::SoftmaxI8ToI16(_) => "softmax_i8_i16",
            Kernel::SoftmaxU8(_) => "softmax_u8",
            Kernel::SoftmaxU8ToI16(_) => "softmax_u8_i16",
            Kernel::LogSoftmaxF32(_) => "log_softmax_f32",
            Kernel::LogSoftmaxI8(_) => "log_softmax_i8",
            Kernel::LogSoftmaxU8(_) => "log_softmax_u8",
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::SoftmaxF32(p) => {
                let x = io.input::<f32>(0)?;
                let n_out = io.output::<f32>(0)?.len();
                check_rows(io, p.outer, p.depth, x.len(), n_out)?;
                k::softmax_f32(p, x, io.output::<f32>(0)?);
                Ok(())
            }
            Kernel::SoftmaxI8(p) => exec_q::<i8, i8>(io, p),
            Kernel::SoftmaxI8ToI16(p) => exec_q::<i8, i16>(io, p),
            Kernel::SoftmaxU8(p) => exec_q::<u8, u8>(io, p),
            Kernel::SoftmaxU8ToI16(p) => exec_q::<u8, i16>(io, p),
            Kernel::LogSoftmaxF32(p) => {
                let x = io.input::<f32>(0)?;
                let n_out = io.output::<f32>(0)?.len();
                check_rows(io, p.outer, p.depth, x.len(), n_out)?;
                k::log_softmax_f32(p, x, io.output::<f32>(0)?);
                Ok(())
            }
            Kernel::LogSoftmaxI8(p) => exec_log_q::<i8>(io, p),
            Kernel::LogSoftmaxU8(p) => exec_log_q::<u8>(io, p),
        }
    }
}

impl Kernel {
    /// Writes the step's Rust code: the same kernel [`Kernel::exec`] runs, with every parameter a
    /// `static`.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        let (f, (t_in, t_out), (outer, depth)) = match self {
            Kernel::SoftmaxF32(p) => ("softmax_f32", ("f32", "f32"), (p.outer, p.depth)),
            Kernel::SoftmaxI8(p) => ("softmax_q", ("i8", "i8"), (p.outer, p.depth)),
            Kernel::SoftmaxI8ToI16(p) => ("softmax_q", ("i8", "i16"), (p.outer, p.depth)),
            Kernel::SoftmaxU8(p) => ("softmax_q", ("u8", "u8"), (p.outer, p.depth)),
            Kernel::SoftmaxU8ToI16(p) => ("softmax_q", ("u8", "i16"), (p.outer, p.depth)),
            Kernel::LogSoftmaxF32(p) => ("log_softmax_f32", ("f32", "f32"), (p.outer, p.depth)),
            Kernel::LogSoftmaxI8(p) => ("log_softmax_q", ("i8", "i8"), (p.outer, p.depth)),
            Kernel::LogSoftmaxU8(p) => ("log_softmax_q", ("u8", "u8"), (p.outer, p.depth)),
        };
        let x = cx.input(0, t_in)?;
        let y = cx.output(0, t_out)?;
        let n = outer.checked_mul(depth);
        if n != Some(x.len) || n != Some(y.len) {
            return Err(cx.err(format!(
                "operand sizes {} and {} do not match {outer} rows of {depth}",
                x.len, y.len
            )));
        }
        let p = match self {
            Kernel::SoftmaxF32(p) => cx.param("params", p),
            Kernel::SoftmaxI8(p)
            | Kernel::SoftmaxI8ToI16(p)
            | Kernel::SoftmaxU8(p)
            | Kernel::SoftmaxU8ToI16(p) => cx.param("params", p),
            Kernel::LogSoftmaxF32(p) => cx.param("params", p),
            Kernel::LogSoftmaxI8(p) | Kernel::LogSoftmaxU8(p) => cx.param("params", p),
        };
        cx.call(
            &format!("k::softmax::{f}"),
            &[format!("&{p}"), x.expr, y.expr],
        );
        Ok(())
    }
}

#[cfg(feature = "cranelift")]
#[path = "softmax_clif.rs"]
pub(crate) mod clif;

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code (`softmax_clif.rs`).
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        clif::emit(self, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_of_a_power_of_two_scale() {
        // 2^26 / 16 = 2^22: mantissa 2^30, shift 23; radius floor(31 · 2^26 / 2^23) = 248.
        let p = softmax_q_params(1, 10, 1.0, 1.0 / 16.0).unwrap();
        assert_eq!(
            (p.input_multiplier, p.input_left_shift, p.diff_min),
            (1 << 30, 23, -248)
        );
        let l = log_softmax_q_params(1, 10, 1.0 / 16.0).unwrap();
        assert_eq!(
            (l.reverse_scaling_divisor, l.reverse_scaling_right_shift),
            (1 << 30, 21)
        );
        // β·S·2^26 <= 1 is rejected as TFLite does.
        assert!(softmax_q_params(1, 10, 1.0, 1e-9).is_none());
    }
}

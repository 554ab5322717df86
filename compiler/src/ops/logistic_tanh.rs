//! LOGISTIC and TANH (TFLite `kernels/activations.cc`, `SigmoidPrepare` / `TanhPrepare` and the
//! evaluation for the reference kernels).
//!
//! Float is computed directly. For `int8` and `uint8` TFLite's reference kernels use a 256-entry
//! lookup table that `Prepare` fills with `LUTPopulate`: every input value is dequantized in
//! float, passed through the float function (`1 / (1 + exp(−x))`, `tanh`), divided by the output
//! scale (multiplied by its float inverse), rounded half away from zero, offset by the output
//! zero point and clamped. The table is built here with the host's `expf`/`tanhf` (Rust's `f32`
//! methods call the C library, as TFLite does). LOGISTIC requires an output scale of exactly
//! 1/256. `int16` is not supported.

use mvcc_kernels::kernels::logistic_tanh::{self as k, LutParams};
use mvcc_kernels::kernels::quantize::f32_to_i32_x86;

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{DType, Shape};
use crate::lower::{LowerCx, Step};
use crate::quant::qrange;
use crate::rust::step::StepCx;

/// Cranelift code generation; its float `exp` serves UNARY's EXP too.
#[cfg(feature = "cranelift")]
#[path = "logistic_tanh_clif.rs"]
pub(crate) mod clif;

/// TFLite's `LUTPopulate` for an 8-bit type: `table[input byte] = output byte`.
pub fn populate_lut(
    dtype: DType,
    input_scale: f32,
    input_zero_point: i32,
    output_scale: f32,
    output_zero_point: i32,
    transform: impl Fn(f32) -> f32,
) -> LutParams {
    let (min, max) = qrange(dtype);
    let inverse_scale = 1.0f32 / output_scale;
    let mut table = [0u8; 256];
    for val in min..=max {
        let dequantized = input_scale * (val - input_zero_point) as f32;
        let transformed = transform(dequantized);
        let rescaled = (transformed * inverse_scale).round();
        let quantized = f32_to_i32_x86(rescaled + output_zero_point as f32);
        // Two's-complement byte of the value, as `static_cast<uint8_t>(static_cast<T>(v))`.
        table[(val & 0xff) as usize] = (quantized.clamp(min, max) & 0xff) as u8;
    }
    LutParams { table }
}

/// The float logistic of TFLite's table: `1 / (1 + exp(−x))` in `f32`.
pub fn logistic(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn infer_unary(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    cx.arity(1, 1, 1)?;
    let input = cx.expect_dtype(0, &[DType::F32, DType::I8, DType::U8])?;
    let out = cx.output(0)?;
    if out.dtype != input.dtype {
        return Err(cx.err(format!(
            "output type {} differs from input type {}",
            out.dtype, input.dtype
        )));
    }
    Ok(vec![input.shape.clone()])
}

/// LOGISTIC: float, `int8`, `uint8`.
pub fn infer_logistic(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    let shapes = infer_unary(cx)?;
    if cx.input(0)?.dtype != DType::F32 {
        lut_params(cx, true)?;
    }
    Ok(shapes)
}

/// TANH: float, `int8`, `uint8`.
pub fn infer_tanh(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    let shapes = infer_unary(cx)?;
    if cx.input(0)?.dtype != DType::F32 {
        lut_params(cx, false)?;
    }
    Ok(shapes)
}

/// The lookup table of a quantized LOGISTIC (`logistic`) or TANH.
pub fn lut_params(cx: &InferCx<'_>, logistic_fn: bool) -> Result<LutParams> {
    let input = cx.input(0)?;
    let (in_scale, in_zp) = cx.per_tensor_quant(input)?;
    let (out_scale, out_zp) = cx.per_tensor_quant(cx.output(0)?)?;
    if logistic_fn {
        if out_scale != 1.0 / 256.0 {
            return Err(cx.err("a quantized logistic output needs scale 1/256"));
        }
        Ok(populate_lut(
            input.dtype,
            in_scale,
            in_zp,
            out_scale,
            out_zp,
            logistic,
        ))
    } else {
        Ok(populate_lut(
            input.dtype,
            in_scale,
            in_zp,
            out_scale,
            out_zp,
            f32::tanh,
        ))
    }
}

/// The kernel of a LOGISTIC (`logistic_fn`) or TANH and its parameters.
pub fn unary_kernel(cx: &InferCx<'_>, logistic_fn: bool) -> Result<Kernel> {
    let input = cx.input(0)?;
    Ok(match (input.dtype, logistic_fn) {
        (DType::F32, true) => Kernel::LogisticF32,
        (DType::F32, false) => Kernel::TanhF32,
        (DType::I8 | DType::U8, true) => Kernel::LogisticLut8(Box::new(lut_params(cx, true)?)),
        (DType::I8 | DType::U8, false) => Kernel::TanhLut8(Box::new(lut_params(cx, false)?)),
        (t, _) => return Err(cx.unsupported(format!("input type {t}"))),
    })
}

fn eval_unary(cx: &mut EvalCx<'_>, logistic_fn: bool) -> Result<()> {
    let kernel = unary_kernel(&cx.infer_cx(), logistic_fn)?;
    let inputs = cx.inputs.clone();
    cx.run_step(inputs, 0, |io| kernel.exec(io))
}

/// LOGISTIC.
pub fn eval_logistic(cx: &mut EvalCx<'_>) -> Result<()> {
    eval_unary(cx, true)
}

/// TANH.
pub fn eval_tanh(cx: &mut EvalCx<'_>) -> Result<()> {
    eval_unary(cx, false)
}

/// Lowers LOGISTIC to one element-wise step (in place if the planner allows).
pub fn lower_logistic(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let kernel = unary_kernel(&cx.icx, true)?;
    let mut step = cx.step(crate::lower::Kernel::LogisticTanh(kernel))?;
    step.in_place = Some(0);
    Ok(vec![step])
}

/// Lowers TANH to one element-wise step (in place if the planner allows).
pub fn lower_tanh(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let kernel = unary_kernel(&cx.icx, false)?;
    let mut step = cx.step(crate::lower::Kernel::LogisticTanh(kernel))?;
    step.in_place = Some(0);
    Ok(vec![step])
}

/// The `logistic_tanh` family's kernels, each with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// Float LOGISTIC.
    LogisticF32,
    /// Float TANH.
    TanhF32,
    /// `int8`/`uint8` LOGISTIC: a table lookup on the bytes.
    LogisticLut8(Box<LutParams>),
    /// `int8`/`uint8` TANH: a table lookup on the bytes.
    TanhLut8(Box<LutParams>),
}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::LogisticF32 => "logistic_f32",
            Kernel::TanhF32 => "tanh_f32",
            Kernel::LogisticLut8(_) => "logistic_lut8",
            Kernel::TanhLut8(_) => "tanh_lut8",
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand and result of different sizes.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::LogisticF32 | Kernel::TanhF32 => {
                let x = io.input::<f32>(0)?;
                if io.output::<f32>(0)?.len() != x.len() {
                    return Err(io.err("operand and result sizes differ"));
                }
                let y = io.output::<f32>(0)?;
                if matches!(self, Kernel::LogisticF32) {
                    k::logistic_f32(x, y);
                } else {
                    k::tanh_f32(x, y);
                }
            }
            Kernel::LogisticLut8(p) | Kernel::TanhLut8(p) => {
                let x = io.input::<u8>(0)?;
                if io.output::<u8>(0)?.len() != x.len() {
                    return Err(io.err("operand and result sizes differ"));
                }
                k::lookup_table(p, x, io.output::<u8>(0)?);
            }
        }
        Ok(())
    }
}

impl Kernel {
    /// Writes the step's Rust code: the call [`Kernel::exec`] makes.
    ///
    /// # Errors
    /// Operand and result of different sizes.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        let ty = match self {
            Kernel::LogisticF32 | Kernel::TanhF32 => "f32",
            Kernel::LogisticLut8(_) | Kernel::TanhLut8(_) => "u8",
        };
        let x = cx.input(0, ty)?;
        let y = cx.output(0, ty)?;
        if x.len != y.len {
            return Err(cx.err("operand and result sizes differ"));
        }
        match self {
            Kernel::LogisticF32 => cx.call("k::logistic_tanh::logistic_f32", &[x.expr, y.expr]),
            Kernel::TanhF32 => cx.call("k::logistic_tanh::tanh_f32", &[x.expr, y.expr]),
            Kernel::LogisticLut8(p) | Kernel::TanhLut8(p) => {
                let lut = cx.param("lut", &**p);
                cx.call(
                    "k::logistic_tanh::lookup_table",
                    &[format!("&{lut}"), x.expr, y.expr],
                );
            }
        }
        Ok(())
    }
}

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code (see `logistic_tanh_clif.rs`): float kernels as
    /// polynomials four lanes at a time, 8-bit ones a lookup in the table.
    ///
    /// # Errors
    /// Operand and result of different sizes.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        clif::emit(self, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_table_int8() {
        // Input scale 1/16, zero point 0; output 1/256, −128.
        let p = populate_lut(DType::I8, 1.0 / 16.0, 0, 1.0 / 256.0, -128, logistic);
        assert_eq!(p.table[0] as i8, 0); // logistic(0) = 0.5 → 128 − 128
        assert_eq!(p.table[127] as i8, 127); // logistic(7.9) ≈ 0.9996 → 255.9 → clamped
        assert_eq!(p.table[128] as i8, -128); // logistic(−8) ≈ 0.0003 → 0.09 → 0
    }

    #[test]
    fn tanh_table_uint8() {
        let p = populate_lut(DType::U8, 1.0 / 32.0, 128, 1.0 / 128.0, 128, f32::tanh);
        assert_eq!(p.table[128], 128);
        assert_eq!(p.table[255], 255);
        assert_eq!(p.table[0], 0);
    }
}

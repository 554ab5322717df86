//! RSQRT, SQRT, EXP: element-wise math on one operand.
//!
//! Types, as TFLite's builtin kernels take them (int16 is not supported here):
//! - RSQRT: float32, int8 (`elementwise.cc`: fixed-point inverse square root, output multiplier
//!   `1 / (√S_in · S_out)` with the square root and product in float, the division in double);
//! - SQRT: float32;
//! - EXP: float32, int8 (`exp.cc`: a lookup table filled by `LUTPopulate` with float `exp`).

use mvcc_runtime::kernels::unary::{self as k, LutParams, RsqrtQParams};

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{DType, Shape};
use crate::quant::quantize_multiplier;

/// The shared shape rule: one operand, one result of the same type and shape.
fn infer_unary(cx: &InferCx<'_>, dtypes: &[DType]) -> Result<Vec<Shape>> {
    cx.arity(1, 1, 1)?;
    let (input, out) = (cx.input(0)?, cx.output(0)?);
    if out.dtype != input.dtype {
        return Err(cx.err(format!(
            "result type {} differs from the operand's {}",
            out.dtype, input.dtype
        )));
    }
    if !dtypes.contains(&input.dtype) {
        return Err(cx.unsupported(format!("{} operand", input.dtype)));
    }
    if input.dtype.is_quantized_int() {
        cx.per_tensor_quant(input)?;
        cx.per_tensor_quant(out)?;
    }
    Ok(vec![input.shape.clone()])
}

/// RSQRT: float32 or int8.
pub fn infer_rsqrt(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    infer_unary(cx, &[DType::F32, DType::I8])
}

/// SQRT: float32 or int8.
pub fn infer_sqrt(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    infer_unary(cx, &[DType::F32, DType::I8])
}

/// EXP: float32 or int8.
pub fn infer_exp(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    infer_unary(cx, &[DType::F32, DType::I8])
}

/// Int8 RSQRT parameters (`SetRsqrtOutputMultiplier`): `1. / (sqrtf(S_in) · S_out)`.
fn rsqrt_q_params(cx: &InferCx<'_>) -> Result<RsqrtQParams> {
    let (si, zi) = cx.per_tensor_quant(cx.input(0)?)?;
    let (so, zo) = cx.per_tensor_quant(cx.output(0)?)?;
    Ok(RsqrtQParams {
        input_zero_point: zi,
        output_zero_point: zo,
        output: quantize_multiplier(1.0 / f64::from(si.sqrt() * so)),
    })
}

/// C's `static_cast<int32_t>(float)` as x86-64 executes it: truncation toward zero, and
/// `INT32_MIN` for NaN and for values outside the int32 range.
fn f32_to_i32_x86(x: f32) -> i32 {
    if (-2_147_483_648.0..2_147_483_648.0).contains(&x) {
        x as i32
    } else {
        i32::MIN
    }
}

/// TFLite's `LUTPopulate` for 8-bit types: for every stored input value, dequantize (float),
/// transform, divide by the output scale (as a multiplication by its float inverse), round half
/// away from zero, add the zero point, clamp. A float-to-int conversion that overflows gives
/// `INT32_MIN` (x86's result), hence the type's minimum.
pub fn lut_populate_i8(
    input_scale: f32,
    input_zero_point: i32,
    output_scale: f32,
    output_zero_point: i32,
    transform: impl Fn(f32) -> f32,
) -> LutParams<i8> {
    let inverse_scale = 1.0f32 / output_scale;
    let mut table = [0i8; 256];
    for val in i32::from(i8::MIN)..=i32::from(i8::MAX) {
        let dequantized = input_scale * (val - input_zero_point) as f32;
        let transformed = transform(dequantized);
        let rescaled = (transformed * inverse_scale).round();
        let sum = rescaled + output_zero_point as f32;
        let quantized = f32_to_i32_x86(sum);
        table[(val & 0xff) as usize] =
            quantized.clamp(i32::from(i8::MIN), i32::from(i8::MAX)) as i8;
    }
    LutParams { table }
}

/// Int8 EXP parameters: the lookup table (`exp.cc` Prepare).
fn exp_q_params(cx: &InferCx<'_>) -> Result<LutParams<i8>> {
    let (si, zi) = cx.per_tensor_quant(cx.input(0)?)?;
    let (so, zo) = cx.per_tensor_quant(cx.output(0)?)?;
    Ok(lut_populate_i8(si, zi, so, zo, f32::exp))
}

/// Int8 SQRT as a lookup table: `(int)(sqrtf(S_in · (q − Z_in)) / S_out) + Z_out`, clamped.
/// Entries for negative inputs are never used (evaluation rejects them, as TFLite does).
fn sqrt_q_params(cx: &InferCx<'_>) -> Result<LutParams<i8>> {
    let (si, zi) = cx.per_tensor_quant(cx.input(0)?)?;
    let (so, zo) = cx.per_tensor_quant(cx.output(0)?)?;
    let mut table = [0i8; 256];
    for q in i32::from(i8::MIN)..=i32::from(i8::MAX) {
        let dequantized = si * (q - zi) as f32;
        let scaled = dequantized.max(0.0).sqrt() / so;
        let v = f32_to_i32_x86(scaled).wrapping_add(zo);
        table[(q & 0xff) as usize] = v.clamp(i32::from(i8::MIN), i32::from(i8::MAX)) as i8;
    }
    Ok(LutParams { table })
}

/// Runs `f` on operand 0 and result 0 as `T`.
fn run<T: bytemuck::Pod>(cx: &mut EvalCx<'_>, f: impl FnOnce(&[T], &mut [T])) -> Result<()> {
    let x = cx.input::<T>(0)?;
    let out = cx.output::<T>(0)?;
    if out.len() == x.len() {
        f(x, out);
        return Ok(());
    }
    Err(cx.err("operand and result sizes differ"))
}

/// RSQRT with the reference kernels. Int8 inputs below the zero point are an error, as in TFLite.
pub fn eval_rsqrt(cx: &mut EvalCx<'_>) -> Result<()> {
    let icx = cx.infer_cx();
    match icx.input(0)?.dtype {
        DType::F32 => run::<f32>(cx, k::rsqrt_f32),
        DType::I8 => {
            let p = rsqrt_q_params(&icx)?;
            if cx
                .input::<i8>(0)?
                .iter()
                .any(|&v| i32::from(v) < p.input_zero_point)
            {
                return Err(cx.err("RSQRT of a negative value (TFLite rejects it)"));
            }
            run::<i8>(cx, |x, o| k::rsqrt_q(&p, x, o))
        }
        t => Err(icx.unsupported(format!("{t} operand"))),
    }
}

/// SQRT with the reference kernel.
pub fn eval_sqrt(cx: &mut EvalCx<'_>) -> Result<()> {
    let icx = cx.infer_cx();
    match icx.input(0)?.dtype {
        DType::F32 => run::<f32>(cx, k::sqrt_f32),
        DType::I8 => {
            let p = sqrt_q_params(&icx)?;
            let (_, zi) = icx.per_tensor_quant(icx.input(0)?)?;
            if cx.input::<i8>(0)?.iter().any(|&v| i32::from(v) < zi) {
                return Err(cx.err("SQRT of a negative value (TFLite rejects it)"));
            }
            run::<i8>(cx, |x, o| k::lookup_table(&p, x, o))
        }
        t => Err(icx.unsupported(format!("{t} operand"))),
    }
}

/// EXP with the reference kernels.
pub fn eval_exp(cx: &mut EvalCx<'_>) -> Result<()> {
    let icx = cx.infer_cx();
    match icx.input(0)?.dtype {
        DType::F32 => run::<f32>(cx, k::exp_f32),
        DType::I8 => {
            let p = exp_q_params(&icx)?;
            run::<i8>(cx, |x, o| k::lookup_table(&p, x, o))
        }
        t => Err(icx.unsupported(format!("{t} operand"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lut_of_identity_is_identity() {
        let lut = lut_populate_i8(0.5, 3, 0.5, 3, |x| x);
        for v in -128i32..=127 {
            assert_eq!(i32::from(lut.table[(v & 0xff) as usize]), v);
        }
        // Overflowing results saturate at the minimum, as TFLite's float-to-int conversion does.
        let lut = lut_populate_i8(1.0, 0, 1e-30, 0, f32::exp);
        assert_eq!(lut.table[127], i8::MIN);
    }
}

/// Lowers Rsqrt (transitional: evaluated from the graph).
pub fn lower_rsqrt(cx: &mut crate::lower::LowerCx<'_>) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}

/// Lowers Sqrt (transitional: evaluated from the graph).
pub fn lower_sqrt(cx: &mut crate::lower::LowerCx<'_>) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}

/// Lowers Exp (transitional: evaluated from the graph).
pub fn lower_exp(cx: &mut crate::lower::LowerCx<'_>) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}


/// The `unary` family's kernels, each with its parameters (filled in as the family is lowered).
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

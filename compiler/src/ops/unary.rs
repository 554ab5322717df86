//! RSQRT, SQRT, EXP: element-wise math on one operand.
//!
//! Types, as TFLite's builtin kernels take them (int16 is not supported here):
//! - RSQRT: float32, int8 (`elementwise.cc`: fixed-point inverse square root, output multiplier
//!   `1 / (√S_in · S_out)` with the square root and product in float, the division in double);
//! - SQRT: float32;
//! - EXP: float32, int8 (`exp.cc`: a lookup table filled by `LUTPopulate` with float `exp`).

use mvcc_kernels::kernels::unary::{self as k, LutParams, RsqrtQParams};

use super::{EvalCx, InferCx, Lowered};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{DType, Shape};
use crate::lower::{LowerCx, Step};
use crate::quant::quantize_multiplier;
use crate::rust::step::StepCx;

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

/// The op's kernel with parameters computed once; the result may overwrite the operand.
fn plan(cx: &InferCx<'_>, op: UnaryOp) -> Result<Lowered<Kernel>> {
    let dtype = cx.input(0)?.dtype;
    let kernel = match (op, dtype) {
        (UnaryOp::Rsqrt, DType::F32) => Kernel::RsqrtF32,
        (UnaryOp::Sqrt, DType::F32) => Kernel::SqrtF32,
        (UnaryOp::Exp, DType::F32) => Kernel::ExpF32,
        (UnaryOp::Rsqrt, DType::I8) => Kernel::RsqrtI8(rsqrt_q_params(cx)?),
        (UnaryOp::Sqrt, DType::I8) => Kernel::SqrtI8 {
            lut: sqrt_q_params(cx)?,
            input_zero_point: cx.per_tensor_quant(cx.input(0)?)?.1,
        },
        (UnaryOp::Exp, DType::I8) => Kernel::ExpI8(exp_q_params(cx)?),
        (_, t) => return Err(cx.unsupported(format!("{t} operand"))),
    };
    let mut l = Lowered::new(kernel);
    l.in_place = Some(0);
    Ok(l)
}

/// The ops of this family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UnaryOp {
    Rsqrt,
    Sqrt,
    Exp,
}

/// RSQRT's kernel.
///
/// # Errors
/// Unsupported types; invalid quantization.
pub fn plan_rsqrt(cx: &InferCx<'_>) -> Result<Lowered<Kernel>> {
    plan(cx, UnaryOp::Rsqrt)
}

/// SQRT's kernel.
///
/// # Errors
/// As [`plan_rsqrt`].
pub fn plan_sqrt(cx: &InferCx<'_>) -> Result<Lowered<Kernel>> {
    plan(cx, UnaryOp::Sqrt)
}

/// EXP's kernel.
///
/// # Errors
/// As [`plan_rsqrt`].
pub fn plan_exp(cx: &InferCx<'_>) -> Result<Lowered<Kernel>> {
    plan(cx, UnaryOp::Exp)
}

/// RSQRT with the reference kernels (the lowered kernel on the op's values). Int8 inputs below
/// the zero point are an error, as in TFLite.
pub fn eval_rsqrt(cx: &mut EvalCx<'_>) -> Result<()> {
    plan_rsqrt(&cx.infer_cx())?.eval(cx, Kernel::exec)
}

/// SQRT with the reference kernel.
pub fn eval_sqrt(cx: &mut EvalCx<'_>) -> Result<()> {
    plan_sqrt(&cx.infer_cx())?.eval(cx, Kernel::exec)
}

/// EXP with the reference kernels.
pub fn eval_exp(cx: &mut EvalCx<'_>) -> Result<()> {
    plan_exp(&cx.infer_cx())?.eval(cx, Kernel::exec)
}

/// Lowers RSQRT to one step.
///
/// # Errors
/// As [`plan_rsqrt`].
pub fn lower_rsqrt(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let l = plan_rsqrt(&cx.icx)?;
    Ok(vec![l.into_step(cx, crate::lower::Kernel::Unary)?])
}

/// Lowers SQRT to one step.
///
/// # Errors
/// As [`plan_rsqrt`].
pub fn lower_sqrt(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let l = plan_sqrt(&cx.icx)?;
    Ok(vec![l.into_step(cx, crate::lower::Kernel::Unary)?])
}

/// Lowers EXP to one step.
///
/// # Errors
/// As [`plan_rsqrt`].
pub fn lower_exp(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let l = plan_exp(&cx.icx)?;
    Ok(vec![l.into_step(cx, crate::lower::Kernel::Unary)?])
}

/// The `unary` family's kernels: one operand, one result of the same type and shape.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// Float RSQRT.
    RsqrtF32,
    /// Float SQRT.
    SqrtF32,
    /// Float EXP.
    ExpF32,
    /// Int8 RSQRT (fixed-point inverse square root); fails on inputs below the zero point.
    RsqrtI8(RsqrtQParams),
    /// Int8 SQRT through a lookup table; fails on inputs below the zero point.
    SqrtI8 {
        /// The table.
        lut: LutParams<i8>,
        /// The input's zero point (smaller stored values are negative).
        input_zero_point: i32,
    },
    /// Int8 EXP through a lookup table.
    ExpI8(LutParams<i8>),
}

/// Runs `f` on operand 0 and result 0 as `T`.
fn run<T: bytemuck::Pod>(io: &mut StepIo<'_>, f: impl FnOnce(&[T], &mut [T])) -> Result<()> {
    let x = io.input::<T>(0)?;
    if io.output::<T>(0)?.len() != x.len() {
        return Err(io.err("operand and result sizes differ"));
    }
    f(x, io.output::<T>(0)?);
    Ok(())
}

/// An error when an int8 operand holds a value below `zero_point` (a negative real value).
fn check_nonnegative(io: &StepIo<'_>, zero_point: i32, op: &str) -> Result<()> {
    k::check_nonnegative(zero_point, io.input::<i8>(0)?)
        .map_err(|_| io.err(format!("{op} of a negative value (TFLite rejects it)")))
}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::RsqrtF32 => "rsqrt_f32",
            Kernel::SqrtF32 => "sqrt_f32",
            Kernel::ExpF32 => "exp_f32",
            Kernel::RsqrtI8(_) => "rsqrt_i8",
            Kernel::SqrtI8 { .. } => "sqrt_i8",
            Kernel::ExpI8(_) => "exp_i8",
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match; int8 RSQRT or SQRT of a negative value.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::RsqrtF32 => run::<f32>(io, k::rsqrt_f32),
            Kernel::SqrtF32 => run::<f32>(io, k::sqrt_f32),
            Kernel::ExpF32 => run::<f32>(io, k::exp_f32),
            Kernel::RsqrtI8(p) => {
                check_nonnegative(io, p.input_zero_point, "RSQRT")?;
                run::<i8>(io, |x, o| k::rsqrt_q(p, x, o))
            }
            Kernel::SqrtI8 {
                lut,
                input_zero_point,
            } => {
                check_nonnegative(io, *input_zero_point, "SQRT")?;
                run::<i8>(io, |x, o| k::lookup_table(lut, x, o))
            }
            Kernel::ExpI8(lut) => run::<i8>(io, |x, o| k::lookup_table(lut, x, o)),
        }
    }
}

impl Kernel {
    /// Writes the step's Rust code: the same kernel [`Kernel::exec`] runs, with every parameter a
    /// `static`; int8 RSQRT and SQRT first check the data as `exec` does (a run-time error).
    ///
    /// # Errors
    /// Operand sizes that differ.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        let ty = match self {
            Kernel::RsqrtF32 | Kernel::SqrtF32 | Kernel::ExpF32 => "f32",
            Kernel::RsqrtI8(_) | Kernel::SqrtI8 { .. } | Kernel::ExpI8(_) => "i8",
        };
        let x = cx.input(0, ty)?;
        let y = cx.output(0, ty)?;
        if x.len != y.len {
            return Err(cx.err("operand and result sizes differ"));
        }
        let check = |cx: &mut StepCx<'_>, zero_point: i32, op: &str| {
            cx.call_fallible(
                "k::unary::check_nonnegative",
                &[zero_point.to_string(), x.expr.clone()],
                &format!("{op} of a negative value (TFLite rejects it)"),
            );
        };
        match self {
            Kernel::RsqrtF32 => cx.call("k::unary::rsqrt_f32", &[x.expr, y.expr]),
            Kernel::SqrtF32 => cx.call("k::unary::sqrt_f32", &[x.expr, y.expr]),
            Kernel::ExpF32 => cx.call("k::unary::exp_f32", &[x.expr, y.expr]),
            Kernel::RsqrtI8(p) => {
                check(cx, p.input_zero_point, "RSQRT");
                let p = cx.param("params", p);
                cx.call("k::unary::rsqrt_q", &[format!("&{p}"), x.expr, y.expr]);
            }
            Kernel::SqrtI8 {
                lut,
                input_zero_point,
            } => {
                check(cx, *input_zero_point, "SQRT");
                let p = cx.param("lut", lut);
                cx.call("k::unary::lookup_table", &[format!("&{p}"), x.expr, y.expr]);
            }
            Kernel::ExpI8(lut) => {
                let p = cx.param("lut", lut);
                cx.call("k::unary::lookup_table", &[format!("&{p}"), x.expr, y.expr]);
            }
        }
        Ok(())
    }
}

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code: float kernels four lanes at a time (`sqrt` is an
    /// instruction, `exp` the polynomial of `logistic_tanh_clif.rs`); int8 kernels a lookup in a
    /// 256-entry table (RSQRT's holds the reference kernel's results), RSQRT and SQRT failing the
    /// step on an input below the zero point.
    ///
    /// # Errors
    /// Operand sizes that differ.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        use super::binary::clif::{fconst, lut8, map_f32, table_of};
        use cranelift_codegen::ir::InstBuilder;

        let bytes = |lut: &LutParams<i8>| {
            table_of::<u8, u8>(|x, o| {
                for (o, &x) in o.iter_mut().zip(x) {
                    *o = lut.table[usize::from(x)] as u8;
                }
            })
        };
        match self {
            Kernel::RsqrtF32 => map_f32(cx, |cx, x| {
                let one = fconst(cx, x, 1.0);
                let r = cx.b.ins().sqrt(x);
                cx.b.ins().fdiv(one, r)
            }),
            Kernel::SqrtF32 => map_f32(cx, |cx, x| cx.b.ins().sqrt(x)),
            Kernel::ExpF32 => map_f32(cx, super::logistic_tanh::clif::exp),
            Kernel::RsqrtI8(p) => {
                let t = table_of::<i8, i8>(|x, o| k::rsqrt_q(p, x, o));
                lut8(cx, &t, Some(p.input_zero_point))
            }
            Kernel::SqrtI8 {
                lut,
                input_zero_point,
            } => lut8(cx, &bytes(lut), Some(*input_zero_point)),
            Kernel::ExpI8(lut) => lut8(cx, &bytes(lut), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{NoAttrs, Op};
    use crate::ops::transpose::testutil::{emit_rust, tq};

    #[test]
    fn emitted_int8_sqrt_checks_its_data_first() {
        let code = emit_rust(
            Op::Sqrt(NoAttrs),
            vec![tq(DType::I8, &[4], 0.5, -3)],
            vec![tq(DType::I8, &[4], 0.25, 1)],
        )
        .unwrap();
        let check = code
            .find("k::unary::check_nonnegative(-3, view::<i8>(i[0], 0, 4))")
            .unwrap_or_else(|| panic!("{code}"));
        let table = code.find("k::unary::lookup_table(&S0_LUT").unwrap();
        assert!(check < table);
        assert!(code.contains("message: \"SQRT of a negative value (TFLite rejects it)\""));
    }

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

#[cfg(all(test, feature = "cranelift"))]
mod clif_tests {
    use crate::interp::Buf;
    use crate::ir::{DType, NoAttrs, Op};
    use crate::ops::binary::clif::testutil::{both, exact, Rng};
    use crate::ops::transpose::testutil::{t, tq};

    #[test]
    fn float_roots_are_exact() {
        let mut rng = Rng(31);
        let mut x = rng.floats(1000, 0.0, 100.0);
        x.extend([0.0, -0.0, -1.0, f32::INFINITY, f32::NAN, 1e-40]);
        let n = x.len();
        for op in [Op::Sqrt(NoAttrs), Op::Rsqrt(NoAttrs)] {
            exact(
                op,
                vec![t(DType::F32, &[n])],
                vec![t(DType::F32, &[n])],
                &[Buf::from_slice(&x)],
            );
        }
    }

    #[test]
    fn int8_tables_and_the_negative_check() {
        let x: Vec<u8> = (0..=255).map(|v: u8| v.wrapping_add(128)).collect();
        for op in [Op::Sqrt(NoAttrs), Op::Rsqrt(NoAttrs), Op::Exp(NoAttrs)] {
            // Zero point −128: every value is non-negative.
            exact(
                op.clone(),
                vec![tq(DType::I8, &[256], 0.05, -128)],
                vec![tq(DType::I8, &[256], 0.02, -100)],
                &[Buf::from_bytes(&x)],
            );
            let (want, got) = both(
                op.clone(),
                vec![tq(DType::I8, &[256], 0.05, -3)],
                vec![tq(DType::I8, &[256], 0.02, -100)],
                &[Buf::from_bytes(&x)],
            );
            if op == Op::Exp(NoAttrs) {
                assert_eq!(want.unwrap(), got.unwrap());
            } else {
                assert!(want.is_err() && got.is_err(), "{op:?}");
            }
        }
    }
}

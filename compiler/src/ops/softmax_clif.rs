//! Cranelift code for the `softmax` family (SOFTMAX, LOG_SOFTMAX), and the fixed-point and
//! transcendental helpers other families share (`srdhm_var`, `rdbpot_wide_var`, `exp_f32`...).
//!
//! Float rows: the maximum (`f32x4`), `exp` by a polynomial after range reduction (Cephes'
//! `expf`, about 1 ulp; no libm), the sum of exponentials in the reference's sequential order, then
//! one division per element. LOG_SOFTMAX takes the logarithm of the sum with Cephes' `logf`.
//!
//! Quantized rows follow TFLite's fixed-point reference bit for bit. The difference `q − max` of
//! 8-bit inputs takes at most 256 values, so `exp(β·S·(q − max))` in Q0.31 (and its Q12.19
//! rescaling) is read from tables the compiler fills by running `mvcc_kernels::gemmlowp` itself,
//! with zeros where the difference is below `diff_min`; the per-row reciprocal (`GetReciprocal`)
//! and logarithm (`log_x_for_x_greater_than_or_equal_to_1`) and the per-element rescaling are
//! generated code reproducing `mvcc_kernels::gemmlowp` operation for operation.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::Variable;
use mvcc_kernels::fixedpoint::{
    multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_greater_than_one,
};
use mvcc_kernels::gemmlowp::{exp_on_negative_values, rescale};
use mvcc_kernels::kernels::softmax::{
    LogSoftmaxF32Params, LogSoftmaxQParams, SoftmaxF32Params, SoftmaxQParams,
};

use super::Kernel;
use crate::clif::cx::{flags, KernelCx, Region};
use crate::error::Result;
use crate::ops::reduce::clif::{const_like, sel, Elem};

// ---------------------------------------------------------------------------------------------
// Fixed-point helpers on run-time `i32` values.

/// `SaturatingRoundingDoublingHighMul(a, b)` with both operands at run time (`i32`).
pub(crate) fn srdhm_var(cx: &mut KernelCx<'_, '_>, a: Value, b: Value) -> Value {
    let a64 = cx.b.ins().sextend(types::I64, a);
    let b64 = cx.b.ins().sextend(types::I64, b);
    let ab = cx.b.ins().imul(a64, b64);
    let neg = cx.b.ins().icmp_imm_s(IntCC::SignedLessThan, ab, 0);
    let pos_n = cx.b.ins().iconst(types::I64, 1 << 30);
    let neg_n = cx.b.ins().iconst(types::I64, 1 - (1 << 30));
    let nudge = cx.b.ins().select(neg, neg_n, pos_n);
    let sum = cx.b.ins().iadd(ab, nudge);
    let sign = cx.b.ins().sshr_imm_s(sum, 63);
    let bias = cx.b.ins().band_imm_s(sign, (1i64 << 31) - 1);
    let adj = cx.b.ins().iadd(sum, bias);
    let q = cx.b.ins().sshr_imm_s(adj, 31);
    let r = cx.b.ins().ireduce(types::I32, q);
    let a_min = cx.b.ins().icmp_imm_s(IntCC::Equal, a, i64::from(i32::MIN));
    let b_min = cx.b.ins().icmp_imm_s(IntCC::Equal, b, i64::from(i32::MIN));
    let both = cx.b.ins().band(a_min, b_min);
    let max = cx.i32const(i32::MAX);
    cx.b.ins().select(both, max, r)
}

/// `rounding_divide_by_pot_wide(x, e)` with a run-time exponent (`i32`; below 0 taken as 0,
/// above 62 as 62), computed in `i64`: for exponents up to 31 it equals `RoundingDivideByPOT`.
pub(crate) fn rdbpot_wide_var(cx: &mut KernelCx<'_, '_>, x: Value, e: Value) -> Value {
    let e = cx.clamp_i32(e, 0, 62);
    let e64 = cx.b.ins().uextend(types::I64, e);
    let x64 = cx.b.ins().sextend(types::I64, x);
    let one = cx.b.ins().iconst(types::I64, 1);
    let p = cx.b.ins().ishl(one, e64);
    let mask = cx.b.ins().iadd_imm_s(p, -1);
    let rem = cx.b.ins().band(x64, mask);
    let neg = cx.b.ins().icmp_imm_s(IntCC::SignedLessThan, x, 0);
    let neg = cx.b.ins().uextend(types::I64, neg);
    let half = cx.b.ins().sshr_imm_s(mask, 1);
    let thr = cx.b.ins().iadd(half, neg);
    let q = cx.b.ins().sshr(x64, e64);
    let up = cx.b.ins().icmp(IntCC::SignedGreaterThan, rem, thr);
    let up = cx.b.ins().uextend(types::I64, up);
    let r = cx.b.ins().iadd(q, up);
    cx.b.ins().ireduce(types::I32, r)
}

/// `x · 2^e` saturating, `e` a run-time `i32` in `0..=31` (larger taken as 31).
fn sat_shl_var(cx: &mut KernelCx<'_, '_>, x: Value, e: Value) -> Value {
    let e = cx.clamp_i32(e, 0, 31);
    let max = cx.i32const(i32::MAX);
    let thr = cx.b.ins().sshr(max, e);
    let nthr = cx.b.ins().ineg(thr);
    let hi = cx.b.ins().icmp(IntCC::SignedGreaterThan, x, thr);
    let lo = cx.b.ins().icmp(IntCC::SignedLessThan, x, nthr);
    let sh = cx.b.ins().ishl(x, e);
    let min = cx.i32const(i32::MIN);
    let r = cx.b.ins().select(lo, min, sh);
    cx.b.ins().select(hi, max, r)
}

/// gemmlowp's `SaturatingRoundingMultiplyByPOT(x, e)` for a run-time exponent (`i32`).
pub(crate) fn srmpot_var(cx: &mut KernelCx<'_, '_>, x: Value, e: Value) -> Value {
    let left = sat_shl_var(cx, x, e);
    let ne = cx.b.ins().ineg(e);
    let right = rdbpot_wide_var(cx, x, ne);
    let pos = cx.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, e, 0);
    cx.b.ins().select(pos, left, right)
}

/// gemmlowp's `SaturatingRoundingMultiplyByPOT(x, e)` for a constant exponent.
pub(crate) fn srmpot_const(cx: &mut KernelCx<'_, '_>, x: Value, e: i32) -> Value {
    if e > 0 {
        let ev = cx.i32const(e.min(31));
        sat_shl_var(cx, x, ev)
    } else if e >= -31 {
        cx.rdbpot(x, -e)
    } else {
        let ev = cx.i32const(-e);
        rdbpot_wide_var(cx, x, ev)
    }
}

/// gemmlowp's `RoundingHalfSum(a, b)`: `(a + b) / 2` rounded half away from zero.
pub(crate) fn rounding_half_sum(cx: &mut KernelCx<'_, '_>, a: Value, b: Value) -> Value {
    let a64 = cx.b.ins().sextend(types::I64, a);
    let b64 = cx.b.ins().sextend(types::I64, b);
    let sum = cx.b.ins().iadd(a64, b64);
    let neg = cx.b.ins().icmp_imm_s(IntCC::SignedLessThan, sum, 0);
    let one = cx.b.ins().iconst(types::I64, 1);
    let m1 = cx.b.ins().iconst(types::I64, -1);
    let sign = cx.b.ins().select(neg, m1, one);
    let t = cx.b.ins().iadd(sum, sign);
    // Truncating division by 2.
    let s = cx.b.ins().ushr_imm_s(t, 63);
    let t = cx.b.ins().iadd(t, s);
    let q = cx.b.ins().sshr_imm_s(t, 1);
    cx.b.ins().ireduce(types::I32, q)
}

/// Saturating `i32` addition (`sub`: subtraction).
pub(crate) fn sat_add(cx: &mut KernelCx<'_, '_>, a: Value, b: Value, sub: bool) -> Value {
    let a64 = cx.b.ins().sextend(types::I64, a);
    let b64 = cx.b.ins().sextend(types::I64, b);
    let s = if sub {
        cx.b.ins().isub(a64, b64)
    } else {
        cx.b.ins().iadd(a64, b64)
    };
    let lo = cx.b.ins().iconst(types::I64, i64::from(i32::MIN));
    let hi = cx.b.ins().iconst(types::I64, i64::from(i32::MAX));
    let s = cx.b.ins().smax(s, lo);
    let s = cx.b.ins().smin(s, hi);
    cx.b.ins().ireduce(types::I32, s)
}

/// gemmlowp's `one_over_one_plus_x_for_x_in_0_1` (Q0.31 in and out).
pub(crate) fn one_over_one_plus_x(cx: &mut KernelCx<'_, '_>, a: Value) -> Value {
    const CONSTANT_48_OVER_17: i32 = 1_515_870_810;
    const CONSTANT_NEG_32_OVER_17: i32 = -1_010_580_540;
    const F2_ONE: i64 = 1 << 29;
    let max = cx.i32const(i32::MAX);
    let half_denominator = rounding_half_sum(cx, a, max);
    let m = cx.srdhm(half_denominator, CONSTANT_NEG_32_OVER_17);
    let mut x = cx.b.ins().iadd_imm_s(m, i64::from(CONSTANT_48_OVER_17));
    for _ in 0..3 {
        let hdx = srdhm_var(cx, half_denominator, x);
        let neg = cx.b.ins().ineg(hdx);
        let omh = cx.b.ins().iadd_imm_s(neg, F2_ONE);
        let t = srdhm_var(cx, x, omh);
        let t = srmpot_const(cx, t, 2);
        x = cx.b.ins().iadd(x, t);
    }
    srmpot_const(cx, x, 1)
}

/// TFLite's `GetReciprocal(x, x_integer_digits)`: `(scale, num_bits_over_unit)` (`i32`s).
pub(crate) fn get_reciprocal(
    cx: &mut KernelCx<'_, '_>,
    x: Value,
    x_integer_digits: i32,
) -> (Value, Value) {
    let h = cx.b.ins().clz(x);
    let digits = cx.i32const(x_integer_digits);
    let nbou = cx.b.ins().isub(digits, h);
    // x << h; x == 0 exactly when h == 32, and then the result is 0 either way.
    let shifted = cx.b.ins().ishl(x, h);
    let ssmo = cx.b.ins().iadd_imm_s(shifted, i64::from(i32::MIN));
    (one_over_one_plus_x(cx, ssmo), nbou)
}

/// TFLite's `log_x_for_x_greater_than_or_equal_to_1_impl` (raw `i32` in, raw `i32` out).
pub(crate) fn log_x_ge_1(
    cx: &mut KernelCx<'_, '_>,
    input: Value,
    in_bits: i32,
    out_bits: i32,
) -> Value {
    const LOG_2: i32 = 1_488_522_236;
    const SQRT_SQRT_HALF: i32 = 1_805_811_301;
    const SQRT_HALF: i32 = 1_518_500_250;
    const ONE_QUARTER: i32 = 536_870_912;
    const ALPHA_N: i32 = 117_049_297;
    const ALPHA_D: i32 = 127_690_142;
    const ALPHA_I: i32 = 1_057_819_769;
    const ALPHA_F: i32 = 638_450_708;
    let accum = out_bits + 1;
    let shifted_quarter = rescale(ONE_QUARTER, 0, accum);
    let sq = cx.i32const(shifted_quarter);

    let z_a = input;
    let h1 = cx.b.ins().clz(z_a);
    let e = cx.b.ins().iadd_imm_s(h1, -1);
    let r_a_tmp = srmpot_var(cx, z_a, e);
    let t = cx.srdhm(r_a_tmp, SQRT_HALF);
    let r_a_raw = srmpot_const(cx, t, 1);
    let ib = cx.i32const(in_bits);
    let d = cx.b.ins().isub(ib, h1);
    let t = srmpot_const(cx, d, 31 - accum);
    let z_a_pow_2_adj = sat_add(cx, t, sq, false);

    let z_b = cx.srdhm(z_a, SQRT_HALF);
    let hb = cx.b.ins().clz(z_b);
    let z_b_headroom = cx.b.ins().iadd_imm_s(hb, -1);
    let r_b_raw = srmpot_var(cx, z_a, z_b_headroom);
    let d = cx.b.ins().isub(ib, z_b_headroom);
    let t = srmpot_const(cx, d, 31 - accum);
    let z_b_pow_2_adj = sat_add(cx, t, sq, true);

    let r = cx.b.ins().smin(r_a_raw, r_b_raw);
    let z_pow_2_adj = cx.b.ins().smax(z_a_pow_2_adj, z_b_pow_2_adj);

    let ssh = cx.i32const(SQRT_SQRT_HALF);
    let p = rounding_half_sum(cx, r, ssh);
    let q = cx.b.ins().iadd_imm_s(r, -i64::from(SQRT_SQRT_HALF));
    let q = cx.b.ins().iadd(q, q);

    let common_sq = srdhm_var(cx, q, q);
    let qr = srdhm_var(cx, q, r);
    let qc = srdhm_var(cx, q, common_sq);
    let qca = cx.srdhm(qc, ALPHA_N);
    let num = cx.b.ins().iadd(qr, qca);
    let dc = cx.srdhm(common_sq, ALPHA_D);
    let s = cx.b.ins().iadd_imm_s(q, i64::from(ALPHA_I));
    let s = cx.b.ins().iadd(s, dc);
    let ps = srdhm_var(cx, p, s);
    let fq = cx.srdhm(q, ALPHA_F);
    let denom_minus_one_0 = cx.b.ins().iadd(ps, fq);
    let recip_denom = one_over_one_plus_x(cx, denom_minus_one_0);

    let num_scaled = srmpot_const(cx, num, -accum);
    let a = cx.srdhm(z_pow_2_adj, LOG_2);
    let b = srdhm_var(cx, num_scaled, recip_denom);
    let sum = cx.b.ins().iadd(a, b);
    srmpot_const(cx, sum, accum - out_bits)
}

// ---------------------------------------------------------------------------------------------
// Float transcendentals (scalar `f32` or `f32x4`), no libcalls.

fn fcst(cx: &mut KernelCx<'_, '_>, like: Value, f: f32) -> Value {
    const_like(cx, like, 0, f)
}

/// `a · b + c` (fused where the target has FMA).
fn madd(cx: &mut KernelCx<'_, '_>, a: Value, b: Value, c: f32) -> Value {
    let c = fcst(cx, a, c);
    cx.mul_add(a, b, c)
}

/// The integer type with `v`'s lanes (`i32` or `i32x4`).
fn int_ty(cx: &KernelCx<'_, '_>, v: Value) -> types::Type {
    if cx.b.func.dfg.value_type(v).is_vector() {
        types::I32X4
    } else {
        types::I32
    }
}

/// An integer constant shaped like `like` (an `i32` or `i32x4`).
fn icst(cx: &mut KernelCx<'_, '_>, like: Value, i: i32) -> Value {
    const_like(cx, like, i64::from(i), 0.0)
}

/// `exp(x)` for `f32` or `f32x4`: Cody–Waite reduction by `ln 2`, Cephes' degree-6 polynomial,
/// the power of two built in the exponent bits. Below `−87.3` the result is 0; above `88.7`
/// infinity.
pub(crate) fn exp_f32(cx: &mut KernelCx<'_, '_>, x0: Value) -> Value {
    const LO: f32 = -87.336_55;
    const HI: f32 = 88.722_83;
    let lo = fcst(cx, x0, LO);
    let hi = fcst(cx, x0, HI);
    let below = cx.b.ins().fcmp(FloatCC::LessThan, x0, lo);
    let x = sel(cx, below, lo, x0);
    let above = cx.b.ins().fcmp(FloatCC::GreaterThan, x, hi);
    let x = sel(cx, above, hi, x);
    // n = round(x / ln 2) by the 1.5·2^23 trick (no `nearest`, which is a libcall without SSE4.1).
    let magic = 12_582_912.0f32;
    let l2e = fcst(cx, x, std::f32::consts::LOG2_E);
    let t = cx.b.ins().fmul(x, l2e);
    let m = fcst(cx, x, magic);
    let t = cx.b.ins().fadd(t, m);
    let nf = cx.b.ins().fsub(t, m);
    let ity = int_ty(cx, x);
    let ti = cx.b.ins().bitcast(ity, MemFlagsData::new(), t);
    let bias = icst(cx, ti, 0x4B40_0000 - 127);
    let n = cx.b.ins().isub(ti, bias);
    let c1 = fcst(cx, x, -0.693_359_4);
    let r = cx.mul_add(nf, c1, x);
    let c2 = fcst(cx, x, 2.121_944_4e-4);
    let r = cx.mul_add(nf, c2, r);
    let z = cx.b.ins().fmul(r, r);
    let c = fcst(cx, x, 1.987_569_1e-4);
    let y = madd(cx, c, r, 1.398_199_9e-3);
    let y = madd(cx, y, r, 8.333_452e-3);
    let y = madd(cx, y, r, 4.166_579_6e-2);
    let y = madd(cx, y, r, 1.666_666_5e-1);
    let y = madd(cx, y, r, 0.5);
    let y = cx.mul_add(y, z, r);
    let one = fcst(cx, x, 1.0);
    let y = cx.b.ins().fadd(y, one);
    let sh = cx.i32const(23);
    let bits = cx.b.ins().ishl(n, sh);
    let fty = cx.b.func.dfg.value_type(x);
    let scale = cx.b.ins().bitcast(fty, MemFlagsData::new(), bits);
    let res = cx.b.ins().fmul(y, scale);
    let zero = fcst(cx, x, 0.0);
    sel(cx, below, zero, res)
}

/// `ln(x)` for a positive normal scalar `f32` (Cephes' `logf`).
pub(crate) fn log_f32(cx: &mut KernelCx<'_, '_>, x: Value) -> Value {
    let bits = cx.b.ins().bitcast(types::I32, MemFlagsData::new(), x);
    let e = cx.b.ins().ushr_imm_s(bits, 23);
    let e = cx.b.ins().iadd_imm_s(e, -126);
    let mb = cx.b.ins().band_imm_s(bits, 0x007F_FFFF);
    let mb = cx.b.ins().bor_imm_s(mb, 0x3F00_0000);
    let m = cx.b.ins().bitcast(types::F32, MemFlagsData::new(), mb);
    // m in [0.5, 1): below √½ use 2m − 1 and e − 1, else m − 1.
    let sqrthf = cx.f32const(std::f32::consts::FRAC_1_SQRT_2);
    let small = cx.b.ins().fcmp(FloatCC::LessThan, m, sqrthf);
    let one = cx.f32const(1.0);
    let m2 = cx.b.ins().fadd(m, m);
    let a = cx.b.ins().fsub(m2, one);
    let b = cx.b.ins().fsub(m, one);
    let f = cx.b.ins().select(small, a, b);
    let em1 = cx.b.ins().iadd_imm_s(e, -1);
    let e = cx.b.ins().select(small, em1, e);
    let z = cx.b.ins().fmul(f, f);
    let c = cx.f32const(7.037_683_6e-2);
    let y = madd(cx, c, f, -1.151_461e-1);
    let y = madd(cx, y, f, 1.167_699_9e-1);
    let y = madd(cx, y, f, -1.242_014_1e-1);
    let y = madd(cx, y, f, 1.424_932_3e-1);
    let y = madd(cx, y, f, -1.666_805_8e-1);
    let y = madd(cx, y, f, 2.000_071_4e-1);
    let y = madd(cx, y, f, -2.499_999_4e-1);
    let y = madd(cx, y, f, 3.333_333e-1);
    let y = cx.b.ins().fmul(y, f);
    let y = cx.b.ins().fmul(y, z);
    let fe = cx.b.ins().fcvt_from_sint(types::F32, e);
    let c = cx.f32const(-2.121_944_4e-4);
    let y = cx.mul_add(fe, c, y);
    let c = cx.f32const(-0.5);
    let y = cx.mul_add(z, c, y);
    let r = cx.b.ins().fadd(f, y);
    let c = cx.f32const(0.693_359_4);
    cx.mul_add(fe, c, r)
}

// ---------------------------------------------------------------------------------------------
// Kernels.

fn check(
    cx: &KernelCx<'_, '_>,
    x: &Region,
    y: &Region,
    (outer, depth): (usize, usize),
    (si, so): (usize, usize),
) -> Result<()> {
    let n = outer.checked_mul(depth);
    if n != Some(x.len(si)) || n != Some(y.len(so)) {
        return Err(cx.err(format!(
            "operand sizes {} and {} do not match {outer} rows of {depth}",
            x.len(si),
            y.len(so)
        )));
    }
    Ok(())
}

/// A fresh variable holding `v`.
fn var(cx: &mut KernelCx<'_, '_>, v: Value) -> Variable {
    let ty = cx.b.func.dfg.value_type(v);
    let var = cx.b.declare_var(ty);
    cx.b.def_var(var, v);
    var
}

/// The largest float of a row (from `f32::MIN`; a NaN never wins), `f32x4` lanes then a
/// horizontal combine.
fn row_max_f32(cx: &mut KernelCx<'_, '_>, row: Value, depth: usize) -> Result<Value> {
    let lowest = cx.f32const(f32::MIN);
    let lv = cx.b.ins().splat(types::F32X4, lowest);
    let vm = var(cx, lv);
    cx.for_range(depth / 4, |cx, i| {
        let a = cx.b.ins().imul_imm_s(i, 16);
        let a = cx.b.ins().iadd(row, a);
        let v = cx.b.ins().load(types::F32X4, flags(), a, 0);
        let m = cx.b.use_var(vm);
        let lt = cx.b.ins().fcmp(FloatCC::LessThan, m, v);
        let r = sel(cx, lt, v, m);
        cx.b.def_var(vm, r);
        Ok(())
    })?;
    let m4 = cx.b.use_var(vm);
    let mut m = lowest;
    for l in 0..4u8 {
        let e = cx.b.ins().extractlane(m4, l);
        let lt = cx.b.ins().fcmp(FloatCC::LessThan, m, e);
        m = cx.b.ins().select(lt, e, m);
    }
    for k in (depth / 4) * 4..depth {
        let e = cx.b.ins().load(types::F32, flags(), row, (k * 4) as i32);
        let lt = cx.b.ins().fcmp(FloatCC::LessThan, m, e);
        m = cx.b.ins().select(lt, e, m);
    }
    Ok(m)
}

/// For every element of a row: `f(cx, value_vector_or_scalar, byte_offset)` in `f32x4` chunks then
/// scalars (the chunks loop at run time).
pub(crate) fn for_chunks(
    cx: &mut KernelCx<'_, '_>,
    row: Value,
    depth: usize,
    mut f: impl FnMut(&mut KernelCx<'_, '_>, Value, Value) -> Result<()>,
) -> Result<()> {
    cx.for_range(depth / 4, |cx, i| {
        let off = cx.b.ins().imul_imm_s(i, 16);
        let a = cx.b.ins().iadd(row, off);
        let v = cx.b.ins().load(types::F32X4, flags(), a, 0);
        f(cx, v, off)
    })?;
    for k in (depth / 4) * 4..depth {
        let off = cx.iconst((k * 4) as i64);
        let a = cx.b.ins().iadd(row, off);
        let v = cx.b.ins().load(types::F32, flags(), a, 0);
        f(cx, v, off)?;
    }
    Ok(())
}

/// Adds the lanes of `v` (or `v`) to the variable `sum` in lane order.
fn add_lanes(cx: &mut KernelCx<'_, '_>, sum: Variable, v: Value) {
    let mut s = cx.b.use_var(sum);
    if cx.b.func.dfg.value_type(v).is_vector() {
        for l in 0..4u8 {
            let e = cx.b.ins().extractlane(v, l);
            s = cx.b.ins().fadd(s, e);
        }
    } else {
        s = cx.b.ins().fadd(s, v);
    }
    cx.b.def_var(sum, s);
}

fn softmax_f32(cx: &mut KernelCx<'_, '_>, p: &SoftmaxF32Params) -> Result<()> {
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    check(cx, &x, &y, (p.outer, p.depth), (4, 4))?;
    let depth = p.depth;
    if depth == 0 {
        return Ok(());
    }
    let (xb, yb) = (x.base, y.base);
    let beta = p.beta;
    cx.for_range(p.outer, |cx, r| {
        let off = cx.b.ins().imul_imm_s(r, (depth * 4) as i64);
        let xr = cx.b.ins().iadd(xb, off);
        let yr = cx.b.ins().iadd(yb, off);
        let max = row_max_f32(cx, xr, depth)?;
        let zero = cx.f32const(0.0);
        let sum = var(cx, zero);
        for_chunks(cx, xr, depth, |cx, v, o| {
            let m = if is_vec(cx, v) {
                cx.b.ins().splat(types::F32X4, max)
            } else {
                max
            };
            let d = cx.b.ins().fsub(v, m);
            let bv = fcst(cx, d, beta);
            let d = cx.b.ins().fmul(d, bv);
            let e = exp_f32(cx, d);
            let a = cx.b.ins().iadd(yr, o);
            cx.b.ins().store(flags(), e, a, 0);
            add_lanes(cx, sum, e);
            Ok(())
        })?;
        let s = cx.b.use_var(sum);
        for_chunks(cx, yr, depth, |cx, v, o| {
            let d = if is_vec(cx, v) {
                cx.b.ins().splat(types::F32X4, s)
            } else {
                s
            };
            let q = cx.b.ins().fdiv(v, d);
            let a = cx.b.ins().iadd(yr, o);
            cx.b.ins().store(flags(), q, a, 0);
            Ok(())
        })
    })
}

fn is_vec(cx: &KernelCx<'_, '_>, v: Value) -> bool {
    cx.b.func.dfg.value_type(v).is_vector()
}

fn log_softmax_f32(cx: &mut KernelCx<'_, '_>, p: &LogSoftmaxF32Params) -> Result<()> {
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    check(cx, &x, &y, (p.outer, p.depth), (4, 4))?;
    let depth = p.depth;
    if depth == 0 {
        return Ok(());
    }
    let (xb, yb) = (x.base, y.base);
    cx.for_range(p.outer, |cx, r| {
        let off = cx.b.ins().imul_imm_s(r, (depth * 4) as i64);
        let xr = cx.b.ins().iadd(xb, off);
        let yr = cx.b.ins().iadd(yb, off);
        let max = row_max_f32(cx, xr, depth)?;
        let zero = cx.f32const(0.0);
        let sum = var(cx, zero);
        for_chunks(cx, xr, depth, |cx, v, _| {
            let m = if is_vec(cx, v) {
                cx.b.ins().splat(types::F32X4, max)
            } else {
                max
            };
            let d = cx.b.ins().fsub(v, m);
            let e = exp_f32(cx, d);
            add_lanes(cx, sum, e);
            Ok(())
        })?;
        let s = cx.b.use_var(sum);
        let log_sum = log_f32(cx, s);
        for_chunks(cx, xr, depth, |cx, v, o| {
            let (m, l) = if is_vec(cx, v) {
                (
                    cx.b.ins().splat(types::F32X4, max),
                    cx.b.ins().splat(types::F32X4, log_sum),
                )
            } else {
                (max, log_sum)
            };
            let d = cx.b.ins().fsub(v, m);
            let q = cx.b.ins().fsub(d, l);
            let a = cx.b.ins().iadd(yr, o);
            cx.b.ins().store(flags(), q, a, 0);
            Ok(())
        })
    })
}

/// A 256-entry `i32` table indexed by `max − q`.
fn table(cx: &mut KernelCx<'_, '_>, f: impl Fn(i32) -> i32) -> Result<Value> {
    let bytes: Vec<u8> = (0..256).flat_map(|d| f(-d).to_le_bytes()).collect();
    cx.const_data(&bytes)
}

/// The largest element of an integer row (from the type's minimum), as `i32`.
fn row_max_q(cx: &mut KernelCx<'_, '_>, row: Value, depth: usize, elem: Elem) -> Result<Value> {
    let init = cx.i32const(elem.min() as i32);
    let m = var(cx, init);
    cx.for_range(depth, |cx, i| {
        let a = cx.addr(row, i, elem.bytes());
        let v = elem.load_wide(cx, a);
        let cur = cx.b.use_var(m);
        let r = cx.b.ins().smax(cur, v);
        cx.b.def_var(m, r);
        Ok(())
    })?;
    Ok(cx.b.use_var(m))
}

/// `tab[max − v]` (`i32` entries).
fn lookup(cx: &mut KernelCx<'_, '_>, tab: Value, max: Value, v: Value) -> Value {
    let d = cx.b.ins().isub(max, v);
    let d = cx.b.ins().band_imm_s(d, 255);
    let d = cx.b.ins().uextend(cx.ptr, d);
    cx.load(types::I32, tab, d)
}

fn softmax_q(cx: &mut KernelCx<'_, '_>, p: &SoftmaxQParams, inp: Elem, out: Elem) -> Result<()> {
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    check(cx, &x, &y, (p.outer, p.depth), (inp.bytes(), out.bytes()))?;
    let depth = p.depth;
    if depth == 0 {
        return Ok(());
    }
    let pp = *p;
    let scaled_exp = move |diff: i32| {
        if diff >= pp.diff_min {
            exp_on_negative_values(
                multiply_by_quantized_multiplier_greater_than_one(
                    diff,
                    pp.input_multiplier,
                    pp.input_left_shift,
                ),
                5,
            )
        } else {
            0
        }
    };
    let exp_tab = table(cx, scaled_exp)?;
    let sum_tab = table(cx, |d| rescale(scaled_exp(d), 0, 12))?;
    let out_bits = (8 * out.bytes()) as i32;
    let (xb, yb) = (x.base, y.base);
    cx.for_range(p.outer, |cx, r| {
        let xo = cx.b.ins().imul_imm_s(r, (depth * inp.bytes()) as i64);
        let xr = cx.b.ins().iadd(xb, xo);
        let yo = cx.b.ins().imul_imm_s(r, (depth * out.bytes()) as i64);
        let yr = cx.b.ins().iadd(yb, yo);
        let max = row_max_q(cx, xr, depth, inp)?;
        let zero = cx.i32const(0);
        let sum = var(cx, zero);
        cx.for_range(depth, |cx, i| {
            let a = cx.addr(xr, i, inp.bytes());
            let v = inp.load_wide(cx, a);
            let e = lookup(cx, sum_tab, max, v);
            let s = cx.b.use_var(sum);
            let s = cx.b.ins().iadd(s, e);
            cx.b.def_var(sum, s);
            Ok(())
        })?;
        let s = cx.b.use_var(sum);
        let (scale, nbou) = get_reciprocal(cx, s, 12);
        let k = cx.b.ins().iadd_imm_s(nbou, i64::from(31 - out_bits));
        cx.for_range(depth, |cx, i| {
            let a = cx.addr(xr, i, inp.bytes());
            let v = inp.load_wide(cx, a);
            let e = lookup(cx, exp_tab, max, v);
            let m = srdhm_var(cx, scale, e);
            let u = rdbpot_wide_var(cx, m, k);
            let o = cx.b.ins().iadd_imm_s(u, out.min());
            let o = cx.clamp_i32(o, out.min() as i32, out.max() as i32);
            let o = cx.b.ins().ireduce(out.ty(), o);
            let oa = cx.addr(yr, i, out.bytes());
            cx.b.ins().store(flags(), o, oa, 0);
            Ok(())
        })
    })
}

fn log_softmax_q(cx: &mut KernelCx<'_, '_>, p: &LogSoftmaxQParams, elem: Elem) -> Result<()> {
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    check(cx, &x, &y, (p.outer, p.depth), (elem.bytes(), elem.bytes()))?;
    let depth = p.depth;
    if depth == 0 {
        return Ok(());
    }
    let pp = *p;
    let scale_diff = move |diff: i32| {
        multiply_by_quantized_multiplier(diff, pp.input_multiplier, pp.input_left_shift)
    };
    let sum_tab = table(cx, |d| {
        if d >= pp.diff_min {
            rescale(exp_on_negative_values(scale_diff(d), 5), 0, 12)
        } else {
            0
        }
    })?;
    let diff_tab = table(cx, scale_diff)?;
    let (xb, yb) = (x.base, y.base);
    let sz = elem.bytes();
    cx.for_range(p.outer, |cx, r| {
        let o = cx.b.ins().imul_imm_s(r, (depth * sz) as i64);
        let xr = cx.b.ins().iadd(xb, o);
        let yr = cx.b.ins().iadd(yb, o);
        let max = row_max_q(cx, xr, depth, elem)?;
        let zero = cx.i32const(0);
        let sum = var(cx, zero);
        cx.for_range(depth, |cx, i| {
            let a = cx.addr(xr, i, sz);
            let v = elem.load_wide(cx, a);
            let e = lookup(cx, sum_tab, max, v);
            let s = cx.b.use_var(sum);
            let s = cx.b.ins().iadd(s, e);
            cx.b.def_var(sum, s);
            Ok(())
        })?;
        let s = cx.b.use_var(sum);
        let log_sum = log_x_ge_1(cx, s, 12, 5);
        let shifted = cx.b.ins().iadd_imm_s(log_sum, i64::from(i32::MIN));
        let m = cx.mbqm(
            shifted,
            pp.reverse_scaling_divisor,
            -pp.reverse_scaling_right_shift,
        );
        let dm = cx.i32const(pp.diff_min - 1);
        let adm = cx.b.ins().smax(dm, m);
        cx.for_range(depth, |cx, i| {
            let a = cx.addr(xr, i, sz);
            let v = elem.load_wide(cx, a);
            let diff = cx.b.ins().isub(v, max);
            let keep = cx.b.ins().icmp(IntCC::SignedGreaterThan, diff, adm);
            let sd = lookup(cx, diff_tab, max, v);
            let t = cx.b.ins().isub(sd, log_sum);
            let t = cx.rdbpot(t, 31 - 5 - 4);
            let t = cx.b.ins().iadd_imm_s(t, elem.max());
            let t = cx.clamp_i32(t, elem.min() as i32, elem.max() as i32);
            let lowest = cx.i32const(elem.min() as i32);
            let o = cx.b.ins().select(keep, t, lowest);
            let o = cx.b.ins().ireduce(elem.ty(), o);
            let oa = cx.addr(yr, i, sz);
            cx.b.ins().store(flags(), o, oa, 0);
            Ok(())
        })
    })
}

/// Emits one softmax kernel.
pub(crate) fn emit(k: &Kernel, cx: &mut KernelCx<'_, '_>) -> Result<()> {
    match k {
        Kernel::SoftmaxF32(p) => softmax_f32(cx, p),
        Kernel::SoftmaxI8(p) => softmax_q(cx, p, Elem::I8, Elem::I8),
        Kernel::SoftmaxI8ToI16(p) => softmax_q(cx, p, Elem::I8, Elem::I16),
        Kernel::SoftmaxU8(p) => softmax_q(cx, p, Elem::U8, Elem::U8),
        Kernel::SoftmaxU8ToI16(p) => softmax_q(cx, p, Elem::U8, Elem::I16),
        Kernel::LogSoftmaxF32(p) => log_softmax_f32(cx, p),
        Kernel::LogSoftmaxI8(p) => log_softmax_q(cx, p, Elem::I8),
        Kernel::LogSoftmaxU8(p) => log_softmax_q(cx, p, Elem::U8),
    }
}

#[cfg(test)]
mod tests {
    use crate::interp::Buf;
    use crate::ir::{DType, NoAttrs, Op, SoftmaxAttrs};
    use crate::ops::reduce::clif::testutil::{check, Rng};
    use crate::ops::transpose::testutil::{t, tq};

    const SHAPES: &[&[usize]] = &[&[1, 1], &[2, 5], &[3, 16], &[1, 1001], &[2, 2, 37]];

    #[test]
    fn float_softmax_and_log_softmax() {
        let mut rng = Rng(3);
        for shape in SHAPES {
            let n: usize = shape.iter().product();
            for (lo, hi) in [(-8.0, 8.0), (-100.0, 100.0), (0.0, 1e-3)] {
                let x = Buf::from_slice(&rng.floats(n, lo, hi));
                for beta in [1.0, 0.3] {
                    let op = Op::Softmax(SoftmaxAttrs { beta });
                    check(
                        op,
                        vec![t(DType::F32, shape)],
                        vec![t(DType::F32, &[1])],
                        std::slice::from_ref(&x),
                        2e-6,
                    );
                }
                let op = Op::LogSoftmax(NoAttrs);
                check(
                    op,
                    vec![t(DType::F32, shape)],
                    vec![t(DType::F32, &[1])],
                    &[x],
                    2e-6,
                );
            }
        }
    }

    #[test]
    fn quantized_softmax_is_exact() {
        let mut rng = Rng(5);
        for shape in SHAPES.iter().copied().chain([&[1usize, 1000][..]]) {
            let n: usize = shape.iter().product();
            for scale in [1.0, 0.1, 0.02] {
                for (i, o, os, oz) in [
                    (DType::I8, DType::I8, 1.0 / 256.0, -128),
                    (DType::I8, DType::I16, 1.0 / 32768.0, 0),
                    (DType::U8, DType::U8, 1.0 / 256.0, 0),
                    (DType::U8, DType::I16, 1.0 / 32768.0, 0),
                ] {
                    let x = if shape == [1, 1000] {
                        Buf::from_bytes(&vec![7u8; n])
                    } else {
                        rng.buf(i, n)
                    };
                    let op = Op::Softmax(SoftmaxAttrs { beta: 1.0 });
                    check(
                        op,
                        vec![tq(i, shape, scale, 3)],
                        vec![tq(o, &[1], os, oz)],
                        &[x],
                        0.0,
                    );
                }
                for (d, zp) in [(DType::I8, 127), (DType::U8, 255)] {
                    let x = rng.buf(d, n);
                    let op = Op::LogSoftmax(NoAttrs);
                    check(
                        op,
                        vec![tq(d, shape, scale, 3)],
                        vec![tq(d, &[1], 16.0 / 256.0, zp)],
                        &[x],
                        0.0,
                    );
                }
            }
        }
    }
}

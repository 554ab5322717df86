//! Cranelift code for LOGISTIC and TANH, and the float `exp` that UNARY's EXP shares.
//!
//! Generated code calls no library, so the float functions are polynomials, written once for
//! `f32` and `f32x4`:
//! - `exp(x)`: Cephes' `expf` (`n = round(x·log₂e)` by the 1.5·2²³ trick, `r = x − n·ln 2` in
//!   two parts, a degree-6 polynomial, then `· 2ⁿ` as two exact power-of-two factors so that
//!   results down to the subnormals and up to the overflow to infinity come out right); about one
//!   ulp;
//! - `tanh(x)`: Eigen's (and XLA's) odd 13/6 rational approximation on `[−7.9053, 7.9053]`
//!   (where `tanh` rounds to ±1), `x` itself below 0.0004; a few ulp;
//! - `logistic(x) = 1 / (1 + exp(−x))`, the reference kernel's formula.
//!
//! 8-bit LOGISTIC and TANH look the byte up in the table `Prepare` built ([`lut8`]).

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};

use super::Kernel;
use crate::clif::cx::KernelCx;
use crate::error::Result;
use crate::ops::binary::clif::{fclamp, fconst, lut8, map_f32, sel};

/// Horner's rule `((c₀·x + c₁)·x + …)` with fused multiply-adds where the target has them.
fn horner(cx: &mut KernelCx<'_, '_>, x: Value, coeffs: &[f32]) -> Value {
    let mut p = fconst(cx, x, coeffs[0]);
    for &c in &coeffs[1..] {
        let c = fconst(cx, x, c);
        p = cx.mul_add(p, x, c);
    }
    p
}

/// `2ⁿ` for an integer `n` in `−126..=127` (lane-wise), as the float with exponent bits `n + 127`.
fn pow2(cx: &mut KernelCx<'_, '_>, n: Value, fty: types::Type) -> Value {
    let bias = cx.i32const(127);
    let ty = cx.b.func.dfg.value_type(n);
    let bias = if ty.is_vector() {
        cx.b.ins().splat(ty, bias)
    } else {
        bias
    };
    let b = cx.b.ins().iadd(n, bias);
    let b = cx.b.ins().ishl_imm_s(b, 23);
    cx.b.ins().bitcast(fty, MemFlagsData::new(), b)
}

/// `exp(x)` for `f32` or `f32x4` (Cephes' constants, as published).
#[allow(clippy::excessive_precision)]
pub(crate) fn exp(cx: &mut KernelCx<'_, '_>, x: Value) -> Value {
    let fty = cx.b.func.dfg.value_type(x);
    let ity = if fty.is_vector() {
        types::I32X4
    } else {
        types::I32
    };
    // Below −104 the result is 0, above 89 infinity: clamping there keeps n in range. NaN passes.
    let x = fclamp(cx, x, -104.0, 89.0);
    let log2e = fconst(cx, x, std::f32::consts::LOG2_E);
    let magic = fconst(cx, x, 12_582_912.0);
    let t = cx.b.ins().fmul(x, log2e);
    let t = cx.b.ins().fadd(t, magic);
    let nf = cx.b.ins().fsub(t, magic);
    let c1 = fconst(cx, x, 0.693_359_375);
    let c2 = fconst(cx, x, -2.121_944_40e-4);
    let a = cx.b.ins().fmul(nf, c1);
    let r = cx.b.ins().fsub(x, a);
    let b = cx.b.ins().fmul(nf, c2);
    let r = cx.b.ins().fsub(r, b);
    let p = horner(
        cx,
        r,
        &[
            1.987_569_150_0e-4,
            1.398_199_950_7e-3,
            8.333_451_907_3e-3,
            4.166_579_589_4e-2,
            1.666_666_545_9e-1,
            5.000_000_120_1e-1,
        ],
    );
    let r2 = cx.b.ins().fmul(r, r);
    let y = cx.mul_add(p, r2, r);
    let one = fconst(cx, x, 1.0);
    let y = cx.b.ins().fadd(y, one);
    // 2ⁿ = 2^(n >> 1) · 2^(n − (n >> 1)), each factor a normal float for n in −150..=129.
    let n = cx.b.ins().fcvt_to_sint_sat(ity, nf);
    let n1 = cx.b.ins().sshr_imm_s(n, 1);
    let n2 = cx.b.ins().isub(n, n1);
    let s1 = pow2(cx, n1, fty);
    let s2 = pow2(cx, n2, fty);
    let y = cx.b.ins().fmul(y, s1);
    cx.b.ins().fmul(y, s2)
}

/// `tanh(x)` for `f32` or `f32x4` (Eigen's constants, as published).
#[allow(clippy::excessive_precision)]
fn tanh(cx: &mut KernelCx<'_, '_>, x: Value) -> Value {
    const BOUND: f32 = 7.905_311_107_635_498_05;
    let ax = cx.b.ins().fabs(x);
    let tiny = fconst(cx, x, 0.0004);
    let small = cx.b.ins().fcmp(FloatCC::LessThan, ax, tiny);
    let xc = fclamp(cx, x, -BOUND, BOUND);
    let x2 = cx.b.ins().fmul(xc, xc);
    let p = horner(
        cx,
        x2,
        &[
            -2.760_768_477_423_55e-16,
            2.000_187_904_824_77e-13,
            -8.604_671_522_137_35e-11,
            5.122_297_090_371_14e-8,
            1.485_722_357_179_79e-5,
            6.372_619_288_754_36e-4,
            4.893_524_558_917_86e-3,
        ],
    );
    let p = cx.b.ins().fmul(p, xc);
    let q = horner(
        cx,
        x2,
        &[
            1.198_258_394_667_02e-6,
            1.185_347_056_866_54e-4,
            2.268_434_632_439_00e-3,
            4.893_525_185_543_85e-3,
        ],
    );
    let r = cx.b.ins().fdiv(p, q);
    sel(cx, small, x, r)
}

/// `1 / (1 + exp(−x))` for `f32` or `f32x4`.
fn logistic(cx: &mut KernelCx<'_, '_>, x: Value) -> Value {
    let m = cx.b.ins().fneg(x);
    let e = exp(cx, m);
    let one = fconst(cx, x, 1.0);
    let d = cx.b.ins().fadd(one, e);
    cx.b.ins().fdiv(one, d)
}

/// The step's code for every kernel of the family.
pub(crate) fn emit(k: &Kernel, cx: &mut KernelCx<'_, '_>) -> Result<()> {
    match k {
        Kernel::LogisticF32 => map_f32(cx, logistic),
        Kernel::TanhF32 => map_f32(cx, tanh),
        Kernel::LogisticLut8(p) | Kernel::TanhLut8(p) => lut8(cx, &p.table, None),
    }
}

#[cfg(test)]
mod tests {
    use crate::interp::Buf;
    use crate::ir::{DType, NoAttrs, Op};
    use crate::ops::binary::clif::testutil::{close, exact, Rng};
    use crate::ops::transpose::testutil::{t, tq};

    /// Inputs across the whole float range: small, moderate, near the overflow and underflow
    /// bounds, special values.
    fn inputs() -> Vec<f32> {
        let mut rng = Rng(3);
        let mut v = rng.floats(4000, -20.0, 20.0);
        v.extend(rng.floats(1000, -1e-3, 1e-3));
        v.extend(rng.floats(1000, -110.0, 110.0));
        v.extend([
            0.0,
            -0.0,
            1e-30,
            -1e-30,
            88.72,
            88.73,
            -87.3,
            -103.9,
            -104.5,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MAX,
            f32::MIN,
            7.9,
            8.0,
            -9.5,
        ]);
        v
    }

    #[test]
    fn float_functions_match_libm() {
        let x = inputs();
        let n = x.len();
        for op in [Op::Logistic(NoAttrs), Op::Tanh(NoAttrs), Op::Exp(NoAttrs)] {
            close(
                op,
                vec![t(DType::F32, &[n])],
                vec![t(DType::F32, &[n])],
                &[Buf::from_slice(&x)],
                1e-6,
            );
        }
        // Element by element, relative to each value (stricter than the suite).
        let mut rng = Rng(9);
        for (op, lo, hi) in [
            (Op::Exp(NoAttrs), -87.0f32, 88.0f32),
            (Op::Tanh(NoAttrs), -10.0, 10.0),
            (Op::Tanh(NoAttrs), -0.01, 0.01),
            (Op::Logistic(NoAttrs), -80.0, 80.0),
        ] {
            for _ in 0..4 {
                let x = rng.floats(1024, lo, hi);
                let (want, got) = crate::ops::binary::clif::testutil::both(
                    op.clone(),
                    vec![t(DType::F32, &[1024])],
                    vec![t(DType::F32, &[1024])],
                    &[Buf::from_slice(&x)],
                );
                let (want, got) = (want.unwrap(), got.unwrap());
                let (w, g) = (
                    want[0].as_slice::<f32>().unwrap(),
                    got[0].as_slice::<f32>().unwrap(),
                );
                for i in 0..1024 {
                    let err = (w[i] - g[i]).abs() / w[i].abs().max(f32::MIN_POSITIVE);
                    assert!(err < 1e-6, "{op:?}({}) = {} vs {}", x[i], w[i], g[i]);
                }
            }
        }
    }

    #[test]
    fn tables() {
        // 259 bytes: every value, and a tail after the unrolled loop.
        let x: Vec<u8> = (0..259).map(|i| (i * 7 % 256) as u8).collect();
        for dtype in [DType::I8, DType::U8] {
            let zp = if dtype == DType::U8 { 128 } else { 0 };
            let out = if dtype == DType::U8 { 0 } else { -128 };
            exact(
                Op::Logistic(NoAttrs),
                vec![tq(dtype, &[259], 0.08, zp)],
                vec![tq(dtype, &[259], 1.0 / 256.0, out)],
                &[Buf::from_bytes(&x)],
            );
            exact(
                Op::Tanh(NoAttrs),
                vec![tq(dtype, &[259], 0.03, zp + 5)],
                vec![tq(dtype, &[259], 1.0 / 128.0, zp)],
                &[Buf::from_bytes(&x)],
            );
        }
    }
}

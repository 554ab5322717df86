//! Cranelift code for the `l2_normalization` family.
//!
//! Float rows: the sum of squares in the reference's order, `max(√Σ, ε)`, then one division per
//! element (`f32x4`). Quantized rows: the wrapping `i32` sum of `(q − Z)²`, TFLite's
//! `GetInvSqrtQuantizedMultiplierExp` (a Newton–Raphson iteration in fixed point) generated
//! operation for operation, then the per-element rescaling; bit for bit with
//! `mvcc_kernels::kernels::l2_normalization`. Each row is read whole before any of its elements
//! is written, so the step may run in place.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, Value};
use cranelift_frontend::Variable;
use mvcc_kernels::kernels::l2_normalization::{L2NormalizationParams, EPSILON};

use super::Kernel;
use crate::clif::cx::{flags, KernelCx};
use crate::error::Result;
use crate::ops::reduce::clif::Elem;
use crate::ops::softmax::clif::{for_chunks, rdbpot_wide_var, srdhm_var, srmpot_const};

fn var(cx: &mut KernelCx<'_, '_>, v: Value) -> Variable {
    let ty = cx.b.func.dfg.value_type(v);
    let var = cx.b.declare_var(ty);
    cx.b.def_var(var, v);
    var
}

/// TFLite's `GetInvSqrtQuantizedMultiplierExp(input, −1)`: `(multiplier, shift)` (`i32`s).
pub(crate) fn inv_sqrt(cx: &mut KernelCx<'_, '_>, input: Value) -> (Value, Value) {
    let small =
        cx.b.ins()
            .icmp_imm_s(IntCC::SignedLessThanOrEqual, input, 1);
    // One division by 4 brings any i32 below 2^29.
    let big =
        cx.b.ins()
            .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, input, 1 << 29);
    let quarter = cx.b.ins().sshr_imm_s(input, 2);
    let inp = cx.b.ins().select(big, quarter, input);
    let big = cx.b.ins().uextend(types::I32, big);
    let shift = cx.b.ins().iadd_imm_s(big, 11);
    let lz = cx.b.ins().clz(inp);
    let mlsb = cx.b.ins().iadd_imm_s(lz, -1);
    let pairs = cx.b.ins().ushr_imm_s(mlsb, 1);
    let pairs = cx.b.ins().iadd_imm_s(pairs, -1);
    // Inputs <= 1 (the result is replaced below) must not give shifts outside 0..32.
    let pairs = cx.clamp_i32(pairs, 0, 15);
    let shift = cx.b.ins().isub(shift, pairs);
    let two_pairs = cx.b.ins().iadd(pairs, pairs);
    let inp = cx.b.ins().ishl(inp, two_pairs);
    let fixedpoint_input = cx.b.ins().sshr_imm_s(inp, 1);
    let half_input = cx.rdbpot(fixedpoint_input, 1);
    let half_three: i32 = (1 << 28) + (1 << 27);
    let mut x = cx.i32const(1 << 28);
    for _ in 0..5 {
        let x2 = srdhm_var(cx, x, x);
        let x3 = srdhm_var(cx, x2, x);
        let x3 = srmpot_const(cx, x3, 6);
        let a = cx.srdhm(x, half_three);
        let b = srdhm_var(cx, half_input, x3);
        let d = cx.b.ins().isub(a, b);
        x = srmpot_const(cx, d, 3);
    }
    let inv = cx.srdhm(x, 1_518_500_250);
    let neg = cx.b.ins().icmp_imm_s(IntCC::SignedLessThan, shift, 0);
    let nshift = cx.b.ins().ineg(shift);
    let nshift = cx.clamp_i32(nshift, 0, 31);
    let shifted = cx.b.ins().ishl(inv, nshift);
    let inv = cx.b.ins().select(neg, shifted, inv);
    let zero = cx.i32const(0);
    let shift = cx.b.ins().smax(shift, zero);
    let shift = cx.b.ins().ineg(shift);
    let max = cx.i32const(i32::MAX);
    let inv = cx.b.ins().select(small, max, inv);
    let shift = cx.b.ins().select(small, zero, shift);
    (inv, shift)
}

/// `MultiplyByQuantizedMultiplier(x, m, s)` with `m` and `s` at run time.
fn mbqm_var(cx: &mut KernelCx<'_, '_>, x: Value, m: Value, s: Value) -> Value {
    let left = cx.clamp_i32(s, 0, 30);
    let ns = cx.b.ins().ineg(s);
    let right = cx.clamp_i32(ns, 0, 31);
    let xs = cx.b.ins().ishl(x, left);
    let h = srdhm_var(cx, xs, m);
    rdbpot_wide_var(cx, h, right)
}

fn f32_rows(cx: &mut KernelCx<'_, '_>, p: &L2NormalizationParams) -> Result<()> {
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    let d = p.depth;
    let (xb, yb) = (x.base, y.base);
    cx.for_range(p.outer, |cx, r| {
        let off = cx.b.ins().imul_imm_s(r, (d * 4) as i64);
        let xr = cx.b.ins().iadd(xb, off);
        let yr = cx.b.ins().iadd(yb, off);
        let zero = cx.f32const(0.0);
        let sum = var(cx, zero);
        cx.for_range(d, |cx, i| {
            let v = cx.load(types::F32, xr, i);
            let sq = cx.b.ins().fmul(v, v);
            let s = cx.b.use_var(sum);
            let s = cx.b.ins().fadd(s, sq);
            cx.b.def_var(sum, s);
            Ok(())
        })?;
        let s = cx.b.use_var(sum);
        let root = cx.b.ins().sqrt(s);
        let eps = cx.f32const(EPSILON);
        let gt = cx.b.ins().fcmp(FloatCC::GreaterThan, root, eps);
        let norm = cx.b.ins().select(gt, root, eps);
        for_chunks(cx, xr, d, |cx, v, o| {
            let n = if cx.b.func.dfg.value_type(v).is_vector() {
                cx.b.ins().splat(types::F32X4, norm)
            } else {
                norm
            };
            let q = cx.b.ins().fdiv(v, n);
            let a = cx.b.ins().iadd(yr, o);
            cx.b.ins().store(flags(), q, a, 0);
            Ok(())
        })
    })
}

fn quantized_rows(cx: &mut KernelCx<'_, '_>, p: &L2NormalizationParams, elem: Elem) -> Result<()> {
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    let d = p.depth;
    let zp = p.input_zero_point;
    let (xb, yb) = (x.base, y.base);
    cx.for_range(p.outer, |cx, r| {
        let off = cx.b.ins().imul_imm_s(r, d as i64);
        let xr = cx.b.ins().iadd(xb, off);
        let yr = cx.b.ins().iadd(yb, off);
        let zero = cx.i32const(0);
        let acc = var(cx, zero);
        cx.for_range(d, |cx, i| {
            let a = cx.b.ins().iadd(xr, i);
            let v = elem.load_wide(cx, a);
            let diff = cx.b.ins().iadd_imm_s(v, -i64::from(zp));
            let sq = cx.b.ins().imul(diff, diff);
            let s = cx.b.use_var(acc);
            let s = cx.b.ins().iadd(s, sq);
            cx.b.def_var(acc, s);
            Ok(())
        })?;
        let s = cx.b.use_var(acc);
        let (inv, shift) = inv_sqrt(cx, s);
        cx.for_range(d, |cx, i| {
            let a = cx.b.ins().iadd(xr, i);
            let v = elem.load_wide(cx, a);
            let diff = cx.b.ins().iadd_imm_s(v, -i64::from(zp));
            let out = if elem == Elem::U8 {
                let x128 = cx.b.ins().imul_imm_s(diff, 128);
                let h = srdhm_var(cx, x128, inv);
                let e = cx.b.ins().ineg(shift);
                let e = cx.clamp_i32(e, 0, 31);
                let q = rdbpot_wide_var(cx, h, e);
                let q = cx.b.ins().iadd_imm_s(q, 128);
                cx.clamp_i32(q, 0, 255)
            } else {
                let s7 = cx.b.ins().iadd_imm_s(shift, 7);
                let q = mbqm_var(cx, diff, inv, s7);
                cx.clamp_i32(q, -128, 127)
            };
            let out = cx.b.ins().ireduce(types::I8, out);
            let oa = cx.b.ins().iadd(yr, i);
            cx.b.ins().store(flags(), out, oa, 0);
            Ok(())
        })
    })
}

/// Emits one L2_NORMALIZATION kernel.
pub(super) fn emit(k: &Kernel, cx: &mut KernelCx<'_, '_>) -> Result<()> {
    let (p, elem) = match k {
        Kernel::F32(p) => (p, Elem::F32),
        Kernel::I8(p) => (p, Elem::I8),
        Kernel::U8(p) => (p, Elem::U8),
    };
    let n = p.outer * p.depth;
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    if x.len(elem.bytes()) != n || y.len(elem.bytes()) != n {
        return Err(cx.err("operand sizes do not match the kernel"));
    }
    match elem {
        Elem::F32 => f32_rows(cx, p),
        _ => quantized_rows(cx, p, elem),
    }
}

#[cfg(test)]
mod tests {
    use crate::interp::Buf;
    use crate::ir::{DType, NoAttrs, Op};
    use crate::ops::reduce::clif::testutil::{check, Rng};
    use crate::ops::transpose::testutil::{t, tq};

    #[test]
    fn l2_normalization_matches_the_interpreter() {
        let mut rng = Rng(11);
        for shape in [
            &[1usize, 1][..],
            &[2, 5],
            &[3, 16],
            &[1, 4, 4, 37],
            &[1, 1000],
        ] {
            let n: usize = shape.iter().product();
            let op = Op::L2Normalization(NoAttrs);
            let x = Buf::from_slice(&rng.floats(n, -3.0, 3.0));
            check(
                op.clone(),
                vec![t(DType::F32, shape)],
                vec![t(DType::F32, &[1])],
                &[x],
                1e-6,
            );
            let x = Buf::from_slice(&vec![0f32; n]);
            check(
                op.clone(),
                vec![t(DType::F32, shape)],
                vec![t(DType::F32, &[1])],
                &[x],
                0.0,
            );
            for (d, zo) in [(DType::I8, 0), (DType::U8, 128)] {
                for zi in [0, 3, 128] {
                    let x = rng.buf(d, n);
                    let tin = tq(d, shape, 0.1, if d == DType::I8 { zi - 128 } else { zi });
                    check(
                        op.clone(),
                        vec![tin],
                        vec![tq(d, &[1], 1.0 / 128.0, zo)],
                        &[x],
                        0.0,
                    );
                }
                // A row at the zero point but for one element: sums 0 and 1.
                let zp: u8 = if d == DType::I8 { 0 } else { 128 };
                let mut x = vec![zp; n];
                x[0] = zp.wrapping_add(1);
                let tin = tq(d, shape, 0.1, i64::from(zp));
                let x = Buf::from_bytes(&x);
                check(
                    op.clone(),
                    vec![tin],
                    vec![tq(d, &[1], 1.0 / 128.0, zo)],
                    &[x],
                    0.0,
                );
            }
        }
    }
}

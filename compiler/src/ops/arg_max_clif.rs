//! Cranelift code for the `arg_max` family: per `(outer, inner)` position a scalar loop along the
//! axis keeping the first index of the largest value (a later value wins only if strictly
//! greater; a NaN never does), as `mvcc_kernels::kernels::arg_max`.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder};
use mvcc_kernels::kernels::arg_max::ArgMaxParams;

use crate::clif::cx::{flags, KernelCx};
use crate::error::Result;
use crate::ir::DType;
use crate::ops::reduce::clif::Elem;

/// Emits ARG_MAX of `input` elements into `output` (`I32` or `I64`) indices.
pub(super) fn emit(
    cx: &mut KernelCx<'_, '_>,
    p: &ArgMaxParams,
    input: DType,
    output: DType,
) -> Result<()> {
    let elem = match input {
        DType::F32 => Elem::F32,
        DType::I32 => Elem::I32,
        DType::I64 => Elem::I64,
        DType::I8 => Elem::I8,
        DType::U8 => Elem::U8,
        t => return Err(cx.err(format!("ARG_MAX of {t} is not supported"))),
    };
    let ity = if output == DType::I64 {
        types::I64
    } else {
        types::I32
    };
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    let n_in = p
        .outer
        .checked_mul(p.axis)
        .and_then(|v| v.checked_mul(p.inner));
    if n_in != Some(x.len(elem.bytes()))
        || p.outer.checked_mul(p.inner) != Some(y.len(ity.bytes() as usize))
    {
        return Err(cx.err("operand or result size does not match the parameters"));
    }
    let (xb, yb) = (x.base, y.base);
    let (axis, inner) = (p.axis, p.inner);
    let esz = elem.bytes();
    if axis == 0 {
        let zero = cx.b.ins().iconst(ity, 0);
        return cx.for_range(p.outer * p.inner, |cx, i| {
            cx.store(zero, yb, i);
            Ok(())
        });
    }
    cx.for_range(p.outer, |cx, o| {
        cx.for_range(inner, |cx, j| {
            let base = cx.b.ins().imul_imm_s(o, (axis * inner) as i64);
            let base = cx.b.ins().iadd(base, j);
            let a = cx.addr(xb, base, esz);
            let first = elem.load_wide(cx, a);
            let best = cx.b.declare_var(cx.b.func.dfg.value_type(first));
            cx.b.def_var(best, first);
            let best_i = cx.b.declare_var(ity);
            let zero = cx.b.ins().iconst(ity, 0);
            cx.b.def_var(best_i, zero);
            cx.for_range(axis - 1, |cx, k| {
                let i = cx.b.ins().iadd_imm_s(k, 1);
                let off = cx.b.ins().imul_imm_s(i, (inner * esz) as i64);
                let va = cx.b.ins().iadd(a, off);
                let v = elem.load_wide(cx, va);
                let cur = cx.b.use_var(best);
                let gt = if elem == Elem::F32 {
                    cx.b.ins().fcmp(FloatCC::GreaterThan, v, cur)
                } else {
                    cx.b.ins().icmp(IntCC::SignedGreaterThan, v, cur)
                };
                let nb = cx.b.ins().select(gt, v, cur);
                cx.b.def_var(best, nb);
                let idx = if ity == cx.ptr {
                    i
                } else {
                    cx.b.ins().ireduce(ity, i)
                };
                let ci = cx.b.use_var(best_i);
                let ni = cx.b.ins().select(gt, idx, ci);
                cx.b.def_var(best_i, ni);
                Ok(())
            })?;
            let bi = cx.b.use_var(best_i);
            let oi = cx.b.ins().imul_imm_s(o, inner as i64);
            let oi = cx.b.ins().iadd(oi, j);
            let oa = cx.addr(yb, oi, ity.bytes() as usize);
            cx.b.ins().store(flags(), bi, oa, 0);
            Ok(())
        })
    })
}

#[cfg(test)]
mod tests {
    use crate::interp::Buf;
    use crate::ir::{DType, Op, OutTypeAttrs};
    use crate::ops::reduce::clif::testutil::{check, Rng};
    use crate::ops::transpose::testutil::{c32, t};

    #[test]
    fn arg_max_matches_the_interpreter() {
        let mut rng = Rng(13);
        for input in [DType::F32, DType::I32, DType::I64, DType::I8, DType::U8] {
            for out in [DType::I32, DType::I64] {
                for (shape, axis) in [
                    (&[2usize, 3, 4][..], 2),
                    (&[2, 3, 4], 1),
                    (&[2, 3, 4], -3),
                    (&[1, 9, 9, 21], 3),
                    (&[5], 0),
                ] {
                    let n: usize = shape.iter().product();
                    let op = Op::ArgMax(OutTypeAttrs { out });
                    // Few distinct values, so ties are common.
                    let x = match input {
                        DType::F32 => Buf::from_slice(
                            &rng.floats(n, -2.0, 2.0)
                                .iter()
                                .map(|v| v.round())
                                .collect::<Vec<_>>(),
                        ),
                        _ => {
                            let b: Vec<u8> = rng
                                .bytes(n * input.size())
                                .iter()
                                .map(|v| v % 4 + if input == DType::U8 { 250 } else { 0 })
                                .collect();
                            Buf::from_bytes(&b)
                        }
                    };
                    check(
                        op,
                        vec![t(input, shape), c32(&[1], &[axis])],
                        vec![t(out, &[1])],
                        &[x],
                        0.0,
                    );
                }
            }
        }
    }
}

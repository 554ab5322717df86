//! Cranelift code for the `pool_2d` family: AVERAGE_POOL_2D and MAX_POOL_2D, float and quantized.
//!
//! Per output pixel the clipped window `[y0, y1) × [x0, x1)` is computed at run time; the
//! channels go 16 at a time through the lane engine of the reduce family (`f32x4` sums and maxima,
//! `i32x4` sums of widened 8- and 16-bit values, `i8x16`/`i16x8` maxima), the window visited
//! rows then columns as the reference kernels do, then a static tail of fewer than 16 channels.
//!
//! The quantized average `(acc ± count/2) / count` (C's truncating division) is computed in
//! `f32` when every numerator is below 2^24 in magnitude: the quotient of two integers below 2^24
//! is then never rounded across an integer, so truncating it is exact. Otherwise each lane is
//! divided with `sdiv`.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};
use mvcc_kernels::kernels::common::{ActF32, ActQ};
use mvcc_kernels::kernels::pool_2d::Pool2dParams;

use crate::clif::cx::KernelCx;
use crate::error::Result;
use crate::ir::DType;
use crate::ops::reduce::clif::{
    clamp_f, clamp_i, const_like, elem_addr, for_dyn, is_vec, sel, store_piece, Acc, Elem, Lanes,
    Op, Piece, BLOCK,
};

/// A pool's activation.
#[derive(Clone, Copy, Debug)]
pub(super) enum Act {
    F32(ActF32),
    Q(ActQ),
}

fn elem_of(cx: &KernelCx<'_, '_>, dtype: DType) -> Result<Elem> {
    match dtype {
        DType::I8 => Ok(Elem::I8),
        DType::U8 => Ok(Elem::U8),
        DType::I16 => Ok(Elem::I16),
        DType::F32 => Ok(Elem::F32),
        t => Err(cx.err(format!("no pooling kernel for {t}"))),
    }
}

/// The window origin and clipped bounds along one axis: `(start, end)` pointer-sized.
fn window(
    cx: &mut KernelCx<'_, '_>,
    o: Value,
    stride: usize,
    pad: usize,
    filter: usize,
    limit: usize,
) -> (Value, Value) {
    let origin = cx.b.ins().imul_imm_s(o, stride as i64);
    let origin = cx.b.ins().iadd_imm_s(origin, -(pad as i64));
    let zero = cx.iconst(0);
    let start = cx.b.ins().smax(origin, zero);
    let end = cx.b.ins().iadd_imm_s(origin, filter as i64);
    let lim = cx.iconst(limit as i64);
    let end = cx.b.ins().smin(end, lim);
    // An empty window (never produced by the compiler) keeps end >= start.
    let end = cx.b.ins().smax(end, start);
    (start, end)
}

/// Emits a pool. `average` selects AVERAGE_POOL_2D.
pub(super) fn emit(
    cx: &mut KernelCx<'_, '_>,
    p: &Pool2dParams,
    average: bool,
    dtype: DType,
    act: Act,
) -> Result<()> {
    let elem = elem_of(cx, dtype)?;
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    if x.len(elem.bytes()) != p.input_len() || y.len(elem.bytes()) != p.output_len() {
        return Err(cx.err("operand sizes do not match the kernel"));
    }
    if p.output_len() == 0 {
        return Ok(());
    }
    let (acc, op) = match (average, elem) {
        (true, Elem::F32) => (Acc::F32, Op::Sum),
        (true, _) => (Acc::I32, Op::Sum),
        (false, Elem::F32) => (Acc::F32, Op::Max),
        (false, _) => (Acc::Native, Op::Max),
    };
    // Largest window and whether the f32 division is exact for it.
    let taps = p.filter[0].min(p.in_h) * p.filter[1].min(p.in_w);
    let magnitude: u64 = match elem {
        Elem::I8 => 128,
        Elem::U8 => 255,
        _ => 32768,
    };
    let float_div = (magnitude * taps as u64 + taps as u64) < (1 << 24);
    if average && elem != Elem::F32 && (magnitude * taps as u64) >= (1 << 31) {
        return Err(cx.unsupported("quantized average pool with a window this large"));
    }
    let c = p.channels;
    let (xb, yb) = (x.base, y.base);
    let esz = elem.bytes();
    cx.for_range(p.batches, |cx, n| {
        cx.for_range(p.out_h, |cx, oy| {
            let (y0, y1) = window(cx, oy, p.stride[0], p.pad[0], p.filter[0], p.in_h);
            cx.for_range(p.out_w, |cx, ox| {
                let (x0, x1) = window(cx, ox, p.stride[1], p.pad[1], p.filter[1], p.in_w);
                let dy = cx.b.ins().isub(y1, y0);
                let dx = cx.b.ins().isub(x1, x0);
                let count = cx.b.ins().imul(dy, dx);
                let row = cx.b.ins().imul_imm_s(n, p.out_h as i64);
                let row = cx.b.ins().iadd(row, oy);
                let pix = cx.b.ins().imul_imm_s(row, p.out_w as i64);
                let pix = cx.b.ins().iadd(pix, ox);
                let opix = cx.b.ins().imul_imm_s(pix, c as i64);
                let nrow = cx.b.ins().imul_imm_s(n, p.in_h as i64);
                let block = |cx: &mut KernelCx<'_, '_>, c0: Value, lanes: usize| -> Result<()> {
                    let l = Lanes::new(cx, elem, acc, op, lanes);
                    match op {
                        Op::Sum => l.init(cx, 0, 0.0),
                        Op::Max => l.init_lowest(cx),
                    }
                    for_dyn(cx, y0, y1, |cx, iy| {
                        let r = cx.b.ins().iadd(nrow, iy);
                        let r = cx.b.ins().imul_imm_s(r, p.in_w as i64);
                        for_dyn(cx, x0, x1, |cx, ix| {
                            let q = cx.b.ins().iadd(r, ix);
                            let q = cx.b.ins().imul_imm_s(q, c as i64);
                            let q = cx.b.ins().iadd(q, c0);
                            let a = elem_addr(cx, xb, q, esz);
                            l.add(cx, a);
                            Ok(())
                        })
                    })?;
                    let o = cx.b.ins().iadd(opix, c0);
                    let oa = elem_addr(cx, yb, o, esz);
                    for (piece, vals) in l.values(cx) {
                        finish(cx, elem, average, act, float_div, count, &piece, &vals, oa);
                    }
                    Ok(())
                };
                let full = c / BLOCK;
                cx.for_range(full, |cx, b| {
                    let c0 = cx.b.ins().imul_imm_s(b, BLOCK as i64);
                    block(cx, c0, BLOCK)
                })?;
                if !c.is_multiple_of(BLOCK) {
                    let c0 = cx.iconst((full * BLOCK) as i64);
                    block(cx, c0, c % BLOCK)?;
                }
                Ok(())
            })
        })
    })
}

/// Finishes one piece of an output pixel and stores it at `oa` (the block's first channel).
#[allow(clippy::too_many_arguments)] // the pool's kind and the piece
fn finish(
    cx: &mut KernelCx<'_, '_>,
    elem: Elem,
    average: bool,
    act: Act,
    float_div: bool,
    count: Value,
    p: &Piece,
    vals: &[Value],
    oa: Value,
) {
    match act {
        Act::F32(a) => {
            let cf = cx.b.ins().fcvt_from_sint(types::F32, count);
            let out: Vec<Value> = vals
                .iter()
                .map(|&v| {
                    let v = if average {
                        let d = if is_vec(cx, v) {
                            cx.b.ins().splat(types::F32X4, cf)
                        } else {
                            cf
                        };
                        cx.b.ins().fdiv(v, d)
                    } else {
                        v
                    };
                    clamp_f(cx, v, a.min, a.max)
                })
                .collect();
            store_piece(cx, Elem::F32, p, &out, oa);
        }
        Act::Q(a) => {
            // The clamp to the activation range, then to the type (one clamp: the type's range
            // intersected, as both are monotone).
            let lo = i64::from(a.min).clamp(elem.min(), elem.max());
            let hi = i64::from(a.max).clamp(elem.min(), elem.max());
            if !average {
                let out: Vec<Value> = vals
                    .iter()
                    .map(|&v| {
                        let unsigned = elem == Elem::U8 && is_vec(cx, v);
                        clamp_i(cx, v, lo, hi, unsigned)
                    })
                    .collect();
                store_piece(cx, elem, p, &out, oa);
                return;
            }
            let count32 = cx.b.ins().ireduce(types::I32, count);
            // Never divide by zero (the compiler rejects empty windows anyway).
            let one = cx.i32const(1);
            let count32 = cx.b.ins().smax(count32, one);
            let half = cx.b.ins().sshr_imm_s(count32, 1);
            let cf = cx.b.ins().fcvt_from_sint(types::F32, count32);
            let out: Vec<Value> = vals
                .iter()
                .map(|&v| {
                    let vec = is_vec(cx, v);
                    let (h, d, df) = if vec {
                        (
                            cx.b.ins().splat(types::I32X4, half),
                            cx.b.ins().splat(types::I32X4, count32),
                            cx.b.ins().splat(types::F32X4, cf),
                        )
                    } else {
                        (half, count32, cf)
                    };
                    let zero = const_like(cx, v, 0, 0.0);
                    let pos = cx.b.ins().icmp(IntCC::SignedGreaterThan, v, zero);
                    let up = cx.b.ins().iadd(v, h);
                    let down = cx.b.ins().isub(v, h);
                    let num = sel(cx, pos, up, down);
                    let q = if !vec {
                        cx.b.ins().sdiv(num, d)
                    } else if float_div {
                        let nf = cx.b.ins().fcvt_from_sint(types::F32X4, num);
                        let qf = cx.b.ins().fdiv(nf, df);
                        cx.b.ins().fcvt_to_sint_sat(types::I32X4, qf)
                    } else {
                        let mut r = num;
                        for l in 0..4u8 {
                            let e = cx.b.ins().extractlane(num, l);
                            let qe = cx.b.ins().sdiv(e, count32);
                            r = cx.b.ins().insertlane(r, qe, l);
                        }
                        r
                    };
                    clamp_i(cx, q, lo, hi, false)
                })
                .collect();
            store_piece(cx, elem, p, &out, oa);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ir::{Activation, DType, Op, Padding, Pool2dAttrs};
    use crate::ops::reduce::clif::testutil::{check, Rng};
    use crate::ops::transpose::testutil::{t, tq};

    fn run(
        dtype: DType,
        shape: [usize; 4],
        filter: [usize; 2],
        stride: [usize; 2],
        padding: Padding,
        act: Activation,
        seed: u64,
    ) {
        let mut rng = Rng(seed);
        let n: usize = shape.iter().product();
        let tensor = |s: &[usize]| match dtype {
            DType::F32 => t(dtype, s),
            _ => tq(dtype, s, 0.05, if dtype == DType::U8 { 128 } else { 3 }),
        };
        for average in [true, false] {
            let a = Pool2dAttrs {
                padding,
                stride,
                filter,
                act,
            };
            let op = if average {
                Op::AveragePool2d(a)
            } else {
                Op::MaxPool2d(a)
            };
            let x = rng.buf(dtype, n);
            check(op, vec![tensor(&shape)], vec![tensor(&[1])], &[x], 0.0);
        }
    }

    #[test]
    fn pools_match_the_interpreter() {
        let mut seed = 1;
        for dtype in [DType::F32, DType::I8, DType::U8, DType::I16] {
            for (shape, filter, stride, padding) in [
                ([1, 7, 7, 40], [7, 7], [1, 1], Padding::Valid),
                ([2, 9, 8, 3], [3, 3], [2, 2], Padding::Same),
                ([1, 6, 5, 21], [2, 3], [1, 2], Padding::Same),
                ([1, 5, 5, 16], [3, 3], [1, 1], Padding::Same),
                ([1, 4, 4, 1], [2, 2], [2, 2], Padding::Valid),
            ] {
                for act in [Activation::None, Activation::Relu6] {
                    run(dtype, shape, filter, stride, padding, act, seed);
                    seed += 1;
                }
            }
        }
    }

    #[test]
    fn large_int16_windows_divide_lane_by_lane() {
        // 529 taps of int16: numerators beyond 2^24, so the sdiv path.
        run(
            DType::I16,
            [1, 23, 23, 18],
            [23, 23],
            [1, 1],
            Padding::Valid,
            Activation::None,
            99,
        );
    }
}

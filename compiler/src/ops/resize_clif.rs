//! Cranelift code for the `resize` family.
//!
//! Every source coordinate depends only on the output row or column, so the compiler computes
//! them (with the reference kernels' arithmetic, repeated below) into constant tables: per output
//! row the element offsets of the two source rows and the row weight, per output column the same
//! for columns. The generated loops read the tables and interpolate the channels: `f32x4` for
//! float (the reference's operation order, no fused multiply-add), scalar `f32` for uint8
//! (plus 0.5, truncated), `i64` integer arithmetic for int8/int16. Nearest neighbour copies each
//! output pixel's channels from the table's source pixel.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};
use mvcc_kernels::kernels::resize::ResizeParams;

use super::Kernel;
use crate::clif::cx::{flags, KernelCx};
use crate::error::Result;
use crate::ops::reduce::clif::{
    clamp_i, const_like, sel, store_piece, Acc, Elem, Lanes, Op, Piece, BLOCK,
};

/// TFLite's float `ComputeInterpolationValues`: `(scaled, lower, upper)`.
fn interpolation_f32(
    value: usize,
    scale: f32,
    half_pixel_centers: bool,
    input_size: usize,
) -> (f32, usize, usize) {
    let v = value as f32;
    let scaled = if half_pixel_centers {
        (v + 0.5) * scale - 0.5
    } else {
        v * scale
    };
    let last = input_size as i32 - 1;
    let lower = (scaled.floor() as i32).max(0).min(last);
    let upper = (scaled.ceil() as i32).min(last).max(0);
    (scaled, lower as usize, upper as usize)
}

/// TFLite's `ComputeInterpolationValuesInteger`: `(scaled, lower, upper)` in 1/1024 units.
fn interpolation_integer(
    value: usize,
    scale_10: i32,
    half_pixel_centers: bool,
    input_size: usize,
) -> (i32, usize, usize) {
    let v = value as i32;
    let scaled = if half_pixel_centers {
        v * scale_10 + scale_10 / 2 - (1 << 9)
    } else {
        v * scale_10
    };
    let last = input_size as i32 - 1;
    let lower = (scaled / (1 << 10)).max(0).min(last);
    let upper = ((scaled + (1 << 10) - 1) / (1 << 10)).min(last).max(0);
    (scaled, lower as usize, upper as usize)
}

/// TFLite's `GetNearestNeighbor`.
fn nearest(
    value: usize,
    scale: f32,
    input_size: usize,
    align_corners: bool,
    half_pixel_centers: bool,
) -> usize {
    let offset = if half_pixel_centers { 0.5f32 } else { 0.0 };
    let x = (value as f32 + offset) * scale;
    let v = if align_corners {
        x.round() as i32
    } else {
        x.floor() as i32
    };
    let mut v = v.min(input_size as i32 - 1);
    if half_pixel_centers {
        v = v.max(0);
    }
    v.max(0) as usize
}

/// One output row's or column's sources: element offsets of the lower and upper source and the
/// weight bits (`f32` bits, or the integer weight in 1/1024 units).
struct Axis {
    lower: Vec<i64>,
    upper: Vec<i64>,
    weight: Vec<u32>,
}

impl Axis {
    fn float(n: usize, scale: f32, half: bool, size: usize, stride: usize) -> Axis {
        let mut a = Axis {
            lower: vec![],
            upper: vec![],
            weight: vec![],
        };
        for i in 0..n {
            let (s, l, u) = interpolation_f32(i, scale, half, size);
            a.lower.push((l * stride) as i64);
            a.upper.push((u * stride) as i64);
            a.weight.push((s - l as f32).to_bits());
        }
        a
    }

    fn integer(n: usize, scale_10: i32, half: bool, size: usize, stride: usize) -> Axis {
        let mut a = Axis {
            lower: vec![],
            upper: vec![],
            weight: vec![],
        };
        for i in 0..n {
            let (s, l, u) = interpolation_integer(i, scale_10, half, size);
            a.lower.push((l * stride) as i64);
            a.upper.push((u * stride) as i64);
            a.weight
                .push((i64::from(s) - 1024 * l as i64) as i32 as u32);
        }
        a
    }

    /// The table: `[lower, upper, weight]` per entry, 8 bytes each (the weight in the low 4).
    fn table(&self, cx: &mut KernelCx<'_, '_>) -> Result<Value> {
        let mut bytes = Vec::with_capacity(self.lower.len() * 24);
        for i in 0..self.lower.len() {
            bytes.extend_from_slice(&self.lower[i].to_le_bytes());
            bytes.extend_from_slice(&self.upper[i].to_le_bytes());
            bytes.extend_from_slice(&u64::from(self.weight[i]).to_le_bytes());
        }
        cx.const_data(&bytes)
    }
}

/// Entry `i` of an [`Axis::table`]: `(lower, upper, weight_address)`, offsets pointer-sized.
fn entry(cx: &mut KernelCx<'_, '_>, tab: Value, i: Value) -> (Value, Value, Value) {
    let a = cx.b.ins().imul_imm_s(i, 24);
    let a = cx.b.ins().iadd(tab, a);
    let l = cx.b.ins().load(types::I64, flags(), a, 0);
    let u = cx.b.ins().load(types::I64, flags(), a, 8);
    let w = cx.b.ins().iadd_imm_s(a, 16);
    (l, u, w)
}

/// Loops over output pixels: `body(cx, [r00, r10, r01, r11], (wy, wx), out)` with the four
/// source element offsets, the weight addresses and the first output element of the pixel.
fn for_pixels(
    cx: &mut KernelCx<'_, '_>,
    p: &ResizeParams,
    rows: Value,
    cols: Value,
    mut body: impl FnMut(&mut KernelCx<'_, '_>, [Value; 4], (Value, Value), Value) -> Result<()>,
) -> Result<()> {
    let (ih, iw, c) = (p.in_h, p.in_w, p.depth);
    cx.for_range(p.batches, |cx, b| {
        let batch = cx.b.ins().imul_imm_s(b, (ih * iw * c) as i64);
        cx.for_range(p.out_h, |cx, y| {
            let (y0, y1, wy) = entry(cx, rows, y);
            let r0 = cx.b.ins().iadd(batch, y0);
            let r1 = cx.b.ins().iadd(batch, y1);
            let orow = cx.b.ins().imul_imm_s(b, p.out_h as i64);
            let orow = cx.b.ins().iadd(orow, y);
            let orow = cx.b.ins().imul_imm_s(orow, (p.out_w * c) as i64);
            cx.for_range(p.out_w, |cx, x| {
                let (x0, x1, wx) = entry(cx, cols, x);
                let r00 = cx.b.ins().iadd(r0, x0);
                let r10 = cx.b.ins().iadd(r1, x0);
                let r01 = cx.b.ins().iadd(r0, x1);
                let r11 = cx.b.ins().iadd(r1, x1);
                let o = cx.b.ins().imul_imm_s(x, c as i64);
                let o = cx.b.ins().iadd(orow, o);
                body(cx, [r00, r10, r01, r11], (wy, wx), o)
            })
        })
    })
}

/// The channels of one pixel, [`BLOCK`] at a time (a run-time loop) then a static tail:
/// `f(cx, byte offset of the first channel, lanes)`.
fn for_channel_blocks(
    cx: &mut KernelCx<'_, '_>,
    c: usize,
    esz: usize,
    mut f: impl FnMut(&mut KernelCx<'_, '_>, Value, usize) -> Result<()>,
) -> Result<()> {
    let full = c / BLOCK;
    cx.for_range(full, |cx, b| {
        let off = cx.b.ins().imul_imm_s(b, (BLOCK * esz) as i64);
        f(cx, off, BLOCK)
    })?;
    if !c.is_multiple_of(BLOCK) {
        let off = cx.iconst((full * BLOCK * esz) as i64);
        f(cx, off, c % BLOCK)?;
    }
    Ok(())
}

/// The four corners' elements at `base[k] + off`, `lanes` of them, as accumulator pieces (the
/// same pieces for each corner).
fn load_corners(
    cx: &mut KernelCx<'_, '_>,
    (elem, acc): (Elem, Acc),
    base: &[Value; 4],
    off: Value,
    lanes: usize,
) -> Vec<Vec<(Piece, Vec<Value>)>> {
    base.iter()
        .map(|&b| {
            let a = cx.b.ins().iadd(b, off);
            let l = Lanes::new(cx, elem, acc, Op::Sum, lanes);
            l.init_load(cx, a);
            l.values(cx)
        })
        .collect()
}

/// `v` splatted to four lanes when `vec`.
fn splat_if(cx: &mut KernelCx<'_, '_>, v: Value, vec: bool) -> Value {
    if vec {
        let ty = cx.b.func.dfg.value_type(v);
        cx.b.ins().splat(ty.by(4).expect("four lanes"), v)
    } else {
        v
    }
}

/// Float bilinear (`f32`, or `u8` read as float, offset by 0.5 and truncated), `f32x4` lanes:
/// `v00·(1−dy)·(1−dx) + v10·dy·(1−dx) + v01·(1−dy)·dx + v11·dy·dx`, left to right, no fused
/// multiply-add, as the reference.
fn bilinear_float(cx: &mut KernelCx<'_, '_>, p: &ResizeParams, elem: Elem) -> Result<()> {
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    let rows = Axis::float(
        p.out_h,
        p.height_scale,
        p.half_pixel_centers,
        p.in_h,
        p.in_w * p.depth,
    )
    .table(cx)?;
    let cols = Axis::float(
        p.out_w,
        p.width_scale,
        p.half_pixel_centers,
        p.in_w,
        p.depth,
    )
    .table(cx)?;
    let (xb, yb, c, esz) = (x.base, y.base, p.depth, elem.bytes());
    let acc = if elem == Elem::F32 {
        Acc::F32
    } else {
        Acc::I32
    };
    for_pixels(cx, p, rows, cols, |cx, r, (wy, wx), o| {
        let dy = cx.b.ins().load(types::F32, flags(), wy, 0);
        let dx = cx.b.ins().load(types::F32, flags(), wx, 0);
        let one = cx.f32const(1.0);
        let ndy = cx.b.ins().fsub(one, dy);
        let ndx = cx.b.ins().fsub(one, dx);
        let w = [(ndy, ndx), (dy, ndx), (ndy, dx), (dy, dx)];
        let w4 = w.map(|(a, b)| {
            (
                cx.b.ins().splat(types::F32X4, a),
                cx.b.ins().splat(types::F32X4, b),
            )
        });
        let base = r.map(|ri| cx.addr(xb, ri, esz));
        let out = cx.addr(yb, o, esz);
        for_channel_blocks(cx, c, esz, |cx, off, lanes| {
            let corners = load_corners(cx, (elem, acc), &base, off, lanes);
            let oa = cx.b.ins().iadd(out, off);
            for (pi, (piece, first)) in corners[0].iter().enumerate() {
                let mut outv = Vec::new();
                for vi in 0..first.len() {
                    let mut sum = None;
                    for k in 0..4 {
                        let v = corners[k][pi].1[vi];
                        let vec = cx.b.func.dfg.value_type(v).is_vector();
                        let v = if elem == Elem::F32 {
                            v
                        } else if vec {
                            cx.b.ins().fcvt_from_sint(types::F32X4, v)
                        } else {
                            cx.b.ins().fcvt_from_sint(types::F32, v)
                        };
                        let (a, b) = if vec { w4[k] } else { w[k] };
                        let t = cx.b.ins().fmul(v, a);
                        let t = cx.b.ins().fmul(t, b);
                        sum = Some(match sum {
                            None => t,
                            Some(s) => cx.b.ins().fadd(s, t),
                        });
                    }
                    let s = sum.expect("four corners");
                    if elem == Elem::F32 {
                        outv.push(s);
                    } else {
                        // + 0.5, then C's conversion to uint8 (in range: truncation).
                        let vec = cx.b.func.dfg.value_type(s).is_vector();
                        let half = cx.f32const(0.5);
                        let half = splat_if(cx, half, vec);
                        let s = cx.b.ins().fadd(s, half);
                        let ity = if vec { types::I32X4 } else { types::I32 };
                        let i = cx.b.ins().fcvt_to_sint_sat(ity, s);
                        outv.push(clamp_i(cx, i, 0, 255, false));
                    }
                }
                store_piece(cx, elem, piece, &outv, oa);
            }
            Ok(())
        })
    })
}

/// int8 bilinear in `i32` lanes (`i32x4`), valid when every `|v|·Σ|w| + 2^19` fits in `i32`
/// (checked by the caller): the reference's `i64` arithmetic gives the same values.
fn bilinear_i8_lanes(
    cx: &mut KernelCx<'_, '_>,
    p: &ResizeParams,
    rows: Value,
    cols: Value,
) -> Result<()> {
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    let (xb, yb, c) = (x.base, y.base, p.depth);
    for_pixels(cx, p, rows, cols, |cx, r, (wy, wx), o| {
        let fy = cx.b.ins().load(types::I32, flags(), wy, 0);
        let fx = cx.b.ins().load(types::I32, flags(), wx, 0);
        let one = cx.i32const(1024);
        let nfy = cx.b.ins().isub(one, fy);
        let nfx = cx.b.ins().isub(one, fx);
        let w = [(nfy, nfx), (fy, nfx), (nfy, fx), (fy, fx)].map(|(a, b)| cx.b.ins().imul(a, b));
        let w4 = w.map(|v| cx.b.ins().splat(types::I32X4, v));
        let base = r.map(|ri| cx.b.ins().iadd(xb, ri));
        let out = cx.b.ins().iadd(yb, o);
        for_channel_blocks(cx, c, 1, |cx, off, lanes| {
            let corners = load_corners(cx, (Elem::I8, Acc::I32), &base, off, lanes);
            let oa = cx.b.ins().iadd(out, off);
            for (pi, (piece, first)) in corners[0].iter().enumerate() {
                let mut outv = Vec::new();
                for vi in 0..first.len() {
                    let mut sum = None;
                    for k in 0..4 {
                        let v = corners[k][pi].1[vi];
                        let vec = cx.b.func.dfg.value_type(v).is_vector();
                        let t = cx.b.ins().imul(v, if vec { w4[k] } else { w[k] });
                        sum = Some(match sum {
                            None => t,
                            Some(s) => cx.b.ins().iadd(s, t),
                        });
                    }
                    let s = sum.expect("four corners");
                    let zero = const_like(cx, s, 0, 0.0);
                    let pos = cx.b.ins().icmp(IntCC::SignedGreaterThan, s, zero);
                    let up = const_like(cx, s, 1 << 19, 0.0);
                    let down = const_like(cx, s, -(1 << 19), 0.0);
                    let round = sel(cx, pos, up, down);
                    let s = cx.b.ins().iadd(s, round);
                    // Truncating division by 2^20.
                    let sh31 = cx.i32const(31);
                    let sign = cx.b.ins().sshr(s, sh31);
                    let mask = const_like(cx, s, (1 << 20) - 1, 0.0);
                    let bias = cx.b.ins().band(sign, mask);
                    let s = cx.b.ins().iadd(s, bias);
                    let sh20 = cx.i32const(20);
                    let q = cx.b.ins().sshr(s, sh20);
                    outv.push(clamp_i(cx, q, -128, 127, false));
                }
                store_piece(cx, Elem::I8, piece, &outv, oa);
            }
            Ok(())
        })
    })
}

/// Integer bilinear (int8, int16): weights in 1/1024 units, the sum in `i64` divided by 2^20
/// rounding half away from zero.
fn bilinear_integer(cx: &mut KernelCx<'_, '_>, p: &ResizeParams, elem: Elem) -> Result<()> {
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    let rows = Axis::integer(
        p.out_h,
        p.height_scale_10,
        p.half_pixel_centers,
        p.in_h,
        p.in_w * p.depth,
    )
    .table(cx)?;
    let cols = Axis::integer(
        p.out_w,
        p.width_scale_10,
        p.half_pixel_centers,
        p.in_w,
        p.depth,
    )
    .table(cx)?;
    if elem == Elem::I8 && i8_lanes_fit(p) {
        return bilinear_i8_lanes(cx, p, rows, cols);
    }
    let (xb, yb, c, esz) = (x.base, y.base, p.depth, elem.bytes());
    for_pixels(cx, p, rows, cols, |cx, r, (wy, wx), o| {
        let fy = cx.b.ins().sload32(flags(), wy, 0);
        let fx = cx.b.ins().sload32(flags(), wx, 0);
        let one = cx.b.ins().iconst(types::I64, 1024);
        let nfy = cx.b.ins().isub(one, fy);
        let nfx = cx.b.ins().isub(one, fx);
        let w = [(nfy, nfx), (fy, nfx), (nfy, fx), (fy, fx)];
        let weights: Vec<Value> = w.iter().map(|&(a, b)| cx.b.ins().imul(a, b)).collect();
        let base: Vec<Value> = r.iter().map(|&ri| cx.addr(xb, ri, esz)).collect();
        let out = cx.addr(yb, o, esz);
        cx.for_range(c, |cx, ch| {
            let mut sum = None;
            for k in 0..4 {
                let a = cx.addr(base[k], ch, esz);
                let v = elem.load_wide(cx, a);
                let v = cx.b.ins().sextend(types::I64, v);
                let t = cx.b.ins().imul(v, weights[k]);
                sum = Some(match sum {
                    None => t,
                    Some(s) => cx.b.ins().iadd(s, t),
                });
            }
            let s = sum.expect("four corners");
            let pos = cx.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, s, 0);
            let up = cx.b.ins().iconst(types::I64, 1 << 19);
            let down = cx.b.ins().iconst(types::I64, -(1 << 19));
            let round = cx.b.ins().select(pos, up, down);
            let s = cx.b.ins().iadd(s, round);
            // Truncating division by 2^20.
            let sign = cx.b.ins().sshr_imm_s(s, 63);
            let bias = cx.b.ins().band_imm_s(sign, (1 << 20) - 1);
            let s = cx.b.ins().iadd(s, bias);
            let q = cx.b.ins().sshr_imm_s(s, 20);
            let q = cx.b.ins().ireduce(types::I32, q);
            let q = clamp_i(cx, q, elem.min(), elem.max(), false);
            let q = cx.b.ins().ireduce(elem.ty(), q);
            let oa = cx.addr(out, ch, esz);
            cx.b.ins().store(flags(), q, oa, 0);
            Ok(())
        })
    })
}

/// Whether int8 bilinear can run in `i32`: `128·Σ|w| + 2^19 < 2^31` for every output pixel,
/// `Σ|w| ≤ max_y(|1024 − fy| + |fy|) · max_x(|1024 − fx| + |fx|)`.
fn i8_lanes_fit(p: &ResizeParams) -> bool {
    let bound = |a: &Axis| {
        a.weight
            .iter()
            .map(|&w| {
                let f = i64::from(w as i32);
                (1024 - f).abs() + f.abs()
            })
            .max()
            .unwrap_or(0)
    };
    let ry = Axis::integer(p.out_h, p.height_scale_10, p.half_pixel_centers, p.in_h, 1);
    let rx = Axis::integer(p.out_w, p.width_scale_10, p.half_pixel_centers, p.in_w, 1);
    128 * bound(&ry) * bound(&rx) + (1 << 19) < (1 << 31)
}

/// Nearest neighbour: each output pixel's `depth · width` bytes copied from its source pixel.
fn nearest_neighbor(cx: &mut KernelCx<'_, '_>, p: &ResizeParams, width: usize) -> Result<()> {
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    let row = |i| {
        nearest(
            i,
            p.height_scale,
            p.in_h,
            p.align_corners,
            p.half_pixel_centers,
        )
    };
    let col = |i| {
        nearest(
            i,
            p.width_scale,
            p.in_w,
            p.align_corners,
            p.half_pixel_centers,
        )
    };
    let bytes = p.depth * width;
    let table = |cx: &mut KernelCx<'_, '_>, n: usize, f: &dyn Fn(usize) -> usize, stride: usize| {
        let b: Vec<u8> = (0..n)
            .flat_map(|i| ((f(i) * stride) as i64).to_le_bytes())
            .collect();
        cx.const_data(&b)
    };
    let rows = table(cx, p.out_h, &row, p.in_w * bytes)?;
    let cols = table(cx, p.out_w, &col, bytes)?;
    let (xb, yb) = (x.base, y.base);
    let (ih, iw) = (p.in_h, p.in_w);
    cx.for_range(p.batches, |cx, b| {
        let batch = cx.b.ins().imul_imm_s(b, (ih * iw * bytes) as i64);
        let src_b = cx.b.ins().iadd(xb, batch);
        cx.for_range(p.out_h, |cx, oy| {
            let r = cx.load(types::I64, rows, oy);
            let src_r = cx.b.ins().iadd(src_b, r);
            let orow = cx.b.ins().imul_imm_s(b, p.out_h as i64);
            let orow = cx.b.ins().iadd(orow, oy);
            let orow = cx.b.ins().imul_imm_s(orow, (p.out_w * bytes) as i64);
            let dst_r = cx.b.ins().iadd(yb, orow);
            cx.for_range(p.out_w, |cx, ox| {
                let c = cx.load(types::I64, cols, ox);
                let src = cx.b.ins().iadd(src_r, c);
                let d = cx.b.ins().imul_imm_s(ox, bytes as i64);
                let dst = cx.b.ins().iadd(dst_r, d);
                crate::clif::copy_bytes(cx, src, dst, bytes);
                Ok(())
            })
        })
    })
}

/// Emits one resize kernel.
pub(super) fn emit(k: &Kernel, cx: &mut KernelCx<'_, '_>) -> Result<()> {
    if cx.ptr != types::I64 {
        return Err(cx.unsupported("resize on a 32-bit target"));
    }
    let (p, size) = match k {
        Kernel::BilinearF32(p) => (p, 4),
        Kernel::BilinearU8(p) => (p, 1),
        Kernel::BilinearI8(p) => (p, 1),
        Kernel::BilinearI16(p) => (p, 2),
        Kernel::Nearest(p, w) => (p, w.bytes()),
    };
    if !p.is_valid() {
        return Err(cx.err("an empty input cannot be resized"));
    }
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    if x.len(size) != p.in_len() || y.len(size) != p.out_len() {
        return Err(cx.err("operand sizes do not match the kernel"));
    }
    if p.out_len() == 0 {
        return Ok(());
    }
    match k {
        Kernel::BilinearF32(p) => bilinear_float(cx, p, Elem::F32),
        Kernel::BilinearU8(p) => bilinear_float(cx, p, Elem::U8),
        Kernel::BilinearI8(p) => bilinear_integer(cx, p, Elem::I8),
        Kernel::BilinearI16(p) => bilinear_integer(cx, p, Elem::I16),
        Kernel::Nearest(p, w) => nearest_neighbor(cx, p, w.bytes()),
    }
}

#[cfg(test)]
mod tests {
    use crate::ir::{DType, Op, ResizeAttrs};
    use crate::ops::reduce::clif::testutil::{check, Rng};
    use crate::ops::transpose::testutil::{c32, t};

    #[test]
    fn resizes_match_the_interpreter() {
        let mut rng = Rng(17);
        for dtype in [DType::F32, DType::U8, DType::I8, DType::I16] {
            for (shape, size) in [
                ([1usize, 2, 2, 3], [4, 5]),
                ([2, 5, 7, 9], [3, 4]),
                ([1, 4, 4, 16], [9, 8]),
                ([1, 1, 2, 1], [1, 4]),
                ([1, 3, 3, 5], [3, 3]),
                ([1, 3, 2, 40], [5, 7]),
                ([1, 6, 5, 37], [2, 3]),
            ] {
                for (align_corners, half_pixel_centers) in
                    [(false, false), (true, false), (false, true)]
                {
                    let a = ResizeAttrs {
                        align_corners,
                        half_pixel_centers,
                    };
                    let n: usize = shape.iter().product();
                    let x = rng.buf(dtype, n);
                    let ins = || vec![t(dtype, &shape), c32(&[2], &[size[0], size[1]])];
                    if matches!(dtype, DType::F32 | DType::U8 | DType::I8 | DType::I16) {
                        check(
                            Op::ResizeBilinear(a.clone()),
                            ins(),
                            vec![t(dtype, &[1])],
                            std::slice::from_ref(&x),
                            0.0,
                        );
                    }
                    check(
                        Op::ResizeNearestNeighbor(a),
                        ins(),
                        vec![t(dtype, &[1])],
                        &[x],
                        0.0,
                    );
                }
            }
        }
    }
}

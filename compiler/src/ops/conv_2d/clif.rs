//! Cranelift code for the `conv_2d` family: CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV, float
//! and quantized (int8, uint8).
//!
//! # Packed weights (the fast paths)
//!
//! Over the packed weights (`[ceil(Co/16)][K][16]`) a step works 16 output channels at a time:
//! a run-time loop over the full blocks of 16 (a last block of fewer channels after it, reading
//! and writing only its channels: the packed weights are zero-padded, so its spare lanes compute
//! values that are never stored) and over the output pixels, blocks outside when the weights
//! outweigh the input (they stay in cache), pixels outside otherwise. Per block and pixel, four
//! vector accumulators (quantized: starting at the folded bias); every filter tap adds its
//! products; the epilogue finishes the 16 values and stores them.
//!
//! - Float: `f32x4` accumulators from zero, `input · weights` multiplied and added (no `fma`)
//!   in the reference kernels' order, taps in the padding skipped, the bias added last: each
//!   lane computes exactly what the reference computes for its channel, bit for bit (an `fma`,
//!   or the bias first, drifts past the suite's tolerance over a MobileNet's 28 layers). Then
//!   the activation clamp, and for a fused residual ADD the addition and the ADD's clamp.
//! - Quantized: `i32x4` accumulators of `Σ (w + filter_offset) · x` (see
//!   `crate::ops::fully_connected::clif`): CONV_2D two input channels at a time with a
//!   pairwise-adding 16-bit multiply (eight channels per loop iteration, one input load);
//!   DEPTHWISE_CONV_2D 16 channels of one tap with 16-bit products. Taps in the padding read the
//!   input's zero point (the folded bias assumes it), and are skipped when that is 0. The
//!   epilogue is TFLite's per-channel `MultiplyByQuantizedMultiplier` on `i32x4` (multipliers,
//!   shifts and rounding masks from constant tables), the output offset, the clamp, for a fused
//!   ADD TFLite's quantized ADD (`ResidualQ`) with the residual, and a saturating narrowing to
//!   bytes.
//!
//! When no window reaches the padding (1×1 and VALID convolutions), CONV_2D takes two output
//! pixels at a time: no tap checks, and the weights loaded and widened once serve both.
//! DEPTHWISE_CONV_2D unrolls the taps of windows that lie inside the image (a run-time check per
//! pixel) with constant offsets. Grouped convolutions take the same paths when every block of 16
//! channels lies in one group (`Co / groups` a multiple of 16).
//!
//! # Everything else
//!
//! Weights in the model's form (non-constant filters), grouped convolutions whose groups split
//! blocks, and TRANSPOSE_CONV are scalar loops over output channels that follow the reference
//! kernels' arithmetic and order, with per-channel requantization constants read from tables.

use cranelift_codegen::ir::{types, InstBuilder, Value};
use cranelift_frontend::Variable;
use mvcc_kernels::kernels::common::{ActF32, Requant};
use mvcc_kernels::kernels::conv_2d::{
    blocked_len, Conv2dParams, ConvGeometry, ConvQuant, ResidualQ, OC_BLOCK,
};
use mvcc_kernels::kernels::depthwise_conv_2d::DepthwiseConv2dParams;
use mvcc_kernels::kernels::transpose_conv::TransposeConvParams;

use super::Weights;
use crate::clif::cx::{flags, KernelCx, Region};
use crate::error::Result;
use crate::ir::DType;
use crate::ops::fully_connected::clif::{
    add_to, clamp4, clamp_f32x4, dot_ok, dot_pair, dot_parts, expect, if_else, load_bytes16,
    load_f32s, load_i32x16, mbqm4, mbqm_table, requant_tables, splat_i32, split_block,
    store_bytes16, store_f32s, uflags, var, vconst, vconst_i16, weight_pair, xpair, xpair_const,
    xpairs4, xsingle, QType, RequantTables, F32X4, I32X4, I8X16,
};

/// Four vectors of `lanes` (≤ 16) floats at `ptr` (zeros beyond `lanes`, nothing past them
/// read).
fn load16(cx: &mut KernelCx<'_, '_>, ptr: Value, lanes: usize) -> [Value; 4] {
    let mut out = [ptr; 4];
    for (j, o) in out.iter_mut().enumerate() {
        *o = load_f32s(cx, ptr, j * 4, lanes.saturating_sub(j * 4).min(4));
    }
    out
}

/// Stores the first `lanes` (≤ 16) floats of four vectors at `ptr`.
fn store16(cx: &mut KernelCx<'_, '_>, v: [Value; 4], ptr: Value, lanes: usize) {
    for (j, &x) in v.iter().enumerate() {
        let n = lanes.saturating_sub(j * 4).min(4);
        store_f32s(cx, x, ptr, j * 4, n);
    }
}

/// The four accumulator variables of one block.
fn accumulators(cx: &mut KernelCx<'_, '_>, ty: types::Type, init: [Value; 4]) -> [Variable; 4] {
    init.map(|v| var(cx, ty, v))
}

/// An output pixel: its position and the output element index of its first channel.
#[derive(Clone, Copy, Debug)]
struct Pixel {
    n: Value,
    oy: Value,
    ox: Value,
    first: Value,
}

fn pixel(cx: &mut KernelCx<'_, '_>, g: &ConvGeometry, n: Value, oy: Value, ox: Value) -> Pixel {
    let row = cx.b.ins().imul_imm_s(n, g.out_h as i64);
    let row = cx.b.ins().iadd(row, oy);
    let pix = cx.b.ins().imul_imm_s(row, g.out_w as i64);
    let pix = cx.b.ins().iadd(pix, ox);
    let first = cx.b.ins().imul_imm_s(pix, g.out_c as i64);
    Pixel { n, oy, ox, first }
}

/// For every output pixel (runtime loops): `body(cx, n, oy, ox, pixel)` where `pixel` is the
/// output element index of the pixel's first channel.
fn for_each_pixel(
    cx: &mut KernelCx<'_, '_>,
    g: &ConvGeometry,
    mut body: impl FnMut(&mut KernelCx<'_, '_>, Value, Value, Value, Value) -> Result<()>,
) -> Result<()> {
    for_each_tile(cx, g, 1, &mut |cx, px| {
        body(cx, px[0].n, px[0].oy, px[0].ox, px[0].first)
    })
}

/// For every tile of `tile` consecutive output pixels of a row (runtime loops):
/// `body(cx, pixels)`; the pixels at the end of a row that do not fill a tile come one by one.
fn for_each_tile(
    cx: &mut KernelCx<'_, '_>,
    g: &ConvGeometry,
    tile: usize,
    body: &mut dyn FnMut(&mut KernelCx<'_, '_>, &[Pixel]) -> Result<()>,
) -> Result<()> {
    let tile = tile.max(1);
    let (full, rest) = (g.out_w / tile, g.out_w % tile);
    cx.for_range(g.batches, |cx, n| {
        cx.for_range(g.out_h, |cx, oy| {
            cx.for_range(full, |cx, t| {
                let mut px = Vec::with_capacity(tile);
                for i in 0..tile {
                    let ox = cx.b.ins().imul_imm_s(t, tile as i64);
                    let ox = cx.b.ins().iadd_imm_s(ox, i as i64);
                    px.push(pixel(cx, g, n, oy, ox));
                }
                body(cx, &px)
            })?;
            for i in 0..rest {
                let ox = cx.iconst((full * tile + i) as i64);
                let p = pixel(cx, g, n, oy, ox);
                body(cx, &[p])?;
            }
            Ok(())
        })
    })
}

/// The body of a block: `(cx, block index, lanes, pixels)`.
type BlockBody<'b> = &'b mut dyn FnMut(&mut KernelCx<'_, '_>, Value, usize, &[Pixel]) -> Result<()>;

/// `block(cx, blk, lanes, pixels)` for every block of 16 output channels (a runtime loop over
/// the full blocks; a last partial block of `lanes < 16` after it) and every tile of output
/// pixels ([`for_each_tile`]). With `block_outer` the blocks are the outer loop (a block's
/// weights stay in cache while the pixels stream), else the pixels (a pixel's inputs stay).
fn for_each_block(
    cx: &mut KernelCx<'_, '_>,
    g: &ConvGeometry,
    tile: usize,
    block_outer: bool,
    block: BlockBody<'_>,
) -> Result<()> {
    let (full, tail) = (g.out_c / OC_BLOCK, g.out_c % OC_BLOCK);
    if block_outer {
        cx.for_range(full, |cx, blk| {
            for_each_tile(cx, g, tile, &mut |cx, px| block(cx, blk, OC_BLOCK, px))
        })?;
        if tail > 0 {
            let blk = cx.iconst(full as i64);
            for_each_tile(cx, g, tile, &mut |cx, px| block(cx, blk, tail, px))?;
        }
        Ok(())
    } else {
        for_each_tile(cx, g, tile, &mut |cx, px| {
            cx.for_range(full, |cx, blk| block(cx, blk, OC_BLOCK, px))?;
            if tail > 0 {
                let blk = cx.iconst(full as i64);
                block(cx, blk, tail, px)?;
            }
            Ok(())
        })
    }
}

/// Whether no window ever reaches the padding (nothing padded before, the last window ends
/// inside), along height and along width.
fn never_padded(g: &ConvGeometry) -> (bool, bool) {
    let fits = |pad: usize, out: usize, stride: usize, f: usize, dil: usize, image: usize| {
        pad == 0 && (out.max(1) - 1) * stride + (f.max(1) - 1) * dil < image
    };
    (
        fits(
            g.pad[0],
            g.out_h,
            g.stride[0],
            g.filter_h,
            g.dilation[0],
            g.in_h,
        ),
        fits(
            g.pad[1],
            g.out_w,
            g.stride[1],
            g.filter_w,
            g.dilation[1],
            g.in_w,
        ),
    )
}

/// The pixel tile of a forward convolution: two pixels when no window reaches the padding (the
/// taps need no checks and the weights loaded for one pixel serve the next).
fn tile_of(g: &ConvGeometry) -> usize {
    if never_padded(g) == (true, true) && g.out_w >= 2 {
        2
    } else {
        1
    }
}

/// The body of a tap in the padding: `(cx, tap)`.
type Outside<'o> = Option<&'o mut dyn FnMut(&mut KernelCx<'_, '_>, Value) -> Result<()>>;

/// For every filter tap `(fy, fx)` of output pixel `(n, oy, ox)` (runtime loops), with `tap =
/// fy·Kw + fx`: `inside(cx, tap, input_pixel)` when its input position is inside the image
/// (input pixel `(n·H + iy)·W + ix`), else `outside(cx, tap)` if given. Axes whose windows never
/// leave the image are not checked.
fn for_each_tap(
    cx: &mut KernelCx<'_, '_>,
    g: &ConvGeometry,
    (n, oy, ox): (Value, Value, Value),
    inside: &mut dyn FnMut(&mut KernelCx<'_, '_>, Value, Value) -> Result<()>,
    mut outside: Outside<'_>,
) -> Result<()> {
    let (h, w) = (g.in_h as i64, g.in_w as i64);
    let (all_y, all_x) = never_padded(g);
    cx.for_range(g.filter_h, |cx, fy| {
        let iy = cx.b.ins().imul_imm_s(oy, g.stride[0] as i64);
        let dy = cx.b.ins().imul_imm_s(fy, g.dilation[0] as i64);
        let iy = cx.b.ins().iadd(iy, dy);
        let iy = cx.b.ins().iadd_imm_s(iy, -(g.pad[0] as i64));
        let row_in = (!all_y).then(|| cx.in_range(iy, 0, h));
        cx.for_range(g.filter_w, |cx, fx| {
            let ix = cx.b.ins().imul_imm_s(ox, g.stride[1] as i64);
            let dx = cx.b.ins().imul_imm_s(fx, g.dilation[1] as i64);
            let ix = cx.b.ins().iadd(ix, dx);
            let ix = cx.b.ins().iadd_imm_s(ix, -(g.pad[1] as i64));
            let col_in = (!all_x).then(|| cx.in_range(ix, 0, w));
            let tap = cx.b.ins().imul_imm_s(fy, g.filter_w as i64);
            let tap = cx.b.ins().iadd(tap, fx);
            let cond = match (row_in, col_in) {
                (None, None) => None,
                (Some(a), None) | (None, Some(a)) => Some(a),
                (Some(a), Some(b)) => Some(cx.b.ins().band(a, b)),
            };
            let mut run_inside = |cx: &mut KernelCx<'_, '_>| {
                let row = cx.b.ins().imul_imm_s(n, h);
                let row = cx.b.ins().iadd(row, iy);
                let pix = cx.b.ins().imul_imm_s(row, w);
                let pix = cx.b.ins().iadd(pix, ix);
                inside(cx, tap, pix)
            };
            match (cond, outside.as_mut()) {
                (None, _) => run_inside(cx),
                (Some(c), None) => cx.if_then(c, run_inside),
                (Some(c), Some(o)) => if_else(cx, c, run_inside, |cx| o(cx, tap)),
            }
        })
    })
}

/// For every filter tap of a tile of output pixels whose windows never reach the padding:
/// `body(cx, tap, input_pixels)`, one input pixel index per output pixel.
#[allow(clippy::type_complexity)] // a callback taking the context, the tap and the pixels
fn for_each_tap_tile(
    cx: &mut KernelCx<'_, '_>,
    g: &ConvGeometry,
    px: &[Pixel],
    body: &mut dyn FnMut(&mut KernelCx<'_, '_>, Value, &[Value]) -> Result<()>,
) -> Result<()> {
    cx.for_range(g.filter_h, |cx, fy| {
        cx.for_range(g.filter_w, |cx, fx| {
            let dy = cx.b.ins().imul_imm_s(fy, g.dilation[0] as i64);
            let dx = cx.b.ins().imul_imm_s(fx, g.dilation[1] as i64);
            let mut pixs = Vec::with_capacity(px.len());
            for p in px {
                let iy = cx.b.ins().imul_imm_s(p.oy, g.stride[0] as i64);
                let iy = cx.b.ins().iadd(iy, dy);
                let ix = cx.b.ins().imul_imm_s(p.ox, g.stride[1] as i64);
                let ix = cx.b.ins().iadd(ix, dx);
                let row = cx.b.ins().imul_imm_s(p.n, g.in_h as i64);
                let row = cx.b.ins().iadd(row, iy);
                let pix = cx.b.ins().imul_imm_s(row, g.in_w as i64);
                pixs.push(cx.b.ins().iadd(pix, ix));
            }
            let tap = cx.b.ins().imul_imm_s(fy, g.filter_w as i64);
            let tap = cx.b.ins().iadd(tap, fx);
            body(cx, tap, &pixs)
        })
    })
}

/// Most taps a depthwise window may have to be unrolled.
const UNROLL_TAPS: usize = 25;

/// The taps of a depthwise output pixel `p`. When the whole window lies inside the image (a run
/// time check, skipped when no window reaches the padding), the taps unrolled with constant
/// offsets: `fast(cx, tap, input)` with `input` the address of the tap's input pixel (`x` +
/// pixel · `row_bytes`); otherwise, and for windows of more than [`UNROLL_TAPS`] taps,
/// `slow(cx)`.
fn depthwise_window(
    cx: &mut KernelCx<'_, '_>,
    g: &ConvGeometry,
    p: Pixel,
    (x, row_bytes): (Value, usize),
    fast: &mut dyn FnMut(&mut KernelCx<'_, '_>, usize, Value) -> Result<()>,
    slow: &mut dyn FnMut(&mut KernelCx<'_, '_>) -> Result<()>,
) -> Result<()> {
    if g.filter_h * g.filter_w > UNROLL_TAPS {
        return slow(cx);
    }
    let (all_y, all_x) = never_padded(g);
    let iy0 = cx.b.ins().imul_imm_s(p.oy, g.stride[0] as i64);
    let iy0 = cx.b.ins().iadd_imm_s(iy0, -(g.pad[0] as i64));
    let ix0 = cx.b.ins().imul_imm_s(p.ox, g.stride[1] as i64);
    let ix0 = cx.b.ins().iadd_imm_s(ix0, -(g.pad[1] as i64));
    let span_y = ((g.filter_h.max(1) - 1) * g.dilation[0]) as i64;
    let span_x = ((g.filter_w.max(1) - 1) * g.dilation[1]) as i64;
    let row_in = (!all_y).then(|| cx.in_range(iy0, 0, g.in_h as i64 - span_y));
    let col_in = (!all_x).then(|| cx.in_range(ix0, 0, g.in_w as i64 - span_x));
    let cond = match (row_in, col_in) {
        (None, None) => None,
        (Some(a), None) | (None, Some(a)) => Some(a),
        (Some(a), Some(b)) => Some(cx.b.ins().band(a, b)),
    };
    let mut run_fast = |cx: &mut KernelCx<'_, '_>| {
        let row = cx.b.ins().imul_imm_s(p.n, g.in_h as i64);
        let row = cx.b.ins().iadd(row, iy0);
        let pix = cx.b.ins().imul_imm_s(row, g.in_w as i64);
        let pix = cx.b.ins().iadd(pix, ix0);
        let base = offset(cx, x, pix, row_bytes);
        for fy in 0..g.filter_h {
            for fx in 0..g.filter_w {
                let step = (fy * g.dilation[0] * g.in_w + fx * g.dilation[1]) * row_bytes;
                let a = cx.b.ins().iadd_imm_s(base, step as i64);
                fast(cx, fy * g.filter_w + fx, a)?;
            }
        }
        Ok(())
    };
    match cond {
        None => run_fast(cx),
        Some(c) => if_else(cx, c, run_fast, slow),
    }
}

/// Whether every block of 16 output channels lies in one group.
fn blocks_fit_groups(p: &Conv2dParams) -> bool {
    p.groups <= 1 || (p.geom.out_c / p.groups.max(1)).is_multiple_of(OC_BLOCK)
}

/// The input channel offset (elements) of the group of the block starting at output channel
/// `c0` (a runtime value), for grouped convolutions ([`blocks_fit_groups`]); `None` for one
/// group.
fn group_offset(cx: &mut KernelCx<'_, '_>, p: &Conv2dParams, c0: Value) -> Option<Value> {
    if p.groups <= 1 {
        return None;
    }
    let per_group = cx.iconst((p.geom.out_c / p.groups).max(1) as i64);
    let group = cx.b.ins().udiv(c0, per_group);
    Some(cx.b.ins().imul_imm_s(group, p.filter_in_c() as i64))
}

/// `base + index · scale` (bytes).
fn offset(cx: &mut KernelCx<'_, '_>, base: Value, index: Value, scale: usize) -> Value {
    let o = cx.b.ins().imul_imm_s(index, scale as i64);
    cx.b.ins().iadd(base, o)
}

/// Whether the loop over blocks should be the outer one: when the packed weights (`w_len`
/// elements) outweigh the input (they are then what must stay in cache).
fn blocks_outer(g: &ConvGeometry, w_len: usize) -> bool {
    w_len > g.input_len()
}

/// Finishes a float block: the bias, the activation, the optional residual ADD and its clamp,
/// the store; `lanes` channels from `c0` (a runtime value) at output element `first`.
#[allow(clippy::too_many_arguments)] // the block's position, its data and its epilogue
fn finish_block(
    cx: &mut KernelCx<'_, '_>,
    acc: [Variable; 4],
    bias: Value,
    act: ActF32,
    residual: Option<(ActF32, Value)>,
    out: Value,
    first: Value,
    (c0, lanes): (Value, usize),
) {
    let off = cx.b.ins().iadd(first, c0);
    let byte = cx.b.ins().imul_imm_s(off, 4);
    let bp = offset(cx, bias, c0, 4);
    let b = load16(cx, bp, lanes);
    let mut v = acc.map(|a| cx.b.use_var(a));
    for (x, b) in v.iter_mut().zip(b) {
        let s = cx.b.ins().fadd(*x, b);
        *x = clamp_f32x4(cx, s, act);
    }
    if let Some((add_act, res)) = residual {
        let rp = cx.b.ins().iadd(res, byte);
        let r = load16(cx, rp, lanes);
        for (x, r) in v.iter_mut().zip(r) {
            let s = cx.b.ins().fadd(*x, r);
            *x = clamp_f32x4(cx, s, add_act);
        }
    }
    let op = cx.b.ins().iadd(out, byte);
    store16(cx, v, op, lanes);
}

/// The operands of a forward convolution `(input, filter, bias, residual, output)` checked
/// against the kernel: `n` channels of `k` taps, `size` bytes per element.
#[allow(clippy::type_complexity)] // input, filter, bias, residual, output
fn forward_operands(
    cx: &mut KernelCx<'_, '_>,
    g: &ConvGeometry,
    (n, k, size): (usize, usize, usize),
    weights: Weights,
    residual: bool,
) -> Result<(Region, Region, Option<Region>, Option<Region>, Region)> {
    let x = cx.input(0)?;
    let w = cx.input(1)?;
    let b = match weights {
        Weights::Packed => Some(cx.input(2)?),
        Weights::Model => cx.opt_input(2)?,
    };
    let r = if residual { Some(cx.input(3)?) } else { None };
    let out = cx.output(0)?;
    expect(cx, "the input", &x, size, g.input_len())?;
    let w_len = match weights {
        Weights::Packed => blocked_len(n, k),
        Weights::Model => n * k,
    };
    expect(cx, "the filter", &w, size, w_len)?;
    if let Some(b) = &b {
        expect(cx, "the bias", b, 4, n)?;
    }
    if let Some(r) = &r {
        expect(cx, "the residual", r, size, g.output_len())?;
    }
    expect(cx, "the output", &out, size, g.output_len())?;
    Ok((x, w, b, r, out))
}

/// Float CONV_2D with packed weights.
///
/// # Errors
/// Operand sizes that do not match.
pub fn conv_2d_f32_packed(
    cx: &mut KernelCx<'_, '_>,
    p: &Conv2dParams,
    act: ActF32,
    residual: Option<ActF32>,
) -> Result<()> {
    if !blocks_fit_groups(p) {
        return scalar_f32(cx, &Layout::conv(p, Weights::Packed), act, residual);
    }
    let g = p.geom;
    let fic = p.filter_in_c();
    let ci = g.in_c;
    let k = g.filter_h * g.filter_w * fic;
    let (x, w, b, r, out) =
        forward_operands(cx, &g, (g.out_c, k, 4), Weights::Packed, residual.is_some())?;
    let Some(b) = b else {
        return Err(cx.err("the packed bias is missing"));
    };
    let res = residual.zip(r.map(|r| r.base));
    let outer = blocks_outer(&g, blocked_len(g.out_c, k));
    for_each_block(cx, &g, tile_of(&g), outer, &mut |cx, blk, lanes, px| {
        let c0 = cx.b.ins().imul_imm_s(blk, OC_BLOCK as i64);
        let zero = cx.f32const(0.0);
        let zero = cx.b.ins().splat(F32X4, zero);
        let accs: Vec<[Variable; 4]> = px
            .iter()
            .map(|_| accumulators(cx, F32X4, [zero; 4]))
            .collect();
        let wblk = offset(cx, w.base, blk, k * OC_BLOCK * 4);
        let xoff = group_offset(cx, p, c0);
        // The input row of a pixel at a tap: x + (pix·Ci + group offset)·4.
        let x_row = |cx: &mut KernelCx<'_, '_>, pix: Value| {
            let xi = offset(cx, x.base, pix, ci * 4);
            match xoff {
                Some(o) => offset(cx, xi, o, 4),
                None => xi,
            }
        };
        let mut tap_body = |cx: &mut KernelCx<'_, '_>, tap: Value, pixs: &[Value]| {
            // Weights of this tap: [fic][16] from tap·fic·16.
            let wt = offset(cx, wblk, tap, fic * OC_BLOCK * 4);
            let xis: Vec<Value> = pixs.iter().map(|&pix| x_row(cx, pix)).collect();
            cx.for_range(fic, |cx, c| {
                let wa = offset(cx, wt, c, OC_BLOCK * 4);
                let wv: [Value; 4] =
                    std::array::from_fn(|j| cx.b.ins().load(F32X4, flags(), wa, (j * 16) as i32));
                for (xi, acc) in xis.iter().zip(&accs) {
                    let xa = offset(cx, *xi, c, 4);
                    let xv = cx.b.ins().load(types::F32, flags(), xa, 0);
                    let xs = cx.b.ins().splat(F32X4, xv);
                    for (var, wv) in acc.iter().zip(wv) {
                        let a = cx.b.use_var(*var);
                        let m = cx.b.ins().fmul(xs, wv);
                        let s = cx.b.ins().fadd(a, m);
                        cx.b.def_var(*var, s);
                    }
                }
                Ok(())
            })
        };
        if px.len() == 1 {
            let p0 = px[0];
            let mut inside =
                |cx: &mut KernelCx<'_, '_>, tap: Value, pix: Value| tap_body(cx, tap, &[pix]);
            for_each_tap(cx, &g, (p0.n, p0.oy, p0.ox), &mut inside, None)?;
        } else {
            for_each_tap_tile(cx, &g, px, &mut tap_body)?;
        }
        for (p, acc) in px.iter().zip(accs) {
            finish_block(cx, acc, b.base, act, res, out.base, p.first, (c0, lanes));
        }
        Ok(())
    })
}

/// The input offsets (elements) of the 16 lanes of a depthwise block with depth multiplier
/// `m`: lane `l` reads input channel `(c0 + l) / m`. Runtime values (`c0` is).
/// The 16 float inputs of a depthwise block at pixel address `xp`: channels `c0..c0 + lanes`
/// (one wide load), or with a depth multiplier the input channel of each output lane (`chans`,
/// element offsets), gathered lane by lane.
fn depthwise_inputs_f32(
    cx: &mut KernelCx<'_, '_>,
    xp: Value,
    c0: Value,
    chans: Option<&[Value]>,
    lanes: usize,
) -> [Value; 4] {
    let Some(chans) = chans else {
        let xa = offset(cx, xp, c0, 4);
        return load16(cx, xa, lanes);
    };
    let zero = cx.f32const(0.0);
    let mut vs = [zero; 4];
    for (j, v) in vs.iter_mut().enumerate() {
        let mut vec = cx.b.ins().splat(F32X4, zero);
        for l in 0..4 {
            if let Some(&c) = chans.get(j * 4 + l) {
                let e = cx.load(types::F32, xp, c);
                vec = cx.b.ins().insertlane(vec, e, l as u8);
            }
        }
        *v = vec;
    }
    vs
}

/// `acc[j] += xs[j] · w[j]` for the four `f32x4` weight vectors at `w + at` (multiply, then add:
/// no fused multiply-add, as the reference kernel rounds).
fn mul_add_block(
    cx: &mut KernelCx<'_, '_>,
    acc: &[Variable; 4],
    xs: [Value; 4],
    w: Value,
    at: usize,
) {
    for (j, var) in acc.iter().enumerate() {
        let wv = cx.b.ins().load(F32X4, flags(), w, (at + j * 16) as i32);
        let a = cx.b.use_var(*var);
        let m = cx.b.ins().fmul(xs[j], wv);
        let s = cx.b.ins().fadd(a, m);
        cx.b.def_var(*var, s);
    }
}

fn depthwise_lanes(cx: &mut KernelCx<'_, '_>, c0: Value, m: usize, lanes: usize) -> Vec<Value> {
    let mv = cx.iconst(m as i64);
    (0..lanes)
        .map(|l| {
            let c = cx.b.ins().iadd_imm_s(c0, l as i64);
            cx.b.ins().udiv(c, mv)
        })
        .collect()
}

/// Float DEPTHWISE_CONV_2D with packed weights.
///
/// # Errors
/// Operand sizes that do not match.
pub fn depthwise_f32_packed(
    cx: &mut KernelCx<'_, '_>,
    p: &DepthwiseConv2dParams,
    act: ActF32,
) -> Result<()> {
    let g = p.geom;
    let m = p.depth_multiplier.max(1);
    let k = g.filter_h * g.filter_w;
    let (x, w, b, _, out) = forward_operands(cx, &g, (g.out_c, k, 4), Weights::Packed, false)?;
    let Some(b) = b else {
        return Err(cx.err("the packed bias is missing"));
    };
    let ci = g.in_c;
    for_each_block(cx, &g, 1, false, &mut |cx, blk, lanes, px| {
        let p0 = px[0];
        let c0 = cx.b.ins().imul_imm_s(blk, OC_BLOCK as i64);
        let zero = cx.f32const(0.0);
        let zero = cx.b.ins().splat(F32X4, zero);
        let acc = accumulators(cx, F32X4, [zero; 4]);
        let wblk = offset(cx, w.base, blk, k * OC_BLOCK * 4);
        let chans = (m > 1).then(|| depthwise_lanes(cx, c0, m, lanes));
        let mut inside = |cx: &mut KernelCx<'_, '_>, tap: Value, pix: Value| {
            let wa = offset(cx, wblk, tap, OC_BLOCK * 4);
            let xp = offset(cx, x.base, pix, ci * 4);
            let xs = depthwise_inputs_f32(cx, xp, c0, chans.as_deref(), lanes);
            mul_add_block(cx, &acc, xs, wa, 0);
            Ok(())
        };
        let mut fast = |cx: &mut KernelCx<'_, '_>, tap: usize, xp: Value| {
            let xs = depthwise_inputs_f32(cx, xp, c0, chans.as_deref(), lanes);
            mul_add_block(cx, &acc, xs, wblk, tap * OC_BLOCK * 4);
            split_block(cx, xp, F32X4, &acc);
            Ok(())
        };
        let mut slow = |cx: &mut KernelCx<'_, '_>| {
            for_each_tap(cx, &g, (p0.n, p0.oy, p0.ox), &mut inside, None)
        };
        depthwise_window(cx, &g, p0, (x.base, ci * 4), &mut fast, &mut slow)?;
        finish_block(cx, acc, b.base, act, None, out.base, p0.first, (c0, lanes));
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Quantized, packed weights.

/// The stored codes of a quantized block: per-channel requantization, output offset, clamp,
/// the optional residual ADD, narrowing; `lanes` channels from `c0` (a runtime value) at output
/// element `first`.
#[allow(clippy::too_many_arguments)] // the block's position, its data and its epilogue
fn finish_block_q(
    cx: &mut KernelCx<'_, '_>,
    qt: QType,
    (q, tables): (&ConvQuant, &RequantTables),
    acc: [Variable; 4],
    residual: Option<(&ResidualQ, Value)>,
    out: Value,
    first: Value,
    (c0, lanes): (Value, usize),
) {
    let off = cx.b.ins().iadd(first, c0);
    let res = residual.map(|(r, base)| {
        let rp = cx.b.ins().iadd(base, off);
        let v = load_bytes16(cx, rp, lanes);
        (r, qt.widen4(cx, v))
    });
    let toff = cx.b.ins().imul_imm_s(c0, 4);
    let mut v = [off; 4];
    for (j, a) in acc.iter().enumerate() {
        let av = cx.b.use_var(*a);
        if j * 4 >= lanes {
            v[j] = av;
            continue;
        }
        let t = cx.b.ins().iadd_imm_s(toff, (j * 16) as i64);
        let y = tables.apply(cx, av, t);
        let o = splat_i32(cx, q.output_offset);
        let y = cx.b.ins().iadd(y, o);
        let y = clamp4(cx, y, q.act);
        v[j] = match &res {
            Some((r, rv)) => residual4(cx, y, rv[j], r),
            None => y,
        };
    }
    let bytes = qt.narrow4(cx, v);
    let op = cx.b.ins().iadd(out, off);
    store_bytes16(cx, bytes, op, lanes);
}

/// TFLite's quantized ADD of a convolution's result codes and residual codes, per lane
/// (`ResidualQ::apply`).
fn residual4(cx: &mut KernelCx<'_, '_>, conv: Value, res: Value, r: &ResidualQ) -> Value {
    let stoe = |m: Requant| {
        [Requant {
            multiplier: m.multiplier,
            shift: m.shift.min(0),
        }; 4]
    };
    let scale = splat_i32(cx, 1i32.wrapping_shl(r.left_shift as u32));
    let co = splat_i32(cx, r.conv_offset);
    let v1 = cx.b.ins().iadd(conv, co);
    let v1 = cx.b.ins().imul(v1, scale);
    let s1 = mbqm4(cx, v1, stoe(r.conv_multiplier));
    let ro = splat_i32(cx, r.residual_offset);
    let v2 = cx.b.ins().iadd(res, ro);
    let v2 = cx.b.ins().imul(v2, scale);
    let s2 = mbqm4(cx, v2, stoe(r.residual_multiplier));
    let sum = cx.b.ins().iadd(s1, s2);
    let raw = mbqm4(cx, sum, stoe(r.output));
    let oo = splat_i32(cx, r.output_offset);
    let raw = cx.b.ins().iadd(raw, oo);
    clamp4(cx, raw, r.act)
}

/// [`residual4`] on one `i32`.
fn residual1(cx: &mut KernelCx<'_, '_>, conv: Value, res: Value, r: &ResidualQ) -> Value {
    let scale = i64::from(1i32.wrapping_shl(r.left_shift as u32));
    let v1 = cx.b.ins().iadd_imm_s(conv, i64::from(r.conv_offset));
    let v1 = cx.b.ins().imul_imm_s(v1, scale);
    let s1 = cx.mbqm(
        v1,
        r.conv_multiplier.multiplier,
        r.conv_multiplier.shift.min(0),
    );
    let v2 = cx.b.ins().iadd_imm_s(res, i64::from(r.residual_offset));
    let v2 = cx.b.ins().imul_imm_s(v2, scale);
    let s2 = cx.mbqm(
        v2,
        r.residual_multiplier.multiplier,
        r.residual_multiplier.shift.min(0),
    );
    let sum = cx.b.ins().iadd(s1, s2);
    let raw = cx.mbqm(sum, r.output.multiplier, r.output.shift.min(0));
    let raw = cx.b.ins().iadd_imm_s(raw, i64::from(r.output_offset));
    cx.clamp_i32(raw, r.act.min, r.act.max)
}

/// The input's zero point (the value padding taps read in the packed kernels) if it is a value
/// of the type (always, for a valid model).
fn pad_code(qt: QType, q: &ConvQuant) -> Option<i32> {
    let z = q.input_offset.wrapping_neg();
    (qt.min()..=qt.max()).contains(&z).then_some(z)
}

/// Quantized CONV_2D.
///
/// # Errors
/// Operand sizes that do not match.
pub fn conv_2d_q(
    cx: &mut KernelCx<'_, '_>,
    p: &Conv2dParams,
    dtype: DType,
    (q, requant): (&ConvQuant, &[Requant]),
    weights: Weights,
    residual: Option<&ResidualQ>,
) -> Result<()> {
    let qt = QType::of(dtype);
    let g = p.geom;
    if requant.len() != g.out_c {
        return Err(cx.err("one multiplier per output channel is needed"));
    }
    let simd = weights == Weights::Packed
        && blocks_fit_groups(p)
        && dot_ok(q.filter_offset)
        && pad_code(qt, q).is_some();
    if !simd {
        return scalar_q(cx, &Layout::conv(p, weights), qt, (q, requant), residual);
    }
    let z = pad_code(qt, q).unwrap_or(0);
    let fic = p.filter_in_c();
    let k = g.filter_h * g.filter_w * fic;
    let (x, w, b, r, out) =
        forward_operands(cx, &g, (g.out_c, k, 1), Weights::Packed, residual.is_some())?;
    let Some(b) = b else {
        return Err(cx.err("the packed bias is missing"));
    };
    let tables = RequantTables::new(cx, requant)?;
    let res = residual.zip(r.map(|r| r.base));
    let fo = q.filter_offset;
    let ci = g.in_c;
    let pairs = fic / 2;
    let (octets, rest_pairs) = (fic / 8, (fic % 8) / 2);
    let odd = fic % 2 == 1;
    let outer = blocks_outer(&g, blocked_len(g.out_c, k));
    for_each_block(cx, &g, tile_of(&g), outer, &mut |cx, blk, lanes, px| {
        let c0 = cx.b.ins().imul_imm_s(blk, OC_BLOCK as i64);
        let bp = offset(cx, b.base, blk, OC_BLOCK * 4);
        let init = load_i32x16(cx, bp, lanes);
        let accs: Vec<[Variable; 4]> = px.iter().map(|_| accumulators(cx, I32X4, init)).collect();
        let wblk = offset(cx, w.base, blk, k * OC_BLOCK);
        let xoff = group_offset(cx, p, c0);
        let x_row = |cx: &mut KernelCx<'_, '_>, pix: Value| {
            let xi = offset(cx, x.base, pix, ci);
            match xoff {
                Some(o) => cx.b.ins().iadd(xi, o),
                None => xi,
            }
        };
        // Σ over the tap's input channels, two at a time, for every pixel of the tile.
        let mut tap_body = |cx: &mut KernelCx<'_, '_>, tap: Value, pixs: &[Value]| {
            let wt = offset(cx, wblk, tap, fic * OC_BLOCK);
            let xis: Vec<Value> = pixs.iter().map(|&pix| x_row(cx, pix)).collect();
            // Eight input channels per iteration: one 8-byte load per pixel gives four pairs.
            cx.for_range(octets, |cx, i| {
                let wa = offset(cx, wt, i, 8 * OC_BLOCK);
                let xps: Vec<[Value; 4]> = xis
                    .iter()
                    .map(|&xi| {
                        let xa = offset(cx, xi, i, 8);
                        xpairs4(cx, qt, xa)
                    })
                    .collect();
                for j in 0..4 {
                    let wj = cx.b.ins().iadd_imm_s(wa, (j * 2 * OC_BLOCK) as i64);
                    let parts = weight_pair(cx, qt, (wj, false), fo);
                    for (xp, acc) in xps.iter().zip(&accs) {
                        dot_parts(cx, &parts, xp[j], acc);
                    }
                    if j < 3 {
                        let vars: Vec<Variable> = accs.iter().flatten().copied().collect();
                        split_block(cx, i, I32X4, &vars);
                    }
                }
                Ok(())
            })?;
            for j in 0..rest_pairs {
                let c = octets * 8 + 2 * j;
                let wa = cx.b.ins().iadd_imm_s(wt, (c * OC_BLOCK) as i64);
                let parts = weight_pair(cx, qt, (wa, false), fo);
                for (xi, acc) in xis.iter().zip(&accs) {
                    let xa = cx.b.ins().iadd_imm_s(*xi, c as i64);
                    let xp = xpair(cx, qt, xa);
                    dot_parts(cx, &parts, xp, acc);
                }
            }
            if odd {
                let wa = cx.b.ins().iadd_imm_s(wt, ((fic - 1) * OC_BLOCK) as i64);
                let parts = weight_pair(cx, qt, (wa, true), fo);
                for (xi, acc) in xis.iter().zip(&accs) {
                    let xa = cx.b.ins().iadd_imm_s(*xi, (fic - 1) as i64);
                    let xp = xsingle(cx, qt, xa);
                    dot_parts(cx, &parts, xp, acc);
                }
            }
            Ok(())
        };
        if px.len() == 1 {
            let p0 = px[0];
            let acc = &accs[0];
            let mut outside = |cx: &mut KernelCx<'_, '_>, tap: Value| {
                // The tap reads the zero point z for every channel.
                let wt = offset(cx, wblk, tap, fic * OC_BLOCK);
                let xp = xpair_const(cx, z as i16, z as i16);
                cx.for_range(pairs, |cx, i| {
                    let wa = offset(cx, wt, i, 2 * OC_BLOCK);
                    dot_pair(cx, qt, (wa, false), fo, xp, acc);
                    Ok(())
                })?;
                if odd {
                    let xp = xpair_const(cx, z as i16, 0);
                    let wa = cx.b.ins().iadd_imm_s(wt, ((fic - 1) * OC_BLOCK) as i64);
                    dot_pair(cx, qt, (wa, true), fo, xp, acc);
                }
                Ok(())
            };
            let outside: Outside<'_> = if z != 0 { Some(&mut outside) } else { None };
            let mut inside =
                |cx: &mut KernelCx<'_, '_>, tap: Value, pix: Value| tap_body(cx, tap, &[pix]);
            for_each_tap(cx, &g, (p0.n, p0.oy, p0.ox), &mut inside, outside)?;
        } else {
            for_each_tap_tile(cx, &g, px, &mut tap_body)?;
        }
        for (p, acc) in px.iter().zip(accs) {
            finish_block_q(
                cx,
                qt,
                (q, &tables),
                acc,
                res,
                out.base,
                p.first,
                (c0, lanes),
            );
        }
        Ok(())
    })
}

/// Adds `(w + fo)·x` for 16 lanes of bytes `x` and `w` to a block's accumulators: 16-bit
/// products where they fit (`fo == 0`), else widening 32-bit products.
fn madd16(
    cx: &mut KernelCx<'_, '_>,
    qt: QType,
    fo: i32,
    (x, w): (Value, Value),
    acc: &[Variable; 4],
) {
    let xl = qt.widen_low(cx, x);
    let xh = qt.widen_high(cx, x);
    let wl = qt.widen_low(cx, w);
    let wh = qt.widen_high(cx, w);
    let parts = if fo == 0 {
        // |x·w| ≤ 2^14 for int8; < 2^16 (unsigned) for uint8.
        let pl = cx.b.ins().imul(xl, wl);
        let ph = cx.b.ins().imul(xh, wh);
        [
            qt.widen_low(cx, pl),
            qt.widen_high(cx, pl),
            qt.widen_low(cx, ph),
            qt.widen_high(cx, ph),
        ]
    } else {
        let f = vconst_i16(cx, [fo as i16; 8]);
        let wl = cx.b.ins().iadd(wl, f);
        let wh = cx.b.ins().iadd(wh, f);
        let mut parts = [x; 4];
        for (h, (xs, ws)) in [(xl, wl), (xh, wh)].into_iter().enumerate() {
            let a = cx.b.ins().swiden_low(xs);
            let b = cx.b.ins().swiden_low(ws);
            parts[2 * h] = cx.b.ins().imul(a, b);
            let a = cx.b.ins().swiden_high(xs);
            let b = cx.b.ins().swiden_high(ws);
            parts[2 * h + 1] = cx.b.ins().imul(a, b);
        }
        parts
    };
    for (p, a) in parts.into_iter().zip(acc) {
        add_to(cx, *a, p);
    }
}

/// Quantized DEPTHWISE_CONV_2D.
///
/// # Errors
/// Operand sizes that do not match.
pub fn depthwise_q(
    cx: &mut KernelCx<'_, '_>,
    p: &DepthwiseConv2dParams,
    dtype: DType,
    (q, requant): (&ConvQuant, &[Requant]),
    weights: Weights,
) -> Result<()> {
    let qt = QType::of(dtype);
    let g = p.geom;
    if requant.len() != g.out_c {
        return Err(cx.err("one multiplier per output channel is needed"));
    }
    let simd = weights == Weights::Packed && dot_ok(q.filter_offset) && pad_code(qt, q).is_some();
    if !simd {
        return scalar_q(cx, &Layout::depthwise(p, weights), qt, (q, requant), None);
    }
    let z = pad_code(qt, q).unwrap_or(0);
    let m = p.depth_multiplier.max(1);
    let k = g.filter_h * g.filter_w;
    let (x, w, b, _, out) = forward_operands(cx, &g, (g.out_c, k, 1), Weights::Packed, false)?;
    let Some(b) = b else {
        return Err(cx.err("the packed bias is missing"));
    };
    let tables = RequantTables::new(cx, requant)?;
    let fo = q.filter_offset;
    let ci = g.in_c;
    for_each_block(cx, &g, 1, false, &mut |cx, blk, lanes, px| {
        let p0 = px[0];
        let c0 = cx.b.ins().imul_imm_s(blk, OC_BLOCK as i64);
        let bp = offset(cx, b.base, blk, OC_BLOCK * 4);
        let init = load_i32x16(cx, bp, lanes);
        let acc = accumulators(cx, I32X4, init);
        let wblk = offset(cx, w.base, blk, k * OC_BLOCK);
        let chans = (m > 1).then(|| depthwise_lanes(cx, c0, m, lanes));
        let tap_weights = |cx: &mut KernelCx<'_, '_>, tap: Value| {
            let wa = offset(cx, wblk, tap, OC_BLOCK);
            cx.b.ins().load(I8X16, flags(), wa, 0)
        };
        let mut inside = |cx: &mut KernelCx<'_, '_>, tap: Value, pix: Value| {
            let wv = tap_weights(cx, tap);
            let xp = offset(cx, x.base, pix, ci);
            let xv = match &chans {
                None => {
                    let xa = cx.b.ins().iadd(xp, c0);
                    load_bytes16(cx, xa, lanes)
                }
                Some(chans) => {
                    // Lane l reads input channel (c0 + l) / m.
                    let mut v = vconst(cx, I8X16, [0; 16]);
                    for (l, &c) in chans.iter().enumerate() {
                        let a = cx.b.ins().iadd(xp, c);
                        let e = cx.b.ins().load(types::I8, flags(), a, 0);
                        v = cx.b.ins().insertlane(v, e, l as u8);
                    }
                    v
                }
            };
            madd16(cx, qt, fo, (xv, wv), &acc);
            Ok(())
        };
        let mut outside = |cx: &mut KernelCx<'_, '_>, tap: Value| {
            let wv = tap_weights(cx, tap);
            let xv = vconst(cx, I8X16, [z as u8; 16]);
            madd16(cx, qt, fo, (xv, wv), &acc);
            Ok(())
        };
        let mut fast = |cx: &mut KernelCx<'_, '_>, tap: usize, xp: Value| {
            let wv =
                cx.b.ins()
                    .load(I8X16, flags(), wblk, (tap * OC_BLOCK) as i32);
            let xv = match &chans {
                None => {
                    let xa = cx.b.ins().iadd(xp, c0);
                    load_bytes16(cx, xa, lanes)
                }
                Some(chans) => {
                    let mut v = vconst(cx, I8X16, [0; 16]);
                    for (l, &c) in chans.iter().enumerate() {
                        let a = cx.b.ins().iadd(xp, c);
                        let e = cx.b.ins().load(types::I8, flags(), a, 0);
                        v = cx.b.ins().insertlane(v, e, l as u8);
                    }
                    v
                }
            };
            madd16(cx, qt, fo, (xv, wv), &acc);
            split_block(cx, xp, I32X4, &acc);
            Ok(())
        };
        let mut slow = |cx: &mut KernelCx<'_, '_>| {
            let outside: Outside<'_> = if z != 0 { Some(&mut outside) } else { None };
            for_each_tap(cx, &g, (p0.n, p0.oy, p0.ox), &mut inside, outside)
        };
        depthwise_window(cx, &g, p0, (x.base, ci), &mut fast, &mut slow)?;
        finish_block_q(
            cx,
            qt,
            (q, &tables),
            acc,
            None,
            out.base,
            p0.first,
            (c0, lanes),
        );
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Scalar forward convolutions.

/// How a scalar forward convolution addresses its filter and input channels.
#[derive(Clone, Copy, Debug)]
struct Layout {
    geom: ConvGeometry,
    /// Input channels read per output channel.
    fic: usize,
    /// Output channels per group (CONV_2D) or depth multiplier (DEPTHWISE_CONV_2D).
    per: usize,
    depthwise: bool,
    weights: Weights,
}

impl Layout {
    fn conv(p: &Conv2dParams, weights: Weights) -> Layout {
        Layout {
            geom: p.geom,
            fic: p.filter_in_c(),
            per: p.geom.out_c / p.groups.max(1),
            depthwise: false,
            weights,
        }
    }

    fn depthwise(p: &DepthwiseConv2dParams, weights: Weights) -> Layout {
        Layout {
            geom: p.geom,
            fic: 1,
            per: p.depth_multiplier.max(1),
            depthwise: true,
            weights,
        }
    }

    /// Taps per channel in the filter (the `k` of the packed layout).
    fn k(&self) -> usize {
        self.geom.filter_h * self.geom.filter_w * self.fic
    }

    /// The first input channel output channel `oc` reads.
    fn input_channel(&self, cx: &mut KernelCx<'_, '_>, oc: Value) -> Value {
        let per = cx.iconst(self.per.max(1) as i64);
        let group = cx.b.ins().udiv(oc, per);
        if self.depthwise {
            group
        } else {
            cx.b.ins().imul_imm_s(group, self.fic as i64)
        }
    }

    /// The element index of the filter at channel `oc`, tap `tap` (`fy·Kw + fx`), input channel
    /// `ic` of the group.
    fn weight(&self, cx: &mut KernelCx<'_, '_>, oc: Value, tap: Value, ic: Value) -> Value {
        let g = &self.geom;
        match (self.weights, self.depthwise) {
            (Weights::Packed, _) => {
                // ((oc / 16)·k + tap·fic + ic)·16 + oc % 16
                let t = cx.b.ins().imul_imm_s(tap, self.fic as i64);
                let t = cx.b.ins().iadd(t, ic);
                let blk = cx.b.ins().ushr_imm_s(oc, 4);
                let blk = cx.b.ins().imul_imm_s(blk, self.k() as i64);
                let i = cx.b.ins().iadd(blk, t);
                let i = cx.b.ins().imul_imm_s(i, OC_BLOCK as i64);
                let lane = cx.b.ins().band_imm_s(oc, (OC_BLOCK - 1) as i64);
                cx.b.ins().iadd(i, lane)
            }
            (Weights::Model, false) => {
                // (oc·Kh·Kw + tap)·fic + ic
                let i = cx.b.ins().imul_imm_s(oc, (g.filter_h * g.filter_w) as i64);
                let i = cx.b.ins().iadd(i, tap);
                let i = cx.b.ins().imul_imm_s(i, self.fic as i64);
                cx.b.ins().iadd(i, ic)
            }
            (Weights::Model, true) => {
                // tap·Co + oc
                let i = cx.b.ins().imul_imm_s(tap, g.out_c as i64);
                cx.b.ins().iadd(i, oc)
            }
        }
    }
}

/// Scalar float forward convolution (any layout): `act(Σ x·w + bias)` summed over filter rows,
/// columns, then input channels, padding taps skipped, the bias added last; then the optional
/// residual ADD.
fn scalar_f32(
    cx: &mut KernelCx<'_, '_>,
    l: &Layout,
    act: ActF32,
    residual: Option<ActF32>,
) -> Result<()> {
    let g = l.geom;
    let (x, w, b, r, out) =
        forward_operands(cx, &g, (g.out_c, l.k(), 4), l.weights, residual.is_some())?;
    let fic = l.fic;
    for_each_pixel(cx, &g, |cx, n, oy, ox, first| {
        cx.for_range(g.out_c, |cx, oc| {
            let zero = cx.f32const(0.0);
            let total = var(cx, types::F32, zero);
            let icb = l.input_channel(cx, oc);
            let mut inside = |cx: &mut KernelCx<'_, '_>, tap: Value, pix: Value| {
                let xr = cx.b.ins().imul_imm_s(pix, g.in_c as i64);
                let xr = cx.b.ins().iadd(xr, icb);
                cx.for_range(fic, |cx, ic| {
                    let xi = cx.b.ins().iadd(xr, ic);
                    let xv = cx.load(types::F32, x.base, xi);
                    let wi = l.weight(cx, oc, tap, ic);
                    let wv = cx.load(types::F32, w.base, wi);
                    let m = cx.b.ins().fmul(xv, wv);
                    let t = cx.b.use_var(total);
                    let s = cx.b.ins().fadd(t, m);
                    cx.b.def_var(total, s);
                    Ok(())
                })
            };
            for_each_tap(cx, &g, (n, oy, ox), &mut inside, None)?;
            let mut v = cx.b.use_var(total);
            if let Some(b) = &b {
                let bv = cx.load(types::F32, b.base, oc);
                v = cx.b.ins().fadd(v, bv);
            }
            v = cx.clamp_f32(v, act.min, act.max);
            let o = cx.b.ins().iadd(first, oc);
            if let (Some(add), Some(r)) = (residual, &r) {
                let rv = cx.load(types::F32, r.base, o);
                let s = cx.b.ins().fadd(v, rv);
                v = cx.clamp_f32(s, add.min, add.max);
            }
            cx.store(v, out.base, o);
            Ok(())
        })
    })
}

/// Scalar quantized forward convolution (any layout).
///
/// Model form: `Σ (w + filter_offset)·(x + input_offset)` over taps inside the image, plus the
/// bias. Packed: the folded bias plus `Σ (w + filter_offset)·x` over every tap, padding taps
/// reading the input's zero point (the reference's `Σ w·x + filter_offset·Σ x`, equal in
/// wrapping arithmetic). Then per channel `MultiplyByQuantizedMultiplier`, the output offset,
/// the clamp and the optional residual ADD.
fn scalar_q(
    cx: &mut KernelCx<'_, '_>,
    l: &Layout,
    qt: QType,
    (q, requant): (&ConvQuant, &[Requant]),
    residual: Option<&ResidualQ>,
) -> Result<()> {
    let g = l.geom;
    let (x, w, b, r, out) =
        forward_operands(cx, &g, (g.out_c, l.k(), 1), l.weights, residual.is_some())?;
    let tables = requant_tables(cx, requant)?;
    let packed = l.weights == Weights::Packed;
    let fic = l.fic;
    let io = if packed { 0 } else { q.input_offset };
    let z = q.input_offset.wrapping_neg();
    let fo = q.filter_offset;
    for_each_pixel(cx, &g, |cx, n, oy, ox, first| {
        cx.for_range(g.out_c, |cx, oc| {
            let init = match &b {
                Some(b) => cx.load(types::I32, b.base, oc),
                None => cx.i32const(0),
            };
            let acc = var(cx, types::I32, init);
            let icb = l.input_channel(cx, oc);
            let mut inside = |cx: &mut KernelCx<'_, '_>, tap: Value, pix: Value| {
                let xr = cx.b.ins().imul_imm_s(pix, g.in_c as i64);
                let xr = cx.b.ins().iadd(xr, icb);
                cx.for_range(fic, |cx, ic| {
                    let xi = cx.b.ins().iadd(xr, ic);
                    let xv = qt.load_at(cx, x.base, xi);
                    let xv = cx.b.ins().iadd_imm_s(xv, i64::from(io));
                    let wi = l.weight(cx, oc, tap, ic);
                    let wv = qt.load_at(cx, w.base, wi);
                    let wv = cx.b.ins().iadd_imm_s(wv, i64::from(fo));
                    let m = cx.b.ins().imul(wv, xv);
                    add_to(cx, acc, m);
                    Ok(())
                })
            };
            let mut outside = |cx: &mut KernelCx<'_, '_>, tap: Value| {
                cx.for_range(fic, |cx, ic| {
                    let wi = l.weight(cx, oc, tap, ic);
                    let wv = qt.load_at(cx, w.base, wi);
                    let wv = cx.b.ins().iadd_imm_s(wv, i64::from(fo));
                    let m = cx.b.ins().imul_imm_s(wv, i64::from(z));
                    add_to(cx, acc, m);
                    Ok(())
                })
            };
            let outside: Outside<'_> = if packed && z != 0 {
                Some(&mut outside)
            } else {
                None
            };
            for_each_tap(cx, &g, (n, oy, ox), &mut inside, outside)?;
            let a = cx.b.use_var(acc);
            let v = mbqm_table(cx, a, tables, oc);
            let v = cx.b.ins().iadd_imm_s(v, i64::from(q.output_offset));
            let mut v = cx.clamp_i32(v, q.act.min, q.act.max);
            let o = cx.b.ins().iadd(first, oc);
            if let (Some(rq), Some(r)) = (residual, &r) {
                let rv = qt.load_at(cx, r.base, o);
                v = residual1(cx, v, rv, rq);
            }
            let oa = cx.b.ins().iadd(out.base, o);
            qt.store(cx, v, oa, 0);
            Ok(())
        })
    })
}

/// Float CONV_2D with weights in the model's form.
///
/// # Errors
/// Operand sizes that do not match.
pub fn conv_2d_f32_model(
    cx: &mut KernelCx<'_, '_>,
    p: &Conv2dParams,
    act: ActF32,
    residual: Option<ActF32>,
) -> Result<()> {
    scalar_f32(cx, &Layout::conv(p, Weights::Model), act, residual)
}

/// Float DEPTHWISE_CONV_2D with weights in the model's form.
///
/// # Errors
/// Operand sizes that do not match.
pub fn depthwise_f32_model(
    cx: &mut KernelCx<'_, '_>,
    p: &DepthwiseConv2dParams,
    act: ActF32,
) -> Result<()> {
    scalar_f32(cx, &Layout::depthwise(p, Weights::Model), act, None)
}

// ---------------------------------------------------------------------------------------------
// TRANSPOSE_CONV.

/// The operands of TRANSPOSE_CONV `(filter, input, bias, output)` checked against the
/// geometry (`size` bytes per element).
fn transpose_operands(
    cx: &mut KernelCx<'_, '_>,
    g: &ConvGeometry,
    size: usize,
) -> Result<(Region, Region, Option<Region>, Region)> {
    let w = cx.input(1)?;
    let x = cx.input(2)?;
    let b = cx.opt_input(3)?;
    let out = cx.output(0)?;
    expect(
        cx,
        "the filter",
        &w,
        size,
        g.out_c * g.filter_h * g.filter_w * g.in_c,
    )?;
    expect(cx, "the input", &x, size, g.input_len())?;
    if let Some(b) = &b {
        expect(cx, "the bias", b, 4, g.out_c)?;
    }
    expect(cx, "the output", &out, size, g.output_len())?;
    Ok((w, x, b, out))
}

/// Fills `n` elements of 4 bytes at `p` with zeros.
fn zero_fill(cx: &mut KernelCx<'_, '_>, p: Value, n: usize) -> Result<()> {
    let zero = vconst(cx, I8X16, [0; 16]);
    cx.for_range(n / 4, |cx, i| {
        let a = cx.b.ins().imul_imm_s(i, 16);
        let a = cx.b.ins().iadd(p, a);
        cx.b.ins().store(uflags(), zero, a, 0);
        Ok(())
    })?;
    let z = cx.i32const(0);
    for i in (n / 4) * 4..n {
        cx.b.ins().store(flags(), z, p, (i * 4) as i32);
    }
    Ok(())
}

/// The scatter of TRANSPOSE_CONV in the reference's order: for every input element `(b, iy, ix,
/// ic)`, filter tap `(fy, fx)` whose output position is inside the output, and output channel
/// `oc`: `body(cx, out_index, filter_index, input_index)`.
fn scatter(
    cx: &mut KernelCx<'_, '_>,
    g: &ConvGeometry,
    body: &mut dyn FnMut(&mut KernelCx<'_, '_>, Value, Value, Value) -> Result<()>,
) -> Result<()> {
    cx.for_range(g.batches, |cx, b| {
        cx.for_range(g.in_h, |cx, iy| {
            cx.for_range(g.in_w, |cx, ix| {
                let row = cx.b.ins().imul_imm_s(b, g.in_h as i64);
                let row = cx.b.ins().iadd(row, iy);
                let pix = cx.b.ins().imul_imm_s(row, g.in_w as i64);
                let pix = cx.b.ins().iadd(pix, ix);
                let xbase = cx.b.ins().imul_imm_s(pix, g.in_c as i64);
                cx.for_range(g.in_c, |cx, ic| {
                    let xi = cx.b.ins().iadd(xbase, ic);
                    cx.for_range(g.filter_h, |cx, fy| {
                        let oy = cx.b.ins().imul_imm_s(iy, g.stride[0] as i64);
                        let oy = cx.b.ins().iadd(oy, fy);
                        let oy = cx.b.ins().iadd_imm_s(oy, -(g.pad[0] as i64));
                        let in_y = cx.in_range(oy, 0, g.out_h as i64);
                        cx.if_then(in_y, |cx| {
                            cx.for_range(g.filter_w, |cx, fx| {
                                let ox = cx.b.ins().imul_imm_s(ix, g.stride[1] as i64);
                                let ox = cx.b.ins().iadd(ox, fx);
                                let ox = cx.b.ins().iadd_imm_s(ox, -(g.pad[1] as i64));
                                let in_x = cx.in_range(ox, 0, g.out_w as i64);
                                cx.if_then(in_x, |cx| {
                                    let orow = cx.b.ins().imul_imm_s(b, g.out_h as i64);
                                    let orow = cx.b.ins().iadd(orow, oy);
                                    let opix = cx.b.ins().imul_imm_s(orow, g.out_w as i64);
                                    let opix = cx.b.ins().iadd(opix, ox);
                                    let o = cx.b.ins().imul_imm_s(opix, g.out_c as i64);
                                    // Filter [Co][Kh][Kw][Ci]: ((oc·Kh + fy)·Kw + fx)·Ci + ic.
                                    let tap = cx.b.ins().imul_imm_s(fy, g.filter_w as i64);
                                    let tap = cx.b.ins().iadd(tap, fx);
                                    let wt = cx.b.ins().imul_imm_s(tap, g.in_c as i64);
                                    let wt = cx.b.ins().iadd(wt, ic);
                                    let per_oc = (g.filter_h * g.filter_w * g.in_c) as i64;
                                    cx.for_range(g.out_c, |cx, oc| {
                                        let oi = cx.b.ins().iadd(o, oc);
                                        let wi = cx.b.ins().imul_imm_s(oc, per_oc);
                                        let wi = cx.b.ins().iadd(wi, wt);
                                        body(cx, oi, wi, xi)
                                    })
                                })
                            })
                        })
                    })
                })
            })
        })
    })
}

/// For every output pixel and channel: `body(cx, element_index, channel)`.
fn for_each_output(
    cx: &mut KernelCx<'_, '_>,
    g: &ConvGeometry,
    mut body: impl FnMut(&mut KernelCx<'_, '_>, Value, Value) -> Result<()>,
) -> Result<()> {
    let pixels = g.batches * g.out_h * g.out_w;
    cx.for_range(pixels, |cx, pix| {
        let first = cx.b.ins().imul_imm_s(pix, g.out_c as i64);
        cx.for_range(g.out_c, |cx, oc| {
            let o = cx.b.ins().iadd(first, oc);
            body(cx, o, oc)
        })
    })
}

/// Float TRANSPOSE_CONV: zero the output, scatter-accumulate `x·w` into it, add the bias,
/// clamp (the reference's order).
///
/// # Errors
/// Operand sizes that do not match.
pub fn transpose_conv_f32(
    cx: &mut KernelCx<'_, '_>,
    p: &TransposeConvParams,
    act: ActF32,
) -> Result<()> {
    let g = p.geom;
    let (w, x, b, out) = transpose_operands(cx, &g, 4)?;
    zero_fill(cx, out.base, g.output_len())?;
    scatter(cx, &g, &mut |cx, o, wi, xi| {
        let xv = cx.load(types::F32, x.base, xi);
        let wv = cx.load(types::F32, w.base, wi);
        let m = cx.b.ins().fmul(xv, wv);
        let a = cx.load(types::F32, out.base, o);
        let s = cx.b.ins().fadd(a, m);
        cx.store(s, out.base, o);
        Ok(())
    })?;
    for_each_output(cx, &g, |cx, o, oc| {
        let mut v = cx.load(types::F32, out.base, o);
        if let Some(b) = &b {
            let bv = cx.load(types::F32, b.base, oc);
            v = cx.b.ins().fadd(v, bv);
        }
        let v = cx.clamp_f32(v, act.min, act.max);
        cx.store(v, out.base, o);
        Ok(())
    })
}

/// Quantized TRANSPOSE_CONV: scatter `(x + input_offset)·(w + filter_offset)` into the `i32`
/// scratch, then per element the bias, `MultiplyByQuantizedMultiplier`, the output offset and
/// the clamp.
///
/// # Errors
/// Operand sizes that do not match; a missing scratch.
pub fn transpose_conv_q(
    cx: &mut KernelCx<'_, '_>,
    p: &TransposeConvParams,
    dtype: DType,
    (q, requant): (&ConvQuant, &[Requant]),
) -> Result<()> {
    let qt = QType::of(dtype);
    let g = p.geom;
    if requant.len() != g.out_c {
        return Err(cx.err("one multiplier per output channel is needed"));
    }
    let (w, x, b, out) = transpose_operands(cx, &g, 1)?;
    let acc = cx.scratch()?;
    expect(cx, "the scratch", &acc, 4, g.output_len())?;
    let tables = requant_tables(cx, requant)?;
    zero_fill(cx, acc.base, g.output_len())?;
    scatter(cx, &g, &mut |cx, o, wi, xi| {
        let xv = qt.load_at(cx, x.base, xi);
        let xv = cx.b.ins().iadd_imm_s(xv, i64::from(q.input_offset));
        let wv = qt.load_at(cx, w.base, wi);
        let wv = cx.b.ins().iadd_imm_s(wv, i64::from(q.filter_offset));
        let m = cx.b.ins().imul(xv, wv);
        let a = cx.load(types::I32, acc.base, o);
        let s = cx.b.ins().iadd(a, m);
        cx.store(s, acc.base, o);
        Ok(())
    })?;
    for_each_output(cx, &g, |cx, o, oc| {
        let mut a = cx.load(types::I32, acc.base, o);
        if let Some(b) = &b {
            let bv = cx.load(types::I32, b.base, oc);
            a = cx.b.ins().iadd(a, bv);
        }
        let v = mbqm_table(cx, a, tables, oc);
        let v = cx.b.ins().iadd_imm_s(v, i64::from(q.output_offset));
        let v = cx.clamp_i32(v, q.act.min, q.act.max);
        let oa = cx.b.ins().iadd(out.base, o);
        qt.store(cx, v, oa, 0);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use crate::ir::{
        Activation, Conv2dAttrs, DType, DepthwiseConv2dAttrs, Op, Padding, Quant, Residual, Tensor,
        TransposeConvAttrs,
    };
    use crate::ops::conv_2d::tests::Rng;
    use crate::ops::fully_connected::clif::tests::{constant, run_both, value};

    /// Quantization of (input, filter, output) for a dot product of about `k` terms: int8 with
    /// per-channel filters along `axis`, uint8 per tensor.
    fn quants(
        dtype: DType,
        out_c: usize,
        axis: usize,
        k: usize,
        z_in: i64,
    ) -> (Option<Quant>, Option<Quant>, Option<Quant>) {
        quants_gain(dtype, out_c, axis, k, z_in, 1.0)
    }

    /// [`quants`] with the output scale divided by `gain` (a large gain makes multipliers
    /// above 1, shifts > 0).
    fn quants_gain(
        dtype: DType,
        out_c: usize,
        axis: usize,
        k: usize,
        z_in: i64,
        gain: f32,
    ) -> (Option<Quant>, Option<Quant>, Option<Quant>) {
        let s_out = 0.05 * (k as f32).sqrt() / gain;
        match dtype {
            DType::F32 => (None, None, None),
            DType::U8 => (
                Some(Quant::per_tensor(
                    0.05,
                    if z_in == 0 { 0 } else { 128 + z_in },
                )),
                Some(Quant::per_tensor(0.01, 117)),
                Some(Quant::per_tensor(s_out * 0.5, 120)),
            ),
            _ => (
                Some(Quant::per_tensor(0.05, z_in)),
                Some(Quant {
                    scale: (0..out_c).map(|c| 0.004 * (c % 5 + 1) as f32).collect(),
                    zero_point: vec![0; out_c],
                    axis,
                }),
                Some(Quant::per_tensor(s_out, -5)),
            ),
        }
    }

    fn bias_type(dtype: DType) -> DType {
        if dtype == DType::F32 {
            DType::F32
        } else {
            DType::I32
        }
    }

    struct Case {
        dtype: DType,
        in_hw: [usize; 2],
        in_c: usize,
        out_c: usize,
        groups: usize,
        filter: [usize; 2],
        stride: usize,
        dilation: usize,
        padding: Padding,
        constant: bool,
        bias: bool,
        z_in: i64,
        residual: bool,
        gain: f32,
    }

    fn conv_case(seed: u64, c: &Case) -> Vec<String> {
        let mut rng = Rng(seed ^ 0x1234);
        let fic = c.in_c / c.groups;
        let k = c.filter[0] * c.filter[1] * fic;
        let (qx, qw, qy) = quants_gain(c.dtype, c.out_c, 0, k, c.z_in, c.gain);
        let wshape = [c.out_c, c.filter[0], c.filter[1], fic];
        let (w, b) = if c.constant {
            (
                constant(&mut rng, c.dtype, &wshape, qw),
                constant(&mut rng, bias_type(c.dtype), &[c.out_c], None),
            )
        } else {
            (
                value(c.dtype, &wshape, qw),
                value(bias_type(c.dtype), &[c.out_c], None),
            )
        };
        let mut ins = vec![value(c.dtype, &[2, c.in_hw[0], c.in_hw[1], c.in_c], qx), w];
        if c.bias || c.residual {
            ins.push(b);
        }
        let attrs = |residual| Conv2dAttrs {
            padding: c.padding,
            stride: [c.stride, c.stride + 1],
            dilation: [c.dilation, c.dilation],
            act: Activation::Relu6,
            residual,
        };
        // The output shape, from a graph without the residual.
        let shape = {
            let out = value(c.dtype, &[], qy.clone());
            crate::ops::transpose::testutil::infer(Op::Conv2d(attrs(None)), ins.clone(), vec![out])
                .unwrap()
                .remove(0)
        };
        let residual = if c.residual {
            let rq = match c.dtype {
                DType::F32 => None,
                DType::U8 => Some(Quant::per_tensor(0.07, 100)),
                _ => Some(Quant::per_tensor(0.07, 9)),
            };
            ins.push(value(c.dtype, &shape, rq));
            Some(Residual {
                conv_quant: qy.as_ref().map(|q| (q.scale[0] * 0.8, q.zero_point[0] + 3)),
            })
        } else {
            None
        };
        let out = value(c.dtype, &shape, qy);
        run_both(seed, Op::Conv2d(attrs(residual)), ins, out, c.gain <= 1.0)
    }

    fn base(dtype: DType) -> Case {
        Case {
            dtype,
            in_hw: [7, 6],
            in_c: 6,
            out_c: 18,
            groups: 1,
            filter: [3, 3],
            stride: 1,
            dilation: 1,
            padding: Padding::Same,
            constant: true,
            bias: true,
            z_in: 5,
            residual: false,
            gain: 1.0,
        }
    }

    #[test]
    #[allow(clippy::type_complexity)] // a list of case mutations
    fn conv_2d_matches_the_interpreter() {
        let mut seed = 100;
        for dtype in [DType::F32, DType::I8, DType::U8] {
            let variants: Vec<Box<dyn Fn(&mut Case)>> = vec![
                Box::new(|_| {}),
                Box::new(|c| c.in_c = 3),
                Box::new(|c| {
                    c.in_c = 16;
                    c.out_c = 32;
                    c.filter = [1, 1];
                    c.padding = Padding::Valid;
                }),
                Box::new(|c| c.stride = 2),
                Box::new(|c| c.dilation = 2),
                Box::new(|c| c.padding = Padding::Valid),
                Box::new(|c| c.z_in = 0),
                Box::new(|c| c.bias = false),
                Box::new(|c| c.constant = false),
                Box::new(|c| {
                    c.constant = false;
                    c.in_c = 5;
                    c.stride = 2;
                }),
                Box::new(|c| c.residual = true),
                // Multipliers above 1 for some channels (left shifts).
                Box::new(|c| c.gain = 600.0),
                Box::new(|c| {
                    c.residual = true;
                    c.constant = false;
                }),
                // Groups: blocks of 16 inside a group (vector path) or not (scalar).
                Box::new(|c| {
                    c.in_c = 8;
                    c.groups = 2;
                    c.out_c = 32;
                }),
                Box::new(|c| {
                    c.in_c = 8;
                    c.groups = 2;
                    c.out_c = 6;
                }),
                Box::new(|c| {
                    c.in_c = 9;
                    c.groups = 3;
                    c.out_c = 6;
                    c.constant = false;
                }),
            ];
            for v in &variants {
                let mut c = base(dtype);
                v(&mut c);
                seed += 1;
                let names = conv_case(seed, &c);
                assert_eq!(names[0].ends_with("unpacked"), !c.constant, "{names:?}");
            }
        }
    }

    /// Per-channel multipliers from 0.25 to 4.5 (right and left shifts in one block) on small
    /// accumulators, so that every shift shows in the results.
    #[test]
    fn multipliers_above_one() {
        let out_c = 18;
        let w: Vec<u8> = (0..out_c).map(|c| [1i8, -1, 1][c % 3] as u8).collect();
        let b: Vec<u8> = (0..out_c)
            .flat_map(|c| (c as i32 - 9).to_le_bytes())
            .collect();
        let wq = Quant {
            scale: (0..out_c).map(|c| 0.25 * (c + 1) as f32).collect(),
            zero_point: vec![0; out_c],
            axis: 0,
        };
        for constant_w in [true, false] {
            let mut wt = value(DType::I8, &[out_c, 1, 1, 1], Some(wq.clone()));
            let mut bt = value(DType::I32, &[out_c], None);
            if constant_w {
                wt.data = Some(w.clone());
                bt.data = Some(b.clone());
            }
            let ins = vec![
                value(DType::I8, &[1, 5, 4, 1], Some(Quant::per_tensor(1.0, 0))),
                wt,
                bt,
            ];
            let attrs = Conv2dAttrs {
                padding: Padding::Valid,
                stride: [1, 1],
                dilation: [1, 1],
                act: Activation::None,
                residual: None,
            };
            let out = value(
                DType::I8,
                &[1, 5, 4, out_c],
                Some(Quant::per_tensor(1.0, 0)),
            );
            run_both(7, Op::Conv2d(attrs), ins, out, true);
        }
    }

    fn depthwise_case(
        seed: u64,
        dtype: DType,
        m: usize,
        in_c: usize,
        constant_w: bool,
        pad: Padding,
        stride: usize,
    ) {
        let mut rng = Rng(seed ^ 0x4321);
        let out_c = in_c * m;
        let (qx, qw, qy) = quants(dtype, out_c, 3, 9, 7);
        let wshape = [1, 3, 3, out_c];
        let (w, b) = if constant_w {
            (
                constant(&mut rng, dtype, &wshape, qw),
                constant(&mut rng, bias_type(dtype), &[out_c], None),
            )
        } else {
            (
                value(dtype, &wshape, qw),
                value(bias_type(dtype), &[out_c], None),
            )
        };
        let ins = vec![value(dtype, &[1, 9, 8, in_c], qx), w, b];
        let attrs = DepthwiseConv2dAttrs {
            padding: pad,
            stride: [stride, stride],
            dilation: [1, 1],
            depth_multiplier: m,
            act: Activation::None,
        };
        let shape = {
            let ins2: Vec<Tensor> = ins.clone();
            let out = value(dtype, &[], qy.clone());
            crate::ops::transpose::testutil::infer(
                Op::DepthwiseConv2d(attrs.clone()),
                ins2,
                vec![out],
            )
            .unwrap()
            .remove(0)
        };
        let names = run_both(
            seed,
            Op::DepthwiseConv2d(attrs),
            ins,
            value(dtype, &shape, qy),
            true,
        );
        assert_eq!(names[0].ends_with("unpacked"), !constant_w, "{names:?}");
    }

    #[test]
    fn depthwise_conv_2d_matches_the_interpreter() {
        let mut seed = 200;
        for dtype in [DType::F32, DType::I8, DType::U8] {
            for (m, in_c) in [(1, 18), (1, 32), (2, 9), (3, 5)] {
                for constant_w in [true, false] {
                    for (pad, stride) in
                        [(Padding::Same, 1), (Padding::Same, 2), (Padding::Valid, 1)]
                    {
                        seed += 1;
                        depthwise_case(seed, dtype, m, in_c, constant_w, pad, stride);
                    }
                }
            }
        }
    }

    #[test]
    fn transpose_conv_matches_the_interpreter() {
        let mut seed = 300;
        for dtype in [DType::F32, DType::I8, DType::U8] {
            for (pad, stride, out_hw) in [
                (Padding::Same, 2, [8, 7]),
                (Padding::Valid, 1, [6, 6]),
                (Padding::Valid, 2, [9, 9]),
            ] {
                for bias in [true, false] {
                    seed += 1;
                    let mut rng = Rng(seed);
                    let (in_c, out_c) = (5, 6);
                    let (qx, qw, qy) = quants(dtype, out_c, 0, 9, 3);
                    let shape_data: Vec<u8> =
                        [1i32, out_hw[0] as i32, out_hw[1] as i32, out_c as i32]
                            .iter()
                            .flat_map(|v| v.to_le_bytes())
                            .collect();
                    let mut ins = vec![
                        Tensor {
                            data: Some(shape_data),
                            ..value(DType::I32, &[4], None)
                        },
                        constant(&mut rng, dtype, &[out_c, 3, 3, in_c], qw),
                        value(dtype, &[1, 4, 4, in_c], qx),
                    ];
                    if bias {
                        ins.push(constant(&mut rng, bias_type(dtype), &[out_c], None));
                    }
                    let op = Op::TransposeConv(TransposeConvAttrs {
                        padding: pad,
                        stride: [stride, stride],
                        act: Activation::None,
                    });
                    let out = value(dtype, &[1, out_hw[0], out_hw[1], out_c], qy);
                    run_both(seed, op, ins, out, true);
                }
            }
        }
    }
}

//! CONV_2D: 2-D convolution over NHWC tensors, following TFLite's `reference_ops::Conv` (float,
//! legacy uint8) and `reference_integer_ops::ConvPerChannel` (int8).
//!
//! Also home of [`ConvGeometry`], the window description shared by DEPTHWISE_CONV_2D and
//! TRANSPOSE_CONV, and of [`ConvQuant`], the zero-point offsets and activation clamp of the
//! quantized convolutions.
//!
//! Filter layout is TFLite's `[out_c, filter_h, filter_w, in_c / groups]`. Output channel `oc`
//! belongs to group `oc / (out_c / groups)` and reads input channels
//! `group · (in_c / groups) ..`. Input positions outside the image contribute nothing (zero
//! padding in the real domain, i.e. the zero point in the quantized one).
//!
//! # Pre-packed weights
//!
//! The compiler packs constant weights once, into the layout the `*_packed` kernels read: output
//! channels in blocks of [`OC_BLOCK`] (16), `[ceil(n / 16)][k][16]` for `n` channels of `k` taps,
//! zero-padded ([`pack_rows_blocked`], [`pack_cols_blocked`], [`blocked_index`]). CONV_2D,
//! DEPTHWISE_CONV_2D and FULLY_CONNECTED share it. A block of 16 serves every SIMD width (NEON
//! 4×4, AVX2 2×8, AVX-512 1×16). The quantized packed kernels also take the bias with the
//! input-independent zero-point terms folded in ([`fold_bias`]) and read padding taps as the
//! input's zero point; their results are bit-identical to the TFLite-form kernels, which the
//! compiler still uses for weights that are not constants.
//!
//! # Residual epilogue
//!
//! The `*_residual` kernels are CONV_2D followed by an ADD of another tensor of the output's
//! shape (a residual connection, fused by the compiler's `fuse_residual_add` pass): each output
//! element is the convolution's value, finished exactly as the unfused CONV_2D finishes it
//! (requantized, offset and clamped with its NONE activation, or in float clamped to `±FLT_MAX`),
//! then added to the residual element with TFLite's ADD arithmetic ([`ResidualQ`], or a float
//! addition and the ADD's clamp). The results are bit-identical to the two ops run in turn.

use super::common::{ActF32, ActQ, Quantized, Requant};
use crate::fixedpoint::multiply_by_quantized_multiplier_smaller_than_one_exp;

/// The geometry of a 2-D windowed op over NHWC tensors. Every field is a compile-time constant.
///
/// `pad` is the padding before the first row and column: TFLite's `padding_values`
/// (`ComputePaddingHeightWidth`) for SAME and VALID, or the explicit amounts the compiler folded
/// a PAD into. The padding after the last row and column is implied by `out_h` and `out_w`: the
/// windows of the last outputs reach past the input by that much. Any amount is allowed, even
/// windows entirely in the padding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Batch size `N` (input and output).
    pub batches: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Input channels.
    pub in_c: usize,
    /// Output height.
    pub out_h: usize,
    /// Output width.
    pub out_w: usize,
    /// Output channels.
    pub out_c: usize,
    /// Filter height.
    pub filter_h: usize,
    /// Filter width.
    pub filter_w: usize,
    /// `[stride_h, stride_w]`.
    pub stride: [usize; 2],
    /// `[dilation_h, dilation_w]` (1 for no dilation).
    pub dilation: [usize; 2],
    /// `[pad_top, pad_left]`.
    pub pad: [usize; 2],
}

impl ConvGeometry {
    /// Number of input elements, `N·H·W·C`.
    pub fn input_len(&self) -> usize {
        self.batches * self.in_h * self.in_w * self.in_c
    }

    /// Number of output elements.
    pub fn output_len(&self) -> usize {
        self.batches * self.out_h * self.out_w * self.out_c
    }

    /// The input row/column read by output row/column `out` through filter tap `tap` along axis
    /// `axis` (0 = height, 1 = width), or `None` when it falls in the padding.
    #[inline]
    fn input_pos(&self, axis: usize, out: usize, tap: usize) -> Option<usize> {
        let limit = if axis == 0 { self.in_h } else { self.in_w };
        let pos = (out * self.stride[axis] + tap * self.dilation[axis]) as isize
            - self.pad[axis] as isize;
        if pos >= 0 && (pos as usize) < limit {
            Some(pos as usize)
        } else {
            None
        }
    }
}

/// Zero-point offsets and output clamp of a quantized convolution (TFLite's `ConvParams`
/// `input_offset`, `weights_offset`, `output_offset`, `quantized_activation_{min,max}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvQuant {
    /// `−Z_in`.
    pub input_offset: i32,
    /// `−Z_w` (0 for int8 filters, whose zero point is 0).
    pub filter_offset: i32,
    /// `Z_out`.
    pub output_offset: i32,
    /// The fused activation as a clamp in the output's integer domain.
    pub act: ActQ,
}

/// Parameters of CONV_2D: the window geometry and the number of groups (`in_c / filter_in_c`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conv2dParams {
    /// Window geometry.
    pub geom: ConvGeometry,
    /// Channel groups: 1 for an ordinary convolution.
    pub groups: usize,
}

impl Conv2dParams {
    /// Input channels read by one output channel (the filter's last dimension).
    pub fn filter_in_c(&self) -> usize {
        self.geom.in_c / self.groups
    }

    /// Number of filter elements.
    pub fn filter_len(&self) -> usize {
        self.geom.out_c * self.geom.filter_h * self.geom.filter_w * self.filter_in_c()
    }
}

/// Float CONV_2D (`reference_ops::Conv`): `act(Σ x·w + bias)`, summed over filter rows, columns,
/// then input channels, the bias added last.
pub fn conv_2d_f32(
    p: &Conv2dParams,
    act: ActF32,
    input: &[f32],
    filter: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    conv_2d_f32_core(p, input, filter, bias, |o, v| output[o] = act.apply(v));
}

/// Float CONV_2D with a residual ADD ([module docs](self#residual-epilogue)):
/// `add_act(act(Σ x·w + bias) + residual)`, `residual` of the output's size.
#[allow(clippy::too_many_arguments)]
pub fn conv_2d_f32_residual(
    p: &Conv2dParams,
    act: ActF32,
    add_act: ActF32,
    input: &[f32],
    filter: &[f32],
    bias: Option<&[f32]>,
    residual: &[f32],
    output: &mut [f32],
) {
    conv_2d_f32_core(p, input, filter, bias, |o, v| {
        output[o] = add_act.apply(act.apply(v) + residual[o])
    });
}

/// The sums of [`conv_2d_f32`] before the activation: `emit(output index, Σ x·w + bias)`.
#[inline]
fn conv_2d_f32_core(
    p: &Conv2dParams,
    input: &[f32],
    filter: &[f32],
    bias: Option<&[f32]>,
    mut emit: impl FnMut(usize, f32),
) {
    let g = &p.geom;
    let fic = p.filter_in_c();
    let per_group = g.out_c / p.groups;
    let mut o = 0;
    for b in 0..g.batches {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for oc in 0..g.out_c {
                    let group = oc / per_group;
                    let mut total = 0.0f32;
                    for fy in 0..g.filter_h {
                        let Some(iy) = g.input_pos(0, oy, fy) else {
                            continue;
                        };
                        for fx in 0..g.filter_w {
                            let Some(ix) = g.input_pos(1, ox, fx) else {
                                continue;
                            };
                            let xi = ((b * g.in_h + iy) * g.in_w + ix) * g.in_c + group * fic;
                            let wi = ((oc * g.filter_h + fy) * g.filter_w + fx) * fic;
                            for (x, w) in input[xi..xi + fic].iter().zip(&filter[wi..wi + fic]) {
                                total += x * w;
                            }
                        }
                    }
                    let bias_value = bias.map_or(0.0, |bv| bv[oc]);
                    emit(o, total + bias_value);
                    o += 1;
                }
            }
        }
    }
}

/// Quantized CONV_2D: int8 with per-channel int8 filters (`reference_integer_ops::ConvPerChannel`)
/// and legacy uint8 (`reference_ops::Conv`), which share the arithmetic:
/// `acc = Σ (w + filter_offset)·(x + input_offset) + bias[oc]` in wrapping `i32`, then
/// `MultiplyByQuantizedMultiplier(acc, requant[oc]) + output_offset`, clamped.
///
/// `requant` has one entry per output channel (a per-tensor multiplier is repeated).
pub fn conv_2d_q<T: Quantized, W: Quantized>(
    p: &Conv2dParams,
    q: &ConvQuant,
    requant: &[Requant],
    input: &[T],
    filter: &[W],
    bias: Option<&[i32]>,
    output: &mut [T],
) {
    conv_2d_q_core(p, q, input, filter, bias, |o, oc, acc| {
        output[o] = T::from_i32_saturating(q.finish(requant[oc], acc));
    });
}

/// Quantized CONV_2D with a residual ADD ([module docs](self#residual-epilogue)): the value
/// [`conv_2d_q`] computes (`q` and `requant` those of the convolution's own result, its
/// activation NONE), then [`ResidualQ::apply`] with the `residual` element.
#[allow(clippy::too_many_arguments)]
pub fn conv_2d_q_residual<T: Quantized, W: Quantized>(
    p: &Conv2dParams,
    q: &ConvQuant,
    requant: &[Requant],
    add: &ResidualQ,
    input: &[T],
    filter: &[W],
    bias: Option<&[i32]>,
    residual: &[T],
    output: &mut [T],
) {
    conv_2d_q_core(p, q, input, filter, bias, |o, oc, acc| {
        output[o] = add.finish::<T>(q.finish(requant[oc], acc), residual[o]);
    });
}

/// The accumulators of [`conv_2d_q`] (bias added): `emit(output index, channel, acc)`.
#[inline]
fn conv_2d_q_core<T: Quantized, W: Quantized>(
    p: &Conv2dParams,
    q: &ConvQuant,
    input: &[T],
    filter: &[W],
    bias: Option<&[i32]>,
    mut emit: impl FnMut(usize, usize, i32),
) {
    let g = &p.geom;
    let fic = p.filter_in_c();
    let per_group = g.out_c / p.groups;
    let mut o = 0;
    for b in 0..g.batches {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for oc in 0..g.out_c {
                    let group = oc / per_group;
                    let mut acc: i32 = 0;
                    for fy in 0..g.filter_h {
                        let Some(iy) = g.input_pos(0, oy, fy) else {
                            continue;
                        };
                        for fx in 0..g.filter_w {
                            let Some(ix) = g.input_pos(1, ox, fx) else {
                                continue;
                            };
                            let xi = ((b * g.in_h + iy) * g.in_w + ix) * g.in_c + group * fic;
                            let wi = ((oc * g.filter_h + fy) * g.filter_w + fx) * fic;
                            for (x, w) in input[xi..xi + fic].iter().zip(&filter[wi..wi + fic]) {
                                let xv = x.to_i32().wrapping_add(q.input_offset);
                                let wv = w.to_i32().wrapping_add(q.filter_offset);
                                acc = acc.wrapping_add(wv.wrapping_mul(xv));
                            }
                        }
                    }
                    if let Some(bv) = bias {
                        acc = acc.wrapping_add(bv[oc]);
                    }
                    emit(o, oc, acc);
                    o += 1;
                }
            }
        }
    }
}

/// TFLite's quantized ADD (`reference_ops::Add` / `reference_integer_ops::Add`, 8-bit) as the
/// epilogue of a convolution: the convolution's result code and the residual code, each offset
/// by its zero point, shifted left by `left_shift` (20) and rescaled to the common scale, summed,
/// rescaled to the output and clamped. The compiler computes the fields as `add.cc`'s `Prepare`
/// does (`compiler::ops::binary::add_q_params_of`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResidualQ {
    /// Left shift of both offset operands (20 for 8-bit types).
    pub left_shift: i32,
    /// `−Z` of the convolution's own result.
    pub conv_offset: i32,
    /// Rescaling of the convolution's result (shift ≤ 0).
    pub conv_multiplier: Requant,
    /// `−Z` of the residual operand.
    pub residual_offset: i32,
    /// Rescaling of the residual operand (shift ≤ 0).
    pub residual_multiplier: Requant,
    /// Rescaling of the sum to the output (shift ≤ 0).
    pub output: Requant,
    /// The output's zero point.
    pub output_offset: i32,
    /// The ADD's activation range in the output's domain.
    pub act: ActQ,
}

impl ResidualQ {
    /// The clamped sum of convolution result code `conv` and residual code `residual`.
    #[inline]
    pub fn apply(&self, conv: i32, residual: i32) -> i32 {
        let stoe = |x: i32, r: Requant| {
            multiply_by_quantized_multiplier_smaller_than_one_exp(x, r.multiplier, r.shift)
        };
        let v1 = self.conv_offset.wrapping_add(conv);
        let v2 = self.residual_offset.wrapping_add(residual);
        let s1 = stoe(v1.wrapping_mul(1 << self.left_shift), self.conv_multiplier);
        let s2 = stoe(
            v2.wrapping_mul(1 << self.left_shift),
            self.residual_multiplier,
        );
        let raw = stoe(s1.wrapping_add(s2), self.output).wrapping_add(self.output_offset);
        self.act.apply(raw)
    }

    /// [`ResidualQ::apply`] stored as `T`.
    #[inline]
    fn finish<T: Quantized>(&self, conv: i32, residual: T) -> T {
        T::from_i32_saturating(self.apply(conv, residual.to_i32()))
    }
}

impl ConvQuant {
    /// An accumulator requantized, offset and clamped: the stored result code (in the type's
    /// range, the clamp being intersected with it).
    #[inline]
    pub fn finish(&self, requant: Requant, acc: i32) -> i32 {
        self.act
            .apply(requant.apply(acc).wrapping_add(self.output_offset))
    }
}

/// Output channels per block of the pre-packed weight layouts: a block of 16 serves NEON 4×4,
/// AVX2 2×8 and AVX-512 1×16 micro-kernels alike.
pub const OC_BLOCK: usize = 16;

/// Elements of `n` channels × `k` reduction taps in the blocked layout
/// `[ceil(n / OC_BLOCK)][k][OC_BLOCK]` (the last block zero-padded).
pub const fn blocked_len(n: usize, k: usize) -> usize {
    n.div_ceil(OC_BLOCK) * k * OC_BLOCK
}

/// Index of (channel `c`, tap `i`) in the blocked layout with `k` taps per channel.
#[inline]
pub const fn blocked_index(c: usize, i: usize, k: usize) -> usize {
    ((c / OC_BLOCK) * k + i) * OC_BLOCK + c % OC_BLOCK
}

/// Packs row-major `[n][k]` weights (TFLite's CONV_2D `[Co][Kh][Kw][Ci]` and FULLY_CONNECTED
/// `[units][depth]` layouts) into the blocked layout; `dst` holds [`blocked_len`]`(n, k)`
/// elements, the padding channels are set to `W::default()`.
pub fn pack_rows_blocked<W: Copy + Default>(n: usize, k: usize, src: &[W], dst: &mut [W]) {
    dst.fill(W::default());
    for c in 0..n {
        for i in 0..k {
            dst[blocked_index(c, i, k)] = src[c * k + i];
        }
    }
}

/// Packs column-major `[k][n]` weights (TFLite's DEPTHWISE_CONV_2D `[1][Kh][Kw][C]` layout) into
/// the blocked layout; as [`pack_rows_blocked`] otherwise.
pub fn pack_cols_blocked<W: Copy + Default>(n: usize, k: usize, src: &[W], dst: &mut [W]) {
    dst.fill(W::default());
    for i in 0..k {
        for c in 0..n {
            dst[blocked_index(c, i, k)] = src[i * n + c];
        }
    }
}

/// The shape of a filter held in the blocked layout ([`pack_rows_blocked`],
/// [`pack_cols_blocked`]) as raw bytes: `channels` of `taps` elements of `elem` bytes, whose
/// unpacked form is row-major `[channels][taps]` or, with `taps_first`, `[taps][channels]`. The
/// fields may come from untrusted data: every size is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockedLayout {
    /// Channels (the blocked dimension).
    pub channels: usize,
    /// Taps per channel.
    pub taps: usize,
    /// Whether the unpacked form is `[taps][channels]` (DEPTHWISE_CONV_2D's filter layout).
    pub taps_first: bool,
    /// Bytes per element.
    pub elem: usize,
}

impl BlockedLayout {
    /// Bytes of the blocked form, `None` when the size overflows `usize`.
    pub fn packed_len(&self) -> Option<usize> {
        self.channels
            .div_ceil(OC_BLOCK)
            .checked_mul(self.taps)?
            .checked_mul(OC_BLOCK)?
            .checked_mul(self.elem)
    }

    /// Bytes of the unpacked form, `None` when the size overflows `usize`.
    pub fn unpacked_len(&self) -> Option<usize> {
        self.channels.checked_mul(self.taps)?.checked_mul(self.elem)
    }

    /// Writes the unpacked form of the blocked bytes `src` to `dst`: the inverse of the packing
    /// on raw bytes (the padding channels are not read). Returns `false`, writing nothing,
    /// unless `src` holds exactly [`BlockedLayout::packed_len`] bytes and `dst` exactly
    /// [`BlockedLayout::unpacked_len`].
    pub fn unpack(&self, src: &[u8], dst: &mut [u8]) -> bool {
        let BlockedLayout {
            channels: n,
            taps: k,
            taps_first,
            elem,
        } = *self;
        if (self.packed_len(), self.unpacked_len()) != (Some(src.len()), Some(dst.len())) {
            return false;
        }
        for c in 0..n {
            for i in 0..k {
                let from = blocked_index(c, i, k) * elem;
                let to = if taps_first { i * n + c } else { c * k + i } * elem;
                dst[to..to + elem].copy_from_slice(&src[from..from + elem]);
            }
        }
        true
    }
}

/// Folds the input-independent zero-point terms of a quantized dot product into its bias.
///
/// TFLite computes `Σ_i (w[c][i] + filter_offset)·(x_i + input_offset) + bias[c]`. Expanded,
/// that is `Σ w·x + filter_offset·Σ x + bias'[c]` with
/// `bias'[c] = bias[c] + input_offset · Σ_i (w[c][i] + filter_offset)`, every operation in
/// wrapping `i32` like the accumulator (so the identity holds exactly, modulo 2³²). Taps that fall
/// in the padding must then be read as `x = −input_offset` (the zero point), where TFLite skips
/// them: their terms cancel.
///
/// `weight(c, i)` reads the stored weight of channel `c`, tap `i` (`k` taps); a missing bias is
/// zero. Writes `n` folded biases to `out`.
pub fn fold_bias(
    n: usize,
    k: usize,
    input_offset: i32,
    filter_offset: i32,
    weight: impl Fn(usize, usize) -> i32,
    bias: Option<&[i32]>,
    out: &mut [i32],
) {
    for (c, o) in out.iter_mut().enumerate().take(n) {
        let mut sum: i32 = 0;
        for i in 0..k {
            sum = sum.wrapping_add(weight(c, i).wrapping_add(filter_offset));
        }
        let b = bias.map_or(0, |b| b[c]);
        *o = b.wrapping_add(input_offset.wrapping_mul(sum));
    }
}

/// Float CONV_2D on pre-packed weights: as [`conv_2d_f32`] (same summation order, padding taps
/// skipped), with the filter in the blocked layout ([`pack_rows_blocked`] of
/// `[Co][Kh·Kw·Ci/groups]`) and a bias always present.
pub fn conv_2d_f32_packed(
    p: &Conv2dParams,
    act: ActF32,
    input: &[f32],
    filter: &[f32],
    bias: &[f32],
    output: &mut [f32],
) {
    conv_2d_f32_packed_core(p, input, filter, bias, |o, v| output[o] = act.apply(v));
}

/// [`conv_2d_f32_residual`] on pre-packed weights (as [`conv_2d_f32_packed`]).
#[allow(clippy::too_many_arguments)]
pub fn conv_2d_f32_packed_residual(
    p: &Conv2dParams,
    act: ActF32,
    add_act: ActF32,
    input: &[f32],
    filter: &[f32],
    bias: &[f32],
    residual: &[f32],
    output: &mut [f32],
) {
    conv_2d_f32_packed_core(p, input, filter, bias, |o, v| {
        output[o] = add_act.apply(act.apply(v) + residual[o])
    });
}

#[inline]
fn conv_2d_f32_packed_core(
    p: &Conv2dParams,
    input: &[f32],
    filter: &[f32],
    bias: &[f32],
    mut emit: impl FnMut(usize, f32),
) {
    let g = &p.geom;
    let fic = p.filter_in_c();
    let k = g.filter_h * g.filter_w * fic;
    let per_group = g.out_c / p.groups;
    let mut o = 0;
    for b in 0..g.batches {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for oc in 0..g.out_c {
                    let group = oc / per_group;
                    let mut total = 0.0f32;
                    for fy in 0..g.filter_h {
                        let Some(iy) = g.input_pos(0, oy, fy) else {
                            continue;
                        };
                        for fx in 0..g.filter_w {
                            let Some(ix) = g.input_pos(1, ox, fx) else {
                                continue;
                            };
                            let xi = ((b * g.in_h + iy) * g.in_w + ix) * g.in_c + group * fic;
                            let tap = (fy * g.filter_w + fx) * fic;
                            for (ic, x) in input[xi..xi + fic].iter().enumerate() {
                                total += x * filter[blocked_index(oc, tap + ic, k)];
                            }
                        }
                    }
                    emit(o, total + bias[oc]);
                    o += 1;
                }
            }
        }
    }
}

/// Quantized CONV_2D on pre-packed weights with the zero-point corrections folded into the bias
/// ([`fold_bias`]): `acc = Σ w·x + filter_offset·Σ x + bias'[oc]` in wrapping `i32`, padding taps
/// read as the input's zero point, then requantized and clamped as [`conv_2d_q`] does. The result
/// is bit-identical to [`conv_2d_q`]. For int8 (`filter_offset == 0`) the `Σ x` term vanishes;
/// for uint8 it stays in the kernel (it depends on the input).
///
/// `filter` is in the blocked layout ([`pack_rows_blocked`] of `[Co][Kh·Kw·Ci/groups]`), `bias`
/// holds the `out_c` folded biases.
pub fn conv_2d_q_packed<T: Quantized, W: Quantized>(
    p: &Conv2dParams,
    q: &ConvQuant,
    requant: &[Requant],
    input: &[T],
    filter: &[W],
    bias: &[i32],
    output: &mut [T],
) {
    conv_2d_q_packed_core(p, q, input, filter, bias, |o, oc, acc| {
        output[o] = T::from_i32_saturating(q.finish(requant[oc], acc));
    });
}

/// [`conv_2d_q_residual`] on pre-packed weights with the folded bias (as [`conv_2d_q_packed`]).
#[allow(clippy::too_many_arguments)]
pub fn conv_2d_q_packed_residual<T: Quantized, W: Quantized>(
    p: &Conv2dParams,
    q: &ConvQuant,
    requant: &[Requant],
    add: &ResidualQ,
    input: &[T],
    filter: &[W],
    bias: &[i32],
    residual: &[T],
    output: &mut [T],
) {
    conv_2d_q_packed_core(p, q, input, filter, bias, |o, oc, acc| {
        output[o] = add.finish::<T>(q.finish(requant[oc], acc), residual[o]);
    });
}

#[inline]
fn conv_2d_q_packed_core<T: Quantized, W: Quantized>(
    p: &Conv2dParams,
    q: &ConvQuant,
    input: &[T],
    filter: &[W],
    bias: &[i32],
    mut emit: impl FnMut(usize, usize, i32),
) {
    let g = &p.geom;
    let fic = p.filter_in_c();
    let k = g.filter_h * g.filter_w * fic;
    let per_group = g.out_c / p.groups;
    let pad_value = q.input_offset.wrapping_neg();
    let mut o = 0;
    for b in 0..g.batches {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for oc in 0..g.out_c {
                    let group = oc / per_group;
                    let mut acc: i32 = bias[oc];
                    let mut x_sum: i32 = 0;
                    for fy in 0..g.filter_h {
                        let iy = g.input_pos(0, oy, fy);
                        for fx in 0..g.filter_w {
                            let ix = g.input_pos(1, ox, fx);
                            let tap = (fy * g.filter_w + fx) * fic;
                            let xi = match (iy, ix) {
                                (Some(iy), Some(ix)) => {
                                    Some(((b * g.in_h + iy) * g.in_w + ix) * g.in_c + group * fic)
                                }
                                _ => None,
                            };
                            for ic in 0..fic {
                                let xv = xi.map_or(pad_value, |xi| input[xi + ic].to_i32());
                                let wv = filter[blocked_index(oc, tap + ic, k)].to_i32();
                                acc = acc.wrapping_add(wv.wrapping_mul(xv));
                                x_sum = x_sum.wrapping_add(xv);
                            }
                        }
                    }
                    acc = acc.wrapping_add(q.filter_offset.wrapping_mul(x_sum));
                    emit(o, oc, acc);
                    o += 1;
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;

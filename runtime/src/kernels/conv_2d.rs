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

use super::common::{ActF32, ActQ, Quantized, Requant};

/// The geometry of a 2-D windowed op over NHWC tensors. Every field is a compile-time constant.
///
/// `pad` is TFLite's `padding_values` (`ComputePaddingHeightWidth`): the padding before the first
/// row and column; any extra padding of SAME falls after the last.
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
                    output[o] = act.apply(total + bias_value);
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
                    let v = requant[oc].apply(acc).wrapping_add(q.output_offset);
                    output[o] = T::from_i32_saturating(q.act.apply(v));
                    o += 1;
                }
            }
        }
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
                    output[o] = act.apply(total + bias[oc]);
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
                    let v = requant[oc].apply(acc).wrapping_add(q.output_offset);
                    output[o] = T::from_i32_saturating(q.act.apply(v));
                    o += 1;
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    extern crate std;

    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn geom(
        in_hw: [usize; 2],
        in_c: usize,
        out_hw: [usize; 2],
        out_c: usize,
        f: [usize; 2],
    ) -> ConvGeometry {
        ConvGeometry {
            batches: 1,
            in_h: in_hw[0],
            in_w: in_hw[1],
            in_c,
            out_h: out_hw[0],
            out_w: out_hw[1],
            out_c,
            filter_h: f[0],
            filter_w: f[1],
            stride: [1, 1],
            dilation: [1, 1],
            pad: [0, 0],
        }
    }

    #[test]
    fn float_3x3_same_padding() {
        // 3x3 input of ones, 3x3 filter of ones, SAME: each output counts the taps inside.
        let mut g = geom([3, 3], 1, [3, 3], 1, [3, 3]);
        g.pad = [1, 1];
        let p = Conv2dParams { geom: g, groups: 1 };
        let input = [1.0f32; 9];
        let filter = [1.0f32; 9];
        let mut out = [0.0f32; 9];
        conv_2d_f32(&p, ActF32::NONE, &input, &filter, Some(&[0.5]), &mut out);
        assert_eq!(out, [4.5, 6.5, 4.5, 6.5, 9.5, 6.5, 4.5, 6.5, 4.5]);
        // RELU6 clamps the centre.
        conv_2d_f32(
            &p,
            ActF32 { min: 0.0, max: 6.0 },
            &input,
            &filter,
            Some(&[0.5]),
            &mut out,
        );
        assert_eq!(out, [4.5, 6.0, 4.5, 6.0, 6.0, 6.0, 4.5, 6.0, 4.5]);
    }

    #[test]
    fn float_stride_dilation_and_channels() {
        // 1x5 input with 2 channels, 1x2 filter dilated by 2, stride 2: taps x and x+2.
        let mut g = geom([1, 5], 2, [1, 2], 1, [1, 2]);
        g.stride = [1, 2];
        g.dilation = [1, 2];
        let p = Conv2dParams { geom: g, groups: 1 };
        // channel 0 = position, channel 1 = 10·position
        let input: [f32; 10] = [0.0, 0.0, 1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0];
        // tap 0 weights (1, 0), tap 1 weights (0, 1)
        let filter = [1.0f32, 0.0, 0.0, 1.0];
        let mut out = [0.0f32; 2];
        conv_2d_f32(&p, ActF32::NONE, &input, &filter, None, &mut out);
        // out0 = x0[c0] + x2[c1] = 0 + 20; out1 = x2[c0] + x4[c1] = 2 + 40
        assert_eq!(out, [20.0, 42.0]);
    }

    #[test]
    fn float_groups() {
        // 1x1 spatial, 4 input channels in 2 groups, 2 output channels.
        let g = geom([1, 1], 4, [1, 1], 2, [1, 1]);
        let p = Conv2dParams { geom: g, groups: 2 };
        let input = [1.0f32, 2.0, 3.0, 4.0];
        let filter = [1.0f32, 1.0, 1.0, -1.0];
        let mut out = [0.0f32; 2];
        conv_2d_f32(&p, ActF32::NONE, &input, &filter, None, &mut out);
        assert_eq!(out, [3.0, -1.0]);
    }

    #[test]
    fn int8_per_channel_requantizes_and_clamps() {
        let g = geom([1, 2], 2, [1, 2], 2, [1, 1]);
        let p = Conv2dParams { geom: g, groups: 1 };
        // Z_in = -1 → input_offset = 1.
        let q = ConvQuant {
            input_offset: 1,
            filter_offset: 0,
            output_offset: 3,
            act: ActQ {
                min: -128,
                max: 127,
            },
        };
        // channel 0: M = 0.5; channel 1: M = 2.
        let requant = [
            Requant {
                multiplier: 1 << 30,
                shift: 0,
            },
            Requant {
                multiplier: 1 << 30,
                shift: 2,
            },
        ];
        let input: [i8; 4] = [9, -1, 99, 19];
        let filter: [i8; 4] = [1, 2, -1, 1];
        let bias = [1i32, -2];
        let mut out = [0i8; 4];
        conv_2d_q(&p, &q, &requant, &input, &filter, Some(&bias), &mut out);
        // pixel 0: x+1 = (10, 0): oc0 acc = 10 + 1 = 11 → 5.5 → 6 (+3 = 9); oc1 = -10 - 2 = -12 → -24 + 3
        // pixel 1: x+1 = (100, 20): oc0 = 140 + 1 = 141 → 70.5 → 71 + 3 = 74; oc1 = -80 - 2 → -164 → clamp
        assert_eq!(out, [9, -21, 74, -128]);
    }

    #[test]
    fn uint8_uses_filter_offset() {
        let g = geom([1, 1], 2, [1, 1], 1, [1, 1]);
        let p = Conv2dParams { geom: g, groups: 1 };
        let q = ConvQuant {
            input_offset: -128,
            filter_offset: -100,
            output_offset: 128,
            act: ActQ { min: 0, max: 255 },
        };
        let requant = [Requant {
            multiplier: 1 << 30,
            shift: 0,
        }];
        let input: [u8; 2] = [138, 118];
        let filter: [u8; 2] = [110, 90];
        let mut out = [0u8; 1];
        conv_2d_q(&p, &q, &requant, &input, &filter, None, &mut out);
        // (10)(10) + (-10)(-10) = 200 → 100 → 228
        assert_eq!(out, [228]);
    }

    /// A small deterministic generator for the folding tests (xorshift64*).
    pub(crate) struct Rng(pub(crate) u64);

    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        /// A value in `lo..=hi`.
        pub(crate) fn range(&mut self, lo: i32, hi: i32) -> i32 {
            let span = (i64::from(hi) - i64::from(lo) + 1) as u64;
            (i64::from(lo) + (self.next() % span) as i64) as i32
        }
    }

    /// Random geometries with padding on every side, strides, dilations and partial channel
    /// blocks: `(geometry, groups)`.
    pub(crate) fn random_geometries(
        rng: &mut Rng,
        grouped: bool,
    ) -> impl Iterator<Item = (ConvGeometry, usize)> + '_ {
        (0..40).map(move |_| {
            let groups = if grouped { rng.range(1, 2) as usize } else { 1 };
            let in_c = groups * rng.range(1, 5) as usize;
            let out_c = groups * rng.range(1, 19) as usize;
            let f = [rng.range(1, 3) as usize, rng.range(1, 3) as usize];
            let stride = [rng.range(1, 2) as usize, rng.range(1, 2) as usize];
            let dilation = [rng.range(1, 2) as usize, rng.range(1, 2) as usize];
            let in_hw = [rng.range(1, 6) as usize, rng.range(1, 6) as usize];
            let mut out = [0; 2];
            let mut pad = [0; 2];
            for a in 0..2 {
                let eff = (f[a] - 1) * dilation[a] + 1;
                pad[a] = rng.range(0, eff as i32 - 1) as usize;
                let after = rng.range(0, eff as i32 - 1) as usize;
                out[a] = (in_hw[a] + pad[a] + after).saturating_sub(eff) / stride[a] + 1;
            }
            let g = ConvGeometry {
                batches: rng.range(1, 2) as usize,
                in_h: in_hw[0],
                in_w: in_hw[1],
                in_c,
                out_h: out[0],
                out_w: out[1],
                out_c,
                filter_h: f[0],
                filter_w: f[1],
                stride,
                dilation,
                pad,
            };
            (g, groups)
        })
    }

    /// Random quantization: zero points across the type's range, extreme biases (the folded
    /// arithmetic must wrap exactly as the accumulator does).
    pub(crate) fn random_quant<T: Quantized>(rng: &mut Rng, uint8: bool) -> ConvQuant {
        ConvQuant {
            input_offset: -rng.range(T::MIN, T::MAX),
            filter_offset: if uint8 { -rng.range(0, 255) } else { 0 },
            output_offset: rng.range(T::MIN, T::MAX),
            act: ActQ {
                min: T::MIN,
                max: T::MAX,
            },
        }
    }

    pub(crate) fn random_vec<T: Quantized>(rng: &mut Rng, n: usize) -> Vec<T> {
        (0..n)
            .map(|_| T::from_i32_saturating(rng.range(T::MIN, T::MAX)))
            .collect()
    }

    pub(crate) fn random_bias(rng: &mut Rng, n: usize) -> Vec<i32> {
        (0..n)
            .map(|_| match rng.range(0, 5) {
                0 => i32::MAX - rng.range(0, 1000),
                1 => i32::MIN + rng.range(0, 1000),
                _ => rng.range(-100_000, 100_000),
            })
            .collect()
    }

    pub(crate) fn random_requant(rng: &mut Rng, n: usize) -> Vec<Requant> {
        (0..n)
            .map(|_| Requant {
                multiplier: rng.range(1 << 30, i32::MAX),
                shift: rng.range(-12, 0),
            })
            .collect()
    }

    fn check_folded<T: Quantized>(seed: u64, uint8: bool) {
        let mut rng = Rng(seed);
        let cases: Vec<_> = random_geometries(&mut Rng(seed ^ 0x9e37), true).collect();
        for (g, groups) in cases {
            let p = Conv2dParams { geom: g, groups };
            let q = random_quant::<T>(&mut rng, uint8);
            let input = random_vec::<T>(&mut rng, g.input_len());
            let filter = random_vec::<T>(&mut rng, p.filter_len());
            let requant = random_requant(&mut rng, g.out_c);
            let with_bias = rng.range(0, 1) == 1;
            let bias = random_bias(&mut rng, g.out_c);
            let bias = with_bias.then_some(&bias[..]);
            let mut want = vec![T::default(); g.output_len()];
            conv_2d_q(&p, &q, &requant, &input, &filter, bias, &mut want);
            let k = p.filter_len() / g.out_c;
            let mut packed = vec![T::default(); blocked_len(g.out_c, k)];
            pack_rows_blocked(g.out_c, k, &filter, &mut packed);
            let mut folded = vec![0i32; g.out_c];
            let w = |c: usize, i: usize| filter[c * k + i].to_i32();
            fold_bias(
                g.out_c,
                k,
                q.input_offset,
                q.filter_offset,
                w,
                bias,
                &mut folded,
            );
            let mut got = vec![T::default(); g.output_len()];
            conv_2d_q_packed(&p, &q, &requant, &input, &packed, &folded, &mut got);
            assert_eq!(&got[..], &want[..], "{g:?} groups {groups} {q:?}");
        }
    }

    #[test]
    fn folded_bias_matches_the_reference_int8() {
        check_folded::<i8>(0x1234_5678, false);
    }

    #[test]
    fn folded_bias_matches_the_reference_uint8() {
        check_folded::<u8>(0x8765_4321, true);
    }

    #[test]
    fn packed_float_matches_the_reference() {
        let mut rng = Rng(42);
        let cases: Vec<_> = random_geometries(&mut Rng(7), true).collect();
        for (g, groups) in cases {
            let p = Conv2dParams { geom: g, groups };
            let f = |rng: &mut Rng| rng.range(-1000, 1000) as f32 / 256.0;
            let input = (0..g.input_len())
                .map(|_| f(&mut rng))
                .collect::<Vec<f32>>();
            let filter = (0..p.filter_len())
                .map(|_| f(&mut rng))
                .collect::<Vec<f32>>();
            let bias = (0..g.out_c).map(|_| f(&mut rng)).collect::<Vec<f32>>();
            let mut want = vec![0.0f32; g.output_len()];
            conv_2d_f32(&p, ActF32::NONE, &input, &filter, Some(&bias), &mut want);
            let k = p.filter_len() / g.out_c;
            let mut packed = vec![0.0f32; blocked_len(g.out_c, k)];
            pack_rows_blocked(g.out_c, k, &filter, &mut packed);
            let mut got = vec![0.0f32; g.output_len()];
            conv_2d_f32_packed(&p, ActF32::NONE, &input, &packed, &bias, &mut got);
            assert_eq!(&got[..], &want[..]);
        }
    }

    #[test]
    fn blocked_layout() {
        // 18 channels, 2 taps: two blocks of 16, the second padded.
        assert_eq!(blocked_len(18, 2), 64);
        assert_eq!(blocked_index(0, 1, 2), 16);
        assert_eq!(blocked_index(17, 1, 2), 32 + 16 + 1);
        let src: [i8; 6] = [1, 2, 3, 4, 5, 6]; // [3][2]
        let mut dst = [9i8; 32];
        pack_rows_blocked(3, 2, &src, &mut dst);
        assert_eq!(&dst[..3], &[1, 3, 5]);
        assert_eq!(&dst[16..19], &[2, 4, 6]);
        assert!(dst[3..16].iter().all(|&v| v == 0));
        let mut dst2 = [9i8; 48];
        pack_cols_blocked(2, 3, &src, &mut dst2); // src as [3 taps][2 channels]
        assert_eq!(
            (dst2[0], dst2[1], dst2[16], dst2[17], dst2[32], dst2[33]),
            (1, 2, 3, 4, 5, 6)
        );
    }
}

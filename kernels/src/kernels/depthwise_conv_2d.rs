//! DEPTHWISE_CONV_2D: each input channel convolved with its own `depth_multiplier` filters,
//! following TFLite's `reference_ops::DepthwiseConv` (float, legacy uint8) and
//! `reference_integer_ops::DepthwiseConvPerChannel` (int8).
//!
//! Filter layout is `[1, filter_h, filter_w, out_c]` with `out_c = in_c · depth_multiplier`;
//! output channel `ic · depth_multiplier + m` reads input channel `ic`.
//!
//! The `*_packed` kernels read constant filters pre-packed as `[ceil(out_c/16)][Kh·Kw][16]` (see
//! [`super::conv_2d`], "Pre-packed weights") and, quantized, a folded bias.

use super::common::{ActF32, Quantized, Requant};
use super::conv_2d::{blocked_index, ConvGeometry, ConvQuant};

/// Parameters of DEPTHWISE_CONV_2D.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DepthwiseConv2dParams {
    /// Window geometry (`out_c = in_c · depth_multiplier`).
    pub geom: ConvGeometry,
    /// Output channels per input channel.
    pub depth_multiplier: usize,
}

impl DepthwiseConv2dParams {
    /// Number of filter elements.
    pub fn filter_len(&self) -> usize {
        self.geom.filter_h * self.geom.filter_w * self.geom.out_c
    }
}

/// Visits, for output pixel `(b, oy, ox)`, every filter tap that lands inside the image with the
/// index of the input pixel's first channel and the index of the tap's first filter element.
#[inline]
fn for_each_tap(g: &ConvGeometry, b: usize, oy: usize, ox: usize, mut f: impl FnMut(usize, usize)) {
    for_each_tap_padded(g, b, oy, ox, |xi, tap| {
        if let Some(xi) = xi {
            f(xi, tap * g.out_c);
        }
    });
}

/// Calls `f(o, ic, oc)` for every output element, in TFLite's order (batch, row, column, input
/// channel, multiplier): `o` is the index of the output pixel's first channel, `(b, oy, ox)` its
/// position, `oc = ic · depth_multiplier + j` the output channel.
#[inline]
fn for_each_output(p: &DepthwiseConv2dParams, mut f: impl FnMut([usize; 3], usize, usize, usize)) {
    let g = &p.geom;
    let m = p.depth_multiplier;
    for b in 0..g.batches {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let o = ((b * g.out_h + oy) * g.out_w + ox) * g.out_c;
                for ic in 0..g.in_c {
                    for j in 0..m {
                        f([b, oy, ox], o, ic, ic * m + j);
                    }
                }
            }
        }
    }
}

/// Float DEPTHWISE_CONV_2D: `act(Σ x·w + bias)`, summed over filter rows then columns.
pub fn depthwise_conv_2d_f32(
    p: &DepthwiseConv2dParams,
    act: ActF32,
    input: &[f32],
    filter: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    let g = &p.geom;
    for_each_output(p, |[b, oy, ox], o, ic, oc| {
        let mut total = 0.0f32;
        for_each_tap(g, b, oy, ox, |xi, wi| {
            total += input[xi + ic] * filter[wi + oc]
        });
        let bias_value = bias.map_or(0.0, |bv| bv[oc]);
        output[o + oc] = act.apply(total + bias_value);
    });
}

/// Quantized DEPTHWISE_CONV_2D (int8 per-channel and legacy uint8):
/// `acc = Σ (w + filter_offset)·(x + input_offset) + bias[oc]` in wrapping `i32`, then
/// `MultiplyByQuantizedMultiplier(acc, requant[oc]) + output_offset`, clamped.
///
/// `requant` has one entry per output channel.
pub fn depthwise_conv_2d_q<T: Quantized, W: Quantized>(
    p: &DepthwiseConv2dParams,
    q: &ConvQuant,
    requant: &[Requant],
    input: &[T],
    filter: &[W],
    bias: Option<&[i32]>,
    output: &mut [T],
) {
    let g = &p.geom;
    for_each_output(p, |[b, oy, ox], o, ic, oc| {
        let mut acc: i32 = 0;
        for_each_tap(g, b, oy, ox, |xi, wi| {
            let xv = input[xi + ic].to_i32().wrapping_add(q.input_offset);
            let wv = filter[wi + oc].to_i32().wrapping_add(q.filter_offset);
            acc = acc.wrapping_add(wv.wrapping_mul(xv));
        });
        if let Some(bv) = bias {
            acc = acc.wrapping_add(bv[oc]);
        }
        let v = requant[oc].apply(acc).wrapping_add(q.output_offset);
        output[o + oc] = T::from_i32_saturating(q.act.apply(v));
    });
}

/// Calls `f(x_index, tap)` for every filter tap of output pixel `(b, oy, ox)`, padding taps
/// included (`x_index` is `None` there); `tap = fy · filter_w + fx`.
#[inline]
fn for_each_tap_padded(
    g: &ConvGeometry,
    b: usize,
    oy: usize,
    ox: usize,
    mut f: impl FnMut(Option<usize>, usize),
) {
    for fy in 0..g.filter_h {
        let iy = (oy * g.stride[0] + fy * g.dilation[0]) as isize - g.pad[0] as isize;
        let row_inside = iy >= 0 && (iy as usize) < g.in_h;
        for fx in 0..g.filter_w {
            let ix = (ox * g.stride[1] + fx * g.dilation[1]) as isize - g.pad[1] as isize;
            let inside = row_inside && ix >= 0 && (ix as usize) < g.in_w;
            let xi = inside.then(|| ((b * g.in_h + iy as usize) * g.in_w + ix as usize) * g.in_c);
            f(xi, fy * g.filter_w + fx);
        }
    }
}

/// Float DEPTHWISE_CONV_2D on pre-packed weights: as [`depthwise_conv_2d_f32`] (same summation
/// order, padding taps skipped), with the filter in the blocked layout
/// ([`super::conv_2d::pack_cols_blocked`] of `[Kh·Kw][C]`: `[ceil(C/16)][Kh·Kw][16]`) and a bias
/// always present.
pub fn depthwise_conv_2d_f32_packed(
    p: &DepthwiseConv2dParams,
    act: ActF32,
    input: &[f32],
    filter: &[f32],
    bias: &[f32],
    output: &mut [f32],
) {
    let g = &p.geom;
    let k = g.filter_h * g.filter_w;
    for_each_output(p, |[b, oy, ox], o, ic, oc| {
        let mut total = 0.0f32;
        for_each_tap_padded(g, b, oy, ox, |xi, tap| {
            if let Some(xi) = xi {
                total += input[xi + ic] * filter[blocked_index(oc, tap, k)];
            }
        });
        output[o + oc] = act.apply(total + bias[oc]);
    });
}

/// Quantized DEPTHWISE_CONV_2D on pre-packed weights with the zero-point corrections folded into
/// the bias ([`super::conv_2d::fold_bias`] over the `Kh·Kw` taps of each channel):
/// `acc = Σ w·x + filter_offset·Σ x + bias'[oc]`, padding taps read as the input's zero point.
/// Bit-identical to [`depthwise_conv_2d_q`]. `filter` is in the blocked layout of
/// [`depthwise_conv_2d_f32_packed`], `bias` holds the `out_c` folded biases.
pub fn depthwise_conv_2d_q_packed<T: Quantized, W: Quantized>(
    p: &DepthwiseConv2dParams,
    q: &ConvQuant,
    requant: &[Requant],
    input: &[T],
    filter: &[W],
    bias: &[i32],
    output: &mut [T],
) {
    let g = &p.geom;
    let k = g.filter_h * g.filter_w;
    let pad_value = q.input_offset.wrapping_neg();
    for_each_output(p, |[b, oy, ox], o, ic, oc| {
        let mut acc: i32 = bias[oc];
        let mut x_sum: i32 = 0;
        for_each_tap_padded(g, b, oy, ox, |xi, tap| {
            let xv = xi.map_or(pad_value, |xi| input[xi + ic].to_i32());
            let wv = filter[blocked_index(oc, tap, k)].to_i32();
            acc = acc.wrapping_add(wv.wrapping_mul(xv));
            x_sum = x_sum.wrapping_add(xv);
        });
        acc = acc.wrapping_add(q.filter_offset.wrapping_mul(x_sum));
        let v = requant[oc].apply(acc).wrapping_add(q.output_offset);
        output[o + oc] = T::from_i32_saturating(q.act.apply(v));
    });
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::kernels::common::ActQ;
    use crate::kernels::conv_2d::tests::{
        materialize_padding, random_bias, random_explicit, random_geometries, random_quant,
        random_requant, random_vec, Rng,
    };
    use crate::kernels::conv_2d::{blocked_len, fold_bias, pack_cols_blocked};
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn float_multiplier_two_same_padding() {
        // 1x3 input, 2 channels, multiplier 2 → 4 output channels; 1x3 filter, SAME.
        let g = ConvGeometry {
            batches: 1,
            in_h: 1,
            in_w: 3,
            in_c: 2,
            out_h: 1,
            out_w: 3,
            out_c: 4,
            filter_h: 1,
            filter_w: 3,
            stride: [1, 1],
            dilation: [1, 1],
            pad: [0, 1],
        };
        let p = DepthwiseConv2dParams {
            geom: g,
            depth_multiplier: 2,
        };
        let input = [1.0f32, 10.0, 2.0, 20.0, 3.0, 30.0];
        // taps (left, centre, right) for oc 0..4: oc0 sums, oc1 centre only, oc2 sums, oc3 right only
        let filter = [
            1.0f32, 0.0, 1.0, 0.0, // left tap
            1.0, 1.0, 1.0, 0.0, // centre
            1.0, 0.0, 1.0, 1.0, // right
        ];
        let mut out = [0.0f32; 12];
        depthwise_conv_2d_f32(
            &p,
            ActF32::NONE,
            &input,
            &filter,
            Some(&[0.0, 0.0, 0.0, 0.5]),
            &mut out,
        );
        assert_eq!(
            out,
            [3.0, 1.0, 30.0, 20.5, 6.0, 2.0, 60.0, 30.5, 5.0, 3.0, 50.0, 0.5]
        );
    }

    #[test]
    fn quantized_stride_two() {
        let g = ConvGeometry {
            batches: 1,
            in_h: 1,
            in_w: 4,
            in_c: 1,
            out_h: 1,
            out_w: 2,
            out_c: 1,
            filter_h: 1,
            filter_w: 2,
            stride: [1, 2],
            dilation: [1, 1],
            pad: [0, 0],
        };
        let p = DepthwiseConv2dParams {
            geom: g,
            depth_multiplier: 1,
        };
        let q = ConvQuant {
            input_offset: -10,
            filter_offset: 0,
            output_offset: -5,
            act: ActQ {
                min: -128,
                max: 127,
            },
        };
        let input: [i8; 4] = [11, 12, 13, 14];
        let filter: [i8; 2] = [3, -1];
        let mut out = [0i8; 2];
        depthwise_conv_2d_q(
            &p,
            &q,
            &[Requant {
                multiplier: 1 << 30,
                shift: 1,
            }],
            &input,
            &filter,
            None,
            &mut out,
        );
        // (1·3 − 2) = 1 → ·1 − 5 = −4; (3·3 − 4) = 5 → 0
        assert_eq!(out, [-4, 0]);
    }

    fn check_folded<T: Quantized>(seed: u64, uint8: bool) {
        let mut rng = Rng(seed);
        let cases: Vec<_> = random_geometries(&mut Rng(seed ^ 0x51), false).collect();
        for (mut g, _) in cases {
            // Up to 27 channels: partial and full blocks of 16.
            let m = rng.range(1, 3) as usize;
            g.in_c = rng.range(1, 9) as usize;
            g.out_c = g.in_c * m;
            let p = DepthwiseConv2dParams {
                geom: g,
                depth_multiplier: m,
            };
            let q = random_quant::<T>(&mut rng, uint8);
            let input = random_vec::<T>(&mut rng, g.input_len());
            let filter = random_vec::<T>(&mut rng, p.filter_len());
            let requant = random_requant(&mut rng, g.out_c);
            let bias = random_bias(&mut rng, g.out_c);
            let bias = (rng.range(0, 1) == 1).then_some(&bias[..]);
            let mut want = vec![T::default(); g.output_len()];
            depthwise_conv_2d_q(&p, &q, &requant, &input, &filter, bias, &mut want);
            let k = g.filter_h * g.filter_w;
            let mut packed = vec![T::default(); blocked_len(g.out_c, k)];
            pack_cols_blocked(g.out_c, k, &filter, &mut packed);
            let mut folded = vec![0i32; g.out_c];
            let w = |c: usize, i: usize| filter[i * g.out_c + c].to_i32();
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
            depthwise_conv_2d_q_packed(&p, &q, &requant, &input, &packed, &folded, &mut got);
            assert_eq!(got, want, "{g:?} {q:?}");
            // Packed float on the same geometry.
            let xf: Vec<f32> = input.iter().map(|v| v.to_i32() as f32 / 16.0).collect();
            let wf: Vec<f32> = filter.iter().map(|v| v.to_i32() as f32 / 32.0).collect();
            let bf: Vec<f32> = (0..g.out_c).map(|c| c as f32 - 3.5).collect();
            let mut want = vec![0.0f32; g.output_len()];
            depthwise_conv_2d_f32(&p, ActF32::NONE, &xf, &wf, Some(&bf), &mut want);
            let mut packed = vec![0.0f32; blocked_len(g.out_c, k)];
            pack_cols_blocked(g.out_c, k, &wf, &mut packed);
            let mut got = vec![0.0f32; g.output_len()];
            depthwise_conv_2d_f32_packed(&p, ActF32::NONE, &xf, &packed, &bf, &mut got);
            assert_eq!(got, want);
        }
    }

    /// Explicit padding (any amount) gives what a VALID convolution over a padded copy (zeros,
    /// or the input's zero point) gives, bit for bit.
    #[test]
    fn explicit_padding_is_a_padded_copy() {
        let mut rng = Rng(0x5eed);
        for (mut g, after) in random_explicit(&mut Rng(0xd00d)) {
            let m = rng.range(1, 2) as usize;
            g.out_c = g.in_c * m;
            let p = DepthwiseConv2dParams {
                geom: g,
                depth_multiplier: m,
            };
            let k = g.filter_h * g.filter_w;
            let q = random_quant::<i8>(&mut rng, false);
            let input = random_vec::<i8>(&mut rng, g.input_len());
            let filter = random_vec::<i8>(&mut rng, p.filter_len());
            let bias = random_bias(&mut rng, g.out_c);
            let requant = random_requant(&mut rng, g.out_c);
            let z = i8::from_i32_saturating(-q.input_offset);
            let (vg, padded) = materialize_padding(&g, after, &input, z);
            let vp = DepthwiseConv2dParams { geom: vg, ..p };
            let mut want = vec![0i8; g.output_len()];
            depthwise_conv_2d_q(&vp, &q, &requant, &padded, &filter, Some(&bias), &mut want);
            let mut got = vec![0i8; g.output_len()];
            depthwise_conv_2d_q(&p, &q, &requant, &input, &filter, Some(&bias), &mut got);
            assert_eq!(got, want, "{g:?}");
            let mut packed = vec![0i8; blocked_len(g.out_c, k)];
            pack_cols_blocked(g.out_c, k, &filter, &mut packed);
            let mut folded = vec![0i32; g.out_c];
            let w = |c: usize, i: usize| filter[i * g.out_c + c].to_i32();
            fold_bias(g.out_c, k, q.input_offset, 0, w, Some(&bias), &mut folded);
            depthwise_conv_2d_q_packed(&p, &q, &requant, &input, &packed, &folded, &mut got);
            assert_eq!(got, want, "{g:?}");
            let xf: Vec<f32> = input.iter().map(|v| v.to_i32() as f32 / 16.0).collect();
            let wf: Vec<f32> = filter.iter().map(|v| v.to_i32() as f32 / 32.0).collect();
            let (_, padded) = materialize_padding(&g, after, &xf, 0.0);
            let mut want = vec![0.0f32; g.output_len()];
            depthwise_conv_2d_f32(&vp, ActF32::NONE, &padded, &wf, None, &mut want);
            let mut got = vec![0.0f32; g.output_len()];
            depthwise_conv_2d_f32(&p, ActF32::NONE, &xf, &wf, None, &mut got);
            assert_eq!(got, want, "{g:?}");
        }
    }

    #[test]
    fn folded_bias_matches_the_reference_int8() {
        check_folded::<i8>(0x0bad_cafe, false);
    }

    #[test]
    fn folded_bias_matches_the_reference_uint8() {
        check_folded::<u8>(0xfeed_f00d, true);
    }
}

//! DEPTHWISE_CONV_2D: each input channel convolved with its own `depth_multiplier` filters,
//! following TFLite's `reference_ops::DepthwiseConv` (float, legacy uint8) and
//! `reference_integer_ops::DepthwiseConvPerChannel` (int8).
//!
//! Filter layout is `[1, filter_h, filter_w, out_c]` with `out_c = in_c · depth_multiplier`;
//! output channel `ic · depth_multiplier + m` reads input channel `ic`.

use super::common::{ActF32, Quantized, Requant};
use super::conv_2d::{ConvGeometry, ConvQuant};

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
    for fy in 0..g.filter_h {
        let iy = (oy * g.stride[0] + fy * g.dilation[0]) as isize - g.pad[0] as isize;
        if iy < 0 || iy as usize >= g.in_h {
            continue;
        }
        for fx in 0..g.filter_w {
            let ix = (ox * g.stride[1] + fx * g.dilation[1]) as isize - g.pad[1] as isize;
            if ix < 0 || ix as usize >= g.in_w {
                continue;
            }
            let xi = ((b * g.in_h + iy as usize) * g.in_w + ix as usize) * g.in_c;
            let wi = (fy * g.filter_w + fx) * g.out_c;
            f(xi, wi);
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
    let m = p.depth_multiplier;
    for b in 0..g.batches {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let o = ((b * g.out_h + oy) * g.out_w + ox) * g.out_c;
                for ic in 0..g.in_c {
                    for j in 0..m {
                        let oc = ic * m + j;
                        let mut total = 0.0f32;
                        for_each_tap(g, b, oy, ox, |xi, wi| {
                            total += input[xi + ic] * filter[wi + oc]
                        });
                        let bias_value = bias.map_or(0.0, |bv| bv[oc]);
                        output[o + oc] = act.apply(total + bias_value);
                    }
                }
            }
        }
    }
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
    let m = p.depth_multiplier;
    for b in 0..g.batches {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let o = ((b * g.out_h + oy) * g.out_w + ox) * g.out_c;
                for ic in 0..g.in_c {
                    for j in 0..m {
                        let oc = ic * m + j;
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
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::common::ActQ;

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
}

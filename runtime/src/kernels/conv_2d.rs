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

#[cfg(test)]
mod tests {
    use super::*;

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
}

//! TRANSPOSE_CONV: the gradient of CONV_2D with respect to its input, following TFLite's
//! `reference_ops::TransposeConv` (float, legacy uint8) and `reference_integer_ops::TransposeConv`
//! (int8 per-channel).
//!
//! The reference kernels scatter: every input pixel adds `x · w` to each output position its
//! filter window covers (`out = in · stride − pad + tap`), into a zeroed accumulator. The bias,
//! the requantization and the clamp follow in a second pass. The float kernel accumulates in the
//! output itself; the quantized kernels need an `i32` scratch of the output's size, which the
//! caller provides (kernels do not allocate).
//!
//! Filter layout is `[out_c, filter_h, filter_w, in_c]`. In the [`ConvGeometry`] the "input" is
//! the data operand and `pad` is TFLite's padding computed with the *output* size as the image
//! size (`ComputePaddingHeightWidth(stride, 1, out_h, out_w, filter_h, filter_w)`); dilation is 1.

use super::common::{ActF32, Quantized, Requant};
use super::conv_2d::{ConvGeometry, ConvQuant};

/// Parameters of TRANSPOSE_CONV.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransposeConvParams {
    /// Geometry: `in_*` of the data operand, `out_*` of the result.
    pub geom: ConvGeometry,
}

/// Calls `f(out_index, filter_index, x_index)` for every (input element, filter tap, output
/// channel) whose output position is inside the output, in the reference kernel's order.
#[inline]
fn scatter(g: &ConvGeometry, mut f: impl FnMut(usize, usize, usize)) {
    for b in 0..g.batches {
        for iy in 0..g.in_h {
            for ix in 0..g.in_w {
                for ic in 0..g.in_c {
                    let x_index = ((b * g.in_h + iy) * g.in_w + ix) * g.in_c + ic;
                    for fy in 0..g.filter_h {
                        let oy = (iy * g.stride[0] + fy) as isize - g.pad[0] as isize;
                        if oy < 0 || oy as usize >= g.out_h {
                            continue;
                        }
                        for fx in 0..g.filter_w {
                            let ox = (ix * g.stride[1] + fx) as isize - g.pad[1] as isize;
                            if ox < 0 || ox as usize >= g.out_w {
                                continue;
                            }
                            let o = ((b * g.out_h + oy as usize) * g.out_w + ox as usize) * g.out_c;
                            for oc in 0..g.out_c {
                                let w = ((oc * g.filter_h + fy) * g.filter_w + fx) * g.in_c + ic;
                                f(o + oc, w, x_index);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Float TRANSPOSE_CONV: scatter-accumulate into `output`, add the bias, apply the activation.
pub fn transpose_conv_f32(
    p: &TransposeConvParams,
    act: ActF32,
    input: &[f32],
    filter: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    let g = &p.geom;
    output.fill(0.0);
    scatter(g, |o, w, x| output[o] += input[x] * filter[w]);
    let oc_n = g.out_c;
    for (i, v) in output.iter_mut().enumerate() {
        if let Some(bv) = bias {
            *v += bv[i % oc_n];
        }
        *v = act.apply(*v);
    }
}

/// Quantized TRANSPOSE_CONV (int8 per-channel, legacy uint8): scatter
/// `(x + input_offset)·(w + filter_offset)` into `scratch` (wrapping `i32`, as long as the
/// output), then per element `MultiplyByQuantizedMultiplier(acc + bias[oc], requant[oc]) +
/// output_offset`, clamped.
#[allow(clippy::too_many_arguments)] // operands, weights and the scratch are all separate slices
pub fn transpose_conv_q<T: Quantized, W: Quantized>(
    p: &TransposeConvParams,
    q: &ConvQuant,
    requant: &[Requant],
    input: &[T],
    filter: &[W],
    bias: Option<&[i32]>,
    scratch: &mut [i32],
    output: &mut [T],
) {
    let g = &p.geom;
    scratch.fill(0);
    scatter(g, |o, w, x| {
        let xv = input[x].to_i32().wrapping_add(q.input_offset);
        let wv = filter[w].to_i32().wrapping_add(q.filter_offset);
        scratch[o] = scratch[o].wrapping_add(xv.wrapping_mul(wv));
    });
    let oc_n = g.out_c;
    for (i, (out, &acc)) in output.iter_mut().zip(scratch.iter()).enumerate() {
        let oc = i % oc_n;
        let acc = match bias {
            Some(bv) => acc.wrapping_add(bv[oc]),
            None => acc,
        };
        let v = requant[oc].apply(acc).wrapping_add(q.output_offset);
        *out = T::from_i32_saturating(q.act.apply(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::common::ActQ;

    fn geom_1d(in_w: usize, out_w: usize, f: usize, stride: usize, pad: usize) -> ConvGeometry {
        ConvGeometry {
            batches: 1,
            in_h: 1,
            in_w,
            in_c: 1,
            out_h: 1,
            out_w,
            out_c: 1,
            filter_h: 1,
            filter_w: f,
            stride: [1, stride],
            dilation: [1, 1],
            pad: [0, pad],
        }
    }

    #[test]
    fn float_stride_two_scatters() {
        // 2 input pixels, 3 taps, stride 2, no padding: 5 outputs.
        let p = TransposeConvParams {
            geom: geom_1d(2, 5, 3, 2, 0),
        };
        let mut out = [0.0f32; 5];
        transpose_conv_f32(
            &p,
            ActF32::NONE,
            &[1.0, 10.0],
            &[1.0, 2.0, 3.0],
            Some(&[0.5]),
            &mut out,
        );
        // x0 → out 0,1,2 += 1,2,3; x1 → out 2,3,4 += 10,20,30
        assert_eq!(out, [1.5, 2.5, 13.5, 20.5, 30.5]);
        // padding 1 shifts the window left and drops what falls outside.
        let p = TransposeConvParams {
            geom: geom_1d(2, 4, 3, 2, 1),
        };
        let mut out = [0.0f32; 4];
        transpose_conv_f32(
            &p,
            ActF32 {
                min: 0.0,
                max: 20.0,
            },
            &[1.0, 10.0],
            &[1.0, 2.0, 3.0],
            None,
            &mut out,
        );
        assert_eq!(out, [2.0, 13.0, 20.0, 20.0]);
    }

    #[test]
    fn quantized_uses_scratch() {
        let p = TransposeConvParams {
            geom: geom_1d(2, 3, 2, 1, 0),
        };
        let q = ConvQuant {
            input_offset: 1,
            filter_offset: 0,
            output_offset: 0,
            act: ActQ {
                min: -128,
                max: 127,
            },
        };
        let mut scratch = [99i32; 3];
        let mut out = [0i8; 3];
        let rq = [Requant {
            multiplier: 1 << 30,
            shift: 1,
        }];
        transpose_conv_q(
            &p,
            &q,
            &rq,
            &[0i8, 9],
            &[2i8, -1],
            Some(&[100]),
            &mut scratch,
            &mut out,
        );
        // x+1 = (1, 10): out0 = 2, out1 = -1 + 20 = 19, out2 = -10; then + 100 with M = 1
        assert_eq!(scratch, [2, 19, -10]);
        assert_eq!(out, [102, 119, 90]);
    }
}

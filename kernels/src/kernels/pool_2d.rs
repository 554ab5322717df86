//! AVERAGE_POOL_2D and MAX_POOL_2D over NHWC tensors, following TFLite's
//! `reference_ops::{AveragePool, MaxPool}` (float, uint8) and
//! `reference_integer_ops::{AveragePool, MaxPool}` (int8, int16).
//!
//! The window of output pixel `(oy, ox)` starts at `(oy·stride_h − pad_top, ox·stride_w −
//! pad_left)` and is clipped to the image: padding is never averaged in (the divisor is the
//! number of taps inside) and never wins a max. Quantized pools work in the input's integer
//! domain (TFLite requires the output to share the input's scale and zero point); the average
//! rounds half away from zero, `(acc ± count/2) / count` with C's truncating division.

use super::common::{ActF32, ActQ, Quantized};

/// Parameters of a 2-D pool. Every field is a compile-time constant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pool2dParams {
    /// Batch size.
    pub batches: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Channels (input and output).
    pub channels: usize,
    /// Output height.
    pub out_h: usize,
    /// Output width.
    pub out_w: usize,
    /// `[filter_h, filter_w]`.
    pub filter: [usize; 2],
    /// `[stride_h, stride_w]`.
    pub stride: [usize; 2],
    /// `[pad_top, pad_left]`.
    pub pad: [usize; 2],
}

impl Pool2dParams {
    /// Number of input elements.
    pub fn input_len(&self) -> usize {
        self.batches * self.in_h * self.in_w * self.channels
    }

    /// Number of output elements.
    pub fn output_len(&self) -> usize {
        self.batches * self.out_h * self.out_w * self.channels
    }

    /// The clipped window `[start, end)` of input rows (`axis` 0) or columns (1) for output
    /// row/column `out`.
    #[inline]
    fn window(&self, axis: usize, out: usize) -> (usize, usize) {
        let limit = (if axis == 0 { self.in_h } else { self.in_w }) as isize;
        let origin = (out * self.stride[axis]) as isize - self.pad[axis] as isize;
        let start = origin.max(0);
        let end = (origin + self.filter[axis] as isize).min(limit);
        (start as usize, end.max(start) as usize)
    }
}

/// Calls `f(output_index, (y0, y1), (x0, x1))` for every output pixel with its clipped window;
/// `output_index` is the flat index of the pixel's channel 0.
#[inline]
fn for_each_window(
    p: &Pool2dParams,
    mut f: impl FnMut(usize, usize, (usize, usize), (usize, usize)),
) {
    for b in 0..p.batches {
        for oy in 0..p.out_h {
            let ys = p.window(0, oy);
            for ox in 0..p.out_w {
                let xs = p.window(1, ox);
                f(b, ((b * p.out_h + oy) * p.out_w + ox) * p.channels, ys, xs);
            }
        }
    }
}

/// Float AVERAGE_POOL_2D: the sum over the clipped window (rows, then columns) divided by the
/// number of taps, then the activation.
pub fn average_pool_2d_f32(p: &Pool2dParams, act: ActF32, input: &[f32], output: &mut [f32]) {
    for_each_window(p, |b, o, (y0, y1), (x0, x1)| {
        for c in 0..p.channels {
            let mut total = 0.0f32;
            let mut count = 0.0f32;
            for y in y0..y1 {
                for x in x0..x1 {
                    total += input[((b * p.in_h + y) * p.in_w + x) * p.channels + c];
                    count += 1.0;
                }
            }
            output[o + c] = act.apply(total / count);
        }
    });
}

/// Quantized AVERAGE_POOL_2D: the integer sum over the window divided by the tap count, rounding
/// half away from zero, clamped to the activation range.
pub fn average_pool_2d_q<T: Quantized>(p: &Pool2dParams, act: ActQ, input: &[T], output: &mut [T]) {
    for_each_window(p, |b, o, (y0, y1), (x0, x1)| {
        // The compiler rejects empty windows; never divide by zero anyway.
        let count = (((y1 - y0) * (x1 - x0)) as i64).max(1);
        for c in 0..p.channels {
            let mut acc: i64 = 0;
            for y in y0..y1 {
                for x in x0..x1 {
                    acc +=
                        i64::from(input[((b * p.in_h + y) * p.in_w + x) * p.channels + c].to_i32());
                }
            }
            let avg = if acc > 0 {
                (acc + count / 2) / count
            } else {
                (acc - count / 2) / count
            };
            let v = avg.max(i64::from(act.min)).min(i64::from(act.max));
            output[o + c] = T::from_i32_saturating(v as i32);
        }
    });
}

/// Float MAX_POOL_2D: the largest value in the window (starting from `f32::MIN`), then the
/// activation.
pub fn max_pool_2d_f32(p: &Pool2dParams, act: ActF32, input: &[f32], output: &mut [f32]) {
    for_each_window(p, |b, o, (y0, y1), (x0, x1)| {
        for c in 0..p.channels {
            let mut max = f32::MIN;
            for y in y0..y1 {
                for x in x0..x1 {
                    let v = input[((b * p.in_h + y) * p.in_w + x) * p.channels + c];
                    // std::max(max, v) keeps `max` unless `max < v`.
                    if max < v {
                        max = v;
                    }
                }
            }
            output[o + c] = act.apply(max);
        }
    });
}

/// Quantized MAX_POOL_2D: the largest value in the window (starting from the type's minimum),
/// clamped to the activation range.
pub fn max_pool_2d_q<T: Quantized>(p: &Pool2dParams, act: ActQ, input: &[T], output: &mut [T]) {
    for_each_window(p, |b, o, (y0, y1), (x0, x1)| {
        for c in 0..p.channels {
            let mut max = T::MIN;
            for y in y0..y1 {
                for x in x0..x1 {
                    max = max.max(input[((b * p.in_h + y) * p.in_w + x) * p.channels + c].to_i32());
                }
            }
            output[o + c] = T::from_i32_saturating(act.apply(max));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(
        in_hw: [usize; 2],
        out_hw: [usize; 2],
        filter: [usize; 2],
        stride: [usize; 2],
        pad: [usize; 2],
    ) -> Pool2dParams {
        Pool2dParams {
            batches: 1,
            in_h: in_hw[0],
            in_w: in_hw[1],
            channels: 1,
            out_h: out_hw[0],
            out_w: out_hw[1],
            filter,
            stride,
            pad,
        }
    }

    #[test]
    fn average_excludes_padding() {
        // 3x3 SAME, stride 1, on a 2x2 input: every window sees the whole input.
        let p = params([2, 2], [2, 2], [3, 3], [1, 1], [1, 1]);
        let mut out = [0.0f32; 4];
        average_pool_2d_f32(&p, ActF32::NONE, &[1.0, 2.0, 3.0, 6.0], &mut out);
        assert_eq!(out, [3.0; 4]);
        // 2x2 VALID stride 2 over 4x1 … use a 1x4 row: windows [0,1] and [2,3].
        let p = params([1, 4], [1, 2], [1, 2], [1, 2], [0, 0]);
        let mut out = [0.0f32; 2];
        average_pool_2d_f32(
            &p,
            ActF32 { min: 0.0, max: 6.0 },
            &[1.0, 2.0, -3.0, -6.0],
            &mut out,
        );
        assert_eq!(out, [1.5, 0.0]);
    }

    #[test]
    fn quantized_average_rounds_away_from_zero() {
        let p = params([1, 4], [1, 2], [1, 2], [1, 2], [0, 0]);
        let mut out = [0i8; 2];
        average_pool_2d_q(
            &p,
            ActQ {
                min: -128,
                max: 127,
            },
            &[1i8, 2, -1, -2],
            &mut out,
        );
        // 3/2 = 1.5 → 2; −3/2 → −2
        assert_eq!(out, [2, -2]);
        let p = params([1, 3], [1, 1], [1, 3], [1, 1], [0, 0]);
        let mut out = [0u8; 1];
        average_pool_2d_q(&p, ActQ { min: 0, max: 255 }, &[1u8, 1, 2], &mut out);
        // 4/3 = 1.33 → 1
        assert_eq!(out, [1]);
        let mut out = [0i8; 1];
        average_pool_2d_q(
            &p,
            ActQ {
                min: -128,
                max: 127,
            },
            &[-1i8, -1, -3],
            &mut out,
        );
        // −5/3 = −1.67 → −2 (C: (−5 − 1) / 3 = −2)
        assert_eq!(out, [-2]);
    }

    #[test]
    fn max_pool_same_stride_two() {
        // 1x5 row, window 3, stride 2, SAME: out 3, total pad 2 → pad_left 1.
        let p = params([1, 5], [1, 3], [1, 3], [1, 2], [0, 1]);
        let mut out = [0.0f32; 3];
        max_pool_2d_f32(&p, ActF32::NONE, &[-5.0, -1.0, -7.0, -2.0, -9.0], &mut out);
        assert_eq!(out, [-1.0, -1.0, -2.0]);
        let mut out = [0i8; 3];
        max_pool_2d_q(
            &p,
            ActQ { min: -3, max: 127 },
            &[-5i8, -1, -7, -2, -9],
            &mut out,
        );
        assert_eq!(out, [-1, -1, -2]);
        let mut out = [0i8; 3];
        max_pool_2d_q(
            &p,
            ActQ { min: -1, max: 127 },
            &[-5i8, -1, -7, -2, -9],
            &mut out,
        );
        assert_eq!(out, [-1, -1, -1]);
    }
}

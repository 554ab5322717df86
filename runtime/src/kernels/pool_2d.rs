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
        let limit = if axis == 0 { self.in_h } else { self.in_w } as isize;
        let origin = (out * self.stride[axis]) as isize - self.pad[axis] as isize;
        let start = origin.max(0);
        let end = (origin + self.filter[axis] as isize).min(limit);
        (start as usize, end.max(start) as usize)
    }

    /// Calls `f(output_index, input_pixel_indices)` for every output pixel, where the closure
    /// receives an iterator over the flat index of channel 0 of every input pixel in the window.
    #[inline]
    fn for_each_window(&self, mut f: impl FnMut(usize, &mut dyn Iterator<Item = usize>)) {
        for b in 0..self.batches {
            for oy in 0..self.out_h {
                let (y0, y1) = self.window(0, oy);
                for ox in 0..self.out_w {
                    let (x0, x1) = self.window(1, ox);
                    let o = ((b * self.out_h + oy) * self.out_w + ox) * self.channels;
                    let mut pixels = (y0..y1).flat_map(move |y| {
                        (x0..x1).map(move |x| ((b * self.in_h + y) * self.in_w + x) * self.channels)
                    });
                    f(o, &mut pixels);
                }
            }
        }
    }
}

/// Float AVERAGE_POOL_2D: the sum over the clipped window (rows, then columns) divided by the
/// number of taps, then the activation.
pub fn average_pool_2d_f32(p: &Pool2dParams, act: ActF32, input: &[f32], output: &mut [f32]) {
    let c_n = p.channels;
    p.for_each_window(|o, pixels| {
        let out = &mut output[o..o + c_n];
        out.fill(0.0);
        let mut count = 0.0f32;
        for i in pixels {
            for (acc, &x) in out.iter_mut().zip(&input[i..i + c_n]) {
                *acc += x;
            }
            count += 1.0;
        }
        for v in out.iter_mut() {
            *v = act.apply(*v / count);
        }
    });
}

/// Quantized AVERAGE_POOL_2D: the integer sum over the window, divided by the tap count with
/// rounding half away from zero, clamped to the activation range.
pub fn average_pool_2d_q<T: Quantized>(p: &Pool2dParams, act: ActQ, input: &[T], output: &mut [T]) {
    let c_n = p.channels;
    let mut acc_buf = [0i64; 64];
    p.for_each_window(|o, pixels| {
        // Channels in chunks, so the accumulators live on the stack.
        let pixels: &mut dyn Iterator<Item = usize> = pixels;
        let first: [usize; 0] = [];
        let _ = first;
        let mut idx = [0usize; 0];
        let _ = &mut idx;
        let mut list = PixelList::default();
        for i in pixels {
            list.push(i);
        }
        let count = list.len as i64;
        let mut c0 = 0;
        while c0 < c_n {
            let n = (c_n - c0).min(acc_buf.len());
            let acc = &mut acc_buf[..n];
            acc.fill(0);
            for &i in list.as_slice() {
                for (a, x) in acc.iter_mut().zip(&input[i + c0..i + c0 + n]) {
                    *a += i64::from(x.to_i32());
                }
            }
            for (k, &a) in acc.iter().enumerate() {
                let avg = if count == 0 {
                    0
                } else if a > 0 {
                    (a + count / 2) / count
                } else {
                    (a - count / 2) / count
                };
                let v = avg.clamp(i64::from(act.min), i64::from(act.max)) as i32;
                output[o + c0 + k] = T::from_i32_saturating(v);
            }
            c0 += n;
        }
    });
}

/// Float MAX_POOL_2D: the largest value in the window (starting from `f32::MIN`), then the
/// activation.
pub fn max_pool_2d_f32(p: &Pool2dParams, act: ActF32, input: &[f32], output: &mut [f32]) {
    let c_n = p.channels;
    p.for_each_window(|o, pixels| {
        let out = &mut output[o..o + c_n];
        out.fill(f32::MIN);
        for i in pixels {
            for (m, &x) in out.iter_mut().zip(&input[i..i + c_n]) {
                // std::max(m, x) keeps m unless m < x.
                if *m < x {
                    *m = x;
                }
            }
        }
        for v in out.iter_mut() {
            *v = act.apply(*v);
        }
    });
}

/// Quantized MAX_POOL_2D: the largest value in the window (starting from the type's minimum),
/// clamped to the activation range.
pub fn max_pool_2d_q<T: Quantized>(p: &Pool2dParams, act: ActQ, input: &[T], output: &mut [T]) {
    let c_n = p.channels;
    p.for_each_window(|o, pixels| {
        let out = &mut output[o..o + c_n];
        out.fill(T::from_i32_saturating(T::MIN));
        for i in pixels {
            for (m, &x) in out.iter_mut().zip(&input[i..i + c_n]) {
                if *m < x {
                    *m = x;
                }
            }
        }
        for v in out.iter_mut() {
            *v = T::from_i32_saturating(act.apply(v.to_i32()));
        }
    });
}

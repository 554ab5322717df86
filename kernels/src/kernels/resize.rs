//! RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR on NHWC tensors.
//!
//! Which TFLite reference each dtype follows (as `resize_bilinear.cc`'s reference kernel
//! dispatches):
//! - float32 and uint8 bilinear: `reference_ops::ResizeBilinear`, float interpolation; for uint8
//!   the sum is offset by 0.5 and truncated to the integer type ([`resize_bilinear_f32`],
//!   [`resize_bilinear_u8`]);
//! - int8 (and int16) bilinear: `reference_ops::ResizeBilinearInteger`, integer arithmetic with
//!   scales in 1/1024 units and a rounding division by 2^20 ([`resize_bilinear_integer`]);
//! - nearest neighbour, every dtype: `reference_ops::ResizeNearestNeighbor`
//!   ([`resize_nearest_neighbor`]).
//!
//! Values are resized in the quantized domain; TFLite neither requantizes nor checks that input
//! and output quantization agree.

use super::common::Quantized;

/// Shapes, flags and TFLite's precomputed scales of a resize.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResizeParams {
    /// Batch size.
    pub batches: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Channels.
    pub depth: usize,
    /// Output height.
    pub out_h: usize,
    /// Output width.
    pub out_w: usize,
    /// `align_corners` option.
    pub align_corners: bool,
    /// `half_pixel_centers` option.
    pub half_pixel_centers: bool,
    /// `in_h / out_h` in `f32` (`(in_h − 1) / (out_h − 1)` with aligned corners and `out_h > 1`).
    pub height_scale: f32,
    /// The same for the width.
    pub width_scale: f32,
    /// The integer kernel's height scale in 1/1024 units, rounded (`ResizeBilinearInteger`).
    pub height_scale_10: i32,
    /// The same for the width.
    pub width_scale_10: i32,
}

fn float_scale(input: usize, output: usize, align_corners: bool) -> f32 {
    if align_corners && output > 1 {
        (input - 1) as f32 / (output - 1) as f32
    } else {
        input as f32 / output as f32
    }
}

fn scale_10(input: usize, output: usize, align_corners: bool) -> i32 {
    let (i, o) = if align_corners && output > 1 {
        (input as i32 - 1, output as i32 - 1)
    } else {
        (input as i32, output as i32)
    };
    ((1 << 10) * i + o / 2) / o
}

impl ResizeParams {
    /// Parameters for resizing `[batches, in_h, in_w, depth]` to `out_h × out_w` (all sizes
    /// positive, as the compiler checks), with TFLite's scale arithmetic.
    pub fn new(
        in_shape: [usize; 4],
        out_h: usize,
        out_w: usize,
        align_corners: bool,
        half_pixel_centers: bool,
    ) -> Self {
        let [batches, in_h, in_w, depth] = in_shape;
        ResizeParams {
            batches,
            in_h,
            in_w,
            depth,
            out_h,
            out_w,
            align_corners,
            half_pixel_centers,
            height_scale: float_scale(in_h, out_h, align_corners),
            width_scale: float_scale(in_w, out_w, align_corners),
            height_scale_10: scale_10(in_h, out_h, align_corners),
            width_scale_10: scale_10(in_w, out_w, align_corners),
        }
    }

    /// Number of input elements.
    pub fn in_len(&self) -> usize {
        self.batches * self.in_h * self.in_w * self.depth
    }

    /// Number of output elements.
    pub fn out_len(&self) -> usize {
        self.batches * self.out_h * self.out_w * self.depth
    }

    /// Whether the kernels can run: an output with elements needs an input with rows and
    /// columns to read.
    pub fn is_valid(&self) -> bool {
        self.out_len() == 0 || (self.in_h > 0 && self.in_w > 0)
    }
}

/// TFLite's float `ComputeInterpolationValues`: the source coordinate and its two neighbours.
#[inline]
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
    let lower = (libm::floorf(scaled) as i32).max(0).min(last);
    let upper = (libm::ceilf(scaled) as i32).min(last).max(0);
    (scaled, lower as usize, upper as usize)
}

/// The float interpolation shared by float32 and uint8, `T` read as `f32`; `rounding_offset` is
/// added to the sum before `store` converts it (0 for float, 0.5 for integer types).
#[inline]
fn resize_bilinear_float<T: Copy>(
    p: &ResizeParams,
    input: &[T],
    output: &mut [T],
    load: impl Fn(T) -> f32,
    rounding_offset: f32,
    store: impl Fn(f32) -> T,
) {
    let (ih, iw, c) = (p.in_h, p.in_w, p.depth);
    let mut out = 0;
    for b in 0..p.batches {
        let batch = b * ih * iw * c;
        for y in 0..p.out_h {
            let (input_y, y0, y1) = interpolation_f32(y, p.height_scale, p.half_pixel_centers, ih);
            let dy = input_y - y0 as f32;
            for x in 0..p.out_w {
                let (input_x, x0, x1) =
                    interpolation_f32(x, p.width_scale, p.half_pixel_centers, iw);
                let dx = input_x - x0 as f32;
                let r00 = batch + (y0 * iw + x0) * c;
                let r10 = batch + (y1 * iw + x0) * c;
                let r01 = batch + (y0 * iw + x1) * c;
                let r11 = batch + (y1 * iw + x1) * c;
                for ch in 0..c {
                    let v = load(input[r00 + ch]) * (1.0 - dy) * (1.0 - dx)
                        + load(input[r10 + ch]) * dy * (1.0 - dx)
                        + load(input[r01 + ch]) * (1.0 - dy) * dx
                        + load(input[r11 + ch]) * dy * dx
                        + rounding_offset;
                    output[out] = store(v);
                    out += 1;
                }
            }
        }
    }
}

/// RESIZE_BILINEAR, float32 (`reference_ops::ResizeBilinear<float>`).
pub fn resize_bilinear_f32(p: &ResizeParams, input: &[f32], output: &mut [f32]) {
    resize_bilinear_float(p, input, output, |v| v, 0.0, |v| v);
}

/// RESIZE_BILINEAR, uint8 (`reference_ops::ResizeBilinear<uint8_t>`): float interpolation, plus
/// 0.5, truncated.
pub fn resize_bilinear_u8(p: &ResizeParams, input: &[u8], output: &mut [u8]) {
    resize_bilinear_float(p, input, output, f32::from, 0.5, |v| v as u8);
}

/// TFLite's `ComputeInterpolationValuesInteger`: the source coordinate in 1/1024 units and its two
/// neighbours.
#[inline]
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

/// RESIZE_BILINEAR, int8 and int16 (`reference_ops::ResizeBilinearInteger`): weights in 1/1024
/// units, the 2^20-scaled sum divided with rounding half away from zero.
pub fn resize_bilinear_integer<T: Quantized>(p: &ResizeParams, input: &[T], output: &mut [T]) {
    const ONE: i64 = 1 << 10;
    let (ih, iw, c) = (p.in_h, p.in_w, p.depth);
    let mut out = 0;
    for b in 0..p.batches {
        let batch = b * ih * iw * c;
        for y in 0..p.out_h {
            let (input_y, y0, y1) =
                interpolation_integer(y, p.height_scale_10, p.half_pixel_centers, ih);
            let fy = i64::from(input_y) - ONE * y0 as i64;
            for x in 0..p.out_w {
                let (input_x, x0, x1) =
                    interpolation_integer(x, p.width_scale_10, p.half_pixel_centers, iw);
                let fx = i64::from(input_x) - ONE * x0 as i64;
                let r00 = batch + (y0 * iw + x0) * c;
                let r10 = batch + (y1 * iw + x0) * c;
                let r01 = batch + (y0 * iw + x1) * c;
                let r11 = batch + (y1 * iw + x1) * c;
                for ch in 0..c {
                    let v = |i: usize| i64::from(input[i + ch].to_i32());
                    let sum = v(r00) * (ONE - fy) * (ONE - fx)
                        + v(r10) * fy * (ONE - fx)
                        + v(r01) * (ONE - fy) * fx
                        + v(r11) * fy * fx;
                    let round = if sum > 0 { 1i64 << 19 } else { -(1i64 << 19) };
                    let q = (sum + round) / (1 << 20);
                    output[out] = T::from_i32_saturating(q as i32);
                    out += 1;
                }
            }
        }
    }
}

/// TFLite's `GetNearestNeighbor`: the source index for output index `value` along one axis.
#[inline]
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
        libm::roundf(x) as i32
    } else {
        libm::floorf(x) as i32
    };
    let mut v = v.min(input_size as i32 - 1);
    if half_pixel_centers {
        v = v.max(0);
    }
    // Never negative for sizes the compiler accepts; the clamp only keeps indexing in bounds.
    v.max(0) as usize
}

/// RESIZE_NEAREST_NEIGHBOR, any element type (`reference_ops::ResizeNearestNeighbor`).
pub fn resize_nearest_neighbor<T: Copy>(p: &ResizeParams, input: &[T], output: &mut [T]) {
    let (ih, iw, c) = (p.in_h, p.in_w, p.depth);
    let mut out = 0;
    for b in 0..p.batches {
        let batch = b * ih * iw * c;
        for y in 0..p.out_h {
            let in_y = nearest(y, p.height_scale, ih, p.align_corners, p.half_pixel_centers);
            for x in 0..p.out_w {
                let in_x = nearest(x, p.width_scale, iw, p.align_corners, p.half_pixel_centers);
                let src = batch + (in_y * iw + in_x) * c;
                output[out..out + c].copy_from_slice(&input[src..src + c]);
                out += c;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_f32_upscale() {
        // 1x1x2x1 [0, 1] to width 4: scale 0.5, x = 0, 0.5, 1, 1.5 (clamped to 1).
        let p = ResizeParams::new([1, 1, 2, 1], 1, 4, false, false);
        let mut out = [0.0f32; 4];
        resize_bilinear_f32(&p, &[0.0, 1.0], &mut out);
        assert_eq!(out, [0.0, 0.5, 1.0, 1.0]);
    }

    #[test]
    fn bilinear_u8_rounds_half_up() {
        let p = ResizeParams::new([1, 1, 2, 1], 1, 4, false, false);
        let mut out = [0u8; 4];
        resize_bilinear_u8(&p, &[0, 3], &mut out);
        // 0, 1.5 + 0.5 -> 2, 3, 3.
        assert_eq!(out, [0, 2, 3, 3]);
    }

    #[test]
    fn bilinear_integer_matches_rounding() {
        let p = ResizeParams::new([1, 1, 2, 1], 1, 4, false, false);
        assert_eq!(p.width_scale_10, 512);
        let mut out = [0i8; 4];
        resize_bilinear_integer(&p, &[-3, 0], &mut out);
        // -3, -1.5 -> -2 (half away from zero), 0, 0.
        assert_eq!(out, [-3, -2, 0, 0]);
    }

    #[test]
    fn bilinear_align_corners() {
        // Width 3 to 5 with aligned corners: scale 0.5.
        let p = ResizeParams::new([1, 1, 3, 1], 1, 5, true, false);
        let mut out = [0.0f32; 5];
        resize_bilinear_f32(&p, &[0.0, 2.0, 4.0], &mut out);
        assert_eq!(out, [0.0, 1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn nearest_modes() {
        let input = [10u8, 20, 30];
        let mut out = [0u8; 6];
        // Plain: floor(x * 0.5).
        resize_nearest_neighbor(
            &ResizeParams::new([1, 1, 3, 1], 1, 6, false, false),
            &input,
            &mut out,
        );
        assert_eq!(out, [10, 10, 20, 20, 30, 30]);
        // Half-pixel centres: floor((x + 0.5) * 0.5).
        resize_nearest_neighbor(
            &ResizeParams::new([1, 1, 3, 1], 1, 6, false, true),
            &input,
            &mut out,
        );
        assert_eq!(out, [10, 10, 20, 20, 30, 30]);
        // Aligned corners: round(x * 2 / 5).
        resize_nearest_neighbor(
            &ResizeParams::new([1, 1, 3, 1], 1, 6, true, false),
            &input,
            &mut out,
        );
        assert_eq!(out, [10, 10, 20, 20, 30, 30]);
    }
}

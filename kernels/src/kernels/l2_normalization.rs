//! L2_NORMALIZATION over the last axis: `y = x / max(‖x‖₂, ε)`, following TFLite's
//! `reference_ops::L2Normalization` (float, uint8) and `reference_integer_ops::L2Normalization`
//! (int8).
//!
//! Quantized outputs have the fixed scale 1/128 (zero point 128 for uint8, 0 for int8). The
//! quantized kernels compute `1/‖x − Z‖` per row in fixed point
//! ([`get_inv_sqrt_quantized_multiplier_exp`], a Newton–Raphson iteration in gemmlowp's Q3.28)
//! and fold the 128 of the output scale into the rescaling.

use crate::fixedpoint::{
    multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_smaller_than_one_exp,
    rounding_divide_by_pot, saturating_rounding_doubling_high_mul,
};

/// Parameters of L2_NORMALIZATION: the input viewed as `[outer, depth]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L2NormalizationParams {
    /// Product of all dimensions but the last.
    pub outer: usize,
    /// The last dimension.
    pub depth: usize,
    /// Zero point of a quantized input (unused by the float kernel).
    pub input_zero_point: i32,
}

/// The float kernel's ε (TFLite hard-codes it).
pub const EPSILON: f32 = 1e-6;

/// gemmlowp's `SaturatingRoundingMultiplyByPOT<exponent>` for `exponent > 0`: `x · 2^exponent`,
/// saturating.
#[inline]
fn saturating_shift_left(x: i32, exponent: u32) -> i32 {
    let threshold = (1i32 << (31 - exponent)) - 1;
    if x > threshold {
        i32::MAX
    } else if x < -threshold {
        i32::MIN
    } else {
        x << exponent
    }
}

/// TFLite's `GetInvSqrtQuantizedMultiplierExp(input, reverse_shift)`: `1/√input` as a Q31
/// multiplier and a shift, `(multiplier, shift)`. With `reverse_shift = −1` the shift is a left
/// shift (≤ 0) usable with [`multiply_by_quantized_multiplier`]. Inputs 0 and 1 give
/// `(i32::MAX, 0)`.
pub fn get_inv_sqrt_quantized_multiplier_exp(input: i32, reverse_shift: i32) -> (i32, i32) {
    if input <= 1 {
        return (i32::MAX, 0);
    }
    let mut input = input;
    let mut shift: i32 = 11;
    while input >= 1 << 29 {
        input /= 4;
        shift += 1;
    }
    let max_left_shift_bits = (input as u32).leading_zeros() - 1;
    let left_shift_bit_pairs = max_left_shift_bits / 2 - 1;
    shift -= left_shift_bit_pairs as i32;
    input <<= 2 * left_shift_bit_pairs;
    // Q3.28 ("F3") fixed point: raw / 2^28. Products of F3 values are F6, F9 (raw SRDHM).
    let srdhm = saturating_rounding_doubling_high_mul;
    let fixedpoint_input = input >> 1;
    let half_input = rounding_divide_by_pot(fixedpoint_input, 1);
    let half_three: i32 = (1 << 28) + (1 << 27);
    let mut x: i32 = 1 << 28;
    for _ in 0..5 {
        let x3 = saturating_shift_left(srdhm(srdhm(x, x), x), 6);
        x = saturating_shift_left(srdhm(half_three, x).wrapping_sub(srdhm(half_input, x3)), 3);
    }
    // · √2/2 in Q0.31.
    let mut inv_sqrt = srdhm(x, 1_518_500_250);
    if shift < 0 {
        inv_sqrt <<= -shift;
        shift = 0;
    }
    (inv_sqrt, shift * reverse_shift)
}

/// Float L2_NORMALIZATION: per row, `x / max(√Σx², ε)` with the sum in `f32`.
pub fn l2_normalization_f32(p: &L2NormalizationParams, input: &[f32], output: &mut [f32]) {
    let d = p.depth;
    for i in 0..p.outer {
        let row = &input[i * d..(i + 1) * d];
        let mut squared = 0.0f32;
        for &v in row {
            squared += v * v;
        }
        let norm = libm::sqrtf(squared).max(EPSILON);
        for (o, &v) in output[i * d..(i + 1) * d].iter_mut().zip(row) {
            *o = v / norm;
        }
    }
}

/// The row's `Σ (x − Z)²` in wrapping `i32` and its inverse square root.
#[inline]
fn row_inv_sqrt(row: impl Iterator<Item = i32>, zero_point: i32) -> (i32, i32) {
    let mut acc: i32 = 0;
    for v in row {
        let d = v.wrapping_sub(zero_point);
        acc = acc.wrapping_add(d.wrapping_mul(d));
    }
    get_inv_sqrt_quantized_multiplier_exp(acc, -1)
}

/// int8 L2_NORMALIZATION (output scale 1/128, zero point 0):
/// `MultiplyByQuantizedMultiplier(x − Z, inv, shift + 7)`, clamped to `[−128, 127]`.
pub fn l2_normalization_i8(p: &L2NormalizationParams, input: &[i8], output: &mut [i8]) {
    let d = p.depth;
    for i in 0..p.outer {
        let row = &input[i * d..(i + 1) * d];
        let (inv, shift) = row_inv_sqrt(row.iter().map(|&v| i32::from(v)), p.input_zero_point);
        for (o, &v) in output[i * d..(i + 1) * d].iter_mut().zip(row) {
            let diff = i32::from(v) - p.input_zero_point;
            let y = multiply_by_quantized_multiplier(diff, inv, shift + 7);
            *o = y.clamp(-128, 127) as i8;
        }
    }
}

/// uint8 L2_NORMALIZATION (output scale 1/128, zero point 128):
/// `128 + MultiplyByQuantizedMultiplierSmallerThanOneExp(128·(x − Z), inv, shift)`, clamped to
/// `[0, 255]`.
pub fn l2_normalization_u8(p: &L2NormalizationParams, input: &[u8], output: &mut [u8]) {
    let d = p.depth;
    for i in 0..p.outer {
        let row = &input[i * d..(i + 1) * d];
        let (inv, shift) = row_inv_sqrt(row.iter().map(|&v| i32::from(v)), p.input_zero_point);
        for (o, &v) in output[i * d..(i + 1) * d].iter_mut().zip(row) {
            let diff = i32::from(v) - p.input_zero_point;
            let y =
                128 + multiply_by_quantized_multiplier_smaller_than_one_exp(128 * diff, inv, shift);
            *o = y.clamp(0, 255) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inv_sqrt_is_close_to_exact() {
        for &n in &[2i32, 3, 100, 12_345, 1 << 20, 65_025 * 40, i32::MAX] {
            let (m, s) = get_inv_sqrt_quantized_multiplier_exp(n, -1);
            let got = f64::from(m) / f64::from(1u32 << 31) * libm::pow(2.0, f64::from(s));
            let want = 1.0 / libm::sqrt(f64::from(n));
            assert!((got - want).abs() <= want * 1e-5, "n={n}: {got} vs {want}");
        }
        assert_eq!(get_inv_sqrt_quantized_multiplier_exp(0, -1), (i32::MAX, 0));
        assert_eq!(get_inv_sqrt_quantized_multiplier_exp(1, -1), (i32::MAX, 0));
    }

    #[test]
    fn float_unit_rows() {
        let p = L2NormalizationParams {
            outer: 2,
            depth: 2,
            input_zero_point: 0,
        };
        let mut out = [0.0f32; 4];
        l2_normalization_f32(&p, &[3.0, 4.0, 0.0, 0.0], &mut out);
        assert_eq!(out, [0.6, 0.8, 0.0, 0.0]);
    }

    #[test]
    fn quantized_rows() {
        let p = L2NormalizationParams {
            outer: 1,
            depth: 2,
            input_zero_point: 2,
        };
        let mut out = [0i8; 2];
        l2_normalization_i8(&p, &[5, 6], &mut out);
        // (3, 4) / 5 · 128 = (76.8, 102.4)
        assert_eq!(out, [77, 102]);
        let p = L2NormalizationParams {
            outer: 1,
            depth: 2,
            input_zero_point: 130,
        };
        let mut out = [0u8; 2];
        l2_normalization_u8(&p, &[127, 126], &mut out);
        // (−3, −4) / 5 · 128 + 128 = (51.2, 25.6)
        assert_eq!(out, [51, 26]);
    }
}

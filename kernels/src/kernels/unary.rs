//! Element-wise unary math: RSQRT, SQRT, EXP.
//!
//! Follows TFLite's `elementwise.cc` (float `1/√x` and `√x`; int8 RSQRT through
//! `GetInvSqrtQuantizedMultiplierExp` and two multiplier applications) and `exp.cc` (float
//! `exp`; int8 through a 256-entry lookup table that the compiler fills the way `LUTPopulate`
//! does, see [`LutParams`]).

use crate::fixedpoint::{
    multiply_by_quantized_multiplier, rounding_divide_by_pot, saturating_rounding_doubling_high_mul,
};

use super::common::{Quantized, Requant};

/// Float SQRT.
pub fn sqrt_f32(input: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(input) {
        *o = libm::sqrtf(x);
    }
}

/// Float RSQRT: `1 / √x`.
pub fn rsqrt_f32(input: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(input) {
        *o = 1.0 / libm::sqrtf(x);
    }
}

/// Float EXP.
pub fn exp_f32(input: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(input) {
        *o = libm::expf(x);
    }
}

/// A 256-entry lookup table indexed by the input's byte (`x as u8`), as TFLite's
/// `LookupTable` for 8-bit types. The compiler fills it (`LUTPopulate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LutParams<T> {
    /// Output for each input byte.
    pub table: [T; 256],
}

/// Applies a [`LutParams`] table (int8 EXP).
pub fn lookup_table<T: Quantized>(p: &LutParams<T>, input: &[T], out: &mut [T]) {
    for (o, &x) in out.iter_mut().zip(input) {
        *o = p.table[(x.to_i32() & 0xff) as usize];
    }
}

/// A stored value below the input's zero point (a negative real value) met at run time: TFLite's
/// quantized RSQRT and SQRT fail the invocation on one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NegativeInput {
    /// Position of the first such value in the input.
    pub position: usize,
    /// The stored value.
    pub value: i32,
}

/// The check TFLite's quantized RSQRT and SQRT make before computing: every stored value at least
/// `zero_point`.
///
/// # Errors
/// [`NegativeInput`] for the first value below `zero_point`.
pub fn check_nonnegative<T: Quantized>(zero_point: i32, input: &[T]) -> Result<(), NegativeInput> {
    match input.iter().position(|&v| v.to_i32() < zero_point) {
        Some(position) => Err(NegativeInput {
            position,
            value: input[position].to_i32(),
        }),
        None => Ok(()),
    }
}

/// Quantized RSQRT (int8): `elementwise.cc`'s `RsqrtEvalQuantized`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RsqrtQParams {
    /// Input zero point.
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
    /// `1 / (√S_in · S_out)`.
    pub output: Requant,
}

/// The shift that keeps the intermediate inverse square root an integer.
const RSQRT_SHIFT: i32 = 20;

/// Quantized RSQRT. Inputs below the zero point are rejected by TFLite at run time; here they go
/// through the same arithmetic as an input of 1 (never a panic).
pub fn rsqrt_q<T: Quantized>(p: &RsqrtQParams, input: &[T], out: &mut [T]) {
    for (o, &x) in out.iter_mut().zip(input) {
        let value = x.to_i32() - p.input_zero_point;
        if value == 0 {
            *o = T::from_i32_saturating(T::MAX);
            continue;
        }
        let (inv_mult, inv_shift) = inv_sqrt_quantized_multiplier_exp(value, -1);
        let data = multiply_by_quantized_multiplier(1, inv_mult, inv_shift + RSQRT_SHIFT);
        let output = multiply_by_quantized_multiplier(
            data,
            p.output.multiplier,
            p.output.shift - RSQRT_SHIFT,
        )
        .wrapping_add(p.output_zero_point);
        *o = T::from_i32_saturating(output);
    }
}

/// gemmlowp's `SaturatingRoundingMultiplyByPOT<e>` for `e > 0` on int32.
fn saturating_left_shift(x: i32, e: u32) -> i32 {
    let threshold = (1i32 << (31 - e)) - 1;
    if x > threshold {
        i32::MAX
    } else if x < -threshold {
        i32::MIN
    } else {
        x.wrapping_mul(1 << e)
    }
}

/// TFLite's `GetInvSqrtQuantizedMultiplierExp(input, reverse_shift)`: `1/√input` as a Q31
/// multiplier and a shift, by five Newton–Raphson steps in Q3.28.
pub fn inv_sqrt_quantized_multiplier_exp(input: i32, reverse_shift: i32) -> (i32, i32) {
    if input <= 1 {
        return (i32::MAX, 0);
    }
    let mut input = input;
    let mut shift: i32 = 11;
    while input >= (1 << 29) {
        input /= 4;
        shift += 1;
    }
    let max_left_shift_bits = (input as u32).leading_zeros() as i32 - 1;
    let max_left_shift_bit_pairs = max_left_shift_bits / 2;
    let left_shift_bit_pairs = max_left_shift_bit_pairs - 1;
    shift -= left_shift_bit_pairs;
    input <<= 2 * left_shift_bit_pairs;
    // Q3.28 values.
    let fixedpoint_input = input >> 1;
    let fixedpoint_half_input = rounding_divide_by_pot(fixedpoint_input, 1);
    let fixedpoint_half_three: i32 = (1 << 28) + (1 << 27);
    let mut x: i32 = 1 << 28;
    for _ in 0..5 {
        let x2 = saturating_rounding_doubling_high_mul(x, x);
        let x3 = saturating_left_shift(saturating_rounding_doubling_high_mul(x2, x), 6);
        let a = saturating_rounding_doubling_high_mul(fixedpoint_half_three, x);
        let b = saturating_rounding_doubling_high_mul(fixedpoint_half_input, x3);
        x = saturating_left_shift(a.wrapping_sub(b), 3);
    }
    let fixedpoint_half_sqrt_2: i32 = 1_518_500_250;
    let mut inv_sqrt = saturating_rounding_doubling_high_mul(x, fixedpoint_half_sqrt_2);
    if shift < 0 {
        inv_sqrt = inv_sqrt.wrapping_shl((-shift) as u32);
        shift = 0;
    }
    (inv_sqrt, shift * reverse_shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inv_sqrt_multiplier_is_accurate() {
        for v in [2, 3, 4, 17, 100, 255, 1 << 20, i32::MAX] {
            let (m, s) = inv_sqrt_quantized_multiplier_exp(v, -1);
            let real = f64::from(m) / f64::from(1u32 << 31) * 2f64.powi(s);
            let want = 1.0 / f64::from(v).sqrt();
            assert!((real - want).abs() / want < 1e-5, "{v}: {real} vs {want}");
        }
        assert_eq!(inv_sqrt_quantized_multiplier_exp(1, -1), (i32::MAX, 0));
    }

    #[test]
    fn rsqrt_int8() {
        // S_in = 1/64 (zero point −128), S_out = 1/16 (zero point −128): 1/(√S_in·S_out) = 128.
        let p = RsqrtQParams {
            input_zero_point: -128,
            output_zero_point: -128,
            output: Requant {
                multiplier: 1 << 30,
                shift: 8,
            },
        };
        let mut out = [0i8; 4];
        // x = 64/64 = 1 → 1 → 16 − 128; x = 16/64 → 2 → 32 − 128; x = 0 → saturates.
        rsqrt_q(&p, &[-64i8, -112, -128, 127], &mut out);
        assert_eq!(
            out,
            [
                -112,
                -96,
                127,
                ((16.0f64 / (255.0f64 / 64.0).sqrt()).round() as i32 - 128) as i8
            ]
        );
    }

    #[test]
    fn lut_indexes_by_byte() {
        let mut table = [0i8; 256];
        for (i, t) in table.iter_mut().enumerate() {
            *t = (i as u8 as i8).wrapping_neg();
        }
        let p = LutParams { table };
        let mut out = [0i8; 3];
        lookup_table(&p, &[-1i8, 0, 5], &mut out);
        assert_eq!(out, [1, 0, -5]);
    }

    #[test]
    fn negative_inputs_are_found() {
        assert_eq!(check_nonnegative(-3, &[-3i8, 0, 7]), Ok(()));
        assert_eq!(
            check_nonnegative(-3, &[0i8, -4, -5]),
            Err(NegativeInput {
                position: 1,
                value: -4
            })
        );
    }

    #[test]
    fn float_ops() {
        let mut out = [0.0f32; 2];
        rsqrt_f32(&[4.0, 0.25], &mut out);
        assert_eq!(out, [0.5, 2.0]);
        sqrt_f32(&[4.0, 0.25], &mut out);
        assert_eq!(out, [2.0, 0.5]);
        exp_f32(&[0.0, 1.0], &mut out);
        assert_eq!(out[0], 1.0);
        assert!((out[1] - core::f32::consts::E).abs() < 1e-6);
    }
}

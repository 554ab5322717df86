//! gemmlowp's fixed-point math functions, on raw `i32` values, bit for bit.
//!
//! gemmlowp represents a real number in `[-2^m, 2^m)` as an `i32` `raw` with `m` integer bits:
//! `real = raw / 2^(31 − m)` ("Qm.(31−m)"). TFLite's quantized SOFTMAX and LOG_SOFTMAX evaluate
//! `exp`, `1 / (1 + x)` and `log` in that format; the functions here reproduce gemmlowp's
//! `fixedpoint.h` (and the two helpers TFLite adds in `kernels/internal/common.h`:
//! `log_x_for_x_greater_than_or_equal_to_1` and `GetReciprocal`) operation for operation, so
//! every intermediate rounding is the same.
//!
//! gemmlowp's `FixedPoint<int32, m>` carries `m` in its type; here it is an explicit argument where
//! a function depends on it. Fixed-point `a * b` is [`saturating_rounding_doubling_high_mul`] on
//! the raw values (the integer bits add up); `a + b` is a plain (wrapping) integer add.

use crate::fixedpoint::{rounding_divide_by_pot, saturating_rounding_doubling_high_mul};

/// Fixed-point product of two raw values (`FixedPoint::operator*`).
#[inline]
fn mul(a: i32, b: i32) -> i32 {
    saturating_rounding_doubling_high_mul(a, b)
}

/// `gemmlowp::RoundingHalfSum`: `(a + b) / 2` rounded half away from zero.
#[inline]
pub fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = i64::from(a) + i64::from(b);
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// `gemmlowp::SaturatingRoundingMultiplyByPOT<exponent>` (and TFLite's run-time-exponent
/// `SaturatingRoundingMultiplyByPOTParam`): `x · 2^exponent`, saturating for positive exponents,
/// rounding to nearest (ties away from zero) for negative ones.
#[inline]
pub fn saturating_rounding_multiply_by_pot(x: i32, exponent: i32) -> i32 {
    match exponent {
        0 => x,
        e if e > 0 => {
            // For e >= 31 only 0 fits; the threshold below is then 0 and saturation covers the rest.
            let threshold = if e >= 31 { 0 } else { (1i32 << (31 - e)) - 1 };
            if x > threshold {
                i32::MAX
            } else if x < -threshold {
                i32::MIN
            } else if e >= 31 {
                0
            } else {
                x.wrapping_mul(1i32 << e)
            }
        }
        e => rounding_divide_by_pot_wide(x, -e),
    }
}

/// `gemmlowp::Rescale`: changes the number of integer bits from `src_bits` to `dst_bits`.
#[inline]
pub fn rescale(x: i32, src_bits: i32, dst_bits: i32) -> i32 {
    saturating_rounding_multiply_by_pot(x, src_bits - dst_bits)
}

/// `RoundingDivideByPOT` for any exponent `>= 0`.
///
/// gemmlowp asserts `exponent <= 31` (TFLite aborts when a quantized softmax over a very long row
/// needs more); beyond 31 this returns the correctly rounded quotient, which is 0 or ±1.
#[inline]
pub fn rounding_divide_by_pot_wide(x: i32, exponent: i32) -> i32 {
    if exponent <= 31 {
        return rounding_divide_by_pot(x, exponent.max(0));
    }
    let x = i64::from(x);
    let e = exponent.min(62);
    let mask = (1i64 << e) - 1;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i64::from(x < 0);
    ((x >> e) + i64::from(remainder > threshold)) as i32
}

/// Number of leading zero bits of `x` (32 for 0), as TFLite's `CountLeadingZeros`.
#[inline]
pub fn count_leading_zeros(x: u32) -> i32 {
    x.leading_zeros() as i32
}

/// `exp(a)` for `a` in `[-1/4, 0)`, both Q0.31 (gemmlowp's
/// `exp_on_interval_between_negative_one_quarter_and_0_excl`): a Taylor expansion around −1/8.
pub fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    // exp(-1/8) and 1/3 in Q0.31.
    const CONSTANT_TERM: i32 = 1_895_147_668;
    const CONSTANT_1_OVER_3: i32 = 715_827_883;
    // x = a + 1/8.
    let x = a.wrapping_add(1 << 28);
    let x2 = mul(x, x);
    let x3 = mul(x2, x);
    let x4 = mul(x2, x2);
    let x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2);
    let x4_over_24_plus_x3_over_6_plus_x2_over_2 = saturating_rounding_multiply_by_pot(
        mul(x4_over_4.wrapping_add(x3), CONSTANT_1_OVER_3).wrapping_add(x2),
        -1,
    );
    CONSTANT_TERM.wrapping_add(mul(
        CONSTANT_TERM,
        x.wrapping_add(x4_over_24_plus_x3_over_6_plus_x2_over_2),
    ))
}

/// `exp(a)` for `a <= 0` given with `integer_bits` integer bits; the result is Q0.31
/// (gemmlowp's `exp_on_negative_values`). `exp(0)` is the largest Q0.31 value, `i32::MAX`.
pub fn exp_on_negative_values(a: i32, integer_bits: i32) -> i32 {
    let fractional_bits = 31 - integer_bits;
    let one_quarter = 1i32 << (fractional_bits - 2);
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(one_quarter);
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(rescale(
        a_mod_quarter_minus_one_quarter,
        integer_bits,
        0,
    ));
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);

    // exp(-2^k) in Q0.31 for k = -2..=4: one multiplication per set bit of the remainder.
    const BARREL: [(i32, i32); 7] = [
        (-2, 1_672_461_947),
        (-1, 1_302_514_674),
        (0, 790_015_084),
        (1, 290_630_308),
        (2, 39_332_535),
        (3, 720_401),
        (4, 242),
    ];
    for (exponent, multiplier) in BARREL {
        if integer_bits > exponent {
            let shift = fractional_bits + exponent;
            if remainder & (1i32 << shift) != 0 {
                result = mul(result, multiplier);
            }
        }
    }

    if integer_bits > 5 {
        // Below -32 the result is 0.
        let clamp = -(1i32 << (36 - integer_bits));
        if a < clamp {
            result = 0;
        }
    }
    if a == 0 {
        result = i32::MAX;
    }
    result
}

/// `1 / (1 + a)` for `a` in `[0, 1)`, both Q0.31 (gemmlowp's
/// `one_over_one_plus_x_for_x_in_0_1`): three Newton–Raphson steps in Q2.29.
pub fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    // 48/17 and -32/17 in Q2.29.
    const CONSTANT_48_OVER_17: i32 = 1_515_870_810;
    const CONSTANT_NEG_32_OVER_17: i32 = -1_010_580_540;
    const F2_ONE: i32 = 1 << 29;
    let half_denominator = rounding_half_sum(a, i32::MAX);
    let mut x = CONSTANT_48_OVER_17.wrapping_add(mul(half_denominator, CONSTANT_NEG_32_OVER_17));
    for _ in 0..3 {
        let half_denominator_times_x = mul(half_denominator, x);
        let one_minus_half_denominator_times_x = F2_ONE.wrapping_sub(half_denominator_times_x);
        // x · (1 − d·x) is Q4.27; back to Q2.29.
        x = x.wrapping_add(rescale(mul(x, one_minus_half_denominator_times_x), 4, 2));
    }
    // x / 2 as Q1.30 (same raw value), then to Q0.31.
    rescale(x, 1, 0)
}

/// TFLite's `SaturatingAddNonGemmlowp` for `i32`.
#[inline]
fn saturating_add(a: i32, b: i32) -> i32 {
    a.saturating_add(b)
}

/// TFLite's `SaturatingSub` for `i32`.
#[inline]
fn saturating_sub(a: i32, b: i32) -> i32 {
    a.saturating_sub(b)
}

/// `ln(x)` for `x >= 1` (TFLite's `log_x_for_x_greater_than_or_equal_to_1_impl`): `input` has
/// `input_integer_bits` integer bits, the result `output_integer_bits`.
pub fn log_x_for_x_greater_than_or_equal_to_1(
    input: i32,
    input_integer_bits: i32,
    output_integer_bits: i32,
) -> i32 {
    // ln 2, 2^-1/4, 2^-1/2, 1/4 and the rational approximation's coefficients, in Q0.31.
    const LOG_2: i32 = 1_488_522_236;
    const SQRT_SQRT_HALF: i32 = 1_805_811_301;
    const SQRT_HALF: i32 = 1_518_500_250;
    const ONE_QUARTER: i32 = 536_870_912;
    const ALPHA_N: i32 = 117_049_297;
    const ALPHA_D: i32 = 127_690_142;
    const ALPHA_I: i32 = 1_057_819_769;
    const ALPHA_F: i32 = 638_450_708;

    let accum_integer_bits = output_integer_bits + 1;
    let shifted_quarter = rescale(ONE_QUARTER, 0, accum_integer_bits);

    // The input's raw value read as Q0.31; the power of two is tracked separately.
    let z_a = input;
    let z_a_headroom_plus_1 = count_leading_zeros(z_a as u32);
    let r_a_tmp = saturating_rounding_multiply_by_pot(z_a, z_a_headroom_plus_1 - 1);
    let r_a_raw = saturating_rounding_multiply_by_pot(mul(r_a_tmp, SQRT_HALF), 1);
    let z_a_pow_2_adj = saturating_add(
        saturating_rounding_multiply_by_pot(
            input_integer_bits - z_a_headroom_plus_1,
            31 - accum_integer_bits,
        ),
        shifted_quarter,
    );

    // z_b is z_a premultiplied by sqrt(1/2).
    let z_b = mul(z_a, SQRT_HALF);
    let z_b_headroom = count_leading_zeros(z_b as u32) - 1;
    let r_b_raw = saturating_rounding_multiply_by_pot(z_a, z_b_headroom);
    let z_b_pow_2_adj = saturating_sub(
        saturating_rounding_multiply_by_pot(
            input_integer_bits - z_b_headroom,
            31 - accum_integer_bits,
        ),
        shifted_quarter,
    );

    let r = r_a_raw.min(r_b_raw);
    let z_pow_2_adj = z_a_pow_2_adj.max(z_b_pow_2_adj);

    let p = rounding_half_sum(r, SQRT_SQRT_HALF);
    let mut q = r.wrapping_sub(SQRT_SQRT_HALF);
    q = q.wrapping_add(q);

    let common_sq = mul(q, q);
    let num = mul(q, r).wrapping_add(mul(mul(q, common_sq), ALPHA_N));
    let denom_minus_one_0 = mul(
        p,
        ALPHA_I
            .wrapping_add(q)
            .wrapping_add(mul(ALPHA_D, common_sq)),
    )
    .wrapping_add(mul(ALPHA_F, q));
    let recip_denom = one_over_one_plus_x_for_x_in_0_1(denom_minus_one_0);

    let num_scaled = rescale(num, 0, accum_integer_bits);
    rescale(
        mul(z_pow_2_adj, LOG_2).wrapping_add(mul(num_scaled, recip_denom)),
        accum_integer_bits,
        output_integer_bits,
    )
}

/// TFLite's `GetReciprocal`: `x` has `x_integer_digits` integer bits; returns `(scale,
/// num_bits_over_unit)` with `scale` in Q0.31 such that `1/x = scale · 2^-num_bits_over_unit`.
pub fn get_reciprocal(x: i32, x_integer_digits: i32) -> (i32, i32) {
    let headroom_plus_one = count_leading_zeros(x as u32);
    let num_bits_over_unit = x_integer_digits - headroom_plus_one;
    let shifted = (x as u32)
        .checked_shl(headroom_plus_one as u32)
        .unwrap_or(0);
    let shifted_sum_minus_one = shifted.wrapping_sub(1u32 << 31) as i32;
    (
        one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one),
        num_bits_over_unit,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(x: f64, integer_bits: i32) -> i32 {
        libm::round(x * f64::from(1u32 << (31 - integer_bits) as u32)) as i32
    }

    fn real(raw: i32, integer_bits: i32) -> f64 {
        f64::from(raw) / f64::from(1u32 << (31 - integer_bits) as u32)
    }

    #[test]
    fn exp_matches_real_exp() {
        for &x in &[-0.01, -0.25, -0.5, -1.0, -2.5, -7.9, -15.0, -31.0] {
            let got = real(exp_on_negative_values(q(x, 5), 5), 0);
            assert!((got - libm::exp(x)).abs() < 1e-6, "exp({x}) = {got}");
        }
        assert_eq!(exp_on_negative_values(0, 5), i32::MAX);
    }

    #[test]
    fn reciprocal_matches() {
        for &x in &[0.1, 0.5, 0.9] {
            let got = real(one_over_one_plus_x_for_x_in_0_1(q(x, 0)), 0);
            assert!((got - 1.0 / (1.0 + x)).abs() < 1e-6);
        }
        // 3.0 in Q12.19: 1/3 = 0.666… · 2^-1.
        let (scale, bits) = get_reciprocal(q(3.0, 12), 12);
        assert_eq!(bits, 1);
        assert!((real(scale, 0) - 2.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn log_matches_real_log() {
        for &x in &[1.0, 1.5, 2.0, 10.0, 100.0, 1000.0] {
            let got = real(log_x_for_x_greater_than_or_equal_to_1(q(x, 12), 12, 5), 5);
            assert!((got - libm::log(x)).abs() < 1e-5, "log({x}) = {got}");
        }
    }

    #[test]
    fn multiply_by_pot_saturates_and_rounds() {
        assert_eq!(saturating_rounding_multiply_by_pot(1 << 29, 2), i32::MAX);
        assert_eq!(saturating_rounding_multiply_by_pot(-(1 << 29), 2), i32::MIN);
        assert_eq!(saturating_rounding_multiply_by_pot(3, 2), 12);
        assert_eq!(saturating_rounding_multiply_by_pot(6, -2), 2);
        assert_eq!(saturating_rounding_multiply_by_pot(-6, -2), -2);
        assert_eq!(rounding_divide_by_pot_wide(1 << 30, 32), 0);
        assert_eq!(rounding_divide_by_pot_wide(i32::MAX, 32), 0);
        assert_eq!(rounding_divide_by_pot_wide(i32::MIN, 32), -1);
        assert_eq!(rounding_divide_by_pot_wide(i32::MIN, 31), -1);
    }
}

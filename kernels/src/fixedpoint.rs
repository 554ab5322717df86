//! TensorFlow Lite's integer arithmetic, bit for bit.
//!
//! TFLite represents a real multiplier `M` as a 32-bit fixed-point mantissa `q` in `[2^30, 2^31)` and
//! a power-of-two exponent `shift`: `M ≈ q · 2^(shift − 31)`. Applying it to an `i32` accumulator
//! uses gemmlowp's "doubling high multiply" followed by a rounding right shift: two roundings
//! ("double rounding"), which is what TFLite's reference kernels (and TFLite Micro) compute in the
//! default build. The functions here are the ones in TFLite's `kernels/internal/common.h` and
//! gemmlowp's `fixedpoint.h`; their names follow them so a reader can compare line by line.

/// `gemmlowp::SaturatingRoundingDoublingHighMul`: `a · b / 2^31` rounded, saturating the single
/// overflowing case `a == b == i32::MIN`. Positive halves round up; negative ones toward zero
/// (the nudge is `1 − 2^30` and C division truncates), so −1.5 becomes −1.
#[inline]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == b && a == i32::MIN {
        return i32::MAX;
    }
    let ab = i64::from(a) * i64::from(b);
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // C integer division truncates toward zero, as Rust's does.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `gemmlowp::RoundingDivideByPOT`: `x / 2^exponent` rounded to nearest, ties away from zero.
/// `exponent` must be in `0..=31`.
#[inline]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    // The compiler never produces an exponent outside 0..=31 (`QuantizeMultiplier` bounds the
    // shift); clamping keeps a corrupt parameter from panicking.
    let exponent = exponent.clamp(0, 31);
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// TFLite's `MultiplyByQuantizedMultiplier(int32 x, int32 quantized_multiplier, int shift)` in the
/// default (double-rounding) build: a left shift for positive `shift`, the doubling high multiply,
/// then a rounding right shift for negative `shift`.
#[inline]
pub fn multiply_by_quantized_multiplier(x: i32, quantized_multiplier: i32, shift: i32) -> i32 {
    // `QuantizeMultiplier` keeps `shift` in -31..=30; the clamps only guard against panics.
    let left_shift = shift.clamp(0, 30);
    let right_shift = shift.saturating_neg().clamp(0, 31);
    // TFLite computes `x * (1 << left_shift)` in int32; it never overflows for the accumulators the
    // converter produces, and wrapping is what the hardware does if it ever did.
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(
            x.wrapping_mul(1i32 << left_shift),
            quantized_multiplier,
        ),
        right_shift,
    )
}

/// TFLite's `MultiplyByQuantizedMultiplierSmallerThanOneExp`: `left_shift <= 0`.
#[inline]
pub fn multiply_by_quantized_multiplier_smaller_than_one_exp(
    x: i32,
    quantized_multiplier: i32,
    left_shift: i32,
) -> i32 {
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x, quantized_multiplier),
        -left_shift,
    )
}

/// TFLite's `MultiplyByQuantizedMultiplierGreaterThanOne`: `left_shift >= 0`.
#[inline]
pub fn multiply_by_quantized_multiplier_greater_than_one(
    x: i32,
    quantized_multiplier: i32,
    left_shift: i32,
) -> i32 {
    saturating_rounding_doubling_high_mul(
        x.wrapping_mul(1i32 << left_shift.clamp(0, 30)),
        quantized_multiplier,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubling_high_mul_rounds_half_away_from_zero() {
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
        // 2^30 · 2^30 / 2^31 = 2^29 exactly.
        assert_eq!(
            saturating_rounding_doubling_high_mul(1 << 30, 1 << 30),
            1 << 29
        );
        // 3 · 2^30 / 2^31 = 1.5 → 2; −1.5 → −1 (gemmlowp's nudge for negatives is 1 − 2^30).
        assert_eq!(saturating_rounding_doubling_high_mul(3, 1 << 30), 2);
        assert_eq!(saturating_rounding_doubling_high_mul(-3, 1 << 30), -1);
        assert_eq!(saturating_rounding_doubling_high_mul(-5, 1 << 30), -2);
    }

    #[test]
    fn rounding_divide_by_pot_ties_away_from_zero() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(4, 1), 2);
        assert_eq!(rounding_divide_by_pot(-7, 2), -2);
        assert_eq!(rounding_divide_by_pot(7, 0), 7);
    }

    #[test]
    fn multiplier_of_one_half() {
        // M = 0.5 → q = 2^30, shift = 0.
        assert_eq!(multiply_by_quantized_multiplier(101, 1 << 30, 0), 51);
        assert_eq!(multiply_by_quantized_multiplier(-101, 1 << 30, 0), -50);
        // M = 0.25 → q = 2^30, shift = −1. Double rounding: 101/2 = 50.5 → 51, then 51/2 = 25.5 →
        // 26, where one rounding of 101/4 = 25.25 would give 25.
        assert_eq!(multiply_by_quantized_multiplier(101, 1 << 30, -1), 26);
        // M = 2 → q = 2^30, shift = 2.
        assert_eq!(multiply_by_quantized_multiplier(101, 1 << 30, 2), 202);
    }
}

//! SOFTMAX and LOG_SOFTMAX over the last axis (TFLite `kernels/activations.cc` with the
//! reference kernels of `reference/softmax.h`, `reference/log_softmax.h` and
//! `reference/integer_ops/log_softmax.h`).
//!
//! The tensor is seen as `outer` rows of `depth` values. The quantized kernels compute
//! `exp(β·S·(q − max))` in gemmlowp fixed point (input differences in Q5.26, the sum of
//! exponentials in Q12.19); differences below `diff_min` count as `exp(−∞) = 0`.

use crate::fixedpoint::{
    multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_greater_than_one,
    saturating_rounding_doubling_high_mul,
};
use crate::gemmlowp::{
    exp_on_negative_values, get_reciprocal, log_x_for_x_greater_than_or_equal_to_1, rescale,
    rounding_divide_by_pot_wide,
};
use crate::kernels::common::Quantized;

/// Integer bits of the scaled input differences (Q5.26).
const SCALED_DIFF_INTEGER_BITS: i32 = 5;
/// Integer bits of the accumulated exponentials (Q12.19).
const ACCUMULATION_INTEGER_BITS: i32 = 12;
/// Integer bits of LOG_SOFTMAX's result before the final shift (Q4.27).
const LOG_OUTPUT_INTEGER_BITS: i32 = 4;

/// Float SOFTMAX: `exp((x − max)·β) / Σ`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SoftmaxF32Params {
    /// Number of rows.
    pub outer: usize,
    /// Length of a row (the last dimension).
    pub depth: usize,
    /// Inverse temperature β.
    pub beta: f32,
}

/// Float LOG_SOFTMAX.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogSoftmaxF32Params {
    /// Number of rows.
    pub outer: usize,
    /// Length of a row (the last dimension).
    pub depth: usize,
}

/// Quantized SOFTMAX (`int8`/`uint8` input; `int8`, `uint8` or `int16` output), TFLite's
/// `SoftmaxParams` as `SoftmaxPrepare` fills it for the reference kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftmaxQParams {
    /// Number of rows.
    pub outer: usize,
    /// Length of a row (the last dimension).
    pub depth: usize,
    /// Q31 mantissa of `β · S_in · 2^26` (`PreprocessSoftmaxScaling`).
    pub input_multiplier: i32,
    /// Its (non-negative) left shift.
    pub input_left_shift: i32,
    /// Most negative `q − max` that still contributes (`−CalculateInputRadius(5, shift)`).
    pub diff_min: i32,
}

/// Quantized LOG_SOFTMAX (`int8` or `uint8`; the output scale is 16/256 and the zero point the
/// type's maximum), as `LogSoftmaxPrepare` fills it for the reference kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogSoftmaxQParams {
    /// Number of rows.
    pub outer: usize,
    /// Length of a row (the last dimension).
    pub depth: usize,
    /// Q31 mantissa of `S_in · 2^26`.
    pub input_multiplier: i32,
    /// Its (non-negative) left shift.
    pub input_left_shift: i32,
    /// Q31 mantissa of the inverse of the input scaling (`PreprocessLogSoftmaxScalingExp`).
    pub reverse_scaling_divisor: i32,
    /// Its right shift (non-negative).
    pub reverse_scaling_right_shift: i32,
    /// Most negative `q − max` that still contributes.
    pub diff_min: i32,
}

/// `reference_ops::Softmax` for float.
pub fn softmax_f32(p: &SoftmaxF32Params, input: &[f32], output: &mut [f32]) {
    let depth = p.depth;
    if depth == 0 {
        return;
    }
    for (x, y) in input
        .chunks_exact(depth)
        .zip(output.chunks_exact_mut(depth))
        .take(p.outer)
    {
        let max = x.iter().fold(f32::MIN, |m, &v| if v > m { v } else { m });
        let mut sum = 0.0f32;
        for (o, &v) in y.iter_mut().zip(x) {
            let e = libm::expf((v - max) * p.beta);
            *o = e;
            sum += e;
        }
        for o in y.iter_mut() {
            *o /= sum;
        }
    }
}

/// `reference_ops::LogSoftmax` for float: `x − max − ln Σ exp(x − max)`.
pub fn log_softmax_f32(p: &LogSoftmaxF32Params, input: &[f32], output: &mut [f32]) {
    let depth = p.depth;
    if depth == 0 {
        return;
    }
    for (x, y) in input
        .chunks_exact(depth)
        .zip(output.chunks_exact_mut(depth))
        .take(p.outer)
    {
        let max = x.iter().fold(f32::MIN, |m, &v| if v > m { v } else { m });
        let mut sum = 0.0f32;
        for &v in x {
            sum += libm::expf(v - max);
        }
        let log_sum = libm::logf(sum);
        for (o, &v) in y.iter_mut().zip(x) {
            *o = v - max - log_sum;
        }
    }
}

/// The row maximum, starting from the type's minimum as TFLite does.
fn row_max<T: Quantized>(row: &[T]) -> i32 {
    row.iter().map(|v| v.to_i32()).fold(T::MIN, i32::max)
}

/// `reference_ops::Softmax<InputT, OutputT>` (quantized).
///
/// TFLite aborts when a row's sum of exponentials needs a right shift beyond 31 bits (more than
/// about 256 values at the maximum for an 8-bit output); this kernel then writes the correctly
/// rounded (near-zero) result instead.
pub fn softmax_q<In: Quantized, Out: Quantized>(
    p: &SoftmaxQParams,
    input: &[In],
    output: &mut [Out],
) {
    let depth = p.depth;
    if depth == 0 {
        return;
    }
    let out_bits = (8 * core::mem::size_of::<Out>()) as i32;
    let scaled_exp = |diff: i32| -> i32 {
        let rescaled = multiply_by_quantized_multiplier_greater_than_one(
            diff,
            p.input_multiplier,
            p.input_left_shift,
        );
        exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS)
    };
    for (x, y) in input
        .chunks_exact(depth)
        .zip(output.chunks_exact_mut(depth))
        .take(p.outer)
    {
        let max = row_max(x);
        let mut sum_of_exps: i32 = 0;
        for v in x {
            let diff = v.to_i32() - max;
            if diff >= p.diff_min {
                sum_of_exps = sum_of_exps.wrapping_add(rescale(
                    scaled_exp(diff),
                    0,
                    ACCUMULATION_INTEGER_BITS,
                ));
            }
        }
        let (shifted_scale, num_bits_over_unit) =
            get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS);
        for (o, v) in y.iter_mut().zip(x) {
            let diff = v.to_i32() - max;
            *o = if diff >= p.diff_min {
                let exp_in_0 = scaled_exp(diff);
                let unsat = rounding_divide_by_pot_wide(
                    saturating_rounding_doubling_high_mul(shifted_scale, exp_in_0),
                    num_bits_over_unit + 31 - out_bits,
                );
                Out::from_i32_saturating(unsat.wrapping_add(Out::MIN))
            } else {
                Out::from_i32_saturating(Out::MIN)
            };
        }
    }
}

/// `reference_ops::LogSoftmax` (uint8) and `reference_integer_ops::LogSoftmax` (int8): the two
/// are the same arithmetic with the output zero point at the type's maximum.
pub fn log_softmax_q<T: Quantized>(p: &LogSoftmaxQParams, input: &[T], output: &mut [T]) {
    let depth = p.depth;
    if depth == 0 {
        return;
    }
    let scale_diff =
        |diff: i32| multiply_by_quantized_multiplier(diff, p.input_multiplier, p.input_left_shift);
    for (x, y) in input
        .chunks_exact(depth)
        .zip(output.chunks_exact_mut(depth))
        .take(p.outer)
    {
        let max = row_max(x);
        let mut sum_of_exps: i32 = 0;
        for v in x {
            let diff = v.to_i32() - max;
            if diff >= p.diff_min {
                let e = exp_on_negative_values(scale_diff(diff), SCALED_DIFF_INTEGER_BITS);
                sum_of_exps = sum_of_exps.wrapping_add(rescale(e, 0, ACCUMULATION_INTEGER_BITS));
            }
        }
        let log_sum_of_exps = log_x_for_x_greater_than_or_equal_to_1(
            sum_of_exps,
            ACCUMULATION_INTEGER_BITS,
            SCALED_DIFF_INTEGER_BITS,
        );
        // The smallest representable Q5.26 value plus the log of the sum, in input units.
        let shifted_log_sum = log_sum_of_exps.wrapping_add(i32::MIN);
        let adjusted_diff_min = (p.diff_min - 1).max(multiply_by_quantized_multiplier(
            shifted_log_sum,
            p.reverse_scaling_divisor,
            -p.reverse_scaling_right_shift,
        ));
        for (o, v) in y.iter_mut().zip(x) {
            let diff = v.to_i32() - max;
            *o = if diff > adjusted_diff_min {
                let out = rounding_divide_by_pot_wide(
                    scale_diff(diff).wrapping_sub(log_sum_of_exps),
                    31 - SCALED_DIFF_INTEGER_BITS - LOG_OUTPUT_INTEGER_BITS,
                ) + T::MAX;
                T::from_i32_saturating(out)
            } else {
                T::from_i32_saturating(T::MIN)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// int8 softmax of a row with input scale 1/16 (β = 1): PreprocessSoftmaxScaling gives
    /// 2^26/16 = 2^22 → multiplier 2^30, left shift 23; diff_min = −floor(31·2^26/2^23) = −248.
    fn params(depth: usize) -> SoftmaxQParams {
        SoftmaxQParams {
            outer: 1,
            depth,
            input_multiplier: 1 << 30,
            input_left_shift: 23,
            diff_min: -248,
        }
    }

    #[test]
    fn softmax_i8_of_equal_values_is_uniform() {
        let input = [5i8; 4];
        let mut out = [0i8; 4];
        softmax_q(&params(4), &input, &mut out);
        // 1/4 with scale 1/256 and zero point −128: 64 − 128 = −64.
        assert_eq!(out, [-64; 4]);
    }

    #[test]
    fn softmax_i8_matches_float_within_one() {
        let input = [0i8, 16, 32, -40, 100, 99];
        let mut out = [0i8; 6];
        softmax_q(&params(6), &input, &mut out);
        let xs: [f64; 6] = input.map(|q| f64::from(q) / 16.0);
        let m = xs.iter().cloned().fold(f64::MIN, f64::max);
        let sum: f64 = xs.iter().map(|x| libm::exp(x - m)).sum();
        for (o, x) in out.iter().zip(xs) {
            let want = libm::exp(x - m) / sum * 256.0 - 128.0;
            assert!((f64::from(*o) - want).abs() <= 1.0, "{o} vs {want}");
        }
    }

    #[test]
    fn log_softmax_u8_matches_float_within_one() {
        // Input scale 1/16: multiplier 2^30, left shift 23, divisor for 2^8/2^30 · 2^... below.
        let p = LogSoftmaxQParams {
            outer: 1,
            depth: 3,
            input_multiplier: 1 << 30,
            input_left_shift: 23,
            // (1 << 8) / 2^30 = 2^-22 → mantissa 2^30, shift −21.
            reverse_scaling_divisor: 1 << 30,
            reverse_scaling_right_shift: 21,
            diff_min: -248,
        };
        let input = [10u8, 40, 20];
        let mut out = [0u8; 3];
        log_softmax_q(&p, &input, &mut out);
        let xs = input.map(|q| f64::from(q) / 16.0);
        let m = xs.iter().cloned().fold(f64::MIN, f64::max);
        let ls = libm::log(xs.iter().map(|x| libm::exp(x - m)).sum::<f64>());
        for (o, x) in out.iter().zip(xs) {
            let want = (x - m - ls) * 16.0 + 255.0;
            assert!((f64::from(*o) - want).abs() <= 1.0, "{o} vs {want}");
        }
    }

    #[test]
    fn softmax_i8_long_row_does_not_abort() {
        // 1000 equal values: TFLite's reference kernel asserts (a right shift of 33 bits);
        // here every output is 1/1000 rounded to the 1/256 grid, i.e. 0 → −128.
        let input = [7i8; 1000];
        let mut out = [0i8; 1000];
        softmax_q(&params(1000), &input, &mut out);
        assert!(out.iter().all(|&o| o == -128));
    }

    #[test]
    fn softmax_f32_sums_to_one() {
        let p = SoftmaxF32Params {
            outer: 2,
            depth: 3,
            beta: 1.0,
        };
        let input = [1.0, 2.0, 3.0, 0.0, 0.0, 0.0];
        let mut out = [0.0; 6];
        softmax_f32(&p, &input, &mut out);
        assert!((out[0..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((out[3] - 1.0 / 3.0).abs() < 1e-6);
    }
}

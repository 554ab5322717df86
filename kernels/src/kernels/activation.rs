//! Activations: RELU, RELU6, RELU_N1_TO_1, LEAKY_RELU, PRELU, HARD_SWISH.
//!
//! Follows TFLite's `activations.cc` (`ReluPrepare`/`QuantizedReluX`, `LeakyReluPrepare`,
//! `PreluPrepare`, `HardSwishPrepare`) and the reference kernels `ReluX`,
//! `reference_ops::QuantizeLeakyRelu` (`reference/leaky_relu.h`), `BroadcastPrelu4DSlow` /
//! `Prelu` (`reference/prelu.h`) and `reference_ops::HardSwish` (`reference/hard_swish.h`).

use super::binary::{broadcast_map, BroadcastShape};
use super::common::{ActF32, ActQ, Quantized, Requant};

/// Float RELU / RELU6 / RELU_N1_TO_1: a clamp to `act` (`[0, ∞)`, `[0, 6]`, `[−1, 1]`).
pub fn relu_f32(act: ActF32, input: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(input) {
        *o = act.apply(x);
    }
}

/// Quantized RELU family (`QuantizedReluX`): requantize from the input to the output scale, then
/// clamp to the activation's bounds quantized on the output scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReluQParams {
    /// Input zero point.
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
    /// `S_in / S_out`.
    pub output: Requant,
    /// Activation bounds on the output scale, within the type's range.
    pub act: ActQ,
}

/// Quantized RELU / RELU6 / RELU_N1_TO_1 (`ReluX`).
pub fn relu_q<T: Quantized>(p: &ReluQParams, input: &[T], out: &mut [T]) {
    for (o, &x) in out.iter_mut().zip(input) {
        let v = p
            .output
            .apply(x.to_i32() - p.input_zero_point)
            .wrapping_add(p.output_zero_point);
        *o = T::from_i32_saturating(p.act.apply(v));
    }
}

/// Float LEAKY_RELU: `x > 0 ? x : x · alpha`.
pub fn leaky_relu_f32(alpha: f32, input: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(input) {
        *o = if x > 0.0 { x } else { x * alpha };
    }
}

/// Quantized LEAKY_RELU (`QuantizeLeakyRelu`): one multiplier for non-negative inputs
/// (`S_in / S_out`), another for negative ones (`S_in · alpha / S_out`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeakyReluQParams {
    /// Input zero point.
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
    /// Multiplier for inputs at or above the zero point.
    pub identity: Requant,
    /// Multiplier for inputs below the zero point.
    pub alpha: Requant,
}

/// Quantized LEAKY_RELU, uint8 or int8.
pub fn leaky_relu_q<T: Quantized>(p: &LeakyReluQParams, input: &[T], out: &mut [T]) {
    for (o, &x) in out.iter_mut().zip(input) {
        let v = x.to_i32() - p.input_zero_point;
        let m = if v >= 0 { p.identity } else { p.alpha };
        *o = T::from_i32_saturating(p.output_zero_point.wrapping_add(m.apply(v)));
    }
}

/// Float PRELU: `x >= 0 ? x : x · alpha`, alpha broadcast against the input.
pub fn prelu_f32(shape: &BroadcastShape, input: &[f32], alpha: &[f32], out: &mut [f32]) {
    broadcast_map(
        shape,
        input,
        alpha,
        out,
        |x, a| if x >= 0.0 { x } else { x * a },
    );
}

/// Quantized PRELU (`BroadcastPrelu4DSlow`): `S_in / S_out` for non-negative inputs, and for
/// negative ones the product with the offset alpha times `S_in · S_alpha / S_out`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreluQParams {
    /// Broadcasting of input (operand 1) and alpha (operand 2).
    pub shape: BroadcastShape,
    /// `−zero_point` of the input.
    pub input_offset: i32,
    /// `−zero_point` of alpha.
    pub alpha_offset: i32,
    /// Output zero point.
    pub output_offset: i32,
    /// Multiplier for non-negative inputs.
    pub output1: Requant,
    /// Multiplier for negative inputs (applied to `input · alpha`).
    pub output2: Requant,
}

/// Quantized PRELU, uint8 or int8.
pub fn prelu_q<T: Quantized>(p: &PreluQParams, input: &[T], alpha: &[T], out: &mut [T]) {
    broadcast_map(&p.shape, input, alpha, out, |x, a| {
        let v = p.input_offset + x.to_i32();
        let r = if v >= 0 {
            p.output1.apply(v)
        } else {
            let av = p.alpha_offset + a.to_i32();
            p.output2.apply(v.wrapping_mul(av))
        };
        T::from_i32_saturating(r.wrapping_add(p.output_offset))
    });
}

/// Float HARD_SWISH: `x · min(6, max(0, x + 3)) / 6`.
pub fn hard_swish_f32(input: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(input) {
        let r = x + 3.0;
        let r = if r < 0.0 { 0.0 } else { r };
        let r = if r > 6.0 { 6.0 } else { r };
        *o = x * r / 6.0;
    }
}

/// Quantized HARD_SWISH (`HardSwishParams`, computed by `HardSwishPrepare`): 16-bit fixed point
/// on a "hires" input scale `S_in / 128`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HardSwishQParams {
    /// Input zero point.
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
    /// Q15 multiplier from the hires input scale to the output scale.
    pub output_multiplier_fixedpoint_int16: i16,
    /// Its exponent (≤ 0).
    pub output_multiplier_exponent: i32,
    /// Q15 multiplier from the hires input scale to the "reluish" scale (3.0 ↔ 32768).
    pub reluish_multiplier_fixedpoint_int16: i16,
    /// Its exponent (either sign).
    pub reluish_multiplier_exponent: i32,
}

/// gemmlowp's `SaturatingRoundingDoublingHighMul` for int16.
fn srdhm_i16(a: i16, b: i16) -> i16 {
    if a == b && a == i16::MIN {
        return i16::MAX;
    }
    let ab = i32::from(a) * i32::from(b);
    let nudge = if ab >= 0 { 1 << 14 } else { 1 - (1 << 14) };
    ((ab + nudge) / (1 << 15)) as i16
}

/// TFLite's `SaturatingDoublingHighMul` for int16: like [`srdhm_i16`], rounding toward zero.
fn sdhm_i16(a: i16, b: i16) -> i16 {
    if a == b && a == i16::MIN {
        return i16::MAX;
    }
    let ab = i32::from(a) * i32::from(b);
    (ab / (1 << 15)) as i16
}

/// TFLite's `SaturatingLeftShift(int16, amount)`.
fn saturating_left_shift_i16(value: i16, amount: i32) -> i16 {
    let r = i64::from(value) * (1i64 << amount.clamp(0, 62));
    r.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16
}

/// gemmlowp's `RoundingDivideByPOT` on int16 values (the int16 instantiation: mask and threshold
/// in 16 bits, the shift in `int` after promotion).
fn rounding_divide_by_pot_i16(x: i16, exponent: i32) -> i16 {
    let e = exponent.clamp(0, 31) as u32;
    let mask = ((1i64 << e) - 1) as i16;
    let remainder = x & mask;
    let threshold = (mask >> 1).wrapping_add(i16::from(x < 0));
    ((i32::from(x) >> e) as i16).wrapping_add(i16::from(remainder > threshold))
}

/// Quantized HARD_SWISH, uint8 or int8 (`reference_ops::HardSwish`).
pub fn hard_swish_q<T: Quantized>(p: &HardSwishQParams, input: &[T], out: &mut [T]) {
    for (o, &x) in out.iter_mut().zip(input) {
        let input_value = (x.to_i32() - p.input_zero_point) as i16;
        let hires = input_value.wrapping_mul(1 << 7);
        let preshift_output_scale = srdhm_i16(hires, p.output_multiplier_fixedpoint_int16);
        let mut reluish = hires;
        if p.reluish_multiplier_exponent > 0 {
            reluish = saturating_left_shift_i16(reluish, p.reluish_multiplier_exponent - 1);
        }
        reluish = srdhm_i16(reluish, p.reluish_multiplier_fixedpoint_int16);
        if p.reluish_multiplier_exponent > 0 {
            reluish = saturating_left_shift_i16(reluish, 1);
        }
        if p.reluish_multiplier_exponent < 0 {
            reluish = rounding_divide_by_pot_i16(reluish, -p.reluish_multiplier_exponent);
        }
        let reluish = ((i32::from(reluish) + (1 << 15)) >> 1) as i16;
        let preshift_output = sdhm_i16(reluish, preshift_output_scale);
        let output = rounding_divide_by_pot_i16(preshift_output, -p.output_multiplier_exponent)
            .wrapping_add(p.output_zero_point as i16);
        *o = T::from_i32_saturating(i32::from(output));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu_q_requantizes_and_clamps() {
        // S_in = 0.5, S_out = 0.25 → M = 2; relu6 on the output scale: [zp, zp + 24].
        let p = ReluQParams {
            input_zero_point: 10,
            output_zero_point: -5,
            output: Requant {
                multiplier: 1 << 30,
                shift: 2,
            },
            act: ActQ { min: -5, max: 19 },
        };
        let mut out = [0i8; 4];
        relu_q(&p, &[10i8, 5, 13, 127], &mut out);
        assert_eq!(out, [-5, -5, 1, 19]);
    }

    #[test]
    fn leaky_relu() {
        let mut out = [0.0f32; 3];
        leaky_relu_f32(0.1, &[-2.0, 0.0, 3.0], &mut out);
        assert_eq!(out, [-0.2, 0.0, 3.0]);
        let p = LeakyReluQParams {
            input_zero_point: 0,
            output_zero_point: 1,
            identity: Requant {
                multiplier: 1 << 30,
                shift: 1,
            },
            // 0.25
            alpha: Requant {
                multiplier: 1 << 30,
                shift: -1,
            },
        };
        let mut out = [0i8; 3];
        leaky_relu_q(&p, &[-8i8, 0, 100], &mut out);
        assert_eq!(out, [-1, 1, 101]);
    }

    #[test]
    fn prelu_broadcasts_alpha_per_channel() {
        let shape = BroadcastShape::new(&[2, 2], &[2]).unwrap();
        let mut out = [0.0f32; 4];
        prelu_f32(&shape, &[-1.0, -1.0, 2.0, -4.0], &[0.5, 0.25], &mut out);
        assert_eq!(out, [-0.5, -0.25, 2.0, -1.0]);
        let p = PreluQParams {
            shape,
            input_offset: 0,
            alpha_offset: 0,
            output_offset: 0,
            output1: Requant {
                multiplier: 1 << 30,
                shift: 1,
            },
            // 1/16: alpha stored as 8 ↔ 0.5, 4 ↔ 0.25
            output2: Requant {
                multiplier: 1 << 30,
                shift: -3,
            },
        };
        let mut out = [0i8; 4];
        prelu_q(&p, &[-4i8, -4, 2, -16], &[8, 4], &mut out);
        assert_eq!(out, [-2, -1, 2, -4]);
    }

    #[test]
    fn hard_swish_float() {
        let mut out = [0.0f32; 4];
        hard_swish_f32(&[-4.0, -1.5, 1.0, 5.0], &mut out);
        assert_eq!(out, [-0.0, -1.5 * 1.5 / 6.0, 4.0 / 6.0, 5.0]);
    }

    #[test]
    fn int16_helpers() {
        assert_eq!(srdhm_i16(i16::MIN, i16::MIN), i16::MAX);
        assert_eq!(srdhm_i16(16384, 16384), 8192);
        // 1.5 rounds to 2; −1.5 rounds to −1 (gemmlowp's nudge); the truncating variant gives 1.
        assert_eq!(srdhm_i16(3, 16384), 2);
        assert_eq!(srdhm_i16(-3, 16384), -1);
        assert_eq!(sdhm_i16(3, 16384), 1);
        assert_eq!(sdhm_i16(-3, 16384), -1);
        assert_eq!(saturating_left_shift_i16(20000, 1), i16::MAX);
        assert_eq!(saturating_left_shift_i16(-20000, 1), i16::MIN);
        assert_eq!(rounding_divide_by_pot_i16(5, 1), 3);
        assert_eq!(rounding_divide_by_pot_i16(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot_i16(-7, 2), -2);
    }
}

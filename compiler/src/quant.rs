//! Compile-time quantization arithmetic: what TFLite's `Prepare` functions compute from scales
//! and zero points (`kernels/internal/quantization_util.cc`, `kernels/kernel_util.cc`).
//!
//! Everything here runs in the compiler, never in generated code: the results are constants in
//! kernel parameters.

use mvcc_kernels::kernels::common::{ActF32, ActQ, Requant};

use crate::ir::{Activation, DType};

/// TFLite's `TfLiteRound` / `std::round`: round half away from zero.
pub fn round_half_away(x: f64) -> f64 {
    x.round()
}

/// `std::frexp`: `x = m · 2^e` with `|m|` in `[0.5, 1)`; `(0, 0)` for zero, non-finite passed through.
pub fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: scale up first.
        let (m, e) = frexp(x * f64::powi(2.0, 64));
        return (m, e - 64);
    }
    let e = exp - 1022;
    let m = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (m, e)
}

/// TFLite's `QuantizeMultiplier(double)`: mantissa in Q31 and exponent.
pub fn quantize_multiplier(m: f64) -> Requant {
    if m == 0.0 || !m.is_finite() {
        return Requant {
            multiplier: 0,
            shift: 0,
        };
    }
    let (q, mut shift) = frexp(m);
    let mut q_fixed = round_half_away(q * (1i64 << 31) as f64) as i64;
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q_fixed = 0;
    }
    // Newer TFLite saturates multipliers of 2^30 and more (a shift over 30 would overflow the
    // left shift in `MultiplyByQuantizedMultiplier`).
    if shift > 30 {
        shift = 30;
        q_fixed = (1i64 << 31) - 1;
    }
    Requant {
        multiplier: q_fixed as i32,
        shift,
    }
}

/// TFLite's `QuantizeMultiplierSmallerThanOneExp`: like [`quantize_multiplier`], for `0 < m < 1`;
/// the shift is the (non-positive) left shift.
pub fn quantize_multiplier_smaller_than_one_exp(m: f64) -> Requant {
    quantize_multiplier(m)
}

/// TFLite's `QuantizeMultiplierGreaterThanOne`: for `m > 1`; the shift is the (non-negative) left
/// shift.
pub fn quantize_multiplier_greater_than_one(m: f64) -> Requant {
    quantize_multiplier(m)
}

/// The `[min, max]` range of a quantized type.
pub fn qrange(dtype: DType) -> (i32, i32) {
    match dtype {
        DType::I8 => (i8::MIN as i32, i8::MAX as i32),
        DType::U8 => (0, 255),
        DType::I16 => (i16::MIN as i32, i16::MAX as i32),
        DType::I32 => (i32::MIN, i32::MAX),
        _ => (i32::MIN, i32::MAX),
    }
}

/// TFLite's `CalculateActivationRange` for float (`lowest()`/`max()` of float where unbounded).
pub fn act_f32(act: Activation) -> ActF32 {
    match act {
        Activation::None | Activation::Tanh => ActF32::NONE,
        Activation::Relu => ActF32 {
            min: 0.0,
            max: f32::MAX,
        },
        Activation::ReluN1To1 => ActF32 {
            min: -1.0,
            max: 1.0,
        },
        Activation::Relu6 => ActF32 { min: 0.0, max: 6.0 },
    }
}

/// TFLite's `CalculateActivationRangeQuantized`: the fused activation's bounds quantized with the
/// output's (float) scale and zero point, intersected with the type's range.
pub fn act_q(act: Activation, dtype: DType, scale: f32, zero_point: i32) -> ActQ {
    let (qmin, qmax) = qrange(dtype);
    // float division and rounding, as TFLite does (`zero_point + round(x / scale)` in float).
    let quantize = |x: f32| zero_point + (x / scale).round() as i32;
    let (min, max) = match act {
        Activation::None | Activation::Tanh => (qmin, qmax),
        Activation::Relu => (qmin.max(quantize(0.0)), qmax),
        Activation::Relu6 => (qmin.max(quantize(0.0)), qmax.min(quantize(6.0))),
        Activation::ReluN1To1 => (qmin.max(quantize(-1.0)), qmax.min(quantize(1.0))),
    };
    ActQ { min, max }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_matches_c() {
        assert_eq!(frexp(1.0), (0.5, 1));
        assert_eq!(frexp(0.75), (0.75, 0));
        assert_eq!(frexp(0.1), (0.8, -3));
        assert_eq!(frexp(-3.0), (-0.75, 2));
    }

    #[test]
    fn quantize_multiplier_examples() {
        assert_eq!(
            quantize_multiplier(0.5),
            Requant {
                multiplier: 1 << 30,
                shift: 0
            }
        );
        assert_eq!(
            quantize_multiplier(1.0),
            Requant {
                multiplier: 1 << 30,
                shift: 1
            }
        );
        // Rounding up to 2^31 renormalizes.
        let r = quantize_multiplier(0.999_999_999_9);
        assert_eq!(
            r,
            Requant {
                multiplier: 1 << 30,
                shift: 1
            }
        );
        assert_eq!(quantize_multiplier(1e-12).multiplier, 0);
    }
}

//! Pieces shared by many kernels: quantized value types, activation ranges, requantization.

use crate::fixedpoint::multiply_by_quantized_multiplier;

/// A quantized element type of TFLite: `i8`, `u8`, `i16` (and `i32` where an op allows it).
///
/// Reference kernels that TFLite writes twice (`reference_ops` for `uint8`, `reference_integer_ops`
/// for `int8`) with the same arithmetic are written once here, generic over this trait.
pub trait Quantized: Copy + Default + PartialOrd + core::fmt::Debug + 'static {
    /// The smallest representable value, as `i32`.
    const MIN: i32;
    /// The largest representable value, as `i32`.
    const MAX: i32;
    /// Widens to `i32` exactly.
    fn to_i32(self) -> i32;
    /// Narrows from `i32`, saturating to `[MIN, MAX]`.
    fn from_i32_saturating(v: i32) -> Self;
}

macro_rules! impl_quantized {
    ($($t:ty),*) => {$(
        impl Quantized for $t {
            const MIN: i32 = <$t>::MIN as i32;
            const MAX: i32 = <$t>::MAX as i32;
            #[inline]
            fn to_i32(self) -> i32 {
                self as i32
            }
            #[inline]
            fn from_i32_saturating(v: i32) -> Self {
                v.clamp(<Self as Quantized>::MIN, <Self as Quantized>::MAX) as $t
            }
        }
    )*};
}
impl_quantized!(i8, u8, i16);

/// A fixed-point multiplier as TFLite's `QuantizeMultiplier` produces it: real value
/// `multiplier · 2^(shift − 31)`, `multiplier` in `[2^30, 2^31)` (or 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requant {
    /// Q31 mantissa.
    pub multiplier: i32,
    /// Power-of-two exponent; positive shifts left.
    pub shift: i32,
}

impl Requant {
    /// `MultiplyByQuantizedMultiplier(x, multiplier, shift)`.
    #[inline]
    pub fn apply(self, x: i32) -> i32 {
        multiply_by_quantized_multiplier(x, self.multiplier, self.shift)
    }
}

/// A float activation clamp `[min, max]` (fused activation NONE/RELU/RELU_N1_TO_1/RELU6 become
/// ranges at compile time). As in TFLite, "none" is `[f32::MIN, f32::MAX]`: infinities clamp to
/// the largest finite values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActF32 {
    /// Lower bound.
    pub min: f32,
    /// Upper bound.
    pub max: f32,
}

impl ActF32 {
    /// No clamping.
    pub const NONE: ActF32 = ActF32 {
        min: f32::MIN,
        max: f32::MAX,
    };

    /// TFLite's `ActivationFunctionWithMinMax`: `min(max(x, min), max)`.
    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        let lo = if x < self.min { self.min } else { x };
        if lo > self.max {
            self.max
        } else {
            lo
        }
    }
}

/// A quantized activation clamp in the output's integer domain (already intersected with the
/// type's range, as TFLite's `CalculateActivationRangeQuantized` does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActQ {
    /// Lower bound.
    pub min: i32,
    /// Upper bound.
    pub max: i32,
}

impl ActQ {
    /// TFLite's `std::min(std::max(x, min), max)`: clamps `x` to `[min, max]`, and never panics
    /// (a hostile model can make `min > max`; the result is then `max`, as in TFLite).
    #[inline]
    pub fn apply(self, x: i32) -> i32 {
        x.max(self.min).min(self.max)
    }
}

/// Per-tensor quantization of one operand as a kernel needs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QParams {
    /// Scale `S` in `r = S · (q − Z)`.
    pub scale: f32,
    /// Zero point `Z`.
    pub zero_point: i32,
}

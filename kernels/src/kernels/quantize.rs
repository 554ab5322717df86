//! QUANTIZE, DEQUANTIZE and CAST (TFLite `kernels/quantize.cc`, `kernels/dequantize.h`,
//! `kernels/cast.cc`; `reference/quantize.h`, `reference/requantize.h`, `reference/dequantize.h`).

use crate::fixedpoint::multiply_by_quantized_multiplier;
use crate::kernels::common::Quantized;

/// QUANTIZE float → quantized: `q = clamp(round(x / S) + Z)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AffineQuantizeParams {
    /// Output scale `S`.
    pub scale: f32,
    /// Output zero point `Z`.
    pub zero_point: i32,
}

/// QUANTIZE quantized → quantized (`Requantize`): `q' = clamp(M·(q − Z_in) + Z_out)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequantizeParams {
    /// Q31 mantissa of `S_in / S_out` (computed in double, `QuantizeMultiplier`).
    pub multiplier: i32,
    /// Its power-of-two exponent.
    pub shift: i32,
    /// Input zero point.
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
}

/// DEQUANTIZE with one scale: `x = S·(q − Z)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DequantizeParams {
    /// Scale `S`.
    pub scale: f32,
    /// Zero point `Z`.
    pub zero_point: i32,
}

/// DEQUANTIZE with one scale per index of an axis: the tensor is `[outer, channels, inner]` around
/// that axis; the scales and zero points are passed to [`per_channel_dequantize`] (one each per
/// channel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerChannelDequantizeParams {
    /// Product of the dimensions before the axis.
    pub outer: usize,
    /// Size of the quantized axis.
    pub channels: usize,
    /// Product of the dimensions after the axis.
    pub inner: usize,
}

/// C++'s `static_cast<int32_t>(float)` as x86-64 executes it (`cvttss2si`): truncation toward
/// zero; NaN and out-of-range values give `i32::MIN` (the "integer indefinite" value).
#[inline]
pub fn f32_to_i32_x86(x: f32) -> i32 {
    if x.is_nan() || !(-2_147_483_648.0..2_147_483_648.0).contains(&x) {
        i32::MIN
    } else {
        x as i32
    }
}

/// `reference_ops::AffineQuantize`: `round(x / S)` in float (ties away from zero), converted to
/// `int32` as C++ does on x86-64, plus `Z`, clamped to `T`.
pub fn affine_quantize<T: Quantized>(p: &AffineQuantizeParams, input: &[f32], output: &mut [T]) {
    for (o, &x) in output.iter_mut().zip(input) {
        let q = f32_to_i32_x86(libm::roundf(x / p.scale)).wrapping_add(p.zero_point);
        *o = T::from_i32_saturating(q);
    }
}

/// `reference_ops::Requantize` between `int8`/`uint8` (any combination). TFLite's same-scale
/// `int8 ↔ uint8` fast path (flip the top bit) gives the same values as this general path.
pub fn requantize<In: Quantized, Out: Quantized>(
    p: &RequantizeParams,
    input: &[In],
    output: &mut [Out],
) {
    for (o, &x) in output.iter_mut().zip(input) {
        let v = multiply_by_quantized_multiplier(
            x.to_i32() - p.input_zero_point,
            p.multiplier,
            p.shift,
        )
        .wrapping_add(p.output_zero_point);
        *o = Out::from_i32_saturating(v);
    }
}

/// `reference_ops::Dequantize` / `reference_integer_ops::Dequantize`: `S·(q − Z)` computed in
/// double and rounded to float.
pub fn dequantize<T: Quantized>(p: &DequantizeParams, input: &[T], output: &mut [f32]) {
    let scale = f64::from(p.scale);
    for (o, &q) in output.iter_mut().zip(input) {
        *o = (scale * f64::from(q.to_i32() - p.zero_point)) as f32;
    }
}

/// `reference_ops::PerChannelDequantize`: `S[c]·(q − Z[c])` in float, `c` the index along the
/// quantized axis.
pub fn per_channel_dequantize<T: Quantized>(
    p: &PerChannelDequantizeParams,
    scales: &[f32],
    zero_points: &[i32],
    input: &[T],
    output: &mut [f32],
) {
    let inner = p.inner;
    if inner == 0 || p.channels == 0 {
        return;
    }
    let rows = input
        .chunks_exact(inner)
        .zip(output.chunks_exact_mut(inner));
    for (r, (x, y)) in rows.enumerate().take(p.outer * p.channels) {
        let c = r % p.channels;
        let (s, z) = (scales[c], zero_points[c]);
        for (o, &q) in y.iter_mut().zip(x) {
            *o = s * (q.to_i32() - z) as f32;
        }
    }
}

/// IEEE binary16 bits to `f32` (exact).
pub fn f16_bits_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let mant = u32::from(h & 0x3ff);
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: value m · 2^-24; normalize.
            let shift = m.leading_zeros() - 21; // bring the top set bit to bit 10
            let m = (m << shift) & 0x3ff;
            let e = 127 - 15 + 1 - shift;
            sign | (e << 23) | (m << 13)
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// DEQUANTIZE float16 → float32.
pub fn dequantize_f16(input: &[u16], output: &mut [f32]) {
    for (o, &h) in output.iter_mut().zip(input) {
        *o = f16_bits_to_f32(h);
    }
}

/// A value in transit through CAST: what C++'s `static_cast` sees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CastValue {
    /// A float.
    F32(f32),
    /// Any integer type, widened.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// An element type CAST reads and writes, with the semantics of LiteRT's CAST: integers narrow
/// by truncating their two's-complement bits (`static_cast`); floats convert to integers by
/// truncation toward zero, saturating at the type's limits, NaN becoming the maximum (checked
/// against LiteRT 2.3.0; the plain `static_cast` of older TFLite wraps instead); anything
/// converts to `bool` as `!= 0`.
pub trait CastElem: Copy {
    /// Reads the value.
    fn to_cast(self) -> CastValue;
    /// Converts a value to this type.
    fn from_cast(v: CastValue) -> Self;
}

macro_rules! cast_int {
    ($($t:ty),*) => {$(
        impl CastElem for $t {
            #[inline]
            fn to_cast(self) -> CastValue {
                CastValue::Int(self as i64)
            }
            #[inline]
            fn from_cast(v: CastValue) -> Self {
                match v {
                    // Rust's `as` truncates and saturates; NaN goes to the top as in LiteRT.
                    CastValue::F32(f) if f.is_nan() => <$t>::MAX,
                    CastValue::F32(f) => f as $t,
                    CastValue::Int(i) => i as $t,
                    CastValue::Bool(b) => <$t>::from(b),
                }
            }
        }
    )*};
}
cast_int!(i8, u8, i16, i32);

impl CastElem for i64 {
    #[inline]
    fn to_cast(self) -> CastValue {
        CastValue::Int(self)
    }
    #[inline]
    fn from_cast(v: CastValue) -> Self {
        match v {
            CastValue::F32(f) if f.is_nan() => i64::MAX,
            CastValue::F32(f) => f as i64,
            CastValue::Int(i) => i,
            CastValue::Bool(b) => i64::from(b),
        }
    }
}

impl CastElem for f32 {
    #[inline]
    fn to_cast(self) -> CastValue {
        CastValue::F32(self)
    }
    #[inline]
    fn from_cast(v: CastValue) -> Self {
        match v {
            CastValue::F32(f) => f,
            CastValue::Int(i) => i as f32,
            CastValue::Bool(b) => f32::from(u8::from(b)),
        }
    }
}

impl CastElem for bool {
    #[inline]
    fn to_cast(self) -> CastValue {
        CastValue::Bool(self)
    }
    #[inline]
    fn from_cast(v: CastValue) -> Self {
        match v {
            CastValue::F32(f) => f != 0.0,
            CastValue::Int(i) => i != 0,
            CastValue::Bool(b) => b,
        }
    }
}

/// CAST: element-wise `static_cast<Dst>(src)`.
pub fn cast<S: CastElem, D: CastElem>(input: &[S], output: &mut [D]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = D::from_cast(x.to_cast());
    }
}

/// CAST from a `bool` tensor stored one byte per element (non-zero is true).
pub fn cast_from_bool_bytes<D: CastElem>(input: &[u8], output: &mut [D]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = D::from_cast(CastValue::Bool(x != 0));
    }
}

/// CAST to a `bool` tensor stored one byte per element (0 or 1).
pub fn cast_to_bool_bytes<S: CastElem>(input: &[S], output: &mut [u8]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = u8::from(bool::from_cast(x.to_cast()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_rounds_half_away_and_clamps() {
        let p = AffineQuantizeParams {
            scale: 0.5,
            zero_point: -3,
        };
        let input = [0.25, -0.25, 1.0, 1000.0, -1000.0, f32::NAN];
        let mut out = [0i8; 6];
        affine_quantize(&p, &input, &mut out);
        // NaN converts to i32::MIN on x86-64; adding the negative zero point wraps to the top.
        assert_eq!(out, [-2, -4, -1, 127, -128, 127]);
    }

    #[test]
    fn requantize_same_scale_flips_top_bit() {
        let p = RequantizeParams {
            multiplier: 1 << 30,
            shift: 1,
            input_zero_point: -128,
            output_zero_point: 0,
        };
        let input = [-128i8, -1, 0, 127];
        let mut out = [0u8; 4];
        requantize(&p, &input, &mut out);
        assert_eq!(out, [0, 127, 128, 255]);
    }

    #[test]
    fn dequantize_per_tensor_and_per_channel() {
        let mut out = [0.0f32; 2];
        dequantize(
            &DequantizeParams {
                scale: 0.5,
                zero_point: 10,
            },
            &[12u8, 4],
            &mut out,
        );
        assert_eq!(out, [1.0, -3.0]);
        let p = PerChannelDequantizeParams {
            outer: 1,
            channels: 2,
            inner: 2,
        };
        let mut out = [0.0f32; 4];
        per_channel_dequantize(&p, &[1.0, 0.25], &[0, 0], &[1i8, 2, 4, -8], &mut out);
        assert_eq!(out, [1.0, 2.0, 1.0, -2.0]);
    }

    #[test]
    fn f16_conversion() {
        assert_eq!(f16_bits_to_f32(0x3c00), 1.0);
        assert_eq!(f16_bits_to_f32(0xc000), -2.0);
        assert_eq!(f16_bits_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_bits_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_bits_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        assert!(f16_bits_to_f32(0x7c00).is_infinite());
        assert!(f16_bits_to_f32(0x7e00).is_nan());
        assert_eq!(f16_bits_to_f32(0x8000).to_bits(), 0x8000_0000);
    }

    #[test]
    fn cast_semantics() {
        let mut o = [0i32; 5];
        cast(&[1.9f32, -1.9, 3e9, -3e9, f32::NAN], &mut o);
        assert_eq!(o, [1, -1, i32::MAX, i32::MIN, i32::MAX]);
        let mut o = [0u8; 3];
        cast(&[300i32, -1, 7], &mut o);
        assert_eq!(o, [44, 255, 7]);
        let mut o = [0u8; 4];
        cast(&[300.5f32, -1.0, 0.5, f32::NAN], &mut o);
        assert_eq!(o, [255, 0, 0, 255]);
        let mut o = [0i8; 3];
        cast(&[-1.5f32, -300.0, f32::NEG_INFINITY], &mut o);
        assert_eq!(o, [-1, -128, -128]);
        let mut o = [0i64; 2];
        cast(&[1e10f32, f32::NAN], &mut o);
        assert_eq!(o, [10_000_000_000, i64::MAX]);
        let mut o = [0u8; 3];
        cast_to_bool_bytes(&[0.0f32, -0.5, f32::NAN], &mut o);
        assert_eq!(o, [0, 1, 1]);
        let mut o = [0.0f32; 2];
        cast_from_bool_bytes(&[0u8, 1], &mut o);
        assert_eq!(o, [0.0, 1.0]);
        let mut o = [0.0f32; 1];
        cast(&[16_777_217i64], &mut o);
        assert_eq!(o, [16_777_216.0]);
    }
}

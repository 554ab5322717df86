//! Element-wise binary ops with NumPy broadcasting: ADD, SUB, MUL, DIV, SQUARED_DIFFERENCE,
//! MAXIMUM, MINIMUM.
//!
//! Follows TFLite's reference kernels: `reference/add.h` and `reference/integer_ops/add.h`
//! (`AddElementwise`, `BroadcastAdd*Slow`; SUB runs the same kernel with the second input's
//! multiplier negated, as `sub.cc` does), `reference/mul.h` and `integer_ops/mul.h`
//! (`MulElementwise`), `reference/div.h` (`DivElementwise`, the uint8 reciprocal path),
//! `squared_difference.cc` and `maximum_minimum.cc`. Broadcasting is TFLite's `NdArrayDesc`
//! scheme: both shapes are right-aligned to [`MAX_RANK`] dimensions, and a dimension of extent 1
//! gets stride 0. Every element is computed independently, so the iteration order does not
//! change any result.

use crate::fixedpoint::{
    multiply_by_quantized_multiplier_greater_than_one,
    multiply_by_quantized_multiplier_smaller_than_one_exp, saturating_rounding_doubling_high_mul,
};

use super::common::{ActF32, ActQ, Quantized, Requant};

/// The largest rank the broadcasting kernels handle (TFLite's newest kernels go to 6).
pub const MAX_RANK: usize = 6;

/// How two operands broadcast to the output: output extents and, per operand, the element stride
/// of each output dimension (0 where the operand has extent 1 and the output does not).
/// All arrays are right-aligned: shapes of lower rank are padded with leading 1s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BroadcastShape {
    /// Output extents.
    pub dims: [usize; MAX_RANK],
    /// Strides of operand 1 over the output dimensions.
    pub strides1: [usize; MAX_RANK],
    /// Strides of operand 2 over the output dimensions.
    pub strides2: [usize; MAX_RANK],
}

fn extend(shape: &[usize]) -> [usize; MAX_RANK] {
    let mut e = [1; MAX_RANK];
    e[MAX_RANK - shape.len()..].copy_from_slice(shape);
    e
}

fn dense_strides(extents: &[usize; MAX_RANK]) -> [usize; MAX_RANK] {
    let mut s = [0; MAX_RANK];
    let mut acc = 1usize;
    for i in (0..MAX_RANK).rev() {
        s[i] = acc;
        acc = acc.saturating_mul(extents[i]);
    }
    s
}

impl BroadcastShape {
    /// The broadcast of two row-major shapes, or `None` when they are incompatible (a pair of
    /// extents that differ with neither being 1) or of rank above [`MAX_RANK`].
    pub fn new(shape1: &[usize], shape2: &[usize]) -> Option<BroadcastShape> {
        if shape1.len() > MAX_RANK || shape2.len() > MAX_RANK {
            return None;
        }
        let e1 = extend(shape1);
        let e2 = extend(shape2);
        let mut strides1 = dense_strides(&e1);
        let mut strides2 = dense_strides(&e2);
        let mut dims = [1; MAX_RANK];
        for i in 0..MAX_RANK {
            if e1[i] == e2[i] {
                dims[i] = e1[i];
            } else if e1[i] == 1 {
                dims[i] = e2[i];
                strides1[i] = 0;
            } else if e2[i] == 1 {
                dims[i] = e1[i];
                strides2[i] = 0;
            } else {
                return None;
            }
        }
        Some(BroadcastShape {
            dims,
            strides1,
            strides2,
        })
    }

    /// Number of output elements.
    pub fn num_elements(&self) -> usize {
        self.dims.iter().product()
    }

    /// Whether both operands have the output's shape (no broadcasting).
    pub fn is_elementwise(&self) -> bool {
        self.strides1 == self.strides2
    }

    /// Number of elements operand 1 must hold.
    pub fn len1(&self) -> usize {
        operand_len(&self.dims, &self.strides1)
    }

    /// Number of elements operand 2 must hold.
    pub fn len2(&self) -> usize {
        operand_len(&self.dims, &self.strides2)
    }
}

fn operand_len(dims: &[usize; MAX_RANK], strides: &[usize; MAX_RANK]) -> usize {
    dims.iter()
        .zip(strides)
        .map(|(&d, &s)| if s == 0 { 1 } else { d })
        .product()
}

/// Calls `f(out_index, index1, index2)` for every output element in row-major order.
pub fn for_each_broadcast_index(shape: &BroadcastShape, mut f: impl FnMut(usize, usize, usize)) {
    let total = shape.num_elements();
    let inner = shape.dims[MAX_RANK - 1];
    if total == 0 {
        return;
    }
    let (s1, s2) = (&shape.strides1, &shape.strides2);
    let (is1, is2) = (s1[MAX_RANK - 1], s2[MAX_RANK - 1]);
    let mut idx = [0usize; MAX_RANK];
    let (mut base1, mut base2) = (0usize, 0usize);
    let mut out = 0usize;
    loop {
        for i in 0..inner {
            f(out, base1 + i * is1, base2 + i * is2);
            out += 1;
        }
        // Advance the odometer over the outer dimensions.
        let mut k = MAX_RANK - 1;
        loop {
            if k == 0 {
                return;
            }
            k -= 1;
            idx[k] += 1;
            base1 += s1[k];
            base2 += s2[k];
            if idx[k] < shape.dims[k] {
                break;
            }
            base1 -= s1[k] * shape.dims[k];
            base2 -= s2[k] * shape.dims[k];
            idx[k] = 0;
        }
    }
}

/// Applies `f` to each broadcast pair of elements of `in1` and `in2`, writing `out`.
#[inline]
pub fn broadcast_map<A: Copy, B: Copy, O>(
    shape: &BroadcastShape,
    in1: &[A],
    in2: &[B],
    out: &mut [O],
    f: impl Fn(A, B) -> O,
) {
    if shape.is_elementwise() {
        for ((o, &a), &b) in out.iter_mut().zip(in1).zip(in2) {
            *o = f(a, b);
        }
    } else {
        for_each_broadcast_index(shape, |o, i1, i2| out[o] = f(in1[i1], in2[i2]));
    }
}

/// Parameters of the float kernels (and int32 ADD/SUB/MUL/DIV): broadcasting and the fused
/// activation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BinaryF32Params {
    /// Broadcasting of the two operands.
    pub shape: BroadcastShape,
    /// Fused activation range (`±f32::MAX` when none, as TFLite's `CalculateActivationRange`).
    pub act: ActF32,
}

/// Parameters of the int32 arithmetic kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BinaryI32Params {
    /// Broadcasting of the two operands.
    pub shape: BroadcastShape,
    /// Fused activation range.
    pub act: ActQ,
}

/// Float ADD: `act(a + b)`.
pub fn add_f32(p: &BinaryF32Params, in1: &[f32], in2: &[f32], out: &mut [f32]) {
    broadcast_map(&p.shape, in1, in2, out, |a, b| p.act.apply(a + b));
}

/// Float SUB: `act(a − b)`.
pub fn sub_f32(p: &BinaryF32Params, in1: &[f32], in2: &[f32], out: &mut [f32]) {
    broadcast_map(&p.shape, in1, in2, out, |a, b| p.act.apply(a - b));
}

/// Float MUL: `act(a · b)`.
pub fn mul_f32(p: &BinaryF32Params, in1: &[f32], in2: &[f32], out: &mut [f32]) {
    broadcast_map(&p.shape, in1, in2, out, |a, b| p.act.apply(a * b));
}

/// Float DIV: `act(a / b)` (division by zero gives ±inf before the clamp, as in TFLite).
pub fn div_f32(p: &BinaryF32Params, in1: &[f32], in2: &[f32], out: &mut [f32]) {
    broadcast_map(&p.shape, in1, in2, out, |a, b| p.act.apply(a / b));
}

/// Float SQUARED_DIFFERENCE: `(a − b)²`.
pub fn squared_difference_f32(shape: &BroadcastShape, in1: &[f32], in2: &[f32], out: &mut [f32]) {
    broadcast_map(shape, in1, in2, out, |a, b| {
        let d = a - b;
        d * d
    });
}

/// int32 ADD (wrapping, as the two's-complement hardware does).
pub fn add_i32(p: &BinaryI32Params, in1: &[i32], in2: &[i32], out: &mut [i32]) {
    broadcast_map(&p.shape, in1, in2, out, |a, b| {
        p.act.apply(a.wrapping_add(b))
    });
}

/// int32 SUB (wrapping).
pub fn sub_i32(p: &BinaryI32Params, in1: &[i32], in2: &[i32], out: &mut [i32]) {
    broadcast_map(&p.shape, in1, in2, out, |a, b| {
        p.act.apply(a.wrapping_sub(b))
    });
}

/// int32 MUL (wrapping).
pub fn mul_i32(p: &BinaryI32Params, in1: &[i32], in2: &[i32], out: &mut [i32]) {
    broadcast_map(&p.shape, in1, in2, out, |a, b| {
        p.act.apply(a.wrapping_mul(b))
    });
}

/// int32 DIV, truncating toward zero. TFLite rejects a zero divisor at run time; here it gives 0
/// ([`div_i32_checked`] refuses it, as TFLite does).
pub fn div_i32(p: &BinaryI32Params, in1: &[i32], in2: &[i32], out: &mut [i32]) {
    broadcast_map(&p.shape, in1, in2, out, |a, b| {
        p.act.apply(a.checked_div(b).unwrap_or(0))
    });
}

/// A stored zero divisor of an int32 DIV (TFLite fails the op at run time on one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DivisionByZero {
    /// Position of the first zero in the divisor operand.
    pub position: usize,
}

/// int32 DIV as TFLite runs it: refuses a divisor operand holding a zero anywhere (before
/// writing anything), else [`div_i32`].
///
/// # Errors
/// [`DivisionByZero`] for the first zero in `in2`.
pub fn div_i32_checked(
    p: &BinaryI32Params,
    in1: &[i32],
    in2: &[i32],
    out: &mut [i32],
) -> Result<(), DivisionByZero> {
    if let Some(position) = in2.iter().position(|&b| b == 0) {
        return Err(DivisionByZero { position });
    }
    div_i32(p, in1, in2, out);
    Ok(())
}

/// int32 SQUARED_DIFFERENCE (wrapping).
pub fn squared_difference_i32(shape: &BroadcastShape, in1: &[i32], in2: &[i32], out: &mut [i32]) {
    broadcast_map(shape, in1, in2, out, |a, b| {
        let d = a.wrapping_sub(b);
        d.wrapping_mul(d)
    });
}

/// MAXIMUM on raw values of any type (`a > b ? a : b`; quantized operands are compared as stored,
/// with no rescaling, as TFLite does).
pub fn maximum<T: Copy + PartialOrd>(shape: &BroadcastShape, in1: &[T], in2: &[T], out: &mut [T]) {
    broadcast_map(shape, in1, in2, out, |a, b| if a > b { a } else { b });
}

/// MINIMUM on raw values of any type (`a < b ? a : b`).
pub fn minimum<T: Copy + PartialOrd>(shape: &BroadcastShape, in1: &[T], in2: &[T], out: &mut [T]) {
    broadcast_map(shape, in1, in2, out, |a, b| if a < b { a } else { b });
}

/// Quantized ADD/SUB (`add.cc`/`sub.cc` Prepare; `AddElementwise`): both inputs are shifted left by
/// `left_shift` (20 for 8-bit), rescaled to a common scale (twice the larger input scale) with
/// multipliers below one, summed, and rescaled to the output. SUB negates `input2.multiplier`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddQParams {
    /// Broadcasting of the two operands.
    pub shape: BroadcastShape,
    /// Left shift applied to both offset inputs before rescaling.
    pub left_shift: i32,
    /// `−zero_point` of input 1.
    pub input1_offset: i32,
    /// Input 1 multiplier (shift ≤ 0).
    pub input1: Requant,
    /// `−zero_point` of input 2.
    pub input2_offset: i32,
    /// Input 2 multiplier (shift ≤ 0; negative multiplier for SUB).
    pub input2: Requant,
    /// Output multiplier (shift ≤ 0).
    pub output: Requant,
    /// Output zero point.
    pub output_offset: i32,
    /// Fused activation range, intersected with the type's range.
    pub act: ActQ,
}

#[inline]
fn stoe(x: i32, r: Requant) -> i32 {
    multiply_by_quantized_multiplier_smaller_than_one_exp(x, r.multiplier, r.shift)
}

/// Quantized ADD (and SUB), uint8 or int8.
pub fn add_q<T: Quantized>(p: &AddQParams, in1: &[T], in2: &[T], out: &mut [T]) {
    broadcast_map(&p.shape, in1, in2, out, |a, b| {
        let v1 = p.input1_offset + a.to_i32();
        let v2 = p.input2_offset + b.to_i32();
        let s1 = stoe(v1.wrapping_mul(1 << p.left_shift), p.input1);
        let s2 = stoe(v2.wrapping_mul(1 << p.left_shift), p.input2);
        let raw = stoe(s1.wrapping_add(s2), p.output).wrapping_add(p.output_offset);
        T::from_i32_saturating(p.act.apply(raw))
    });
}

/// Quantized SQUARED_DIFFERENCE (int8; `squared_difference.cc`): like [`add_q`] with
/// `left_shift = 7`, the difference squared, and an output multiplier for the squared scale.
pub fn squared_difference_q<T: Quantized>(p: &AddQParams, in1: &[T], in2: &[T], out: &mut [T]) {
    broadcast_map(&p.shape, in1, in2, out, |a, b| {
        let v1 = p.input1_offset + a.to_i32();
        let v2 = p.input2_offset + b.to_i32();
        let s1 = stoe(v1.wrapping_mul(1 << p.left_shift), p.input1);
        let s2 = stoe(v2.wrapping_mul(1 << p.left_shift), p.input2);
        let diff = s1.wrapping_sub(s2);
        let raw = stoe(diff.wrapping_mul(diff), p.output).wrapping_add(p.output_offset);
        T::from_i32_saturating(p.act.apply(raw))
    });
}

/// Quantized MUL (`mul.cc`; `MulElementwise`) and DIV (`div.cc`; `DivElementwise`): offset
/// inputs, one output multiplier, output zero point, activation clamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MulQParams {
    /// Broadcasting of the two operands.
    pub shape: BroadcastShape,
    /// `−zero_point` of input 1.
    pub input1_offset: i32,
    /// `−zero_point` of input 2.
    pub input2_offset: i32,
    /// Output multiplier: `S1·S2/S_out` for MUL, `S1/(S2·S_out)` for DIV.
    pub output: Requant,
    /// Output zero point.
    pub output_offset: i32,
    /// Fused activation range, intersected with the type's range.
    pub act: ActQ,
}

/// Quantized MUL, uint8 or int8.
pub fn mul_q<T: Quantized>(p: &MulQParams, in1: &[T], in2: &[T], out: &mut [T]) {
    broadcast_map(&p.shape, in1, in2, out, |a, b| {
        let v1 = p.input1_offset + a.to_i32();
        let v2 = p.input2_offset + b.to_i32();
        let raw = p
            .output
            .apply(v1.wrapping_mul(v2))
            .wrapping_add(p.output_offset);
        T::from_i32_saturating(p.act.apply(raw))
    });
}

/// Quantized DIV (uint8 or int8): the divisor's reciprocal in fixed point
/// (`GetReciprocal`), the dividend shifted up by its headroom, one final rescale.
///
/// TFLite rejects a stored divisor of 0 at run time (whatever the zero point); a divisor equal to
/// the zero point is computed through the same arithmetic as TFLite's (a meaningless but
/// deterministic value), never a panic.
pub fn div_q<T: Quantized>(p: &MulQParams, in1: &[T], in2: &[T], out: &mut [T]) {
    broadcast_map(&p.shape, in1, in2, out, |a, b| {
        let mut v1 = p.input1_offset + a.to_i32();
        let mut v2 = p.input2_offset + b.to_i32();
        if v2 < 0 {
            v1 = -v1;
            v2 = -v2;
        }
        let (inv, recip_shift) = get_reciprocal(v2, 31);
        let headroom = count_leading_sign_bits(v1);
        let unscaled = multiply_by_quantized_multiplier_greater_than_one(v1, inv, headroom);
        let total_shift = p.output.shift - recip_shift - headroom;
        let scaled = rounding_divide_by_pot_wide(
            saturating_rounding_doubling_high_mul(unscaled, p.output.multiplier),
            -total_shift,
        );
        T::from_i32_saturating(p.act.apply(scaled.wrapping_add(p.output_offset)))
    });
}

/// TFLite's `CountLeadingSignBits(int32)`: 31 for 0.
fn count_leading_sign_bits(x: i32) -> i32 {
    if x >= 0 {
        x.leading_zeros() as i32 - 1
    } else {
        (!x).leading_zeros() as i32 - 1
    }
}

/// gemmlowp's `RoundingDivideByPOT` for an exponent that may exceed 31 (DIV's total shift can):
/// the mask is `(1 << e) − 1` truncated to 32 bits (all ones for `e ≥ 32`) and the arithmetic
/// shift fills with the sign bit, as the compiled TFLite kernel behaves on x86-64. Negative
/// exponents are treated as 0.
fn rounding_divide_by_pot_wide(x: i32, exponent: i32) -> i32 {
    let e = exponent.clamp(0, 63) as u32;
    let mask = ((1i64 << e) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> e.min(31)) + i32::from(remainder > threshold)
}

/// gemmlowp's `SaturatingRoundingMultiplyByPOT<e>` for `e > 0`: a left shift saturating to the
/// int32 range.
fn saturating_left_shift_i32(x: i32, e: u32) -> i32 {
    let threshold = (1i32 << (31 - e)) - 1;
    if x > threshold {
        i32::MAX
    } else if x < -threshold {
        i32::MIN
    } else {
        x.wrapping_mul(1 << e)
    }
}

/// gemmlowp's `RoundingHalfSum(int32, int32)`.
fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = i64::from(a) + i64::from(b);
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// gemmlowp's `one_over_one_plus_x_for_x_in_0_1` on raw Q0.31 values: Newton–Raphson in Q2.29.
fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    const ONE_F2: i32 = 1 << 29;
    let half_denominator = rounding_half_sum(a, i32::MAX);
    let constant_48_over_17: i32 = 1_515_870_810;
    let constant_neg_32_over_17: i32 = -1_010_580_540;
    let mut x = constant_48_over_17.wrapping_add(saturating_rounding_doubling_high_mul(
        half_denominator,
        constant_neg_32_over_17,
    ));
    for _ in 0..3 {
        let half_denominator_times_x = saturating_rounding_doubling_high_mul(half_denominator, x);
        let one_minus = ONE_F2.wrapping_sub(half_denominator_times_x);
        let prod = saturating_rounding_doubling_high_mul(x, one_minus);
        x = x.wrapping_add(saturating_left_shift_i32(prod, 2));
    }
    saturating_left_shift_i32(x, 1)
}

/// TFLite's `GetReciprocal(x, x_integer_digits)` for `x > 0`: the Q0.31 reciprocal mantissa and
/// the number of bits over unit.
fn get_reciprocal(x: i32, x_integer_digits: i32) -> (i32, i32) {
    let headroom_plus_one = (x as u32).leading_zeros();
    let num_bits_over_unit = x_integer_digits - headroom_plus_one as i32;
    let shifted = (x as u32).checked_shl(headroom_plus_one).unwrap_or(0);
    let shifted_sum_minus_one = shifted.wrapping_sub(1u32 << 31) as i32;
    (
        one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one),
        num_bits_over_unit,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(a: &[usize], b: &[usize]) -> BroadcastShape {
        BroadcastShape::new(a, b).unwrap()
    }

    #[test]
    fn broadcast_shapes() {
        let s = shape(&[2, 3], &[3]);
        assert_eq!(s.dims, [1, 1, 1, 1, 2, 3]);
        assert_eq!(s.strides1, [6, 6, 6, 6, 3, 1]);
        assert_eq!(s.strides2, [3, 3, 3, 3, 0, 1]);
        assert!(!s.is_elementwise());
        assert_eq!((s.len1(), s.len2()), (6, 3));
        assert!(shape(&[1, 4], &[4]).is_elementwise());
        assert!(BroadcastShape::new(&[2, 3], &[2]).is_none());
        assert!(BroadcastShape::new(&[1; 7], &[1]).is_none());
        // Both sides broadcast.
        let s = shape(&[2, 1], &[1, 3]);
        assert_eq!(s.num_elements(), 6);
    }

    #[test]
    fn int32_div_refuses_a_stored_zero() {
        let p = BinaryI32Params {
            shape: shape(&[3], &[3]),
            act: ActQ {
                min: i32::MIN,
                max: i32::MAX,
            },
        };
        let mut out = [7; 3];
        assert_eq!(
            div_i32_checked(&p, &[6, -7, 9], &[3, 0, 0], &mut out),
            Err(DivisionByZero { position: 1 })
        );
        assert_eq!(out, [7; 3]);
        div_i32_checked(&p, &[6, -7, 9], &[3, 2, -4], &mut out).unwrap();
        assert_eq!(out, [2, -3, -2]);
    }

    #[test]
    fn broadcast_add_both_sides() {
        let s = shape(&[2, 1], &[1, 3]);
        let p = BinaryF32Params {
            shape: s,
            act: ActF32::NONE,
        };
        let mut out = [0.0; 6];
        add_f32(&p, &[10.0, 20.0], &[1.0, 2.0, 3.0], &mut out);
        assert_eq!(out, [11.0, 12.0, 13.0, 21.0, 22.0, 23.0]);
        let p = BinaryF32Params {
            shape: s,
            act: ActF32 {
                min: 0.0,
                max: 12.5,
            },
        };
        sub_f32(&p, &[10.0, 20.0], &[1.0, 2.0, 30.0], &mut out);
        assert_eq!(out, [9.0, 8.0, 0.0, 12.5, 12.5, 0.0]);
    }

    #[test]
    fn broadcast_rank_six() {
        let a: [f32; 8] = core::array::from_fn(|i| i as f32);
        let s = shape(&[2, 1, 2, 1, 2, 1], &[1, 2, 1, 1, 1, 1]);
        let mut out = [0.0f32; 16];
        mul_f32(
            &BinaryF32Params {
                shape: s,
                act: ActF32::NONE,
            },
            &a,
            &[1.0, -1.0],
            &mut out,
        );
        // Output index (i0, i1, i2, i4) → a[(i0, i2, i4)] · (i1 ? −1 : 1).
        let mut k = 0;
        for i0 in 0..2 {
            for i1 in 0..2 {
                for i2 in 0..2 {
                    for i4 in 0..2 {
                        let v = a[i0 * 4 + i2 * 2 + i4];
                        assert_eq!(out[k], if i1 == 1 { -v } else { v });
                        k += 1;
                    }
                }
            }
        }
    }

    #[test]
    fn max_min_raw() {
        let s = shape(&[3], &[1]);
        let mut out = [0i8; 3];
        maximum(&s, &[-5i8, 0, 7], &[1], &mut out);
        assert_eq!(out, [1, 1, 7]);
        minimum(&s, &[-5i8, 0, 7], &[1], &mut out);
        assert_eq!(out, [-5, 0, 1]);
    }

    #[test]
    fn quantized_add_same_scales() {
        // Scales 1 for inputs and output, zero points 0: TFLite's multipliers are 0.5, 0.5 and
        // 2/2^20, which reproduce a + b exactly for small values.
        let half = Requant {
            multiplier: 1 << 30,
            shift: 0,
        };
        let p = AddQParams {
            shape: shape(&[4], &[4]),
            left_shift: 20,
            input1_offset: 0,
            input1: half,
            input2_offset: 0,
            input2: half,
            output: Requant {
                multiplier: 1 << 30,
                shift: -18,
            },
            output_offset: 0,
            act: ActQ {
                min: -128,
                max: 127,
            },
        };
        let mut out = [0i8; 4];
        add_q(&p, &[1i8, -3, 100, -100], &[2, 5, 100, -100], &mut out);
        assert_eq!(out, [3, 2, 127, -128]);
        let sub = AddQParams {
            input2: Requant {
                multiplier: -(1 << 30),
                shift: 0,
            },
            ..p
        };
        // SUB is ADD with the second multiplier negated.
        add_q(&sub, &[1i8, -3, 100, -100], &[2, 5, 100, -100], &mut out);
        assert_eq!(out, [-1, -8, 0, 0]);
    }

    #[test]
    fn quantized_mul() {
        let p = MulQParams {
            shape: shape(&[3], &[3]),
            input1_offset: 0,
            input2_offset: -10,
            // M = 0.25
            output: Requant {
                multiplier: 1 << 30,
                shift: -1,
            },
            output_offset: 3,
            act: ActQ { min: 0, max: 255 },
        };
        let mut out = [0u8; 3];
        mul_q(&p, &[4u8, 10, 200], &[14, 0, 20], &mut out);
        // 4·4/4 + 3 = 7; 10·(−10)/4 + 3 = −22 → 0; 200·10/4 + 3 = 503 → 255.
        assert_eq!(out, [7, 0, 255]);
    }

    #[test]
    fn reciprocal_is_accurate() {
        for x in [1, 2, 3, 7, 100, 255] {
            let (inv, bits) = get_reciprocal(x, 31);
            // inv / 2^31 · 2^-bits ≈ 1/x
            let approx = f64::from(inv) / f64::from(1u32 << 31) / f64::from(1u32 << bits as u32);
            assert!((approx - 1.0 / f64::from(x)).abs() < 1e-8, "{x}: {approx}");
        }
    }

    #[test]
    fn quantized_div() {
        // Unit scales: M = 1 → multiplier 2^30, shift 1.
        let p = MulQParams {
            shape: shape(&[4], &[4]),
            input1_offset: 0,
            input2_offset: 0,
            output: Requant {
                multiplier: 1 << 30,
                shift: 1,
            },
            output_offset: 0,
            act: ActQ { min: 0, max: 255 },
        };
        let mut out = [0u8; 4];
        div_q(&p, &[200u8, 9, 7, 255], &[4, 2, 2, 1], &mut out);
        assert_eq!(out, [50, 5, 4, 255]);
    }

    #[test]
    fn leading_sign_bits() {
        assert_eq!(count_leading_sign_bits(0), 31);
        assert_eq!(count_leading_sign_bits(1), 30);
        assert_eq!(count_leading_sign_bits(-1), 31);
        assert_eq!(count_leading_sign_bits(-3), 29);
        assert_eq!(count_leading_sign_bits(i32::MIN), 0);
        assert_eq!(count_leading_sign_bits(255), 23);
    }
}

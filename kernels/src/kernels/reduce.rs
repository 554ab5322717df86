//! MEAN, SUM and REDUCE_MAX over constant axes (TFLite `kernels/reduce.cc` with the reference
//! kernels of `reference/reduce.h`).
//!
//! The compiler describes a reduction by the input shape with adjacent dimensions of the same
//! kind (reduced or kept) merged, as TFLite's `ResolveAxis` does. The kernels walk the input in
//! row-major order and accumulate each element into its output, so each output sees its inputs
//! in increasing offset order, the order of TFLite's reference `Reduce` (which matters for float
//! sums).

use crate::fixedpoint::multiply_by_quantized_multiplier;
use crate::kernels::common::Quantized;
use crate::kernels::quantize::f32_to_i32_x86;

/// Most dimensions a reduction may have after merging adjacent dimensions.
pub const MAX_REDUCE_RANK: usize = 8;

/// The shape of a reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReduceShape {
    /// Number of (merged) dimensions in use.
    pub rank: usize,
    /// Input dimensions, the first `rank` in use.
    pub dims: [usize; MAX_REDUCE_RANK],
    /// Whether each dimension is reduced.
    pub reduced: [bool; MAX_REDUCE_RANK],
}

impl ReduceShape {
    /// Number of input elements.
    pub fn input_len(&self) -> usize {
        self.dims[..self.rank].iter().product()
    }

    /// Number of input elements reduced into each output element.
    pub fn reduced_len(&self) -> usize {
        self.dims[..self.rank]
            .iter()
            .zip(&self.reduced)
            .filter(|(_, &r)| r)
            .map(|(&d, _)| d)
            .product()
    }

    /// Number of output elements.
    pub fn output_len(&self) -> usize {
        self.dims[..self.rank]
            .iter()
            .zip(&self.reduced)
            .filter(|(_, &r)| !r)
            .map(|(&d, _)| d)
            .product()
    }

    /// Calls `f(input_index, output_index)` for every input element in row-major order.
    fn for_each(&self, mut f: impl FnMut(usize, usize)) {
        let rank = self.rank.min(MAX_REDUCE_RANK);
        let mut out_stride = [0usize; MAX_REDUCE_RANK];
        let mut s = 1;
        for d in (0..rank).rev() {
            if !self.reduced[d] {
                out_stride[d] = s;
                s *= self.dims[d];
            }
        }
        let n = self.input_len();
        let mut idx = [0usize; MAX_REDUCE_RANK];
        let mut o = 0usize;
        for i in 0..n {
            f(i, o);
            // Advance the odometer, keeping the output offset in step.
            for d in (0..rank).rev() {
                idx[d] += 1;
                o += out_stride[d];
                if idx[d] < self.dims[d] {
                    break;
                }
                o -= out_stride[d] * idx[d];
                idx[d] = 0;
            }
        }
    }
}

/// Quantized MEAN or SUM (`reference_ops::QuantizedMeanOrSum`): the raw values are summed in
/// `int32`, then `M·(Σq − n·Z_in) + Z_out`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantizedMeanOrSumParams {
    /// The reduction.
    pub shape: ReduceShape,
    /// Q31 mantissa of `S_in / S_out`, for MEAN already divided by the number of reduced
    /// elements the way TFLite does it in integers.
    pub multiplier: i32,
    /// Its power-of-two exponent.
    pub shift: i32,
    /// Input zero point.
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
}

/// `int8` SUM as TFLite's optimized `QuantizedMeanOrSum` computes it (its reference `int8` SUM
/// reads the data as `uint8`): `round(Σq · S_in/S_out + bias) + Z_out` in float, clamped to
/// `int8`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SumI8FloatParams {
    /// The reduction.
    pub shape: ReduceShape,
    /// `S_in / S_out` in float.
    pub scale: f32,
    /// `−Z_in · scale · n` in float (`n` the number of reduced elements).
    pub bias: f32,
    /// Output zero point.
    pub output_zero_point: i32,
}

/// `int8` SUM with [`SumI8FloatParams`]; `scratch` holds one `i32` per output.
pub fn sum_i8_float(p: &SumI8FloatParams, input: &[i8], output: &mut [i8], scratch: &mut [i32]) {
    scratch.fill(0);
    p.shape
        .for_each(|i, o| scratch[o] = scratch[o].wrapping_add(i32::from(input[i])));
    if p.shape.reduced_len() == 0 {
        // No element reduced: zeros (the output is not assumed to be zeroed).
        output.fill(0);
        return;
    }
    for (y, &s) in output.iter_mut().zip(scratch.iter()) {
        let v = f32_to_i32_x86(libm::roundf(s as f32 * p.scale + p.bias));
        *y = i8::from_i32_saturating(v.wrapping_add(p.output_zero_point));
    }
}

/// Float SUM (`reference_ops::ReduceGeneric` with `SumOp`).
pub fn sum_f32(p: &ReduceShape, input: &[f32], output: &mut [f32]) {
    output.fill(0.0);
    p.for_each(|i, o| output[o] += input[i]);
}

/// Float MEAN (`reference_ops::Mean`): the float sum divided by the float count.
pub fn mean_f32(p: &ReduceShape, input: &[f32], output: &mut [f32]) {
    sum_f32(p, input, output);
    let n = p.reduced_len();
    if n > 0 {
        let n = n as f32;
        for o in output.iter_mut() {
            *o /= n;
        }
    }
}

/// `int32` SUM: a wrapping `int32` sum.
pub fn sum_i32(p: &ReduceShape, input: &[i32], output: &mut [i32]) {
    output.fill(0);
    p.for_each(|i, o| output[o] = output[o].wrapping_add(input[i]));
}

/// `int64` SUM: a wrapping `int64` sum.
pub fn sum_i64(p: &ReduceShape, input: &[i64], output: &mut [i64]) {
    output.fill(0);
    p.for_each(|i, o| output[o] = output[o].wrapping_add(input[i]));
}

/// `int32` and `int64` MEAN: the sum in `int64`, divided by the count truncating toward zero.
pub fn mean_int<T: Copy + Into<i64> + TryFrom<i64> + Default>(
    p: &ReduceShape,
    input: &[T],
    output: &mut [T],
    scratch: &mut [i64],
) {
    scratch.fill(0);
    p.for_each(|i, o| scratch[o] = scratch[o].wrapping_add(input[i].into()));
    let n = p.reduced_len() as i64;
    if n > 0 {
        for (y, &s) in output.iter_mut().zip(scratch.iter()) {
            *y = T::try_from(s / n).unwrap_or_default();
        }
    } else {
        // No element reduced: zeros (the output is not assumed to be zeroed).
        output.fill(T::default());
    }
}

/// REDUCE_MAX for any ordered type: `lowest` is `std::numeric_limits<T>::lowest()` (`f32::MIN`
/// for float, not −∞). A later value replaces the current maximum only if greater (NaN never
/// does). When every dimension is reduced TFLite starts from the first element instead of
/// `lowest` (`ReduceAllDims`), which differs only for inputs of all −∞ or a leading NaN; this
/// kernel does the same. Quantized tensors keep their scale and zero point, so the raw values
/// are compared.
pub fn reduce_max<T: Copy + PartialOrd>(p: &ReduceShape, lowest: T, input: &[T], output: &mut [T]) {
    let all_dims = p.rank == 1 && p.reduced[0];
    match (all_dims, input.first()) {
        (true, Some(&first)) => output.fill(first),
        _ => output.fill(lowest),
    }
    p.for_each(|i, o| {
        let x = input[i];
        if x > output[o] {
            output[o] = x;
        }
    });
}

/// `reference_ops::QuantizedMeanOrSum` for `int8`/`uint8`/`int16`; `scratch` holds one `i32`
/// per output.
pub fn quantized_mean_or_sum<T: Quantized>(
    p: &QuantizedMeanOrSumParams,
    input: &[T],
    output: &mut [T],
    scratch: &mut [i32],
) {
    scratch.fill(0);
    p.shape
        .for_each(|i, o| scratch[o] = scratch[o].wrapping_add(input[i].to_i32()));
    let n = p.shape.reduced_len() as i64;
    if n == 0 {
        // No element reduced: zeros (the output is not assumed to be zeroed).
        output.fill(T::from_i32_saturating(0));
        return;
    }
    let offset = i64::from(p.input_zero_point) * n;
    for (y, &s) in output.iter_mut().zip(scratch.iter()) {
        let shifted = (i64::from(s) - offset) as i32;
        let v = multiply_by_quantized_multiplier(shifted, p.multiplier, p.shift)
            .wrapping_add(p.output_zero_point);
        *y = T::from_i32_saturating(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(dims: &[usize], reduced: &[bool]) -> ReduceShape {
        let mut s = ReduceShape {
            rank: dims.len(),
            dims: [1; MAX_REDUCE_RANK],
            reduced: [false; MAX_REDUCE_RANK],
        };
        s.dims[..dims.len()].copy_from_slice(dims);
        s.reduced[..dims.len()].copy_from_slice(reduced);
        s
    }

    #[test]
    fn sum_and_max_over_middle_axis() {
        // [2, 3, 2], reduce axis 1.
        let p = shape(&[2, 3, 2], &[false, true, false]);
        let input: [f32; 12] = core::array::from_fn(|i| i as f32);
        let mut out = [0.0; 4];
        sum_f32(&p, &input, &mut out);
        assert_eq!(out, [6.0, 9.0, 24.0, 27.0]);
        reduce_max(&p, f32::NEG_INFINITY, &input, &mut out);
        assert_eq!(out, [4.0, 5.0, 10.0, 11.0]);
        mean_f32(&p, &input, &mut out);
        assert_eq!(out, [2.0, 3.0, 8.0, 9.0]);
    }

    #[test]
    fn reduce_outer_and_inner() {
        // [2, 2, 3], reduce axes 0 and 2.
        let p = shape(&[2, 2, 3], &[true, false, true]);
        let input: [i32; 12] = core::array::from_fn(|i| i as i32);
        let mut out = [0; 2];
        sum_i32(&p, &input, &mut out);
        assert_eq!(out, [1 + 2 + 6 + 7 + 8, 3 + 4 + 5 + 9 + 10 + 11]);
        let mut scratch = [0i64; 2];
        mean_int(&p, &input, &mut out, &mut scratch);
        assert_eq!(out, [4, 7]);
    }

    #[test]
    fn quantized_mean() {
        // Mean of 4 values, same scale: M = 1/4 → multiplier 2^30, shift −1.
        let p = QuantizedMeanOrSumParams {
            shape: shape(&[4], &[true]),
            multiplier: 1 << 30,
            shift: -1,
            input_zero_point: 10,
            output_zero_point: 10,
        };
        let mut out = [0i8; 1];
        let mut scratch = [0i32; 1];
        quantized_mean_or_sum(&p, &[10i8, 12, 14, 17], &mut out, &mut scratch);
        // (0 + 2 + 4 + 7)/4 = 3.25, but double rounding: 13/2 = 6.5 → 7, 7/2 = 3.5 → 4; + 10.
        assert_eq!(out, [14]);
    }
}

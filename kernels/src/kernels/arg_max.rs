//! ARG_MAX over one constant axis (TFLite `kernels/arg_min_max.cc`, `reference/arg_min_max.h`).

/// The input seen as `[outer, axis, inner]` around the reduced axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgMaxParams {
    /// Product of the dimensions before the axis.
    pub outer: usize,
    /// Size of the axis.
    pub axis: usize,
    /// Product of the dimensions after the axis.
    pub inner: usize,
}

/// An output index type (`int32` or `int64`).
pub trait ArgIndex: Copy {
    /// Converts an index along the axis.
    fn from_index(i: usize) -> Self;
}

impl ArgIndex for i32 {
    #[inline]
    fn from_index(i: usize) -> Self {
        i as i32
    }
}

impl ArgIndex for i64 {
    #[inline]
    fn from_index(i: usize) -> Self {
        i as i64
    }
}

/// `reference_ops::ArgMinMax` with `std::greater`: the first index of the largest value (a later
/// value replaces the current one only if strictly greater; NaN never does). An empty axis gives
/// index 0 everywhere.
pub fn arg_max<T: Copy + PartialOrd, I: ArgIndex>(p: &ArgMaxParams, input: &[T], output: &mut [I]) {
    if p.axis == 0 {
        // Nothing to compare; the output does not depend on what the buffer held before.
        for o in output.iter_mut() {
            *o = I::from_index(0);
        }
        return;
    }
    for outer in 0..p.outer {
        for inner in 0..p.inner {
            let base = outer * p.axis * p.inner + inner;
            let mut best = input[base];
            let mut best_i = 0;
            for i in 1..p.axis {
                let v = input[base + i * p.inner];
                if v > best {
                    best = v;
                    best_i = i;
                }
            }
            output[outer * p.inner + inner] = I::from_index(best_i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_index_wins_ties() {
        // [2, 3] over axis 1.
        let p = ArgMaxParams {
            outer: 2,
            axis: 3,
            inner: 1,
        };
        let mut out = [0i32; 2];
        arg_max(&p, &[1i8, 5, 5, -3, -2, -9], &mut out);
        assert_eq!(out, [1, 1]);
        // [2, 2] over axis 0.
        let p = ArgMaxParams {
            outer: 1,
            axis: 2,
            inner: 2,
        };
        let mut out = [0i64; 2];
        arg_max(&p, &[1.0f32, 4.0, 2.0, 4.0], &mut out);
        assert_eq!(out, [1, 0]);
    }
}

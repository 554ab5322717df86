//! TRANSPOSE: permute the dimensions of a tensor (TFLite `reference_ops::Transpose`, up to 6-D).
//!
//! Output dimension `i` is input dimension `perm[i]`. The kernel walks the output in row-major
//! order and reads the input through the permuted strides.

use super::slice::strided_gather;

/// The most dimensions TFLite's TRANSPOSE accepts.
pub const MAX_RANK: usize = 6;

/// A transpose: the output shape and, per output dimension, the input's element stride.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransposeParams {
    /// Number of dimensions.
    pub rank: usize,
    /// Output shape (the first `rank` entries are used).
    pub out_shape: [usize; MAX_RANK],
    /// Element stride in the input of output dimension `i` (the stride of input dimension
    /// `perm[i]`).
    pub in_strides: [isize; MAX_RANK],
}

impl TransposeParams {
    /// The transpose of a tensor of `in_shape` by `perm` (a permutation of `0..rank`, already
    /// normalized to non-negative values); `None` if `perm` is not one or the rank is above
    /// [`MAX_RANK`].
    pub fn new(in_shape: &[usize], perm: &[usize]) -> Option<Self> {
        let rank = in_shape.len();
        if rank > MAX_RANK || perm.len() != rank {
            return None;
        }
        let mut seen = [false; MAX_RANK];
        let mut strides = [0isize; MAX_RANK];
        let mut s = 1usize;
        for d in (0..rank).rev() {
            strides[d] = s as isize;
            s *= in_shape[d];
        }
        let mut p = TransposeParams {
            rank,
            out_shape: [1; MAX_RANK],
            in_strides: [0; MAX_RANK],
        };
        for (i, &a) in perm.iter().enumerate() {
            if a >= rank || seen[a] {
                return None;
            }
            seen[a] = true;
            p.out_shape[i] = in_shape[a];
            p.in_strides[i] = strides[a];
        }
        Some(p)
    }

    /// Number of elements (of the input and of the output).
    pub fn elements(&self) -> usize {
        self.out_shape[..self.rank].iter().product()
    }
}

/// Transposes `input` into `output` (both with the element count of the shape).
pub fn transpose<T: Copy>(p: &TransposeParams, input: &[T], output: &mut [T]) {
    let mut shape = [1usize; super::slice::MAX_RANK];
    let mut strides = [0isize; super::slice::MAX_RANK];
    shape[..p.rank].copy_from_slice(&p.out_shape[..p.rank]);
    strides[..p.rank].copy_from_slice(&p.in_strides[..p.rank]);
    strided_gather(p.rank, &shape, 0, &strides, input, output);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_2d() {
        let input = [1, 2, 3, 4, 5, 6]; // 2x3
        let p = TransposeParams::new(&[2, 3], &[1, 0]).unwrap();
        let mut out = [0; 6];
        transpose(&p, &input, &mut out);
        assert_eq!(out, [1, 4, 2, 5, 3, 6]);
    }

    #[test]
    fn transpose_3d() {
        // [2, 2, 3] -> perm [2, 0, 1] -> [3, 2, 2]
        let input: [u8; 12] = core::array::from_fn(|i| i as u8);
        let p = TransposeParams::new(&[2, 2, 3], &[2, 0, 1]).unwrap();
        let mut out = [0u8; 12];
        transpose(&p, &input, &mut out);
        // out[c][a][b] = in[a][b][c] = 6a + 3b + c
        let want: [u8; 12] = core::array::from_fn(|i| {
            let (c, a, b) = (i / 4, (i / 2) % 2, i % 2);
            (6 * a + 3 * b + c) as u8
        });
        assert_eq!(out, want);
    }

    #[test]
    fn rejects_non_permutations() {
        assert!(TransposeParams::new(&[2, 3], &[0, 0]).is_none());
        assert!(TransposeParams::new(&[2, 3], &[0, 2]).is_none());
        assert!(TransposeParams::new(&[2, 3], &[0]).is_none());
    }
}

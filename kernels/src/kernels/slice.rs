//! SLICE and STRIDED_SLICE: copy a (strided) box of the input.
//!
//! Both ops reduce, at compile time, to one description: for every output index
//! `(i_0, …, i_{r-1})` (row-major), read the input element at
//! `offset + Σ i_d · stride_d`, where the strides are in elements and may be negative (a
//! STRIDED_SLICE with a negative step walks backwards). The compiler resolves TFLite's
//! begin/end/size operands, masks and clamping (`strided_slice_logic.h`) into `offset`, the
//! output shape and the strides; the kernel only walks.

/// The most dimensions a slice describes (TFLite's SLICE and STRIDED_SLICE stop at 5; TRANSPOSE,
/// which shares the walker, at 6).
pub const MAX_RANK: usize = 6;

/// A strided box of the input, in output order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceParams {
    /// Number of dimensions of the output walk (`0` for a single element).
    pub rank: usize,
    /// Output shape (the first `rank` entries are used).
    pub out_shape: [usize; MAX_RANK],
    /// Input element offset of output index `(0, …, 0)`.
    pub offset: usize,
    /// Input element step per unit of each output dimension.
    pub strides: [isize; MAX_RANK],
}

impl SliceParams {
    /// A box of `out_shape` starting at input index `start` and stepping `steps` (in indices of
    /// the input, which has `in_shape`); `None` when the ranks are above [`MAX_RANK`] or differ.
    ///
    /// The caller guarantees every index visited is inside the input.
    pub fn new(
        in_shape: &[usize],
        start: &[usize],
        steps: &[isize],
        out_shape: &[usize],
    ) -> Option<Self> {
        let rank = in_shape.len();
        if rank > MAX_RANK || start.len() != rank || steps.len() != rank || out_shape.len() != rank
        {
            return None;
        }
        let mut p = SliceParams {
            rank,
            out_shape: [1; MAX_RANK],
            offset: 0,
            strides: [0; MAX_RANK],
        };
        let mut elem_stride = 1usize;
        for d in (0..rank).rev() {
            p.out_shape[d] = out_shape[d];
            p.offset += start[d] * elem_stride;
            p.strides[d] = steps[d] * elem_stride as isize;
            elem_stride *= in_shape[d];
        }
        Some(p)
    }

    /// Number of output elements.
    pub fn out_len(&self) -> usize {
        self.out_shape[..self.rank].iter().product()
    }

    /// Whether every input index the walk visits is below `input_len` (so [`slice()`] stays inside
    /// an input of that length).
    pub fn fits(&self, input_len: usize) -> bool {
        if self.out_len() == 0 {
            return true;
        }
        let (mut lo, mut hi) = (self.offset as i128, self.offset as i128);
        for d in 0..self.rank {
            let reach = (self.out_shape[d] as i128 - 1) * self.strides[d] as i128;
            if reach < 0 {
                lo += reach;
            } else {
                hi += reach;
            }
        }
        lo >= 0 && hi < input_len as i128
    }
}

/// Walks `p` over `input`, writing `output` in row-major order.
///
/// `output.len()` must be [`SliceParams::out_len`] and every visited index inside `input`.
pub fn slice<T: Copy>(p: &SliceParams, input: &[T], output: &mut [T]) {
    strided_gather(p.rank, &p.out_shape, p.offset, &p.strides, input, output);
}

/// `output[i] = input[offset + Σ idx_d · strides_d]` for the row-major output index `idx` of
/// shape `shape[..rank]`. Shared by the data-movement kernels that are a strided view of their
/// input (slices, transposes).
pub(crate) fn strided_gather<T: Copy>(
    rank: usize,
    shape: &[usize; MAX_RANK],
    offset: usize,
    strides: &[isize; MAX_RANK],
    input: &[T],
    output: &mut [T],
) {
    if rank == 0 {
        if let Some(o) = output.first_mut() {
            *o = input[offset];
        }
        return;
    }
    let inner = shape[rank - 1];
    if inner == 0 {
        return;
    }
    let inner_stride = strides[rank - 1];
    let mut idx = [0usize; MAX_RANK];
    let mut base = offset as isize;
    for row in output.chunks_exact_mut(inner) {
        if inner_stride == 1 {
            let b = base as usize;
            row.copy_from_slice(&input[b..b + inner]);
        } else {
            let mut pos = base;
            for o in row.iter_mut() {
                *o = input[pos as usize];
                pos += inner_stride;
            }
        }
        // Advance the odometer over the outer dimensions.
        let mut d = rank - 1;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            base += strides[d];
            if idx[d] < shape[d] {
                break;
            }
            base -= strides[d] * idx[d] as isize;
            idx[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_box() {
        // 3x4 input, rows 1..3, columns 1..3.
        let input: [i32; 12] = [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23];
        let p = SliceParams::new(&[3, 4], &[1, 1], &[1, 1], &[2, 2]).unwrap();
        let mut out = [0; 4];
        slice(&p, &input, &mut out);
        assert_eq!(out, [11, 12, 21, 22]);
    }

    #[test]
    fn negative_and_large_strides() {
        let input: [i32; 12] = [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23];
        // Rows backwards from 2, every second column from 3 backwards.
        let p = SliceParams::new(&[3, 4], &[2, 3], &[-1, -2], &[3, 2]).unwrap();
        let mut out = [0; 6];
        slice(&p, &input, &mut out);
        assert_eq!(out, [23, 21, 13, 11, 3, 1]);
    }

    #[test]
    fn fits_checks_both_ends() {
        let p = SliceParams::new(&[3, 4], &[2, 3], &[-1, -2], &[3, 2]).unwrap();
        assert!(p.fits(12));
        assert!(!p.fits(11));
        // Walking backwards past index 0.
        let p = SliceParams::new(&[3, 4], &[0, 1], &[1, -1], &[1, 3]).unwrap();
        assert!(!p.fits(12));
        // An empty walk reads nothing.
        let p = SliceParams::new(&[3, 4], &[0, 0], &[1, 1], &[0, 3]).unwrap();
        assert!(p.fits(0));
    }

    #[test]
    fn scalar_walk() {
        let p = SliceParams::new(&[], &[], &[], &[]).unwrap();
        let mut out = [0u8; 1];
        slice(&p, &[7u8], &mut out);
        assert_eq!(out, [7]);
    }
}

//! PAD, PADV2 and MIRROR_PAD.
//!
//! - PAD / PADV2 follow TFLite's `reference_ops::Pad`: every output element whose index lies
//!   inside the input box (shifted by the leading paddings) is copied, every other one is the pad
//!   value (0.0 for float PAD, the output zero point for quantized PAD, PADV2's constant operand).
//!   TFLite accepts up to 5 dimensions.
//! - MIRROR_PAD follows TFLite's `mirror_pad.cc`: each padded index maps back into the input by
//!   reflecting at the border, excluding the border element (REFLECT) or including it
//!   (SYMMETRIC). The compiler checks the paddings fit (at most `dim − 1` for REFLECT, `dim` for
//!   SYMMETRIC), as TensorFlow requires.

/// The most dimensions PAD, PADV2 (TFLite's limit) and MIRROR_PAD (mvcc's) accept.
pub const MAX_RANK: usize = 6;

/// Shapes and leading paddings of a pad.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PadParams {
    /// Number of dimensions.
    pub rank: usize,
    /// Input shape (the first `rank` entries are used).
    pub in_shape: [usize; MAX_RANK],
    /// Output shape: `in_shape + before + after`.
    pub out_shape: [usize; MAX_RANK],
    /// Padding before each dimension.
    pub before: [usize; MAX_RANK],
}

impl PadParams {
    /// Parameters for `in_shape` padded by `(before, after)` per dimension; `None` above
    /// [`MAX_RANK`] or when the lengths differ.
    pub fn new(in_shape: &[usize], paddings: &[(usize, usize)]) -> Option<Self> {
        let rank = in_shape.len();
        if rank > MAX_RANK || paddings.len() != rank {
            return None;
        }
        let mut p = PadParams {
            rank,
            in_shape: [1; MAX_RANK],
            out_shape: [1; MAX_RANK],
            before: [0; MAX_RANK],
        };
        for d in 0..rank {
            p.in_shape[d] = in_shape[d];
            p.before[d] = paddings[d].0;
            p.out_shape[d] = in_shape[d] + paddings[d].0 + paddings[d].1;
        }
        Some(p)
    }

    /// Number of input elements.
    pub fn in_len(&self) -> usize {
        self.in_shape[..self.rank].iter().product()
    }

    /// Number of output elements.
    pub fn out_len(&self) -> usize {
        self.out_shape[..self.rank].iter().product()
    }
}

/// PAD / PADV2: copies `input` into the box of `output` at `p.before`, `pad_value` elsewhere.
pub fn pad<T: Copy>(p: &PadParams, input: &[T], pad_value: T, output: &mut [T]) {
    let rank = p.rank;
    if rank == 0 {
        output.copy_from_slice(input);
        return;
    }
    let inner_out = p.out_shape[rank - 1];
    let inner_in = p.in_shape[rank - 1];
    let lead = p.before[rank - 1];
    if inner_out == 0 {
        return;
    }
    // Odometer over the outer output dimensions; `inside` counts how many of them are in the
    // input box, `in_row` is the matching input row while all are.
    let mut idx = [0usize; MAX_RANK];
    // Input row strides (in rows of `inner_in` elements) of the outer dimensions.
    let mut in_strides = [0usize; MAX_RANK];
    let mut s = 1usize;
    for d in (0..rank - 1).rev() {
        in_strides[d] = s;
        s *= p.in_shape[d];
    }
    let in_box = |d: usize, i: usize| i >= p.before[d] && i < p.before[d] + p.in_shape[d];
    for row in output.chunks_exact_mut(inner_out) {
        let mut inside = true;
        let mut in_row = 0usize;
        for d in 0..rank - 1 {
            if !in_box(d, idx[d]) {
                inside = false;
                break;
            }
            in_row += (idx[d] - p.before[d]) * in_strides[d];
        }
        if inside {
            row[..lead].fill(pad_value);
            row[lead..lead + inner_in]
                .copy_from_slice(&input[in_row * inner_in..(in_row + 1) * inner_in]);
            row[lead + inner_in..].fill(pad_value);
        } else {
            row.fill(pad_value);
        }
        let mut d = rank - 1;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            if idx[d] < p.out_shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// MIRROR_PAD: the pad shapes and the mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MirrorPadParams {
    /// Shapes and leading paddings.
    pub pad: PadParams,
    /// 1 for REFLECT (the border element is not repeated), 0 for SYMMETRIC.
    pub offset: usize,
}

impl MirrorPadParams {
    /// Whether every padded index reflects into the input: in each dimension both paddings are
    /// at most `size − offset` (so [`mirror_pad`] stays inside the input).
    pub fn fits(&self) -> bool {
        let q = &self.pad;
        (0..q.rank).all(|d| {
            let limit = q.in_shape[d].saturating_sub(self.offset);
            let after = q.out_shape[d].checked_sub(q.in_shape[d] + q.before[d]);
            q.before[d] <= limit && after.is_some_and(|a| a <= limit)
        })
    }
}

/// Input index along one dimension for padded index `i` (TFLite's `GetInputDimension`, with the
/// paddings already checked to fit).
#[inline]
fn mirror_index(i: usize, before: usize, size: usize, offset: usize) -> usize {
    if i < before {
        // Mirror of the leading pad: before - 1 - i (symmetric) or before - i (reflect).
        before + offset - 1 - i
    } else if i - before >= size {
        let j = i - before - size;
        // Mirror of the trailing pad.
        size - 1 - offset - j
    } else {
        i - before
    }
}

/// MIRROR_PAD: every output element is the input element its index reflects to.
pub fn mirror_pad<T: Copy>(p: &MirrorPadParams, input: &[T], output: &mut [T]) {
    let q = &p.pad;
    let rank = q.rank;
    if rank == 0 {
        output.copy_from_slice(input);
        return;
    }
    let mut in_strides = [0usize; MAX_RANK];
    let mut s = 1usize;
    for d in (0..rank).rev() {
        in_strides[d] = s;
        s *= q.in_shape[d];
    }
    let mut idx = [0usize; MAX_RANK];
    for o in output.iter_mut() {
        let mut pos = 0usize;
        for d in 0..rank {
            pos += mirror_index(idx[d], q.before[d], q.in_shape[d], p.offset) * in_strides[d];
        }
        *o = input[pos];
        let mut d = rank;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            if idx[d] < q.out_shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_2d() {
        let input = [1, 2, 3, 4]; // 2x2
        let p = PadParams::new(&[2, 2], &[(1, 0), (0, 2)]).unwrap();
        let mut out = [7; 12];
        pad(&p, &input, 0, &mut out);
        assert_eq!(out, [0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0]);
    }

    #[test]
    fn pad_3d_every_dimension() {
        // [1,2,2] padded (1,0), (0,1), (1,1) -> [2,3,4].
        let p = PadParams::new(&[1, 2, 2], &[(1, 0), (0, 1), (1, 1)]).unwrap();
        let mut out = [9; 24];
        pad(&p, &[1, 2, 3, 4], 0, &mut out);
        #[rustfmt::skip]
        let want = [
            0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0,
            0, 1, 2, 0,  0, 3, 4, 0,  0, 0, 0, 0,
        ];
        assert_eq!(out, want);
    }

    #[test]
    fn pad_1d_with_value() {
        let p = PadParams::new(&[2], &[(2, 1)]).unwrap();
        let mut out = [0i8; 5];
        pad(&p, &[5i8, 6], -128, &mut out);
        assert_eq!(out, [-128, -128, 5, 6, -128]);
    }

    #[test]
    fn mirror_reflect_and_symmetric() {
        let input = [1, 2, 3];
        let pp = PadParams::new(&[3], &[(2, 2)]).unwrap();
        let mut out = [0; 7];
        mirror_pad(&MirrorPadParams { pad: pp, offset: 1 }, &input, &mut out);
        assert_eq!(out, [3, 2, 1, 2, 3, 2, 1]);
        mirror_pad(&MirrorPadParams { pad: pp, offset: 0 }, &input, &mut out);
        assert_eq!(out, [2, 1, 1, 2, 3, 3, 2]);
    }

    #[test]
    fn mirror_fits() {
        let pp = PadParams::new(&[3], &[(2, 2)]).unwrap();
        assert!(MirrorPadParams { pad: pp, offset: 1 }.fits());
        let pp = PadParams::new(&[3], &[(0, 3)]).unwrap();
        assert!(!MirrorPadParams { pad: pp, offset: 1 }.fits());
        assert!(MirrorPadParams { pad: pp, offset: 0 }.fits());
    }

    #[test]
    fn mirror_2d() {
        // [[1,2],[3,4]] symmetric by 1 everywhere.
        let pp = PadParams::new(&[2, 2], &[(1, 1), (1, 1)]).unwrap();
        let mut out = [0; 16];
        mirror_pad(
            &MirrorPadParams { pad: pp, offset: 0 },
            &[1, 2, 3, 4],
            &mut out,
        );
        assert_eq!(out, [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    }
}

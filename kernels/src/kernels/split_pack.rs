//! SPLIT, SPLIT_V, PACK and UNPACK (TFLite `reference_ops::Split`, `Pack`, `Unpack`).
//!
//! All four are a concatenation or its inverse. With `outer` the product of the dimensions before
//! the axis, the big tensor is `outer` rows, each the concatenation of one chunk per small tensor
//! (in operand or result order); a small tensor's chunk is its element count divided by `outer`.
//! SPLIT and SPLIT_V cut the input along an existing axis, UNPACK along an axis it then drops;
//! PACK stacks its inputs along a new axis.

/// Parameters shared by the four ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitParams {
    /// Product of the big tensor's dimensions before the axis (1 for axis 0).
    pub outer: usize,
}

impl SplitParams {
    /// Whether small tensors of `small_lens` elements (the results of a split, the operands of a
    /// pack) make up a big tensor of `big_len` elements.
    pub fn fits(&self, small_lens: impl IntoIterator<Item = usize>, big_len: usize) -> bool {
        super::concatenation::chunks_fit(self.outer, small_lens, big_len)
    }
}

/// SPLIT / SPLIT_V / UNPACK: deals `input` out to `outputs` (each a multiple of `p.outer` long,
/// together as long as the input).
pub fn split<T: Copy>(p: &SplitParams, input: &[T], outputs: &mut [&mut [T]]) {
    if p.outer == 0 {
        return;
    }
    let mut pos = 0;
    for k in 0..p.outer {
        for out in outputs.iter_mut() {
            let n = out.len() / p.outer;
            out[k * n..(k + 1) * n].copy_from_slice(&input[pos..pos + n]);
            pos += n;
        }
    }
}

/// PACK: interleaves `inputs` (all of one length, a multiple of `p.outer`) into `output`.
pub fn pack<T: Copy>(p: &SplitParams, inputs: &[&[T]], output: &mut [T]) {
    if p.outer == 0 {
        return;
    }
    let mut pos = 0;
    for k in 0..p.outer {
        for input in inputs {
            let n = input.len() / p.outer;
            output[pos..pos + n].copy_from_slice(&input[k * n..(k + 1) * n]);
            pos += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_inner_axis() {
        // [2,3] split along axis 1 into sizes 1 and 2.
        let input = [1, 2, 3, 4, 5, 6];
        let mut a = [0; 2];
        let mut b = [0; 4];
        split(&SplitParams { outer: 2 }, &input, &mut [&mut a, &mut b]);
        assert_eq!(a, [1, 4]);
        assert_eq!(b, [2, 3, 5, 6]);
    }

    #[test]
    fn pack_then_unpack() {
        // Pack two [3] along axis 1 -> [3,2].
        let x = [1, 2, 3];
        let y = [4, 5, 6];
        let mut packed = [0; 6];
        pack(&SplitParams { outer: 3 }, &[&x, &y], &mut packed);
        assert_eq!(packed, [1, 4, 2, 5, 3, 6]);
        let (mut u, mut v) = ([0; 3], [0; 3]);
        split(&SplitParams { outer: 3 }, &packed, &mut [&mut u, &mut v]);
        assert_eq!((u, v), (x, y));
    }
}

//! DEPTH_TO_SPACE and SPACE_TO_DEPTH on NHWC tensors (TFLite `reference_ops::DepthToSpace`,
//! `SpaceToDepth`; TensorFlow's default "DCR" channel order).
//!
//! With block size `s`, depth-to-space moves channel block `(by, bx)` of input pixel `(h, w)` to
//! output pixel `(h·s + by, w·s + bx)`:
//! `out[b][h·s + by][w·s + bx][c] = in[b][h][w][(by·s + bx)·C_out + c]`.
//! Space-to-depth is its inverse.

/// Shapes of a depth-to-space or space-to-depth, described on the *spatially small* side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockParams {
    /// Batch size.
    pub batches: usize,
    /// Height of the small (deep) tensor.
    pub height: usize,
    /// Width of the small (deep) tensor.
    pub width: usize,
    /// Channels of the large (shallow) tensor.
    pub channels: usize,
    /// Block size.
    pub block: usize,
}

impl BlockParams {
    /// Number of elements (of either side).
    pub fn elements(&self) -> usize {
        self.batches * self.height * self.width * self.channels * self.block * self.block
    }
}

/// Calls `f(deep_index, shallow_index)` for every element pair the two ops exchange.
#[inline]
fn for_each_pair(p: &BlockParams, mut f: impl FnMut(usize, usize)) {
    let s = p.block;
    let (h, w, c) = (p.height, p.width, p.channels);
    let deep_c = c * s * s;
    for b in 0..p.batches {
        for y in 0..h {
            for x in 0..w {
                for by in 0..s {
                    for bx in 0..s {
                        let deep = ((b * h + y) * w + x) * deep_c + (by * s + bx) * c;
                        let shallow = ((b * h * s + y * s + by) * w * s + x * s + bx) * c;
                        for ch in 0..c {
                            f(deep + ch, shallow + ch);
                        }
                    }
                }
            }
        }
    }
}

/// DEPTH_TO_SPACE: `input` is `[batches, height, width, channels·block²]`, `output`
/// `[batches, height·block, width·block, channels]`.
pub fn depth_to_space<T: Copy>(p: &BlockParams, input: &[T], output: &mut [T]) {
    for_each_pair(p, |deep, shallow| output[shallow] = input[deep]);
}

/// SPACE_TO_DEPTH: `input` is `[batches, height·block, width·block, channels]`, `output`
/// `[batches, height, width, channels·block²]`.
pub fn space_to_depth<T: Copy>(p: &BlockParams, input: &[T], output: &mut [T]) {
    for_each_pair(p, |deep, shallow| output[deep] = input[shallow]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_to_space_2x2() {
        // [1,1,1,4] -> [1,2,2,1].
        let p = BlockParams {
            batches: 1,
            height: 1,
            width: 1,
            channels: 1,
            block: 2,
        };
        let mut out = [0; 4];
        depth_to_space(&p, &[1, 2, 3, 4], &mut out);
        assert_eq!(out, [1, 2, 3, 4]);
    }

    #[test]
    fn depth_to_space_two_channels_round_trip() {
        // [1,1,2,8] -> [1,2,4,2] and back.
        let p = BlockParams {
            batches: 1,
            height: 1,
            width: 2,
            channels: 2,
            block: 2,
        };
        let input: [u16; 16] = core::array::from_fn(|i| i as u16);
        let mut shallow = [0u16; 16];
        depth_to_space(&p, &input, &mut shallow);
        // Row 0: pixel (0,0) <- in[0][0] block (0,0) = [0,1]; (0,1) <- block (0,1) = [2,3];
        // (0,2) <- in[0][1] block (0,0) = [8,9]; (0,3) <- [10,11]. Row 1: blocks (1,·).
        assert_eq!(
            shallow,
            [0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15]
        );
        let mut back = [0u16; 16];
        space_to_depth(&p, &shallow, &mut back);
        assert_eq!(back, input);
    }
}

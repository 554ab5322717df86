//! CONCATENATION along one axis (TFLite `reference_ops::Concatenation` and, for uint8 inputs whose
//! scale or zero point differ from the output's, `reference_ops::ConcatenationWithScaling`).
//!
//! With `outer` the product of the output dimensions before the axis, every input is `outer`
//! contiguous chunks; the output interleaves them: chunk 0 of every input in operand order, then
//! chunk 1, and so on. A chunk's length is the input's element count divided by `outer`, so the
//! parameters do not depend on the number of inputs.

use super::common::ActF32;

/// Parameters of a concatenation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConcatParams {
    /// Product of the output dimensions before the axis (1 for axis 0).
    pub outer: usize,
}

impl ConcatParams {
    /// Whether inputs of `input_lens` elements concatenate into an output of `output_len`: each a
    /// whole number of chunks, together as long as the output.
    pub fn fits(&self, input_lens: impl IntoIterator<Item = usize>, output_len: usize) -> bool {
        chunks_fit(self.outer, input_lens, output_len)
    }
}

/// Whether `small` lengths are each `outer` equal chunks adding up to `big` (all empty when
/// `outer` is 0). Shared with SPLIT and PACK.
pub fn chunks_fit(outer: usize, small: impl IntoIterator<Item = usize>, big: usize) -> bool {
    let mut sum = 0usize;
    for n in small {
        if (outer == 0 && n != 0) || (outer != 0 && n % outer != 0) {
            return false;
        }
        sum = match sum.checked_add(n) {
            Some(s) => s,
            None => return false,
        };
    }
    sum == big
}

/// How ConcatenationWithScaling maps one uint8 input to the output's quantization: either a plain
/// copy (same scale and zero point) or `round(q · scale + bias) + output_zero_point`, all in
/// `f32`, clamped to `[0, 255]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConcatRescale {
    /// Scale and zero point equal the output's: copy the bytes.
    pub identity: bool,
    /// `input_scale · (1 / output_scale)`, computed in `f32`.
    pub scale: f32,
    /// `-input_zero_point · scale`, in `f32`.
    pub bias: f32,
    /// The output's zero point.
    pub output_zero_point: i32,
}

impl ConcatRescale {
    /// TFLite's per-input constants for `(input_scale, input_zero_point)` into
    /// `(output_scale, output_zero_point)`.
    pub fn new(
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
    ) -> Self {
        let identity = input_zero_point == output_zero_point && input_scale == output_scale;
        let inverse_output_scale = 1.0f32 / output_scale;
        let scale = input_scale * inverse_output_scale;
        let bias = -(input_zero_point as f32) * scale;
        ConcatRescale {
            identity,
            scale,
            bias,
            output_zero_point,
        }
    }

    #[inline]
    fn apply(&self, q: u8) -> u8 {
        // Saturating: a huge scale ratio must not overflow (same result whenever it does not).
        let v = (libm::roundf(f32::from(q) * self.scale + self.bias) as i32)
            .saturating_add(self.output_zero_point);
        v.clamp(0, 255) as u8
    }
}

/// Concatenates `inputs` (in operand order) into `output`. Every input's length must be a multiple
/// of `p.outer` and their lengths must add up to `output.len()`.
pub fn concatenation<T: Copy>(p: &ConcatParams, inputs: &[&[T]], output: &mut [T]) {
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

/// [`concatenation`] for float, then TFLite's float activation clamp (`act`).
pub fn concatenation_f32(p: &ConcatParams, inputs: &[&[f32]], act: ActF32, output: &mut [f32]) {
    concatenation(p, inputs, output);
    if act != ActF32::NONE {
        for v in output.iter_mut() {
            *v = act.apply(*v);
        }
    }
}

/// TFLite's `ConcatenationWithScaling` for uint8: each input is copied or rescaled to the output's
/// quantization by its [`ConcatRescale`].
pub fn concatenation_with_scaling_u8(
    p: &ConcatParams,
    inputs: &[(&[u8], ConcatRescale)],
    output: &mut [u8],
) {
    if p.outer == 0 {
        return;
    }
    let mut pos = 0;
    for k in 0..p.outer {
        for (input, r) in inputs {
            let n = input.len() / p.outer;
            let src = &input[k * n..(k + 1) * n];
            let dst = &mut output[pos..pos + n];
            if r.identity {
                dst.copy_from_slice(src);
            } else {
                for (o, &q) in dst.iter_mut().zip(src) {
                    *o = r.apply(q);
                }
            }
            pos += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_inner_axis() {
        // [2,2] ++ [2,1] along axis 1.
        let a = [1, 2, 3, 4];
        let b = [9, 8];
        let mut out = [0; 6];
        concatenation(&ConcatParams { outer: 2 }, &[&a, &b], &mut out);
        assert_eq!(out, [1, 2, 9, 3, 4, 8]);
    }

    #[test]
    fn fits() {
        let p = ConcatParams { outer: 2 };
        assert!(p.fits([4, 2], 6));
        assert!(!p.fits([4, 3], 7));
        assert!(!p.fits([4, 2], 8));
        assert!(ConcatParams { outer: 0 }.fits([0, 0], 0));
        assert!(!ConcatParams { outer: 0 }.fits([1], 1));
    }

    #[test]
    fn concat_axis0() {
        let a = [1, 2];
        let b = [3, 4, 5, 6];
        let mut out = [0; 6];
        concatenation(&ConcatParams { outer: 1 }, &[&a, &b], &mut out);
        assert_eq!(out, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn rescale_u8() {
        // Input scale 0.5 zp 10 into output scale 0.25 zp 3: q -> round(2q - 20) + 3.
        let r = ConcatRescale::new(0.5, 10, 0.25, 3);
        assert!(!r.identity);
        let a = [10u8, 11, 0, 255];
        let b = [7u8];
        let id = ConcatRescale::new(0.25, 3, 0.25, 3);
        let mut out = [0u8; 5];
        concatenation_with_scaling_u8(&ConcatParams { outer: 1 }, &[(&a, r), (&b, id)], &mut out);
        assert_eq!(out, [3, 5, 0, 255, 7]);
    }

    #[test]
    fn float_activation() {
        let a = [-1.0f32, 7.0];
        let mut out = [0.0f32; 2];
        concatenation_f32(
            &ConcatParams { outer: 1 },
            &[&a],
            ActF32 { min: 0.0, max: 6.0 },
            &mut out,
        );
        assert_eq!(out, [0.0, 6.0]);
    }
}

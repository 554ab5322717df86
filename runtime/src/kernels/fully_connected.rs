//! FULLY_CONNECTED: `out[b][n] = act(Σ_k in[b][k] · w[n][k] + bias[n])`, following TFLite's
//! `reference_ops::FullyConnected` (float, uint8) and `reference_integer_ops::FullyConnected` /
//! `FullyConnectedPerChannel` (int8).
//!
//! The input is read as `[batches, depth]` (any leading shape flattened), the weights as
//! `[units, depth]` in TFLite's default (not shuffled) format.
//!
//! # Rescaling of the quantized kernels
//!
//! Unlike the convolutions, the quantized *reference* FULLY_CONNECTED of LiteRT (checked on
//! `ai-edge-litert` 2.3.0: int8 per-tensor, int8 per-channel and uint8) does not use the
//! fixed-point multiplier: it rescales the `i32` accumulator in double precision,
//! `round(f64(acc) · (f64(S_in) · f64(S_w) / f64(S_out)))`, rounding half away from zero. The
//! effective scales are compile-time constants, one `f64` per unit. The optimized kernels (ruy,
//! XNNPACK) use fixed point instead and differ by one in rare cases.

use super::common::{ActF32, ActQ, Quantized};

/// Parameters of FULLY_CONNECTED.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FullyConnectedParams {
    /// Rows of the flattened input (`num_elements / depth`).
    pub batches: usize,
    /// Inner dimension (`weights.shape[1]`).
    pub depth: usize,
    /// Output units (`weights.shape[0]`).
    pub units: usize,
}

/// Zero-point offsets and clamp of a quantized FULLY_CONNECTED.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FullyConnectedQuant {
    /// `−Z_in`.
    pub input_offset: i32,
    /// `−Z_w` for per-tensor weights; 0 for per-channel weights (TFLite ignores their zero point).
    pub filter_offset: i32,
    /// `Z_out`.
    pub output_offset: i32,
    /// The fused activation as a clamp in the output's integer domain.
    pub act: ActQ,
}

/// Float FULLY_CONNECTED: the dot product summed in order of `k`, then the bias.
pub fn fully_connected_f32(
    p: &FullyConnectedParams,
    act: ActF32,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    let d = p.depth;
    for b in 0..p.batches {
        let x = &input[b * d..(b + 1) * d];
        for n in 0..p.units {
            let w = &weights[n * d..(n + 1) * d];
            let mut total = 0.0f32;
            for (xv, wv) in x.iter().zip(w) {
                total += xv * wv;
            }
            let bias_value = bias.map_or(0.0, |bv| bv[n]);
            output[b * p.units + n] = act.apply(total + bias_value);
        }
    }
}

/// Quantized FULLY_CONNECTED (int8 per-tensor or per-channel, uint8):
/// `acc = Σ (w + filter_offset)·(x + input_offset) + bias[n]` in wrapping `i32`, then
/// `round(f64(acc) · scale[n]) + output_offset`, clamped. `scale` has one effective scale
/// `S_in · S_w[n] / S_out` per unit.
pub fn fully_connected_q<T: Quantized, W: Quantized>(
    p: &FullyConnectedParams,
    q: &FullyConnectedQuant,
    scale: &[f64],
    input: &[T],
    weights: &[W],
    bias: Option<&[i32]>,
    output: &mut [T],
) {
    let d = p.depth;
    for b in 0..p.batches {
        let x = &input[b * d..(b + 1) * d];
        for n in 0..p.units {
            let w = &weights[n * d..(n + 1) * d];
            let mut acc: i32 = 0;
            for (xv, wv) in x.iter().zip(w) {
                let xv = xv.to_i32().wrapping_add(q.input_offset);
                let wv = wv.to_i32().wrapping_add(q.filter_offset);
                acc = acc.wrapping_add(wv.wrapping_mul(xv));
            }
            if let Some(bv) = bias {
                acc = acc.wrapping_add(bv[n]);
            }
            // `as i32` saturates; C's cast of an out-of-range double is undefined.
            let scaled = libm::round(f64::from(acc) * scale[n]) as i32;
            let v = scaled.wrapping_add(q.output_offset);
            output[b * p.units + n] = T::from_i32_saturating(q.act.apply(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_two_batches() {
        let p = FullyConnectedParams {
            batches: 2,
            depth: 3,
            units: 2,
        };
        let input = [1.0f32, 2.0, 3.0, -1.0, 0.0, 1.0];
        let weights = [1.0f32, 1.0, 1.0, 0.0, 1.0, -1.0];
        let mut out = [0.0f32; 4];
        fully_connected_f32(
            &p,
            ActF32 {
                min: 0.0,
                max: f32::INFINITY,
            },
            &input,
            &weights,
            Some(&[1.0, 0.0]),
            &mut out,
        );
        assert_eq!(out, [7.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn quantized_rounds_half_away_from_zero() {
        let p = FullyConnectedParams {
            batches: 1,
            depth: 2,
            units: 3,
        };
        let q = FullyConnectedQuant {
            input_offset: 0,
            filter_offset: 0,
            output_offset: 1,
            act: ActQ {
                min: -128,
                max: 127,
            },
        };
        let input: [i8; 2] = [3, 4];
        let weights: [i8; 6] = [1, 0, -1, 0, 10, 10];
        let mut out = [0i8; 3];
        fully_connected_q(&p, &q, &[0.5, 0.5, 2.0], &input, &weights, None, &mut out);
        // 3·0.5 = 1.5 → 2; −3·0.5 = −1.5 → −2; 70·2 = 140 → clamp
        assert_eq!(out, [3, -1, 127]);
    }

    #[test]
    fn uint8_offsets() {
        let p = FullyConnectedParams {
            batches: 1,
            depth: 2,
            units: 1,
        };
        let q = FullyConnectedQuant {
            input_offset: -128,
            filter_offset: -128,
            output_offset: 128,
            act: ActQ { min: 0, max: 255 },
        };
        let mut out = [0u8; 1];
        fully_connected_q(
            &p,
            &q,
            &[0.25],
            &[130u8, 124],
            &[138u8, 118],
            Some(&[4]),
            &mut out,
        );
        // 10·2 + (−10)(−4) + 4 = 64 → 16 → 144
        assert_eq!(out, [144]);
    }
}

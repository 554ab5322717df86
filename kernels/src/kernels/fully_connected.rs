//! FULLY_CONNECTED: `out[b][n] = act(Σ_k in[b][k] · w[n][k] + bias[n])`, following TFLite's
//! `reference_ops::FullyConnected` (float, uint8) and `reference_integer_ops::FullyConnected` /
//! `FullyConnectedPerChannel` (int8).
//!
//! The input is read as `[batches, depth]` (any leading shape flattened), the weights as
//! `[units, depth]` in TFLite's default (not shuffled) format.
//!
//! The `*_packed` kernels read constant weights pre-packed as `[ceil(units/16)][depth][16]` (see
//! [`super::conv_2d`], "Pre-packed weights") and, quantized, a folded bias.
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
use super::conv_2d::blocked_index;

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

/// Float FULLY_CONNECTED on pre-packed weights: as [`fully_connected_f32`] (same summation
/// order), with the weights in the blocked layout ([`super::conv_2d::pack_rows_blocked`] of
/// `[units][depth]`: `[ceil(units/16)][depth][16]`) and a bias always present.
pub fn fully_connected_f32_packed(
    p: &FullyConnectedParams,
    act: ActF32,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    output: &mut [f32],
) {
    let d = p.depth;
    for b in 0..p.batches {
        let x = &input[b * d..(b + 1) * d];
        for n in 0..p.units {
            let mut total = 0.0f32;
            for (k, xv) in x.iter().enumerate() {
                total += xv * weights[blocked_index(n, k, d)];
            }
            output[b * p.units + n] = act.apply(total + bias[n]);
        }
    }
}

/// Quantized FULLY_CONNECTED on pre-packed weights with the zero-point corrections folded into
/// the bias ([`super::conv_2d::fold_bias`] over `depth`): `acc = Σ w·x + filter_offset·Σ x +
/// bias'[n]`, then rescaled as [`fully_connected_q`] does; bit-identical to it. `weights` are in
/// the blocked layout of [`fully_connected_f32_packed`], `bias` holds the `units` folded biases.
pub fn fully_connected_q_packed<T: Quantized, W: Quantized>(
    p: &FullyConnectedParams,
    q: &FullyConnectedQuant,
    scale: &[f64],
    input: &[T],
    weights: &[W],
    bias: &[i32],
    output: &mut [T],
) {
    let d = p.depth;
    for b in 0..p.batches {
        let x = &input[b * d..(b + 1) * d];
        let mut x_sum: i32 = 0;
        if q.filter_offset != 0 {
            for xv in x {
                x_sum = x_sum.wrapping_add(xv.to_i32());
            }
        }
        let x_term = q.filter_offset.wrapping_mul(x_sum);
        for n in 0..p.units {
            let mut acc: i32 = bias[n].wrapping_add(x_term);
            for (k, xv) in x.iter().enumerate() {
                let wv = weights[blocked_index(n, k, d)].to_i32();
                acc = acc.wrapping_add(wv.wrapping_mul(xv.to_i32()));
            }
            let scaled = libm::round(f64::from(acc) * scale[n]) as i32;
            let v = scaled.wrapping_add(q.output_offset);
            output[b * p.units + n] = T::from_i32_saturating(q.act.apply(v));
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::kernels::conv_2d::tests::{random_bias, random_vec, Rng};
    use crate::kernels::conv_2d::{blocked_len, fold_bias, pack_rows_blocked};
    use std::vec;
    use std::vec::Vec;

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

    fn check_folded<T: Quantized>(seed: u64, uint8: bool) {
        let mut rng = Rng(seed);
        for _ in 0..40 {
            let p = FullyConnectedParams {
                batches: rng.range(1, 3) as usize,
                depth: rng.range(1, 40) as usize,
                units: rng.range(1, 40) as usize,
            };
            let q = FullyConnectedQuant {
                input_offset: -rng.range(T::MIN, T::MAX),
                filter_offset: if uint8 { -rng.range(0, 255) } else { 0 },
                output_offset: rng.range(T::MIN, T::MAX),
                act: ActQ {
                    min: T::MIN,
                    max: T::MAX,
                },
            };
            let input = random_vec::<T>(&mut rng, p.batches * p.depth);
            let weights = random_vec::<T>(&mut rng, p.units * p.depth);
            let scale: Vec<f64> = (0..p.units)
                .map(|_| rng.range(1, 1000) as f64 * 1e-6)
                .collect();
            let bias = random_bias(&mut rng, p.units);
            let bias = (rng.range(0, 1) == 1).then_some(&bias[..]);
            let mut want = vec![T::default(); p.batches * p.units];
            fully_connected_q(&p, &q, &scale, &input, &weights, bias, &mut want);
            let mut packed = vec![T::default(); blocked_len(p.units, p.depth)];
            pack_rows_blocked(p.units, p.depth, &weights, &mut packed);
            let mut folded = vec![0i32; p.units];
            let w = |c: usize, i: usize| weights[c * p.depth + i].to_i32();
            fold_bias(
                p.units,
                p.depth,
                q.input_offset,
                q.filter_offset,
                w,
                bias,
                &mut folded,
            );
            let mut got = vec![T::default(); p.batches * p.units];
            fully_connected_q_packed(&p, &q, &scale, &input, &packed, &folded, &mut got);
            assert_eq!(got, want, "{p:?} {q:?}");
            let xf: Vec<f32> = input.iter().map(|v| v.to_i32() as f32 / 16.0).collect();
            let wf: Vec<f32> = weights.iter().map(|v| v.to_i32() as f32 / 32.0).collect();
            let bf: Vec<f32> = (0..p.units).map(|c| c as f32 - 3.5).collect();
            let mut want = vec![0.0f32; p.batches * p.units];
            fully_connected_f32(&p, ActF32::NONE, &xf, &wf, Some(&bf), &mut want);
            let mut packed = vec![0.0f32; blocked_len(p.units, p.depth)];
            pack_rows_blocked(p.units, p.depth, &wf, &mut packed);
            let mut got = vec![0.0f32; p.batches * p.units];
            fully_connected_f32_packed(&p, ActF32::NONE, &xf, &packed, &bf, &mut got);
            assert_eq!(got, want);
        }
    }

    #[test]
    fn folded_bias_matches_the_reference_int8() {
        check_folded::<i8>(0x5eed, false);
    }

    #[test]
    fn folded_bias_matches_the_reference_uint8() {
        check_folded::<u8>(0xd00d, true);
    }
}

//! Tests of the CONV_2D kernels: the reference against hand-computed values, the packed kernels,
//! explicit padding and the residual epilogue against the reference (also used by the
//! DEPTHWISE_CONV_2D tests).

extern crate std;

use super::*;
use std::vec;
use std::vec::Vec;

fn geom(
    in_hw: [usize; 2],
    in_c: usize,
    out_hw: [usize; 2],
    out_c: usize,
    f: [usize; 2],
) -> ConvGeometry {
    ConvGeometry {
        batches: 1,
        in_h: in_hw[0],
        in_w: in_hw[1],
        in_c,
        out_h: out_hw[0],
        out_w: out_hw[1],
        out_c,
        filter_h: f[0],
        filter_w: f[1],
        stride: [1, 1],
        dilation: [1, 1],
        pad: [0, 0],
    }
}

#[test]
fn float_3x3_same_padding() {
    // 3x3 input of ones, 3x3 filter of ones, SAME: each output counts the taps inside.
    let mut g = geom([3, 3], 1, [3, 3], 1, [3, 3]);
    g.pad = [1, 1];
    let p = Conv2dParams { geom: g, groups: 1 };
    let input = [1.0f32; 9];
    let filter = [1.0f32; 9];
    let mut out = [0.0f32; 9];
    conv_2d_f32(&p, ActF32::NONE, &input, &filter, Some(&[0.5]), &mut out);
    assert_eq!(out, [4.5, 6.5, 4.5, 6.5, 9.5, 6.5, 4.5, 6.5, 4.5]);
    // RELU6 clamps the centre.
    conv_2d_f32(
        &p,
        ActF32 { min: 0.0, max: 6.0 },
        &input,
        &filter,
        Some(&[0.5]),
        &mut out,
    );
    assert_eq!(out, [4.5, 6.0, 4.5, 6.0, 6.0, 6.0, 4.5, 6.0, 4.5]);
}

#[test]
fn float_stride_dilation_and_channels() {
    // 1x5 input with 2 channels, 1x2 filter dilated by 2, stride 2: taps x and x+2.
    let mut g = geom([1, 5], 2, [1, 2], 1, [1, 2]);
    g.stride = [1, 2];
    g.dilation = [1, 2];
    let p = Conv2dParams { geom: g, groups: 1 };
    // channel 0 = position, channel 1 = 10·position
    let input: [f32; 10] = [0.0, 0.0, 1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0];
    // tap 0 weights (1, 0), tap 1 weights (0, 1)
    let filter = [1.0f32, 0.0, 0.0, 1.0];
    let mut out = [0.0f32; 2];
    conv_2d_f32(&p, ActF32::NONE, &input, &filter, None, &mut out);
    // out0 = x0[c0] + x2[c1] = 0 + 20; out1 = x2[c0] + x4[c1] = 2 + 40
    assert_eq!(out, [20.0, 42.0]);
}

#[test]
fn float_groups() {
    // 1x1 spatial, 4 input channels in 2 groups, 2 output channels.
    let g = geom([1, 1], 4, [1, 1], 2, [1, 1]);
    let p = Conv2dParams { geom: g, groups: 2 };
    let input = [1.0f32, 2.0, 3.0, 4.0];
    let filter = [1.0f32, 1.0, 1.0, -1.0];
    let mut out = [0.0f32; 2];
    conv_2d_f32(&p, ActF32::NONE, &input, &filter, None, &mut out);
    assert_eq!(out, [3.0, -1.0]);
}

#[test]
fn int8_per_channel_requantizes_and_clamps() {
    let g = geom([1, 2], 2, [1, 2], 2, [1, 1]);
    let p = Conv2dParams { geom: g, groups: 1 };
    // Z_in = -1 → input_offset = 1.
    let q = ConvQuant {
        input_offset: 1,
        filter_offset: 0,
        output_offset: 3,
        act: ActQ {
            min: -128,
            max: 127,
        },
    };
    // channel 0: M = 0.5; channel 1: M = 2.
    let requant = [
        Requant {
            multiplier: 1 << 30,
            shift: 0,
        },
        Requant {
            multiplier: 1 << 30,
            shift: 2,
        },
    ];
    let input: [i8; 4] = [9, -1, 99, 19];
    let filter: [i8; 4] = [1, 2, -1, 1];
    let bias = [1i32, -2];
    let mut out = [0i8; 4];
    conv_2d_q(&p, &q, &requant, &input, &filter, Some(&bias), &mut out);
    // pixel 0: x+1 = (10, 0): oc0 acc = 10 + 1 = 11 → 5.5 → 6 (+3 = 9); oc1 = -10 - 2 = -12 → -24 + 3
    // pixel 1: x+1 = (100, 20): oc0 = 140 + 1 = 141 → 70.5 → 71 + 3 = 74; oc1 = -80 - 2 → -164 → clamp
    assert_eq!(out, [9, -21, 74, -128]);
}

#[test]
fn uint8_uses_filter_offset() {
    let g = geom([1, 1], 2, [1, 1], 1, [1, 1]);
    let p = Conv2dParams { geom: g, groups: 1 };
    let q = ConvQuant {
        input_offset: -128,
        filter_offset: -100,
        output_offset: 128,
        act: ActQ { min: 0, max: 255 },
    };
    let requant = [Requant {
        multiplier: 1 << 30,
        shift: 0,
    }];
    let input: [u8; 2] = [138, 118];
    let filter: [u8; 2] = [110, 90];
    let mut out = [0u8; 1];
    conv_2d_q(&p, &q, &requant, &input, &filter, None, &mut out);
    // (10)(10) + (-10)(-10) = 200 → 100 → 228
    assert_eq!(out, [228]);
}

/// A small deterministic generator for the folding tests (xorshift64*).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: i32, hi: i32) -> i32 {
        let span = (i64::from(hi) - i64::from(lo) + 1) as u64;
        (i64::from(lo) + (self.next() % span) as i64) as i32
    }
}

/// Random geometries with padding on every side, strides, dilations and partial channel
/// blocks: `(geometry, groups)`.
pub(crate) fn random_geometries(
    rng: &mut Rng,
    grouped: bool,
) -> impl Iterator<Item = (ConvGeometry, usize)> + '_ {
    (0..40).map(move |_| {
        let groups = if grouped { rng.range(1, 2) as usize } else { 1 };
        let in_c = groups * rng.range(1, 5) as usize;
        let out_c = groups * rng.range(1, 19) as usize;
        let f = [rng.range(1, 3) as usize, rng.range(1, 3) as usize];
        let stride = [rng.range(1, 2) as usize, rng.range(1, 2) as usize];
        let dilation = [rng.range(1, 2) as usize, rng.range(1, 2) as usize];
        let in_hw = [rng.range(1, 6) as usize, rng.range(1, 6) as usize];
        let mut out = [0; 2];
        let mut pad = [0; 2];
        for a in 0..2 {
            let eff = (f[a] - 1) * dilation[a] + 1;
            pad[a] = rng.range(0, eff as i32 - 1) as usize;
            let after = rng.range(0, eff as i32 - 1) as usize;
            out[a] = (in_hw[a] + pad[a] + after).saturating_sub(eff) / stride[a] + 1;
        }
        let g = ConvGeometry {
            batches: rng.range(1, 2) as usize,
            in_h: in_hw[0],
            in_w: in_hw[1],
            in_c,
            out_h: out[0],
            out_w: out[1],
            out_c,
            filter_h: f[0],
            filter_w: f[1],
            stride,
            dilation,
            pad,
        };
        (g, groups)
    })
}

/// Random quantization: zero points across the type's range, extreme biases (the folded
/// arithmetic must wrap exactly as the accumulator does).
pub(crate) fn random_quant<T: Quantized>(rng: &mut Rng, uint8: bool) -> ConvQuant {
    ConvQuant {
        input_offset: -rng.range(T::MIN, T::MAX),
        filter_offset: if uint8 { -rng.range(0, 255) } else { 0 },
        output_offset: rng.range(T::MIN, T::MAX),
        act: ActQ {
            min: T::MIN,
            max: T::MAX,
        },
    }
}

pub(crate) fn random_vec<T: Quantized>(rng: &mut Rng, n: usize) -> Vec<T> {
    (0..n)
        .map(|_| T::from_i32_saturating(rng.range(T::MIN, T::MAX)))
        .collect()
}

pub(crate) fn random_bias(rng: &mut Rng, n: usize) -> Vec<i32> {
    (0..n)
        .map(|_| match rng.range(0, 5) {
            0 => i32::MAX - rng.range(0, 1000),
            1 => i32::MIN + rng.range(0, 1000),
            _ => rng.range(-100_000, 100_000),
        })
        .collect()
}

pub(crate) fn random_requant(rng: &mut Rng, n: usize) -> Vec<Requant> {
    (0..n)
        .map(|_| Requant {
            multiplier: rng.range(1 << 30, i32::MAX),
            shift: rng.range(-12, 0),
        })
        .collect()
}

fn check_folded<T: Quantized>(seed: u64, uint8: bool) {
    let mut rng = Rng(seed);
    let cases: Vec<_> = random_geometries(&mut Rng(seed ^ 0x9e37), true).collect();
    for (g, groups) in cases {
        let p = Conv2dParams { geom: g, groups };
        let q = random_quant::<T>(&mut rng, uint8);
        let input = random_vec::<T>(&mut rng, g.input_len());
        let filter = random_vec::<T>(&mut rng, p.filter_len());
        let requant = random_requant(&mut rng, g.out_c);
        let with_bias = rng.range(0, 1) == 1;
        let bias = random_bias(&mut rng, g.out_c);
        let bias = with_bias.then_some(&bias[..]);
        let mut want = vec![T::default(); g.output_len()];
        conv_2d_q(&p, &q, &requant, &input, &filter, bias, &mut want);
        let k = p.filter_len() / g.out_c;
        let mut packed = vec![T::default(); blocked_len(g.out_c, k)];
        pack_rows_blocked(g.out_c, k, &filter, &mut packed);
        let mut folded = vec![0i32; g.out_c];
        let w = |c: usize, i: usize| filter[c * k + i].to_i32();
        fold_bias(
            g.out_c,
            k,
            q.input_offset,
            q.filter_offset,
            w,
            bias,
            &mut folded,
        );
        let mut got = vec![T::default(); g.output_len()];
        conv_2d_q_packed(&p, &q, &requant, &input, &packed, &folded, &mut got);
        assert_eq!(&got[..], &want[..], "{g:?} groups {groups} {q:?}");
    }
}

#[test]
fn folded_bias_matches_the_reference_int8() {
    check_folded::<i8>(0x1234_5678, false);
}

#[test]
fn folded_bias_matches_the_reference_uint8() {
    check_folded::<u8>(0x8765_4321, true);
}

#[test]
fn packed_float_matches_the_reference() {
    let mut rng = Rng(42);
    let cases: Vec<_> = random_geometries(&mut Rng(7), true).collect();
    for (g, groups) in cases {
        let p = Conv2dParams { geom: g, groups };
        let f = |rng: &mut Rng| rng.range(-1000, 1000) as f32 / 256.0;
        let input = (0..g.input_len())
            .map(|_| f(&mut rng))
            .collect::<Vec<f32>>();
        let filter = (0..p.filter_len())
            .map(|_| f(&mut rng))
            .collect::<Vec<f32>>();
        let bias = (0..g.out_c).map(|_| f(&mut rng)).collect::<Vec<f32>>();
        let mut want = vec![0.0f32; g.output_len()];
        conv_2d_f32(&p, ActF32::NONE, &input, &filter, Some(&bias), &mut want);
        let k = p.filter_len() / g.out_c;
        let mut packed = vec![0.0f32; blocked_len(g.out_c, k)];
        pack_rows_blocked(g.out_c, k, &filter, &mut packed);
        let mut got = vec![0.0f32; g.output_len()];
        conv_2d_f32_packed(&p, ActF32::NONE, &input, &packed, &bias, &mut got);
        assert_eq!(&got[..], &want[..]);
    }
}

/// The zero-padded copy of an NHWC input: `pad` rows/columns before, `after` after, filled
/// with `fill`.
pub(crate) fn materialize_padding<T: Copy>(
    g: &ConvGeometry,
    after: [usize; 2],
    input: &[T],
    fill: T,
) -> (ConvGeometry, Vec<T>) {
    let (h, w) = (g.in_h + g.pad[0] + after[0], g.in_w + g.pad[1] + after[1]);
    let mut out = vec![fill; g.batches * h * w * g.in_c];
    for b in 0..g.batches {
        for y in 0..g.in_h {
            for x in 0..g.in_w {
                let src = ((b * g.in_h + y) * g.in_w + x) * g.in_c;
                let dst = ((b * h + y + g.pad[0]) * w + x + g.pad[1]) * g.in_c;
                out[dst..dst + g.in_c].copy_from_slice(&input[src..src + g.in_c]);
            }
        }
    }
    let valid = ConvGeometry {
        in_h: h,
        in_w: w,
        pad: [0, 0],
        ..*g
    };
    (valid, out)
}

/// Random geometries with explicit padding of any amount (beyond the filter's reach too),
/// with the amounts after the last row and column.
pub(crate) fn random_explicit(rng: &mut Rng) -> Vec<(ConvGeometry, [usize; 2])> {
    (0..40)
        .map(|_| {
            let f = [rng.range(1, 3) as usize, rng.range(1, 3) as usize];
            let stride = [rng.range(1, 3) as usize, rng.range(1, 3) as usize];
            let dilation = [rng.range(1, 2) as usize, rng.range(1, 2) as usize];
            let in_hw = [rng.range(1, 5) as usize, rng.range(1, 5) as usize];
            let mut pad = [0; 2];
            let mut after = [0; 2];
            let mut out = [0; 2];
            for a in 0..2 {
                let eff = (f[a] - 1) * dilation[a] + 1;
                pad[a] = rng.range(0, 5) as usize;
                after[a] = rng.range(0, 5) as usize;
                let total = in_hw[a] + pad[a] + after[a];
                if total < eff {
                    after[a] += eff - total;
                }
                out[a] = (in_hw[a] + pad[a] + after[a] - eff) / stride[a] + 1;
                // The padding the last window actually reaches.
                after[a] = ((out[a] - 1) * stride[a] + eff).saturating_sub(in_hw[a] + pad[a]);
            }
            let in_c = rng.range(1, 4) as usize;
            let g = ConvGeometry {
                batches: 1,
                in_h: in_hw[0],
                in_w: in_hw[1],
                in_c,
                out_h: out[0],
                out_w: out[1],
                out_c: rng.range(1, 18) as usize,
                filter_h: f[0],
                filter_w: f[1],
                stride,
                dilation,
                pad,
            };
            (g, after)
        })
        .collect()
}

/// Explicit padding reads padded taps as zero (float) or the input's zero point (quantized):
/// the same results as a VALID convolution over a padded copy, bit for bit.
#[test]
fn explicit_padding_is_a_padded_copy() {
    let mut rng = Rng(0xfeed);
    for (g, after) in random_explicit(&mut Rng(0xbeef)) {
        let p = Conv2dParams { geom: g, groups: 1 };
        let k = p.filter_len() / g.out_c;
        // Float, reference and packed.
        let f = |rng: &mut Rng| rng.range(-1000, 1000) as f32 / 256.0;
        let input: Vec<f32> = (0..g.input_len()).map(|_| f(&mut rng)).collect();
        let filter: Vec<f32> = (0..p.filter_len()).map(|_| f(&mut rng)).collect();
        let bias: Vec<f32> = (0..g.out_c).map(|_| f(&mut rng)).collect();
        let (vg, padded) = materialize_padding(&g, after, &input, 0.0);
        let vp = Conv2dParams {
            geom: vg,
            groups: 1,
        };
        let mut want = vec![0.0f32; g.output_len()];
        conv_2d_f32(&vp, ActF32::NONE, &padded, &filter, Some(&bias), &mut want);
        let mut got = vec![0.0f32; g.output_len()];
        conv_2d_f32(&p, ActF32::NONE, &input, &filter, Some(&bias), &mut got);
        assert_eq!(got, want, "{g:?}");
        let mut packed = vec![0.0f32; blocked_len(g.out_c, k)];
        pack_rows_blocked(g.out_c, k, &filter, &mut packed);
        conv_2d_f32_packed(&p, ActF32::NONE, &input, &packed, &bias, &mut got);
        assert_eq!(got, want, "{g:?}");
        // uint8 (filter offset), reference and packed.
        let q = random_quant::<u8>(&mut rng, true);
        let input = random_vec::<u8>(&mut rng, g.input_len());
        let filter = random_vec::<u8>(&mut rng, p.filter_len());
        let bias = random_bias(&mut rng, g.out_c);
        let requant = random_requant(&mut rng, g.out_c);
        let z = u8::from_i32_saturating(-q.input_offset);
        let (_, padded) = materialize_padding(&g, after, &input, z);
        let mut want = vec![0u8; g.output_len()];
        conv_2d_q(&vp, &q, &requant, &padded, &filter, Some(&bias), &mut want);
        let mut got = vec![0u8; g.output_len()];
        conv_2d_q(&p, &q, &requant, &input, &filter, Some(&bias), &mut got);
        assert_eq!(got, want, "{g:?}");
        let mut packed = vec![0u8; blocked_len(g.out_c, k)];
        pack_rows_blocked(g.out_c, k, &filter, &mut packed);
        let mut folded = vec![0i32; g.out_c];
        let w = |c: usize, i: usize| filter[c * k + i].to_i32();
        let (io, fo) = (q.input_offset, q.filter_offset);
        fold_bias(g.out_c, k, io, fo, w, Some(&bias), &mut folded);
        conv_2d_q_packed(&p, &q, &requant, &input, &packed, &folded, &mut got);
        assert_eq!(got, want, "{g:?}");
    }
}

/// The residual kernels give what CONV_2D then ADD give, bit for bit, whichever ADD operand
/// the convolution was.
#[test]
fn residual_epilogue_is_conv_then_add() {
    use crate::kernels::binary::{add_f32, add_q, AddQParams, BinaryF32Params, BroadcastShape};
    let mut rng = Rng(0xadd);
    let cases: Vec<_> = random_geometries(&mut Rng(0xc0de), true).collect();
    for (i, (g, groups)) in cases.into_iter().enumerate() {
        let p = Conv2dParams { geom: g, groups };
        let k = p.filter_len() / g.out_c;
        let n = g.output_len();
        let shape = BroadcastShape::new(&[n], &[n]).unwrap();
        let conv_first = i % 2 == 0;
        // int8.
        let mut q = random_quant::<i8>(&mut rng, false);
        q.act = ActQ {
            min: -128,
            max: 127,
        };
        let input = random_vec::<i8>(&mut rng, g.input_len());
        let filter = random_vec::<i8>(&mut rng, p.filter_len());
        let bias = random_bias(&mut rng, g.out_c);
        let requant = random_requant(&mut rng, g.out_c);
        let other = random_vec::<i8>(&mut rng, n);
        let m = |rng: &mut Rng, lo: i32, hi: i32| Requant {
            multiplier: rng.range(1 << 30, i32::MAX),
            shift: rng.range(lo, hi),
        };
        let add = AddQParams {
            shape,
            left_shift: 20,
            input1_offset: -rng.range(-128, 127),
            input1: m(&mut rng, -3, -1),
            input2_offset: -rng.range(-128, 127),
            input2: m(&mut rng, -3, -1),
            output: m(&mut rng, -22, -16),
            output_offset: rng.range(-128, 127),
            act: ActQ {
                min: rng.range(-128, -100),
                max: rng.range(100, 127),
            },
        };
        let mut mid = vec![0i8; n];
        conv_2d_q(&p, &q, &requant, &input, &filter, Some(&bias), &mut mid);
        let mut want = vec![0i8; n];
        let residual = if conv_first {
            add_q(&add, &mid, &other, &mut want);
            ResidualQ {
                left_shift: 20,
                conv_offset: add.input1_offset,
                conv_multiplier: add.input1,
                residual_offset: add.input2_offset,
                residual_multiplier: add.input2,
                output: add.output,
                output_offset: add.output_offset,
                act: add.act,
            }
        } else {
            add_q(&add, &other, &mid, &mut want);
            ResidualQ {
                left_shift: 20,
                conv_offset: add.input2_offset,
                conv_multiplier: add.input2,
                residual_offset: add.input1_offset,
                residual_multiplier: add.input1,
                output: add.output,
                output_offset: add.output_offset,
                act: add.act,
            }
        };
        let mut got = vec![0i8; n];
        conv_2d_q_residual(
            &p,
            &q,
            &requant,
            &residual,
            &input,
            &filter,
            Some(&bias),
            &other,
            &mut got,
        );
        assert_eq!(got, want, "{g:?}");
        let mut packed = vec![0i8; blocked_len(g.out_c, k)];
        pack_rows_blocked(g.out_c, k, &filter, &mut packed);
        let mut folded = vec![0i32; g.out_c];
        let w = |c: usize, i: usize| filter[c * k + i].to_i32();
        fold_bias(g.out_c, k, q.input_offset, 0, w, Some(&bias), &mut folded);
        conv_2d_q_packed_residual(
            &p, &q, &requant, &residual, &input, &packed, &folded, &other, &mut got,
        );
        assert_eq!(got, want, "{g:?}");
        // float, with a value that overflows to infinity (the convolution's ±FLT_MAX clamp).
        let f = |rng: &mut Rng| rng.range(-1000, 1000) as f32 / 256.0;
        let input: Vec<f32> = (0..g.input_len()).map(|_| f(&mut rng)).collect();
        let filter: Vec<f32> = (0..p.filter_len()).map(|_| f(&mut rng)).collect();
        let mut bias: Vec<f32> = (0..g.out_c).map(|_| f(&mut rng)).collect();
        bias[0] = f32::INFINITY;
        let mut other: Vec<f32> = (0..n).map(|_| f(&mut rng)).collect();
        other[0] = 3e38;
        let relu6 = ActF32 { min: 0.0, max: 6.0 };
        let fp = BinaryF32Params {
            shape,
            act: if i % 3 == 0 { relu6 } else { ActF32::NONE },
        };
        let mut mid = vec![0.0f32; n];
        conv_2d_f32(&p, ActF32::NONE, &input, &filter, Some(&bias), &mut mid);
        let mut want = vec![0.0f32; n];
        if conv_first {
            add_f32(&fp, &mid, &other, &mut want);
        } else {
            add_f32(&fp, &other, &mid, &mut want);
        }
        let mut got = vec![0.0f32; n];
        let (none, act) = (ActF32::NONE, fp.act);
        conv_2d_f32_residual(
            &p,
            none,
            act,
            &input,
            &filter,
            Some(&bias),
            &other,
            &mut got,
        );
        assert_eq!(got, want, "{g:?}");
        let mut packed = vec![0.0f32; blocked_len(g.out_c, k)];
        pack_rows_blocked(g.out_c, k, &filter, &mut packed);
        conv_2d_f32_packed_residual(&p, none, act, &input, &packed, &bias, &other, &mut got);
        assert_eq!(got, want, "{g:?}");
    }
}

#[test]
fn blocked_layout() {
    // 18 channels, 2 taps: two blocks of 16, the second padded.
    assert_eq!(blocked_len(18, 2), 64);
    assert_eq!(blocked_index(0, 1, 2), 16);
    assert_eq!(blocked_index(17, 1, 2), 32 + 16 + 1);
    let src: [i8; 6] = [1, 2, 3, 4, 5, 6]; // [3][2]
    let mut dst = [9i8; 32];
    pack_rows_blocked(3, 2, &src, &mut dst);
    assert_eq!(&dst[..3], &[1, 3, 5]);
    assert_eq!(&dst[16..19], &[2, 4, 6]);
    assert!(dst[3..16].iter().all(|&v| v == 0));
    let mut dst2 = [9i8; 48];
    pack_cols_blocked(2, 3, &src, &mut dst2); // src as [3 taps][2 channels]
    assert_eq!(
        (dst2[0], dst2[1], dst2[16], dst2[17], dst2[32], dst2[33]),
        (1, 2, 3, 4, 5, 6)
    );
}

#[test]
fn blocked_layout_unpack_inverts_both_packings() {
    // f32 elements whose bytes are all distinct, channel counts around the block size.
    for (n, k) in [(1, 1), (3, 5), (16, 2), (17, 3), (33, 9)] {
        let src: Vec<f32> = (0..n * k).map(|i| i as f32 + 0.5).collect();
        let bytes: Vec<u8> = src.iter().flat_map(|v| v.to_le_bytes()).collect();
        for cols in [false, true] {
            let mut packed = vec![0f32; blocked_len(n, k)];
            if cols {
                pack_cols_blocked(n, k, &src, &mut packed);
            } else {
                pack_rows_blocked(n, k, &src, &mut packed);
            }
            let packed: Vec<u8> = packed.iter().flat_map(|v| v.to_le_bytes()).collect();
            let layout = BlockedLayout {
                channels: n,
                taps: k,
                taps_first: cols,
                elem: 4,
            };
            assert_eq!(layout.packed_len(), Some(packed.len()));
            assert_eq!(layout.unpacked_len(), Some(n * k * 4));
            let mut back = vec![0u8; n * k * 4];
            assert!(layout.unpack(&packed, &mut back));
            assert_eq!(back, bytes, "n {n} k {k} cols {cols}");
            // Wrong sizes write nothing.
            let mut short = vec![7u8; n * k * 4 - 1];
            assert!(!layout.unpack(&packed, &mut short));
            assert!(short.iter().all(|&b| b == 7));
            assert!(!layout.unpack(&packed[1..], &mut back));
        }
    }
    let huge = |channels, taps, elem| BlockedLayout {
        channels,
        taps,
        taps_first: false,
        elem,
    };
    assert_eq!(huge(usize::MAX, 2, 1).packed_len(), None);
    assert_eq!(huge(16, usize::MAX, 2).packed_len(), None);
    assert_eq!(huge(16, usize::MAX, 2).unpacked_len(), None);
}

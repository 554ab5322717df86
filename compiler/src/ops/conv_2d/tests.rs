//! Tests of the `conv_2d` family: parameters as TFLite's `Prepare` computes them, and the
//! pre-packed kernels against the model-form ones.

use super::*;
use crate::interp::StepIo;
use crate::ir::{Graph, Op, OpNode, Quant};

pub(crate) fn tensor(
    name: &str,
    dtype: DType,
    shape: &[usize],
    quant: Option<Quant>,
    data: bool,
) -> Tensor {
    let len = shape.iter().product::<usize>() * dtype.size();
    Tensor {
        name: name.into(),
        dtype,
        shape: shape.to_vec(),
        quant,
        data: data.then(|| vec![0; len]),
        tflite_index: None,
    }
}

/// A one-op graph; `tensors[..n-1]` are the operands, the last the result.
pub(crate) fn graph(op: Op, tensors: Vec<Tensor>) -> Graph {
    let mut g = Graph::new();
    let ids: Vec<_> = tensors.into_iter().map(|t| g.add_tensor(t)).collect();
    let (out, ins) = ids.split_last().unwrap();
    g.add_op(OpNode {
        op,
        inputs: ins.iter().map(|&t| Some(t)).collect(),
        outputs: vec![*out],
        tflite_index: Some(0),
        version: 1,
    });
    g
}

fn with_cx<R>(g: &Graph, f: impl FnOnce(&InferCx<'_>) -> R) -> R {
    let id = g.op_ids()[0];
    f(&InferCx {
        graph: g,
        node: g.op(id),
    })
}

fn conv_attrs(padding: Padding, stride: usize) -> Conv2dAttrs {
    Conv2dAttrs {
        padding,
        stride: [stride, stride],
        dilation: [1, 1],
        act: Activation::Relu6,
        residual: None,
    }
}

#[test]
fn out_size_matches_tflite() {
    assert_eq!(out_size(Padding::Same, 224, 3, 2, 1), Some(112));
    assert_eq!(out_size(Padding::Same, 7, 3, 2, 1), Some(4));
    assert_eq!(out_size(Padding::Valid, 8, 3, 2, 1), Some(3));
    assert_eq!(out_size(Padding::Valid, 8, 3, 1, 2), Some(4));
    assert_eq!(out_size(Padding::Valid, 2, 3, 1, 1), None);
    assert_eq!(out_size(Padding::Valid, 3, 3, 1, 1), Some(1));
}

#[test]
fn explicit_windows_reproduce_same_and_valid() {
    // SAME, 224, 3x3, stride 2: out 112, nothing before, one after.
    assert_eq!(
        axis_window(Padding::Same, 0, 224, 3, 2, 1),
        Some((112, [0, 1]))
    );
    let explicit = |b: usize, a: usize| Padding::Explicit {
        top: b,
        bottom: a,
        left: 0,
        right: 0,
    };
    assert_eq!(
        axis_window(explicit(0, 1), 0, 224, 3, 2, 1),
        Some((112, [0, 1]))
    );
    assert_eq!(
        axis_window(explicit(5, 0), 0, 1, 3, 1, 1),
        Some((4, [5, 0]))
    );
    assert_eq!(axis_window(explicit(0, 1), 0, 1, 3, 1, 1), None);
    assert_eq!(out_size(explicit(1, 1), 3, 3, 1, 1), None);
    for image in 1..12 {
        for filter in 1..5 {
            for stride in 1..4 {
                for dilation in 1..3 {
                    for p in [Padding::Same, Padding::Valid] {
                        let Some((out, [b, a])) =
                            axis_window(p, 1, image, filter, stride, dilation)
                        else {
                            continue;
                        };
                        let e = Padding::Explicit {
                            top: 0,
                            bottom: 0,
                            left: b,
                            right: a,
                        };
                        assert_eq!(
                            axis_window(e, 1, image, filter, stride, dilation),
                            Some((out, [b, a])),
                            "{p:?} {image} {filter} {stride} {dilation}"
                        );
                        assert_eq!(b, pad_before(stride, dilation, image, filter, out));
                    }
                }
            }
        }
    }
}

#[test]
fn padding_puts_the_odd_one_after() {
    // 224, 3x3, stride 2, SAME: out 112, total (111·2 + 3 − 224) = 1 → before 0.
    assert_eq!(pad_before(2, 1, 224, 3, 112), 0);
    // 8, 3x3, stride 1, SAME: total 2 → 1.
    assert_eq!(pad_before(1, 1, 8, 3, 8), 1);
    // dilation 2: effective 5, total 4 → 2.
    assert_eq!(pad_before(1, 2, 8, 3, 8), 2);
    // 8, 2x2, stride 2, SAME: total 0.
    assert_eq!(pad_before(2, 1, 8, 2, 4), 0);
}

#[test]
fn uint8_multiplier_uses_the_float_product() {
    // Scales of a real TF1 uint8 conv for which f32(S_in·S_w) changes the multiplier.
    let (s_in, s_w, s_out) = (
        f32::from_bits(0x3c00_8081),
        f32::from_bits(0x3c11_0757),
        f32::from_bits(0x3d13_37f3),
    );
    let g = graph(
        Op::Conv2d(conv_attrs(Padding::Same, 2)),
        vec![
            tensor(
                "x",
                DType::U8,
                &[1, 7, 7, 3],
                Some(Quant::per_tensor(s_in, 128)),
                false,
            ),
            tensor(
                "w",
                DType::U8,
                &[4, 3, 3, 3],
                Some(Quant::per_tensor(s_w, 120)),
                true,
            ),
            tensor("b", DType::I32, &[4], None, true),
            tensor(
                "y",
                DType::U8,
                &[1, 4, 4, 4],
                Some(Quant::per_tensor(s_out, 126)),
                false,
            ),
        ],
    );
    let (p, num, _) = with_cx(&g, |cx| conv_2d_params(cx, &conv_attrs(Padding::Same, 2))).unwrap();
    assert_eq!((p.geom.out_h, p.geom.out_w, p.geom.pad), (4, 4, [1, 1]));
    let ConvNumerics::Quant { dtype, q, requant } = num else {
        panic!("not quantized")
    };
    assert_eq!(dtype, DType::U8);
    assert_eq!(
        requant,
        vec![
            Requant {
                multiplier: 2_123_836_235,
                shift: -9
            };
            4
        ]
    );
    assert_eq!(
        (q.input_offset, q.filter_offset, q.output_offset),
        (-128, -120, 126)
    );
    // RELU6 with the output's scale: zero point .. 126 + round(6 / 0.0359).
    assert_eq!((q.act.min, q.act.max), (126, 255));
}

#[test]
fn int8_per_channel_and_broadcast_filters() {
    let attrs = conv_attrs(Padding::Valid, 1);
    let build = |wq: Quant| {
        graph(
            Op::Conv2d(attrs.clone()),
            vec![
                tensor(
                    "x",
                    DType::I8,
                    &[1, 3, 3, 2],
                    Some(Quant::per_tensor(0.5, -3)),
                    false,
                ),
                tensor("w", DType::I8, &[2, 3, 3, 2], Some(wq), true),
                tensor(
                    "y",
                    DType::I8,
                    &[1, 1, 1, 2],
                    Some(Quant::per_tensor(0.25, 1)),
                    false,
                ),
            ],
        )
    };
    let pc = Quant {
        scale: vec![0.25, 1.5],
        zero_point: vec![0, 0],
        axis: 0,
    };
    let g = build(pc);
    let (_, num, _) = with_cx(&g, |cx| conv_2d_params(cx, &attrs)).unwrap();
    let ConvNumerics::Quant { requant, q, .. } = num else {
        panic!("not quantized")
    };
    // 0.5 · 0.25 / 0.25 = 0.5 and 0.5 · 1.5 / 0.25 = 3.
    assert_eq!(
        requant,
        vec![quantize_multiplier(0.5), quantize_multiplier(3.0)]
    );
    assert_eq!((q.input_offset, q.filter_offset), (3, 0));
    let g = build(Quant::per_tensor(0.25, 0));
    let (_, num, _) = with_cx(&g, |cx| conv_2d_params(cx, &attrs)).unwrap();
    let ConvNumerics::Quant { requant, .. } = num else {
        panic!("not quantized")
    };
    assert_eq!(requant, vec![quantize_multiplier(0.5); 2]);
}

#[test]
fn hybrid_and_int16_are_unsupported() {
    let attrs = conv_attrs(Padding::Valid, 1);
    let g = graph(
        Op::Conv2d(attrs.clone()),
        vec![
            tensor("x", DType::F32, &[1, 3, 3, 2], None, false),
            tensor(
                "w",
                DType::I8,
                &[2, 3, 3, 2],
                Some(Quant::per_tensor(0.1, 0)),
                true,
            ),
            tensor("y", DType::F32, &[1, 1, 1, 2], None, false),
        ],
    );
    let e = with_cx(&g, |cx| conv_2d_params(cx, &attrs))
        .unwrap_err()
        .to_string();
    assert!(e.contains("hybrid"), "{e}");
}

#[test]
fn transpose_conv_shape_and_padding() {
    let attrs = TransposeConvAttrs {
        padding: Padding::Same,
        stride: [2, 2],
        act: Activation::None,
    };
    let shape = |dims: [i32; 4]| Tensor {
        data: Some(dims.iter().flat_map(|d| d.to_le_bytes()).collect()),
        ..tensor("shape", DType::I32, &[4], None, false)
    };
    let build = |dims: [i32; 4]| {
        graph(
            Op::TransposeConv(attrs.clone()),
            vec![
                shape(dims),
                tensor("w", DType::F32, &[6, 3, 3, 8], None, true),
                tensor("x", DType::F32, &[1, 4, 4, 8], None, false),
                tensor("y", DType::F32, &[1, 8, 7, 6], None, false),
            ],
        )
    };
    let g = build([1, 8, 7, 6]);
    let (p, _) = with_cx(&g, |cx| transpose_conv_params(cx, &attrs)).unwrap();
    // height: 8 from 4 with 3 taps, stride 2: total (4−1)·2 + 3 − 8 = 1 → 0 before;
    // width: 7: total 2 → 1 before.
    assert_eq!((p.geom.out_h, p.geom.out_w, p.geom.pad), (8, 7, [0, 1]));
    // 10 rows do not come from 4 with stride 2 (LiteRT rejects it too).
    let g = build([1, 10, 7, 6]);
    assert!(with_cx(&g, |cx| transpose_conv_params(cx, &attrs)).is_err());
}

/// Deterministic pseudo-random values (xorshift64*).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// A value in `lo..=hi`.
    pub(crate) fn int(&mut self, lo: i64, hi: i64) -> i64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        lo + (r % (hi - lo + 1) as u64) as i64
    }
}

/// Random little-endian values of `dtype`: integers across the type's range (`i32`: biases
/// up to ±2^20), floats in `[-2, 2]`.
pub(crate) fn random_bytes(rng: &mut Rng, dtype: DType, n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|_| match dtype {
            DType::I8 => vec![rng.int(-128, 127) as i8 as u8],
            DType::U8 => vec![rng.int(0, 255) as u8],
            DType::I32 => (rng.int(-1 << 20, 1 << 20) as i32).to_le_bytes().to_vec(),
            _ => (rng.int(-2048, 2048) as f32 / 1024.0)
                .to_le_bytes()
                .to_vec(),
        })
        .collect()
}

/// Runs the lowered kernel of the one op of `g` on `values` (one per operand, constants
/// included) through [`Lowered::eval`]; returns the kernel and the result's bytes.
pub(crate) fn run_lowered<K>(
    g: &Graph,
    values: &[crate::interp::Buf],
    plan: impl Fn(&InferCx<'_>) -> Result<Lowered<K>>,
    exec: fn(&K, &mut StepIo<'_>) -> Result<()>,
) -> (K, Vec<u8>) {
    let id = g.op_ids()[0];
    let node = g.op(id);
    let l = with_cx(g, |cx| plan(cx)).unwrap();
    let out = g.tensor(node.outputs[0]).byte_len();
    let mut cx = EvalCx {
        graph: g,
        node,
        inputs: values.iter().map(Some).collect(),
        outputs: vec![crate::interp::Buf::zeroed(out)],
    };
    l.eval(&mut cx, exec).unwrap();
    (l.kernel, cx.outputs[0].bytes().to_vec())
}

/// Builds the op twice, with the operands in `weight_slots` constant (packed, bias folded)
/// and not (the model's form), runs both on the same random values and checks that they
/// agree bit for bit. Returns both kernels.
pub(crate) fn packed_matches_model<K>(
    seed: u64,
    op: Op,
    tensors: &[Tensor],
    weight_slots: &[usize],
    plan: impl Fn(&InferCx<'_>) -> Result<Lowered<K>>,
    exec: fn(&K, &mut StepIo<'_>) -> Result<()>,
) -> (K, K) {
    let mut rng = Rng(seed);
    let n_in = tensors.len() - 1;
    let values: Vec<Vec<u8>> = tensors[..n_in]
        .iter()
        .map(|t| random_bytes(&mut rng, t.dtype, t.num_elements()))
        .collect();
    let bufs: Vec<_> = values
        .iter()
        .map(|v| crate::interp::Buf::from_bytes(v))
        .collect();
    let build = |constant: bool| {
        let mut ts = tensors.to_vec();
        for &slot in weight_slots {
            ts[slot].data = constant.then(|| values[slot].clone());
        }
        graph(op.clone(), ts)
    };
    let (packed, want) = run_lowered(&build(true), &bufs, &plan, exec);
    let (model, got) = run_lowered(&build(false), &bufs, &plan, exec);
    assert_eq!(got, want, "packed and model forms differ");
    (packed, model)
}

fn conv_tensors(dtype: DType, depthwise: bool, bias: bool) -> Vec<Tensor> {
    // 7×6 input, 3×3 filter: SAME with stride 2 pads on one side or both.
    let (in_c, w_shape, out_c) = if depthwise {
        (9, [1, 3, 3, 18], 18)
    } else {
        (6, [18, 3, 3, 3], 18)
    };
    let (qx, qw, qy) = match dtype {
        DType::I8 => (
            Some(Quant::per_tensor(0.5, 77)),
            Some(Quant {
                scale: (0..out_c).map(|c| 0.001 * (c + 1) as f32).collect(),
                zero_point: vec![0; out_c],
                axis: if depthwise { 3 } else { 0 },
            }),
            Some(Quant::per_tensor(0.3, -5)),
        ),
        DType::U8 => (
            Some(Quant::per_tensor(0.5, 201)),
            Some(Quant::per_tensor(0.01, 117)),
            Some(Quant::per_tensor(0.7, 120)),
        ),
        _ => (None, None, None),
    };
    let bias_dtype = if dtype == DType::F32 {
        DType::F32
    } else {
        DType::I32
    };
    let mut ts = vec![
        tensor("x", dtype, &[2, 7, 6, in_c], qx, false),
        tensor("w", dtype, &w_shape, qw, false),
    ];
    if bias {
        ts.push(tensor("b", bias_dtype, &[out_c], None, false));
    }
    ts.push(tensor("y", dtype, &[2, 4, 3, out_c], qy, false));
    ts
}

#[test]
fn packed_conv_2d_matches_the_model_form() {
    let attrs = Conv2dAttrs {
        padding: Padding::Same,
        stride: [2, 2],
        dilation: [1, 1],
        act: Activation::None,
        residual: None,
    };
    for (seed, dtype) in [(1, DType::I8), (2, DType::U8), (3, DType::F32)] {
        for bias in [true, false] {
            let ts = conv_tensors(dtype, false, bias);
            let slots: &[usize] = if bias { &[1, 2] } else { &[1] };
            let (packed, model) = packed_matches_model(
                seed,
                Op::Conv2d(attrs.clone()),
                &ts,
                slots,
                |cx| plan_conv_2d(cx, &attrs),
                Kernel::exec,
            );
            assert!(!packed.name().ends_with("unpacked"), "{}", packed.name());
            assert!(model.name().ends_with("unpacked"), "{}", model.name());
            // The geometry pads: SAME, 7 rows → 4 with stride 2 and 3 taps.
            let (Kernel::Conv2dF32 { params, .. } | Kernel::Conv2dQ { params, .. }) = packed else {
                panic!("not a CONV_2D kernel");
            };
            assert_eq!((params.geom.pad, params.groups), ([1, 0], 2));
        }
    }
}

#[test]
fn packed_depthwise_conv_2d_matches_the_model_form() {
    let attrs = DepthwiseConv2dAttrs {
        padding: Padding::Same,
        stride: [2, 2],
        dilation: [1, 1],
        depth_multiplier: 2,
        act: Activation::Relu6,
    };
    for (seed, dtype) in [(4, DType::I8), (5, DType::U8), (6, DType::F32)] {
        for bias in [true, false] {
            let ts = conv_tensors(dtype, true, bias);
            let slots: &[usize] = if bias { &[1, 2] } else { &[1] };
            let (packed, model) = packed_matches_model(
                seed,
                Op::DepthwiseConv2d(attrs.clone()),
                &ts,
                slots,
                |cx| plan_depthwise_conv_2d(cx, &attrs),
                Kernel::exec,
            );
            assert!(!packed.name().ends_with("unpacked"), "{}", packed.name());
            assert!(model.name().ends_with("unpacked"), "{}", model.name());
        }
    }
}

#[test]
fn folded_bias_is_emitted_for_a_model_without_bias() {
    let attrs = Conv2dAttrs {
        padding: Padding::Valid,
        stride: [1, 1],
        dilation: [1, 1],
        act: Activation::None,
        residual: None,
    };
    // 1×1 conv, Z_in = 3: bias' = −3 · Σ w.
    let w: Vec<u8> = [1i8, 2, -4, 5].iter().map(|&v| v as u8).collect();
    let g = graph(
        Op::Conv2d(attrs.clone()),
        vec![
            tensor(
                "x",
                DType::I8,
                &[1, 1, 1, 2],
                Some(Quant::per_tensor(0.5, 3)),
                false,
            ),
            Tensor {
                data: Some(w),
                ..tensor(
                    "w",
                    DType::I8,
                    &[2, 1, 1, 2],
                    Some(Quant::per_tensor(0.5, 0)),
                    false,
                )
            },
            tensor(
                "y",
                DType::I8,
                &[1, 1, 1, 2],
                Some(Quant::per_tensor(0.5, 0)),
                false,
            ),
        ],
    );
    let l = with_cx(&g, |cx| plan_conv_2d(cx, &attrs)).unwrap();
    let bias = &l.packed.iter().find(|(slot, _)| *slot == 2).unwrap().1;
    let bias: Vec<i32> = bias
        .chunks_exact(4)
        .map(bytemuck::pod_read_unaligned)
        .collect();
    assert_eq!(bias, vec![-9, -3]);
    let filter = &l.packed.iter().find(|(slot, _)| *slot == 1).unwrap().1;
    // Two channels of two taps in one block of 16: [tap][16].
    assert_eq!(filter.len(), 32);
    assert_eq!(
        (filter[0], filter[1], filter[16], filter[17]),
        (1, 0xfc, 2, 5)
    );
}

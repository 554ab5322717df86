//! Hand-built NNAPI partitions for the NNAPI tests: a float CONV_2D, a per-channel int8
//! CONV_2D, CPU + NNAPI + CPU segments and two NNAPI segments.

use std::ops::Range;

use mvcc::lower::WeightRange;
use mvcc::nnapi::{
    Blocked, BlockedLayout, ChannelQuant, Description, Lifetime, Operand, OperandType, Operation,
    OperationType, Partition, Place, Segment, SegmentKind,
};

pub fn tensor(ty: OperandType, dims: &[u32], lifetime: Lifetime) -> Operand {
    Operand {
        name: String::new(),
        ty,
        dims: dims.to_vec(),
        scale: 0.0,
        zero_point: 0,
        lifetime,
        channel_quant: None,
    }
}

pub fn weight(offset: usize, len: usize) -> Lifetime {
    Lifetime::Weight(WeightRange { offset, len })
}

/// The per-channel CONV_2D of [`per_channel`] with its `[3, 1, 1, 2]` filter held as the CPU
/// kernels' blocked copy at weights+128 (one block of 16 channels × 2 taps: 32 bytes).
pub fn per_channel_blocked() -> Partition {
    let mut p = per_channel();
    if let SegmentKind::Nnapi { desc, .. } = &mut p.segments[0].kind {
        desc.operands[1].lifetime = Lifetime::Blocked(Blocked {
            range: WeightRange {
                offset: 128,
                len: 32,
            },
            layout: BlockedLayout {
                channels: 3,
                taps: 2,
                taps_first: false,
                elem: 1,
            },
        });
    }
    p
}

/// A float CONV_2D (implicit SAME padding, strides 1 × 2, RELU), input and output in the caller's
/// buffers; the filter (432 bytes) at weights+64, the bias inline.
pub fn conv_only() -> Partition {
    let mut d = Description {
        api_level: 27,
        ..Description::default()
    };
    let input = d.add_operand(tensor(
        OperandType::TensorFloat32,
        &[1, 8, 8, 3],
        Lifetime::Input,
    ));
    let filter = d.add_operand(tensor(
        OperandType::TensorFloat32,
        &[4, 3, 3, 3],
        weight(64, 432),
    ));
    let bias_bytes: Vec<u8> = [0.5f32, -1.0, 2.0, 0.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let bias = d.add_operand(tensor(
        OperandType::TensorFloat32,
        &[4],
        Lifetime::Inline(bias_bytes),
    ));
    let pad = d.int32("padding", 1);
    let sw = d.int32("stride_w", 1);
    let sh = d.int32("stride_h", 2);
    let act = d.int32("fuse", 1);
    let out = d.add_operand(tensor(
        OperandType::TensorFloat32,
        &[1, 4, 8, 4],
        Lifetime::Output,
    ));
    d.operations.push(Operation {
        ty: OperationType::Conv2d,
        inputs: vec![input, filter, bias, pad, sw, sh, act],
        outputs: vec![out],
    });
    d.inputs = vec![input];
    d.outputs = vec![out];
    Partition {
        api_level: 27,
        steps: 1,
        segments: vec![Segment {
            steps: 0..1,
            kind: SegmentKind::Nnapi {
                desc: d,
                inputs: vec![Place::ModelInput {
                    index: 0,
                    offset: 0,
                    len: 768,
                }],
                outputs: vec![Place::ModelOutput {
                    index: 0,
                    offset: 0,
                    len: 512,
                }],
            },
        }],
    }
}

/// A signed int8 CONV_2D with a per-channel filter (API 30): filter at weights+0, bias at
/// weights+64, input and output in the arena.
pub fn per_channel() -> Partition {
    let mut d = Description {
        api_level: 30,
        ..Description::default()
    };
    let mut input = tensor(
        OperandType::TensorQuant8AsymmSigned,
        &[1, 4, 4, 2],
        Lifetime::Input,
    );
    input.scale = 0.5;
    input.zero_point = -1;
    let input = d.add_operand(input);
    let mut filter = tensor(
        OperandType::TensorQuant8SymmPerChannel,
        &[3, 1, 1, 2],
        weight(0, 6),
    );
    filter.channel_quant = Some(ChannelQuant {
        channel_dim: 0,
        scales: vec![0.25, 0.5, 0.125],
    });
    let filter = d.add_operand(filter);
    let bias = d.add_operand(tensor(OperandType::TensorInt32, &[3], weight(64, 12)));
    let pad = d.int32("padding", 2);
    let sw = d.int32("stride_w", 1);
    let sh = d.int32("stride_h", 1);
    let act = d.int32("fuse", 0);
    let mut out = tensor(
        OperandType::TensorQuant8AsymmSigned,
        &[1, 4, 4, 3],
        Lifetime::Output,
    );
    out.scale = 1.0;
    out.zero_point = 3;
    let out = d.add_operand(out);
    d.operations.push(Operation {
        ty: OperationType::Conv2d,
        inputs: vec![input, filter, bias, pad, sw, sh, act],
        outputs: vec![out],
    });
    d.inputs = vec![input];
    d.outputs = vec![out];
    Partition {
        api_level: 30,
        steps: 1,
        segments: vec![Segment {
            steps: 0..1,
            kind: SegmentKind::Nnapi {
                desc: d,
                inputs: vec![Place::Arena { offset: 0, len: 32 }],
                outputs: vec![Place::Arena {
                    offset: 64,
                    len: 48,
                }],
            },
        }],
    }
}

/// The 200-byte inline constant of [`add_desc`].
pub fn big_inline() -> Vec<u8> {
    (0..50u32)
        .flat_map(|i| (i as f32 * 0.25).to_le_bytes())
        .collect()
}

/// ADD of an arena tensor and a 200-byte inline constant, plus an omitted operand.
pub fn add_desc() -> (Description, Vec<Place>, Vec<Place>) {
    let mut d = Description {
        api_level: 29,
        ..Description::default()
    };
    let a = d.add_operand(tensor(OperandType::TensorFloat32, &[50], Lifetime::Input));
    let b = d.add_operand(tensor(
        OperandType::TensorFloat32,
        &[50],
        Lifetime::Inline(big_inline()),
    ));
    let act = d.int32("fuse", 3);
    d.add_operand(tensor(OperandType::TensorFloat32, &[50], Lifetime::NoValue));
    let out = d.add_operand(tensor(OperandType::TensorFloat32, &[50], Lifetime::Output));
    d.operations.push(Operation {
        ty: OperationType::Add,
        inputs: vec![a, b, act],
        outputs: vec![out],
    });
    d.inputs = vec![a];
    d.outputs = vec![out];
    (
        d,
        vec![Place::Arena {
            offset: 64,
            len: 200,
        }],
        vec![Place::Arena {
            offset: 320,
            len: 200,
        }],
    )
}

/// CPU 0..2, NNAPI 2..4 (the ADD), CPU 4..5.
pub fn cpu_nnapi_cpu() -> Partition {
    let (desc, inputs, outputs) = add_desc();
    Partition {
        api_level: 29,
        steps: 5,
        segments: vec![
            Segment {
                steps: 0..2,
                kind: SegmentKind::Cpu,
            },
            Segment {
                steps: 2..4,
                kind: SegmentKind::Nnapi {
                    desc,
                    inputs,
                    outputs,
                },
            },
            Segment {
                steps: 4..5,
                kind: SegmentKind::Cpu,
            },
        ],
    }
}

/// NNAPI 0..1 (the ADD), CPU 1..2, NNAPI 2..3 (the ADD again).
pub fn two_nnapi() -> Partition {
    let (desc, inputs, outputs) = add_desc();
    let nnapi = |steps: Range<usize>| Segment {
        steps,
        kind: SegmentKind::Nnapi {
            desc: desc.clone(),
            inputs: inputs.clone(),
            outputs: outputs.clone(),
        },
    };
    Partition {
        api_level: 29,
        steps: 3,
        segments: vec![
            nnapi(0..1),
            Segment {
                steps: 1..2,
                kind: SegmentKind::Cpu,
            },
            nnapi(2..3),
        ],
    }
}

/// The blob offset of the first occurrence of `needle`.
pub fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("bytes present")
}

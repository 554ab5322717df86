//! The binary form of a [`Partition`]: what the compiler embeds in a compiled model and
//! `mvcc_runtime::nnapi` replays as `ANeuralNetworks*` calls on the device.
//!
//! The encoding is deterministic (the same partition always gives the same bytes) and
//! self-contained apart from the program's weight blob, which [`Lifetime::Weight`] operands refer
//! to by byte range. Operand names are not encoded (the device does not need them).
//!
//! # Format, version 2
//!
//! Every integer is little-endian. Every field is 4 or 8 bytes long and every byte run is padded
//! with zeros to a multiple of 4, so each field starts at a multiple of 4 from the start of the
//! blob (a blob stored 4-aligned keeps its inline constants 4-aligned). `u64` fields hold `usize`
//! quantities (step numbers, byte offsets and lengths); `u32` fields hold counts and operand
//! indices. `x × n` is `n` consecutive `x`.
//!
//! ```text
//! Blob      = "MVNN" · version u32 (= 2) · api_level u32 · steps u64
//!             · segment_count u32 · Segment × segment_count
//! Segment   = kind u32 · first u64 · end u64 · [Model if kind = 1]
//!             kind: 0 = CPU (mvcc's code runs steps first..end), 1 = NNAPI
//! Model     = api_level u32
//!             · operand_count u32 · Operand × operand_count
//!             · operation_count u32 · Operation × operation_count
//!             · input_count u32 · (operand index u32) × input_count
//!             · output_count u32 · (operand index u32) × output_count
//!             · Place × input_count · Place × output_count
//! Operand   = type i32 (OperandCode) · rank u32 · (dimension u32) × rank
//!             · scale f32 · zero_point i32 · Value · Quant
//! Value     = tag u32, then by tag:
//!             0 temporary | 1 model input | 2 model output | 3 no value (setOperandValue(NULL, 0))
//!             | 4 inline: len u32 · bytes × len · zero padding to a multiple of 4
//!             | 5 weight: offset u64 · len u64 (bytes of the program's weight blob)
//!             | 6 blocked: offset u64 · len u64 · channels u64 · taps u64 · elem u32 · order u32
//!               (the CPU code's blocked copy `[ceil(channels/16)][taps][16]` of `elem`-byte
//!               elements in the weight blob; the value is it unpacked to `[channels][taps]`
//!               with order 0, `[taps][channels]` with order 1)
//! Quant     = 0 u32 (none)
//!           | 1 u32 · channel_dim u32 · scale_count u32 · (scale f32) × scale_count
//! Operation = type i32 (OperationCode) · input_count u32 · (operand index u32) × input_count
//!             · output_count u32 · (operand index u32) × output_count
//! Place     = tag u32 · index u64 · offset u64 · len u64
//!             tag: 0 = arena (index 0) | 1 = caller's input buffer `index`
//!                  | 2 = caller's output buffer `index`
//! ```
//!
//! Nothing follows the last segment. The reader (`mvcc_runtime::nnapi::format`) also checks what
//! the layout cannot express: segments cover `0..steps` in order without gaps, every operand index
//! is below the operand count (which is at most `i32::MAX`), no output place is a caller's input
//! buffer, weight ranges do not overflow, a blocked range holds exactly the blocked layout's
//! bytes, and padding bytes are zero.
//!
//! Version 2 added the blocked value (version 1 repeated every filter in NNAPI's layout).
//!
//! A list longer than `u32::MAX` entries (never produced by lowering) is written with a saturated
//! count, which the reader rejects.

use super::desc::{Lifetime, Partition, Place, SegmentKind};

/// The first four bytes of every blob.
pub const MAGIC: [u8; 4] = *b"MVNN";

/// The format version this module writes.
pub const VERSION: u32 = 2;

/// Segment kind: mvcc's CPU code.
pub const SEGMENT_CPU: u32 = 0;
/// Segment kind: an NNAPI model.
pub const SEGMENT_NNAPI: u32 = 1;

/// Value tag: a temporary (written and read by operations of the model).
pub const VALUE_TEMPORARY: u32 = 0;
/// Value tag: a model input.
pub const VALUE_INPUT: u32 = 1;
/// Value tag: a model output.
pub const VALUE_OUTPUT: u32 = 2;
/// Value tag: an omitted optional operand.
pub const VALUE_NO_VALUE: u32 = 3;
/// Value tag: a constant whose bytes follow.
pub const VALUE_INLINE: u32 = 4;
/// Value tag: a constant in the weight blob.
pub const VALUE_WEIGHT: u32 = 5;
/// Value tag: a constant unpacked from the CPU code's blocked copy in the weight blob.
pub const VALUE_BLOCKED: u32 = 6;

/// Place tag: the arena.
pub const PLACE_ARENA: u32 = 0;
/// Place tag: a caller's input buffer.
pub const PLACE_MODEL_INPUT: u32 = 1;
/// Place tag: a caller's output buffer.
pub const PLACE_MODEL_OUTPUT: u32 = 2;

/// Encodes `p` in the format described in the module documentation.
pub fn encode(p: &Partition) -> Vec<u8> {
    let mut w = Writer(Vec::new());
    w.0.extend_from_slice(&MAGIC);
    w.u32(VERSION);
    w.u32(p.api_level);
    w.usize(p.steps);
    w.count(p.segments.len());
    for s in &p.segments {
        match &s.kind {
            SegmentKind::Cpu => {
                w.u32(SEGMENT_CPU);
                w.usize(s.steps.start);
                w.usize(s.steps.end);
            }
            SegmentKind::Nnapi {
                desc,
                inputs,
                outputs,
            } => {
                w.u32(SEGMENT_NNAPI);
                w.usize(s.steps.start);
                w.usize(s.steps.end);
                w.u32(desc.api_level);
                w.count(desc.operands.len());
                for o in &desc.operands {
                    w.i32(o.ty.code());
                    w.u32s(&o.dims);
                    w.u32(o.scale.to_bits());
                    w.i32(o.zero_point);
                    match &o.lifetime {
                        Lifetime::Temporary => w.u32(VALUE_TEMPORARY),
                        Lifetime::Input => w.u32(VALUE_INPUT),
                        Lifetime::Output => w.u32(VALUE_OUTPUT),
                        Lifetime::NoValue => w.u32(VALUE_NO_VALUE),
                        Lifetime::Inline(bytes) => {
                            w.u32(VALUE_INLINE);
                            w.count(bytes.len());
                            w.0.extend_from_slice(bytes);
                            w.pad();
                        }
                        Lifetime::Weight(r) => {
                            w.u32(VALUE_WEIGHT);
                            w.usize(r.offset);
                            w.usize(r.len);
                        }
                        Lifetime::Blocked(b) => {
                            w.u32(VALUE_BLOCKED);
                            w.usize(b.range.offset);
                            w.usize(b.range.len);
                            w.usize(b.layout.channels);
                            w.usize(b.layout.taps);
                            w.count(b.layout.elem);
                            w.u32(u32::from(b.layout.taps_first));
                        }
                    }
                    match &o.channel_quant {
                        None => w.u32(0),
                        Some(q) => {
                            w.u32(1);
                            w.u32(q.channel_dim);
                            w.count(q.scales.len());
                            for s in &q.scales {
                                w.u32(s.to_bits());
                            }
                        }
                    }
                }
                w.count(desc.operations.len());
                for op in &desc.operations {
                    w.i32(op.ty.code());
                    w.u32s(&op.inputs);
                    w.u32s(&op.outputs);
                }
                w.u32s(&desc.inputs);
                w.u32s(&desc.outputs);
                // The place lists have no count of their own: they are as long as the model's
                // input and output lists, which the reader checks by reading exactly that many.
                for place in inputs.iter().chain(outputs) {
                    w.place(place);
                }
            }
        }
    }
    w.0
}

struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn usize(&mut self, v: usize) {
        // `usize` is at most 64 bits on every target Rust supports.
        self.0.extend_from_slice(&(v as u64).to_le_bytes());
    }

    fn count(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }

    fn u32s(&mut self, v: &[u32]) {
        self.count(v.len());
        for &x in v {
            self.u32(x);
        }
    }

    fn pad(&mut self) {
        while !self.0.len().is_multiple_of(4) {
            self.0.push(0);
        }
    }

    fn place(&mut self, p: &Place) {
        let (tag, index, offset, len) = match *p {
            Place::Arena { offset, len } => (PLACE_ARENA, 0, offset, len),
            Place::ModelInput { index, offset, len } => (PLACE_MODEL_INPUT, index, offset, len),
            Place::ModelOutput { index, offset, len } => (PLACE_MODEL_OUTPUT, index, offset, len),
        };
        self.u32(tag);
        self.usize(index);
        self.usize(offset);
        self.usize(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::WeightRange;
    use crate::nnapi::desc::{
        ChannelQuant, Description, Operand, OperandType, Operation, OperationType, Segment,
    };

    fn operand(ty: OperandType, dims: &[u32], lifetime: Lifetime) -> Operand {
        Operand {
            name: String::new(),
            ty,
            dims: dims.to_vec(),
            scale: 0.5,
            zero_point: -3,
            lifetime,
            channel_quant: None,
        }
    }

    #[test]
    fn layout_of_a_small_partition() {
        let mut desc = Description {
            api_level: 29,
            ..Description::default()
        };
        desc.add_operand(operand(OperandType::TensorFloat32, &[2], Lifetime::Input));
        let mut w = operand(
            OperandType::TensorQuant8SymmPerChannel,
            &[2],
            Lifetime::Weight(WeightRange { offset: 64, len: 2 }),
        );
        w.channel_quant = Some(ChannelQuant {
            channel_dim: 0,
            scales: vec![0.25, 1.0],
        });
        desc.add_operand(w);
        desc.add_operand(operand(OperandType::Bool, &[], Lifetime::Inline(vec![1])));
        desc.add_operand(operand(OperandType::TensorFloat32, &[2], Lifetime::Output));
        desc.operations.push(Operation {
            ty: OperationType::Add,
            inputs: vec![0, 1, 2],
            outputs: vec![3],
        });
        desc.inputs = vec![0];
        desc.outputs = vec![3];
        let p = Partition {
            api_level: 29,
            steps: 2,
            segments: vec![
                Segment {
                    steps: 0..1,
                    kind: SegmentKind::Cpu,
                },
                Segment {
                    steps: 1..2,
                    kind: SegmentKind::Nnapi {
                        desc,
                        inputs: vec![Place::Arena { offset: 0, len: 8 }],
                        outputs: vec![Place::ModelOutput {
                            index: 1,
                            offset: 4,
                            len: 8,
                        }],
                    },
                },
            ],
        };
        let b = encode(&p);
        assert_eq!(b.len() % 4, 0);
        assert_eq!(&b[0..4], b"MVNN");
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        assert_eq!(word(4), VERSION);
        assert_eq!(word(8), 29);
        assert_eq!(word(12), 2); // steps, low half
        assert_eq!(word(20), 2); // segments
        assert_eq!(word(24), SEGMENT_CPU);
        assert_eq!(word(44), SEGMENT_NNAPI);
        // The inline BOOL: tag, length 1, the byte and three zero bytes.
        let inline = b
            .windows(12)
            .position(|w| w == [4, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0])
            .unwrap();
        assert_eq!(inline % 4, 0);
        // The output place closes the blob: tag 2, index 1, offset 4, len 8.
        let tail: Vec<u8> = [2u32.to_le_bytes().to_vec(), 1u64.to_le_bytes().to_vec()]
            .into_iter()
            .chain([4u64.to_le_bytes().to_vec(), 8u64.to_le_bytes().to_vec()])
            .flatten()
            .collect();
        assert!(b.ends_with(&tail));
        assert_eq!(encode(&p), b, "deterministic");
    }
}

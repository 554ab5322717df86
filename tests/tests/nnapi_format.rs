//! The NNAPI description format: the runtime's reader (`mvcc_runtime::nnapi::format`) gives back
//! every field the compiler's encoder (`mvcc::nnapi::encode`) wrote, and rejects truncated,
//! garbled or inconsistent blobs with an error, never a panic.

#[path = "nnapi/partitions.rs"]
mod partitions;

use mvcc::nnapi::encode::encode;
use mvcc::nnapi::{Description, Lifetime, Partition, Place, Segment, SegmentKind};
use mvcc_runtime::nnapi::format::{self, FormatError};
use partitions::*;

/// Checks that the reader gives back every field of `p`.
fn assert_round_trip(p: &Partition) {
    let blob = encode(p);
    let r = format::parse(&blob).unwrap();
    assert_eq!((r.api_level, r.steps), (p.api_level, p.steps));
    assert_eq!(r.segment_count(), p.segments.len());
    for (s, rs) in p.segments.iter().zip(r.segments()) {
        assert_eq!(rs.steps, s.steps);
        match (&s.kind, rs.kind) {
            (SegmentKind::Cpu, format::SegmentKind::Cpu) => {}
            (
                SegmentKind::Nnapi {
                    desc,
                    inputs,
                    outputs,
                },
                format::SegmentKind::Nnapi(m),
            ) => {
                assert_eq!(m.api_level, desc.api_level);
                assert_eq!(m.operand_count() as usize, desc.operands.len());
                for (o, ro) in desc.operands.iter().zip(m.operands()) {
                    assert_eq!(ro.ty, o.ty.code());
                    assert_eq!(ro.dims.iter().collect::<Vec<_>>(), o.dims);
                    assert_eq!(ro.scale.to_bits(), o.scale.to_bits());
                    assert_eq!(ro.zero_point, o.zero_point);
                    let value = match &o.lifetime {
                        Lifetime::Temporary => format::Value::Temporary,
                        Lifetime::Input => format::Value::Input,
                        Lifetime::Output => format::Value::Output,
                        Lifetime::NoValue => format::Value::NoValue,
                        Lifetime::Inline(b) => format::Value::Inline(b),
                        Lifetime::Weight(w) => format::Value::Weight {
                            offset: w.offset,
                            len: w.len,
                        },
                        Lifetime::Blocked(b) => format::Value::Blocked(format::Blocked {
                            offset: b.range.offset,
                            len: b.range.len,
                            layout: b.layout,
                        }),
                    };
                    assert_eq!(ro.value, value);
                    match (&o.channel_quant, ro.channel_quant) {
                        (None, None) => {}
                        (Some(q), Some(rq)) => {
                            assert_eq!(rq.channel_dim, q.channel_dim);
                            assert_eq!(rq.scales.iter().collect::<Vec<_>>(), q.scales);
                        }
                        other => panic!("channel quant differs: {other:?}"),
                    }
                }
                assert_eq!(m.operations().count(), desc.operations.len());
                for (op, rop) in desc.operations.iter().zip(m.operations()) {
                    assert_eq!(rop.ty, op.ty.code());
                    assert_eq!(rop.inputs.iter().collect::<Vec<_>>(), op.inputs);
                    assert_eq!(rop.outputs.iter().collect::<Vec<_>>(), op.outputs);
                }
                assert_eq!(m.inputs.iter().collect::<Vec<_>>(), desc.inputs);
                assert_eq!(m.outputs.iter().collect::<Vec<_>>(), desc.outputs);
                let places = |v: &[Place]| -> Vec<format::Place> {
                    v.iter()
                        .map(|p| match *p {
                            Place::Arena { offset, len } => format::Place::Arena { offset, len },
                            Place::ModelInput { index, offset, len } => {
                                format::Place::ModelInput { index, offset, len }
                            }
                            Place::ModelOutput { index, offset, len } => {
                                format::Place::ModelOutput { index, offset, len }
                            }
                        })
                        .collect()
                };
                assert_eq!(m.input_places().collect::<Vec<_>>(), places(inputs));
                assert_eq!(m.output_places().collect::<Vec<_>>(), places(outputs));
                assert_eq!(m.input_place(0), places(inputs).first().copied());
            }
            other => panic!("segment kinds differ: {other:?}"),
        }
    }
}

fn partitions() -> Vec<Partition> {
    vec![
        conv_only(),
        per_channel(),
        per_channel_blocked(),
        cpu_nnapi_cpu(),
        two_nnapi(),
    ]
}

#[test]
fn the_reader_gives_back_what_the_compiler_wrote() {
    for p in partitions() {
        assert_round_trip(&p);
        assert_eq!(encode(&p), encode(&p.clone()), "deterministic");
    }
    assert_round_trip(&Partition::default());
}

#[test]
fn every_truncation_is_an_error() {
    for p in partitions() {
        let blob = encode(&p);
        for n in 0..blob.len() {
            assert!(format::parse(&blob[..n]).is_err(), "prefix of {n} bytes");
        }
        let mut longer = blob.clone();
        longer.push(0);
        assert_eq!(
            format::parse(&longer).err(),
            Some(FormatError::TrailingBytes { offset: blob.len() })
        );
    }
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn garbled_blobs_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for p in partitions() {
        let blob = encode(&p);
        // Every byte set to a few interesting values.
        for i in 0..blob.len() {
            for v in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut b = blob.clone();
                b[i] = v;
                if let Ok(r) = format::parse(&b) {
                    // Whatever parses can be walked completely.
                    walk(&r);
                }
            }
        }
        // Random multi-byte damage.
        for _ in 0..2000 {
            let mut b = blob.clone();
            for _ in 0..1 + rng.next() % 4 {
                let i = (rng.next() % b.len() as u64) as usize;
                b[i] = rng.next() as u8;
            }
            if let Ok(r) = format::parse(&b) {
                walk(&r);
            }
        }
    }
    // Pure noise.
    for len in 0..300 {
        let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if len >= 8 {
            b[..4].copy_from_slice(b"MVNN");
            b[4..8].copy_from_slice(&1u32.to_le_bytes());
        }
        if let Ok(r) = format::parse(&b) {
            walk(&r);
        }
    }
}

fn walk(r: &format::Partition<'_>) -> usize {
    let mut n = 0;
    for s in r.segments() {
        if let format::SegmentKind::Nnapi(m) = s.kind {
            n += m.operands().map(|o| o.dims.len()).sum::<usize>();
            n += m.operations().map(|o| o.inputs.len()).sum::<usize>();
            n += m.input_places().count() + m.output_places().count();
        }
    }
    n
}

#[test]
fn specific_damage_gives_specific_errors() {
    let blob = encode(&cpu_nnapi_cpu());
    let mut b = blob.clone();
    b[0] = b'X';
    assert_eq!(format::parse(&b).err(), Some(FormatError::Magic));
    // The first segment's kind.
    let mut b = blob.clone();
    b[24] = 7;
    assert_eq!(
        format::parse(&b).err(),
        Some(FormatError::Tag {
            offset: 24,
            what: "segment kind",
            tag: 7
        })
    );
    // A gap between segments: the second starts at 3.
    let mut b = blob.clone();
    b[48] = 3;
    assert_eq!(
        format::parse(&b).err(),
        Some(FormatError::Steps { segment: 1 })
    );
    // More steps than the segments cover.
    let mut b = blob.clone();
    b[12] = 6;
    assert_eq!(
        format::parse(&b).err(),
        Some(FormatError::Steps { segment: 3 })
    );
    // The ADD's input list names operand 9 (of 5).
    let add = find(
        &blob,
        &[0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0],
    );
    let mut b = blob.clone();
    b[add + 8] = 9;
    assert_eq!(
        format::parse(&b).err(),
        Some(FormatError::OperandIndex {
            offset: add + 8,
            index: 9,
            count: 5
        })
    );
    // The output place made a caller input: the input place and the output place (28 bytes
    // each) close the NNAPI segment, and the last CPU segment (20 bytes) follows.
    let mut b = blob.clone();
    let out_tag = blob.len() - 20 - 28;
    assert_eq!(b[out_tag], 0, "an arena place");
    b[out_tag] = 1;
    assert_eq!(
        format::parse(&b).err(),
        Some(FormatError::OutputToInput {
            segment: 1,
            output: 0
        })
    );
    // Non-zero padding after an inline constant: the 1-byte BOOL of a hand-made operand.
    let mut d = Description {
        api_level: 29,
        ..Description::default()
    };
    d.bool("flag", true);
    let p = Partition {
        api_level: 29,
        steps: 1,
        segments: vec![Segment {
            steps: 0..1,
            kind: SegmentKind::Nnapi {
                desc: d,
                inputs: vec![],
                outputs: vec![],
            },
        }],
    };
    let blob = encode(&p);
    let flag = find(&blob, &[4, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
    assert_round_trip(&p);
    let mut b = blob.clone();
    b[flag + 9] = 1;
    assert_eq!(
        format::parse(&b).err(),
        Some(FormatError::Padding { offset: flag + 9 })
    );
    assert_eq!(
        FormatError::Padding { offset: 3 }.to_string(),
        "non-zero padding at byte 3 of the description"
    );
}

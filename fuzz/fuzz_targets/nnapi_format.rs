//! Fuzzes the runtime's reader of NNAPI partitions: any bytes give a partition or an error, and
//! every view of a partition that reads back (segments, operands, operations, places, blocked
//! constants unpacked from a small weight blob) works without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mvcc_runtime::nnapi::format::{self, SegmentKind, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(p) = format::parse(data) else {
        return;
    };
    let weights = [7u8; 4096];
    for s in p.segments() {
        let SegmentKind::Nnapi(m) = s.kind else {
            continue;
        };
        for o in m.operands() {
            let _ = o.dims.iter().count();
            if let Some(q) = o.channel_quant {
                let _ = q.scales.iter().count();
            }
            if let Value::Blocked(b) = o.value {
                // The reader bounds the unpacked size by the blocked range, which must lie
                // inside the weights for the allocation to be worth making.
                if b.offset.checked_add(b.len).is_some_and(|end| end <= weights.len()) {
                    let mut v = vec![0; b.unpacked_len()];
                    assert!(b.unpack(&weights, &mut v));
                }
            }
        }
        for op in m.operations() {
            let _ = (op.inputs.iter().count(), op.outputs.iter().count());
        }
        let _ = (m.input_places().count(), m.output_places().count());
    }
});

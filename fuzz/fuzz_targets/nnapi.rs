//! Fuzzes the NNAPI path from a model: any model that imports must partition for NNAPI (at API
//! levels 30 and 27) without panicking; every NNAPI model the lowering writes must pass the
//! validator; the encoded partition must read back with the runtime's reader, every blocked
//! constant unpacking to the value the compiler means; and small models must run through the
//! reference executor on zero inputs without panicking.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use mvcc::nnapi::{Lifetime, SegmentKind};
use mvcc_runtime::nnapi::format::{self, Value};

fuzz_target!(|data: &[u8]| {
    let Some(g) = common::small_model(data) else {
        return;
    };
    for api in [30, 27] {
        let Ok(c) = mvcc::nnapi::partition::compile(&g, api) else {
            continue;
        };
        let weights = &c.program.weights.bytes;
        let mut descs = Vec::new();
        for s in &c.partition.segments {
            if let SegmentKind::Nnapi { desc, .. } = &s.kind {
                let issues = mvcc::nnapi::validate::validate(desc, weights);
                assert!(issues.is_empty(), "API {api}: the lowering wrote an invalid model: {issues:?}");
                descs.push(desc);
            }
        }
        let blob = mvcc::nnapi::encode::encode(&c.partition);
        let read = format::parse(&blob).expect("the runtime must read what the compiler writes");
        let models = read.segments().filter_map(|s| match s.kind {
            format::SegmentKind::Nnapi(m) => Some(m),
            format::SegmentKind::Cpu => None,
        });
        for (desc, m) in descs.iter().zip(models) {
            for (o, ro) in desc.operands.iter().zip(m.operands()) {
                if let (Lifetime::Blocked(b), Value::Blocked(rb)) = (&o.lifetime, ro.value) {
                    let mut value = vec![0; rb.unpacked_len()];
                    assert!(rb.unpack(weights, &mut value));
                    assert_eq!(Some(value), b.unpack(weights));
                }
            }
        }
        let _ = mvcc::nnapi::run::run_reference(&c, &common::zero_inputs(&g), false);
    }
});

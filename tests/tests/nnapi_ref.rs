//! Every fixture lowered to NNAPI (partitioned at API level 30 with no limit on the number of
//! NNAPI segments, and again at 27 with the default limit) and run on the host: NNAPI segments through the reference executor, CPU segments as the CPU code runs them.
//! Every tensor an operator writes is compared with TFLite's reference kernels like the other back
//! ends (integers bit for bit, floats within the suite's tolerance), including the tensors inside
//! NNAPI segments. Each NNAPI model must also pass the validator, and the partition must put at
//! least one op on NNAPI for every fixture whose ops NNAPI has.
//!
//! Known failures are listed with their reason; they must still fail. `MVCC_CASE` selects cases.

use mvcc::nnapi::partition::{compile, compile_with, Options};
use mvcc::nnapi::run::run_reference;
use mvcc::nnapi::SegmentKind;
use mvcc_tests::{check_values, fixture_inputs, run_suite, Fixture};

/// Cases expected to fail, with the reason. Each must still fail.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

fn run_at(f: &Fixture, options: Options) -> Result<Vec<String>, String> {
    let api_level = options.api_level;
    let (inputs, shapes) = fixture_inputs(f)?;
    let graph = mvcc::load_model_with_shapes(&f.model(), &shapes)
        .map_err(|e| format!("import failed: {e}"))?;
    let c = compile_with(&graph, &options).map_err(|e| format!("NNAPI compile failed: {e}"))?;
    let mut bad = Vec::new();
    for (k, s) in c.partition.segments.iter().enumerate() {
        if let SegmentKind::Nnapi { desc, .. } = &s.kind {
            for issue in mvcc::nnapi::validate::validate(desc, &c.program.weights.bytes) {
                bad.push(format!(
                    "API {api_level}, segment {k}: invalid NNAPI model: {issue}"
                ));
            }
        }
    }
    let (_, values) = run_reference(&c, &inputs, true)
        .map_err(|e| format!("API {api_level}: reference run failed: {e}"))?;
    for m in check_values(f, &c.graph, &c.program, &values) {
        bad.push(format!("API {api_level}: {m}"));
    }
    Ok(bad)
}

fn run_nnapi(f: &Fixture) -> Result<Vec<String>, String> {
    let unlimited = Options {
        max_segments: 0,
        ..Options::new(30)
    };
    let mut bad = run_at(f, unlimited)?;
    bad.extend(run_at(f, Options::new(27))?);
    Ok(bad)
}

#[test]
fn every_fixture_matches_tflite_through_the_nnapi_lowering() {
    run_suite("NNAPI reference", KNOWN_FAILURES, run_nnapi);
}

/// The partition is not vacuous: models NNAPI can take whole go to one NNAPI segment, and the
/// API level decides what stays on the CPU.
#[test]
fn partitions_put_what_nnapi_can_take_on_nnapi() {
    let on_nnapi = |name: &str, api: u32| {
        let f = mvcc_tests::fixture(name).unwrap();
        let graph = mvcc::load_model(&f.model()).unwrap();
        let c = compile(&graph, api).unwrap();
        let nn = c
            .partition
            .segments
            .iter()
            .filter(|s| matches!(s.kind, SegmentKind::Nnapi { .. }))
            .count();
        let ops = c.ops.iter().filter(|o| o.cpu_reason.is_none()).count();
        (nn, ops, c.ops.len(), c.partition.api_level)
    };
    // Float MobileNet v2 and the face detector: every op, one segment, API 28 (MEAN/PAD).
    for name in ["mobilenet_v2_f32", "mp_face_detection_short_range"] {
        let (nn, ops, all, api) = on_nnapi(name, 30);
        assert_eq!((nn, ops), (1, all), "{name}");
        assert!(api <= 28, "{name}: needs API {api}");
    }
    // Signed int8 needs API 30: at 29 the int8 MobileNet stays on the CPU, at 30 it goes to
    // NNAPI except the global average pool, whose output is requantized (NNAPI's MEAN cannot).
    let (nn, ops, _, _) = on_nnapi("mobilenet_v1_i8", 29);
    assert_eq!((nn, ops), (0, 0));
    let (nn, ops, all, api) = on_nnapi("mobilenet_v1_i8", 30);
    assert_eq!((nn, ops, api), (2, all - 1, 30));
    // HARD_SWISH needs API 30.
    let (_, ops29, _, _) = on_nnapi("act_f32", 29);
    let (_, ops30, _, _) = on_nnapi("act_f32", 30);
    assert!(
        ops30 > ops29,
        "act_f32: {ops29} ops at API 29, {ops30} at 30"
    );
}

/// An NNAPI-enabled model carries its weights once: filters refer to the CPU kernels' blocked
/// copies, float biases and other constants to the CPU's identical bytes. Only quantized biases
/// (whose CPU copies have zero-point terms folded in) and NNAPI-only constants are added.
#[test]
fn nnapi_constants_share_the_cpu_weights() {
    for name in [
        "mobilenet_v2_f32",
        "mp_face_detection_short_range",
        "mobilenet_v1_i8",
        "mobilenet_v3_i8",
        "tf1_net_u8",
    ] {
        let f = mvcc_tests::fixture(name).unwrap();
        let graph = mvcc::load_model(&f.model()).unwrap();
        let cpu = mvcc::lower::lower(&mvcc::passes::optimize(&graph).unwrap())
            .unwrap()
            .weights
            .bytes
            .len();
        let c = compile(&graph, 30).unwrap();
        let mut shared = 0;
        for s in &c.partition.segments {
            let SegmentKind::Nnapi { desc, .. } = &s.kind else {
                continue;
            };
            for op in &desc.operations {
                use mvcc::nnapi::{Lifetime, OperationType as T};
                for (slot, &i) in op.inputs.iter().enumerate() {
                    let o = &desc.operands[i as usize];
                    let filter = slot == 1
                        && matches!(op.ty, T::Conv2d | T::DepthwiseConv2d | T::FullyConnected);
                    let float_bias = slot == 2 && o.ty == mvcc::nnapi::OperandType::TensorFloat32;
                    match &o.lifetime {
                        Lifetime::Blocked(b) => {
                            assert!(filter, "{name}: {} is not a filter", o.name);
                            assert!(b.range.offset + b.range.len <= cpu, "{name}: {}", o.name);
                            shared += 1;
                        }
                        Lifetime::Weight(r) if filter || float_bias => {
                            assert!(r.offset + r.len <= cpu, "{name}: {} is a copy", o.name);
                            shared += 1;
                        }
                        _ => {}
                    }
                }
            }
        }
        assert!(shared > 0, "{name}: nothing shared");
        let added = c.program.weights.bytes.len() - cpu;
        assert_eq!(c.nnapi_weight_bytes, added, "{name}");
        if !name.ends_with("i8") && !name.ends_with("u8") {
            assert_eq!(added, 0, "{name}: NNAPI added {added} weight bytes");
        }
    }
}

/// Over the segment limit, the NNAPI segments with the most MACs stay on NNAPI and the others'
/// ops run on the CPU with the reason; the constants of the cut segments leave no bytes behind.
#[test]
fn only_the_largest_nnapi_segments_are_kept() {
    let f = mvcc_tests::fixture("mobilenet_v3_i8").unwrap();
    let graph = mvcc::load_model(&f.model()).unwrap();
    let with = |max_segments| {
        compile_with(
            &graph,
            &Options {
                max_segments,
                ..Options::new(30)
            },
        )
        .unwrap()
    };
    let nnapi_segments = |c: &mvcc::nnapi::partition::Compiled| -> Vec<usize> {
        (0..c.partition.segments.len())
            .filter(|&k| matches!(c.partition.segments[k].kind, SegmentKind::Nnapi { .. }))
            .collect()
    };
    let macs = |c: &mvcc::nnapi::partition::Compiled, k: usize| -> u64 {
        c.ops
            .iter()
            .filter(|o| o.segment == k && o.cpu_reason.is_none())
            .map(|o| mvcc::inspect::op_macs(&c.graph, o.op))
            .sum()
    };
    let all = with(0);
    let mut all_macs: Vec<u64> = nnapi_segments(&all)
        .iter()
        .map(|&k| macs(&all, k))
        .collect();
    assert!(all_macs.len() > 3, "{} NNAPI segments", all_macs.len());
    all_macs.sort_unstable_by(|a, b| b.cmp(a));
    for max in [1, 3] {
        let c = with(max);
        let kept = nnapi_segments(&c);
        assert_eq!(kept.len(), max);
        let mut kept_macs: Vec<u64> = kept.iter().map(|&k| macs(&c, k)).collect();
        kept_macs.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(kept_macs, all_macs[..max], "max {max}");
        let cut = c
            .ops
            .iter()
            .filter(|o| {
                o.cpu_reason
                    .as_deref()
                    .is_some_and(|r| r.contains("NNAPI segments with the most work"))
            })
            .count();
        let on_nnapi = |c: &mvcc::nnapi::partition::Compiled| {
            c.ops.iter().filter(|o| o.cpu_reason.is_none()).count()
        };
        assert_eq!(on_nnapi(&all) - on_nnapi(&c), cut, "max {max}");
        // Fewer NNAPI constants: only the kept segments' are in the blob.
        assert!(c.program.weights.bytes.len() < all.program.weights.bytes.len());
        for s in &c.partition.segments {
            if let SegmentKind::Nnapi { desc, .. } = &s.kind {
                let issues = mvcc::nnapi::validate::validate(desc, &c.program.weights.bytes);
                assert!(issues.is_empty(), "{issues:?}");
            }
        }
    }
    // The default is TFLite's NNAPI delegate's.
    assert_eq!(nnapi_segments(&compile(&graph, 30).unwrap()).len(), 3);
}

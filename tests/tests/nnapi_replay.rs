//! The NNAPI target end to end without a device: hand-built partitions (`nnapi/partitions.rs`)
//! are encoded by the compiler (`mvcc::nnapi::encode`) and replayed by
//! `Accelerator::prepare_with` against a recording function table (`nnapi/fake.rs`). The tests pin
//! the exact call sequence and arguments, that every object created is freed (on error paths
//! too), and every fallback to the CPU.

#[path = "nnapi/fake.rs"]
mod fake;
#[path = "nnapi/partitions.rs"]
mod partitions;

use std::ffi::{c_void, CStr, CString};

use fake::*;
use mvcc::nnapi::encode::encode;
use mvcc::nnapi::{Partition, Segment, SegmentKind};
use mvcc_runtime::nnapi::format::FormatError;
use mvcc_runtime::nnapi::sys;
use mvcc_runtime::nnapi::{
    Accelerator, ActiveTarget, Cache, Fns, NnapiOptions, Preference, Target, Unavailable,
};
use partitions::*;

fn leak(b: Vec<u8>) -> &'static [u8] {
    Box::leak(b.into_boxed_slice())
}

struct Case {
    blob: &'static [u8],
    weights: &'static [u8],
}

fn case(p: &Partition) -> Case {
    let blob = leak(encode(p));
    let weights = leak((0..512u32).map(|i| i as u8).collect());
    region("blob", blob);
    region("w", weights);
    Case { blob, weights }
}

fn prepare(fns: Fns, c: &Case, options: NnapiOptions) -> (Accelerator, Option<Unavailable>) {
    Accelerator::prepare_with(fns, Target::Nnapi, c.blob, c.weights, options)
}

/// With only the first `len` bytes of the weights, the filter (operand 1 of segment 0) lies
/// outside them: the CPU runs the model.
fn assert_filter_outside_weights(fns: Fns, c: &Case, len: usize) {
    let short = &c.weights[..len];
    let (acc, why) =
        Accelerator::prepare_with(fns, Target::Nnapi, c.blob, short, NnapiOptions::default());
    let want = Unavailable::WeightRange {
        segment: 0,
        operand: 1,
    };
    assert_eq!(why, Some(want));
    assert_eq!(acc.active(), ActiveTarget::Cpu);
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Replays.

#[test]
fn conv_only_replays_every_call_with_its_arguments_and_frees_everything() {
    reset(31);
    let c = case(&conv_only());
    let bias_at = find(c.blob, &0.5f32.to_le_bytes());
    let (mut acc, why) = prepare(fns(), &c, NnapiOptions::default());
    assert_eq!(why, None);
    assert_eq!(acc.active(), ActiveTarget::Nnapi);
    assert_eq!(acc.reason(), None);
    let log = take_log();
    // The bias' 16 bytes and its quantization flag, then four INT32 scalars of 32 bytes each
    // (type, rank, scale, zero point, tag, length, value, flag): the values at +24.
    let ints: Vec<usize> = (0..4).map(|k| bias_at + 16 + 4 + 32 * k + 24).collect();
    for (&at, v) in ints.iter().zip([1i32, 1, 2, 1]) {
        assert_eq!(c.blob[at..at + 4], v.to_le_bytes());
    }
    let mut expected = strings(&[
        "getDeviceCount",
        "getDevice(0)",
        "getDevice(1)",
        "Model_create -> model1",
        "Model_addOperand(model1, type=3 dims=[1, 8, 8, 3] scale=0 zp=0)",
        "Model_addOperand(model1, type=3 dims=[4, 3, 3, 3] scale=0 zp=0)",
        "Model_setOperandValue(model1, 1, w+64, 432)",
        "Model_addOperand(model1, type=3 dims=[4] scale=0 zp=0)",
    ]);
    expected.push(format!(
        "Model_setOperandValue(model1, 2, blob+{bias_at}, 16)"
    ));
    for (i, at) in ints.iter().enumerate() {
        expected.push("Model_addOperand(model1, type=1 dims=[] scale=0 zp=0)".into());
        expected.push(format!(
            "Model_setOperandValue(model1, {}, blob+{at}, 4)",
            i + 3
        ));
    }
    expected.extend(strings(&[
        "Model_addOperand(model1, type=3 dims=[1, 4, 8, 4] scale=0 zp=0)",
        "Model_addOperation(model1, 3, [0, 1, 2, 3, 4, 5, 6], [7])",
        "Model_identifyInputsAndOutputs(model1, [0], [7])",
        "Model_finish(model1)",
        // Checked and compiled for the accelerator only, never the reference device.
        "Model_getSupportedOperationsForDevices(model1, [\"vendor-npu\"]) -> 0 [true]",
        "Compilation_createForDevices(model1, [\"vendor-npu\"]) -> compilation2",
        "Compilation_setPreference(compilation2, 1)",
        "Compilation_finish(compilation2)",
    ]));
    assert_eq!(log, expected);

    let input = vec![0u8; 768];
    let mut output = vec![0u8; 512];
    let mut arena = vec![0u8; 64];
    region("in0", &input);
    region("out0", &output);
    let mut cpu = Cpu {
        steps: 1,
        ..Cpu::default()
    };
    for _ in 0..2 {
        acc.run(&mut cpu, &[&input], &mut [&mut output], &mut arena)
            .unwrap();
        assert_eq!(
            take_log(),
            strings(&[
                "Execution_create(compilation2) -> execution3",
                "Execution_setInput(execution3, 0, NULL, in0+0, 768)",
                "Execution_setOutput(execution3, 0, NULL, out0+0, 512)",
                "Execution_compute(execution3)",
                "Execution_free(execution3)",
            ])
            .into_iter()
            .map(|l| l.replace("execution3", &format!("execution{}", with(|s| s.next))))
            .collect::<Vec<_>>()
        );
    }
    assert!(cpu.ran.is_empty());
    assert_eq!(live(), ["model1", "compilation2"]);
    drop(acc);
    assert_eq!(
        take_log(),
        ["Compilation_free(compilation2)", "Model_free(model1)"]
    );
    assert!(live().is_empty());
}

#[test]
fn per_channel_filter_gets_its_scales_and_weight_pointers() {
    reset(30);
    let c = case(&per_channel());
    let (acc, why) = prepare(fns_29(), &c, NnapiOptions::default());
    assert_eq!(why, None);
    let log = calls(&take_log());
    let expected_prefix = strings(&[
        "Model_create -> model1",
        "Model_addOperand(model1, type=14 dims=[1, 4, 4, 2] scale=0.5 zp=-1)",
        "Model_addOperand(model1, type=11 dims=[3, 1, 1, 2] scale=0 zp=0)",
        "Model_setOperandSymmPerChannelQuantParams(model1, 1, dim=0 scales=[0.25, 0.5, 0.125])",
        "Model_setOperandValue(model1, 1, w+0, 6)",
        "Model_addOperand(model1, type=4 dims=[3] scale=0 zp=0)",
        "Model_setOperandValue(model1, 2, w+64, 12)",
    ]);
    assert_eq!(log[..expected_prefix.len()], expected_prefix[..]);
    assert!(
        log.contains(&"Model_addOperand(model1, type=14 dims=[1, 4, 4, 3] scale=1 zp=3)".into())
    );
    assert!(log.contains(&"Model_addOperation(model1, 3, [0, 1, 2, 3, 4, 5, 6], [7])".into()));
    drop(acc);
    assert!(live().is_empty());
}

/// A filter the weights hold only in the CPU kernels' blocked layout reaches NNAPI unpacked, from
/// a buffer the runtime owns; a range past the weights, or a length that is not the blocked
/// layout's, is refused before any NNAPI call.
#[test]
fn a_blocked_filter_is_unpacked_for_nnapi() {
    reset(30);
    let c = case(&per_channel_blocked());
    let (acc, why) = prepare(fns_29(), &c, NnapiOptions::default());
    assert_eq!(why, None);
    let log = calls(&take_log());
    // weights[i] = i: channel c, tap t of the block is at 128 + 16·t + c.
    assert!(
        log.contains(&"Model_setOperandValue(model1, 1, heap[80 90 81 91 82 92], 6)".into()),
        "{log:#?}"
    );
    drop(acc);
    assert!(live().is_empty());

    reset(30);
    assert_filter_outside_weights(fns_29(), &c, 159);
    assert!(take_log().is_empty());

    // The blocked value's length field (after its tag and offset) made 31.
    let tag = find(c.blob, &[6, 0, 0, 0, 128, 0, 0, 0, 0, 0, 0, 0, 32]);
    let mut damaged = c.blob.to_vec();
    damaged[tag + 12] = 31;
    let (_, why) = Accelerator::prepare_with(
        fns_29(),
        Target::Nnapi,
        leak(damaged),
        c.weights,
        NnapiOptions::default(),
    );
    assert_eq!(
        why,
        Some(Unavailable::BadDescription(FormatError::Blocked {
            offset: tag
        }))
    );
    assert!(take_log().is_empty());
}

#[test]
fn cpu_and_nnapi_segments_run_in_order_at_their_places() {
    reset(29);
    let c = case(&cpu_nnapi_cpu());
    let big = big_inline();
    let big_at = find(c.blob, &big[4..]) - 4;
    let (mut acc, why) = prepare(fns(), &c, NnapiOptions::default());
    assert_eq!(why, None);
    let log = calls(&take_log());
    assert_eq!(
        log,
        [
            "Model_create -> model1".to_string(),
            "Model_addOperand(model1, type=3 dims=[50] scale=0 zp=0)".into(),
            "Model_addOperand(model1, type=3 dims=[50] scale=0 zp=0)".into(),
            format!("Model_setOperandValue(model1, 1, blob+{big_at}, 200)"),
            "Model_addOperand(model1, type=1 dims=[] scale=0 zp=0)".into(),
            format!(
                "Model_setOperandValue(model1, 2, blob+{}, 4)",
                big_at + 200 + 4 + 24
            ),
            "Model_addOperand(model1, type=3 dims=[50] scale=0 zp=0)".into(),
            "Model_setOperandValue(model1, 3, NULL, 0)".into(),
            "Model_addOperand(model1, type=3 dims=[50] scale=0 zp=0)".into(),
            "Model_addOperation(model1, 0, [0, 1, 2], [4])".into(),
            "Model_identifyInputsAndOutputs(model1, [0], [4])".into(),
            "Model_finish(model1)".into(),
            "Model_getSupportedOperationsForDevices(model1, [\"vendor-npu\"]) -> 0 [true]".into(),
            "Compilation_createForDevices(model1, [\"vendor-npu\"]) -> compilation2".into(),
            "Compilation_setPreference(compilation2, 1)".into(),
            "Compilation_finish(compilation2)".into(),
        ]
    );
    // The inline constant is passed where its bytes are, whatever its size.
    assert_eq!(&c.blob[big_at..big_at + 200], &big[..]);
    let mut arena = vec![0u8; 520];
    region("arena", &arena);
    let mut cpu = Cpu {
        steps: 5,
        ..Cpu::default()
    };
    acc.run(&mut cpu, &[], &mut [], &mut arena).unwrap();
    assert_eq!(
        take_log(),
        [
            "cpu 0..2",
            "Execution_create(compilation2) -> execution3",
            "Execution_setInput(execution3, 0, NULL, arena+64, 200)",
            "Execution_setOutput(execution3, 0, NULL, arena+320, 200)",
            "Execution_compute(execution3)",
            "Execution_free(execution3)",
            "cpu 4..5",
        ]
    );
    // A CPU step error is the run's error.
    cpu.fail_on = Some(4);
    assert!(acc.run(&mut cpu, &[], &mut [], &mut arena).is_err());
    assert_eq!(acc.active(), ActiveTarget::Nnapi);
    drop(acc);
    assert!(live().is_empty());
}

#[test]
fn api_27_waits_on_an_event_and_has_no_caching() {
    reset(0);
    let c = case(&conv_only());
    let options = NnapiOptions {
        preference: Preference::LowPower,
        cache: Some(Cache {
            dir: CString::new("/data/cache").unwrap(),
            token: [7; 32],
        }),
    };
    let (mut acc, why) = prepare(fns_27(), &c, options);
    assert_eq!(why, None);
    let log = take_log();
    assert!(!log
        .iter()
        .any(|l| l.starts_with("getDevice") || l.contains("Caching")));
    assert!(log.contains(&"Compilation_setPreference(compilation2, 0)".into()));
    let input = vec![0u8; 768];
    let mut output = vec![0u8; 512];
    region("in0", &input);
    region("out0", &output);
    let mut cpu = Cpu {
        steps: 1,
        ..Cpu::default()
    };
    acc.run(&mut cpu, &[&input], &mut [&mut output], &mut [])
        .unwrap();
    assert_eq!(
        take_log(),
        [
            "Execution_create(compilation2) -> execution3",
            "Execution_setInput(execution3, 0, NULL, in0+0, 768)",
            "Execution_setOutput(execution3, 0, NULL, out0+0, 512)",
            "Execution_startCompute(execution3) -> event4",
            "Event_wait(event4)",
            "Event_free(event4)",
            "Execution_free(execution3)",
        ]
    );
    // A failing wait: the event and execution are freed, the CPU takes over for good.
    fail("ANeuralNetworksEvent_wait", 2, sys::OP_FAILED);
    acc.run(&mut cpu, &[&input], &mut [&mut output], &mut [])
        .unwrap();
    assert_eq!(
        take_log(),
        [
            "Execution_create(compilation2) -> execution5",
            "Execution_setInput(execution5, 0, NULL, in0+0, 768)",
            "Execution_setOutput(execution5, 0, NULL, out0+0, 512)",
            "Execution_startCompute(execution5) -> event6",
            "Event_wait(event6)",
            "Event_free(event6)",
            "Execution_free(execution5)",
            "cpu 0..1",
            "Compilation_free(compilation2)",
            "Model_free(model1)",
        ]
    );
    assert_eq!(
        acc.reason(),
        Some(&Unavailable::Refused {
            call: "ANeuralNetworksEvent_wait",
            code: sys::OP_FAILED
        })
    );
    assert!(live().is_empty());
}

#[test]
fn preference_and_per_segment_cache_tokens() {
    reset(31);
    let c = case(&two_nnapi());
    let mut token = [0u8; 32];
    token[0] = 0xab;
    token[28] = 0x10;
    let options = NnapiOptions {
        preference: Preference::SustainedSpeed,
        cache: Some(Cache {
            dir: CString::new("/data/cache").unwrap(),
            token,
        }),
    };
    let (acc, why) = prepare(fns(), &c, options);
    assert_eq!(why, None);
    let log: Vec<String> = take_log()
        .into_iter()
        .filter(|l| l.starts_with("Compilation_"))
        .collect();
    let zeros = "00".repeat(27);
    assert_eq!(
        log,
        [
            "Compilation_createForDevices(model1, [\"vendor-npu\"]) -> compilation2".to_string(),
            "Compilation_setPreference(compilation2, 2)".into(),
            format!("Compilation_setCaching(compilation2, /data/cache, ab{zeros}10000000)"),
            "Compilation_finish(compilation2)".into(),
            "Compilation_createForDevices(model3, [\"vendor-npu\"]) -> compilation4".into(),
            "Compilation_setPreference(compilation4, 2)".into(),
            // Segment 2: its index XORed into the last four bytes.
            format!("Compilation_setCaching(compilation4, /data/cache, ab{zeros}12000000)"),
            "Compilation_finish(compilation4)".into(),
        ]
    );
    drop(acc);
    assert_eq!(
        take_log(),
        [
            "Compilation_free(compilation2)",
            "Model_free(model1)",
            "Compilation_free(compilation4)",
            "Model_free(model3)",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Fallbacks.

#[test]
fn on_this_host_the_library_is_missing_and_the_cpu_runs_everything() {
    reset(31);
    let c = case(&cpu_nnapi_cpu());
    let (mut acc, why) = Accelerator::prepare(Target::Nnapi, c.blob, c.weights);
    assert_eq!(why, Some(Unavailable::LibraryMissing));
    assert_eq!(acc.active(), ActiveTarget::Cpu);
    assert_eq!(acc.reason(), Some(&Unavailable::LibraryMissing));
    let (auto, why) = Accelerator::prepare(Target::Auto, c.blob, c.weights);
    assert_eq!(why, None, "Auto falls back silently");
    assert_eq!(auto.reason(), Some(&Unavailable::LibraryMissing));
    let (cpu_only, why) = Accelerator::prepare(Target::Cpu, c.blob, c.weights);
    assert_eq!((why, cpu_only.reason()), (None, None));
    assert_eq!(Fns::load().err(), Some(Unavailable::LibraryMissing));
    let mut cpu = Cpu {
        steps: 5,
        ..Cpu::default()
    };
    acc.run(&mut cpu, &[], &mut [], &mut []).unwrap();
    assert_eq!(cpu.ran, [(0, 5)]);
    assert_eq!(
        Unavailable::LibraryMissing.to_string(),
        "NNAPI unavailable: libneuralnetworks.so cannot be loaded"
    );
    assert!(take_log().iter().all(|l| l.starts_with("cpu")));
}

#[test]
fn an_accelerator_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Accelerator>();
    reset(31);
    let c = case(&conv_only());
    let (acc, why) = prepare(fns(), &c, NnapiOptions::default());
    assert_eq!(why, None);
    // Freed on another thread: the doubles' state is per thread, so nothing is logged here.
    std::thread::spawn(move || drop(acc)).join().unwrap();
    assert_eq!(live(), ["model1", "compilation2"]);
}

#[test]
fn cpu_target_and_cpu_accelerator_never_call_nnapi() {
    reset(31);
    let c = case(&cpu_nnapi_cpu());
    let (mut acc, why) = Accelerator::prepare_with(
        fns(),
        Target::Cpu,
        c.blob,
        c.weights,
        NnapiOptions::default(),
    );
    assert_eq!(
        (why, acc.reason(), acc.active()),
        (None, None, ActiveTarget::Cpu)
    );
    let mut cpu = Cpu {
        steps: 5,
        ..Cpu::default()
    };
    acc.run(&mut cpu, &[], &mut [], &mut []).unwrap();
    let mut plain = Accelerator::cpu();
    plain.run(&mut cpu, &[], &mut [], &mut []).unwrap();
    assert_eq!(take_log(), ["cpu 0..5", "cpu 0..5"]);
}

#[test]
fn a_missing_required_symbol_is_reported_by_name() {
    let f = fns();
    let table: Vec<(&str, *mut c_void)> = vec![
        ("ANeuralNetworksModel_create", f.model_create as *mut c_void),
        ("ANeuralNetworksModel_free", f.model_free as *mut c_void),
        (
            "ANeuralNetworksModel_addOperand",
            f.model_add_operand as *mut c_void,
        ),
        (
            "ANeuralNetworksModel_setOperandValue",
            f.model_set_operand_value as *mut c_void,
        ),
        (
            "ANeuralNetworksModel_addOperation",
            f.model_add_operation as *mut c_void,
        ),
        (
            "ANeuralNetworksModel_identifyInputsAndOutputs",
            f.model_identify_inputs_and_outputs as *mut c_void,
        ),
        ("ANeuralNetworksModel_finish", f.model_finish as *mut c_void),
        (
            "ANeuralNetworksCompilation_create",
            f.compilation_create as *mut c_void,
        ),
        (
            "ANeuralNetworksCompilation_free",
            f.compilation_free as *mut c_void,
        ),
        (
            "ANeuralNetworksCompilation_setPreference",
            f.compilation_set_preference as *mut c_void,
        ),
        (
            "ANeuralNetworksCompilation_finish",
            f.compilation_finish as *mut c_void,
        ),
        (
            "ANeuralNetworksExecution_create",
            f.execution_create as *mut c_void,
        ),
        (
            "ANeuralNetworksExecution_free",
            f.execution_free as *mut c_void,
        ),
        (
            "ANeuralNetworksExecution_setInput",
            f.execution_set_input as *mut c_void,
        ),
        (
            "ANeuralNetworksExecution_setOutput",
            f.execution_set_output as *mut c_void,
        ),
        (
            "ANeuralNetworksExecution_startCompute",
            f.execution_start_compute as *mut c_void,
        ),
        ("ANeuralNetworksEvent_wait", f.event_wait as *mut c_void),
        ("ANeuralNetworksEvent_free", f.event_free as *mut c_void),
    ];
    let names: Vec<&str> = table.iter().map(|e| e.0).collect();
    assert_eq!(names, sys::REQUIRED);
    let lookup = |skip: &'static str| {
        let table = table.clone();
        move |name: &CStr| {
            let name = name.to_str().unwrap();
            table
                .iter()
                .find(|e| e.0 == name && name != skip)
                .map_or(std::ptr::null_mut(), |e| e.1)
        }
    };
    // SAFETY: every pointer is a double with the NDK signature of its name.
    let all = unsafe { Fns::from_lookup(lookup("")) }.unwrap();
    assert!(all.execution_compute.is_none() && all.get_device_count.is_none());
    for &missing in sys::REQUIRED {
        // SAFETY: as above.
        let r = unsafe { Fns::from_lookup(lookup(missing)) };
        assert_eq!(r.err(), Some(Unavailable::MissingSymbol(missing)));
    }

    // A table from the lookup replays like the API-27 doubles.
    reset(0);
    let c = case(&conv_only());
    let (_acc, why) = prepare(all, &c, NnapiOptions::default());
    assert_eq!(why, None);
    assert!(take_log().contains(&"Model_finish(model1)".to_string()));
}

#[test]
fn a_per_channel_model_needs_the_api_29_function() {
    reset(31);
    let c = case(&per_channel());
    let f = Fns {
        model_set_operand_symm_per_channel_quant_params: None,
        ..fns()
    };
    let (acc, why) = prepare(f, &c, NnapiOptions::default());
    let missing =
        Unavailable::MissingSymbol("ANeuralNetworksModel_setOperandSymmPerChannelQuantParams");
    assert_eq!(why, Some(missing));
    assert_eq!(acc.active(), ActiveTarget::Cpu);
    assert!(calls(&take_log()).is_empty(), "nothing built");
}

#[test]
fn a_low_feature_level_falls_back() {
    // API 29 and later: the highest level of the devices compiled for, not the runtime's nor the
    // reference device's.
    reset(31);
    with(|s| s.devices[0].2 = 29);
    let c = case(&per_channel());
    let (acc, why) = prepare(fns(), &c, NnapiOptions::default());
    assert_eq!(why, Some(Unavailable::FeatureLevel { have: 29, need: 30 }));
    assert_eq!(acc.active(), ActiveTarget::Cpu);
    let log = take_log();
    assert!(!log.iter().any(|l| l.starts_with("getRuntime")), "{log:?}");
    assert!(calls(&log).is_empty(), "nothing built: {log:?}");
    let (_, why) = prepare(fns_29(), &c, NnapiOptions::default());
    assert_eq!(why, Some(Unavailable::FeatureLevel { have: 29, need: 30 }));
    // A second accelerator at level 30 is enough; both are compiled for.
    with(|s| {
        s.devices
            .push((CString::new("vendor-gpu").unwrap(), sys::DEVICE_GPU, 30))
    });
    take_log();
    let (acc, why) = prepare(fns(), &c, NnapiOptions::default());
    assert_eq!(why, None);
    assert!(take_log().contains(
        &"Compilation_createForDevices(model1, [\"vendor-npu\", \"vendor-gpu\"]) -> compilation2"
            .to_string()
    ));
    drop(acc);
    // Without createForDevices: the runtime's level (API 31) ...
    reset(30);
    with(|s| s.runtime_level = 29);
    let no_for_devices = Fns {
        compilation_create_for_devices: None,
        ..fns()
    };
    let (_, why) = prepare(no_for_devices, &c, NnapiOptions::default());
    assert_eq!(why, Some(Unavailable::FeatureLevel { have: 29, need: 30 }));
    // ... or the devices' highest (API 29/30, here 29 for both).
    reset(29);
    let f = Fns {
        get_runtime_feature_level: None,
        ..no_for_devices
    };
    let (_, why) = prepare(f, &c, NnapiOptions::default());
    assert_eq!(why, Some(Unavailable::FeatureLevel { have: 29, need: 30 }));
    reset(30);
    let (acc, why) = prepare(f, &c, NnapiOptions::default());
    assert_eq!(why, None);
    assert!(take_log().contains(&"Compilation_create(model1) -> compilation2".to_string()));
    drop(acc);
    // API 27: no device functions, level 27.
    reset(0);
    let c = case(&cpu_nnapi_cpu());
    let (acc, why) = prepare(fns_27(), &c, NnapiOptions::default());
    assert_eq!(why, Some(Unavailable::FeatureLevel { have: 27, need: 29 }));
    assert_eq!(acc.active(), ActiveTarget::Cpu);
    assert!(calls(&take_log()).is_empty());
    assert!(live().is_empty());
    assert_eq!(
        Unavailable::FeatureLevel { have: 27, need: 29 }.to_string(),
        "NNAPI unavailable: the device has feature level 27, the model needs API level 29"
    );
}

#[test]
fn only_the_cpu_reference_is_not_an_accelerator() {
    reset(31);
    with(|s| s.devices.remove(0));
    let c = case(&conv_only());
    let (acc, why) = prepare(fns(), &c, NnapiOptions::default());
    assert_eq!(why, Some(Unavailable::OnlyCpuReference));
    assert_eq!(acc.reason(), Some(&Unavailable::OnlyCpuReference));
    assert!(Unavailable::OnlyCpuReference
        .to_string()
        .contains("only the CPU reference"));
    assert!(calls(&take_log()).is_empty());
    // Auto: silent.
    let (acc, why) = Accelerator::prepare_with(
        fns(),
        Target::Auto,
        c.blob,
        c.weights,
        NnapiOptions::default(),
    );
    assert_eq!(
        (why, acc.reason()),
        (None, Some(&Unavailable::OnlyCpuReference))
    );
    // A vendor CPU driver is a real device; so is the reference under another type.
    with(|s| {
        s.devices
            .push((CString::new("vendor-cpu").unwrap(), sys::DEVICE_CPU, 31))
    });
    let (_, why) = prepare(fns(), &c, NnapiOptions::default());
    assert_eq!(why, None);
    with(|s| {
        s.devices = vec![(
            CString::new("nnapi-reference").unwrap(),
            sys::DEVICE_GPU,
            31,
        )]
    });
    let (_, why) = prepare(fns(), &c, NnapiOptions::default());
    assert_eq!(why, None);
    // No device at all; a failing device query.
    with(|s| s.devices.clear());
    let (_, why) = prepare(fns(), &c, NnapiOptions::default());
    assert_eq!(why, Some(Unavailable::NoDevice));
    reset(31);
    fail("ANeuralNetworksDevice_getType", 2, sys::BAD_STATE);
    let (_, why) = prepare(fns(), &c, NnapiOptions::default());
    assert_eq!(
        why,
        Some(Unavailable::Refused {
            call: "ANeuralNetworksDevice_getType",
            code: sys::BAD_STATE
        })
    );
    take_log();
    assert!(live().is_empty());
}

/// Prepares `p` with `name`'s `nth` call failing; returns the log and the reason.
fn refused(p: &Partition, name: &'static str, nth: usize) -> Vec<String> {
    reset(31);
    let c = case(p);
    fail(name, nth, sys::BAD_DATA);
    let (acc, why) = prepare(fns(), &c, NnapiOptions::default());
    assert_eq!(
        why,
        Some(Unavailable::Refused {
            call: name,
            code: sys::BAD_DATA
        }),
        "{name}"
    );
    assert_eq!(acc.active(), ActiveTarget::Cpu);
    assert!(live().is_empty(), "{name}: leaked {:?}", live());
    let log = calls(&take_log());
    assert!(!log.iter().any(|l| l.contains("DOUBLE")), "{log:#?}");
    log
}

#[test]
fn a_refused_call_frees_what_was_built() {
    let log = refused(&conv_only(), "ANeuralNetworksModel_addOperand", 3);
    assert_eq!(
        log[log.len() - 2..],
        [
            "Model_addOperand(model1, type=3 dims=[4] scale=0 zp=0)",
            "Model_free(model1)"
        ]
    );
    let log = refused(&conv_only(), "ANeuralNetworksModel_finish", 1);
    assert_eq!(
        log[log.len() - 2..],
        ["Model_finish(model1)", "Model_free(model1)"]
    );
    let log = refused(&conv_only(), "ANeuralNetworksModel_create", 1);
    assert_eq!(log, ["Model_create -> error 4"]);
    for name in [
        "ANeuralNetworksModel_setOperandValue",
        "ANeuralNetworksModel_addOperation",
        "ANeuralNetworksModel_identifyInputsAndOutputs",
    ] {
        let log = refused(&conv_only(), name, 1);
        assert_eq!(log.last().unwrap(), "Model_free(model1)");
        assert!(!log.iter().any(|l| l.contains("Compilation")));
    }
    let log = refused(
        &per_channel(),
        "ANeuralNetworksModel_setOperandSymmPerChannelQuantParams",
        1,
    );
    assert_eq!(log.last().unwrap(), "Model_free(model1)");
    let log = refused(
        &conv_only(),
        "ANeuralNetworksCompilation_createForDevices",
        1,
    );
    assert_eq!(
        log[log.len() - 2..],
        [
            "Compilation_createForDevices(model1, [\"vendor-npu\"]) -> error 4",
            "Model_free(model1)"
        ]
    );
    let log = refused(
        &conv_only(),
        "ANeuralNetworksModel_getSupportedOperationsForDevices",
        1,
    );
    assert_eq!(
        log[log.len() - 2..],
        [
            "Model_getSupportedOperationsForDevices(model1, [\"vendor-npu\"]) -> 4 [true]",
            "Model_free(model1)"
        ]
    );
    // Without createForDevices, ANeuralNetworksCompilation_create.
    reset(31);
    let c = case(&conv_only());
    fail("ANeuralNetworksCompilation_create", 1, sys::BAD_DATA);
    let f = Fns {
        compilation_create_for_devices: None,
        ..fns()
    };
    let (_, why) = prepare(f, &c, NnapiOptions::default());
    assert_eq!(
        why,
        Some(Unavailable::Refused {
            call: "ANeuralNetworksCompilation_create",
            code: sys::BAD_DATA
        })
    );
    let log = calls(&take_log());
    assert_eq!(
        log[log.len() - 2..],
        [
            "Compilation_create(model1) -> error 4",
            "Model_free(model1)"
        ]
    );
    assert!(!log.iter().any(|l| l.contains("ForDevices")), "{log:?}");
    assert!(live().is_empty());
    for name in [
        "ANeuralNetworksCompilation_setPreference",
        "ANeuralNetworksCompilation_finish",
    ] {
        let log = refused(&conv_only(), name, 1);
        assert_eq!(
            log[log.len() - 2..],
            ["Compilation_free(compilation2)", "Model_free(model1)"],
            "{name}"
        );
    }
    // The second NNAPI segment's model is refused: the first one's objects go too.
    let log = refused(&two_nnapi(), "ANeuralNetworksModel_finish", 2);
    assert_eq!(
        log[log.len() - 4..],
        [
            "Model_finish(model3)",
            "Model_free(model3)",
            "Compilation_free(compilation2)",
            "Model_free(model1)",
        ]
    );
    // Every NNAPI segment's compilation refused: NNAPI is not used, the first reason is kept.
    reset(31);
    let c = case(&two_nnapi());
    fail("ANeuralNetworksCompilation_finish", 1, sys::BAD_DATA);
    fail(
        "ANeuralNetworksCompilation_setPreference",
        2,
        sys::OP_FAILED,
    );
    let (acc, why) = prepare(fns(), &c, NnapiOptions::default());
    let first = Unavailable::Refused {
        call: "ANeuralNetworksCompilation_finish",
        code: sys::BAD_DATA,
    };
    assert_eq!((why, acc.reason()), (Some(first), Some(&first)));
    assert_eq!(acc.active(), ActiveTarget::Cpu);
    assert!(live().is_empty(), "leaked {:?}", live());
    take_log();
    assert_eq!(
        Unavailable::Refused {
            call: "ANeuralNetworksModel_finish",
            code: 4
        }
        .to_string(),
        "NNAPI refused the model: ANeuralNetworksModel_finish returned 4 (BAD_DATA)"
    );
}

#[test]
fn an_unsupported_or_uncompiled_segment_runs_on_the_cpu_and_the_others_stay_on_nnapi() {
    // The second NNAPI segment (index 2) has an unsupported operation: it is not compiled, its
    // model is freed at once, and the first segment stays on NNAPI.
    reset(31);
    let c = case(&two_nnapi());
    unsupported(2, 0);
    let (mut acc, why) = prepare(fns(), &c, NnapiOptions::default());
    let expected = Unavailable::Unsupported {
        segment: 2,
        operation: 0,
    };
    assert_eq!(why, None, "NNAPI is used");
    assert_eq!(acc.active(), ActiveTarget::Nnapi);
    assert_eq!(acc.reason(), Some(&expected));
    assert_eq!(live(), ["model1", "compilation2"]);
    let log = calls(&take_log());
    assert!(!log.iter().any(|l| l.contains("DOUBLE")), "{log:#?}");
    assert_eq!(
        log[log.len() - 2..],
        [
            "Model_getSupportedOperationsForDevices(model3, [\"vendor-npu\"]) -> 0 [false]",
            "Model_free(model3)",
        ]
    );
    assert!(!log.iter().any(|l| l.contains("compilation4")), "{log:#?}");
    assert_eq!(
        expected.to_string(),
        "NNAPI unavailable: no accelerator supports operation 0 of NNAPI segment 2"
    );
    let mut arena = vec![0u8; 520];
    region("arena", &arena);
    let mut cpu = Cpu {
        steps: 3,
        ..Cpu::default()
    };
    for _ in 0..2 {
        acc.run(&mut cpu, &[], &mut [], &mut arena).unwrap();
        let log = take_log();
        assert!(
            log[0].starts_with("Execution_create(compilation2)"),
            "{log:#?}"
        );
        assert_eq!(log[log.len() - 2..], ["cpu 1..2", "cpu 2..3"], "{log:#?}");
    }
    assert_eq!(cpu.ran, [(1, 2), (2, 3), (1, 2), (2, 3)]);
    assert_eq!(acc.reason(), Some(&expected));
    drop(acc);
    assert_eq!(
        take_log(),
        ["Compilation_free(compilation2)", "Model_free(model1)"]
    );

    // The first segment's compilation is refused: it runs on the CPU, the second on NNAPI.
    reset(31);
    let c = case(&two_nnapi());
    region("arena", &arena);
    fail(
        "ANeuralNetworksCompilation_createForDevices",
        1,
        sys::BAD_DATA,
    );
    let (mut acc, why) = prepare(fns(), &c, NnapiOptions::default());
    assert_eq!(why, None);
    assert_eq!(
        acc.reason(),
        Some(&Unavailable::Refused {
            call: "ANeuralNetworksCompilation_createForDevices",
            code: sys::BAD_DATA
        })
    );
    let log = calls(&take_log());
    let refused_at = log
        .iter()
        .position(|l| l.ends_with("-> error 4"))
        .expect("refused");
    assert_eq!(log[refused_at + 1], "Model_free(model1)");
    assert_eq!(
        log.last().unwrap(),
        "Compilation_finish(compilation3)",
        "{log:#?}"
    );
    assert_eq!(live(), ["model2", "compilation3"]);
    let mut cpu = Cpu {
        steps: 3,
        ..Cpu::default()
    };
    acc.run(&mut cpu, &[], &mut [], &mut arena).unwrap();
    let log = take_log();
    assert_eq!(log[..2], ["cpu 0..1", "cpu 1..2"], "{log:#?}");
    assert!(
        log[2].starts_with("Execution_create(compilation3)"),
        "{log:#?}"
    );
    // A failing execution of the NNAPI segment left still moves everything to the CPU.
    fail("ANeuralNetworksExecution_compute", 2, sys::OP_FAILED);
    acc.run(&mut cpu, &[], &mut [], &mut arena).unwrap();
    assert_eq!(acc.active(), ActiveTarget::Cpu);
    assert_eq!(
        acc.reason(),
        Some(&Unavailable::Refused {
            call: "ANeuralNetworksExecution_compute",
            code: sys::OP_FAILED
        })
    );
    assert!(live().is_empty());
    take_log();

    // Every NNAPI segment unsupported: NNAPI is not used; the first segment's reason is kept.
    reset(31);
    unsupported(1, 0);
    unsupported(2, 0);
    let (acc, why) = prepare(fns(), &c, NnapiOptions::default());
    let first = Unavailable::Unsupported {
        segment: 0,
        operation: 0,
    };
    assert_eq!((why, acc.reason()), (Some(first), Some(&first)));
    assert_eq!(acc.active(), ActiveTarget::Cpu);
    assert!(live().is_empty());
    take_log();

    // A model whose table has createForDevices but not the support query cannot use the
    // devices: that is reported, nothing is built.
    reset(31);
    let f = Fns {
        model_get_supported_operations_for_devices: None,
        ..fns()
    };
    let (_, why) = prepare(f, &c, NnapiOptions::default());
    assert_eq!(
        why,
        Some(Unavailable::MissingSymbol(
            "ANeuralNetworksModel_getSupportedOperationsForDevices"
        ))
    );
    assert!(calls(&take_log()).is_empty());
}

#[test]
fn a_failing_execution_runs_that_segment_and_the_rest_on_the_cpu_from_then_on() {
    for (name, nth) in [
        ("ANeuralNetworksExecution_compute", 1),
        ("ANeuralNetworksExecution_setInput", 1),
        ("ANeuralNetworksExecution_setOutput", 1),
        ("ANeuralNetworksExecution_create", 1),
    ] {
        reset(31);
        let c = case(&cpu_nnapi_cpu());
        let (mut acc, _) = prepare(fns(), &c, NnapiOptions::default());
        take_log();
        fail(name, nth, sys::OP_FAILED);
        let mut arena = vec![0u8; 520];
        region("arena", &arena);
        let mut cpu = Cpu {
            steps: 5,
            ..Cpu::default()
        };
        acc.run(&mut cpu, &[], &mut [], &mut arena).unwrap();
        let log = take_log();
        assert_eq!(log.first().unwrap(), "cpu 0..2");
        let n = log.len();
        let tail: Vec<&str> = log[n - 4..].iter().map(|s| s.as_str()).collect();
        assert_eq!(
            tail,
            [
                "cpu 2..4",
                "cpu 4..5",
                "Compilation_free(compilation2)",
                "Model_free(model1)"
            ],
            "{name}: {log:#?}"
        );
        if name != "ANeuralNetworksExecution_create" {
            assert_eq!(log[n - 5], "Execution_free(execution3)", "{name}");
        }
        assert_eq!(
            acc.reason(),
            Some(&Unavailable::Refused {
                call: name,
                code: sys::OP_FAILED
            })
        );
        assert_eq!(acc.active(), ActiveTarget::Cpu);
        assert!(live().is_empty());
        acc.run(&mut cpu, &[], &mut [], &mut arena).unwrap();
        assert_eq!(take_log(), ["cpu 0..5"], "{name}: later runs are CPU only");
    }
}

#[test]
fn a_cpu_error_during_the_fallback_is_returned_and_nnapi_still_dropped() {
    reset(31);
    let c = case(&cpu_nnapi_cpu());
    let (mut acc, _) = prepare(fns(), &c, NnapiOptions::default());
    take_log();
    fail("ANeuralNetworksExecution_compute", 1, sys::OP_FAILED);
    let mut cpu = Cpu {
        steps: 5,
        fail_on: Some(3),
        ..Cpu::default()
    };
    let mut arena = vec![0u8; 520];
    assert!(acc.run(&mut cpu, &[], &mut [], &mut arena).is_err());
    assert_eq!(cpu.ran, [(0, 2), (2, 4)]);
    assert_eq!(acc.active(), ActiveTarget::Cpu);
    assert!(live().is_empty());
}

#[test]
fn places_outside_the_buffers_fall_back_before_any_execution() {
    reset(31);
    let c = case(&cpu_nnapi_cpu());
    let (mut acc, _) = prepare(fns(), &c, NnapiOptions::default());
    take_log();
    let mut cpu = Cpu {
        steps: 5,
        ..Cpu::default()
    };
    let mut small = vec![0u8; 519];
    acc.run(&mut cpu, &[], &mut [], &mut small).unwrap();
    assert_eq!(
        take_log(),
        [
            "cpu 0..2",
            "cpu 2..4",
            "cpu 4..5",
            "Compilation_free(compilation2)",
            "Model_free(model1)"
        ]
    );
    assert_eq!(acc.reason(), Some(&Unavailable::Place { segment: 1 }));

    // Caller buffers: a missing output buffer.
    reset(31);
    let c = case(&conv_only());
    let (mut acc, _) = prepare(fns(), &c, NnapiOptions::default());
    take_log();
    let input = vec![0u8; 768];
    let mut cpu = Cpu {
        steps: 1,
        ..Cpu::default()
    };
    acc.run(&mut cpu, &[&input], &mut [], &mut []).unwrap();
    assert_eq!(acc.reason(), Some(&Unavailable::Place { segment: 0 }));
    assert_eq!(cpu.ran, [(0, 1)]);
}

#[test]
fn a_step_count_mismatch_runs_on_the_cpu() {
    reset(31);
    let c = case(&cpu_nnapi_cpu());
    let (mut acc, _) = prepare(fns(), &c, NnapiOptions::default());
    take_log();
    let mut cpu = Cpu {
        steps: 6,
        ..Cpu::default()
    };
    acc.run(&mut cpu, &[], &mut [], &mut []).unwrap();
    assert_eq!(cpu.ran, [(0, 6)]);
    assert_eq!(
        acc.reason(),
        Some(&Unavailable::StepCount {
            description: 5,
            program: 6
        })
    );
    assert!(live().is_empty());
}

#[test]
fn bad_descriptions_are_refused_before_any_nnapi_call() {
    reset(31);
    let c = case(&conv_only());
    let mut garbled = c.blob.to_vec();
    garbled[4] = 9;
    let (acc, why) = Accelerator::prepare_with(
        fns(),
        Target::Nnapi,
        leak(garbled),
        c.weights,
        NnapiOptions::default(),
    );
    assert_eq!(
        why,
        Some(Unavailable::BadDescription(FormatError::Version {
            found: 9
        }))
    );
    assert_eq!(acc.active(), ActiveTarget::Cpu);
    // A weight range past the end of the weights.
    assert_filter_outside_weights(fns(), &c, 495);
    // Nothing to accelerate.
    let cpu_only = Partition {
        api_level: 27,
        steps: 3,
        segments: vec![Segment {
            steps: 0..3,
            kind: SegmentKind::Cpu,
        }],
    };
    let (_, why) = Accelerator::prepare_with(
        fns(),
        Target::Nnapi,
        leak(encode(&cpu_only)),
        c.weights,
        NnapiOptions::default(),
    );
    assert_eq!(why, Some(Unavailable::NoNnapiSegment));
    assert!(take_log().is_empty());
}

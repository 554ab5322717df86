//! A model embedded with `include_model!(…, nnapi = 30)`: the generated code carries the NNAPI
//! partition, and `set_target` picks where it runs. This host has no `libneuralnetworks.so`, so
//! `Nnapi` and `Auto` report NNAPI unavailable and the model runs on its CPU code through the
//! accelerator's step ranges; the outputs must still match TFLite's bit for bit.

use mvcc_runtime::nnapi::{ActiveTarget, Target};
use mvcc_runtime::CompiledModel;

mod conv {
    mvcc_runtime::include_model!("fixtures/conv_i8/model.tflite", nnapi = 30);
}

mod conv_unlimited {
    mvcc_runtime::include_model!(
        "fixtures/conv_i8/model.tflite",
        nnapi = 30,
        nnapi_max_segments = 0
    );
}

/// The macro takes `nnapi_max_segments` (partition limits themselves are tested in `nnapi_ref`);
/// the model it generates runs like the default one.
#[test]
fn the_segment_limit_is_an_option_of_the_macro() {
    let mut m = Box::new(conv_unlimited::Model::new());
    assert!(m.set_target(Target::Nnapi).is_some());
    let bad = mismatches(&mut *m);
    assert!(bad.is_empty(), "{bad:?}");
}

/// Runs `m` on the conv_i8 fixture's inputs; the outputs that differ from TFLite's.
fn mismatches(m: &mut impl CompiledModel) -> Vec<String> {
    let f = mvcc_tests::fixture("conv_i8").unwrap();
    let (inputs, _) = mvcc_tests::fixture_inputs(&f).unwrap();
    let graph = mvcc::load_model(&f.model()).unwrap();
    let (program, _) = mvcc::interp::compile(&graph).unwrap();
    let ins: Vec<&[u8]> = inputs.iter().map(|b| b.bytes()).collect();
    let mut outs: Vec<mvcc::interp::Buf> = m
        .outputs()
        .iter()
        .map(|t| mvcc::interp::Buf::zeroed(t.bytes()))
        .collect();
    let mut out_refs: Vec<&mut [u8]> = outs.iter_mut().map(|b| b.bytes_mut()).collect();
    m.run_bytes(&ins, &mut out_refs).unwrap();
    mvcc_tests::check_outputs(&f, &graph, &program, &outs)
}

#[test]
fn an_nnapi_enabled_model_runs_on_the_cpu_when_nnapi_is_unavailable() {
    for target in [Target::Cpu, Target::Auto, Target::Nnapi] {
        let mut m = Box::new(conv::Model::new());
        let why = m.set_target(target);
        match target {
            Target::Cpu => assert!(why.is_none()),
            // No NNAPI library on this host (or the feature is off): the reason is reported.
            Target::Nnapi => assert!(why.is_some(), "NNAPI reported available on a host"),
            Target::Auto => assert!(why.is_none(), "Auto reports nothing; the reason is kept"),
        }
        assert_eq!(m.accelerator().active(), ActiveTarget::Cpu);
        if target != Target::Cpu {
            assert!(m.accelerator().reason().is_some());
        }
        let bad = mismatches(&mut *m);
        assert!(bad.is_empty(), "{target:?}: {bad:?}");
    }
}

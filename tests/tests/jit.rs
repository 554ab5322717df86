//! The Cranelift back end's conformance suite: every fixture compiled by `mvcc::clif::Jit` for
//! the host and run step by step in an arena filled with garbage; after each step every value it
//! completes is read from its planned place and compared with TFLite's reference kernels exactly
//! as the interpreter's suite does. `MVCC_CASE=<substring>` selects cases.

use mvcc::clif::{Arena, Jit};
use mvcc::interp::Buf;
use mvcc_tests::{check_values, fixture_inputs, run_suite, Fixture, Trace};

/// Cases expected to fail, with the reason. Each must still fail.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

fn run_jit(f: &Fixture) -> Result<Vec<String>, String> {
    let (inputs, shapes) = fixture_inputs(f)?;
    let graph = mvcc::load_model_with_shapes(&f.model(), &shapes)
        .map_err(|e| format!("import failed: {e}"))?;
    let (program, plan) =
        mvcc::interp::compile(&graph).map_err(|e| format!("compile failed: {e}"))?;
    let jit = Jit::new(&program, &plan).map_err(|e| format!("JIT failed: {e}"))?;
    let mut trace = Trace::new(&program, &plan, &inputs);
    let mut arena = Arena::new(plan.arena_bytes);
    // Garbage, not zeros: generated code must not rely on a clean arena.
    arena.bytes_mut().fill(0xA5);
    let mut outs: Vec<Buf> = program
        .outputs
        .iter()
        .map(|&v| Buf::zeroed(program.value(v).bytes))
        .collect();
    let mut hook = |step: usize, arena: &[u8], outs: &[Buf]| {
        let outs: Vec<&[u8]> = outs.iter().map(Buf::bytes).collect();
        trace.after_step(step, arena, &outs);
    };
    jit.run_in(&mut arena, &inputs, &mut outs, Some(&mut hook))
        .map_err(|e| format!("run failed: {e}"))?;
    let mut bad = check_values(f, &graph, &program, &trace.values);
    // The whole-model entry point computes the same outputs as the steps one by one.
    let whole = jit.run(&inputs).map_err(|e| format!("run failed: {e}"))?;
    if whole != outs {
        bad.push("NAME_run's outputs differ from the step-by-step run's".into());
    }
    Ok(bad)
}

#[test]
fn every_fixture_matches_tflite_through_the_jit() {
    run_suite("Cranelift JIT", KNOWN_FAILURES, run_jit);
}

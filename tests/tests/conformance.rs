//! The conformance suite: every fixture in `tests/fixtures/` runs through mvcc and every tensor
//! an operator of the model writes is compared with TFLite's reference kernels — integers bit for
//! bit, floats within [`mvcc_tests::FLOAT_TOLERANCE`].
//!
//! Known failures are listed in [`KNOWN_FAILURES`] with their reason; they must still fail (a fixed
//! one must be removed from the table). `MVCC_CASE=<substring>` selects cases.

use mvcc::interp::Interpreter;
use mvcc_tests::{check_values, fixture_inputs, run_suite, Fixture};

/// Cases expected to fail, with the reason. Each must still fail.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

/// How far mvcc's outputs are from the optimized builtin kernels' and XNNPACK's (informational:
/// those kernels round differently from the reference kernels; FACTS.md).
fn distance_to_other_kernels(
    f: &Fixture,
    program: &mvcc::lower::Program,
    values: &[Option<mvcc::interp::Buf>],
) -> String {
    let mut parts = Vec::new();
    for sub in ["builtin", "xnnpack"] {
        let mut differing = 0usize;
        let mut total = 0usize;
        let mut worst = 0f64;
        for idx in f.indices("outputs") {
            let (Some(want), Some(t)) = (
                f.tensor(sub, idx),
                program
                    .values
                    .iter()
                    .position(|v| v.tflite_index == Some(idx)),
            ) else {
                continue;
            };
            let Some(v) = values.get(t).and_then(|v| v.as_ref()) else {
                continue;
            };
            let (got, exp) = (
                mvcc_tests::as_f64(program.values[t].dtype, v.bytes()),
                mvcc_tests::as_f64(want.dtype, &want.data),
            );
            total += exp.len();
            for (a, b) in got.iter().zip(&exp) {
                if a != b {
                    differing += 1;
                    worst = worst.max((a - b).abs());
                }
            }
        }
        if total > 0 {
            parts.push(format!(
                "{sub}: {differing}/{total} differ, max |d| {worst:.3e}"
            ));
        }
    }
    parts.join("; ")
}

/// Runs one fixture through the interpreter; returns the mismatches (empty = pass).
fn run_interp(f: &Fixture) -> Result<Vec<String>, String> {
    let (inputs, shapes) = fixture_inputs(f)?;
    let graph = mvcc::load_model_with_shapes(&f.model(), &shapes)
        .map_err(|e| format!("import failed: {e}"))?;
    let (program, plan) =
        mvcc::interp::compile(&graph).map_err(|e| format!("compile failed: {e}"))?;
    let interp = Interpreter::new(&program, &plan);
    let (_, values) = interp
        .run_values(&inputs, true)
        .map_err(|e| format!("run failed: {e}"))?;
    eprintln!(
        "{}: outputs vs other TFLite kernels: {}",
        f.name,
        distance_to_other_kernels(f, &program, &values)
    );
    Ok(check_values(f, &graph, &program, &values))
}

#[test]
fn every_fixture_matches_tflite_in_the_interpreter() {
    run_suite("interpreter", KNOWN_FAILURES, run_interp);
}

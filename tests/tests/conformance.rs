//! The conformance suite: every fixture in `tests/fixtures/` runs through mvcc and every tensor
//! an operator of the model writes is compared with TFLite's reference kernels — integers bit for
//! bit, floats within [`mvcc_tests::FLOAT_TOLERANCE`].
//!
//! Known failures are listed in [`KNOWN_FAILURES`] with their reason; they must still fail (a fixed
//! one must be removed from the table). `MVCC_CASE=<substring>` selects cases.

use mvcc::interp::Interpreter;
use mvcc_tests::{buf, compare, fixtures, Compare, Fixture, FLOAT_TOLERANCE};

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
    let model = f.model();
    let mut inputs = Vec::new();
    let mut shapes = Vec::new();
    for idx in f.indices("inputs") {
        let a = f
            .tensor("tensors", idx)
            .ok_or_else(|| format!("missing input tensors/{idx}.npy"))?;
        inputs.push(buf(&a));
        // Models with dynamic dimensions were run at the inputs' shapes.
        shapes.push(Some(a.shape.clone()));
    }
    let graph =
        mvcc::load_model_with_shapes(&model, &shapes).map_err(|e| format!("import failed: {e}"))?;
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
    let mut bad = Vec::new();
    for idx in f.indices("checked") {
        let Some(want) = f.tensor("tensors", idx) else {
            bad.push(format!("tensor {idx}: reference tensors/{idx}.npy missing"));
            continue;
        };
        // A value of the program, or a tensor the importer folded into a constant.
        let (dtype, bytes, producer) = if let Some(v) = program
            .values
            .iter()
            .position(|v| v.tflite_index == Some(idx))
        {
            let Some(b) = values.get(v).and_then(|b| b.as_ref()) else {
                bad.push(format!(
                    "tensor {idx} \"{}\": no value",
                    program.values[v].name
                ));
                continue;
            };
            let producer = program
                .steps
                .iter()
                .find(|s| s.outputs.iter().any(|o| o.index() == v))
                .map(|s| s.origin.to_string())
                .unwrap_or_else(|| "alias".into());
            (program.values[v].dtype, b.bytes().to_vec(), producer)
        } else if let Some(t) = graph
            .tensors
            .iter()
            .find(|t| t.tflite_index == Some(idx) && t.data.is_some())
        {
            (
                t.dtype,
                t.data.clone().unwrap_or_default(),
                "folded at import".to_string(),
            )
        } else {
            // Fused away by the middle end: nothing to compare.
            continue;
        };
        let name = graph
            .tensors
            .iter()
            .find(|t| t.tflite_index == Some(idx))
            .map(|t| t.name.clone())
            .unwrap_or_default();
        if let Compare::Mismatch(m) = compare(dtype, &bytes, &want, FLOAT_TOLERANCE) {
            bad.push(format!("tensor {idx} \"{name}\" ({producer}): {m}"));
        }
    }
    Ok(bad)
}

#[test]
fn every_fixture_matches_tflite_in_the_interpreter() {
    let all = fixtures();
    assert!(
        !all.is_empty() || std::env::var("MVCC_CASE").is_ok(),
        "no fixtures found in {}",
        mvcc_tests::fixtures_dir().display()
    );
    let mut unexpected = Vec::new();
    let mut passed = 0;
    for f in &all {
        let known = KNOWN_FAILURES.iter().find(|(n, _)| *n == f.name);
        let result = run_interp(f);
        let failed = match &result {
            Ok(bad) => !bad.is_empty(),
            Err(_) => true,
        };
        match (&result, known) {
            (Ok(bad), None) if bad.is_empty() => {
                passed += 1;
            }
            (_, Some((_, why))) if failed => {
                eprintln!("known failure {}: {why}", f.name);
            }
            (_, Some(_)) => unexpected.push(format!(
                "{}: passes but is listed in KNOWN_FAILURES; remove it",
                f.name
            )),
            (Ok(bad), None) => {
                let shown: Vec<&String> = bad.iter().take(8).collect();
                unexpected.push(format!(
                    "{}: {} tensors differ:\n    {}",
                    f.name,
                    bad.len(),
                    shown
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join("\n    ")
                ));
            }
            (Err(e), None) => unexpected.push(format!("{}: {e}", f.name)),
        }
    }
    eprintln!(
        "conformance (interpreter): {passed}/{} fixtures match TFLite",
        all.len()
    );
    assert!(
        unexpected.is_empty(),
        "{} fixture(s) failed:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}

//! NNAPI's conformance vectors (`tests/nnapi-cts/`, the AOSP CTS specs as JSON) through the
//! reference executor, `mvcc::nnapi::refexec`: every example of every file listed in
//! `index.json` runs, and every output is compared with AOSP's expected values under the CTS
//! harness's tolerances — floats within `atol + rtol·|expected|` of the case, 8-bit quantized
//! values within the case's `quant_atol` (±1), `int32` within ±1, booleans exactly. Cases AOSP
//! expects to fail must be rejected.
//!
//! Known failures are listed in [`KNOWN_FAILURES`] with their reason; they must still fail (a
//! fixed one must be removed from the table). `MVCC_CASE=<substring>` selects files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mvcc::nnapi::cts::{self, Case};
use mvcc::nnapi::{refexec, OperandType};

/// Files expected to fail, with the reason. Each must still fail.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

/// The vectors' folder.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("nnapi-cts")
}

/// One file of `index.json`: its path and operation.
struct Entry {
    file: String,
    op: String,
}

fn index() -> Vec<Entry> {
    let text = std::fs::read_to_string(root().join("index.json"))
        .unwrap_or_else(|e| panic!("cannot read nnapi-cts/index.json: {e}"));
    let json: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("index.json: {e}"));
    let list = json.as_array().expect("index.json is a list");
    list.iter()
        .map(|e| Entry {
            file: e["file"]
                .as_str()
                .expect("an index entry has a file")
                .to_string(),
            op: e["op"].as_str().unwrap_or("?").to_string(),
        })
        .collect()
}

/// Compares one output; `Ok` holds how many values are within tolerance but not equal (for
/// 8-bit quantized outputs), `Err` describes the first values out of tolerance.
fn compare(case: &Case, ty: OperandType, got: &[u8], want: &[u8]) -> Result<usize, String> {
    if got.len() != want.len() {
        return Err(format!("{} bytes, expected {}", got.len(), want.len()));
    }
    let mut bad = Vec::new();
    let mut count = 0usize;
    let mut inexact = 0usize;
    let mut note = |i: usize, g: String, w: String| {
        count += 1;
        if bad.len() < 4 {
            bad.push(format!("[{i}] {g} vs {w}"));
        }
    };
    match ty {
        OperandType::TensorFloat32 => {
            let f = |b: &[u8]| -> Vec<f32> {
                b.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            };
            for (i, (a, e)) in f(got).into_iter().zip(f(want)).enumerate() {
                let (a, e) = (f64::from(a), f64::from(e));
                let tol = case.float_atol + case.float_rtol * e.abs();
                if (a - e).abs() > tol || a.is_nan() {
                    note(i, format!("{a}"), format!("{e}"));
                }
            }
        }
        OperandType::TensorInt32 => {
            let f = |b: &[u8]| -> Vec<i64> {
                b.chunks_exact(4)
                    .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                    .collect()
            };
            for (i, (a, e)) in f(got).into_iter().zip(f(want)).enumerate() {
                if (a - e).abs() > 1 {
                    note(i, a.to_string(), e.to_string());
                }
            }
        }
        OperandType::TensorQuant8Asymm
        | OperandType::TensorQuant8AsymmSigned
        | OperandType::TensorQuant8Symm
        | OperandType::TensorQuant8SymmPerChannel => {
            let signed = ty != OperandType::TensorQuant8Asymm;
            let v = |b: u8| {
                if signed {
                    i64::from(b as i8)
                } else {
                    i64::from(b)
                }
            };
            for (i, (&a, &e)) in got.iter().zip(want).enumerate() {
                let (a, e) = (v(a), v(e));
                if (a - e).abs() > case.quant_atol {
                    note(i, a.to_string(), e.to_string());
                } else if a != e {
                    inexact += 1;
                }
            }
        }
        OperandType::TensorBool8 => {
            for (i, (&a, &e)) in got.iter().zip(want).enumerate() {
                if (a != 0) != (e != 0) {
                    note(i, a.to_string(), e.to_string());
                }
            }
        }
        other => return Err(format!("cannot compare outputs of type {other}")),
    }
    if count == 0 {
        Ok(inexact)
    } else {
        Err(format!(
            "{count}/{} values out of tolerance: {}",
            want.len() / ty.element_size().max(1),
            bad.join(", ")
        ))
    }
}

/// Runs one file: `Ok` when it conforms (every example matches, or an expected failure is
/// rejected), with the number of quantized values off by one (within the CTS's tolerance);
/// else why not.
fn run_file(file: &str) -> Result<usize, String> {
    let text = std::fs::read_to_string(root().join(file)).map_err(|e| format!("read: {e}"))?;
    let case = cts::parse(&text).map_err(|e| format!("parse: {e}"))?;
    let desc = &case.desc;
    if case.expect_failure {
        if let Err(e) = refexec::to_graph(desc, &[]) {
            eprintln!("{file}: rejected as expected: {e}");
            return Ok(0);
        }
        for ex in &case.examples {
            let ins: Vec<&[u8]> = ex.inputs.iter().map(Vec::as_slice).collect();
            if let Err(e) = refexec::run(desc, &[], &ins) {
                eprintln!("{file}: rejected as expected: {e}");
                return Ok(0);
            }
        }
        return Err("AOSP expects this model to be rejected; the executor ran it".into());
    }
    if case.examples.is_empty() {
        return Err("no examples".into());
    }
    let mut problems = Vec::new();
    let mut inexact = 0;
    for (k, ex) in case.examples.iter().enumerate() {
        let ins: Vec<&[u8]> = ex.inputs.iter().map(Vec::as_slice).collect();
        let outs = match refexec::run(desc, &[], &ins) {
            Ok(o) => o,
            Err(e) => {
                problems.push(format!("example {k}: {e}"));
                continue;
            }
        };
        if outs.len() != ex.outputs.len() {
            problems.push(format!(
                "example {k}: {} outputs, expected {}",
                outs.len(),
                ex.outputs.len()
            ));
            continue;
        }
        for (j, ((got, want), &o)) in outs.iter().zip(&ex.outputs).zip(&desc.outputs).enumerate() {
            let ty = desc
                .operand(o)
                .map(|o| o.ty)
                .ok_or("an output operand is missing")?;
            match compare(&case, ty, got, want) {
                Ok(n) => inexact += n,
                Err(e) => problems.push(format!("example {k}, output {j}: {e}")),
            }
        }
    }
    if problems.is_empty() {
        Ok(inexact)
    } else {
        Err(problems.join("; "))
    }
}

/// Per operation: files passed, known failures.
#[derive(Default)]
struct Tally {
    passed: usize,
    known: usize,
    /// Passed files with quantized values off by one.
    off_by_one: usize,
}

#[test]
fn every_nnapi_cts_vector_runs_in_the_reference_executor() {
    let filter = std::env::var("MVCC_CASE").ok();
    let entries: Vec<Entry> = index()
        .into_iter()
        .filter(|e| filter.as_deref().is_none_or(|f| e.file.contains(f)))
        .collect();
    assert!(
        filter.is_some() || entries.len() > 1000,
        "index.json lists only {} files",
        entries.len()
    );
    for (file, _) in KNOWN_FAILURES {
        assert!(
            index().iter().any(|e| e.file == *file),
            "KNOWN_FAILURES lists {file}, which index.json does not"
        );
    }
    // Two threads: the files are independent.
    let results: Vec<Result<usize, String>> = {
        let half = entries.len().div_ceil(2);
        let (a, b) = entries.split_at(half);
        std::thread::scope(|s| {
            let h = s.spawn(|| b.iter().map(|e| run_file(&e.file)).collect::<Vec<_>>());
            let mut r: Vec<_> = a.iter().map(|e| run_file(&e.file)).collect();
            r.extend(h.join().expect("the worker thread panicked"));
            r
        })
    };
    let mut tally: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut unexpected = Vec::new();
    for (e, r) in entries.iter().zip(&results) {
        let known = KNOWN_FAILURES.iter().find(|(f, _)| *f == e.file);
        let t = tally.entry(&e.op).or_default();
        match (r, known) {
            (Ok(n), None) => {
                t.passed += 1;
                t.off_by_one += usize::from(*n > 0);
            }
            (Err(why), Some((_, reason))) => {
                t.known += 1;
                eprintln!("known failure {} ({reason}): {why}", e.file);
            }
            (Ok(_), Some(_)) => unexpected.push(format!(
                "{}: passes now; remove it from KNOWN_FAILURES",
                e.file
            )),
            (Err(why), None) => unexpected.push(format!("{}: {why}", e.file)),
        }
    }
    let summary: Vec<String> = tally
        .iter()
        .map(|(op, t)| {
            if t.known > 0 {
                format!("{op} {}+{}k", t.passed, t.known)
            } else {
                format!("{op} {}", t.passed)
            }
        })
        .collect();
    let passed: usize = tally.values().map(|t| t.passed).sum();
    let known: usize = tally.values().map(|t| t.known).sum();
    let off: Vec<String> = tally
        .iter()
        .filter(|(_, t)| t.off_by_one > 0)
        .map(|(op, t)| format!("{op} {}", t.off_by_one))
        .collect();
    eprintln!(
        "nnapi-cts: {passed} files passed, {known} known failures, {} unexpected; per op (passed+known): {}; \
         passed with quantized values off by one (within ±1): {}",
        unexpected.len(),
        summary.join(", "),
        off.join(", ")
    );
    assert!(
        unexpected.is_empty(),
        "{} unexpected results:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}

/// A float32 tensor operand.
fn f32_operand(name: &str, dims: &[u32], lifetime: mvcc::nnapi::Lifetime) -> mvcc::nnapi::Operand {
    mvcc::nnapi::Operand {
        name: name.to_string(),
        ty: OperandType::TensorFloat32,
        dims: dims.to_vec(),
        scale: 0.0,
        zero_point: 0,
        lifetime,
        channel_quant: None,
    }
}

/// `t = ADD(a, b, fuse); out = RELU(t)` on `[2]` floats.
fn add_relu(fuse: i32) -> mvcc::nnapi::Description {
    use mvcc::nnapi::{Description, Lifetime, Operation, OperationType};
    let mut d = Description {
        api_level: 27,
        ..Description::default()
    };
    let a = d.add_operand(f32_operand("a", &[2], Lifetime::Input));
    let b = d.add_operand(f32_operand("a", &[2], Lifetime::Input));
    let act = d.int32("act", fuse);
    let t = d.add_operand(f32_operand("t", &[2], Lifetime::Temporary));
    let out = d.add_operand(f32_operand("out", &[2], Lifetime::Output));
    d.operations.push(Operation {
        ty: OperationType::Add,
        inputs: vec![a, b, act],
        outputs: vec![t],
    });
    d.operations.push(Operation {
        ty: OperationType::Relu,
        inputs: vec![t],
        outputs: vec![out],
    });
    d.inputs = vec![a, b];
    d.outputs = vec![out];
    d
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn the_executor_runs_a_small_model_and_keeps_every_operand() {
    let d = add_relu(0);
    let (a, b) = (f32_bytes(&[1.0, -3.0]), f32_bytes(&[0.5, 1.0]));
    let outs = refexec::run(&d, &[], &[&a, &b]).expect("runs");
    assert_eq!(outs, vec![f32_bytes(&[1.5, 0.0])]);
    let all = refexec::run_all(&d, &[], &[&a, &b]).expect("runs");
    assert_eq!(all.len(), d.operands.len());
    assert_eq!(all[3], Some(f32_bytes(&[1.5, -2.0])), "the ADD's temporary");
    assert_eq!(all[4], Some(f32_bytes(&[1.5, 0.0])));
    assert_eq!(all[2], None, "a scalar has no tensor");
    let g = refexec::to_graph(&d, &[]).expect("converts");
    let names: Vec<&str> = g
        .inputs
        .iter()
        .map(|&t| g.tensor(t).name.as_str())
        .collect();
    assert_eq!(names, ["a", "a#2"], "operand names, made unique");
}

#[test]
fn the_executor_rejects_bad_models_and_inputs_with_located_errors() {
    let d = add_relu(7);
    let e = refexec::to_graph(&d, &[]).expect_err("7 is no FuseCode");
    assert!(e.to_string().contains("operator 0 (ADD)"), "{e}");
    let d = add_relu(0);
    let a = f32_bytes(&[1.0, 2.0]);
    let short = f32_bytes(&[1.0]);
    let e = refexec::run(&d, &[], &[&a, &short]).expect_err("a short input");
    assert!(e.to_string().contains("model input 1"), "{e}");
    assert!(refexec::run(&d, &[], &[&a]).is_err(), "a missing input");
    let mut d = add_relu(0);
    d.operations[1].inputs = vec![99];
    let e = refexec::to_graph(&d, &[]).expect_err("operand 99 does not exist");
    assert!(e.to_string().contains("operator 1 (RELU)"), "{e}");
    let mut d = add_relu(0);
    d.operands[4].dims = vec![3];
    let e = refexec::to_graph(&d, &[]).expect_err("RELU's output has the wrong shape");
    assert!(e.to_string().contains("operator 1 (RELU)"), "{e}");
}

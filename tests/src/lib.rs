//! Test utilities shared by mvcc's test suites: loading conformance fixtures (a `.tflite` model
//! with TFLite's reference-kernel value for every tensor an operator writes) and comparing
//! tensors with the project's one stated tolerance.

use std::path::{Path, PathBuf};

use mvcc::interp::Buf;
use mvcc::ir::DType;
use mvcc::npy::{self, NpyArray};

/// Float tolerance: `|mvcc − tflite| ≤ FLOAT_TOLERANCE · max|tflite|` over a tensor.
///
/// TFLite's float kernels and mvcc's agree to rounding error (different summation orders and
/// `libm` vs. the C library's transcendental functions); 1e-5 of the tensor's largest magnitude
/// covers ~50 layers of accumulated single-precision rounding (FACTS.md).
pub const FLOAT_TOLERANCE: f32 = 1e-5;

/// Per-op exceptions to [`FLOAT_TOLERANCE`], each with its reason. Empty: no op needs one.
pub const FLOAT_TOLERANCE_EXCEPTIONS: &[(&str, f32, &str)] = &[];

/// Where the fixtures live.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// One fixture.
#[derive(Debug)]
pub struct Fixture {
    /// Directory name.
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Parsed `meta.json`.
    pub meta: serde_json::Value,
}

impl Fixture {
    /// The model bytes.
    pub fn model(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("model.tflite")).unwrap_or_default()
    }

    /// Tensor indices listed under `key` in `meta.json`.
    pub fn indices(&self, key: &str) -> Vec<u32> {
        self.meta[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_u64())
                    .map(|v| v as u32)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The reference value of tensor `idx` (`tensors/<idx>.npy`), or of an output in a
    /// sub-directory (`builtin`, `xnnpack`).
    pub fn tensor(&self, sub: &str, idx: u32) -> Option<NpyArray> {
        let bytes = std::fs::read(self.dir.join(sub).join(format!("{idx}.npy"))).ok()?;
        npy::read(&bytes).ok()
    }
}

/// All fixtures, sorted by name, filtered by the `MVCC_CASE` substring if set.
pub fn fixtures() -> Vec<Fixture> {
    fixtures_matching(std::env::var("MVCC_CASE").ok())
}

/// The fixture called `name`, whatever `MVCC_CASE` says.
pub fn fixture(name: &str) -> Option<Fixture> {
    fixtures_matching(Some(name.to_string()))
        .into_iter()
        .find(|f| f.name == name)
}

fn fixtures_matching(filter: Option<String>) -> Vec<Fixture> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(fixtures_dir()) else {
        return out;
    };
    for e in rd.flatten() {
        let dir = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if !dir.join("model.tflite").exists() {
            continue;
        }
        if let Some(f) = &filter {
            if !name.contains(f.as_str()) {
                continue;
            }
        }
        let meta = std::fs::read_to_string(dir.join("meta.json"))
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(serde_json::Value::Null);
        out.push(Fixture { name, dir, meta });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// How one tensor compares with its reference.
#[derive(Debug, Clone, PartialEq)]
pub enum Compare {
    /// Equal (integers) or within tolerance (floats).
    Match,
    /// Different: a one-line description.
    Mismatch(String),
}

fn floats(dtype: DType, bytes: &[u8]) -> Option<Vec<f32>> {
    match dtype {
        DType::F32 => Some(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        _ => None,
    }
}

fn ints(dtype: DType, bytes: &[u8]) -> Option<Vec<i64>> {
    let s = dtype.size();
    let it = bytes.chunks_exact(s);
    Some(match dtype {
        DType::I8 => it.map(|c| i64::from(c[0] as i8)).collect(),
        DType::U8 | DType::Bool => it.map(|c| i64::from(c[0])).collect(),
        DType::I16 => it
            .map(|c| i64::from(i16::from_le_bytes([c[0], c[1]])))
            .collect(),
        DType::I32 => it
            .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        DType::I64 => it
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        _ => return None,
    })
}

/// A tensor's values as `f64` (for reports), empty for types without a numeric view.
pub fn as_f64(dtype: DType, bytes: &[u8]) -> Vec<f64> {
    if let Some(f) = floats(dtype, bytes) {
        return f.into_iter().map(f64::from).collect();
    }
    ints(dtype, bytes)
        .map(|v| v.into_iter().map(|x| x as f64).collect())
        .unwrap_or_default()
}

/// Compares mvcc's value of a tensor (`dtype`, bytes) with TFLite's, with `tolerance` for floats.
pub fn compare(dtype: DType, got: &[u8], want: &NpyArray, tolerance: f32) -> Compare {
    if want.dtype != dtype {
        return Compare::Mismatch(format!("type {dtype}, TFLite's is {}", want.dtype));
    }
    if got.len() != want.data.len() {
        return Compare::Mismatch(format!(
            "{} bytes, TFLite's has {}",
            got.len(),
            want.data.len()
        ));
    }
    if let (Some(g), Some(w)) = (floats(dtype, got), floats(dtype, &want.data)) {
        let scale = w.iter().fold(0f32, |m, v| m.max(v.abs()));
        let tol = tolerance * scale.max(f32::MIN_POSITIVE);
        let mut worst = (0usize, 0f32);
        let mut bad = 0usize;
        for (i, (a, b)) in g.iter().zip(&w).enumerate() {
            let d = (a - b).abs();
            if d > tol || a.is_nan() != b.is_nan() {
                bad += 1;
                if d > worst.1 || d.is_nan() {
                    worst = (i, d);
                }
            }
        }
        return if bad == 0 {
            Compare::Match
        } else {
            let (i, d) = worst;
            Compare::Mismatch(format!(
                "{bad}/{} floats off by more than {tol:.3e} (worst at {i}: {} vs {}, |d|={d:.3e}, max|ref|={scale:.3e})",
                w.len(),
                g[i],
                w[i]
            ))
        };
    }
    if let (Some(g), Some(w)) = (ints(dtype, got), ints(dtype, &want.data)) {
        let diffs: Vec<usize> = (0..g.len()).filter(|&i| g[i] != w[i]).collect();
        return if diffs.is_empty() {
            Compare::Match
        } else {
            let i = diffs[0];
            let maxd = diffs
                .iter()
                .map(|&i| (g[i] - w[i]).abs())
                .max()
                .unwrap_or(0);
            Compare::Mismatch(format!(
                "{}/{} values differ (first at {i}: {} vs {}; max |d| = {maxd})",
                diffs.len(),
                g.len(),
                g[i],
                w[i]
            ))
        };
    }
    Compare::Mismatch(format!("cannot compare type {dtype}"))
}

/// A buffer holding an `.npy` array's bytes.
pub fn buf(a: &NpyArray) -> Buf {
    Buf::from_bytes(&a.data)
}

/// One optional shape per model input.
pub type InputShapes = Vec<Option<Vec<usize>>>;

/// The model's inputs as the fixture holds them, and the shapes to import the model with (models
/// with dynamic dimensions were run at the inputs' shapes).
///
/// # Errors
/// A missing input tensor.
pub fn fixture_inputs(f: &Fixture) -> Result<(Vec<Buf>, InputShapes), String> {
    let mut inputs = Vec::new();
    let mut shapes = Vec::new();
    for idx in f.indices("inputs") {
        let a = f
            .tensor("tensors", idx)
            .ok_or_else(|| format!("missing input tensors/{idx}.npy"))?;
        inputs.push(buf(&a));
        shapes.push(Some(a.shape.clone()));
    }
    Ok((inputs, shapes))
}

/// Compares every tensor the fixture checks with the value a back end computed (`values`,
/// indexed by the program's value ids), or with the importer's constant for tensors folded at
/// import; tensors fused away by the middle end are skipped. Returns the mismatches.
pub fn check_values(
    f: &Fixture,
    graph: &mvcc::ir::Graph,
    program: &mvcc::lower::Program,
    values: &[Option<Buf>],
) -> Vec<String> {
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
    bad
}

/// Runs every fixture through `run` (`Ok(mismatches)` or `Err(failure)`), with a table of
/// known failures that must still fail; panics listing every unexpected result.
pub fn run_suite(
    what: &str,
    known_failures: &[(&str, &str)],
    run: impl Fn(&Fixture) -> Result<Vec<String>, String>,
) {
    let all = fixtures();
    assert!(
        !all.is_empty() || std::env::var("MVCC_CASE").is_ok(),
        "no fixtures found in {}",
        fixtures_dir().display()
    );
    let mut unexpected = Vec::new();
    let mut passed = 0;
    for f in &all {
        let known = known_failures.iter().find(|(n, _)| *n == f.name);
        let result = run(f);
        let failed = match &result {
            Ok(bad) => !bad.is_empty(),
            Err(_) => true,
        };
        match (&result, known) {
            (Ok(bad), None) if bad.is_empty() => passed += 1,
            (_, Some((_, why))) if failed => eprintln!("known failure {}: {why}", f.name),
            (_, Some(_)) => unexpected.push(format!(
                "{}: passes but is listed as a known failure; remove it",
                f.name
            )),
            (Ok(bad), None) => {
                let shown: Vec<&str> = bad.iter().take(8).map(String::as_str).collect();
                unexpected.push(format!(
                    "{}: {} tensors differ:\n    {}",
                    f.name,
                    bad.len(),
                    shown.join("\n    ")
                ));
            }
            (Err(e), None) => unexpected.push(format!("{}: {e}", f.name)),
        }
    }
    eprintln!(
        "conformance ({what}): {passed}/{} fixtures match TFLite",
        all.len()
    );
    assert!(
        unexpected.is_empty(),
        "{} fixture(s) failed:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}

/// Compares only the model outputs a back end returned (in model order) with TFLite's.
pub fn check_outputs(
    f: &Fixture,
    graph: &mvcc::ir::Graph,
    program: &mvcc::lower::Program,
    outputs: &[Buf],
) -> Vec<String> {
    let mut values = vec![None; program.values.len()];
    for (n, &v) in program.outputs.iter().enumerate() {
        values[v.index()] = outputs.get(n).cloned();
    }
    let wanted: Vec<u32> = f.indices("outputs");
    check_values(f, graph, program, &values)
        .into_iter()
        .filter(|m| {
            wanted
                .iter()
                .any(|i| m.starts_with(&format!("tensor {i} ")))
        })
        .collect()
}

/// Every program value as it was when complete, collected step by step from a back end that
/// reports its memory after each step (the JIT's and the Rust back end's traced runs).
#[derive(Debug)]
pub struct Trace<'p> {
    program: &'p mvcc::lower::Program,
    plan: &'p mvcc::plan::Plan,
    done_at: Vec<Option<usize>>,
    inputs: Vec<Vec<u8>>,
    /// The values so far (`None` for values not complete yet, or never written).
    pub values: Vec<Option<Buf>>,
}

impl<'p> Trace<'p> {
    /// A trace of a run on `inputs`; values that live in the inputs and no step writes are
    /// already there.
    pub fn new(
        program: &'p mvcc::lower::Program,
        plan: &'p mvcc::plan::Plan,
        inputs: &[Buf],
    ) -> Self {
        let mut t = Trace {
            program,
            plan,
            done_at: mvcc::interp::completion_steps(program),
            inputs: inputs.iter().map(|b| b.bytes().to_vec()).collect(),
            values: vec![None; program.values.len()],
        };
        for v in 0..program.values.len() {
            let id = mvcc::lower::ValueId(v as u32);
            if let (None, mvcc::plan::Place::Input(..)) = (t.done_at[v], plan.place(program, id)) {
                t.values[v] = Some(t.read(id, &[], &[]));
            }
        }
        t
    }

    fn read(&self, v: mvcc::lower::ValueId, arena: &[u8], outs: &[&[u8]]) -> Buf {
        let len = self.program.value(v).bytes;
        Buf::from_bytes(match self.plan.place(self.program, v) {
            mvcc::plan::Place::Arena(o) => &arena[o..o + len],
            mvcc::plan::Place::Input(n, o) => &self.inputs[n][o..o + len],
            mvcc::plan::Place::Output(n, o) => &outs[n][o..o + len],
        })
    }

    /// Records the values step `step` completed, read from the arena and output buffers.
    pub fn after_step(&mut self, step: usize, arena: &[u8], outs: &[&[u8]]) {
        for v in 0..self.program.values.len() {
            if self.done_at[v] == Some(step) {
                self.values[v] = Some(self.read(mvcc::lower::ValueId(v as u32), arena, outs));
            }
        }
    }
}

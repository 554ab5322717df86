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
    let filter = std::env::var("MVCC_CASE").ok();
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

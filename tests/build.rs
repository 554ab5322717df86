//! Writes `$OUT_DIR/models.rs`: one `include_model!` per conformance fixture for the Rust back
//! end's suite (`tests/rust_backend.rs`). A proc macro needs a literal path, so the list is
//! generated here from the fixture directories; `MVCC_CASE=<substring>` builds only the matching
//! fixtures (and so compiles faster).

use std::fmt::Write as _;

/// The shapes of a fixture's inputs (the models with dynamic dimensions were run at them): the
/// `inputs` indices of `meta.json`, each shape from its `.npy` header.
fn input_shapes(dir: &std::path::Path) -> Vec<Vec<usize>> {
    let meta = std::fs::read_to_string(dir.join("meta.json")).unwrap_or_default();
    let Some(list) = meta
        .split("\"inputs\":")
        .nth(1)
        .and_then(|r| r.split(']').next())
    else {
        return Vec::new();
    };
    let ints = |s: &str| -> Vec<usize> {
        s.split(|c: char| !c.is_ascii_digit())
            .filter(|t| !t.is_empty())
            .filter_map(|t| t.parse().ok())
            .collect()
    };
    ints(list)
        .into_iter()
        .map(|idx| {
            let npy = std::fs::read(dir.join(format!("tensors/{idx}.npy"))).unwrap_or_default();
            let header = String::from_utf8_lossy(&npy[..npy.len().min(256)]).into_owned();
            header
                .split("'shape': (")
                .nth(1)
                .and_then(|r| r.split(')').next())
                .map(ints)
                .unwrap_or_default()
        })
        .collect()
}

fn main() {
    let root = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let fixtures = root.join("fixtures");
    println!("cargo:rerun-if-changed={}", fixtures.display());
    println!("cargo:rerun-if-env-changed=MVCC_CASE");
    let filter = std::env::var("MVCC_CASE").unwrap_or_default();
    let mut names: Vec<String> = std::fs::read_dir(&fixtures)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().join("model.tflite").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut s = String::from("models! {\n");
    for n in names.iter().filter(|n| n.contains(&filter)) {
        let shapes: Vec<String> = input_shapes(&fixtures.join(n))
            .iter()
            .map(|s| format!("{s:?}"))
            .collect();
        let _ = writeln!(
            s,
            "    {n}: \"fixtures/{n}/model.tflite\" [{}],",
            shapes.join(", ")
        );
    }
    s.push_str("}\n");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("models.rs");
    std::fs::write(out, s).unwrap();
}

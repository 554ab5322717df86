//! Goldens: the IR text form after import for a few small fixtures, in `tests/out/ir/<case>.txt`.
//! `MVCC_BLESS=1 cargo test -p mvcc-tests --test goldens` rewrites them; CI refuses drift.

use std::path::Path;

const CASES: &[&str] = &["conv_i8", "shape_ops_f32", "face_f16w", "tf1_net_u8"];

/// Compares `text` with `tests/out/<kind>/<case>.txt` (or rewrites it when blessing).
fn check_golden(kind: &str, case: &str, text: &str, failures: &mut Vec<String>) {
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("out").join(kind);
    let path = out_dir.join(format!("{case}.txt"));
    if std::env::var_os("MVCC_BLESS").is_some() {
        std::fs::create_dir_all(&out_dir).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if want != text {
        failures.push(format!("{}: differs; got:\n{text}", path.display()));
    }
}

#[test]
fn optimized_ir_and_plan() {
    let mut failures = Vec::new();
    for case in CASES {
        let model = mvcc_tests::fixtures_dir().join(case).join("model.tflite");
        let bytes = std::fs::read(&model).unwrap_or_else(|e| panic!("{}: {e}", model.display()));
        let graph = mvcc::load_model(&bytes).unwrap_or_else(|e| panic!("{case}: {e}"));
        let optimized = mvcc::passes::optimize(&graph).unwrap_or_else(|e| panic!("{case}: {e}"));
        check_golden(
            "opt",
            case,
            &mvcc::ir::text::graph_to_text(&optimized),
            &mut failures,
        );
        let (program, plan) =
            mvcc::interp::compile(&graph).unwrap_or_else(|e| panic!("{case}: {e}"));
        check_golden(
            "plan",
            case,
            &mvcc::plan::text::plan_to_text(&program, &plan),
            &mut failures,
        );
    }
    assert!(
        failures.is_empty(),
        "{}\n(re-bless with MVCC_BLESS=1 if the change is intended)",
        failures.join("\n")
    );
}

#[test]
fn ir_text_after_import() {
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("out/ir");
    let bless = std::env::var_os("MVCC_BLESS").is_some();
    let mut failures = Vec::new();
    for case in CASES {
        let model = mvcc_tests::fixtures_dir().join(case).join("model.tflite");
        let bytes = std::fs::read(&model).unwrap_or_else(|e| panic!("{}: {e}", model.display()));
        let text = match mvcc::load_model(&bytes) {
            Ok(g) => mvcc::ir::text::graph_to_text(&g),
            Err(e) => format!("error: {e}\n"),
        };
        let path = out_dir.join(format!("{case}.txt"));
        if bless {
            std::fs::create_dir_all(&out_dir).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if want != text {
            failures.push(format!("{case}: {} differs; got:\n{text}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(re-bless with MVCC_BLESS=1 if the change is intended)",
        failures.join("\n")
    );
}

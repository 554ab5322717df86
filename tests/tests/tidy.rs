//! House rules that tools do not check: no should-panic or ignored tests, every source file
//! opens with a `//!` doc, and `SUPPORTED_OPS.md` lists exactly the op table.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            if !matches!(
                p.file_name().and_then(|n| n.to_str()),
                Some("target" | "fixtures" | "out")
            ) {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_should_panic_or_ignored_tests_and_every_file_has_a_module_doc() {
    let mut files = Vec::new();
    for d in [
        "compiler/src",
        "runtime/src",
        "macros/src",
        "tests/src",
        "tests/tests",
        "compiler/tests",
    ] {
        rust_files(&root().join(d), &mut files);
    }
    let mut bad = Vec::new();
    let (a, b) = ("#[should_", "panic]");
    let (c, d) = ("#[ig", "nore]");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        if text.contains(&format!("{a}{b}")) || text.contains(&format!("{c}{d}")) {
            bad.push(format!("{}: uses should_panic or ignore", f.display()));
        }
        let generated = f.ends_with("schema_generated.rs");
        if !generated && !text.trim_start().starts_with("//!") {
            bad.push(format!(
                "{}: does not open with a //! doc comment",
                f.display()
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

fn supported_ops_md() -> String {
    let mut s = String::from(
        "# Supported TFLite operators\n\nGenerated from the op table (`compiler/src/ir/ops.rs`); \
         `MVCC_BLESS=1 cargo test -p mvcc-tests --test tidy` rewrites it.\n\n\
         | TFLite builtin | code | mvcc IR name |\n|---|---|---|\n",
    );
    let mut kinds: Vec<_> = mvcc::ir::OpKind::ALL.to_vec();
    kinds.sort_by_key(|k| k.tflite_name());
    for k in kinds {
        s.push_str(&format!(
            "| {} | {} | `{}` |\n",
            k.tflite_name(),
            k.tflite_code(),
            k.name()
        ));
    }
    s
}

#[test]
fn supported_ops_md_matches_the_op_table() {
    let path = root().join("SUPPORTED_OPS.md");
    let want = supported_ops_md();
    if std::env::var_os("MVCC_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let got = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        got == want,
        "SUPPORTED_OPS.md is out of date; re-bless with MVCC_BLESS=1"
    );
}

//! Goldens of the Cranelift back end's IR (`tests/out/clif/NAME.clif`): the CLIF of every
//! function of a few small models as generated for `x86_64-unknown-linux-gnu`, with Cranelift's
//! verifier on (it runs when each function is defined). `MVCC_BLESS=1` rewrites them.

use mvcc::clif::target::Target;

/// The fixtures with a golden.
const GOLDENS: &[&str] = &["dwconv_f32", "act_i8", "pool_u8"];

#[test]
fn generated_clif_matches_the_goldens() {
    let t = Target::lookup("x86_64-unknown-linux-gnu").unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("out/clif");
    let mut stale = Vec::new();
    for name in GOLDENS {
        let f = mvcc_tests::fixture(name).unwrap();
        let graph = mvcc::load_model(&f.model()).unwrap();
        let (program, plan) = mvcc::interp::compile(&graph).unwrap();
        let text = mvcc::clif::object::clif_text(&program, &plan, &t, name).unwrap();
        let path = dir.join(format!("{name}.clif"));
        if std::env::var_os("MVCC_BLESS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale goldens (MVCC_BLESS=1 rewrites): {stale:?}"
    );
}

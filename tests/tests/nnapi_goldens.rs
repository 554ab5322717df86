//! Goldens of the NNAPI lowering (`tests/out/nnapi/NAME.txt`): the partition report and every
//! NNAPI model description of a few small models, at API level 30 (and one at 27, where signed
//! int8 is not available and the model stays on the CPU). `MVCC_BLESS=1` rewrites them.

/// The fixtures with a golden, and the API level.
const GOLDENS: &[(&str, u32)] = &[
    ("conv_i8", 30),
    ("conv_i8", 27),
    ("dwconv_u8", 29),
    ("pool_f32", 29),
    ("shape_ops_f32", 30),
    ("fc_u8", 27),
];

#[test]
fn nnapi_descriptions_match_the_goldens() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("out/nnapi");
    let mut stale = Vec::new();
    for &(name, api) in GOLDENS {
        let f = mvcc_tests::fixture(name).unwrap();
        let graph = mvcc::load_model(&f.model()).unwrap();
        let c = mvcc::nnapi::partition::compile(&graph, api).unwrap();
        let text = format!(
            "{}\n{}",
            mvcc::nnapi::partition::report(&c),
            mvcc::nnapi::text::partition(&c.partition, &c.program.weights.bytes)
        );
        // Deterministic: a second compilation gives the same bytes.
        let again = mvcc::nnapi::partition::compile(&graph, api).unwrap();
        assert_eq!(
            c.partition, again.partition,
            "{name}: partition differs between runs"
        );
        assert_eq!(
            c.program.weights, again.program.weights,
            "{name}: weights differ between runs"
        );
        let path = dir.join(format!("{name}_api{api}.txt"));
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

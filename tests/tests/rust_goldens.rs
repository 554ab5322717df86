//! Goldens of the Rust back end's generated source (`tests/out/rust/NAME.rs` and its
//! `NAME.weights.bin`): the generator must reproduce them byte for byte (`MVCC_BLESS=1`
//! rewrites them), and this file compiles them with `include!` and runs them on the fixture's
//! inputs, so a golden is always code that builds and computes TFLite's outputs.

use mvcc_runtime::CompiledModel;
use mvcc_tests::{check_outputs, fixture_inputs, Fixture};

/// The fixtures with a golden.
const GOLDENS: &[&str] = &["conv_i8", "dwconv_u8", "shape_ops_f32", "tf1_net_u8"];

#[allow(dead_code)] // every generated item is public; a test uses only some
mod conv_i8 {
    include!("../out/rust/conv_i8.rs");
}
#[allow(dead_code)] // every generated item is public; a test uses only some
mod dwconv_u8 {
    include!("../out/rust/dwconv_u8.rs");
}
#[allow(dead_code)] // every generated item is public; a test uses only some
mod shape_ops_f32 {
    include!("../out/rust/shape_ops_f32.rs");
}
#[allow(dead_code)] // every generated item is public; a test uses only some
mod tf1_net_u8 {
    include!("../out/rust/tf1_net_u8.rs");
}

fn golden_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("out/rust")
}

fn fixture(name: &str) -> Fixture {
    mvcc_tests::fixture(name).unwrap_or_else(|| panic!("fixture {name} is missing"))
}

#[test]
fn generated_source_matches_the_goldens() {
    let mut stale = Vec::new();
    for name in GOLDENS {
        let f = fixture(name);
        let opts = mvcc::rust::Options {
            name: name.to_string(),
            source: "model.tflite".into(),
            weights: mvcc::rust::WeightsForm::File(format!("{name}.weights.bin")),
            trace: false,
            input_shapes: Vec::new(),
            nnapi: None,
        };
        let g = mvcc::rust::compile(&f.model(), &opts).unwrap();
        for (file, bytes) in [
            (format!("{name}.rs"), g.code.into_bytes()),
            (format!("{name}.weights.bin"), g.weights),
        ] {
            let path = golden_dir().join(&file);
            if std::env::var_os("MVCC_BLESS").is_some() {
                std::fs::write(&path, &bytes).unwrap();
            }
            if std::fs::read(&path).ok() != Some(bytes) {
                stale.push(file);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale goldens (MVCC_BLESS=1 rewrites): {stale:?}"
    );
}

#[test]
fn generation_is_deterministic() {
    for name in GOLDENS {
        let f = fixture(name);
        let opts = mvcc::rust::Options {
            name: name.to_string(),
            source: "model.tflite".into(),
            weights: mvcc::rust::WeightsForm::Placeholder,
            trace: true,
            input_shapes: Vec::new(),
            nnapi: None,
        };
        let a = mvcc::rust::compile(&f.model(), &opts).unwrap();
        let b = mvcc::rust::compile(&f.model(), &opts).unwrap();
        assert_eq!(a, b, "{name}");
    }
}

/// Runs a compiled golden on its fixture's inputs; checks the model outputs against TFLite.
fn run_golden(name: &str, mut model: Box<dyn CompiledModel>) {
    let f = fixture(name);
    let (inputs, shapes) = fixture_inputs(&f).unwrap();
    let ins: Vec<&[u8]> = inputs.iter().map(|b| b.bytes()).collect();
    let mut outs: Vec<mvcc::interp::Buf> = model
        .outputs()
        .iter()
        .map(|t| mvcc::interp::Buf::zeroed(t.bytes()))
        .collect();
    let mut out_bytes: Vec<&mut [u8]> = outs.iter_mut().map(|b| b.bytes_mut()).collect();
    model.run_bytes(&ins, &mut out_bytes).unwrap();
    let graph = mvcc::load_model_with_shapes(&f.model(), &shapes).unwrap();
    let (program, _) = mvcc::rust::prepare(&graph).unwrap();
    let bad = check_outputs(&f, &graph, &program, &outs);
    assert!(bad.is_empty(), "{name}: {bad:?}");
}

#[test]
fn compiled_goldens_compute_tflites_outputs() {
    run_golden("conv_i8", Box::new(conv_i8::Model::new()));
    run_golden("dwconv_u8", Box::new(dwconv_u8::Model::new()));
    run_golden("shape_ops_f32", Box::new(shape_ops_f32::Model::new()));
    run_golden("tf1_net_u8", Box::new(tf1_net_u8::Model::new()));
}

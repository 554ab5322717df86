//! Malformed and hostile models: each gets a clean error naming where the problem is — never a
//! panic, abort, hang or huge allocation. Models are written with `mvcc::tflite::builder`, so each
//! case states exactly what is wrong; truncations, byte flips and random bytes cover the rest.

use mvcc::error::Problem;
use mvcc::interp::{Buf, Interpreter};
use mvcc::tflite::builder::{BufferSpec, ModelSpec, OperatorSpec, OptionsSpec, TensorSpec};

const F32: i8 = 0;
const I32: i8 = 2;
const I8: i8 = 9;
const RESHAPE: i32 = 22;
const CONV_2D: i32 = 3;

fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A valid model: input f32[1,2,2,3] → RESHAPE to [1,12].
fn base() -> ModelSpec {
    let mut m = ModelSpec::default();
    let op = m.add_opcode(RESHAPE, 1);
    let shape_buf = m.add_buffer(i32_bytes(&[1, 12]));
    let x = m.add_tensor(TensorSpec {
        name: "x".into(),
        shape: vec![1, 2, 2, 3],
        dtype: F32,
        ..Default::default()
    });
    let s = m.add_tensor(TensorSpec {
        name: "shape".into(),
        shape: vec![2],
        dtype: I32,
        buffer: shape_buf,
        ..Default::default()
    });
    let y = m.add_tensor(TensorSpec {
        name: "y".into(),
        shape: vec![1, 12],
        dtype: F32,
        ..Default::default()
    });
    m.operators.push(OperatorSpec {
        opcode_index: op,
        inputs: vec![x, s],
        outputs: vec![y],
        options: OptionsSpec::None,
    });
    m.inputs = vec![x];
    m.outputs = vec![y];
    m
}

/// Imports `m` and returns the error text; panics (fails the test) if it imports.
fn error_of(m: &ModelSpec) -> String {
    match mvcc::load_model(&m.to_bytes()) {
        Ok(_) => panic!("the model imported, but it is malformed: {m:#?}"),
        Err(e) => e.to_string(),
    }
}

fn expect_error(m: &ModelSpec, needles: &[&str]) {
    let e = error_of(m);
    for n in needles {
        assert!(e.contains(n), "error {e:?} does not mention {n:?}");
    }
}

#[test]
fn the_base_model_is_valid_and_runs() {
    let g = mvcc::load_model(&base().to_bytes()).expect("base model imports");
    let (p, plan) = mvcc::interp::compile(&g).unwrap();
    let out = Interpreter::new(&p, &plan)
        .run(&[Buf::from_slice(&[1f32; 12])])
        .unwrap();
    assert_eq!(out[0].as_slice::<f32>().unwrap(), &[1f32; 12]);
}

#[test]
fn truncated_files_are_rejected() {
    let bytes = base().to_bytes();
    for len in 0..bytes.len() {
        assert!(
            mvcc::load_model(&bytes[..len]).is_err(),
            "truncated at {len} bytes imported"
        );
    }
    assert!(error_of_bytes(&[]).contains("too short"));
}

fn error_of_bytes(b: &[u8]) -> String {
    mvcc::load_model(b)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn wrong_identifier_is_named() {
    let mut b = base().to_bytes();
    b[4..8].copy_from_slice(b"XXXX");
    assert!(error_of_bytes(&b).contains("TFL3"));
}

/// A small deterministic generator (xorshift), so failures reproduce.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn every_single_byte_corruption_is_handled() {
    let bytes = base().to_bytes();
    for pos in 0..bytes.len() {
        for v in [0x00u8, 0xff, 0x80, 0x7f] {
            let mut b = bytes.clone();
            b[pos] = v;
            // Either a clean error or a model that still runs; never a panic.
            if let Ok(g) = mvcc::load_model(&b) {
                if let Ok((p, plan)) = mvcc::interp::compile(&g) {
                    let inputs: Vec<Buf> = g
                        .inputs
                        .iter()
                        .map(|&t| Buf::zeroed(g.tensor(t).byte_len()))
                        .collect();
                    let _ = Interpreter::new(&p, &plan).run(&inputs);
                }
            }
        }
    }
}

#[test]
fn random_bytes_are_rejected() {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    for len in [8usize, 16, 64, 256, 4096] {
        for _ in 0..50 {
            let mut b: Vec<u8> = (0..len).map(|_| xorshift(&mut s) as u8).collect();
            b[4..8].copy_from_slice(b"TFL3");
            assert!(mvcc::load_model(&b).is_err());
        }
    }
}

#[test]
fn buffer_index_out_of_range() {
    let mut m = base();
    m.tensors[1].buffer = 99;
    expect_error(
        &m,
        &["tensor 1 \"shape\"", "buffer index 99 is out of range"],
    );
}

#[test]
fn tensor_index_out_of_range() {
    let mut m = base();
    m.operators[0].inputs[0] = 7;
    expect_error(
        &m,
        &["operator 0 (RESHAPE)", "tensor index 7 is out of range"],
    );
    let mut m = base();
    m.outputs = vec![-5];
    expect_error(&m, &["tensor index -5 is out of range"]);
}

#[test]
fn opcode_index_out_of_range() {
    let mut m = base();
    m.operators[0].opcode_index = 3;
    expect_error(&m, &["operator 0", "opcode index 3 is out of range"]);
}

#[test]
fn buffer_size_disagrees_with_tensor() {
    let mut m = base();
    m.buffers[1].data = i32_bytes(&[1, 12, 1]);
    expect_error(&m, &["tensor 1 \"shape\"", "holds 12 bytes", "needs 8"]);
}

#[test]
fn external_buffer_past_the_end() {
    let mut m = base();
    m.buffers[1] = BufferSpec {
        data: vec![],
        offset: 1 << 40,
        size: 8,
    };
    expect_error(&m, &["tensor 1 \"shape\"", "runs past the end of the file"]);
}

#[test]
fn bad_dimensions() {
    for (dims, needle) in [
        (vec![1, -2, 2, 3], "dimension -2"),
        (vec![1, 0, 2, 3], "dimension 0"),
        (vec![65536, 65536, 65536, 3], "too large"),
        (vec![1; 9], "rank 9"),
    ] {
        let mut m = base();
        m.tensors[0].shape = dims;
        expect_error(&m, &["tensor 0 \"x\"", needle]);
    }
}

#[test]
fn reshape_to_a_wrong_size() {
    let mut m = base();
    m.buffers[1].data = i32_bytes(&[1, 13]);
    expect_error(&m, &["operator 0 (RESHAPE)", "cannot reshape 12 elements"]);
}

#[test]
fn cycles_are_rejected() {
    // y = reshape(z), z = reshape(y): a cycle with no way in.
    let mut m = base();
    let z = m.add_tensor(TensorSpec {
        name: "z".into(),
        shape: vec![1, 12],
        dtype: F32,
        ..Default::default()
    });
    m.operators[0].inputs[0] = z;
    m.operators.push(OperatorSpec {
        opcode_index: 0,
        inputs: vec![2, 1],
        outputs: vec![z],
        options: OptionsSpec::None,
    });
    expect_error(&m, &["cycle"]);
}

#[test]
fn two_producers_of_one_tensor() {
    let mut m = base();
    let op = m.operators[0].clone();
    m.operators.push(op);
    expect_error(&m, &["operator 1 (RESHAPE)", "also written by operator 0"]);
}

#[test]
fn missing_quantization_where_required() {
    // An int8 RESHAPE input without quantization is fine for RESHAPE; an int8 CONV_2D is not.
    let mut m = ModelSpec::default();
    let conv = m.add_opcode(CONV_2D, 3);
    let wb = m.add_buffer(vec![1u8; 2 * 3]);
    let x = m.add_tensor(TensorSpec {
        name: "x".into(),
        shape: vec![1, 2, 2, 3],
        dtype: I8,
        ..Default::default()
    });
    let w = m.add_tensor(TensorSpec {
        name: "w".into(),
        shape: vec![2, 1, 1, 3],
        dtype: I8,
        buffer: wb,
        ..Default::default()
    });
    let y = m.add_tensor(TensorSpec {
        name: "y".into(),
        shape: vec![1, 2, 2, 2],
        dtype: I8,
        ..Default::default()
    });
    m.operators.push(OperatorSpec {
        opcode_index: conv,
        inputs: vec![x, w, -1],
        outputs: vec![y],
        options: OptionsSpec::Conv2d {
            padding: 0,
            stride: [1, 1],
            act: 0,
            dilation: [1, 1],
        },
    });
    m.inputs = vec![x];
    m.outputs = vec![y];
    expect_error(&m, &["operator 0 (CONV_2D)", "quantization"]);
}

/// A model with FLOOR, NEG, an unknown builtin and a RESHAPE of a future version (also committed
/// as `tests/ui/models/unsupported_ops.tflite` for the `include_model!` UI test).
fn unsupported_ops_model() -> ModelSpec {
    let mut m = base();
    let floor = m.add_opcode(8, 1);
    let neg = m.add_opcode(59, 2);
    let future = m.add_opcode(400, 1);
    let old_reshape = m.add_opcode(RESHAPE, 99);
    let mut prev = 2;
    for (i, op) in [floor, neg, floor, future, old_reshape]
        .into_iter()
        .enumerate()
    {
        let t = m.add_tensor(TensorSpec {
            name: format!("t{i}"),
            shape: vec![1, 12],
            dtype: F32,
            ..Default::default()
        });
        m.operators.push(OperatorSpec {
            opcode_index: op,
            inputs: vec![prev],
            outputs: vec![t],
            options: OptionsSpec::None,
        });
        prev = t;
    }
    m.outputs = vec![prev];
    m
}

/// The models the `include_model!` UI tests (`tests/ui/`) read, checked against their builders
/// (`MVCC_BLESS=1` rewrites them).
#[test]
fn ui_test_models_are_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/models");
    let conv = std::fs::read(mvcc_tests::fixtures_dir().join("conv_f32/model.tflite")).unwrap();
    for (name, bytes) in [
        ("unsupported_ops.tflite", unsupported_ops_model().to_bytes()),
        ("truncated.tflite", conv[..conv.len() / 2].to_vec()),
    ] {
        let path = dir.join(name);
        if std::env::var_os("MVCC_BLESS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == bytes,
            "{} is stale: run with MVCC_BLESS=1",
            path.display()
        );
    }
}

#[test]
fn every_unsupported_op_is_listed_at_once() {
    let m = unsupported_ops_model();
    let e = mvcc::load_model(&m.to_bytes()).unwrap_err();
    let unsupported: Vec<&Problem> = e
        .problems
        .iter()
        .filter(|p| matches!(p, Problem::Unsupported(_)))
        .collect();
    assert_eq!(
        unsupported.len(),
        1,
        "one error lists every unsupported op: {e}"
    );
    let text = e.to_string();
    for needle in [
        "FLOOR v1 (operators 1, 3)",
        "NEG v2 (operator 2)",
        "BUILTIN_400 v1 (operator 4)",
        "RESHAPE v99 (operator 5)",
    ] {
        assert!(
            text.contains(needle),
            "{text:?} does not mention {needle:?}"
        );
    }
}

#[test]
fn old_schema_versions_are_named() {
    let mut m = base();
    m.version = 2;
    expect_error(&m, &["schema version 2"]);
}

#[test]
fn wrong_sized_input_at_run_time() {
    let g = mvcc::load_model(&base().to_bytes()).unwrap();
    let (p, plan) = mvcc::interp::compile(&g).unwrap();
    let i = Interpreter::new(&p, &plan);
    let e = i
        .run(&[Buf::from_slice(&[1f32; 11])])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tensor 0 \"x\"") && e.contains("48 bytes"),
        "{e}"
    );
    let e = i.run(&[]).unwrap_err().to_string();
    assert!(e.contains("1 inputs, 0 were given"), "{e}");
}

#[test]
fn external_buffers_are_read() {
    // Models over 2 GB keep constant data after the FlatBuffer, addressed by (offset, size) from
    // the start of the file. Write the model once to learn its size, then point the buffer there.
    let data = i32_bytes(&[1, 12]);
    let mut m = base();
    m.buffers[1] = BufferSpec {
        data: vec![],
        offset: 2,
        size: data.len() as u64,
    };
    let len = m.to_bytes().len();
    let offset = len.next_multiple_of(16) as u64;
    m.buffers[1].offset = offset;
    let mut bytes = m.to_bytes();
    assert_eq!(bytes.len(), len);
    bytes.resize(offset as usize, 0);
    bytes.extend_from_slice(&data);
    let g = mvcc::load_model(&bytes).expect("external buffer model imports");
    assert_eq!(g.tensors[2].shape, vec![1, 12]);
}

#[test]
fn a_bad_dimension_next_to_huge_ones() {
    // Found by fuzzing: a non-positive dimension beside dimensions whose product overflows.
    let mut m = base();
    m.tensors[1].shape = vec![0, 1 << 30, 1 << 30, 1 << 30];
    expect_error(&m, &["tensor 1 \"shape\"", "dimension 0"]);
}

/// Every file in `tests/corpus/` (inputs that once crashed the fuzzer or were written by hand)
/// imports with a clean error or runs; none panics. Those that import also partition for NNAPI
/// (API 30 and 27) into descriptions the validator accepts (`fuzz-nnapi-zero-point.tflite`: an
/// int8 tensor whose zero point is outside int8 once went into an NNAPI model).
#[test]
fn the_corpus_of_past_crashes_is_handled() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut n = 0;
    for e in std::fs::read_dir(&dir)
        .expect("tests/corpus exists")
        .flatten()
    {
        let bytes = std::fs::read(e.path()).unwrap();
        n += 1;
        if let Ok(g) = mvcc::load_model(&bytes) {
            if let Ok((p, plan)) = mvcc::interp::compile(&g) {
                let inputs: Vec<Buf> = g
                    .inputs
                    .iter()
                    .map(|&t| Buf::zeroed(g.tensor(t).byte_len()))
                    .collect();
                let _ = Interpreter::new(&p, &plan).run(&inputs);
            }
            for api in [30, 27] {
                let Ok(c) = mvcc::nnapi::partition::compile(&g, api) else {
                    continue;
                };
                for s in &c.partition.segments {
                    if let mvcc::nnapi::SegmentKind::Nnapi { desc, .. } = &s.kind {
                        let issues =
                            mvcc::nnapi::validate::validate(desc, &c.program.weights.bytes);
                        assert!(issues.is_empty(), "{:?}, API {api}: {issues:?}", e.path());
                    }
                }
            }
        }
    }
    assert!(n > 0);
}

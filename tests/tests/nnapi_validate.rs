//! `mvcc::nnapi::validate` against NNAPI's conformance vectors (`tests/nnapi-cts/`): every case
//! in `index.json` must validate clean at its own API level, except the cases AOSP expects to
//! fail (a depthwise filter whose first dimension is not 1), which must give an issue. Then
//! hand-made mutations of valid cases must each give the expected issue at the expected place.

use std::path::{Path, PathBuf};

use mvcc::nnapi::cts::{self, Case};
use mvcc::nnapi::validate::{validate, Issue, Slot};
use mvcc::nnapi::{ChannelQuant, Lifetime};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("nnapi-cts")
}

fn load(file: &str) -> Case {
    let text = std::fs::read_to_string(root().join(file))
        .unwrap_or_else(|e| panic!("cannot read nnapi-cts/{file}: {e}"));
    cts::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn files() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("index.json"))
        .unwrap_or_else(|e| panic!("cannot read nnapi-cts/index.json: {e}"));
    let json: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("index.json: {e}"));
    json.as_array()
        .expect("index.json is a list")
        .iter()
        .map(|e| e["file"].as_str().expect("an entry has a file").to_string())
        .collect()
}

#[test]
fn every_conformance_case_is_valid_unless_aosp_expects_failure() {
    let mut bad = Vec::new();
    let (mut clean, mut rejected) = (0, 0);
    for file in files() {
        let case = load(&file);
        let issues = validate(&case.desc, &[]);
        match (case.expect_failure, issues.is_empty()) {
            (false, true) => clean += 1,
            (true, false)
                if issues
                    .iter()
                    .any(|i| i.message.contains("a depthwise filter is [1,")) =>
            {
                rejected += 1
            }
            (true, false) => bad.push(format!(
                "{file}: rejected, but not for its depthwise filter shape: {issues:?}"
            )),
            (false, false) => bad.push(format!(
                "{file} (API {}):\n    {}",
                case.desc.api_level,
                issues
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join("\n    ")
            )),
            (true, true) => bad.push(format!("{file}: AOSP expects failure, no issue found")),
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} cases wrong:\n{}",
        bad.len(),
        clean + rejected + bad.len(),
        bad.join("\n")
    );
    assert!(clean > 1600, "{clean} clean cases");
    assert_eq!(rejected, 24, "the depthwise invalid-filter cases");
}

/// Asserts that `issues` has one matching `pred`, and returns it.
fn find<'a>(issues: &'a [Issue], what: &str, pred: impl Fn(&Issue) -> bool) -> &'a Issue {
    issues.iter().find(|i| pred(i)).unwrap_or_else(|| {
        panic!(
            "no issue {what}; got:\n{}",
            issues
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// `CONV_2D/conv_quant8__default.json`: uint8 input 0.5, filter 0.5, bias 0.25, explicit padding.
fn conv_quant8() -> Case {
    let case = load("CONV_2D/conv_quant8__default.json");
    assert!(validate(&case.desc, &[]).is_empty());
    case
}

#[test]
fn wrong_bias_scale() {
    let mut c = conv_quant8();
    c.desc.operands[2].scale = 0.3;
    let issues = validate(&c.desc, &[]);
    let i = find(&issues, "about the bias scale", |i| {
        i.operation == Some(0)
            && i.slot == Some(Slot::Input(2))
            && i.operand == Some(2)
            && i.message.contains("bias scale 0.3")
    });
    assert!(
        i.to_string()
            .starts_with("operation 0 (CONV_2D), input 2 (operand 2 \"op3\"): bias scale"),
        "{i}"
    );
    assert_eq!(issues.len(), 1, "{issues:?}");
}

#[test]
fn zero_point_out_of_range() {
    let mut c = conv_quant8();
    c.desc.operands[0].zero_point = 256;
    let issues = validate(&c.desc, &[]);
    find(&issues, "about the uint8 zero point", |i| {
        i.operation.is_none() && i.operand == Some(0) && i.message.contains("outside 0..=255")
    });
    let mut c = load("CONV_2D/conv2d_quant8_signed__channel_nhwc_quant8_signed.json");
    assert!(validate(&c.desc, &[]).is_empty());
    c.desc.operands[0].zero_point = -129;
    let issues = validate(&c.desc, &[]);
    find(&issues, "about the int8 zero point", |i| {
        i.operand == Some(0) && i.message.contains("outside -128..=127")
    });
}

#[test]
fn wrong_input_count() {
    let mut c = conv_quant8();
    c.desc.operations[0].inputs.pop();
    let issues = validate(&c.desc, &[]);
    find(&issues, "about the input count", |i| {
        i.operation == Some(0) && i.message.starts_with("9 inputs")
    });
}

#[test]
fn api_level_too_low() {
    let mut c = load("HARD_SWISH/hard_swish__5d_input_quant8.json");
    assert_eq!(c.desc.api_level, 30);
    assert!(validate(&c.desc, &[]).is_empty());
    c.desc.api_level = 29;
    let issues = validate(&c.desc, &[]);
    find(&issues, "about HARD_SWISH's API level", |i| {
        i.operation == Some(0) && i.message.contains("HARD_SWISH needs API 30")
    });
    let mut c = load("CONV_2D/conv2d_per_channel__default.json");
    assert!(validate(&c.desc, &[]).is_empty());
    c.desc.api_level = 28;
    let issues = validate(&c.desc, &[]);
    find(&issues, "about the per-channel type's API level", |i| {
        i.operand == Some(1) && i.message.contains("needs API 29")
    });
    find(&issues, "about per-channel CONV_2D's API level", |i| {
        i.operation == Some(0) && i.message.contains("per-channel filter needs API 29")
    });
}

#[test]
fn per_channel_dimension_wrong() {
    let mut c = load("CONV_2D/conv2d_per_channel__default.json");
    // Filter [3, 1, 1, 2]: quantize along dimension 3 instead of 0.
    c.desc.operands[1].channel_quant = Some(ChannelQuant {
        channel_dim: 3,
        scales: vec![0.5, 0.75],
    });
    let issues = validate(&c.desc, &[]);
    find(&issues, "about the channel dimension", |i| {
        i.slot == Some(Slot::Input(1)) && i.message.contains("channel dimension 3; it must be 0")
    });
    assert_eq!(issues.len(), 1, "{issues:?}");
    c.desc.operands[1].channel_quant = Some(ChannelQuant {
        channel_dim: 0,
        scales: vec![0.5, 0.75],
    });
    let issues = validate(&c.desc, &[]);
    find(&issues, "about the number of scales", |i| {
        i.operand == Some(1)
            && i.message
                .contains("2 per-channel scales for dimension 0 of size 3")
    });
    // A per-channel bias must have scale 0.
    let mut c = load("CONV_2D/conv2d_per_channel__default.json");
    c.desc.operands[2].scale = 0.25;
    let issues = validate(&c.desc, &[]);
    find(&issues, "about the per-channel bias scale", |i| {
        i.slot == Some(Slot::Input(2)) && i.message.contains("it must be 0")
    });
}

#[test]
fn operand_index_out_of_range() {
    let mut c = conv_quant8();
    c.desc.operations[0].inputs[1] = 999;
    c.desc.outputs.push(1000);
    let issues = validate(&c.desc, &[]);
    find(&issues, "about the input index", |i| {
        i.operation == Some(0)
            && i.slot == Some(Slot::Input(1))
            && i.message.contains("operand index 999 is out of range")
    });
    find(&issues, "about the model output index", |i| {
        i.operation.is_none() && i.message.contains("operand 1000, out of range")
    });
}

#[test]
fn unordered_operations_and_cycles() {
    // ADD (model input 7 → operand 0), then CONV_2D (0 → model output 6).
    let c = load("CONV_2D/conv_quant8__all_inputs_as_internal.json");
    assert!(validate(&c.desc, &[]).is_empty());
    let mut swapped = c.clone();
    swapped.desc.operations.swap(0, 1);
    let issues = validate(&swapped.desc, &[]);
    find(&issues, "about the order", |i| {
        i.operation == Some(0)
            && i.slot == Some(Slot::Input(0))
            && i.message.contains("read before operation 1 writes it")
    });
    // ADD reads the conv's output: a cycle (and model input 7 becomes unused, which is fine).
    let mut cycle = c.clone();
    cycle.desc.operations[0].inputs[0] = 6;
    let issues = validate(&cycle.desc, &[]);
    find(&issues, "about the cycle", |i| {
        i.operation == Some(0) && i.message.contains("read before operation 1 writes it")
    });
    // Two writers of one operand.
    let mut twice = c;
    twice.desc.operations[1].outputs[0] = 0;
    let issues = validate(&twice.desc, &[]);
    find(&issues, "about the second writer", |i| {
        i.operation == Some(1) && i.message.contains("already written by operation 0")
    });
    find(&issues, "about the unwritten output", |i| {
        i.operand == Some(6) && i.message.contains("never written")
    });
}

#[test]
fn wrong_constant_byte_length() {
    let mut c = conv_quant8();
    c.desc.operands[1].lifetime = Lifetime::Inline(vec![2; 3]);
    let issues = validate(&c.desc, &[]);
    find(&issues, "about the filter's bytes", |i| {
        i.operand == Some(1) && i.message.contains("holds 3 bytes") && i.message.contains("needs 4")
    });
}

#[test]
fn quantized_output_scales_and_per_channel_fully_connected() {
    let mut c = load("LOGISTIC/logistic_quant8_1__default.json");
    assert!(validate(&c.desc, &[]).is_empty());
    let out = c.desc.outputs[0] as usize;
    c.desc.operands[out].scale = 0.01;
    let issues = validate(&c.desc, &[]);
    find(&issues, "about LOGISTIC's output scale", |i| {
        i.slot == Some(Slot::Output(0)) && i.message.contains("scale 0.00390625")
    });
    let mut c = load("FULLY_CONNECTED/fully_connected_quant8__default.json");
    assert!(validate(&c.desc, &[]).is_empty());
    let w = c.desc.operations[0].inputs[1] as usize;
    let units = c.desc.operands[w].dims[0] as usize;
    c.desc.api_level = 29;
    c.desc.operands[w].ty = mvcc::nnapi::OperandType::TensorQuant8SymmPerChannel;
    c.desc.operands[w].scale = 0.0;
    c.desc.operands[w].zero_point = 0;
    c.desc.operands[w].channel_quant = Some(ChannelQuant {
        channel_dim: 0,
        scales: vec![0.5; units],
    });
    let issues = validate(&c.desc, &[]);
    find(&issues, "about per-channel FULLY_CONNECTED", |i| {
        i.slot == Some(Slot::Input(1)) && i.message.contains("no per-channel FULLY_CONNECTED")
    });
}

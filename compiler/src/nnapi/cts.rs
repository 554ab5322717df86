//! Reading NNAPI conformance vectors (the AOSP CTS specs as JSON, `tests/nnapi-cts/README.md`):
//! a [`Description`] whose constants are inline, plus input/expected-output examples.

use serde_json::Value as Json;

use super::desc::{
    ChannelQuant, Description, Lifetime, Operand, OperandType, Operation, OperationType,
};

/// One conformance case: a model and its examples.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The model; every constant is [`Lifetime::Inline`].
    pub desc: Description,
    /// AOSP's feature level of the test (27..=30).
    pub feature_level: u32,
    /// The model must be rejected (at compilation or execution).
    pub expect_failure: bool,
    /// `NCHW` when a layout-capable op uses it.
    pub nchw: bool,
    /// Float tolerance `|a − e| ≤ atol + rtol·|e|`.
    pub float_atol: f64,
    /// See `float_atol`.
    pub float_rtol: f64,
    /// Quantized tolerance in units (±).
    pub quant_atol: i64,
    /// Examples: little-endian bytes per model input (in `desc.inputs` order) and per output.
    pub examples: Vec<Example>,
    /// AOSP test names, one per example.
    pub test_names: Vec<String>,
}

/// One example: bytes for every model input and expected bytes for every model output.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// One buffer per `desc.inputs` entry.
    pub inputs: Vec<Vec<u8>>,
    /// One buffer per `desc.outputs` entry.
    pub outputs: Vec<Vec<u8>>,
}

fn level(s: &str) -> Result<u32, String> {
    match s {
        "V1_0" => Ok(27),
        "V1_1" => Ok(28),
        "V1_2" => Ok(29),
        "V1_3" => Ok(30),
        _ => Err(format!("unknown feature level {s:?}")),
    }
}

/// Encodes JSON numbers as little-endian elements of `ty`.
///
/// # Errors
/// A value that is not representable in the type.
pub fn encode(ty: OperandType, vals: &[Json]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(vals.len() * ty.element_size());
    for v in vals {
        match ty {
            OperandType::Float32 | OperandType::TensorFloat32 => {
                let f = v.as_f64().ok_or_else(|| format!("{v} is not a number"))?;
                out.extend_from_slice(&(f as f32).to_le_bytes());
            }
            OperandType::Bool | OperandType::TensorBool8 => {
                let b = v.as_bool().ok_or_else(|| format!("{v} is not a bool"))?;
                out.push(u8::from(b));
            }
            _ => {
                let i = v.as_i64().ok_or_else(|| format!("{v} is not an integer"))?;
                match ty.element_size() {
                    1 => {
                        let ok = if matches!(ty, OperandType::TensorQuant8Asymm) {
                            (0..=255).contains(&i)
                        } else {
                            (-128..=127).contains(&i)
                        };
                        if !ok {
                            return Err(format!("{i} out of range for {ty}"));
                        }
                        out.push(i as u8);
                    }
                    2 => out.extend_from_slice(&(i as i16).to_le_bytes()),
                    _ => {
                        let v = i32::try_from(i)
                            .or_else(|_| u32::try_from(i).map(|u| u as i32))
                            .map_err(|_| format!("{i} out of range for {ty}"))?;
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                }
            }
        }
    }
    Ok(out)
}

fn u32_list(v: &Json, what: &str) -> Result<Vec<u32>, String> {
    v.as_array()
        .ok_or_else(|| format!("{what} is not a list"))?
        .iter()
        .map(|x| {
            x.as_u64()
                .and_then(|x| u32::try_from(x).ok())
                .ok_or_else(|| format!("{what}: {x} is not an index"))
        })
        .collect()
}

/// Parses one case file.
///
/// # Errors
/// A field is missing or malformed, or an operation type is not in [`OperationType`]
/// (the message names it).
pub fn parse(text: &str) -> Result<Case, String> {
    let j: Json = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut desc = Description::default();
    let ops = j["operands"].as_array().ok_or("no operands")?;
    for (i, o) in ops.iter().enumerate() {
        let tyname = o["type"]
            .as_str()
            .ok_or_else(|| format!("operand {i}: no type"))?;
        let ty = OperandType::from_name(tyname)
            .ok_or_else(|| format!("operand {i}: unknown type {tyname}"))?;
        let dims = u32_list(&o["dimensions"], "dimensions")?;
        let lifetime = match o["lifetime"].as_str() {
            Some("MODEL_INPUT") => Lifetime::Input,
            Some("MODEL_OUTPUT") => Lifetime::Output,
            Some("TEMPORARY") | Some("TEMPORARY_VARIABLE") => Lifetime::Temporary,
            Some("CONSTANT") | Some("CONSTANT_COPY") | Some("CONSTANT_REFERENCE") => {
                match o["value"].as_array() {
                    Some(v) => {
                        Lifetime::Inline(encode(ty, v).map_err(|e| format!("operand {i}: {e}"))?)
                    }
                    None => Lifetime::NoValue,
                }
            }
            Some("NO_VALUE") => Lifetime::NoValue,
            other => return Err(format!("operand {i}: lifetime {other:?}")),
        };
        let channel_quant = match o.get("channel_quant") {
            Some(c) => Some(ChannelQuant {
                channel_dim: c["channel_dim"].as_u64().ok_or("channel_dim")? as u32,
                scales: c["scales"]
                    .as_array()
                    .ok_or("scales")?
                    .iter()
                    .map(|s| s.as_f64().map(|s| s as f32).ok_or("scale"))
                    .collect::<Result<_, _>>()?,
            }),
            None => None,
        };
        desc.add_operand(Operand {
            name: o["name"].as_str().unwrap_or("").to_string(),
            ty,
            dims,
            scale: o["scale"].as_f64().unwrap_or(0.0) as f32,
            zero_point: o["zero_point"].as_i64().unwrap_or(0) as i32,
            lifetime,
            channel_quant,
        });
    }
    for (i, op) in j["operations"]
        .as_array()
        .ok_or("no operations")?
        .iter()
        .enumerate()
    {
        let name = op["type"]
            .as_str()
            .ok_or_else(|| format!("operation {i}: no type"))?;
        let ty = OperationType::from_name(name)
            .ok_or_else(|| format!("operation {i}: unsupported operation {name}"))?;
        desc.operations.push(Operation {
            ty,
            inputs: u32_list(&op["inputs"], "inputs")?,
            outputs: u32_list(&op["outputs"], "outputs")?,
        });
    }
    desc.inputs = u32_list(&j["inputs"], "inputs")?;
    desc.outputs = u32_list(&j["outputs"], "outputs")?;
    let feature_level = level(j["feature_level"].as_str().unwrap_or(""))?;
    let spec = level(j["spec_version"].as_str().unwrap_or("V1_3")).unwrap_or(30);
    desc.api_level = feature_level.max(spec);
    let tol = &j["harness_tolerance"];
    let mut examples = Vec::new();
    for (k, ex) in j["examples"]
        .as_array()
        .ok_or("no examples")?
        .iter()
        .enumerate()
    {
        let take = |list: &[u32], key: &str| -> Result<Vec<Vec<u8>>, String> {
            list.iter()
                .map(|&i| {
                    let vals = ex[key][i.to_string()]
                        .as_array()
                        .ok_or_else(|| format!("example {k}: no {key} for operand {i}"))?;
                    encode(desc.operands[i as usize].ty, vals)
                        .map_err(|e| format!("example {k}, operand {i}: {e}"))
                })
                .collect()
        };
        examples.push(Example {
            inputs: take(&desc.inputs, "inputs")?,
            outputs: take(&desc.outputs, "outputs")?,
        });
    }
    Ok(Case {
        feature_level,
        expect_failure: j["expect_failure"].as_bool().unwrap_or(false),
        nchw: j["layout"].as_str() == Some("NCHW"),
        float_atol: tol["float32_atol"].as_f64().unwrap_or(1e-5),
        float_rtol: tol["float32_rtol"].as_f64().unwrap_or(5.96e-7),
        quant_atol: tol["quant_atol"].as_i64().unwrap_or(1),
        test_names: j["cts_test_names"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        examples,
        desc,
    })
}

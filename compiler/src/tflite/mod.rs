//! Reading `.tflite` files: FlatBuffers in, [`Graph`] out.
//!
//! This module is the only place FlatBuffers types exist. [`import`] verifies the whole buffer
//! with the FlatBuffers verifier before reading any field, then checks every index and size it
//! reads (buffers, tensors, op codes, shapes, quantization, sparsity) and converts subgraph 0 into
//! the IR. All problems are collected: every unsupported operator (name, version, operator
//! indices) and every malformed tensor or operator is reported in one [`Error`].
//!
//! After conversion, shapes are inferred op by op in topological order (TFLite recomputes shapes in
//! `Prepare` too; a file's stale shapes are replaced), shape arithmetic (SHAPE and any op whose
//! operands are all integer constants) and DENSIFY are folded into constants, and the graph is
//! verified.

#[allow(
    unused_imports,
    dead_code,
    clippy::all,
    clippy::pedantic,
    unsafe_op_in_unsafe_fn,
    missing_docs,
    missing_debug_implementations,
    non_camel_case_types,
    non_snake_case,
    mismatched_lifetime_syntaxes
)]
#[rustfmt::skip]
mod schema_generated;
pub mod builder;
mod sparsity;

use indexmap::IndexMap;

use crate::error::{Error, Location, Problem, Problems, Result, UnsupportedOp};
use crate::interp::Buf;
use crate::ir::*;
use crate::ops::{self, EvalCx};
use schema_generated::tflite as fb;
use sparsity::{Level, Sparsity};

/// The largest tensor mvcc accepts, in bytes (per tensor).
pub const MAX_TENSOR_BYTES: usize = 1 << 30;
/// The most bytes of non-constant tensors a model may need in total.
pub const MAX_ACTIVATION_BYTES: usize = 4 << 30;
/// The most dimensions a tensor may have.
pub const MAX_RANK: usize = 8;

/// Builtin codes of control-flow operators (subgraph calls), which mvcc does not compile.
const CONTROL_FLOW: &[(i32, &str)] = &[
    (31, "CALL"),
    (118, "IF"),
    (119, "WHILE"),
    (129, "CALL_ONCE"),
];

/// Options of [`import_with`].
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Shapes for the model's inputs, by input position; `None` keeps the file's shape. A model
    /// with dynamic dimensions (`-1` in the tensor's `shape_signature`) stores one size for them
    /// (usually 1); mvcc compiles static shapes, so the caller picks the sizes here. Only dynamic
    /// dimensions may change.
    pub input_shapes: Vec<Option<Shape>>,
}

/// Reads, imports, folds shape arithmetic and verifies a model.
///
/// # Errors
/// Every problem found, with locations; see the module docs.
pub fn import(bytes: &[u8]) -> Result<Graph> {
    import_with(bytes, &ImportOptions::default())
}

/// [`import`] with options (input shapes for models with dynamic dimensions).
///
/// # Errors
/// As [`import`]; also an input shape that changes a static dimension or the rank.
pub fn import_with(bytes: &[u8], options: &ImportOptions) -> Result<Graph> {
    let (mut g, signatures) = read(bytes)?;
    set_input_shapes(&mut g, &signatures, &options.input_shapes)?;
    fold_and_infer(&mut g)?;
    crate::ir::verify::verify(&g)?;
    Ok(g)
}

fn malformed(msg: impl Into<String>) -> Error {
    Error::one(Problem::Malformed(msg.into()))
}

fn dtype_of(t: fb::TensorType) -> Option<DType> {
    Some(match t {
        fb::TensorType::FLOAT32 => DType::F32,
        fb::TensorType::FLOAT16 => DType::F16,
        fb::TensorType::INT8 => DType::I8,
        fb::TensorType::UINT8 => DType::U8,
        fb::TensorType::INT16 => DType::I16,
        fb::TensorType::INT32 => DType::I32,
        fb::TensorType::INT64 => DType::I64,
        fb::TensorType::BOOL => DType::Bool,
        _ => return None,
    })
}

fn dtype_name(t: fb::TensorType) -> String {
    t.variant_name()
        .map(str::to_string)
        .unwrap_or_else(|| format!("type code {}", t.0))
}

/// What an op code resolves to.
struct OpCode {
    code: i32,
    name: String,
    version: i32,
}

/// Applies caller-chosen shapes to model inputs with dynamic dimensions.
fn set_input_shapes(
    g: &mut Graph,
    signatures: &[Option<Vec<i32>>],
    shapes: &[Option<Shape>],
) -> Result<()> {
    let mut p = Problems::default();
    if shapes.len() > g.inputs.len() {
        p.invalid(
            Location::model(),
            format!(
                "{} input shapes given, the model has {} inputs",
                shapes.len(),
                g.inputs.len()
            ),
        );
    }
    for (i, (&id, want)) in g.inputs.clone().iter().zip(shapes).enumerate() {
        let Some(want) = want else { continue };
        let t = g.tensor(id);
        let loc = Location::tensor(t.tflite_index, &t.name);
        let sig = signatures.get(id.index()).cloned().flatten();
        let dynamic = |d: usize| sig.as_ref().and_then(|s| s.get(d)).is_some_and(|&v| v < 0);
        if want.len() != t.shape.len() {
            p.invalid(
                loc,
                format!(
                    "input {i} has rank {}, the given shape {want:?} has rank {}",
                    t.shape.len(),
                    want.len()
                ),
            );
            continue;
        }
        let fixed: Vec<usize> = (0..want.len())
            .filter(|&d| want[d] != t.shape[d] && !dynamic(d))
            .collect();
        if !fixed.is_empty() {
            p.invalid(
                loc,
                format!(
                    "input {i} has static shape {:?} (signature {:?}); dimension(s) {fixed:?} cannot change",
                    t.shape, sig
                ),
            );
            continue;
        }
        let bytes = want
            .iter()
            .try_fold(t.dtype.size(), |a, &d| a.checked_mul(d));
        if want.contains(&0) || bytes.is_none_or(|b| b > MAX_TENSOR_BYTES) {
            p.invalid(loc, format!("input shape {want:?} is empty or too large"));
            continue;
        }
        g.tensor_mut(id).shape = want.clone();
    }
    p.finish(())
}

/// Parses the FlatBuffer into a graph (no inference, no folding), with each tensor's
/// `shape_signature`.
fn read(bytes: &[u8]) -> Result<(Graph, Vec<Option<Vec<i32>>>)> {
    if bytes.len() < 8 {
        return Err(malformed(format!(
            "the file is {} bytes long, too short for a FlatBuffer",
            bytes.len()
        )));
    }
    if &bytes[4..8] != b"TFL3" {
        return Err(malformed(
            "the file identifier is not \"TFL3\" (is this a .tflite file?)",
        ));
    }
    let opts = flatbuffers::VerifierOptions {
        max_depth: 64,
        max_tables: 10_000_000,
        // Apparent size: shared sub-objects counted each time they are referenced. Bounded so a
        // file cannot make the verifier (or the reader) do unbounded work.
        max_apparent_size: 1 << 33,
        ignore_missing_null_terminator: true,
    };
    let model = flatbuffers::root_with_opts::<fb::Model>(&opts, bytes)
        .map_err(|e| malformed(format!("FlatBuffer verification failed: {e}")))?;
    if model.version() != 3 {
        return Err(malformed(format!(
            "schema version {} is not supported (TFLite has written version 3 since TF 1.x)",
            model.version()
        )));
    }
    let subgraphs = model
        .subgraphs()
        .ok_or_else(|| malformed("the model has no subgraphs"))?;
    if subgraphs.is_empty() {
        return Err(malformed("the model has no subgraphs"));
    }
    let sg = subgraphs.get(0);
    let buffers = model.buffers();
    let mut problems = Problems::default();

    // Op codes.
    let mut codes = Vec::new();
    if let Some(oc) = model.operator_codes() {
        for c in oc.iter() {
            let code = i32::from(c.deprecated_builtin_code()).max(c.builtin_code());
            let name = if code == 32 {
                format!("custom \"{}\"", c.custom_code().unwrap_or(""))
            } else {
                match OpKind::from_tflite_code(code) {
                    Some(k) => k.tflite_name().to_string(),
                    None => match fb_builtin_name(code) {
                        Some(n) => n.to_string(),
                        None => format!("BUILTIN_{code}"),
                    },
                }
            };
            codes.push(OpCode {
                code,
                name,
                version: c.version(),
            });
        }
    }

    // Tensors.
    let mut g = Graph::new();
    let fb_tensors: Vec<fb::Tensor> = sg.tensors().map(|v| v.iter().collect()).unwrap_or_default();
    let mut sparse: IndexMap<u32, Sparsity> = IndexMap::new();
    let signatures: Vec<Option<Vec<i32>>> = fb_tensors
        .iter()
        .map(|t| t.shape_signature().map(|s| s.iter().collect()))
        .collect();
    for (i, t) in fb_tensors.iter().enumerate() {
        let idx = i as u32;
        let name = t.name().unwrap_or("").to_string();
        let loc = Location::tensor(Some(idx), &name);
        let dtype = match dtype_of(t.type_()) {
            Some(d) => d,
            None => {
                problems.invalid(
                    loc.clone(),
                    format!("element type {} is not supported", dtype_name(t.type_())),
                );
                DType::F32
            }
        };
        let mut shape = Vec::new();
        let raw_shape: Vec<i32> = t.shape().map(|s| s.iter().collect()).unwrap_or_default();
        if raw_shape.len() > MAX_RANK {
            problems.invalid(
                loc.clone(),
                format!("rank {} exceeds the maximum of {MAX_RANK}", raw_shape.len()),
            );
        }
        let mut bytes_ok = true;
        for &d in raw_shape.iter().take(MAX_RANK) {
            if d <= 0 {
                problems.invalid(
                    loc.clone(),
                    format!("dimension {d} in shape {raw_shape:?} is not positive"),
                );
                bytes_ok = false;
                shape.push(1);
            } else {
                shape.push(d as usize);
            }
        }
        let bytes_needed = shape
            .iter()
            .try_fold(dtype.size(), |a, &d| a.checked_mul(d))
            .filter(|&b| b <= MAX_TENSOR_BYTES);
        if bytes_needed.is_none() {
            if bytes_ok {
                problems.invalid(
                    loc.clone(),
                    format!("shape {raw_shape:?} is too large (over {MAX_TENSOR_BYTES} bytes)"),
                );
            }
            // Keep a small stand-in so later checks of this tensor cannot overflow.
            shape = vec![1];
        }
        // Quantization.
        let quant = match t.quantization() {
            Some(q) => match read_quant(&q, &shape) {
                Ok(q) => q,
                Err(m) => {
                    problems.invalid(loc.clone(), m);
                    None
                }
            },
            None => None,
        };
        // Constant data.
        let bi = t.buffer() as usize;
        let mut data = None;
        if bi != 0 {
            match buffers
                .as_ref()
                .and_then(|b| (bi < b.len()).then(|| b.get(bi)))
            {
                None => problems.invalid(loc.clone(), format!("buffer index {bi} is out of range")),
                Some(b) => match buffer_bytes(&b, bytes) {
                    Err(m) => problems.invalid(loc.clone(), format!("buffer {bi}: {m}")),
                    Ok(Some(d)) => data = Some(d.to_vec()),
                    Ok(None) => {}
                },
            }
        }
        if let Some(sp) = t.sparsity() {
            match read_sparsity(&sp) {
                Ok(s) => {
                    sparse.insert(idx, s);
                }
                Err(m) => problems.invalid(loc.clone(), m),
            }
        }
        if let (Some(d), None) = (&data, sparse.get(&idx)) {
            let want = shape.iter().product::<usize>() * dtype.size();
            if d.len() != want {
                problems.invalid(
                    loc.clone(),
                    format!(
                        "buffer {bi} holds {} bytes, shape {raw_shape:?} of {dtype} needs {want}",
                        d.len()
                    ),
                );
                data = None;
            }
        }
        if t.is_variable() {
            problems.invalid(
                loc.clone(),
                "variable tensors (stateful models) are not supported",
            );
        }
        g.add_tensor(Tensor {
            name,
            dtype,
            shape,
            quant,
            data,
            tflite_index: Some(idx),
        });
    }
    // Decode sparse constants into dense ones.
    for (idx, sp) in &sparse {
        let t = g.tensor_mut(TensorId(*idx));
        let loc = Location::tensor(Some(*idx), &t.name);
        match &t.data {
            None => problems.invalid(loc, "a sparse tensor must be a constant"),
            Some(d) => match sparsity::densify(sp, &t.shape, d, t.dtype.size()) {
                Ok(dense) => t.data = Some(dense),
                Err(m) => {
                    problems.invalid(loc, m);
                    t.data = None;
                }
            },
        }
    }

    let ntensors = g.tensors.len();
    let tensor_ref = |v: i32, what: &str, loc: &Location, p: &mut Problems| -> Option<TensorId> {
        if v >= 0 && (v as usize) < ntensors {
            Some(TensorId(v as u32))
        } else {
            p.invalid(
                loc.clone(),
                format!(
                    "{what} tensor index {v} is out of range (the subgraph has {ntensors} tensors)"
                ),
            );
            None
        }
    };

    // Subgraph inputs and outputs.
    let sg_loc = Location {
        subgraph: Some(0),
        ..Location::default()
    };
    for v in sg
        .inputs()
        .map(|v| v.iter().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if let Some(t) = tensor_ref(v, "input", &sg_loc, &mut problems) {
            g.inputs.push(t);
        }
    }
    for v in sg
        .outputs()
        .map(|v| v.iter().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if let Some(t) = tensor_ref(v, "output", &sg_loc, &mut problems) {
            g.outputs.push(t);
        }
    }
    if g.outputs.is_empty() {
        problems.invalid(sg_loc.clone(), "the model has no outputs");
    }

    // Operators.
    let mut unsupported: IndexMap<(String, i32, Option<String>), Vec<u32>> = IndexMap::new();
    let operators: Vec<fb::Operator> = sg
        .operators()
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    for (i, o) in operators.iter().enumerate() {
        let oi = i as u32;
        let Some(code) = codes.get(o.opcode_index() as usize) else {
            problems.invalid(
                Location::operator(Some(oi), format!("opcode index {}", o.opcode_index())),
                format!(
                    "opcode index {} is out of range ({} op codes)",
                    o.opcode_index(),
                    codes.len()
                ),
            );
            continue;
        };
        let loc = Location::operator(Some(oi), &code.name);
        let inputs: Vec<Option<TensorId>> = o
            .inputs()
            .map(|v| v.iter().collect::<Vec<i32>>())
            .unwrap_or_default()
            .into_iter()
            .map(|v| {
                if v == -1 {
                    None
                } else {
                    tensor_ref(v, "input", &loc, &mut problems)
                }
            })
            .collect();
        let outputs: Vec<TensorId> = o
            .outputs()
            .map(|v| v.iter().collect::<Vec<i32>>())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| tensor_ref(v, "output", &loc, &mut problems))
            .collect();
        if let Some(&(_, cf)) = CONTROL_FLOW.iter().find(|(c, _)| *c == code.code) {
            unsupported
                .entry((
                    cf.to_string(),
                    code.version,
                    Some("control flow (subgraph calls) is not supported".into()),
                ))
                .or_default()
                .push(oi);
            continue;
        }
        let Some(kind) = OpKind::from_tflite_code(code.code) else {
            unsupported
                .entry((code.name.clone(), code.version, None))
                .or_default()
                .push(oi);
            continue;
        };
        if code.version < 1 || code.version > max_version(kind) {
            unsupported
                .entry((
                    code.name.clone(),
                    code.version,
                    Some(format!("mvcc supports versions 1 to {}", max_version(kind))),
                ))
                .or_default()
                .push(oi);
            continue;
        }
        match op_from_options(kind, o) {
            Ok(op) => {
                g.add_op(OpNode {
                    op,
                    inputs,
                    outputs,
                    tflite_index: Some(oi),
                    version: code.version,
                });
            }
            Err(m) => problems.invalid(loc, m),
        }
    }
    if subgraphs.len() > 1 && unsupported.is_empty() {
        // Extra subgraphs are only reachable through control flow, which was rejected above;
        // without it they are dead and ignored.
    }
    if !unsupported.is_empty() {
        let list = unsupported
            .into_iter()
            .map(|((name, version, reason), operators)| UnsupportedOp {
                name,
                version,
                operators,
                reason,
            })
            .collect();
        problems.0.insert(0, Problem::Unsupported(list));
    }
    problems.finish((g, signatures))
}

/// Highest operator version mvcc accepts per op (the versions TFLite's kernels register for the
/// float32/int8/uint8 paths; higher versions add types or semantics mvcc does not implement).
fn max_version(kind: OpKind) -> i32 {
    match kind {
        OpKind::Conv2d => 8,
        OpKind::DepthwiseConv2d => 7,
        OpKind::TransposeConv => 5,
        OpKind::FullyConnected => 13,
        OpKind::Add | OpKind::Sub => 5,
        OpKind::Mul => 7,
        OpKind::Div => 2,
        OpKind::SquaredDifference => 2,
        OpKind::Maximum | OpKind::Minimum => 4,
        OpKind::Rsqrt => 3,
        OpKind::Sqrt | OpKind::Exp => 2,
        OpKind::Concatenation => 4,
        OpKind::AveragePool2d | OpKind::MaxPool2d => 3,
        OpKind::Mean | OpKind::Sum | OpKind::ReduceMax => 3,
        OpKind::Pad | OpKind::PadV2 => 4,
        OpKind::MirrorPad => 3,
        OpKind::Reshape => 2,
        OpKind::Squeeze => 2,
        OpKind::ExpandDims => 2,
        OpKind::Transpose => 6,
        OpKind::Slice => 6,
        OpKind::StridedSlice => 8,
        OpKind::Split | OpKind::SplitV => 4,
        OpKind::Pack | OpKind::Unpack => 4,
        OpKind::Gather => 7,
        OpKind::Shape => 1,
        OpKind::Softmax => 3,
        OpKind::LogSoftmax => 2,
        OpKind::Logistic | OpKind::Tanh => 3,
        OpKind::Relu | OpKind::Relu6 | OpKind::ReluN1To1 => 3,
        OpKind::LeakyRelu => 2,
        OpKind::Prelu => 1,
        OpKind::HardSwish => 1,
        OpKind::Quantize => 3,
        OpKind::Dequantize => 6,
        OpKind::Cast => 6,
        OpKind::ResizeBilinear | OpKind::ResizeNearestNeighbor => 4,
        OpKind::DepthToSpace | OpKind::SpaceToDepth => 2,
        OpKind::ArgMax => 3,
        OpKind::Densify => 1,
        OpKind::L2Normalization => 2,
    }
}

fn read_quant(q: &fb::QuantizationParameters, shape: &[usize]) -> Result<Option<Quant>, String> {
    if q.details_type() != fb::QuantizationDetails::NONE {
        return Err("custom quantization details are not supported".into());
    }
    let scale: Vec<f32> = q.scale().map(|v| v.iter().collect()).unwrap_or_default();
    let zero_point: Vec<i64> = q
        .zero_point()
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    if scale.is_empty() {
        return Ok(None);
    }
    let zero_point = match zero_point.len() {
        n if n == scale.len() => zero_point,
        // Some converters write one zero point for per-axis scales (or none): broadcast it.
        1 => vec![zero_point[0]; scale.len()],
        0 => vec![0; scale.len()],
        n => {
            return Err(format!(
                "quantization has {} scales but {n} zero points",
                scale.len()
            ))
        }
    };
    if scale.iter().any(|s| !s.is_finite() || *s < 0.0) {
        return Err("quantization scale is negative or not finite".into());
    }
    let axis = q.quantized_dimension();
    let axis = if scale.len() > 1 {
        let a = usize::try_from(axis)
            .ok()
            .filter(|&a| a < shape.len())
            .ok_or_else(|| {
                format!(
                    "quantized dimension {axis} is out of range for rank {}",
                    shape.len()
                )
            })?;
        if shape[a] != scale.len() {
            return Err(format!(
                "{} per-axis scales for dimension {a} of size {}",
                scale.len(),
                shape[a]
            ));
        }
        a
    } else {
        0
    };
    Ok(Some(Quant {
        scale,
        zero_point,
        axis,
    }))
}

fn buffer_bytes<'a>(b: &fb::Buffer<'a>, file: &'a [u8]) -> Result<Option<&'a [u8]>, String> {
    let off = b.offset();
    if off > 1 {
        let size = usize::try_from(b.size()).map_err(|_| "size out of range".to_string())?;
        let start = usize::try_from(off).map_err(|_| "offset out of range".to_string())?;
        let end = start.checked_add(size).filter(|&e| e <= file.len()).ok_or_else(|| {
            format!("external data at offset {off}, size {} runs past the end of the file ({} bytes)", b.size(), file.len())
        })?;
        return Ok(Some(&file[start..end]));
    }
    match b.data() {
        Some(d) if !d.is_empty() => Ok(Some(d.bytes())),
        _ => Ok(None),
    }
}

fn index_vector(
    t: fb::SparseIndexVector,
    tab: Option<flatbuffers::Table<'_>>,
    d: &fb::DimensionMetadata<'_>,
    segments: bool,
) -> Result<Vec<usize>, String> {
    let _ = tab;
    let v: Vec<usize> = match t {
        fb::SparseIndexVector::Int32Vector => {
            let v = if segments {
                d.array_segments_as_int_32_vector()
            } else {
                d.array_indices_as_int_32_vector()
            };
            let vals: Vec<i32> = v
                .and_then(|v| v.values())
                .map(|v| v.iter().collect())
                .unwrap_or_default();
            vals.into_iter()
                .map(|x| usize::try_from(x).map_err(|_| "sparsity: negative index".to_string()))
                .collect::<Result<_, _>>()?
        }
        fb::SparseIndexVector::Uint16Vector => {
            let v = if segments {
                d.array_segments_as_uint_16_vector()
            } else {
                d.array_indices_as_uint_16_vector()
            };
            v.and_then(|v| v.values())
                .map(|v| v.iter().map(usize::from).collect())
                .unwrap_or_default()
        }
        fb::SparseIndexVector::Uint8Vector => {
            let v = if segments {
                d.array_segments_as_uint_8_vector()
            } else {
                d.array_indices_as_uint_8_vector()
            };
            v.and_then(|v| v.values())
                .map(|v| v.iter().map(usize::from).collect())
                .unwrap_or_default()
        }
        _ => return Err("sparsity: missing index vector".into()),
    };
    Ok(v)
}

fn read_sparsity(sp: &fb::SparsityParameters<'_>) -> Result<Sparsity, String> {
    let to_usize = |v: Option<flatbuffers::Vector<'_, i32>>| -> Result<Vec<usize>, String> {
        v.map(|v| v.iter().collect::<Vec<i32>>())
            .unwrap_or_default()
            .into_iter()
            .map(|x| usize::try_from(x).map_err(|_| "sparsity: negative dimension".to_string()))
            .collect()
    };
    let traversal_order = to_usize(sp.traversal_order())?;
    let block_map = to_usize(sp.block_map())?;
    let mut levels = Vec::new();
    for d in sp
        .dim_metadata()
        .map(|v| v.iter().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if d.format() == fb::DimensionType::DENSE {
            let size = usize::try_from(d.dense_size())
                .map_err(|_| "sparsity: negative dense size".to_string())?;
            levels.push(Level::Dense { size });
        } else {
            let segments = index_vector(d.array_segments_type(), d.array_segments(), &d, true)?;
            let indices = index_vector(d.array_indices_type(), d.array_indices(), &d, false)?;
            levels.push(Level::Sparse { segments, indices });
        }
    }
    Ok(Sparsity {
        traversal_order,
        block_map,
        levels,
    })
}

fn padding(p: fb::Padding) -> Result<Padding, String> {
    match p {
        fb::Padding::SAME => Ok(Padding::Same),
        fb::Padding::VALID => Ok(Padding::Valid),
        other => Err(format!("unknown padding code {}", other.0)),
    }
}

fn activation(a: fb::ActivationFunctionType) -> Result<Activation, String> {
    match a {
        fb::ActivationFunctionType::NONE => Ok(Activation::None),
        fb::ActivationFunctionType::RELU => Ok(Activation::Relu),
        fb::ActivationFunctionType::RELU_N1_TO_1 => Ok(Activation::ReluN1To1),
        fb::ActivationFunctionType::RELU6 => Ok(Activation::Relu6),
        fb::ActivationFunctionType::TANH => Ok(Activation::Tanh),
        other => Err(format!(
            "fused activation code {} is not supported",
            other.0
        )),
    }
}

fn positive(v: i32, what: &str) -> Result<usize, String> {
    if v >= 1 {
        Ok(v as usize)
    } else {
        Err(format!("{what} must be at least 1, got {v}"))
    }
}

/// An `[h, w]` pair of positive options (strides, dilations, filter sizes).
fn pair(h: i32, w: i32, names: [&str; 2]) -> Result<[usize; 2], String> {
    Ok([positive(h, names[0])?, positive(w, names[1])?])
}

fn elem_dtype(t: fb::TensorType) -> Result<DType, String> {
    dtype_of(t).ok_or_else(|| format!("element type {} is not supported", dtype_name(t)))
}

/// Converts an operator's builtin options into the IR op. Missing options tables take TFLite's
/// defaults (all-zero fields), which the shape rules then reject where they are invalid.
fn op_from_options(kind: OpKind, o: &fb::Operator<'_>) -> Result<Op, String> {
    macro_rules! opts {
        ($m:ident) => {
            o.$m()
        };
    }
    Ok(match kind {
        OpKind::Conv2d => {
            let x = opts!(builtin_options_as_conv_2_doptions).ok_or("CONV_2D has no options")?;
            Op::Conv2d(Conv2dAttrs {
                padding: padding(x.padding())?,
                stride: pair(x.stride_h(), x.stride_w(), ["stride_h", "stride_w"])?,
                dilation: pair(
                    x.dilation_h_factor(),
                    x.dilation_w_factor(),
                    ["dilation_h_factor", "dilation_w_factor"],
                )?,
                act: activation(x.fused_activation_function())?,
                residual: None,
            })
        }
        OpKind::DepthwiseConv2d => {
            let x = opts!(builtin_options_as_depthwise_conv_2_doptions)
                .ok_or("DEPTHWISE_CONV_2D has no options")?;
            Op::DepthwiseConv2d(DepthwiseConv2dAttrs {
                padding: padding(x.padding())?,
                stride: pair(x.stride_h(), x.stride_w(), ["stride_h", "stride_w"])?,
                dilation: pair(
                    x.dilation_h_factor(),
                    x.dilation_w_factor(),
                    ["dilation_h_factor", "dilation_w_factor"],
                )?,
                // Ignored by TFLite since 2.x (derived from shapes); 0 means "derive".
                depth_multiplier: usize::try_from(x.depth_multiplier()).unwrap_or(0),
                act: activation(x.fused_activation_function())?,
            })
        }
        OpKind::TransposeConv => {
            let x = opts!(builtin_options_as_transpose_conv_options)
                .ok_or("TRANSPOSE_CONV has no options")?;
            Op::TransposeConv(TransposeConvAttrs {
                padding: padding(x.padding())?,
                stride: pair(x.stride_h(), x.stride_w(), ["stride_h", "stride_w"])?,
                act: activation(x.fused_activation_function())?,
            })
        }
        OpKind::FullyConnected => {
            let (act, keep) = match opts!(builtin_options_as_fully_connected_options) {
                Some(x) => {
                    if x.weights_format() != fb::FullyConnectedOptionsWeightsFormat::DEFAULT {
                        return Err("shuffled FULLY_CONNECTED weights are not supported".into());
                    }
                    if x.asymmetric_quantize_inputs() {
                        return Err(
                            "hybrid FULLY_CONNECTED (asymmetric_quantize_inputs) is not supported"
                                .into(),
                        );
                    }
                    (
                        activation(x.fused_activation_function())?,
                        x.keep_num_dims(),
                    )
                }
                None => (Activation::None, false),
            };
            Op::FullyConnected(FullyConnectedAttrs {
                act,
                keep_num_dims: keep,
            })
        }
        OpKind::Add => Op::Add(FusedActAttrs {
            act: match opts!(builtin_options_as_add_options) {
                Some(x) => activation(x.fused_activation_function())?,
                None => Activation::None,
            },
        }),
        OpKind::Sub => Op::Sub(FusedActAttrs {
            act: match opts!(builtin_options_as_sub_options) {
                Some(x) => activation(x.fused_activation_function())?,
                None => Activation::None,
            },
        }),
        OpKind::Mul => Op::Mul(FusedActAttrs {
            act: match opts!(builtin_options_as_mul_options) {
                Some(x) => activation(x.fused_activation_function())?,
                None => Activation::None,
            },
        }),
        OpKind::Div => Op::Div(FusedActAttrs {
            act: match opts!(builtin_options_as_div_options) {
                Some(x) => activation(x.fused_activation_function())?,
                None => Activation::None,
            },
        }),
        OpKind::SquaredDifference => Op::SquaredDifference(NoAttrs),
        OpKind::Maximum => Op::Maximum(NoAttrs),
        OpKind::Minimum => Op::Minimum(NoAttrs),
        OpKind::Rsqrt => Op::Rsqrt(NoAttrs),
        OpKind::Sqrt => Op::Sqrt(NoAttrs),
        OpKind::Exp => Op::Exp(NoAttrs),
        OpKind::Concatenation => {
            let x = opts!(builtin_options_as_concatenation_options)
                .ok_or("CONCATENATION has no options")?;
            Op::Concatenation(ConcatAttrs {
                axis: x.axis(),
                act: activation(x.fused_activation_function())?,
            })
        }
        OpKind::AveragePool2d | OpKind::MaxPool2d => {
            let x = opts!(builtin_options_as_pool_2_doptions).ok_or("pool has no options")?;
            let a = Pool2dAttrs {
                padding: padding(x.padding())?,
                stride: pair(x.stride_h(), x.stride_w(), ["stride_h", "stride_w"])?,
                filter: pair(
                    x.filter_height(),
                    x.filter_width(),
                    ["filter_height", "filter_width"],
                )?,
                act: activation(x.fused_activation_function())?,
            };
            if kind == OpKind::AveragePool2d {
                Op::AveragePool2d(a)
            } else {
                Op::MaxPool2d(a)
            }
        }
        OpKind::Mean | OpKind::Sum | OpKind::ReduceMax => {
            let keep_dims = opts!(builtin_options_as_reducer_options)
                .map(|x| x.keep_dims())
                .unwrap_or(false);
            let a = ReduceAttrs { keep_dims };
            match kind {
                OpKind::Mean => Op::Mean(a),
                OpKind::Sum => Op::Sum(a),
                _ => Op::ReduceMax(a),
            }
        }
        OpKind::Pad => Op::Pad(NoAttrs),
        OpKind::PadV2 => Op::PadV2(NoAttrs),
        OpKind::MirrorPad => {
            let mode = match opts!(builtin_options_as_mirror_pad_options).map(|x| x.mode()) {
                Some(fb::MirrorPadMode::SYMMETRIC) => MirrorPadMode::Symmetric,
                Some(fb::MirrorPadMode::REFLECT) | None => MirrorPadMode::Reflect,
                Some(m) => return Err(format!("unknown mirror pad mode {}", m.0)),
            };
            Op::MirrorPad(MirrorPadAttrs { mode })
        }
        OpKind::Reshape => Op::Reshape(NoAttrs),
        OpKind::Squeeze => Op::Squeeze(SqueezeAttrs {
            dims: opts!(builtin_options_as_squeeze_options)
                .and_then(|x| x.squeeze_dims())
                .map(|v| v.iter().collect())
                .unwrap_or_default(),
        }),
        OpKind::ExpandDims => Op::ExpandDims(NoAttrs),
        OpKind::Transpose => Op::Transpose(NoAttrs),
        OpKind::Slice => Op::Slice(NoAttrs),
        OpKind::StridedSlice => {
            let x = opts!(builtin_options_as_strided_slice_options);
            Op::StridedSlice(StridedSliceAttrs {
                begin_mask: x.map(|x| x.begin_mask()).unwrap_or(0),
                end_mask: x.map(|x| x.end_mask()).unwrap_or(0),
                ellipsis_mask: x.map(|x| x.ellipsis_mask()).unwrap_or(0),
                new_axis_mask: x.map(|x| x.new_axis_mask()).unwrap_or(0),
                shrink_axis_mask: x.map(|x| x.shrink_axis_mask()).unwrap_or(0),
                offset: x.map(|x| x.offset()).unwrap_or(false),
            })
        }
        OpKind::Split => {
            let x = opts!(builtin_options_as_split_options).ok_or("SPLIT has no options")?;
            Op::Split(SplitAttrs {
                num_splits: positive(x.num_splits(), "num_splits")?,
            })
        }
        OpKind::SplitV => {
            let x = opts!(builtin_options_as_split_voptions).ok_or("SPLIT_V has no options")?;
            Op::SplitV(SplitAttrs {
                num_splits: positive(x.num_splits(), "num_splits")?,
            })
        }
        OpKind::Pack => {
            let x = opts!(builtin_options_as_pack_options).ok_or("PACK has no options")?;
            Op::Pack(PackAttrs {
                count: positive(x.values_count(), "values_count")?,
                axis: x.axis(),
            })
        }
        OpKind::Unpack => {
            let x = opts!(builtin_options_as_unpack_options).ok_or("UNPACK has no options")?;
            Op::Unpack(PackAttrs {
                count: positive(x.num(), "num")?,
                axis: x.axis(),
            })
        }
        OpKind::Gather => {
            let x = opts!(builtin_options_as_gather_options);
            Op::Gather(GatherAttrs {
                axis: x.map(|x| x.axis()).unwrap_or(0),
                batch_dims: x.map(|x| x.batch_dims()).unwrap_or(0),
            })
        }
        OpKind::Shape => {
            let out = match opts!(builtin_options_as_shape_options) {
                Some(x) => elem_dtype(x.out_type())?,
                None => DType::I32,
            };
            Op::Shape(OutTypeAttrs { out })
        }
        OpKind::Softmax => Op::Softmax(SoftmaxAttrs {
            beta: opts!(builtin_options_as_softmax_options)
                .map(|x| x.beta())
                .unwrap_or(1.0),
        }),
        OpKind::LogSoftmax => Op::LogSoftmax(NoAttrs),
        OpKind::Logistic => Op::Logistic(NoAttrs),
        OpKind::Tanh => Op::Tanh(NoAttrs),
        OpKind::Relu => Op::Relu(NoAttrs),
        OpKind::Relu6 => Op::Relu6(NoAttrs),
        OpKind::ReluN1To1 => Op::ReluN1To1(NoAttrs),
        OpKind::LeakyRelu => Op::LeakyRelu(LeakyReluAttrs {
            alpha: opts!(builtin_options_as_leaky_relu_options)
                .map(|x| x.alpha())
                .unwrap_or(0.2),
        }),
        OpKind::Prelu => Op::Prelu(NoAttrs),
        OpKind::HardSwish => Op::HardSwish(NoAttrs),
        OpKind::Quantize => Op::Quantize(NoAttrs),
        OpKind::Dequantize => Op::Dequantize(NoAttrs),
        // The output type is the output tensor's; the importer fills it in after reading tensors.
        OpKind::Cast => Op::Cast(OutTypeAttrs { out: DType::F32 }),
        OpKind::ResizeBilinear => {
            let x = opts!(builtin_options_as_resize_bilinear_options);
            Op::ResizeBilinear(ResizeAttrs {
                align_corners: x.map(|x| x.align_corners()).unwrap_or(false),
                half_pixel_centers: x.map(|x| x.half_pixel_centers()).unwrap_or(false),
            })
        }
        OpKind::ResizeNearestNeighbor => {
            let x = opts!(builtin_options_as_resize_nearest_neighbor_options);
            Op::ResizeNearestNeighbor(ResizeAttrs {
                align_corners: x.map(|x| x.align_corners()).unwrap_or(false),
                half_pixel_centers: x.map(|x| x.half_pixel_centers()).unwrap_or(false),
            })
        }
        OpKind::DepthToSpace => {
            let x = opts!(builtin_options_as_depth_to_space_options)
                .ok_or("DEPTH_TO_SPACE has no options")?;
            Op::DepthToSpace(BlockAttrs {
                block_size: positive(x.block_size(), "block_size")?,
            })
        }
        OpKind::SpaceToDepth => {
            let x = opts!(builtin_options_as_space_to_depth_options)
                .ok_or("SPACE_TO_DEPTH has no options")?;
            Op::SpaceToDepth(BlockAttrs {
                block_size: positive(x.block_size(), "block_size")?,
            })
        }
        OpKind::ArgMax => Op::ArgMax(OutTypeAttrs {
            out: match opts!(builtin_options_as_arg_max_options) {
                Some(x) => elem_dtype(x.output_type())?,
                None => DType::I64,
            },
        }),
        OpKind::Densify => Op::Densify(NoAttrs),
        OpKind::L2Normalization => {
            if let Some(x) = opts!(builtin_options_as_l2_norm_options) {
                if activation(x.fused_activation_function())? != Activation::None {
                    return Err("L2_NORMALIZATION with a fused activation is not supported".into());
                }
            }
            Op::L2Normalization(NoAttrs)
        }
    })
}

/// Names of TFLite builtins mvcc does not support, for messages.
fn fb_builtin_name(code: i32) -> Option<&'static str> {
    const NAMES: &[(i32, &str)] = &[
        (7, "EMBEDDING_LOOKUP"),
        (8, "FLOOR"),
        (10, "HASHTABLE_LOOKUP"),
        (12, "L2_POOL_2D"),
        (13, "LOCAL_RESPONSE_NORMALIZATION"),
        (15, "LSH_PROJECTION"),
        (16, "LSTM"),
        (24, "RNN"),
        (27, "SVDF"),
        (29, "CONCAT_EMBEDDINGS"),
        (30, "SKIP_GRAM"),
        (31, "CALL"),
        (33, "EMBEDDING_LOOKUP_SPARSE"),
        (35, "UNIDIRECTIONAL_SEQUENCE_RNN"),
        (37, "BATCH_TO_SPACE_ND"),
        (38, "SPACE_TO_BATCH_ND"),
        (44, "UNIDIRECTIONAL_SEQUENCE_LSTM"),
        (46, "BIDIRECTIONAL_SEQUENCE_RNN"),
        (48, "TOPK_V2"),
        (51, "DELEGATE"),
        (52, "BIDIRECTIONAL_SEQUENCE_LSTM"),
        (58, "LESS"),
        (59, "NEG"),
        (61, "GREATER"),
        (62, "GREATER_EQUAL"),
        (63, "LESS_EQUAL"),
        (64, "SELECT"),
        (66, "SIN"),
        (68, "SPARSE_TO_DENSE"),
        (69, "TILE"),
        (71, "EQUAL"),
        (72, "NOT_EQUAL"),
        (73, "LOG"),
        (78, "POW"),
        (79, "ARG_MIN"),
        (80, "FAKE_QUANT"),
        (81, "REDUCE_PROD"),
        (84, "LOGICAL_OR"),
        (85, "ONE_HOT"),
        (86, "LOGICAL_AND"),
        (87, "LOGICAL_NOT"),
        (89, "REDUCE_MIN"),
        (90, "FLOOR_DIV"),
        (91, "REDUCE_ANY"),
        (92, "SQUARE"),
        (93, "ZEROS_LIKE"),
        (94, "FILL"),
        (95, "FLOOR_MOD"),
        (96, "RANGE"),
        (101, "ABS"),
        (103, "UNIQUE"),
        (104, "CEIL"),
        (105, "REVERSE_V2"),
        (106, "ADD_N"),
        (107, "GATHER_ND"),
        (108, "COS"),
        (109, "WHERE"),
        (110, "RANK"),
        (111, "ELU"),
        (112, "REVERSE_SEQUENCE"),
        (113, "MATRIX_DIAG"),
        (115, "MATRIX_SET_DIAG"),
        (116, "ROUND"),
        (118, "IF"),
        (119, "WHILE"),
        (120, "NON_MAX_SUPPRESSION_V4"),
        (121, "NON_MAX_SUPPRESSION_V5"),
        (122, "SCATTER_ND"),
        (123, "SELECT_V2"),
        (125, "SEGMENT_SUM"),
        (126, "BATCH_MATMUL"),
        (128, "CUMSUM"),
        (129, "CALL_ONCE"),
        (130, "BROADCAST_TO"),
        (131, "RFFT2D"),
        (132, "CONV_3D"),
        (140, "REDUCE_ALL"),
        (141, "CONV_3D_TRANSPOSE"),
        (145, "BROADCAST_ARGS"),
        (150, "GELU"),
        (151, "DYNAMIC_UPDATE_SLICE"),
        (152, "RELU_0_TO_1"),
        (158, "SIGN"),
    ];
    NAMES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// Infers shapes op by op and folds shape arithmetic and DENSIFY into constants.
fn fold_and_infer(g: &mut Graph) -> Result<()> {
    // CAST's output type is the output tensor's.
    for id in g.op_ids() {
        let out_dtype = g.op(id).outputs.first().map(|&t| g.tensor(t).dtype);
        if let (Op::Cast(a), Some(d)) = (&mut g.op_mut(id).op, out_dtype) {
            a.out = d;
        }
    }
    let order = match g.topo_order() {
        Ok(o) => o,
        Err(op) => {
            let n = g.op(op);
            return Err(Error::invalid(
                Location::operator(n.tflite_index, n.op.kind().tflite_name()),
                "the graph has a cycle through this operator",
            ));
        }
    };
    let mut problems = Problems::default();
    let mut activation_bytes: usize = 0;
    let mut bad_inputs = vec![false; g.tensors.len()];
    for id in order {
        let node = g.op(id).clone();
        if node
            .inputs
            .iter()
            .flatten()
            .any(|t| bad_inputs.get(t.index()).copied().unwrap_or(true))
        {
            for &t in &node.outputs {
                bad_inputs[t.index()] = true;
            }
            continue;
        }
        let loc = Location::operator(node.tflite_index, node.op.kind().tflite_name());
        let shapes = match ops::infer(g, id) {
            Ok(s) => s,
            Err(e) => {
                problems.extend(e);
                for &t in &node.outputs {
                    bad_inputs[t.index()] = true;
                }
                continue;
            }
        };
        let mut too_big = false;
        for (&t, shape) in node.outputs.iter().zip(&shapes) {
            let tt = g.tensor(t);
            let bytes = shape
                .iter()
                .try_fold(tt.dtype.size(), |a, &d| a.checked_mul(d))
                .filter(|&b| b <= MAX_TENSOR_BYTES);
            match bytes {
                Some(b) => activation_bytes = activation_bytes.saturating_add(b),
                None => {
                    problems.invalid(
                        loc.clone().with_tensor(tt.tflite_index, &tt.name),
                        format!("the result shape {shape:?} is too large (over {MAX_TENSOR_BYTES} bytes)"),
                    );
                    too_big = true;
                }
            }
            if shape.contains(&0) {
                problems.invalid(
                    loc.clone().with_tensor(tt.tflite_index, &tt.name),
                    format!("the result shape {shape:?} is empty"),
                );
                too_big = true;
            }
        }
        if too_big {
            for &t in &node.outputs {
                bad_inputs[t.index()] = true;
            }
            continue;
        }
        for (&t, shape) in node.outputs.iter().zip(shapes) {
            g.tensor_mut(t).shape = shape;
        }
        if activation_bytes > MAX_ACTIVATION_BYTES {
            problems.invalid(
                Location::model(),
                format!("the model's tensors need more than {MAX_ACTIVATION_BYTES} bytes"),
            );
            return problems.finish(());
        }
        // Fold: SHAPE always (shapes are static); DENSIFY; any op on integer constants producing
        // integers (shape arithmetic).
        let all_const = node
            .inputs
            .iter()
            .flatten()
            .all(|t| g.tensor(*t).is_const());
        let int_outputs = node
            .outputs
            .iter()
            .all(|&t| matches!(g.tensor(t).dtype, DType::I32 | DType::I64));
        let int_inputs = node
            .inputs
            .iter()
            .flatten()
            .all(|&t| matches!(g.tensor(t).dtype, DType::I32 | DType::I64));
        let fold = match node.op.kind() {
            OpKind::Shape => true,
            OpKind::Densify => all_const,
            _ => all_const && int_outputs && int_inputs,
        };
        if !fold {
            continue;
        }
        let values: Vec<Option<Buf>> = node
            .inputs
            .iter()
            .map(|t| t.and_then(|t| g.tensor(t).data.as_ref().map(|d| Buf::from_bytes(d))))
            .collect();
        let outputs = node
            .outputs
            .iter()
            .map(|&t| Buf::zeroed(g.tensor(t).byte_len()))
            .collect();
        let result = {
            let mut cx = EvalCx {
                graph: g,
                node: g.op(id),
                inputs: values.iter().map(Option::as_ref).collect(),
                outputs,
            };
            ops::eval(&mut cx).map(|()| std::mem::take(&mut cx.outputs))
        };
        match result {
            Ok(outs) => {
                for (&t, b) in node.outputs.iter().zip(outs) {
                    g.tensor_mut(t).data = Some(b.bytes().to_vec());
                }
                g.remove_op(id);
            }
            Err(e) => problems.extend(e),
        }
    }
    g.relink();
    problems.finish(())
}

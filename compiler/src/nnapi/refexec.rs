//! The reference executor: runs an NNAPI [`Description`] on the host with mvcc's kernels and
//! NNAPI's op semantics.
//!
//! [`to_graph`] converts the description into an IR [`Graph`] (operand `i` becomes a tensor named
//! after it, graph inputs and outputs in `desc.inputs` / `desc.outputs` order), mapping every
//! NNAPI operation onto mvcc ops by NNAPI's documented semantics (`NeuralNetworksTypes.h`);
//! [`run`] compiles that graph with [`crate::interp::compile`] and runs it in the interpreter.
//! Every error names the NNAPI operation index and its NNAPI name (an error raised by one of the
//! mvcc ops an operation became says which, e.g. `TRANSPOSE: …`).
//!
//! # Operand types
//!
//! | NNAPI | IR |
//! |---|---|
//! | `TENSOR_FLOAT32` | `f32` |
//! | `TENSOR_INT32` | `i32` (a bias's scale is not needed: mvcc derives it) |
//! | `TENSOR_QUANT8_ASYMM` | `u8`, per tensor |
//! | `TENSOR_QUANT8_ASYMM_SIGNED` | `i8`, per tensor |
//! | `TENSOR_QUANT8_SYMM` | `i8`, per tensor, zero point 0 |
//! | `TENSOR_QUANT8_SYMM_PER_CHANNEL` | `i8`, per axis (`channelDim`), zero points 0 |
//! | `TENSOR_BOOL8` | `bool` |
//! | scalars | read as constants into attributes (a scalar that is not a constant is unsupported) |
//! | float16, 16-bit quantized | unsupported |
//!
//! # Where NNAPI differs from TFLite, and what the executor does
//!
//! | Operation | NNAPI | Here |
//! |---|---|---|
//! | all | parameters are positional scalar operands; padding codes SAME = 1, VALID = 2 (TFLite's enum: 0, 1) | read from the operand list (explicit and implicit forms told apart by count and by the type of the layout slot, as NNAPI does) |
//! | layout-capable ops | optional `BOOL` NCHW flag for input 0 and output 0 (filters stay `[O, H, W, I]`) | TRANSPOSE `[0,2,3,1]` before the NHWC op, `[0,3,1,2]` after |
//! | CONV_2D, DEPTHWISE_CONV_2D, pools | explicit padding `(left, right, top, bottom)`: `out = (in + before + after − dilated filter) / stride + 1` | [`crate::ir::Padding::Explicit`]; pools leave padded cells out of the window, as NNAPI's do |
//! | CONV_2D, DEPTHWISE_CONV_2D | `uint8` activations with a per-channel (`int8`) filter | the input is requantized to `int8` (same scale, zero point − 128: exact), the int8 per-channel kernel runs, the result is requantized back (exact) |
//! | CONV_2D, DEPTHWISE_CONV_2D | `int8` per-tensor filter with a non-zero zero point (TFLite requires symmetric int8 filters) | input, filter and result go through `uint8` (zero points + 128: exact), where mvcc's kernel reads the filter's zero point |
//! | CONV_2D | the filter's depth must equal the input's | checked (mvcc's CONV_2D would read a smaller depth as grouped) |
//! | DEPTHWISE_CONV_2D | `depth_multiplier` operand | checked against `filter channels / input channels` |
//! | FULLY_CONNECTED | input flattened to `[batch, input_size]`, output `[batch, units]` | TFLite's rule without `keep_num_dims`: the same |
//! | RELU1 | `clamp(x, −1, 1)`; quantized output must share the input's scale and zero point | TFLite's RELU_N1_TO_1 (same clamp; bounds `Z + round(±1 / S)`, as NNAPI's `CalculateActivationRange`) |
//! | SOFTMAX | `beta` operand; `axis` operand (default −1, any rank 1–4) | TFLite's softmax works on the last axis: other axes are transposed to the end and back |
//! | MEAN | axes operand (TENSOR_INT32, may repeat an axis); `keep_dims` is an `INT32` (> 0 keeps); all axes reduced without `keep_dims` gives shape `[1]` (TFLite: a scalar) | MEAN with `keep_dims` = true and a RESHAPE to `[1]` in that case |
//! | MEAN (quantized) | output quantization = input's; the raw values' int32 sum divided by the count, **truncated** toward zero (`reference_ops::Mean<T, int32_t>`) | TFLite's quantized MEAN rounds: CAST to `int32`, the `int32` MEAN (truncating), CAST back — NNAPI's result exactly |
//! | PAD | paddings operand `[rank, 2]`; the pad value is the logical zero (the zero point) | PAD (pads with the output's zero point, which NNAPI requires to equal the input's) |
//! | RESIZE_BILINEAR | operands **width** then **height**; scale form (`FLOAT32` factors: `new = floor(in · scale)`); `align_corners` / `half_pixel_centers` flags at API 30 | the new size computed as NNAPI does, then TFLite's kernel (which derives its scale from the sizes, as NNAPI's CPU implementation does) |
//! | RESHAPE | shape operand, may be a model input | a constant (after [`run`] specializes model inputs used as shapes, paddings or axes to their values); without one, the declared output dimensions |
//! | CONCATENATION | since API 29 `uint8` inputs may have other scales than the output; `int8` ones always may | `uint8`: TFLite's rescaling concatenation; `int8`: each differing input requantized (QUANTIZE) first |
//! | QUANTIZE, DEQUANTIZE | `TENSOR_QUANT8_SYMM` and per-channel inputs to DEQUANTIZE | `i8` with zero point 0, per tensor or per axis |
//!
//! Known arithmetic differences mvcc's kernels cannot express (NNAPI's CTS accepts ±1 on
//! quantized results, and every CTS vector passes; see `tests/tests/nnapi_cts.rs`):
//!
//! | Operation | NNAPI's CPU implementation | mvcc |
//! |---|---|---|
//! | LOGISTIC, TANH (quantized) | fixed-point evaluation (`optimized_ops` / `reference_integer_ops` Logistic, Tanh) | TFLite's 256-entry table of `expf` / `tanhf` |
//! | FULLY_CONNECTED (quantized) | the fixed-point output multiplier | LiteRT's reference kernel: rescaling in double precision |
//! | MUL (quantized) | multiplier `f64(S1 ·f32 S2) / f64(S_out)` | TFLite's `S1 · S2 / S_out` in `f32`: the last bit of the multiplier can differ |
//! | RESIZE_BILINEAR (quantized) | TFLite's templated float reference kernel for both 8-bit types | LiteRT's kernels: float with rounding for `uint8`, `ResizeBilinearInteger`'s fixed point for `int8` |
//! | CONV_2D, DEPTHWISE_CONV_2D (per-channel filter) | multipliers `f64(S_in ·f32 S_w[c]) / f64(S_out)` (the product rounded to `f32`, `GetQuantizedConvolutionMultipler`) | `f64(S_in) · f64(S_w[c]) / f64(S_out)`, as TFLite's per-channel kernels: the last bit of a multiplier can differ (per-tensor filters: the same arithmetic as NNAPI) |
//!
//! [`run`] also specializes model inputs that feed operands mvcc needs as constants (PAD's
//! paddings, MEAN's axes, RESHAPE's shape) to the values given for them, then compiles; so a
//! model whose shapes depend on its inputs runs, one compilation per call.

mod cx;
mod operations;

use std::collections::BTreeSet;

use super::desc::{Description, Lifetime, Operand, OperationType};
use crate::error::{Error, Location, Problem, Result};
use crate::interp::{Buf, Interpreter};
use crate::ir::{Graph, TensorId};
use cx::Cx;

/// Converts an NNAPI description into an IR graph with NNAPI's semantics (see the module docs).
/// Graph inputs and outputs are `desc.inputs` and `desc.outputs`, in order; tensors are named
/// after their operands (made unique). The graph is verified.
///
/// # Errors
/// A malformed description or one mvcc cannot run (each problem names the NNAPI operation index
/// and name): operands out of range, wrong operand types or counts, non-constant parameters,
/// shapes that disagree with the operation, unsupported types (float16, 16-bit quantization).
pub fn to_graph(desc: &Description, weights: &[u8]) -> Result<Graph> {
    convert(desc, weights).map(|(g, _)| g)
}

/// [`to_graph`], with the tensor of every operand (`None` for scalars and unused operands).
fn convert(desc: &Description, weights: &[u8]) -> Result<(Graph, Vec<Option<TensorId>>)> {
    let mut cx = Cx::new(desc, weights);
    let r = cx.build();
    r.map(|()| (cx.g, cx.ids)).map_err(|e| relocate(e, desc))
}

/// Runs an NNAPI description on `inputs` (little-endian bytes per model input, in
/// `desc.inputs` order) and returns the bytes of every model output, in `desc.outputs` order.
///
/// Model inputs that feed PAD's paddings, MEAN's axes or RESHAPE's shape become constants with
/// the given values before the model is compiled.
///
/// # Errors
/// The wrong number of inputs or an input of the wrong size; anything [`to_graph`], compilation
/// or a kernel reports.
pub fn run(desc: &Description, weights: &[u8], inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>> {
    check_inputs(desc, inputs)?;
    let (spec, kept) = specialize(desc, inputs);
    let graph = to_graph(&spec, weights)?;
    let compiled = crate::interp::compile(&graph).map_err(|e| relocate(e, desc))?;
    let (program, plan) = compiled;
    let bufs: Vec<Buf> = kept.iter().map(|&k| Buf::from_bytes(inputs[k])).collect();
    let outs = Interpreter::new(&program, &plan)
        .run(&bufs)
        .map_err(|e| relocate(e, desc))?;
    Ok(outs.iter().map(|b| b.bytes().to_vec()).collect())
}

/// Runs a description like [`run`], without mvcc's graph optimizations (so that every operand
/// keeps its own value), and returns the value of every operand by operand index: constants'
/// bytes, model inputs, and what the operations computed; `None` for scalars and operands no
/// operation reads or writes.
///
/// # Errors
/// As [`run`].
pub fn run_all(
    desc: &Description,
    weights: &[u8],
    inputs: &[&[u8]],
) -> Result<Vec<Option<Vec<u8>>>> {
    check_inputs(desc, inputs)?;
    let (spec, kept) = specialize(desc, inputs);
    let (graph, ids) = convert(&spec, weights)?;
    let lowered = crate::lower::lower_with_ranges(&graph).map_err(|e| relocate(e, desc))?;
    let plan = crate::plan::plan(&lowered.program);
    let bufs: Vec<Buf> = kept.iter().map(|&k| Buf::from_bytes(inputs[k])).collect();
    let (_, values) = Interpreter::new(&lowered.program, &plan)
        .run_values(&bufs, true)
        .map_err(|e| relocate(e, desc))?;
    Ok(ids
        .iter()
        .map(|id| {
            let t = (*id)?;
            if let Some(d) = &graph.tensor(t).data {
                return Some(d.clone());
            }
            let v = lowered.values.get(t.index()).copied().flatten()?;
            values
                .get(v.index())
                .and_then(Option::as_ref)
                .map(|b| b.bytes().to_vec())
        })
        .collect())
}

/// Checks the number and sizes of the model inputs.
fn check_inputs(desc: &Description, inputs: &[&[u8]]) -> Result<()> {
    if inputs.len() != desc.inputs.len() {
        return Err(Error::invalid(
            Location::model(),
            format!(
                "the model has {} inputs, {} were given",
                desc.inputs.len(),
                inputs.len()
            ),
        ));
    }
    for (k, (&i, bytes)) in desc.inputs.iter().zip(inputs).enumerate() {
        let o = desc.operand(i).ok_or_else(|| {
            Error::invalid(
                Location::model(),
                format!("model input {k} is operand {i}, which does not exist"),
            )
        })?;
        let want = checked_byte_len(o);
        if want != Some(bytes.len()) {
            return Err(Error::invalid(
                Location::tensor(Some(i), &o.name),
                format!(
                    "model input {k} must be {} bytes ({} {:?}), got {}",
                    want.map_or_else(|| "?".to_string(), |w| w.to_string()),
                    o.ty,
                    o.dims,
                    bytes.len()
                ),
            ));
        }
    }
    Ok(())
}

/// The operand's size in bytes, without overflow.
fn checked_byte_len(o: &Operand) -> Option<usize> {
    o.dims
        .iter()
        .try_fold(o.ty.element_size(), |a, &d| a.checked_mul(d as usize))
}

/// Operand slots mvcc needs as constants: `(operation, slot)`.
fn shape_slot(ty: OperationType, slot: usize) -> bool {
    matches!(
        (ty, slot),
        (OperationType::Pad, 1) | (OperationType::Mean, 1) | (OperationType::Reshape, 1)
    )
}

/// A copy of `desc` in which model inputs read at [`shape_slot`]s are constants holding the
/// given bytes, and the positions (in `desc.inputs`) of the inputs that stay inputs.
fn specialize(desc: &Description, inputs: &[&[u8]]) -> (Description, Vec<usize>) {
    let mut spec = desc.clone();
    let mut fixed = BTreeSet::new();
    for op in &desc.operations {
        for (slot, &i) in op.inputs.iter().enumerate() {
            if shape_slot(op.ty, slot) && !desc.outputs.contains(&i) {
                if let Some(k) = desc.inputs.iter().position(|&x| x == i) {
                    fixed.insert(k);
                }
            }
        }
    }
    let mut kept = Vec::new();
    spec.inputs.clear();
    for (k, &i) in desc.inputs.iter().enumerate() {
        if fixed.contains(&k) {
            if let Some(o) = spec.operands.get_mut(i as usize) {
                o.lifetime = Lifetime::Inline(inputs[k].to_vec());
            }
        } else {
            spec.inputs.push(i);
            kept.push(k);
        }
    }
    (spec, kept)
}

/// Renames the op of every located problem to the NNAPI operation's name (the graph's ops carry
/// the NNAPI operation index); the mvcc op's name moves into the message.
fn relocate(e: Error, desc: &Description) -> Error {
    let nnapi = |i: Option<u32>| {
        i.and_then(|i| desc.operations.get(i as usize))
            .map(|o| o.ty.name())
    };
    let problems = e
        .problems
        .into_iter()
        .map(|p| match p {
            Problem::Invalid {
                mut location,
                message,
            } => {
                let message = match (nnapi(location.operator), location.op.take()) {
                    (Some(name), Some(op)) if op != name => {
                        location.op = Some(name.to_string());
                        format!("{op}: {message}")
                    }
                    (Some(name), _) => {
                        location.op = Some(name.to_string());
                        message
                    }
                    (None, op) => {
                        location.op = op;
                        message
                    }
                };
                Problem::Invalid { location, message }
            }
            Problem::Unsupported(list) => Problem::Unsupported(
                list.into_iter()
                    .map(|mut u| {
                        if let Some(name) = nnapi(u.operators.first().copied()) {
                            if u.name != name {
                                let why = u.reason.take().unwrap_or_default();
                                u.reason = Some(format!("{}: {why}", u.name));
                                u.name = name.to_string();
                            }
                        }
                        u
                    })
                    .collect(),
            ),
            other => other,
        })
        .collect();
    Error { problems }
}

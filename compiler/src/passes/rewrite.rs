//! Helpers shared by the rewrite passes: who reads a tensor, constant values, rewiring, the fused
//! activation of an op, and evaluating one op at compile time (to fold it, or to prove that a
//! quantized rewrite is identical on every input code).

use std::collections::BTreeMap;

use crate::error::{Error, Location, Result};
use crate::interp::Buf;
use crate::ir::{Activation, DType, Graph, Op, OpId, OpKind, OpNode, Tensor, TensorId};
use crate::ops::{self, EvalCx};

/// Every read of every tensor: `(op, operand slot)` per tensor, in op insertion order.
#[derive(Debug)]
pub struct Uses {
    reads: Vec<Vec<(OpId, usize)>>,
    is_output: Vec<bool>,
}

impl Uses {
    /// The reads of the tensors of `g` as it is now.
    pub fn new(g: &Graph) -> Uses {
        let mut reads = vec![Vec::new(); g.tensors.len()];
        for id in g.op_ids() {
            for (slot, t) in g.op(id).inputs.iter().enumerate() {
                if let Some(r) = t.and_then(|t| reads.get_mut(t.index())) {
                    r.push((id, slot));
                }
            }
        }
        let mut is_output = vec![false; g.tensors.len()];
        for t in &g.outputs {
            if let Some(o) = is_output.get_mut(t.index()) {
                *o = true;
            }
        }
        Uses { reads, is_output }
    }

    /// The `(op, slot)` pairs reading `t`.
    pub fn of(&self, t: TensorId) -> &[(OpId, usize)] {
        self.reads.get(t.index()).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether `t` is a model output.
    pub fn is_output(&self, t: TensorId) -> bool {
        self.is_output.get(t.index()).copied().unwrap_or(false)
    }

    /// The one op reading `t`, if exactly one operand slot of one op reads it and it is not a
    /// model output: then whatever produces `t` may write the reader's result instead.
    pub fn sole_reader(&self, t: TensorId) -> Option<OpId> {
        match self.of(t) {
            [(op, _)] if !self.is_output(t) => Some(*op),
            _ => None,
        }
    }
}

/// A topological order, or an error naming an op on a cycle (the verifier rules cycles out).
///
/// # Errors
/// The graph has a cycle.
pub fn topo(g: &Graph) -> Result<Vec<OpId>> {
    g.topo_order().map_err(|op| {
        let n = g.op(op);
        Error::invalid(
            Location::operator(n.tflite_index, n.op.kind().tflite_name()),
            "the graph has a cycle through this operator",
        )
    })
}

/// The number of ops of each kind.
pub fn op_counts(g: &Graph) -> BTreeMap<OpKind, usize> {
    let mut m = BTreeMap::new();
    for id in g.op_ids() {
        *m.entry(g.op(id).op.kind()).or_insert(0) += 1;
    }
    m
}

/// Operand `i` of `node`, if present.
pub fn input(node: &OpNode, i: usize) -> Option<TensorId> {
    node.inputs.get(i).copied().flatten()
}

/// The values of a float32 constant.
pub fn const_f32(t: &Tensor) -> Option<Vec<f32>> {
    if t.dtype != DType::F32 {
        return None;
    }
    let d = t.data.as_ref()?;
    Some(
        d.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// Little-endian bytes of float32 values.
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Whether two tensors have the same element type and the same quantization (bit-equal scales).
pub fn same_type_and_quant(a: &Tensor, b: &Tensor) -> bool {
    if a.dtype != b.dtype {
        return false;
    }
    match (&a.quant, &b.quant) {
        (None, None) => true,
        (Some(x), Some(y)) => {
            x.zero_point == y.zero_point
                && x.scale.len() == y.scale.len()
                && x.scale
                    .iter()
                    .zip(&y.scale)
                    .all(|(p, q)| p.to_bits() == q.to_bits())
                && (x.scale.len() <= 1 || x.axis == y.axis)
        }
        _ => false,
    }
}

/// Whether `t` is quantized per tensor with its zero point inside its type's range.
pub fn sane_per_tensor(t: &Tensor) -> bool {
    let (lo, hi) = crate::quant::qrange(t.dtype);
    match t.per_tensor_quant() {
        Some((s, z)) => s.is_finite() && s > 0.0 && z >= i64::from(lo) && z <= i64::from(hi),
        None => false,
    }
}

/// Every value of an 8-bit quantized type, in order, as stored bytes (`None` for other types).
pub fn all_codes(dtype: DType) -> Option<Vec<u8>> {
    match dtype {
        DType::I8 => Some((-128i32..=127).map(|v| v as i8 as u8).collect()),
        DType::U8 => Some((0u32..=255).map(|v| v as u8).collect()),
        _ => None,
    }
}

/// Replaces every read of `from` by a read of `to` (call [`Graph::relink`] afterwards).
pub fn replace_reads(g: &mut Graph, from: TensorId, to: TensorId) {
    for id in g.op_ids() {
        for t in g.op_mut(id).inputs.iter_mut().flatten() {
            if *t == from {
                *t = to;
            }
        }
    }
}

/// The fused activation of ops that have one (the ones a standalone activation can fuse into).
pub fn fused_activation(op: &Op) -> Option<Activation> {
    let mut op = op.clone();
    fused_activation_mut(&mut op).map(|a| *a)
}

/// The fused activation attribute of `op`, if it has one.
pub fn fused_activation_mut(op: &mut Op) -> Option<&mut Activation> {
    match op {
        Op::Conv2d(a) => Some(&mut a.act),
        Op::DepthwiseConv2d(a) => Some(&mut a.act),
        Op::TransposeConv(a) => Some(&mut a.act),
        Op::FullyConnected(a) => Some(&mut a.act),
        Op::Add(a) | Op::Sub(a) | Op::Mul(a) | Op::Div(a) => Some(&mut a.act),
        Op::AveragePool2d(a) | Op::MaxPool2d(a) => Some(&mut a.act),
        Op::Concatenation(a) => Some(&mut a.act),
        Op::SquaredDifference(_)
        | Op::Maximum(_)
        | Op::Minimum(_)
        | Op::Rsqrt(_)
        | Op::Sqrt(_)
        | Op::Exp(_)
        | Op::Mean(_)
        | Op::Sum(_)
        | Op::ReduceMax(_)
        | Op::Pad(_)
        | Op::PadV2(_)
        | Op::MirrorPad(_)
        | Op::Reshape(_)
        | Op::Squeeze(_)
        | Op::ExpandDims(_)
        | Op::Transpose(_)
        | Op::Slice(_)
        | Op::StridedSlice(_)
        | Op::Split(_)
        | Op::SplitV(_)
        | Op::Pack(_)
        | Op::Unpack(_)
        | Op::Gather(_)
        | Op::Shape(_)
        | Op::Softmax(_)
        | Op::LogSoftmax(_)
        | Op::Logistic(_)
        | Op::Tanh(_)
        | Op::Relu(_)
        | Op::Relu6(_)
        | Op::ReluN1To1(_)
        | Op::LeakyRelu(_)
        | Op::Prelu(_)
        | Op::HardSwish(_)
        | Op::Quantize(_)
        | Op::Dequantize(_)
        | Op::Cast(_)
        | Op::ResizeBilinear(_)
        | Op::ResizeNearestNeighbor(_)
        | Op::DepthToSpace(_)
        | Op::SpaceToDepth(_)
        | Op::ArgMax(_)
        | Op::Densify(_)
        | Op::L2Normalization(_) => None,
    }
}

/// Evaluates op `id` of `g`, whose operands must all be constants, with the reference kernels.
///
/// # Errors
/// A non-constant operand; the kernel's errors.
pub fn eval_in_graph(g: &Graph, id: OpId) -> Result<Vec<Buf>> {
    let node = g.op(id);
    let mut values = Vec::with_capacity(node.inputs.len());
    for t in &node.inputs {
        match t {
            None => values.push(None),
            Some(t) => match &g.tensor(*t).data {
                Some(d) => values.push(Some(Buf::from_bytes(d))),
                None => {
                    return Err(Error::invalid(
                        Location::operator(node.tflite_index, node.op.kind().tflite_name()),
                        "compile-time evaluation of an op with a non-constant operand",
                    ))
                }
            },
        }
    }
    let outputs = node
        .outputs
        .iter()
        .map(|&t| Buf::zeroed(g.tensor(t).byte_len()))
        .collect();
    let mut cx = EvalCx {
        graph: g,
        node,
        inputs: values.iter().map(Option::as_ref).collect(),
        outputs,
    };
    ops::eval(&mut cx)?;
    Ok(cx.outputs)
}

/// Evaluates `op` alone on constant operands (tensors with data; `None` for omitted ones) into
/// results of the given types and shapes. The op's shape rule is checked first.
///
/// # Errors
/// The shape rule's or the kernel's errors.
pub fn eval_alone(op: Op, inputs: Vec<Option<Tensor>>, outputs: Vec<Tensor>) -> Result<Vec<Buf>> {
    let mut g = Graph::new();
    let ins: Vec<Option<TensorId>> = inputs
        .into_iter()
        .map(|t| t.map(|t| g.add_tensor(t)))
        .collect();
    let outs: Vec<TensorId> = outputs.into_iter().map(|t| g.add_tensor(t)).collect();
    let id = g.add_op(OpNode {
        op,
        inputs: ins,
        outputs: outs,
        tflite_index: None,
        version: 1,
    });
    let shapes = ops::infer(&g, id)?;
    let node = g.op(id);
    let consistent = shapes.len() == node.outputs.len()
        && node
            .outputs
            .iter()
            .zip(&shapes)
            .all(|(&t, s)| &g.tensor(t).shape == s);
    if !consistent {
        return Err(Error::invalid(
            Location::operator(None, node.op.kind().tflite_name()),
            "compile-time evaluation with inconsistent shapes",
        ));
    }
    eval_in_graph(&g, id)
}

/// A tensor like `like` (type and quantization), with a new shape and optional data.
pub fn tensor_like(like: &Tensor, shape: Vec<usize>, data: Option<Vec<u8>>) -> Tensor {
    Tensor {
        name: like.name.clone(),
        dtype: like.dtype,
        shape,
        quant: like.quant.clone(),
        data,
        tflite_index: None,
    }
}

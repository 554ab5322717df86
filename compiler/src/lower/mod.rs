//! Lowering: an optimized [`Graph`] becomes a [`Program`], a linear schedule of kernel steps in
//! which every parameter is a compile-time constant.
//!
//! Each step names a kernel (an op family's `Kernel` enum, holding the runtime's parameter struct:
//! shapes, strides, padding, per-channel requantization multipliers and shifts, zero points,
//! activation ranges), its operands (values in memory, or ranges of the one weight blob) and its
//! results. Constant operands are copied into the [`WeightBlob`] once, each range 64-byte
//! aligned, in the layout the kernel reads. RESHAPE-like ops produce no step: their result is an
//! alias of their operand.
//!
//! Back ends consume a `Program` and its [`crate::plan::Plan`]; none looks at the graph again.

pub mod program;

pub use program::*;

use crate::error::{Error, Location, Result};
use crate::ir::{Graph, Op, OpId, OpKind, TensorId};
use crate::ops::{self, InferCx};

/// What an op family's lowering sees: the op (through the shape rule's context), the weight blob
/// and the mapping from graph tensors to program operands.
#[derive(Debug)]
pub struct LowerCx<'a> {
    /// The graph and the op, with the shape rule's accessors and error constructors.
    pub icx: InferCx<'a>,
    blob: &'a mut WeightBlob,
    values: &'a [Option<ValueId>],
    weights: &'a mut Vec<Option<WeightRange>>,
}

impl<'a> LowerCx<'a> {
    /// Operand `i` as it is in the model: a value, or (for a constant) its bytes in the blob.
    /// `None` for an omitted optional operand.
    ///
    /// # Errors
    /// The operand is neither a constant nor a value (the verifier rules this out).
    pub fn operand(&mut self, i: usize) -> Result<Option<Operand>> {
        let Some(t) = self.icx.node.inputs.get(i).copied().flatten() else {
            return Ok(None);
        };
        self.tensor_operand(t).map(Some)
    }

    /// Operand `i`, which must be present.
    ///
    /// # Errors
    /// The operand is missing.
    pub fn required(&mut self, i: usize) -> Result<Operand> {
        self.operand(i)?
            .ok_or_else(|| self.icx.err(format!("input {i} is missing")))
    }

    /// A graph tensor as an operand.
    ///
    /// # Errors
    /// The tensor has no value and is not a constant.
    pub fn tensor_operand(&mut self, t: TensorId) -> Result<Operand> {
        if let Some(Some(v)) = self.values.get(t.index()) {
            return Ok(Operand::Value(*v));
        }
        if let Some(Some(r)) = self.weights.get(t.index()) {
            return Ok(Operand::Weight(*r));
        }
        let tensor = self.icx.graph.tensor(t);
        match &tensor.data {
            Some(d) => {
                let r = self.blob.push(d);
                if let Some(slot) = self.weights.get_mut(t.index()) {
                    *slot = Some(r);
                }
                Ok(Operand::Weight(r))
            }
            None => Err(self
                .icx
                .err(format!("tensor \"{}\" has no value", tensor.name))),
        }
    }

    /// Bytes the lowering computed (packed or transformed weights) as a blob operand.
    pub fn packed(&mut self, bytes: &[u8]) -> Operand {
        Operand::Weight(self.blob.push(bytes))
    }

    /// Result `i` of the op.
    ///
    /// # Errors
    /// The result is missing (the verifier rules this out).
    pub fn output(&self, i: usize) -> Result<ValueId> {
        self.icx
            .node
            .outputs
            .get(i)
            .and_then(|t| self.values.get(t.index()).copied().flatten())
            .ok_or_else(|| self.icx.err(format!("output {i} has no value")))
    }

    /// All results of the op.
    ///
    /// # Errors
    /// As [`LowerCx::output`].
    pub fn outputs(&self) -> Result<Vec<ValueId>> {
        (0..self.icx.node.outputs.len())
            .map(|i| self.output(i))
            .collect()
    }

    /// A step of `kernel` with the op's operands (in order, omitted ones skipped) and results.
    ///
    /// # Errors
    /// As [`LowerCx::operand`].
    pub fn step(&mut self, kernel: Kernel) -> Result<Step> {
        let mut inputs = Vec::new();
        for i in 0..self.icx.node.inputs.len() {
            inputs.push(self.operand(i)?);
        }
        Ok(Step::new(kernel, inputs, self.outputs()?, self.origin()))
    }

    /// Where the step comes from, for comments and messages.
    pub fn origin(&self) -> Origin {
        let node = self.icx.node;
        Origin {
            ops: node.tflite_index.into_iter().collect(),
            op: node.op.kind().tflite_name(),
            tensors: node
                .outputs
                .iter()
                .map(|&t| self.icx.graph.tensor(t).name.clone())
                .collect(),
        }
    }
}

/// Lowers a verified graph to a program.
///
/// # Errors
/// An op whose parameters cannot be computed (reported with its location); all are collected.
pub fn lower(g: &Graph) -> Result<Program> {
    lower_with_ranges(g).map(|l| l.program)
}

/// A program with the map back to the graph it came from.
#[derive(Clone, Debug)]
pub struct Lowered {
    /// The program.
    pub program: Program,
    /// For each op in schedule order, the range of steps it became (empty for ops that became
    /// aliases). Steps after the last range copy constant model outputs.
    pub ranges: Vec<(OpId, std::ops::Range<usize>)>,
    /// For each graph tensor, its value (`None` for constants and unused tensors).
    pub values: Vec<Option<ValueId>>,
}

/// As [`lower`], keeping the map from graph ops and tensors to steps and values.
///
/// # Errors
/// As [`lower`].
pub fn lower_with_ranges(g: &Graph) -> Result<Lowered> {
    let order = g.topo_order().map_err(|op| {
        let n = g.op(op);
        Error::invalid(
            Location::operator(n.tflite_index, n.op.kind().tflite_name()),
            "the graph has a cycle through this operator",
        )
    })?;
    let mut program = Program::default();
    // Every non-constant tensor that is read or written becomes a value.
    let mut values: Vec<Option<ValueId>> = vec![None; g.tensors.len()];
    let mut needed = vec![false; g.tensors.len()];
    for &t in g.inputs.iter().chain(&g.outputs) {
        needed[t.index()] = true;
    }
    for &o in &order {
        let n = g.op(o);
        for t in n.inputs.iter().flatten().chain(&n.outputs) {
            needed[t.index()] = true;
        }
    }
    for (i, t) in g.tensors.iter().enumerate() {
        // Constant model outputs get a value too: a copy step writes them.
        if needed[i] && (!t.is_const() || g.outputs.contains(&TensorId(i as u32))) {
            values[i] = Some(program.add_value(Value::of_tensor(t)));
        }
    }
    for (n, t) in g.outputs.iter().enumerate() {
        if let Some(v) = values[t.index()] {
            program.values[v.index()].io = Some(Io::Output(n));
        }
    }
    for (n, t) in g.inputs.iter().enumerate() {
        if let Some(v) = values[t.index()] {
            program.values[v.index()].io = Some(Io::Input(n));
        }
    }
    program.inputs = g.inputs.iter().filter_map(|t| values[t.index()]).collect();
    let mut weights: Vec<Option<WeightRange>> = vec![None; g.tensors.len()];
    let mut problems = crate::error::Problems::default();
    let mut ranges = Vec::with_capacity(order.len());
    for &o in &order {
        let first = program.steps.len();
        match lower_op(g, o, &mut program, &values, &mut weights) {
            Ok(mut steps) => {
                // Fused blocks (depthwise→pointwise pairs) carry over to the steps.
                if let Some(b) = g.block(o) {
                    steps.iter_mut().for_each(|s| s.block = Some(b));
                }
                program.steps.extend(steps)
            }
            Err(e) => problems.extend(e),
        }
        ranges.push((o, first..program.steps.len()));
    }
    // Model outputs that are constants (folded at import) are copied from the weight blob.
    for &t in &g.outputs {
        let tensor = g.tensor(t);
        match (values[t.index()], &tensor.data) {
            (Some(v), Some(d)) => {
                let r = program.weights.push(d);
                let origin = Origin {
                    ops: Vec::new(),
                    op: "CONSTANT",
                    tensors: vec![tensor.name.clone()],
                };
                program.steps.push(Step::new(
                    Kernel::Copy,
                    vec![Some(Operand::Weight(r))],
                    vec![v],
                    origin,
                ));
                program.outputs.push(v);
            }
            (Some(v), None) => program.outputs.push(v),
            (None, _) => problems.invalid(
                Location::tensor(tensor.tflite_index, &tensor.name),
                "model output has no value",
            ),
        }
    }
    problems.finish(Lowered {
        program,
        ranges,
        values,
    })
}

fn lower_op(
    g: &Graph,
    id: OpId,
    program: &mut Program,
    values: &[Option<ValueId>],
    weights: &mut Vec<Option<WeightRange>>,
) -> Result<Vec<Step>> {
    let node = g.op(id);
    // Reshape-like ops are aliases: the result is the operand's bytes, no step.
    if matches!(
        node.op.kind(),
        OpKind::Reshape | OpKind::Squeeze | OpKind::ExpandDims
    ) {
        if let (Some(Some(src)), Some(dst)) = (
            node.inputs
                .first()
                .map(|t| t.and_then(|t| values[t.index()])),
            node.outputs.first().and_then(|t| values[t.index()]),
        ) {
            if !program.is_external(dst) {
                program.values[dst.index()].alias = Some(Alias { of: src, offset: 0 });
                return Ok(Vec::new());
            }
        }
        // The result is a model output: copy into the caller's buffer.
        let icx = InferCx { graph: g, node };
        let mut cx = LowerCx {
            icx,
            blob: &mut program.weights,
            values,
            weights,
        };
        let input = cx.required(0)?;
        let origin = cx.origin();
        return Ok(vec![Step::new(
            Kernel::Copy,
            vec![Some(input)],
            cx.outputs()?,
            origin,
        )]);
    }
    if let Op::Concatenation(a) = &node.op {
        if elide_concatenation(g, node, a, program, values) {
            return Ok(Vec::new());
        }
    }
    let icx = InferCx { graph: g, node };
    let mut cx = LowerCx {
        icx,
        blob: &mut program.weights,
        values,
        weights,
    };
    ops::lower(&mut cx)
}

/// CONCATENATION elimination: when every operand's bytes form one contiguous slice of the result
/// (all dimensions before the axis are 1) and the concatenation only copies (same type and
/// quantization everywhere, no activation), each operand's producer writes straight into its
/// slice: the operand's memory becomes an alias of the result at the slice's offset, and no step
/// is emitted. Operands that are constants, model inputs, already aliased elsewhere, or repeated
/// keep the copy.
fn elide_concatenation(
    g: &Graph,
    node: &crate::ir::OpNode,
    a: &crate::ir::ConcatAttrs,
    program: &mut Program,
    values: &[Option<ValueId>],
) -> bool {
    let (Some(&out_t), true) = (node.outputs.first(), a.act == crate::ir::Activation::None) else {
        return false;
    };
    let Some(out) = values[out_t.index()] else {
        return false;
    };
    let out_tensor = g.tensor(out_t);
    let rank = out_tensor.shape.len() as i64;
    let axis = if a.axis < 0 {
        i64::from(a.axis) + rank
    } else {
        i64::from(a.axis)
    };
    if !(0..rank).contains(&axis) || out_tensor.shape[..axis as usize].iter().any(|&d| d != 1) {
        return false;
    }
    // Each operand's root must be a value of exactly the operand's bytes that nothing else
    // places in memory yet.
    let mut roots = Vec::new();
    for t in &node.inputs {
        let Some(t) = *t else { return false };
        let tensor = g.tensor(t);
        if tensor.dtype != out_tensor.dtype || tensor.quant != out_tensor.quant {
            return false;
        }
        let Some(v) = values[t.index()] else {
            return false;
        };
        let (root, offset) = program.root(v);
        let rv = program.value(root);
        if offset != 0
            || rv.bytes != tensor.byte_len()
            || rv.io.is_some()
            || root == program.root(out).0
        {
            return false;
        }
        if roots.contains(&root) {
            return false;
        }
        roots.push(root);
    }
    let total: usize = roots.iter().map(|r| program.value(*r).bytes).sum();
    if total != program.value(out).bytes {
        return false;
    }
    let mut offset = 0;
    for root in roots {
        let bytes = program.value(root).bytes;
        program.values[root.index()].alias = Some(Alias { of: out, offset });
        offset += bytes;
    }
    true
}

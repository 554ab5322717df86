//! The lowered form: values, steps, and the weight blob.

use std::fmt;

use crate::ir::{DType, Quant, Shape, Tensor};

/// Alignment of every weight range and every arena offset, in bytes.
pub const ALIGN: usize = 64;

/// Index of a value in [`Program::values`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValueId(pub u32);

impl ValueId {
    /// The index as `usize`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where a model input or output lives: in a buffer the caller passes, not in the arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Io {
    /// The `n`th model input.
    Input(usize),
    /// The `n`th model output.
    Output(usize),
}

/// This value's bytes are part of another value's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alias {
    /// The value whose memory this one shares.
    pub of: ValueId,
    /// Byte offset into it.
    pub offset: usize,
}

/// A runtime tensor of the program.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    /// Name from the model.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Static shape.
    pub shape: Shape,
    /// Quantization.
    pub quant: Option<Quant>,
    /// Index of the tensor in the `.tflite` file, if any.
    pub tflite_index: Option<u32>,
    /// Size in bytes.
    pub bytes: usize,
    /// Set when the value shares another value's memory (reshapes, concatenation slices).
    pub alias: Option<Alias>,
    /// Set for model inputs and outputs.
    pub io: Option<Io>,
}

impl Value {
    /// A value for a graph tensor.
    pub fn of_tensor(t: &Tensor) -> Value {
        Value {
            name: t.name.clone(),
            dtype: t.dtype,
            shape: t.shape.clone(),
            quant: t.quant.clone(),
            tflite_index: t.tflite_index,
            bytes: t.byte_len(),
            alias: None,
            io: None,
        }
    }
}

/// A range of the weight blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeightRange {
    /// Byte offset (a multiple of [`ALIGN`]).
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
}

/// The constant data of a program: one byte blob, every range [`ALIGN`]-aligned.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WeightBlob {
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl WeightBlob {
    /// Appends `data` at the next aligned offset.
    pub fn push(&mut self, data: &[u8]) -> WeightRange {
        let offset = self.bytes.len().next_multiple_of(ALIGN);
        self.bytes.resize(offset, 0);
        self.bytes.extend_from_slice(data);
        WeightRange {
            offset,
            len: data.len(),
        }
    }

    /// The bytes of a range.
    pub fn get(&self, r: WeightRange) -> &[u8] {
        &self.bytes[r.offset..r.offset + r.len]
    }
}

/// An operand of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// A value in memory.
    Value(ValueId),
    /// Constant bytes in the weight blob.
    Weight(WeightRange),
}

/// Where a step comes from.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Origin {
    /// TFLite operator indices (several when passes fused ops).
    pub ops: Vec<u32>,
    /// The TFLite op name of the main op.
    pub op: &'static str,
    /// Names of the result tensors.
    pub tensors: Vec<String>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ops: Vec<String> = self.ops.iter().map(|o| o.to_string()).collect();
        write!(
            f,
            "{} (operator {}) -> {}",
            self.op,
            ops.join("+"),
            self.tensors.join(", ")
        )
    }
}

/// A kernel with its parameters. One variant per op family; each family's enum selects the
/// element type and holds the runtime's parameter struct.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// Copies operand 0's bytes to result 0 (a reshape that cannot be an alias, a constant model
    /// output).
    Copy,
    /// `activation` family.
    Activation(crate::ops::activation::Kernel),
    /// `arg_max` family.
    ArgMax(crate::ops::arg_max::Kernel),
    /// `binary` family.
    Binary(crate::ops::binary::Kernel),
    /// `concatenation` family.
    Concatenation(crate::ops::concatenation::Kernel),
    /// `conv_2d` family.
    Conv2d(crate::ops::conv_2d::Kernel),
    /// `depth_to_space` family.
    DepthToSpace(crate::ops::depth_to_space::Kernel),
    /// `fully_connected` family.
    FullyConnected(crate::ops::fully_connected::Kernel),
    /// `gather` family.
    Gather(crate::ops::gather::Kernel),
    /// `l2_normalization` family.
    L2Normalization(crate::ops::l2_normalization::Kernel),
    /// `logistic_tanh` family.
    LogisticTanh(crate::ops::logistic_tanh::Kernel),
    /// `pad` family.
    Pad(crate::ops::pad::Kernel),
    /// `pool_2d` family.
    Pool2d(crate::ops::pool_2d::Kernel),
    /// `quantize` family.
    Quantize(crate::ops::quantize::Kernel),
    /// `reduce` family.
    Reduce(crate::ops::reduce::Kernel),
    /// `resize` family.
    Resize(crate::ops::resize::Kernel),
    /// `slice` family.
    Slice(crate::ops::slice::Kernel),
    /// `softmax` family.
    Softmax(crate::ops::softmax::Kernel),
    /// `split_pack` family.
    SplitPack(crate::ops::split_pack::Kernel),
    /// `transpose` family.
    Transpose(crate::ops::transpose::Kernel),
    /// `unary` family.
    Unary(crate::ops::unary::Kernel),
}

impl Kernel {
    /// A short name for listings (`conv_2d_i8`).
    pub fn name(&self) -> String {
        match self {
            Kernel::Copy => "copy".into(),
            Kernel::Activation(k) => k.name().into(),
            Kernel::ArgMax(k) => k.name().into(),
            Kernel::Binary(k) => k.name().into(),
            Kernel::Concatenation(k) => k.name().into(),
            Kernel::Conv2d(k) => k.name().into(),
            Kernel::DepthToSpace(k) => k.name().into(),
            Kernel::FullyConnected(k) => k.name().into(),
            Kernel::Gather(k) => k.name().into(),
            Kernel::L2Normalization(k) => k.name().into(),
            Kernel::LogisticTanh(k) => k.name().into(),
            Kernel::Pad(k) => k.name().into(),
            Kernel::Pool2d(k) => k.name().into(),
            Kernel::Quantize(k) => k.name().into(),
            Kernel::Reduce(k) => k.name().into(),
            Kernel::Resize(k) => k.name().into(),
            Kernel::Slice(k) => k.name().into(),
            Kernel::Softmax(k) => k.name().into(),
            Kernel::SplitPack(k) => k.name().into(),
            Kernel::Transpose(k) => k.name().into(),
            Kernel::Unary(k) => k.name().into(),
        }
    }
}

/// One step of the schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The kernel and its parameters.
    pub kernel: Kernel,
    /// Operands in the kernel's order (`None` for omitted optional ones).
    pub inputs: Vec<Option<Operand>>,
    /// Results.
    pub outputs: Vec<ValueId>,
    /// Bytes of scratch memory the kernel needs (planned in the arena).
    pub scratch_bytes: usize,
    /// The operand index whose value the first result may overwrite (element-wise kernels whose
    /// input dies here); the planner decides whether it does.
    pub in_place: Option<usize>,
    /// Depthwise→pointwise pairs share a block id (a fused kernel may keep the tile in cache).
    pub block: Option<u32>,
    /// Where it comes from.
    pub origin: Origin,
}

impl Step {
    /// A step with no scratch, no in-place hint, no block.
    pub fn new(
        kernel: Kernel,
        inputs: Vec<Option<Operand>>,
        outputs: Vec<crate::lower::ValueId>,
        origin: Origin,
    ) -> Step {
        Step {
            kernel,
            inputs,
            outputs,
            scratch_bytes: 0,
            in_place: None,
            block: None,
            origin,
        }
    }
}

/// The lowered program.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    /// Every runtime tensor.
    pub values: Vec<Value>,
    /// The schedule.
    pub steps: Vec<Step>,
    /// Constant data.
    pub weights: WeightBlob,
    /// Model inputs, in order.
    pub inputs: Vec<ValueId>,
    /// Model outputs, in order.
    pub outputs: Vec<ValueId>,
    /// Extra liveness: value `v`'s memory stays live through step `s` (the NNAPI partition keeps
    /// a segment's inputs live to the segment's end so no segment output is placed over them).
    pub keep_live: Vec<(ValueId, usize)>,
}

impl Program {
    /// Adds a value.
    pub fn add_value(&mut self, v: Value) -> ValueId {
        self.values.push(v);
        ValueId((self.values.len() - 1) as u32)
    }

    /// The value.
    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id.index()]
    }

    /// Whether a value lives in a caller's buffer (a model input or output).
    pub fn is_external(&self, id: ValueId) -> bool {
        self.values[id.index()].io.is_some()
    }

    /// The value whose memory `id` ultimately lives in, and the byte offset there.
    pub fn root(&self, id: ValueId) -> (ValueId, usize) {
        let mut cur = id;
        let mut offset = 0;
        // Alias chains are acyclic (each alias points to a value created earlier or to a
        // concatenation result); the bound guards against a bug making one cyclic.
        for _ in 0..self.values.len() {
            match self.values[cur.index()].alias {
                Some(a) => {
                    offset += a.offset;
                    cur = a.of;
                }
                None => break,
            }
        }
        (cur, offset)
    }
}

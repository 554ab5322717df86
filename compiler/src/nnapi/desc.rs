//! The NNAPI model description: what `ANeuralNetworksModel_*` calls build, as data.
//!
//! Operand and operation codes are the NDK's (`NeuralNetworksTypes.h`). Operand `i` is the `i`th
//! `addOperand` call; operations are in insertion (topological) order; every operation's input list
//! is the NDK's positional list for that operation (parameters such as strides and padding codes
//! are scalar constant operands). Constant tensors refer to bytes of a weight blob (the program's
//! [`crate::lower::WeightBlob`] for a lowered model), in NNAPI's layout or, for filters the CPU
//! code already holds packed ([`Lifetime::Blocked`]), as a reference to the CPU's copy that the
//! runtime unpacks; small constants (scalars) carry their bytes inline.

use std::borrow::Cow;
use std::fmt;

use crate::lower::WeightRange;
pub use mvcc_kernels::kernels::conv_2d::BlockedLayout;

macro_rules! codes {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $code:literal, $s:literal;)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($(#[$vm])* $v,)* }

        impl $name {
            /// Every variant.
            pub const ALL: &'static [$name] = &[$($name::$v),*];

            /// The NDK's numeric code.
            pub fn code(self) -> i32 {
                match self { $($name::$v => $code,)* }
            }

            /// The NDK's name without the `ANEURALNETWORKS_` prefix.
            pub fn name(self) -> &'static str {
                match self { $($name::$v => $s,)* }
            }

            /// The variant with this numeric code.
            pub fn from_code(code: i32) -> Option<$name> {
                match code { $($code => Some($name::$v),)* _ => None }
            }

            /// The variant with this name (without prefix).
            pub fn from_name(name: &str) -> Option<$name> {
                match name { $($s => Some($name::$v),)* _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

codes! {
    /// `OperandCode`.
    OperandType {
        /// `FLOAT32` scalar.
        Float32 = 0, "FLOAT32";
        /// `INT32` scalar.
        Int32 = 1, "INT32";
        /// `UINT32` scalar.
        Uint32 = 2, "UINT32";
        /// `TENSOR_FLOAT32`.
        TensorFloat32 = 3, "TENSOR_FLOAT32";
        /// `TENSOR_INT32` (biases: scale = input scale × filter scale, zero point 0).
        TensorInt32 = 4, "TENSOR_INT32";
        /// `TENSOR_QUANT8_ASYMM` (uint8).
        TensorQuant8Asymm = 5, "TENSOR_QUANT8_ASYMM";
        /// `BOOL` scalar (API 29).
        Bool = 6, "BOOL";
        /// `TENSOR_QUANT16_SYMM` (API 29).
        TensorQuant16Symm = 7, "TENSOR_QUANT16_SYMM";
        /// `TENSOR_FLOAT16` (API 29).
        TensorFloat16 = 8, "TENSOR_FLOAT16";
        /// `TENSOR_BOOL8` (API 29).
        TensorBool8 = 9, "TENSOR_BOOL8";
        /// `FLOAT16` scalar (API 29).
        Float16 = 10, "FLOAT16";
        /// `TENSOR_QUANT8_SYMM_PER_CHANNEL` (API 29): int8 filters with one scale per channel.
        TensorQuant8SymmPerChannel = 11, "TENSOR_QUANT8_SYMM_PER_CHANNEL";
        /// `TENSOR_QUANT16_ASYMM` (API 29).
        TensorQuant16Asymm = 12, "TENSOR_QUANT16_ASYMM";
        /// `TENSOR_QUANT8_SYMM` (API 29).
        TensorQuant8Symm = 13, "TENSOR_QUANT8_SYMM";
        /// `TENSOR_QUANT8_ASYMM_SIGNED` (API 30): int8.
        TensorQuant8AsymmSigned = 14, "TENSOR_QUANT8_ASYMM_SIGNED";
    }
}

impl OperandType {
    /// Whether the type is a scalar (no dimensions).
    pub fn is_scalar(self) -> bool {
        matches!(
            self,
            OperandType::Float32
                | OperandType::Int32
                | OperandType::Uint32
                | OperandType::Bool
                | OperandType::Float16
        )
    }

    /// Bytes per element.
    pub fn element_size(self) -> usize {
        match self {
            OperandType::Float32
            | OperandType::Int32
            | OperandType::Uint32
            | OperandType::TensorFloat32
            | OperandType::TensorInt32 => 4,
            OperandType::TensorQuant16Symm
            | OperandType::TensorFloat16
            | OperandType::Float16
            | OperandType::TensorQuant16Asymm => 2,
            OperandType::TensorQuant8Asymm
            | OperandType::Bool
            | OperandType::TensorBool8
            | OperandType::TensorQuant8SymmPerChannel
            | OperandType::TensorQuant8Symm
            | OperandType::TensorQuant8AsymmSigned => 1,
        }
    }

    /// The first API level that has the type.
    pub fn min_api(self) -> u32 {
        match self {
            OperandType::Float32
            | OperandType::Int32
            | OperandType::Uint32
            | OperandType::TensorFloat32
            | OperandType::TensorInt32
            | OperandType::TensorQuant8Asymm => 27,
            OperandType::TensorQuant8AsymmSigned => 30,
            _ => 29,
        }
    }
}

codes! {
    /// `OperationCode` (the operations mvcc lowers to or reads; codes from the NDK).
    OperationType {
        /// `ADD`.
        Add = 0, "ADD";
        /// `AVERAGE_POOL_2D`.
        AveragePool2d = 1, "AVERAGE_POOL_2D";
        /// `CONCATENATION`.
        Concatenation = 2, "CONCATENATION";
        /// `CONV_2D`.
        Conv2d = 3, "CONV_2D";
        /// `DEPTHWISE_CONV_2D`.
        DepthwiseConv2d = 4, "DEPTHWISE_CONV_2D";
        /// `DEPTH_TO_SPACE`.
        DepthToSpace = 5, "DEPTH_TO_SPACE";
        /// `DEQUANTIZE`.
        Dequantize = 6, "DEQUANTIZE";
        /// `FULLY_CONNECTED`.
        FullyConnected = 9, "FULLY_CONNECTED";
        /// `LOGISTIC`.
        Logistic = 14, "LOGISTIC";
        /// `MAX_POOL_2D`.
        MaxPool2d = 17, "MAX_POOL_2D";
        /// `MUL`.
        Mul = 18, "MUL";
        /// `RELU`.
        Relu = 19, "RELU";
        /// `RELU1`.
        Relu1 = 20, "RELU1";
        /// `RELU6`.
        Relu6 = 21, "RELU6";
        /// `RESHAPE`.
        Reshape = 22, "RESHAPE";
        /// `RESIZE_BILINEAR`.
        ResizeBilinear = 23, "RESIZE_BILINEAR";
        /// `SOFTMAX`.
        Softmax = 25, "SOFTMAX";
        /// `TANH`.
        Tanh = 28, "TANH";
        /// `MEAN` (API 28).
        Mean = 31, "MEAN";
        /// `PAD` (API 28).
        Pad = 32, "PAD";
        /// `PRELU` (API 29).
        Prelu = 71, "PRELU";
        /// `QUANTIZE` (API 29).
        Quantize = 72, "QUANTIZE";
        /// `HARD_SWISH` (API 30).
        HardSwish = 99, "HARD_SWISH";
    }
}

/// `FuseCode`.
pub mod fuse {
    /// No activation.
    pub const NONE: i32 = 0;
    /// `max(x, 0)`.
    pub const RELU: i32 = 1;
    /// `clamp(x, -1, 1)`.
    pub const RELU1: i32 = 2;
    /// `clamp(x, 0, 6)`.
    pub const RELU6: i32 = 3;
}

/// `PaddingCode` (TFLite's FlatBuffers enum is SAME = 0, VALID = 1: not the same numbers).
pub mod padding {
    /// SAME: output `ceil(in / stride)`, the extra padding at the bottom/right.
    pub const SAME: i32 = 1;
    /// VALID: no padding.
    pub const VALID: i32 = 2;
}

/// Where an operand's data comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Lifetime {
    /// Written by one operation, read by others; NNAPI owns the memory.
    Temporary,
    /// Model input number `n` (position in [`Description::inputs`]).
    Input,
    /// Model output (position in [`Description::outputs`]).
    Output,
    /// A constant held inline (scalars and small tensors), little-endian.
    Inline(Vec<u8>),
    /// A constant in the weight blob, little-endian, in NNAPI's layout.
    Weight(WeightRange),
    /// A constant whose bytes are the CPU code's blocked copy of them in the weight blob: the
    /// value is that copy unpacked ([`Blocked::unpack`]), so a model carries a filter once.
    Blocked(Blocked),
    /// An omitted optional operand (`setOperandValue(…, NULL, 0)`).
    NoValue,
}

/// A filter held in the weight blob in the CPU kernels' blocked layout
/// (`mvcc_kernels::kernels::conv_2d::pack_rows_blocked` / `pack_cols_blocked`). Unpacked, it is
/// row-major `[channels][taps]` (CONV_2D `[Cout, h, w, Cin]`, FULLY_CONNECTED `[units, depth]`)
/// or, with `taps_first`, `[taps][channels]` (DEPTHWISE_CONV_2D `[1, h, w, Cout]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocked {
    /// The blocked copy's bytes.
    pub range: WeightRange,
    /// Its shape.
    pub layout: BlockedLayout,
}

impl Blocked {
    /// The value's bytes, `None` when the range is outside `weights` or does not hold the
    /// blocked layout's size.
    pub fn unpack(&self, weights: &[u8]) -> Option<Vec<u8>> {
        let src = weights.get(self.range.offset..self.range.offset.checked_add(self.range.len)?)?;
        let mut dst = vec![0; self.layout.unpacked_len()?];
        self.layout.unpack(src, &mut dst).then_some(dst)
    }
}

/// Per-channel quantization of a `TENSOR_QUANT8_SYMM_PER_CHANNEL` operand
/// (`ANeuralNetworksSymmPerChannelQuantParams`).
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelQuant {
    /// The quantized dimension.
    pub channel_dim: u32,
    /// One scale per index of that dimension.
    pub scales: Vec<f32>,
}

/// One operand (`ANeuralNetworksOperandType` plus its value).
#[derive(Clone, Debug, PartialEq)]
pub struct Operand {
    /// Name for listings and messages (a tensor name, or a parameter's role such as `stride_w`).
    pub name: String,
    /// Type code.
    pub ty: OperandType,
    /// Dimensions (empty for scalars).
    pub dims: Vec<u32>,
    /// Scale (0 for non-quantized types and per-channel filters' biases).
    pub scale: f32,
    /// Zero point.
    pub zero_point: i32,
    /// Where the data comes from.
    pub lifetime: Lifetime,
    /// Per-channel quantization parameters.
    pub channel_quant: Option<ChannelQuant>,
}

impl Operand {
    /// Number of elements (1 for scalars).
    pub fn num_elements(&self) -> usize {
        self.dims.iter().map(|&d| d as usize).product()
    }

    /// Size in bytes of the data.
    pub fn byte_len(&self) -> usize {
        self.num_elements() * self.ty.element_size()
    }

    /// Whether the operand is a constant.
    pub fn is_const(&self) -> bool {
        matches!(
            self.lifetime,
            Lifetime::Inline(_) | Lifetime::Weight(_) | Lifetime::Blocked(_)
        )
    }

    /// The constant's bytes (inline, from `weights`, or unpacked from `weights`).
    pub fn const_bytes<'a>(&'a self, weights: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        match &self.lifetime {
            Lifetime::Inline(b) => Some(Cow::Borrowed(b)),
            Lifetime::Weight(r) => weights
                .get(r.offset..r.offset.checked_add(r.len)?)
                .map(Cow::Borrowed),
            Lifetime::Blocked(b) => b.unpack(weights).map(Cow::Owned),
            _ => None,
        }
    }

    /// The value of an `INT32` scalar constant.
    pub fn scalar_i32(&self, weights: &[u8]) -> Option<i32> {
        let b = self.const_bytes(weights)?;
        (self.ty == OperandType::Int32 && b.len() == 4)
            .then(|| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The value of a `FLOAT32` scalar constant.
    pub fn scalar_f32(&self, weights: &[u8]) -> Option<f32> {
        let b = self.const_bytes(weights)?;
        (self.ty == OperandType::Float32 && b.len() == 4)
            .then(|| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The value of a `BOOL` scalar constant.
    pub fn scalar_bool(&self, weights: &[u8]) -> Option<bool> {
        let b = self.const_bytes(weights)?;
        (self.ty == OperandType::Bool && b.len() == 1).then(|| b[0] != 0)
    }
}

/// One operation (`ANeuralNetworksModel_addOperation`).
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// Operation code.
    pub ty: OperationType,
    /// Operand indices, in the NDK's positional order.
    pub inputs: Vec<u32>,
    /// Result operand indices.
    pub outputs: Vec<u32>,
}

/// A whole NNAPI model.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Description {
    /// The API level the description needs (27 = NNAPI 1.0, … 30 = 1.3, 31 = feature level 5).
    pub api_level: u32,
    /// Operands, in `addOperand` order.
    pub operands: Vec<Operand>,
    /// Operations, in `addOperation` (topological) order.
    pub operations: Vec<Operation>,
    /// `identifyInputsAndOutputs` inputs.
    pub inputs: Vec<u32>,
    /// `identifyInputsAndOutputs` outputs.
    pub outputs: Vec<u32>,
}

impl Description {
    /// Adds an operand and returns its index.
    pub fn add_operand(&mut self, o: Operand) -> u32 {
        self.operands.push(o);
        (self.operands.len() - 1) as u32
    }

    /// Adds an `INT32` scalar constant.
    pub fn int32(&mut self, name: &str, v: i32) -> u32 {
        self.scalar(name, OperandType::Int32, v.to_le_bytes().to_vec())
    }

    /// Adds a `FLOAT32` scalar constant.
    pub fn float32(&mut self, name: &str, v: f32) -> u32 {
        self.scalar(name, OperandType::Float32, v.to_le_bytes().to_vec())
    }

    /// Adds a `BOOL` scalar constant.
    pub fn bool(&mut self, name: &str, v: bool) -> u32 {
        self.scalar(name, OperandType::Bool, vec![u8::from(v)])
    }

    fn scalar(&mut self, name: &str, ty: OperandType, bytes: Vec<u8>) -> u32 {
        self.add_operand(Operand {
            name: name.to_string(),
            ty,
            dims: Vec::new(),
            scale: 0.0,
            zero_point: 0,
            lifetime: Lifetime::Inline(bytes),
            channel_quant: None,
        })
    }

    /// The operand at `i`, if it exists.
    pub fn operand(&self, i: u32) -> Option<&Operand> {
        self.operands.get(i as usize)
    }
}

/// Where the bytes of a segment's model input or output live while the compiled model runs: the
/// same places the CPU code uses, so NNAPI and CPU segments hand tensors to each other through
/// memory the CPU plan already reserves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Bytes of the arena.
    Arena {
        /// Byte offset.
        offset: usize,
        /// Length in bytes.
        len: usize,
    },
    /// Bytes of the caller's buffer for model input `index`.
    ModelInput {
        /// Model input number.
        index: usize,
        /// Byte offset in that buffer.
        offset: usize,
        /// Length in bytes.
        len: usize,
    },
    /// Bytes of the caller's buffer for model output `index`.
    ModelOutput {
        /// Model output number.
        index: usize,
        /// Byte offset in that buffer.
        offset: usize,
        /// Length in bytes.
        len: usize,
    },
}

/// One segment of a partitioned model: a run of consecutive program steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// The program steps it covers, `first..end` (its CPU code, also the fallback).
    pub steps: std::ops::Range<usize>,
    /// What runs it.
    pub kind: SegmentKind,
}

/// What runs a segment.
#[derive(Clone, Debug, PartialEq)]
pub enum SegmentKind {
    /// mvcc's CPU code.
    Cpu,
    /// An NNAPI model. `inputs[k]` is where `desc.inputs[k]`'s bytes are read from, `outputs[k]`
    /// where `desc.outputs[k]`'s are written. No output place overlaps an input place or another
    /// output place (the CPU plan keeps the segment's inputs live to its end).
    Nnapi {
        /// The model.
        desc: Description,
        /// Places of the model inputs.
        inputs: Vec<Place>,
        /// Places of the model outputs.
        outputs: Vec<Place>,
    },
}

/// A whole model as NNAPI and CPU segments, in schedule order, covering every step once.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Partition {
    /// The API level the NNAPI segments need (the maximum of theirs).
    pub api_level: u32,
    /// Segments in order.
    pub segments: Vec<Segment>,
    /// Number of program steps.
    pub steps: usize,
}

//! The interface every model compiled by mvcc implements: its inputs' and outputs' metadata and a
//! run on raw little-endian byte buffers, so tools can drive any generated model.

use core::fmt;

/// The element type of a model input or output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementType {
    /// IEEE 754 binary32.
    F32,
    /// Signed 8-bit integer.
    I8,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 16-bit integer.
    I16,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer.
    I64,
    /// Boolean, one byte (0 or 1).
    Bool,
}

impl ElementType {
    /// Bytes per element.
    pub const fn size(self) -> usize {
        match self {
            ElementType::F32 | ElementType::I32 => 4,
            ElementType::I16 => 2,
            ElementType::I8 | ElementType::U8 | ElementType::Bool => 1,
            ElementType::I64 => 8,
        }
    }

    /// The short name (`f32`, `i8`, …).
    pub const fn name(self) -> &'static str {
        match self {
            ElementType::F32 => "f32",
            ElementType::I8 => "i8",
            ElementType::U8 => "u8",
            ElementType::I16 => "i16",
            ElementType::I32 => "i32",
            ElementType::I64 => "i64",
            ElementType::Bool => "bool",
        }
    }
}

/// Affine quantization of a model input or output: `real = scale · (q − zero_point)`, one pair
/// per tensor or one per channel along `axis`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantization {
    /// Scales (one, or one per channel).
    pub scale: &'static [f32],
    /// Zero points (as many as scales).
    pub zero_point: &'static [i64],
    /// The channel axis for per-channel quantization.
    pub axis: usize,
}

/// A model input or output.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TensorInfo {
    /// The tensor's name in the `.tflite` file.
    pub name: &'static str,
    /// Element type.
    pub dtype: ElementType,
    /// Static shape.
    pub shape: &'static [usize],
    /// Quantization, if any.
    pub quant: Option<Quantization>,
}

impl TensorInfo {
    /// Number of elements.
    pub const fn len(&self) -> usize {
        let mut n = 1;
        let mut i = 0;
        while i < self.shape.len() {
            n *= self.shape[i];
            i += 1;
        }
        n
    }

    /// Whether the tensor has no elements.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size in bytes.
    pub const fn bytes(&self) -> usize {
        self.len() * self.dtype.size()
    }
}

/// Why a run failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunError {
    /// The number of input buffers is wrong.
    InputCount {
        /// Inputs of the model.
        expected: usize,
        /// Buffers given.
        got: usize,
    },
    /// The number of output buffers is wrong.
    OutputCount {
        /// Outputs of the model.
        expected: usize,
        /// Buffers given.
        got: usize,
    },
    /// An input buffer has the wrong size or alignment.
    Input {
        /// Which input.
        index: usize,
        /// Its size in bytes.
        expected: usize,
        /// The buffer's size in bytes.
        got: usize,
    },
    /// An output buffer has the wrong size or alignment.
    Output {
        /// Which output.
        index: usize,
        /// Its size in bytes.
        expected: usize,
        /// The buffer's size in bytes.
        got: usize,
    },
    /// The arena has the wrong size or alignment (64 bytes).
    Arena {
        /// The model's arena size in bytes.
        expected: usize,
        /// The buffer's size in bytes.
        got: usize,
    },
    /// A kernel refused its data (an index out of range, an integer division by zero).
    Kernel {
        /// The TFLite operator index the step came from.
        operator: u32,
        /// The TFLite op name.
        op: &'static str,
        /// What went wrong.
        message: &'static str,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RunError::InputCount { expected, got } => {
                write!(f, "the model has {expected} inputs, {got} buffers were given")
            }
            RunError::OutputCount { expected, got } => {
                write!(f, "the model has {expected} outputs, {got} buffers were given")
            }
            RunError::Input {
                index,
                expected,
                got,
            } => write!(
                f,
                "input {index} must be {expected} bytes, aligned for its element type; got {got} bytes"
            ),
            RunError::Output {
                index,
                expected,
                got,
            } => write!(
                f,
                "output {index} must be {expected} bytes, aligned for its element type; got {got} bytes"
            ),
            RunError::Arena { expected, got } => write!(
                f,
                "the arena must be {expected} bytes, aligned to 64; got {got} bytes"
            ),
            RunError::Kernel {
                operator,
                op,
                message,
            } => write!(f, "{op} (operator {operator}): {message}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RunError {}

/// A model compiled by mvcc.
///
/// Generated model types implement it; the typed `run` the generated code also offers is the
/// convenient way to call one model, this trait the way to drive any.
pub trait CompiledModel {
    /// The model's name (its file stem, sanitized).
    fn name(&self) -> &'static str;
    /// The inputs, in order.
    fn inputs(&self) -> &'static [TensorInfo];
    /// The outputs, in order.
    fn outputs(&self) -> &'static [TensorInfo];
    /// Size of the arena the model runs in, in bytes.
    fn arena_bytes(&self) -> usize;
    /// Runs the model on little-endian input bytes, writing little-endian output bytes. Each
    /// buffer must be exactly its tensor's size and aligned for its element type.
    ///
    /// # Errors
    /// Wrong buffer counts, sizes or alignment; a kernel that refuses its data.
    fn run_bytes(&mut self, inputs: &[&[u8]], outputs: &mut [&mut [u8]]) -> Result<(), RunError>;
}

/// Checks buffer counts, sizes and alignment against the model's tensors (for generated
/// `run_bytes`).
///
/// # Errors
/// The first mismatch.
pub fn check_buffers(
    inputs: &[&[u8]],
    outputs: &[&mut [u8]],
    input_info: &[TensorInfo],
    output_info: &[TensorInfo],
) -> Result<(), RunError> {
    if inputs.len() != input_info.len() {
        return Err(RunError::InputCount {
            expected: input_info.len(),
            got: inputs.len(),
        });
    }
    if outputs.len() != output_info.len() {
        return Err(RunError::OutputCount {
            expected: output_info.len(),
            got: outputs.len(),
        });
    }
    let ok = |b: &[u8], t: &TensorInfo| {
        b.len() == t.bytes() && (b.as_ptr() as usize).is_multiple_of(t.dtype.size().max(1))
    };
    for (index, (b, t)) in inputs.iter().zip(input_info).enumerate() {
        if !ok(b, t) {
            return Err(RunError::Input {
                index,
                expected: t.bytes(),
                got: b.len(),
            });
        }
    }
    for (index, (b, t)) in outputs.iter().zip(output_info).enumerate() {
        if !ok(b, t) {
            return Err(RunError::Output {
                index,
                expected: t.bytes(),
                got: b.len(),
            });
        }
    }
    Ok(())
}

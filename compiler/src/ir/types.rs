//! Element types, shapes and quantization parameters of IR tensors.

use std::fmt;

/// Element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DType {
    /// IEEE 754 binary32.
    F32,
    /// IEEE 754 binary16 (constant weights only; dequantized at compile time).
    F16,
    /// Signed 8-bit integer (int8 quantization).
    I8,
    /// Unsigned 8-bit integer (legacy uint8 quantization).
    U8,
    /// Signed 16-bit integer.
    I16,
    /// Signed 32-bit integer (biases, indices, shapes).
    I32,
    /// Signed 64-bit integer (indices, shapes).
    I64,
    /// Boolean, one byte per element (0 or 1).
    Bool,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
            DType::I64 => 8,
        }
    }

    /// The short name used in the text form and the CLI (`f32`, `i8`, …).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::I16 => "i16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::Bool => "bool",
        }
    }

    /// Whether values of this type are usually quantized (carry a scale and zero point).
    pub fn is_quantized_int(self) -> bool {
        matches!(self, DType::I8 | DType::U8 | DType::I16)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A static shape: every dimension known at compile time.
pub type Shape = Vec<usize>;

/// Number of elements of a shape (1 for a scalar).
pub fn num_elements(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Affine quantization `r = scale · (q − zero_point)`, per tensor or per axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Quant {
    /// One scale per tensor, or one per index of `axis`.
    pub scale: Vec<f32>,
    /// Same length as `scale`.
    pub zero_point: Vec<i64>,
    /// The quantized dimension for per-axis quantization (ignored when `scale.len() == 1`).
    pub axis: usize,
}

impl Quant {
    /// Per-tensor parameters.
    pub fn per_tensor(scale: f32, zero_point: i64) -> Quant {
        Quant {
            scale: vec![scale],
            zero_point: vec![zero_point],
            axis: 0,
        }
    }

    /// Whether there is one scale per index of `axis` (more than one scale).
    pub fn is_per_axis(&self) -> bool {
        self.scale.len() > 1
    }
}

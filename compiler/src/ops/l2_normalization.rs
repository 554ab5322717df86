//! L2_NORMALIZATION over the last axis: shape rule and reference evaluation (TFLite's
//! `l2norm.cc`).
//!
//! float32, int8 and uint8. Quantized outputs must have scale exactly 1/128 and zero point 0
//! (int8) or 128 (uint8), as TFLite's `Prepare` requires; a fused activation other than NONE is
//! rejected by the importer.

use mvcc_kernels::kernels::l2_normalization::{
    l2_normalization_f32, l2_normalization_i8, l2_normalization_u8, L2NormalizationParams,
};

use super::{EvalCx, InferCx, Lowered};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{DType, Shape};
use crate::lower::{LowerCx, Step};
use crate::rust::step::StepCx;

/// L2_NORMALIZATION's kernel parameters, checked as TFLite's `Prepare` does.
///
/// # Errors
/// A scalar input, unsupported types, or a quantized output not at scale 1/128.
pub fn l2_normalization_params(cx: &InferCx<'_>) -> Result<L2NormalizationParams> {
    cx.arity(1, 1, 1)?;
    let input = cx.input(0)?;
    let output = cx.output(0)?;
    let Some(&depth) = input.shape.last() else {
        return Err(cx.err("input must have rank 1 or more"));
    };
    if !matches!(input.dtype, DType::F32 | DType::I8 | DType::U8) {
        return Err(cx.unsupported(format!("input type {}", input.dtype)));
    }
    if output.dtype != input.dtype {
        return Err(cx.err(format!(
            "output type {} differs from input type {}",
            output.dtype, input.dtype
        )));
    }
    let outer = input.num_elements().checked_div(depth).unwrap_or(0);
    let mut input_zero_point = 0;
    if input.dtype != DType::F32 {
        let (_, z_in) = cx.per_tensor_quant(input)?;
        let (s_out, z_out) = cx.per_tensor_quant(output)?;
        let want_z = if input.dtype == DType::U8 { 128 } else { 0 };
        if f64::from(s_out) != 1.0 / 128.0 || z_out != want_z {
            return Err(cx.err(format!(
                "quantized output must have scale 1/128 and zero point {want_z}, has ({s_out}, {z_out})"
            )));
        }
        input_zero_point = z_in;
    }
    Ok(L2NormalizationParams {
        outer,
        depth,
        input_zero_point,
    })
}

/// L2_NORMALIZATION: the output has the input's shape.
pub fn infer_l2_normalization(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    l2_normalization_params(cx)?;
    Ok(vec![cx.input(0)?.shape.clone()])
}

/// L2_NORMALIZATION's kernel. The result may overwrite the input: each row's norm is computed
/// before any element of the row is written, and element `i` is written only after input
/// element `i` was read.
///
/// # Errors
/// As [`l2_normalization_params`].
pub fn plan_l2_normalization(cx: &InferCx<'_>) -> Result<Lowered<Kernel>> {
    let p = l2_normalization_params(cx)?;
    let kernel = match cx.input(0)?.dtype {
        DType::F32 => Kernel::F32(p),
        DType::U8 => Kernel::U8(p),
        _ => Kernel::I8(p),
    };
    let mut l = Lowered::new(kernel);
    l.in_place = Some(0);
    Ok(l)
}

/// Runs L2_NORMALIZATION with the reference kernels (the lowered kernel on the op's values).
pub fn eval_l2_normalization(cx: &mut EvalCx<'_>) -> Result<()> {
    plan_l2_normalization(&cx.infer_cx())?.eval(cx, Kernel::exec)
}

/// Lowers L2_NORMALIZATION to one step.
///
/// # Errors
/// As [`l2_normalization_params`].
pub fn lower_l2_normalization(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let l = plan_l2_normalization(&cx.icx)?;
    Ok(vec![l.into_step(cx, crate::lower::Kernel::L2Normalization)?])
}

/// The `l2_normalization` family's kernels, by element type.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// float32.
    F32(L2NormalizationParams),
    /// int8 (output scale 1/128, zero point 0).
    I8(L2NormalizationParams),
    /// uint8 (output scale 1/128, zero point 128).
    U8(L2NormalizationParams),
}

fn run<T: bytemuck::Pod>(
    io: &mut StepIo<'_>,
    p: &L2NormalizationParams,
    f: impl FnOnce(&L2NormalizationParams, &[T], &mut [T]),
) -> Result<()> {
    let n = p.outer * p.depth;
    let x = io.input::<T>(0)?;
    if x.len() != n || io.output::<T>(0)?.len() != n {
        return Err(io.err("operand sizes do not match the kernel"));
    }
    f(p, x, io.output::<T>(0)?);
    Ok(())
}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::F32(_) => "l2_normalization_f32",
            Kernel::I8(_) => "l2_normalization_i8",
            Kernel::U8(_) => "l2_normalization_u8",
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::F32(p) => run(io, p, l2_normalization_f32),
            Kernel::I8(p) => run(io, p, l2_normalization_i8),
            Kernel::U8(p) => run(io, p, l2_normalization_u8),
        }
    }
}

impl Kernel {
    /// Writes the step's Rust code: the call [`Kernel::exec`] makes.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        let (ty, p, f) = match self {
            Kernel::F32(p) => ("f32", p, "l2_normalization_f32"),
            Kernel::I8(p) => ("i8", p, "l2_normalization_i8"),
            Kernel::U8(p) => ("u8", p, "l2_normalization_u8"),
        };
        let n = p.outer * p.depth;
        let x = cx.input(0, ty)?;
        let y = cx.output(0, ty)?;
        if x.len != n || y.len != n {
            return Err(cx.err("operand sizes do not match the kernel"));
        }
        let params = cx.param("params", p);
        cx.call(
            &format!("k::l2_normalization::{f}"),
            &[format!("&{params}"), x.expr, y.expr],
        );
        Ok(())
    }
}

#[cfg(feature = "cranelift")]
#[path = "l2_normalization_clif.rs"]
mod clif;

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code (`l2_normalization_clif.rs`).
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        clif::emit(self, cx)
    }
}

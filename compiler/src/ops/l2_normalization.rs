//! L2_NORMALIZATION over the last axis: shape rule and reference evaluation (TFLite's
//! `l2norm.cc`).
//!
//! float32, int8 and uint8. Quantized outputs must have scale exactly 1/128 and zero point 0
//! (int8) or 128 (uint8), as TFLite's `Prepare` requires; a fused activation other than NONE is
//! rejected by the importer.

use mvcc_runtime::kernels::l2_normalization::{
    l2_normalization_f32, l2_normalization_i8, l2_normalization_u8, L2NormalizationParams,
};

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{DType, Shape};

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

/// Runs L2_NORMALIZATION with the reference kernels.
pub fn eval_l2_normalization(cx: &mut EvalCx<'_>) -> Result<()> {
    let p = l2_normalization_params(&cx.infer_cx())?;
    let n = p.outer * p.depth;
    if cx.in_tensor(0)?.num_elements() != n || cx.out_tensor(0)?.num_elements() != n {
        return Err(cx.err("operand sizes do not match the shape rule"));
    }
    match cx.in_tensor(0)?.dtype {
        DType::F32 => {
            let x = cx.input::<f32>(0)?;
            l2_normalization_f32(&p, x, cx.output::<f32>(0)?);
        }
        DType::U8 => {
            let x = cx.input::<u8>(0)?;
            l2_normalization_u8(&p, x, cx.output::<u8>(0)?);
        }
        _ => {
            let x = cx.input::<i8>(0)?;
            l2_normalization_i8(&p, x, cx.output::<i8>(0)?);
        }
    }
    Ok(())
}

/// Lowers L2Normalization (transitional: evaluated from the graph).
pub fn lower_l2_normalization(cx: &mut crate::lower::LowerCx<'_>) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}


/// The `l2_normalization` family's kernels, each with its parameters (filled in as the family is lowered).
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match *self {}
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn exec(&self, _io: &mut crate::interp::StepIo<'_>) -> Result<()> {
        match *self {}
    }
}

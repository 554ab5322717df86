//! AVERAGE_POOL_2D and MAX_POOL_2D: shape rule and reference evaluation (TFLite's
//! `pooling.cc`).
//!
//! Output size and padding as for a convolution with dilation 1 (`ComputePaddingHeightWidth`).
//! Quantized pools (int8, uint8, int16) compute in the input's integer domain; TFLite expects the
//! output to share the input's scale and zero point but only checks it in debug builds, so a
//! mismatch is not rejected here either. The fused activation is clamped with the output's scale
//! and zero point.

use mvcc_runtime::kernels::common::ActQ;
use mvcc_runtime::kernels::pool_2d::{
    average_pool_2d_f32, average_pool_2d_q, max_pool_2d_f32, max_pool_2d_q, Pool2dParams,
};

use super::conv_2d::{out_size, pad_before};
use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{Activation, DType, Pool2dAttrs, Shape};
use crate::quant::{act_f32, act_q};

/// A pool's kernel parameters, computed as TFLite's `GenericPrepare` does.
///
/// # Errors
/// Input not of rank 4, a window that does not fit, unsupported types or activations.
pub fn pool_2d_params(cx: &InferCx<'_>, a: &Pool2dAttrs) -> Result<Pool2dParams> {
    cx.arity(1, 1, 1)?;
    let input = cx.input(0)?;
    let output = cx.output(0)?;
    let [batches, in_h, in_w, channels] = input.shape[..] else {
        return Err(cx.err(format!(
            "input must have rank 4, has shape {:?}",
            input.shape
        )));
    };
    if !matches!(input.dtype, DType::F32 | DType::I8 | DType::U8 | DType::I16) {
        return Err(cx.unsupported(format!("input type {}", input.dtype)));
    }
    if output.dtype != input.dtype {
        return Err(cx.err(format!(
            "output type {} differs from input type {}",
            output.dtype, input.dtype
        )));
    }
    if a.act == Activation::Tanh {
        return Err(cx.unsupported("fused TANH activation"));
    }
    let mut out = [0usize; 2];
    let mut pad = [0usize; 2];
    let image = [in_h, in_w];
    for axis in 0..2 {
        let (f, s) = (a.filter[axis], a.stride[axis]);
        out[axis] = out_size(a.padding, image[axis], f, s, 1).ok_or_else(|| {
            cx.err(format!(
                "filter {f} with stride {s} does not fit input size {}",
                image[axis]
            ))
        })?;
        pad[axis] = pad_before(s, 1, image[axis], f, out[axis]);
        // TFLite fails at run time on a window entirely in the padding.
        if pad[axis] >= f {
            return Err(cx.err("a pooling window lies entirely in the padding"));
        }
    }
    Ok(Pool2dParams {
        batches,
        in_h,
        in_w,
        channels,
        out_h: out[0],
        out_w: out[1],
        filter: a.filter,
        stride: a.stride,
        pad,
    })
}

/// The output's quantized activation clamp.
fn quant_act(cx: &InferCx<'_>, a: &Pool2dAttrs) -> Result<ActQ> {
    let output = cx.output(0)?;
    let (s, z) = cx.per_tensor_quant(output)?;
    Ok(act_q(a.act, output.dtype, s, z))
}

fn infer(cx: &InferCx<'_>, a: &Pool2dAttrs) -> Result<Vec<Shape>> {
    let p = pool_2d_params(cx, a)?;
    if cx.input(0)?.dtype != DType::F32 {
        quant_act(cx, a)?;
    }
    Ok(vec![vec![p.batches, p.out_h, p.out_w, p.channels]])
}

/// AVERAGE_POOL_2D: `[N, H, W, C] → [N, Ho, Wo, C]`.
pub fn infer_average_pool_2d(cx: &InferCx<'_>, a: &Pool2dAttrs) -> Result<Vec<Shape>> {
    infer(cx, a)
}

/// MAX_POOL_2D: `[N, H, W, C] → [N, Ho, Wo, C]`.
pub fn infer_max_pool_2d(cx: &InferCx<'_>, a: &Pool2dAttrs) -> Result<Vec<Shape>> {
    infer(cx, a)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Average,
    Max,
}

fn eval(cx: &mut EvalCx<'_>, a: &Pool2dAttrs, kind: Kind) -> Result<()> {
    let icx = cx.infer_cx();
    let p = pool_2d_params(&icx, a)?;
    if cx.in_tensor(0)?.num_elements() != p.input_len()
        || cx.out_tensor(0)?.num_elements() != p.output_len()
    {
        return Err(cx.err("operand sizes do not match the shape rule"));
    }
    let dtype = cx.in_tensor(0)?.dtype;
    if dtype == DType::F32 {
        let act = act_f32(a.act);
        let x = cx.input::<f32>(0)?;
        let y = cx.output::<f32>(0)?;
        match kind {
            Kind::Average => average_pool_2d_f32(&p, act, x, y),
            Kind::Max => max_pool_2d_f32(&p, act, x, y),
        }
        return Ok(());
    }
    let act = quant_act(&icx, a)?;
    match dtype {
        DType::I8 => {
            let x = cx.input::<i8>(0)?;
            let y = cx.output::<i8>(0)?;
            match kind {
                Kind::Average => average_pool_2d_q(&p, act, x, y),
                Kind::Max => max_pool_2d_q(&p, act, x, y),
            }
        }
        DType::U8 => {
            let x = cx.input::<u8>(0)?;
            let y = cx.output::<u8>(0)?;
            match kind {
                Kind::Average => average_pool_2d_q(&p, act, x, y),
                Kind::Max => max_pool_2d_q(&p, act, x, y),
            }
        }
        _ => {
            let x = cx.input::<i16>(0)?;
            let y = cx.output::<i16>(0)?;
            match kind {
                Kind::Average => average_pool_2d_q(&p, act, x, y),
                Kind::Max => max_pool_2d_q(&p, act, x, y),
            }
        }
    }
    Ok(())
}

/// Runs AVERAGE_POOL_2D with the reference kernels.
pub fn eval_average_pool_2d(cx: &mut EvalCx<'_>, a: &Pool2dAttrs) -> Result<()> {
    eval(cx, a, Kind::Average)
}

/// Runs MAX_POOL_2D with the reference kernels.
pub fn eval_max_pool_2d(cx: &mut EvalCx<'_>, a: &Pool2dAttrs) -> Result<()> {
    eval(cx, a, Kind::Max)
}

/// Lowers AveragePool2d (transitional: evaluated from the graph).
pub fn lower_average_pool_2d(cx: &mut crate::lower::LowerCx<'_>, _a: &crate::ir::Pool2dAttrs) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}

/// Lowers MaxPool2d (transitional: evaluated from the graph).
pub fn lower_max_pool_2d(cx: &mut crate::lower::LowerCx<'_>, _a: &crate::ir::Pool2dAttrs) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}


/// The `pool_2d` family's kernels, each with its parameters (filled in as the family is lowered).
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

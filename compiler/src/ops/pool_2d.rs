//! AVERAGE_POOL_2D and MAX_POOL_2D: shape rule and reference evaluation (TFLite's
//! `pooling.cc`).
//!
//! Output size and padding as for a convolution with dilation 1 (`ComputePaddingHeightWidth`).
//! Quantized pools (int8, uint8, int16) compute in the input's integer domain; TFLite expects the
//! output to share the input's scale and zero point but only checks it in debug builds, so a
//! mismatch is not rejected here either. The fused activation is clamped with the output's scale
//! and zero point. Explicit padding (no TFLite option writes it; NNAPI's explicit form does)
//! gives `(in + before + after − filter) / stride + 1` windows, padded cells left out as SAME's are.

use mvcc_kernels::kernels::common::{ActF32, ActQ};
use mvcc_kernels::kernels::pool_2d::{
    average_pool_2d_f32, average_pool_2d_q, max_pool_2d_f32, max_pool_2d_q, Pool2dParams,
};

use super::conv_2d::{axis_window, out_size, pad_before};
use super::{EvalCx, InferCx, Lowered};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{Activation, DType, Pool2dAttrs, Shape};
use crate::lower::{LowerCx, Step};
use crate::quant::{act_f32, act_q};
use crate::rust::step::{rust_type, StepCx};

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
        let fit_err = || {
            cx.err(format!(
                "filter {f} with stride {s} does not fit input size {}",
                image[axis]
            ))
        };
        if let Some([before, _]) = a.padding.explicit(axis) {
            // Explicit amounts (NNAPI's explicit padding): padded cells are left out of the
            // window, as SAME's are.
            let (o, _) = axis_window(a.padding, axis, image[axis], f, s, 1).ok_or_else(fit_err)?;
            out[axis] = o;
            pad[axis] = before;
            // The last window must reach into the input too.
            if (o - 1) * s >= image[axis] + before {
                return Err(cx.err("a pooling window lies entirely in the padding"));
            }
        } else {
            out[axis] = out_size(a.padding, image[axis], f, s, 1).ok_or_else(fit_err)?;
            pad[axis] = pad_before(s, 1, image[axis], f, out[axis]);
        }
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

/// A pool's kernel, parameters computed once.
fn plan(cx: &InferCx<'_>, a: &Pool2dAttrs, kind: Kind) -> Result<Lowered<Kernel>> {
    let params = pool_2d_params(cx, a)?;
    let dtype = cx.input(0)?.dtype;
    let kernel = if dtype == DType::F32 {
        let act = act_f32(a.act);
        match kind {
            Kind::Average => Kernel::AverageF32 { params, act },
            Kind::Max => Kernel::MaxF32 { params, act },
        }
    } else {
        let act = quant_act(cx, a)?;
        match kind {
            Kind::Average => Kernel::AverageQ { dtype, params, act },
            Kind::Max => Kernel::MaxQ { dtype, params, act },
        }
    };
    Ok(Lowered::new(kernel))
}

/// AVERAGE_POOL_2D's kernel.
///
/// # Errors
/// As [`pool_2d_params`].
pub fn plan_average_pool_2d(cx: &InferCx<'_>, a: &Pool2dAttrs) -> Result<Lowered<Kernel>> {
    plan(cx, a, Kind::Average)
}

/// MAX_POOL_2D's kernel.
///
/// # Errors
/// As [`pool_2d_params`].
pub fn plan_max_pool_2d(cx: &InferCx<'_>, a: &Pool2dAttrs) -> Result<Lowered<Kernel>> {
    plan(cx, a, Kind::Max)
}

/// Runs AVERAGE_POOL_2D with the reference kernels (the lowered kernel on the op's values).
pub fn eval_average_pool_2d(cx: &mut EvalCx<'_>, a: &Pool2dAttrs) -> Result<()> {
    plan_average_pool_2d(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// Runs MAX_POOL_2D with the reference kernels.
pub fn eval_max_pool_2d(cx: &mut EvalCx<'_>, a: &Pool2dAttrs) -> Result<()> {
    plan_max_pool_2d(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// Lowers AVERAGE_POOL_2D to one step.
///
/// # Errors
/// As [`pool_2d_params`].
pub fn lower_average_pool_2d(cx: &mut LowerCx<'_>, a: &Pool2dAttrs) -> Result<Vec<Step>> {
    let l = plan_average_pool_2d(&cx.icx, a)?;
    Ok(vec![l.into_step(cx, crate::lower::Kernel::Pool2d)?])
}

/// Lowers MAX_POOL_2D to one step.
///
/// # Errors
/// As [`pool_2d_params`].
pub fn lower_max_pool_2d(cx: &mut LowerCx<'_>, a: &Pool2dAttrs) -> Result<Vec<Step>> {
    let l = plan_max_pool_2d(&cx.icx, a)?;
    Ok(vec![l.into_step(cx, crate::lower::Kernel::Pool2d)?])
}

/// The `pool_2d` family's kernels; operand the input, result the output.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// Float AVERAGE_POOL_2D.
    AverageF32 {
        /// Window geometry.
        params: Pool2dParams,
        /// Fused activation clamp.
        act: ActF32,
    },
    /// Quantized AVERAGE_POOL_2D.
    AverageQ {
        /// `I8`, `U8` or `I16`.
        dtype: DType,
        /// Window geometry.
        params: Pool2dParams,
        /// Fused activation clamp in the output's integer domain.
        act: ActQ,
    },
    /// Float MAX_POOL_2D.
    MaxF32 {
        /// Window geometry.
        params: Pool2dParams,
        /// Fused activation clamp.
        act: ActF32,
    },
    /// Quantized MAX_POOL_2D.
    MaxQ {
        /// `I8`, `U8` or `I16`.
        dtype: DType,
        /// Window geometry.
        params: Pool2dParams,
        /// Fused activation clamp in the output's integer domain.
        act: ActQ,
    },
}

/// Operand 0 and result 0 as `T`, checked against the geometry.
fn run<T: bytemuck::Pod>(
    io: &mut StepIo<'_>,
    p: &Pool2dParams,
    f: impl FnOnce(&[T], &mut [T]),
) -> Result<()> {
    let x = io.input::<T>(0)?;
    if x.len() != p.input_len() || io.output::<T>(0)?.len() != p.output_len() {
        return Err(io.err("operand sizes do not match the kernel"));
    }
    f(x, io.output::<T>(0)?);
    Ok(())
}

fn run_q(io: &mut StepIo<'_>, dtype: DType, p: &Pool2dParams, act: ActQ, kind: Kind) -> Result<()> {
    macro_rules! go {
        ($t:ty) => {
            run::<$t>(io, p, |x, y| match kind {
                Kind::Average => average_pool_2d_q(p, act, x, y),
                Kind::Max => max_pool_2d_q(p, act, x, y),
            })
        };
    }
    match dtype {
        DType::I8 => go!(i8),
        DType::U8 => go!(u8),
        DType::I16 => go!(i16),
        t => Err(io.err(format!("no pooling kernel for {t}"))),
    }
}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::AverageF32 { .. } => "average_pool_2d_f32",
            Kernel::AverageQ { dtype, .. } => match dtype {
                DType::U8 => "average_pool_2d_u8",
                DType::I16 => "average_pool_2d_i16",
                _ => "average_pool_2d_i8",
            },
            Kernel::MaxF32 { .. } => "max_pool_2d_f32",
            Kernel::MaxQ { dtype, .. } => match dtype {
                DType::U8 => "max_pool_2d_u8",
                DType::I16 => "max_pool_2d_i16",
                _ => "max_pool_2d_i8",
            },
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::AverageF32 { params, act } => {
                run::<f32>(io, params, |x, y| average_pool_2d_f32(params, *act, x, y))
            }
            Kernel::MaxF32 { params, act } => {
                run::<f32>(io, params, |x, y| max_pool_2d_f32(params, *act, x, y))
            }
            Kernel::AverageQ { dtype, params, act } => {
                run_q(io, *dtype, params, *act, Kind::Average)
            }
            Kernel::MaxQ { dtype, params, act } => run_q(io, *dtype, params, *act, Kind::Max),
        }
    }
}

impl Kernel {
    /// Writes the step's Rust code: the call [`Kernel::exec`] makes.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters; an element type with no pooling kernel.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        let (ty, params, path, act) = match self {
            Kernel::AverageF32 { params, act } => {
                ("f32", params, "average_pool_2d_f32", cx.param("act", act))
            }
            Kernel::MaxF32 { params, act } => {
                ("f32", params, "max_pool_2d_f32", cx.param("act", act))
            }
            Kernel::AverageQ { dtype, params, act } => (
                rust_type(*dtype),
                params,
                "average_pool_2d_q",
                cx.param("act", act),
            ),
            Kernel::MaxQ { dtype, params, act } => (
                rust_type(*dtype),
                params,
                "max_pool_2d_q",
                cx.param("act", act),
            ),
        };
        if let Kernel::AverageQ { dtype, .. } | Kernel::MaxQ { dtype, .. } = self {
            if !matches!(dtype, DType::I8 | DType::U8 | DType::I16) {
                return Err(cx.err(format!("no pooling kernel for {dtype}")));
            }
        }
        let x = cx.input(0, ty)?;
        let y = cx.output(0, ty)?;
        if x.len != params.input_len() || y.len != params.output_len() {
            return Err(cx.err("operand sizes do not match the kernel"));
        }
        let p = cx.param("params", params);
        cx.call(
            &format!("k::pool_2d::{path}"),
            &[format!("&{p}"), act, x.expr, y.expr],
        );
        Ok(())
    }
}

#[cfg(feature = "cranelift")]
#[path = "pool_2d_clif.rs"]
mod clif;

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code (`pool_2d_clif.rs`).
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters; an element type with no pooling kernel.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        use clif::Act;
        match self {
            Kernel::AverageF32 { params, act } => {
                clif::emit(cx, params, true, DType::F32, Act::F32(*act))
            }
            Kernel::MaxF32 { params, act } => {
                clif::emit(cx, params, false, DType::F32, Act::F32(*act))
            }
            Kernel::AverageQ { dtype, params, act } => {
                clif::emit(cx, params, true, *dtype, Act::Q(*act))
            }
            Kernel::MaxQ { dtype, params, act } => {
                clif::emit(cx, params, false, *dtype, Act::Q(*act))
            }
        }
    }
}

//! RELU, RELU6, RELU_N1_TO_1, LEAKY_RELU, PRELU, HARD_SWISH.
//!
//! Types: float32, int8 and uint8 for all of them (int16 is not supported here). Quantized
//! parameters follow `activations.cc`:
//! - RELU family (`ReluPrepare`, `QuantizedReluX`): multiplier `S_in / S_out` (float division,
//!   then double), bounds `Z_out + (int)roundf(bound / S_out)` clamped to the type (none above for
//!   RELU);
//! - LEAKY_RELU (`LeakyReluPrepare`): `S_in · alpha / S_out` and `S_in / S_out`, in float;
//! - PRELU (`PreluPrepare`): `S_in / S_out` and `S_in · S_alpha / S_out`, in float; alpha
//!   broadcasts against the input and the result has the input's shape;
//! - HARD_SWISH (`HardSwishPrepare`): two multipliers quantized to Q31 then rounded to Q15.

use mvcc_kernels::kernels::activation::{
    self as k, HardSwishQParams, LeakyReluQParams, PreluQParams, ReluQParams,
};
use mvcc_kernels::kernels::binary::BroadcastShape;
use mvcc_kernels::kernels::common::{ActF32, ActQ};

use super::binary::broadcast_shape;
use super::{EvalCx, InferCx, Lowered};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{DType, LeakyReluAttrs, Shape};
use crate::lower::{LowerCx, Step};
use crate::quant::{qrange, quantize_multiplier};
use crate::rust::step::{rust_type, StepCx};

const TYPES: &[DType] = &[DType::F32, DType::I8, DType::U8];

/// The shared rule of the one-operand activations: same type and shape in and out.
fn infer_elementwise(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    cx.arity(1, 1, 1)?;
    let (input, out) = (cx.input(0)?, cx.output(0)?);
    if out.dtype != input.dtype {
        return Err(cx.err(format!(
            "result type {} differs from the operand's {}",
            out.dtype, input.dtype
        )));
    }
    if !TYPES.contains(&input.dtype) {
        return Err(cx.unsupported(format!("{} operand", input.dtype)));
    }
    if input.dtype.is_quantized_int() {
        cx.per_tensor_quant(input)?;
        cx.per_tensor_quant(out)?;
    }
    Ok(vec![input.shape.clone()])
}

/// The bounds of a RELU-family op.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    min: f32,
    max: f32,
}

const RELU: Bounds = Bounds {
    min: 0.0,
    max: f32::INFINITY,
};
const RELU6: Bounds = Bounds { min: 0.0, max: 6.0 };
const RELU_N1_TO_1: Bounds = Bounds {
    min: -1.0,
    max: 1.0,
};

/// `QuantizedReluX` parameters.
fn relu_q_params(cx: &InferCx<'_>, b: Bounds) -> Result<ReluQParams> {
    let (input, out) = (cx.input(0)?, cx.output(0)?);
    let (si, zi) = cx.per_tensor_quant(input)?;
    let (so, zo) = cx.per_tensor_quant(out)?;
    let (qmin, qmax) = qrange(out.dtype);
    // Saturating: a hostile model's tiny output scale must not overflow (TFLite's int32 sum
    // is the same whenever it does not).
    let min = qmin.max(zo.saturating_add((b.min / so).round() as i32));
    let max = if b.max == f32::INFINITY {
        qmax
    } else {
        qmax.min(zo.saturating_add((b.max / so).round() as i32))
    };
    Ok(ReluQParams {
        input_zero_point: zi,
        output_zero_point: zo,
        output: quantize_multiplier(f64::from(si / so)),
        act: ActQ { min, max },
    })
}

/// RELU.
pub fn infer_relu(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    infer_elementwise(cx)
}

/// RELU6.
pub fn infer_relu6(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    infer_elementwise(cx)
}

/// RELU_N1_TO_1.
pub fn infer_relu_n1_to_1(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    infer_elementwise(cx)
}

/// LEAKY_RELU.
pub fn infer_leaky_relu(cx: &InferCx<'_>, a: &LeakyReluAttrs) -> Result<Vec<Shape>> {
    let shapes = infer_elementwise(cx)?;
    if cx.input(0)?.dtype.is_quantized_int() {
        leaky_relu_q_params(cx, a)?;
    }
    Ok(shapes)
}

/// PRELU: operands input and alpha (same type), alpha broadcast to the input's shape.
pub fn infer_prelu(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    cx.arity(2, 2, 1)?;
    let (input, alpha, out) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
    if alpha.dtype != input.dtype || out.dtype != input.dtype {
        return Err(cx.err(format!(
            "input, alpha and result types differ: {}, {}, {}",
            input.dtype, alpha.dtype, out.dtype
        )));
    }
    if !TYPES.contains(&input.dtype) {
        return Err(cx.unsupported(format!("{} operands", input.dtype)));
    }
    let shape = broadcast_shape(cx, &input.shape, &alpha.shape)?;
    if shape != input.shape {
        return Err(cx.err(format!(
            "alpha of shape {:?} broadcasts the input of shape {:?} to {shape:?}",
            alpha.shape, input.shape
        )));
    }
    if input.dtype.is_quantized_int() {
        prelu_q_params(cx)?;
    } else {
        prelu_layout(cx)?;
    }
    Ok(vec![shape])
}

/// HARD_SWISH.
pub fn infer_hard_swish(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    let shapes = infer_elementwise(cx)?;
    if cx.input(0)?.dtype.is_quantized_int() {
        hard_swish_q_params(cx)?;
    }
    Ok(shapes)
}

/// `LeakyReluPrepare`: `S_in · alpha / S_out` and `S_in / S_out` in float, quantized in double.
fn leaky_relu_q_params(cx: &InferCx<'_>, a: &LeakyReluAttrs) -> Result<LeakyReluQParams> {
    let (si, zi) = cx.per_tensor_quant(cx.input(0)?)?;
    let (so, zo) = cx.per_tensor_quant(cx.output(0)?)?;
    Ok(LeakyReluQParams {
        input_zero_point: zi,
        output_zero_point: zo,
        identity: quantize_multiplier(f64::from(si / so)),
        alpha: quantize_multiplier(f64::from(si * a.alpha / so)),
    })
}

fn prelu_layout(cx: &InferCx<'_>) -> Result<BroadcastShape> {
    let (input, alpha) = (cx.input(0)?, cx.input(1)?);
    BroadcastShape::new(&input.shape, &alpha.shape).ok_or_else(|| {
        cx.err(format!(
            "alpha of shape {:?} does not broadcast",
            alpha.shape
        ))
    })
}

/// `PreluPrepare`: `S_in / S_out` and `S_in · S_alpha / S_out` in float, quantized in double.
fn prelu_q_params(cx: &InferCx<'_>) -> Result<PreluQParams> {
    let (si, zi) = cx.per_tensor_quant(cx.input(0)?)?;
    let (sa, za) = cx.per_tensor_quant(cx.input(1)?)?;
    let (so, zo) = cx.per_tensor_quant(cx.output(0)?)?;
    Ok(PreluQParams {
        shape: prelu_layout(cx)?,
        input_offset: -zi,
        alpha_offset: -za,
        output_offset: zo,
        output1: quantize_multiplier(f64::from(si / so)),
        output2: quantize_multiplier(f64::from(si * sa / so)),
    })
}

/// TFLite's `DownScaleInt32ToInt16Multiplier`: a Q31 multiplier rounded to Q15.
fn down_scale_to_int16(m: i32) -> i16 {
    const ROUNDING_OFFSET: i32 = 1 << 15;
    if m >= i32::MAX - ROUNDING_OFFSET {
        return i16::MAX;
    }
    ((m + ROUNDING_OFFSET) >> 16) as i16
}

/// `HardSwishPrepare`: the hires input scale `S_in / 128`, the output multiplier
/// `hires / S_out` and the reluish multiplier `hires / (3 / 32768)`, all in float.
fn hard_swish_q_params(cx: &InferCx<'_>) -> Result<HardSwishQParams> {
    let (si, zi) = cx.per_tensor_quant(cx.input(0)?)?;
    let (so, zo) = cx.per_tensor_quant(cx.output(0)?)?;
    hard_swish_params_from(si, zi, so, zo).ok_or_else(|| {
        cx.unsupported(format!(
            "an output scale {so} below 1/128 of the input scale {si} (TFLite rejects it)"
        ))
    })
}

/// The computation of [`hard_swish_q_params`] from the scales and zero points; `None` when the
/// output multiplier would need a left shift (which TFLite rejects).
fn hard_swish_params_from(si: f32, zi: i32, so: f32, zo: i32) -> Option<HardSwishQParams> {
    let hires_input_scale = (1.0f32 / 128.0f32) * si;
    let reluish_scale = 3.0f32 / 32768.0f32;
    let output = quantize_multiplier(f64::from(hires_input_scale / so));
    if output.shift > 0 {
        return None;
    }
    let reluish = quantize_multiplier(f64::from(hires_input_scale / reluish_scale));
    Some(HardSwishQParams {
        input_zero_point: zi,
        output_zero_point: zo,
        output_multiplier_fixedpoint_int16: down_scale_to_int16(output.multiplier),
        output_multiplier_exponent: output.shift,
        reluish_multiplier_fixedpoint_int16: down_scale_to_int16(reluish.multiplier),
        reluish_multiplier_exponent: reluish.shift,
    })
}

/// The RELU-family kernel for `b` (a clamp in float; `QuantizedReluX` otherwise).
fn relu_kernel(cx: &InferCx<'_>, b: Bounds) -> Result<Kernel> {
    Ok(match cx.input(0)?.dtype {
        DType::F32 => Kernel::ReluF32(ActF32 {
            min: b.min,
            max: b.max,
        }),
        dtype => Kernel::ReluQ {
            dtype,
            params: relu_q_params(cx, b)?,
        },
    })
}

/// The op's kernel with parameters computed once. The result may overwrite operand 0: every
/// kernel reads input element `i` only to compute result element `i` (PRELU's input has the
/// result's shape; only alpha broadcasts).
fn plan(cx: &InferCx<'_>, op: ActOp<'_>) -> Result<Lowered<Kernel>> {
    let dtype = cx.input(0)?.dtype;
    if !TYPES.contains(&dtype) {
        return Err(cx.unsupported(format!("{dtype} operand")));
    }
    let float = dtype == DType::F32;
    let kernel = match op {
        ActOp::Relu(b) => relu_kernel(cx, b)?,
        ActOp::LeakyRelu(a) if float => Kernel::LeakyReluF32 { alpha: a.alpha },
        ActOp::LeakyRelu(a) => Kernel::LeakyReluQ {
            dtype,
            params: leaky_relu_q_params(cx, a)?,
        },
        ActOp::Prelu if float => Kernel::PreluF32(prelu_layout(cx)?),
        ActOp::Prelu => Kernel::PreluQ {
            dtype,
            params: prelu_q_params(cx)?,
        },
        ActOp::HardSwish if float => Kernel::HardSwishF32,
        ActOp::HardSwish => Kernel::HardSwishQ {
            dtype,
            params: hard_swish_q_params(cx)?,
        },
    };
    let mut l = Lowered::new(kernel);
    l.in_place = Some(0);
    Ok(l)
}

/// The ops of this family.
#[derive(Clone, Copy, Debug)]
enum ActOp<'a> {
    Relu(Bounds),
    LeakyRelu(&'a LeakyReluAttrs),
    Prelu,
    HardSwish,
}

/// RELU's kernel.
///
/// # Errors
/// Unsupported types; invalid quantization.
pub fn plan_relu(cx: &InferCx<'_>) -> Result<Lowered<Kernel>> {
    plan(cx, ActOp::Relu(RELU))
}

/// RELU6's kernel.
///
/// # Errors
/// As [`plan_relu`].
pub fn plan_relu6(cx: &InferCx<'_>) -> Result<Lowered<Kernel>> {
    plan(cx, ActOp::Relu(RELU6))
}

/// RELU_N1_TO_1's kernel.
///
/// # Errors
/// As [`plan_relu`].
pub fn plan_relu_n1_to_1(cx: &InferCx<'_>) -> Result<Lowered<Kernel>> {
    plan(cx, ActOp::Relu(RELU_N1_TO_1))
}

/// LEAKY_RELU's kernel.
///
/// # Errors
/// As [`plan_relu`].
pub fn plan_leaky_relu(cx: &InferCx<'_>, a: &LeakyReluAttrs) -> Result<Lowered<Kernel>> {
    plan(cx, ActOp::LeakyRelu(a))
}

/// PRELU's kernel.
///
/// # Errors
/// As [`plan_relu`].
pub fn plan_prelu(cx: &InferCx<'_>) -> Result<Lowered<Kernel>> {
    plan(cx, ActOp::Prelu)
}

/// HARD_SWISH's kernel.
///
/// # Errors
/// As [`plan_relu`]; scales TFLite rejects.
pub fn plan_hard_swish(cx: &InferCx<'_>) -> Result<Lowered<Kernel>> {
    plan(cx, ActOp::HardSwish)
}

/// RELU with the reference kernels (the lowered kernel on the op's values).
pub fn eval_relu(cx: &mut EvalCx<'_>) -> Result<()> {
    plan_relu(&cx.infer_cx())?.eval(cx, Kernel::exec)
}

/// RELU6 with the reference kernels.
pub fn eval_relu6(cx: &mut EvalCx<'_>) -> Result<()> {
    plan_relu6(&cx.infer_cx())?.eval(cx, Kernel::exec)
}

/// RELU_N1_TO_1 with the reference kernels.
pub fn eval_relu_n1_to_1(cx: &mut EvalCx<'_>) -> Result<()> {
    plan_relu_n1_to_1(&cx.infer_cx())?.eval(cx, Kernel::exec)
}

/// LEAKY_RELU with the reference kernels.
pub fn eval_leaky_relu(cx: &mut EvalCx<'_>, a: &LeakyReluAttrs) -> Result<()> {
    plan_leaky_relu(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// PRELU with the reference kernels.
pub fn eval_prelu(cx: &mut EvalCx<'_>) -> Result<()> {
    plan_prelu(&cx.infer_cx())?.eval(cx, Kernel::exec)
}

/// HARD_SWISH with the reference kernels.
pub fn eval_hard_swish(cx: &mut EvalCx<'_>) -> Result<()> {
    plan_hard_swish(&cx.infer_cx())?.eval(cx, Kernel::exec)
}

fn step(cx: &mut LowerCx<'_>, l: Lowered<Kernel>) -> Result<Vec<Step>> {
    Ok(vec![l.into_step(cx, crate::lower::Kernel::Activation)?])
}

/// Lowers RELU to one step.
///
/// # Errors
/// As [`plan_relu`].
pub fn lower_relu(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let l = plan_relu(&cx.icx)?;
    step(cx, l)
}

/// Lowers RELU6 to one step.
///
/// # Errors
/// As [`plan_relu`].
pub fn lower_relu6(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let l = plan_relu6(&cx.icx)?;
    step(cx, l)
}

/// Lowers RELU_N1_TO_1 to one step.
///
/// # Errors
/// As [`plan_relu`].
pub fn lower_relu_n1_to_1(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let l = plan_relu_n1_to_1(&cx.icx)?;
    step(cx, l)
}

/// Lowers LEAKY_RELU to one step.
///
/// # Errors
/// As [`plan_relu`].
pub fn lower_leaky_relu(cx: &mut LowerCx<'_>, a: &LeakyReluAttrs) -> Result<Vec<Step>> {
    let l = plan_leaky_relu(&cx.icx, a)?;
    step(cx, l)
}

/// Lowers PRELU to one step.
///
/// # Errors
/// As [`plan_relu`].
pub fn lower_prelu(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let l = plan_prelu(&cx.icx)?;
    step(cx, l)
}

/// Lowers HARD_SWISH to one step.
///
/// # Errors
/// As [`plan_hard_swish`].
pub fn lower_hard_swish(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let l = plan_hard_swish(&cx.icx)?;
    step(cx, l)
}

/// The `activation` family's kernels. Operand the input (PRELU: input and alpha), result of the
/// input's type and shape; `dtype` (`I8` or `U8`) selects the element type of quantized ones.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// Float RELU, RELU6, RELU_N1_TO_1: a clamp.
    ReluF32(ActF32),
    /// Quantized RELU family (`QuantizedReluX`).
    ReluQ {
        /// `I8` or `U8`.
        dtype: DType,
        /// Offsets, multiplier, bounds.
        params: ReluQParams,
    },
    /// Float LEAKY_RELU.
    LeakyReluF32 {
        /// Slope below zero.
        alpha: f32,
    },
    /// Quantized LEAKY_RELU.
    LeakyReluQ {
        /// `I8` or `U8`.
        dtype: DType,
        /// Offsets and multipliers.
        params: LeakyReluQParams,
    },
    /// Float PRELU (alpha broadcast to the input).
    PreluF32(BroadcastShape),
    /// Quantized PRELU.
    PreluQ {
        /// `I8` or `U8`.
        dtype: DType,
        /// Broadcast layout, offsets and multipliers.
        params: PreluQParams,
    },
    /// Float HARD_SWISH.
    HardSwishF32,
    /// Quantized HARD_SWISH.
    HardSwishQ {
        /// `I8` or `U8`.
        dtype: DType,
        /// Offsets and Q15 multipliers.
        params: HardSwishQParams,
    },
}

/// Runs `f` on operand 0 and result 0 as `T`.
fn run<T: bytemuck::Pod>(io: &mut StepIo<'_>, f: impl FnOnce(&[T], &mut [T])) -> Result<()> {
    let x = io.input::<T>(0)?;
    if io.output::<T>(0)?.len() != x.len() {
        return Err(io.err("operand and result sizes differ"));
    }
    f(x, io.output::<T>(0)?);
    Ok(())
}

/// Runs a PRELU kernel on input, alpha and result as `T`.
fn run_prelu<T: bytemuck::Pod>(
    io: &mut StepIo<'_>,
    shape: &BroadcastShape,
    f: impl FnOnce(&[T], &[T], &mut [T]),
) -> Result<()> {
    let (x, alpha) = (io.input::<T>(0)?, io.input::<T>(1)?);
    if x.len() != shape.len1() || alpha.len() != shape.len2() {
        return Err(io.err("operand sizes do not match their shapes"));
    }
    if io.output::<T>(0)?.len() != shape.num_elements() {
        return Err(io.err("result size does not match the input's"));
    }
    f(x, alpha, io.output::<T>(0)?);
    Ok(())
}

/// Runs a quantized one-operand kernel generic over the element type on `dtype`.
macro_rules! quantized {
    ($io:expr, $dtype:expr, |$x:ident, $o:ident| $body:expr) => {
        match $dtype {
            DType::I8 => run::<i8>($io, |$x, $o| $body),
            DType::U8 => run::<u8>($io, |$x, $o| $body),
            t => Err($io.err(format!("no quantized kernel for {t}"))),
        }
    };
}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        let q = |dtype: &DType, i8: &'static str, u8: &'static str| {
            if *dtype == DType::U8 {
                u8
            } else {
                i8
            }
        };
        match self {
            Kernel::ReluF32(_) => "relu_f32",
            Kernel::ReluQ { dtype, .. } => q(dtype, "relu_i8", "relu_u8"),
            Kernel::LeakyReluF32 { .. } => "leaky_relu_f32",
            Kernel::LeakyReluQ { dtype, .. } => q(dtype, "leaky_relu_i8", "leaky_relu_u8"),
            Kernel::PreluF32(_) => "prelu_f32",
            Kernel::PreluQ { dtype, .. } => q(dtype, "prelu_i8", "prelu_u8"),
            Kernel::HardSwishF32 => "hard_swish_f32",
            Kernel::HardSwishQ { dtype, .. } => q(dtype, "hard_swish_i8", "hard_swish_u8"),
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::ReluF32(act) => run::<f32>(io, |x, o| k::relu_f32(*act, x, o)),
            Kernel::ReluQ { dtype, params } => {
                quantized!(io, dtype, |x, o| k::relu_q(params, x, o))
            }
            Kernel::LeakyReluF32 { alpha } => {
                run::<f32>(io, |x, o| k::leaky_relu_f32(*alpha, x, o))
            }
            Kernel::LeakyReluQ { dtype, params } => {
                quantized!(io, dtype, |x, o| k::leaky_relu_q(params, x, o))
            }
            Kernel::PreluF32(s) => run_prelu::<f32>(io, s, |x, a, o| k::prelu_f32(s, x, a, o)),
            Kernel::PreluQ { dtype, params } => match dtype {
                DType::I8 => {
                    run_prelu::<i8>(io, &params.shape, |x, a, o| k::prelu_q(params, x, a, o))
                }
                DType::U8 => {
                    run_prelu::<u8>(io, &params.shape, |x, a, o| k::prelu_q(params, x, a, o))
                }
                t => Err(io.err(format!("no quantized kernel for {t}"))),
            },
            Kernel::HardSwishF32 => run::<f32>(io, k::hard_swish_f32),
            Kernel::HardSwishQ { dtype, params } => {
                quantized!(io, dtype, |x, o| k::hard_swish_q(params, x, o))
            }
        }
    }
}

/// Operand 0 and result 0 as `ty`, checked like [`run`], then the call `path(params…, x, out)`.
fn emit_one(cx: &mut StepCx<'_>, ty: &str, path: &str, mut args: Vec<String>) -> Result<()> {
    let x = cx.input(0, ty)?;
    let out = cx.output(0, ty)?;
    if out.len != x.len {
        return Err(cx.err("operand and result sizes differ"));
    }
    args.extend([x.expr, out.expr]);
    cx.call(path, &args);
    Ok(())
}

/// Input, alpha and result of a PRELU as `ty`, checked like [`run_prelu`], then the call
/// `path(param, x, alpha, out)`.
fn emit_prelu(
    cx: &mut StepCx<'_>,
    ty: &str,
    shape: &BroadcastShape,
    path: &str,
    param: String,
) -> Result<()> {
    let x = cx.input(0, ty)?;
    let alpha = cx.input(1, ty)?;
    if x.len != shape.len1() || alpha.len != shape.len2() {
        return Err(cx.err("operand sizes do not match their shapes"));
    }
    let out = cx.output(0, ty)?;
    if out.len != shape.num_elements() {
        return Err(cx.err("result size does not match the input's"));
    }
    cx.call(path, &[param, x.expr, alpha.expr, out.expr]);
    Ok(())
}

/// The element type of a quantized kernel (`I8` or `U8`).
fn quantized_type(cx: &StepCx<'_>, dtype: DType) -> Result<&'static str> {
    match dtype {
        DType::I8 | DType::U8 => Ok(rust_type(dtype)),
        t => Err(cx.err(format!("no quantized kernel for {t}"))),
    }
}

impl Kernel {
    /// Writes the step's Rust code: the same kernel [`Kernel::exec`] runs, with every parameter a
    /// `static`.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters; an unsupported type.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        match self {
            Kernel::ReluF32(act) => {
                let a = cx.param("act", act);
                emit_one(cx, "f32", "k::activation::relu_f32", vec![a])
            }
            Kernel::ReluQ { dtype, params } => {
                let t = quantized_type(cx, *dtype)?;
                let p = cx.param("params", params);
                emit_one(cx, t, "k::activation::relu_q", vec![format!("&{p}")])
            }
            Kernel::LeakyReluF32 { alpha } => {
                let a = cx.param("alpha", alpha);
                emit_one(cx, "f32", "k::activation::leaky_relu_f32", vec![a])
            }
            Kernel::LeakyReluQ { dtype, params } => {
                let t = quantized_type(cx, *dtype)?;
                let p = cx.param("params", params);
                emit_one(cx, t, "k::activation::leaky_relu_q", vec![format!("&{p}")])
            }
            Kernel::PreluF32(s) => {
                let p = cx.param("shape", s);
                emit_prelu(cx, "f32", s, "k::activation::prelu_f32", format!("&{p}"))
            }
            Kernel::PreluQ { dtype, params } => {
                let t = quantized_type(cx, *dtype)?;
                let p = cx.param("params", params);
                let path = "k::activation::prelu_q";
                emit_prelu(cx, t, &params.shape, path, format!("&{p}"))
            }
            Kernel::HardSwishF32 => emit_one(cx, "f32", "k::activation::hard_swish_f32", vec![]),
            Kernel::HardSwishQ { dtype, params } => {
                let t = quantized_type(cx, *dtype)?;
                let p = cx.param("params", params);
                emit_one(cx, t, "k::activation::hard_swish_q", vec![format!("&{p}")])
            }
        }
    }
}

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code: float kernels four lanes at a time; quantized RELU,
    /// LEAKY_RELU and HARD_SWISH a lookup in the 256-entry table of the reference kernel's
    /// results; quantized PRELU (two operands) scalar fixed-point arithmetic.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        use super::binary::clif::{
            broadcast_operands, byte_table, fact, fclamp, fconst, lut8, map_broadcast, map_f32,
            narrow8, sel, widen8,
        };
        use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
        use cranelift_codegen::ir::{types, InstBuilder};

        match self {
            Kernel::ReluF32(act) => map_f32(cx, |cx, x| fact(cx, x, *act)),
            Kernel::ReluQ { dtype, params } => {
                let t = byte_table(
                    *dtype,
                    |x, o| k::relu_q(params, x, o),
                    |x, o| k::relu_q(params, x, o),
                );
                lut8(cx, &t, None)
            }
            Kernel::LeakyReluF32 { alpha } => map_f32(cx, |cx, x| {
                let zero = fconst(cx, x, 0.0);
                let pos = cx.b.ins().fcmp(FloatCC::GreaterThan, x, zero);
                let a = fconst(cx, x, *alpha);
                let m = cx.b.ins().fmul(x, a);
                sel(cx, pos, x, m)
            }),
            Kernel::LeakyReluQ { dtype, params } => {
                let t = byte_table(
                    *dtype,
                    |x, o| k::leaky_relu_q(params, x, o),
                    |x, o| k::leaky_relu_q(params, x, o),
                );
                lut8(cx, &t, None)
            }
            Kernel::PreluF32(s) => {
                let (srcs, out) = broadcast_operands(cx, s, types::F32)?;
                map_broadcast(cx, &s.dims, &srcs, (out, types::F32), true, |cx, v| {
                    let (x, a) = (v[0], v[1]);
                    let zero = fconst(cx, x, 0.0);
                    let nonneg = cx.b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, zero);
                    let m = cx.b.ins().fmul(x, a);
                    sel(cx, nonneg, x, m)
                })
            }
            Kernel::PreluQ { dtype, params } => {
                let dtype = match dtype {
                    DType::I8 | DType::U8 => *dtype,
                    t => return Err(cx.err(format!("no quantized kernel for {t}"))),
                };
                let p = *params;
                let (srcs, out) = broadcast_operands(cx, &p.shape, types::I8)?;
                map_broadcast(
                    cx,
                    &p.shape.dims,
                    &srcs,
                    (out, types::I8),
                    false,
                    |cx, v| {
                        let x = widen8(cx, v[0], dtype);
                        let x = cx.b.ins().iadd_imm_s(x, i64::from(p.input_offset));
                        let a = widen8(cx, v[1], dtype);
                        let a = cx.b.ins().iadd_imm_s(a, i64::from(p.alpha_offset));
                        let r1 = cx.mbqm(x, p.output1.multiplier, p.output1.shift);
                        let xa = cx.b.ins().imul(x, a);
                        let r2 = cx.mbqm(xa, p.output2.multiplier, p.output2.shift);
                        let nonneg = cx.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, x, 0);
                        let r = cx.b.ins().select(nonneg, r1, r2);
                        let r = cx.b.ins().iadd_imm_s(r, i64::from(p.output_offset));
                        narrow8(cx, r, None, dtype)
                    },
                )
            }
            Kernel::HardSwishF32 => map_f32(cx, |cx, x| {
                let three = fconst(cx, x, 3.0);
                let r = cx.b.ins().fadd(x, three);
                let r = fclamp(cx, r, 0.0, 6.0);
                let m = cx.b.ins().fmul(x, r);
                let six = fconst(cx, x, 6.0);
                cx.b.ins().fdiv(m, six)
            }),
            Kernel::HardSwishQ { dtype, params } => {
                let t = byte_table(
                    *dtype,
                    |x, o| k::hard_swish_q(params, x, o),
                    |x, o| k::hard_swish_q(params, x, o),
                );
                lut8(cx, &t, None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int16_multiplier_rounding() {
        assert_eq!(down_scale_to_int16(1 << 30), 1 << 14);
        assert_eq!(down_scale_to_int16((1 << 30) + (1 << 15)), (1 << 14) + 1);
        assert_eq!(down_scale_to_int16((1 << 30) + (1 << 15) - 1), 1 << 14);
        assert_eq!(down_scale_to_int16(i32::MAX), i16::MAX);
    }

    /// The fixed-point HARD_SWISH stays within two steps of the float function over the whole
    /// int8 and uint8 ranges, for input ranges small (reluish multiplier shifted right) and large
    /// (shifted left).
    #[test]
    fn quantized_hard_swish_tracks_float() {
        for &(si, zi, so, zo) in &[
            (0.05f32, -10, 0.03f32, -100),
            (0.5, 5, 0.4, -110),
            (0.002, 0, 0.001, -120),
        ] {
            let p = hard_swish_params_from(si, zi, so, zo).unwrap();
            let input: Vec<i8> = (-128..=127).collect();
            let mut out = vec![0i8; 256];
            k::hard_swish_q(&p, &input, &mut out);
            for (&q, &o) in input.iter().zip(&out) {
                let x = si * (i32::from(q) - zi) as f32;
                let y = x * (x + 3.0).clamp(0.0, 6.0) / 6.0;
                let want = ((y / so).round() as i32 + zo).clamp(-128, 127);
                assert!((want - i32::from(o)).abs() <= 2, "{si} {q}: {o} vs {want}");
            }
        }
        let p = hard_swish_params_from(0.1, 128, 0.05, 20).unwrap();
        let input: Vec<u8> = (0..=255).collect();
        let mut out = vec![0u8; 256];
        k::hard_swish_q(&p, &input, &mut out);
        for (&q, &o) in input.iter().zip(&out) {
            let x = 0.1 * (i32::from(q) - 128) as f32;
            let y = x * (x + 3.0).clamp(0.0, 6.0) / 6.0;
            let want = ((y / 0.05).round() as i32 + 20).clamp(0, 255);
            assert!((want - i32::from(o)).abs() <= 2, "{q}: {o} vs {want}");
        }
        assert!(hard_swish_params_from(0.5, 0, 0.001, 0).is_none());
    }
}

#[cfg(all(test, feature = "cranelift"))]
mod clif_tests {
    use crate::interp::Buf;
    use crate::ir::{DType, LeakyReluAttrs, NoAttrs, Op};
    use crate::ops::binary::clif::testutil::{exact, Rng};
    use crate::ops::transpose::testutil::{t, tq};

    fn one_operand_ops() -> Vec<Op> {
        vec![
            Op::Relu(NoAttrs),
            Op::Relu6(NoAttrs),
            Op::ReluN1To1(NoAttrs),
            Op::LeakyRelu(LeakyReluAttrs { alpha: 0.2 }),
            Op::HardSwish(NoAttrs),
        ]
    }

    #[test]
    fn float_activations_are_exact() {
        let mut rng = Rng(21);
        let mut x = rng.floats(1001, -8.0, 8.0);
        x.extend([
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -3.0,
            3.0,
        ]);
        let n = x.len();
        for op in one_operand_ops() {
            exact(
                op,
                vec![t(DType::F32, &[n])],
                vec![t(DType::F32, &[n])],
                &[Buf::from_slice(&x)],
            );
        }
        for alpha_shape in [&[1usize][..], &[7], &[3, 1], &[3, 7], &[2, 3, 7]] {
            let a = rng.floats(alpha_shape.iter().product(), -1.0, 1.0);
            exact(
                Op::Prelu(NoAttrs),
                vec![t(DType::F32, &[2, 3, 7]), t(DType::F32, alpha_shape)],
                vec![t(DType::F32, &[2, 3, 7])],
                &[Buf::from_slice(&x[..42]), Buf::from_slice(&a)],
            );
        }
    }

    #[test]
    fn quantized_activations_are_exact() {
        let mut rng = Rng(22);
        let x: Vec<u8> = (0..=255).collect();
        for dtype in [DType::I8, DType::U8] {
            let z = |v: i64| if dtype == DType::U8 { v + 128 } else { v };
            for (si, zi, so, zo) in [(0.05f32, 3i64, 0.03f32, -100i64), (0.1, -20, 0.1, -20)] {
                for op in one_operand_ops() {
                    exact(
                        op,
                        vec![tq(dtype, &[256], si, z(zi))],
                        vec![tq(dtype, &[256], so, z(zo))],
                        &[Buf::from_bytes(&x)],
                    );
                }
                for alpha_shape in [&[1usize][..], &[5], &[2, 1, 5]] {
                    let a = rng.bytes(alpha_shape.iter().product());
                    let v = rng.bytes(60);
                    exact(
                        Op::Prelu(NoAttrs),
                        vec![
                            tq(dtype, &[2, 6, 5], si, z(zi)),
                            tq(dtype, alpha_shape, 0.01, z(4)),
                        ],
                        vec![tq(dtype, &[2, 6, 5], so, z(zo))],
                        &[Buf::from_bytes(&v), Buf::from_bytes(&a)],
                    );
                }
            }
        }
    }
}

//! ADD, SUB, MUL, DIV, SQUARED_DIFFERENCE, MAXIMUM, MINIMUM: element-wise binary ops with NumPy
//! broadcasting (up to rank 6).
//!
//! Types, as TFLite's builtin kernels take them (int16 is not supported here):
//! - ADD, SUB, MUL: float32, int8, uint8, int32;
//! - DIV: float32, uint8, int8, int32;
//! - SQUARED_DIFFERENCE: float32, int8, int32;
//! - MAXIMUM, MINIMUM: float32, int8, uint8, int16, int32, int64, on the stored values (TFLite does
//!   not rescale, whatever the operands' scales).
//!
//! Parameters are computed as the ops' `Prepare` functions compute them (`add.cc`, `sub.cc`,
//! `mul.cc`, `div.cc`, `squared_difference.cc`), with the same float or double precision at each
//! step; see each `*_params` function.

use mvcc_kernels::kernels::binary::{
    self as k, AddQParams, BinaryF32Params, BinaryI32Params, BroadcastShape, MulQParams, MAX_RANK,
};
use mvcc_kernels::kernels::common::{ActF32, ActQ, Requant};

use super::{EvalCx, InferCx, Lowered};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{Activation, DType, FusedActAttrs, Shape, Tensor};
use crate::lower::{LowerCx, Step};
use crate::quant::{act_f32, act_q, qrange, quantize_multiplier};
use crate::rust::lit::ToLit;
use crate::rust::step::{rust_type, StepCx};

/// Cranelift code generation, and the element-wise loops the other element-wise families share.
#[cfg(feature = "cranelift")]
#[path = "binary_clif.rs"]
pub(crate) mod clif;

/// The ops of this family, for the shared checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Add,
    Sub,
    Mul,
    Div,
    SquaredDifference,
    Maximum,
    Minimum,
}

impl Kind {
    fn dtypes(self) -> &'static [DType] {
        match self {
            Kind::Add | Kind::Sub | Kind::Mul => &[DType::F32, DType::I8, DType::U8, DType::I32],
            Kind::Div => &[DType::F32, DType::I8, DType::U8, DType::I32],
            Kind::SquaredDifference => &[DType::F32, DType::I8, DType::I32],
            Kind::Maximum | Kind::Minimum => &[
                DType::F32,
                DType::I8,
                DType::U8,
                DType::I16,
                DType::I32,
                DType::I64,
            ],
        }
    }
}

/// The NumPy broadcast of two shapes (TFLite's `CalculateShapeForBroadcast`): right-aligned, each
/// pair of extents equal or one of them 1.
pub fn broadcast_shape(cx: &InferCx<'_>, a: &[usize], b: &[usize]) -> Result<Shape> {
    if a.len() > MAX_RANK || b.len() > MAX_RANK {
        return Err(cx.unsupported(format!("broadcasting operands of rank above {MAX_RANK}")));
    }
    let rank = a.len().max(b.len());
    let at = |s: &[usize], i: usize| {
        if i + s.len() < rank {
            1
        } else {
            s[i + s.len() - rank]
        }
    };
    let mut out = Vec::with_capacity(rank);
    for i in 0..rank {
        let (x, y) = (at(a, i), at(b, i));
        out.push(match (x, y) {
            _ if x == y => x,
            (1, _) => y,
            (_, 1) => x,
            _ => return Err(cx.err(format!("shapes {a:?} and {b:?} do not broadcast"))),
        });
    }
    Ok(out)
}

/// The broadcast layout of operands 0 and 1.
fn layout(cx: &InferCx<'_>) -> Result<BroadcastShape> {
    let (a, b) = (cx.input(0)?, cx.input(1)?);
    BroadcastShape::new(&a.shape, &b.shape).ok_or_else(|| {
        cx.err(format!(
            "shapes {:?} and {:?} do not broadcast",
            a.shape, b.shape
        ))
    })
}

/// TFLite's `CalculateActivationRange<float>`: the bounds of no activation are `±FLT_MAX`, so an
/// infinite result (e.g. a division by zero) comes out as `±FLT_MAX`.
fn float_act(cx: &InferCx<'_>, act: Activation) -> Result<ActF32> {
    if act == Activation::Tanh {
        return Err(cx.unsupported("fused TANH activation"));
    }
    let a = act_f32(act);
    Ok(ActF32 {
        min: a.min.max(f32::MIN),
        max: a.max.min(f32::MAX),
    })
}

/// TFLite's `CalculateActivationRange<int32_t>`.
fn int32_act(cx: &InferCx<'_>, act: Activation) -> Result<ActQ> {
    Ok(match act {
        Activation::None => ActQ {
            min: i32::MIN,
            max: i32::MAX,
        },
        Activation::Relu => ActQ {
            min: 0,
            max: i32::MAX,
        },
        Activation::ReluN1To1 => ActQ { min: -1, max: 1 },
        Activation::Relu6 => ActQ { min: 0, max: 6 },
        Activation::Tanh => return Err(cx.unsupported("fused TANH activation")),
    })
}

/// TFLite's `CalculateActivationRangeQuantized` on the output.
fn quant_act(cx: &InferCx<'_>, act: Activation, out: &Tensor) -> Result<ActQ> {
    if act == Activation::Tanh {
        return Err(cx.unsupported("fused TANH activation"));
    }
    let (scale, zero_point) = cx.per_tensor_quant(out)?;
    Ok(act_q(act, out.dtype, scale, zero_point))
}

/// Per-tensor quantization of a quantized operand, with its zero point in the type's range (the
/// checks `sub.cc` and `squared_difference.cc` make).
fn qparams(cx: &InferCx<'_>, t: &Tensor) -> Result<(f32, i32)> {
    let (s, z) = cx.per_tensor_quant(t)?;
    let (lo, hi) = qrange(t.dtype);
    if z < lo || z > hi {
        return Err(cx.err(format!(
            "tensor \"{}\" has zero point {z} outside its type's range",
            t.name
        )));
    }
    Ok((s, z))
}

/// TFLite's `QuantizeMultiplierSmallerThanOneExp`, which aborts unless `0 < m < 1`.
fn multiplier_below_one(cx: &InferCx<'_>, m: f64) -> Result<Requant> {
    let r = quantize_multiplier(m);
    if !(m > 0.0 && m < 1.0) || r.shift > 0 {
        return Err(cx.unsupported(format!(
            "a rescaling multiplier of {m} (TFLite requires it to be in (0, 1)); check the scales"
        )));
    }
    Ok(r)
}

/// Quantized ADD/SUB parameters (`add.cc` / `sub.cc` Prepare): `left_shift = 20`; the input
/// multipliers `S_i / (2·max(S1, S2))` and the output multiplier
/// `2·max(S1, S2) / (2^20 · S_out)` in double (the `2^20 · S_out` product in float, where it is
/// exact); SUB negates the second input's multiplier.
fn add_q_params(cx: &InferCx<'_>, act: Activation, sub: bool) -> Result<AddQParams> {
    let (a, b, out) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
    let (q1, q2) = (qparams(cx, a)?, qparams(cx, b)?);
    add_q_params_of(cx, [q1, q2], out, act, sub, layout(cx)?)
}

/// Quantized ADD/SUB parameters (as [`plan_add`] computes them) for operands quantized
/// `[(S1, Z1), (S2, Z2)]`, of `out`'s type, broadcast as `shape`, into `out`. CONV_2D's fused
/// residual ADD computes its epilogue with it (the convolution's result, whose tensor the fusion
/// removed, as one operand).
///
/// # Errors
/// A zero point outside the type's range; multipliers TFLite rejects.
pub fn add_q_params_of(
    cx: &InferCx<'_>,
    [(s1, z1), (s2, z2)]: [(f32, i32); 2],
    out: &Tensor,
    act: Activation,
    sub: bool,
    shape: BroadcastShape,
) -> Result<AddQParams> {
    let (so, zo) = qparams(cx, out)?;
    let (lo, hi) = qrange(out.dtype);
    if [z1, z2].iter().any(|z| !(lo..=hi).contains(z)) {
        return Err(cx.err(format!(
            "an operand zero point is outside the {} range",
            out.dtype
        )));
    }
    let left_shift = 20;
    let twice_max_input_scale = 2.0 * f64::from(s1.max(s2));
    let input1 = multiplier_below_one(cx, f64::from(s1) / twice_max_input_scale)?;
    let mut input2 = multiplier_below_one(cx, f64::from(s2) / twice_max_input_scale)?;
    let output = multiplier_below_one(
        cx,
        twice_max_input_scale / f64::from((1i32 << left_shift) as f32 * so),
    )?;
    if sub {
        input2.multiplier = -input2.multiplier;
    }
    Ok(AddQParams {
        shape,
        left_shift,
        input1_offset: -z1,
        input1,
        input2_offset: -z2,
        input2,
        output,
        output_offset: zo,
        act: quant_act(cx, act, out)?,
    })
}

/// Quantized SQUARED_DIFFERENCE parameters (`squared_difference.cc` Prepare, int8):
/// `left_shift = 7`, input multipliers as ADD's, output multiplier
/// `(2·max(S1, S2))² / (2^14 · S_out)`, no activation.
fn squared_difference_q_params(cx: &InferCx<'_>) -> Result<AddQParams> {
    let (a, b, out) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
    let ((s1, z1), (s2, z2), (so, zo)) = (qparams(cx, a)?, qparams(cx, b)?, qparams(cx, out)?);
    let left_shift = 7;
    let twice_max_input_scale = 2.0 * f64::from(s1.max(s2));
    let input1 = multiplier_below_one(cx, f64::from(s1) / twice_max_input_scale)?;
    let input2 = multiplier_below_one(cx, f64::from(s2) / twice_max_input_scale)?;
    let output = multiplier_below_one(
        cx,
        (twice_max_input_scale * twice_max_input_scale)
            / f64::from((1i32 << (left_shift * 2)) as f32 * so),
    )?;
    let (min, max) = qrange(out.dtype);
    Ok(AddQParams {
        shape: layout(cx)?,
        left_shift,
        input1_offset: -z1,
        input1,
        input2_offset: -z2,
        input2,
        output,
        output_offset: zo,
        act: ActQ { min, max },
    })
}

/// Quantized MUL parameters (`mul.cc` Prepare): `S1·S2/S_out` computed in float, then
/// `QuantizeMultiplier` in double.
fn mul_q_params(cx: &InferCx<'_>, act: Activation) -> Result<MulQParams> {
    let (a, b, out) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
    let ((s1, z1), (s2, z2), (so, zo)) = (qparams(cx, a)?, qparams(cx, b)?, qparams(cx, out)?);
    Ok(MulQParams {
        shape: layout(cx)?,
        input1_offset: -z1,
        input2_offset: -z2,
        output: quantize_multiplier(f64::from(s1 * s2 / so)),
        output_offset: zo,
        act: quant_act(cx, act, out)?,
    })
}

/// Quantized DIV parameters (`div.cc` Prepare, uint8 and int8): `S1/(S2·S_out)` computed in float.
fn div_q_params(cx: &InferCx<'_>, act: Activation) -> Result<MulQParams> {
    let (a, b, out) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
    let ((s1, z1), (s2, z2), (so, zo)) = (qparams(cx, a)?, qparams(cx, b)?, qparams(cx, out)?);
    Ok(MulQParams {
        shape: layout(cx)?,
        input1_offset: -z1,
        input2_offset: -z2,
        output: quantize_multiplier(f64::from(s1 / (s2 * so))),
        output_offset: zo,
        act: quant_act(cx, act, out)?,
    })
}

fn float_params(cx: &InferCx<'_>, act: Activation) -> Result<BinaryF32Params> {
    Ok(BinaryF32Params {
        shape: layout(cx)?,
        act: float_act(cx, act)?,
    })
}

fn int32_params(cx: &InferCx<'_>, act: Activation) -> Result<BinaryI32Params> {
    Ok(BinaryI32Params {
        shape: layout(cx)?,
        act: int32_act(cx, act)?,
    })
}

/// The shared shape rule and type checks; `act` is the fused activation where the op has one.
fn infer_binary(cx: &InferCx<'_>, kind: Kind, act: Option<Activation>) -> Result<Vec<Shape>> {
    cx.arity(2, 2, 1)?;
    let (a, b, out) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
    if a.dtype != b.dtype {
        return Err(cx.err(format!("operand types differ: {} and {}", a.dtype, b.dtype)));
    }
    if out.dtype != a.dtype {
        return Err(cx.err(format!(
            "result type {} differs from the operands' {}",
            out.dtype, a.dtype
        )));
    }
    if !kind.dtypes().contains(&a.dtype) {
        return Err(cx.unsupported(format!("{} operands", a.dtype)));
    }
    let shape = broadcast_shape(cx, &a.shape, &b.shape)?;
    // Compute the parameters now so that every problem with them shows at compile time.
    let act = act.unwrap_or(Activation::None);
    match (kind, a.dtype) {
        (Kind::Add | Kind::Sub | Kind::Mul | Kind::Div, DType::F32) => {
            float_params(cx, act)?;
        }
        (Kind::Add | Kind::Sub | Kind::Mul | Kind::Div, DType::I32) => {
            int32_params(cx, act)?;
        }
        (Kind::Add | Kind::Sub, _) => {
            add_q_params(cx, act, kind == Kind::Sub)?;
        }
        (Kind::Mul, _) => {
            mul_q_params(cx, act)?;
        }
        (Kind::Div, _) => {
            div_q_params(cx, act)?;
        }
        (Kind::SquaredDifference, DType::I8) => {
            squared_difference_q_params(cx)?;
        }
        (Kind::SquaredDifference | Kind::Maximum | Kind::Minimum, _) => {
            layout(cx)?;
        }
    }
    Ok(vec![shape])
}

/// ADD: operands `a`, `b` (same type), fused activation.
pub fn infer_add(cx: &InferCx<'_>, a: &FusedActAttrs) -> Result<Vec<Shape>> {
    infer_binary(cx, Kind::Add, Some(a.act))
}

/// SUB: `a − b`, fused activation.
pub fn infer_sub(cx: &InferCx<'_>, a: &FusedActAttrs) -> Result<Vec<Shape>> {
    infer_binary(cx, Kind::Sub, Some(a.act))
}

/// MUL: `a · b`, fused activation.
pub fn infer_mul(cx: &InferCx<'_>, a: &FusedActAttrs) -> Result<Vec<Shape>> {
    infer_binary(cx, Kind::Mul, Some(a.act))
}

/// DIV: `a / b`, fused activation.
pub fn infer_div(cx: &InferCx<'_>, a: &FusedActAttrs) -> Result<Vec<Shape>> {
    infer_binary(cx, Kind::Div, Some(a.act))
}

/// SQUARED_DIFFERENCE: `(a − b)²`.
pub fn infer_squared_difference(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    infer_binary(cx, Kind::SquaredDifference, None)
}

/// MAXIMUM.
pub fn infer_maximum(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    infer_binary(cx, Kind::Maximum, None)
}

/// MINIMUM.
pub fn infer_minimum(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    infer_binary(cx, Kind::Minimum, None)
}

/// The arithmetic of ADD, SUB, MUL, DIV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    /// `a + b`.
    Add,
    /// `a − b`.
    Sub,
    /// `a · b`.
    Mul,
    /// `a / b`.
    Div,
}

impl Arith {
    fn of(kind: Kind) -> Option<Arith> {
        match kind {
            Kind::Add => Some(Arith::Add),
            Kind::Sub => Some(Arith::Sub),
            Kind::Mul => Some(Arith::Mul),
            Kind::Div => Some(Arith::Div),
            Kind::SquaredDifference | Kind::Maximum | Kind::Minimum => None,
        }
    }
}

/// The family's kernel for `kind` with parameters computed once. The result may overwrite
/// operand 0 when that operand is not broadcast (it has the result's shape): every kernel reads
/// `a[i]` only to compute result element `i`.
fn plan(cx: &InferCx<'_>, kind: Kind, act: Activation) -> Result<Lowered<Kernel>> {
    let dtype = cx.input(0)?.dtype;
    if !kind.dtypes().contains(&dtype) {
        return Err(cx.unsupported(format!("{dtype} operands")));
    }
    let kernel = match (Arith::of(kind), dtype) {
        (Some(op), DType::F32) => Kernel::F32 {
            op,
            params: float_params(cx, act)?,
        },
        (Some(op), DType::I32) => Kernel::I32 {
            op,
            params: int32_params(cx, act)?,
        },
        (Some(op @ (Arith::Add | Arith::Sub)), _) => Kernel::AddQ {
            op,
            dtype,
            params: add_q_params(cx, act, op == Arith::Sub)?,
        },
        (Some(Arith::Mul), _) => Kernel::MulQ {
            dtype,
            params: mul_q_params(cx, act)?,
        },
        (Some(Arith::Div), _) => Kernel::DivQ {
            dtype,
            params: div_q_params(cx, act)?,
        },
        (None, _) => match (kind, dtype) {
            (Kind::SquaredDifference, DType::F32) => Kernel::SquaredDifferenceF32(layout(cx)?),
            (Kind::SquaredDifference, DType::I32) => Kernel::SquaredDifferenceI32(layout(cx)?),
            (Kind::SquaredDifference, _) => Kernel::SquaredDifferenceQ {
                dtype,
                params: squared_difference_q_params(cx)?,
            },
            (Kind::Maximum, _) => Kernel::Maximum {
                dtype,
                shape: layout(cx)?,
            },
            _ => Kernel::Minimum {
                dtype,
                shape: layout(cx)?,
            },
        },
    };
    let shape = layout(cx)?;
    let mut l = Lowered::new(kernel);
    if shape.len1() == shape.num_elements() {
        l.in_place = Some(0);
    }
    Ok(l)
}

/// ADD's kernel.
///
/// # Errors
/// Unsupported types; parameters TFLite rejects.
pub fn plan_add(cx: &InferCx<'_>, a: &FusedActAttrs) -> Result<Lowered<Kernel>> {
    plan(cx, Kind::Add, a.act)
}

/// SUB's kernel.
///
/// # Errors
/// As [`plan_add`].
pub fn plan_sub(cx: &InferCx<'_>, a: &FusedActAttrs) -> Result<Lowered<Kernel>> {
    plan(cx, Kind::Sub, a.act)
}

/// MUL's kernel.
///
/// # Errors
/// As [`plan_add`].
pub fn plan_mul(cx: &InferCx<'_>, a: &FusedActAttrs) -> Result<Lowered<Kernel>> {
    plan(cx, Kind::Mul, a.act)
}

/// DIV's kernel.
///
/// # Errors
/// As [`plan_add`].
pub fn plan_div(cx: &InferCx<'_>, a: &FusedActAttrs) -> Result<Lowered<Kernel>> {
    plan(cx, Kind::Div, a.act)
}

/// SQUARED_DIFFERENCE's kernel.
///
/// # Errors
/// As [`plan_add`].
pub fn plan_squared_difference(cx: &InferCx<'_>) -> Result<Lowered<Kernel>> {
    plan(cx, Kind::SquaredDifference, Activation::None)
}

/// MAXIMUM's kernel.
///
/// # Errors
/// As [`plan_add`].
pub fn plan_maximum(cx: &InferCx<'_>) -> Result<Lowered<Kernel>> {
    plan(cx, Kind::Maximum, Activation::None)
}

/// MINIMUM's kernel.
///
/// # Errors
/// As [`plan_add`].
pub fn plan_minimum(cx: &InferCx<'_>) -> Result<Lowered<Kernel>> {
    plan(cx, Kind::Minimum, Activation::None)
}

/// ADD with the reference kernels (the lowered kernel on the op's values).
pub fn eval_add(cx: &mut EvalCx<'_>, a: &FusedActAttrs) -> Result<()> {
    plan_add(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// SUB with the reference kernels.
pub fn eval_sub(cx: &mut EvalCx<'_>, a: &FusedActAttrs) -> Result<()> {
    plan_sub(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// MUL with the reference kernels.
pub fn eval_mul(cx: &mut EvalCx<'_>, a: &FusedActAttrs) -> Result<()> {
    plan_mul(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// DIV with the reference kernels.
pub fn eval_div(cx: &mut EvalCx<'_>, a: &FusedActAttrs) -> Result<()> {
    plan_div(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// SQUARED_DIFFERENCE with the reference kernels.
pub fn eval_squared_difference(cx: &mut EvalCx<'_>) -> Result<()> {
    plan_squared_difference(&cx.infer_cx())?.eval(cx, Kernel::exec)
}

/// MAXIMUM with the reference kernel.
pub fn eval_maximum(cx: &mut EvalCx<'_>) -> Result<()> {
    plan_maximum(&cx.infer_cx())?.eval(cx, Kernel::exec)
}

/// MINIMUM with the reference kernel.
pub fn eval_minimum(cx: &mut EvalCx<'_>) -> Result<()> {
    plan_minimum(&cx.infer_cx())?.eval(cx, Kernel::exec)
}

fn step(cx: &mut LowerCx<'_>, l: Lowered<Kernel>) -> Result<Vec<Step>> {
    Ok(vec![l.into_step(cx, crate::lower::Kernel::Binary)?])
}

/// Lowers ADD to one step.
///
/// # Errors
/// As [`plan_add`].
pub fn lower_add(cx: &mut LowerCx<'_>, a: &FusedActAttrs) -> Result<Vec<Step>> {
    let l = plan_add(&cx.icx, a)?;
    step(cx, l)
}

/// Lowers SUB to one step.
///
/// # Errors
/// As [`plan_add`].
pub fn lower_sub(cx: &mut LowerCx<'_>, a: &FusedActAttrs) -> Result<Vec<Step>> {
    let l = plan_sub(&cx.icx, a)?;
    step(cx, l)
}

/// Lowers MUL to one step.
///
/// # Errors
/// As [`plan_add`].
pub fn lower_mul(cx: &mut LowerCx<'_>, a: &FusedActAttrs) -> Result<Vec<Step>> {
    let l = plan_mul(&cx.icx, a)?;
    step(cx, l)
}

/// Lowers DIV to one step.
///
/// # Errors
/// As [`plan_add`].
pub fn lower_div(cx: &mut LowerCx<'_>, a: &FusedActAttrs) -> Result<Vec<Step>> {
    let l = plan_div(&cx.icx, a)?;
    step(cx, l)
}

/// Lowers SQUARED_DIFFERENCE to one step.
///
/// # Errors
/// As [`plan_add`].
pub fn lower_squared_difference(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let l = plan_squared_difference(&cx.icx)?;
    step(cx, l)
}

/// Lowers MAXIMUM to one step.
///
/// # Errors
/// As [`plan_add`].
pub fn lower_maximum(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let l = plan_maximum(&cx.icx)?;
    step(cx, l)
}

/// Lowers MINIMUM to one step.
///
/// # Errors
/// As [`plan_add`].
pub fn lower_minimum(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let l = plan_minimum(&cx.icx)?;
    step(cx, l)
}

/// The `binary` family's kernels. Operands `a`, `b`; result `a ∘ b` with NumPy broadcasting.
/// `dtype` selects the element type of operands and result.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// Float ADD, SUB, MUL, DIV.
    F32 {
        /// The operation.
        op: Arith,
        /// Broadcast layout and clamp.
        params: BinaryF32Params,
    },
    /// int32 ADD, SUB, MUL, DIV (DIV fails on a stored zero divisor, as TFLite does).
    I32 {
        /// The operation.
        op: Arith,
        /// Broadcast layout and clamp.
        params: BinaryI32Params,
    },
    /// Quantized ADD or SUB (`I8`, `U8`); SUB is ADD with the second multiplier negated.
    AddQ {
        /// `Add` or `Sub`.
        op: Arith,
        /// `I8` or `U8`.
        dtype: DType,
        /// Offsets, multipliers, clamp.
        params: AddQParams,
    },
    /// Quantized MUL (`I8`, `U8`).
    MulQ {
        /// `I8` or `U8`.
        dtype: DType,
        /// Offsets, multiplier, clamp.
        params: MulQParams,
    },
    /// Quantized DIV (`I8`, `U8`).
    DivQ {
        /// `I8` or `U8`.
        dtype: DType,
        /// Offsets, multiplier, clamp.
        params: MulQParams,
    },
    /// Float SQUARED_DIFFERENCE.
    SquaredDifferenceF32(BroadcastShape),
    /// int32 SQUARED_DIFFERENCE.
    SquaredDifferenceI32(BroadcastShape),
    /// int8 SQUARED_DIFFERENCE.
    SquaredDifferenceQ {
        /// `I8`.
        dtype: DType,
        /// Offsets, multipliers, clamp.
        params: AddQParams,
    },
    /// MAXIMUM on the stored values.
    Maximum {
        /// Any of f32, i8, u8, i16, i32, i64.
        dtype: DType,
        /// Broadcast layout.
        shape: BroadcastShape,
    },
    /// MINIMUM on the stored values.
    Minimum {
        /// Any of f32, i8, u8, i16, i32, i64.
        dtype: DType,
        /// Broadcast layout.
        shape: BroadcastShape,
    },
}

/// The error of an int32 DIV by a stored zero.
const DIV_BY_ZERO: &str = "division by a stored zero (TFLite rejects it)";

/// Runs `f` on operands 0 and 1 and result 0 as `T`, after checking their lengths against `shape`.
fn run<T: bytemuck::Pod>(
    io: &mut StepIo<'_>,
    shape: &BroadcastShape,
    f: impl FnOnce(&[T], &[T], &mut [T]),
) -> Result<()> {
    let (x, y) = (io.input::<T>(0)?, io.input::<T>(1)?);
    if x.len() != shape.len1() || y.len() != shape.len2() {
        return Err(io.err("operand sizes do not match their shapes"));
    }
    if io.output::<T>(0)?.len() != shape.num_elements() {
        return Err(io.err("result size does not match the broadcast shape"));
    }
    f(x, y, io.output::<T>(0)?);
    Ok(())
}

/// Runs a quantized kernel generic over the element type on `dtype` (`I8` or `U8`).
macro_rules! quantized {
    ($io:expr, $dtype:expr, $shape:expr, |$x:ident, $y:ident, $o:ident| $body:expr) => {
        match $dtype {
            DType::I8 => run::<i8>($io, $shape, |$x, $y, $o| $body),
            DType::U8 => run::<u8>($io, $shape, |$x, $y, $o| $body),
            t => Err($io.err(format!("no quantized kernel for {t}"))),
        }
    };
}

fn max_min(io: &mut StepIo<'_>, dtype: DType, s: &BroadcastShape, max: bool) -> Result<()> {
    macro_rules! go {
        ($t:ty) => {
            run::<$t>(io, s, |x, y, o| {
                if max {
                    k::maximum(s, x, y, o)
                } else {
                    k::minimum(s, x, y, o)
                }
            })
        };
    }
    match dtype {
        DType::F32 => go!(f32),
        DType::I8 => go!(i8),
        DType::U8 => go!(u8),
        DType::I16 => go!(i16),
        DType::I32 => go!(i32),
        DType::I64 => go!(i64),
        t => Err(io.err(format!("no MAXIMUM/MINIMUM kernel for {t}"))),
    }
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
            Kernel::F32 { op, .. } => match op {
                Arith::Add => "add_f32",
                Arith::Sub => "sub_f32",
                Arith::Mul => "mul_f32",
                Arith::Div => "div_f32",
            },
            Kernel::I32 { op, .. } => match op {
                Arith::Add => "add_i32",
                Arith::Sub => "sub_i32",
                Arith::Mul => "mul_i32",
                Arith::Div => "div_i32",
            },
            Kernel::AddQ {
                op: Arith::Sub,
                dtype,
                ..
            } => q(dtype, "sub_i8", "sub_u8"),
            Kernel::AddQ { dtype, .. } => q(dtype, "add_i8", "add_u8"),
            Kernel::MulQ { dtype, .. } => q(dtype, "mul_i8", "mul_u8"),
            Kernel::DivQ { dtype, .. } => q(dtype, "div_i8", "div_u8"),
            Kernel::SquaredDifferenceF32(_) => "squared_difference_f32",
            Kernel::SquaredDifferenceI32(_) => "squared_difference_i32",
            Kernel::SquaredDifferenceQ { .. } => "squared_difference_i8",
            Kernel::Maximum { .. } => "maximum",
            Kernel::Minimum { .. } => "minimum",
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters; an int32 DIV by a stored zero.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::F32 { op, params } => {
                let f = match op {
                    Arith::Add => k::add_f32,
                    Arith::Sub => k::sub_f32,
                    Arith::Mul => k::mul_f32,
                    Arith::Div => k::div_f32,
                };
                run::<f32>(io, &params.shape, |x, y, o| f(params, x, y, o))
            }
            Kernel::I32 {
                op: Arith::Div,
                params,
            } => {
                let mut r = Ok(());
                run::<i32>(io, &params.shape, |x, y, o| {
                    r = k::div_i32_checked(params, x, y, o);
                })?;
                r.map_err(|_| io.err(DIV_BY_ZERO))
            }
            Kernel::I32 { op, params } => {
                let f = match op {
                    Arith::Add => k::add_i32,
                    Arith::Sub => k::sub_i32,
                    Arith::Mul => k::mul_i32,
                    Arith::Div => k::div_i32,
                };
                run::<i32>(io, &params.shape, |x, y, o| f(params, x, y, o))
            }
            Kernel::AddQ { dtype, params, .. } => {
                quantized!(io, dtype, &params.shape, |x, y, o| k::add_q(
                    params, x, y, o
                ))
            }
            Kernel::MulQ { dtype, params } => {
                quantized!(io, dtype, &params.shape, |x, y, o| k::mul_q(
                    params, x, y, o
                ))
            }
            // No zero-divisor check: LiteRT runs quantized DIV on stored zeros (the fixtures do).
            Kernel::DivQ { dtype, params } => {
                quantized!(io, dtype, &params.shape, |x, y, o| k::div_q(
                    params, x, y, o
                ))
            }
            Kernel::SquaredDifferenceF32(s) => {
                run::<f32>(io, s, |x, y, o| k::squared_difference_f32(s, x, y, o))
            }
            Kernel::SquaredDifferenceI32(s) => {
                run::<i32>(io, s, |x, y, o| k::squared_difference_i32(s, x, y, o))
            }
            Kernel::SquaredDifferenceQ { dtype, params } => {
                quantized!(io, dtype, &params.shape, |x, y, o| {
                    k::squared_difference_q(params, x, y, o)
                })
            }
            Kernel::Maximum { dtype, shape } => max_min(io, *dtype, shape, true),
            Kernel::Minimum { dtype, shape } => max_min(io, *dtype, shape, false),
        }
    }
}

/// Operands 0 and 1 and result 0 as `ty`, checked against `shape` like [`run`]; the arguments
/// `param, a, b, out` of the kernel call.
fn rust_operands(
    cx: &mut StepCx<'_>,
    ty: &str,
    shape: &BroadcastShape,
    param: String,
) -> Result<Vec<String>> {
    let x = cx.input(0, ty)?;
    let y = cx.input(1, ty)?;
    if x.len != shape.len1() || y.len != shape.len2() {
        return Err(cx.err("operand sizes do not match their shapes"));
    }
    let out = cx.output(0, ty)?;
    if out.len != shape.num_elements() {
        return Err(cx.err("result size does not match the broadcast shape"));
    }
    Ok(vec![param, x.expr, y.expr, out.expr])
}

/// `path(&PARAM, a, b, out)` with `value` as the `static` `PARAM`.
fn emit_call<T: ToLit>(
    cx: &mut StepCx<'_>,
    ty: &str,
    shape: &BroadcastShape,
    path: &str,
    (what, value): (&str, &T),
) -> Result<()> {
    let p = cx.param(what, value);
    let args = rust_operands(cx, ty, shape, format!("&{p}"))?;
    cx.call(path, &args);
    Ok(())
}

/// The element type of a quantized kernel (`I8` or `U8`).
fn quantized_type(cx: &StepCx<'_>, dtype: DType) -> Result<&'static str> {
    match dtype {
        DType::I8 | DType::U8 => Ok(rust_type(dtype)),
        t => Err(cx.err(format!("no quantized kernel for {t}"))),
    }
}

/// The element type of MAXIMUM / MINIMUM.
fn max_min_type(cx: &StepCx<'_>, dtype: DType) -> Result<&'static str> {
    match dtype {
        DType::F32 | DType::I8 | DType::U8 | DType::I16 | DType::I32 | DType::I64 => {
            Ok(rust_type(dtype))
        }
        t => Err(cx.err(format!("no MAXIMUM/MINIMUM kernel for {t}"))),
    }
}

impl Kernel {
    /// Writes the step's Rust code: the same kernel [`Kernel::exec`] runs, with every parameter a
    /// `static`; an int32 DIV refuses a stored zero divisor at run time.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters; an unsupported type.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        let arith = |op: &Arith, ty: &str| {
            let name = match op {
                Arith::Add => "add",
                Arith::Sub => "sub",
                Arith::Mul => "mul",
                Arith::Div => "div",
            };
            format!("k::binary::{name}_{ty}")
        };
        match self {
            Kernel::F32 { op, params } => {
                let path = arith(op, "f32");
                emit_call(cx, "f32", &params.shape, &path, ("params", params))
            }
            Kernel::I32 {
                op: Arith::Div,
                params,
            } => {
                let p = cx.param("params", params);
                let args = rust_operands(cx, "i32", &params.shape, format!("&{p}"))?;
                cx.call_fallible("k::binary::div_i32_checked", &args, DIV_BY_ZERO);
                Ok(())
            }
            Kernel::I32 { op, params } => {
                let path = arith(op, "i32");
                emit_call(cx, "i32", &params.shape, &path, ("params", params))
            }
            Kernel::AddQ { dtype, params, .. } => {
                let t = quantized_type(cx, *dtype)?;
                emit_call(cx, t, &params.shape, "k::binary::add_q", ("params", params))
            }
            Kernel::MulQ { dtype, params } => {
                let t = quantized_type(cx, *dtype)?;
                emit_call(cx, t, &params.shape, "k::binary::mul_q", ("params", params))
            }
            Kernel::DivQ { dtype, params } => {
                let t = quantized_type(cx, *dtype)?;
                emit_call(cx, t, &params.shape, "k::binary::div_q", ("params", params))
            }
            Kernel::SquaredDifferenceF32(s) => {
                let path = "k::binary::squared_difference_f32";
                emit_call(cx, "f32", s, path, ("shape", s))
            }
            Kernel::SquaredDifferenceI32(s) => {
                let path = "k::binary::squared_difference_i32";
                emit_call(cx, "i32", s, path, ("shape", s))
            }
            Kernel::SquaredDifferenceQ { dtype, params } => {
                let t = quantized_type(cx, *dtype)?;
                let path = "k::binary::squared_difference_q";
                emit_call(cx, t, &params.shape, path, ("params", params))
            }
            Kernel::Maximum { dtype, shape } => {
                let t = max_min_type(cx, *dtype)?;
                emit_call(cx, t, shape, "k::binary::maximum", ("shape", shape))
            }
            Kernel::Minimum { dtype, shape } => {
                let t = max_min_type(cx, *dtype)?;
                emit_call(cx, t, shape, "k::binary::minimum", ("shape", shape))
            }
        }
    }
}

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code (see [`crate::clif`] and `binary_clif.rs`): float
    /// kernels four lanes at a time, integer and quantized ones scalar; an int32 DIV fails the
    /// step on a stored zero divisor.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        clif::emit(self, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Op, Quant};
    use crate::ops::conv_2d::tests::{graph, packed_matches_model, tensor};

    #[test]
    fn in_place_only_without_broadcasting_the_first_operand() {
        let attrs = FusedActAttrs {
            act: Activation::None,
        };
        let q = || Some(Quant::per_tensor(0.1, 3));
        for (a, b, out, in_place) in [
            (&[2, 3][..], &[3][..], &[2, 3][..], Some(0)),
            (&[3], &[2, 3], &[2, 3], None),
            (&[2, 1], &[1, 3], &[2, 3], None),
        ] {
            for dtype in [DType::F32, DType::I8] {
                let quant = if dtype == DType::F32 { None } else { q() };
                let g = graph(
                    Op::Add(attrs.clone()),
                    vec![
                        tensor("a", dtype, a, quant.clone(), false),
                        tensor("b", dtype, b, quant.clone(), false),
                        tensor("y", dtype, out, quant.clone(), false),
                    ],
                );
                let id = g.op_ids()[0];
                let cx = InferCx {
                    graph: &g,
                    node: g.op(id),
                };
                assert_eq!(
                    plan_add(&cx, &attrs).unwrap().in_place,
                    in_place,
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn broadcasting_runs_through_the_lowered_kernel() {
        // The shared helper runs the lowered kernel on random values (both forms are the same
        // here: nothing is packed); this checks the broadcast operand sizes are accepted.
        let attrs = FusedActAttrs {
            act: Activation::Relu,
        };
        let q = Some(Quant::per_tensor(0.1, 3));
        let ts = vec![
            tensor("a", DType::I8, &[3, 1], q.clone(), false),
            tensor("b", DType::I8, &[2, 1, 4], q.clone(), false),
            tensor("y", DType::I8, &[2, 3, 4], q, false),
        ];
        let (k, _) = packed_matches_model(
            11,
            Op::Sub(attrs.clone()),
            &ts,
            &[1],
            |cx| plan_sub(cx, &attrs),
            Kernel::exec,
        );
        assert_eq!(k.name(), "sub_i8");
    }
}

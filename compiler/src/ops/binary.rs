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

use mvcc_runtime::kernels::binary::{
    self as k, AddQParams, BinaryF32Params, BinaryI32Params, BroadcastShape, MulQParams, MAX_RANK,
};
use mvcc_runtime::kernels::common::{ActF32, ActQ, Requant};

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{Activation, DType, FusedActAttrs, Shape, Tensor};
use crate::quant::{act_f32, act_q, qrange, quantize_multiplier};

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
    let ((s1, z1), (s2, z2), (so, zo)) = (qparams(cx, a)?, qparams(cx, b)?, qparams(cx, out)?);
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
        shape: layout(cx)?,
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

/// Runs `f` on operands 0 and 1 and result 0 as `T`, after checking their lengths against `shape`.
fn run<T: bytemuck::Pod>(
    cx: &mut EvalCx<'_>,
    shape: &BroadcastShape,
    f: impl FnOnce(&[T], &[T], &mut [T]),
) -> Result<()> {
    let (x, y) = (cx.input::<T>(0)?, cx.input::<T>(1)?);
    if x.len() != shape.len1() || y.len() != shape.len2() {
        return Err(cx.err("operand sizes do not match their shapes"));
    }
    let n = shape.num_elements();
    let out = cx.output::<T>(0)?;
    if out.len() == n {
        f(x, y, out);
        return Ok(());
    }
    Err(cx.err("result size does not match the broadcast shape"))
}

/// Checks that no stored divisor is zero (TFLite's `CheckNonZero`, an evaluation-time error).
fn check_nonzero<T: bytemuck::Pod + PartialEq + Default>(cx: &EvalCx<'_>) -> Result<()> {
    if cx.input::<T>(1)?.iter().any(|v| *v == T::default()) {
        return Err(cx.err("division by a stored zero (TFLite rejects it)"));
    }
    Ok(())
}

fn eval_arith(cx: &mut EvalCx<'_>, kind: Kind, act: Activation) -> Result<()> {
    let icx = cx.infer_cx();
    let dtype = icx.input(0)?.dtype;
    match (kind, dtype) {
        (_, DType::F32) => {
            let p = float_params(&icx, act)?;
            let f = match kind {
                Kind::Add => k::add_f32,
                Kind::Sub => k::sub_f32,
                Kind::Mul => k::mul_f32,
                _ => k::div_f32,
            };
            run::<f32>(cx, &p.shape, |x, y, o| f(&p, x, y, o))
        }
        (_, DType::I32) => {
            let p = int32_params(&icx, act)?;
            if kind == Kind::Div {
                check_nonzero::<i32>(cx)?;
            }
            let f = match kind {
                Kind::Add => k::add_i32,
                Kind::Sub => k::sub_i32,
                Kind::Mul => k::mul_i32,
                _ => k::div_i32,
            };
            run::<i32>(cx, &p.shape, |x, y, o| f(&p, x, y, o))
        }
        (Kind::Add | Kind::Sub, DType::I8) => {
            let p = add_q_params(&icx, act, kind == Kind::Sub)?;
            run::<i8>(cx, &p.shape, |x, y, o| k::add_q(&p, x, y, o))
        }
        (Kind::Add | Kind::Sub, DType::U8) => {
            let p = add_q_params(&icx, act, kind == Kind::Sub)?;
            run::<u8>(cx, &p.shape, |x, y, o| k::add_q(&p, x, y, o))
        }
        (Kind::Mul, DType::I8) => {
            let p = mul_q_params(&icx, act)?;
            run::<i8>(cx, &p.shape, |x, y, o| k::mul_q(&p, x, y, o))
        }
        (Kind::Mul, DType::U8) => {
            let p = mul_q_params(&icx, act)?;
            run::<u8>(cx, &p.shape, |x, y, o| k::mul_q(&p, x, y, o))
        }
        (Kind::Div, DType::I8) => {
            // No zero-divisor check: LiteRT runs int8 DIV on stored zeros (the fixtures do).
            let p = div_q_params(&icx, act)?;
            run::<i8>(cx, &p.shape, |x, y, o| k::div_q(&p, x, y, o))
        }
        (Kind::Div, DType::U8) => {
            let p = div_q_params(&icx, act)?;
            run::<u8>(cx, &p.shape, |x, y, o| k::div_q(&p, x, y, o))
        }
        _ => Err(icx.unsupported(format!("{dtype} operands"))),
    }
}

/// ADD with the reference kernels.
pub fn eval_add(cx: &mut EvalCx<'_>, a: &FusedActAttrs) -> Result<()> {
    eval_arith(cx, Kind::Add, a.act)
}

/// SUB with the reference kernels.
pub fn eval_sub(cx: &mut EvalCx<'_>, a: &FusedActAttrs) -> Result<()> {
    eval_arith(cx, Kind::Sub, a.act)
}

/// MUL with the reference kernels.
pub fn eval_mul(cx: &mut EvalCx<'_>, a: &FusedActAttrs) -> Result<()> {
    eval_arith(cx, Kind::Mul, a.act)
}

/// DIV with the reference kernels.
pub fn eval_div(cx: &mut EvalCx<'_>, a: &FusedActAttrs) -> Result<()> {
    eval_arith(cx, Kind::Div, a.act)
}

/// SQUARED_DIFFERENCE with the reference kernels.
pub fn eval_squared_difference(cx: &mut EvalCx<'_>) -> Result<()> {
    let icx = cx.infer_cx();
    match icx.input(0)?.dtype {
        DType::F32 => {
            let s = layout(&icx)?;
            run::<f32>(cx, &s, |x, y, o| k::squared_difference_f32(&s, x, y, o))
        }
        DType::I32 => {
            let s = layout(&icx)?;
            run::<i32>(cx, &s, |x, y, o| k::squared_difference_i32(&s, x, y, o))
        }
        DType::I8 => {
            let p = squared_difference_q_params(&icx)?;
            run::<i8>(cx, &p.shape, |x, y, o| k::squared_difference_q(&p, x, y, o))
        }
        t => Err(icx.unsupported(format!("{t} operands"))),
    }
}

fn eval_max_min(cx: &mut EvalCx<'_>, max: bool) -> Result<()> {
    let icx = cx.infer_cx();
    let s = layout(&icx)?;
    macro_rules! go {
        ($t:ty) => {
            run::<$t>(cx, &s, |x, y, o| {
                if max {
                    k::maximum(&s, x, y, o)
                } else {
                    k::minimum(&s, x, y, o)
                }
            })
        };
    }
    match icx.input(0)?.dtype {
        DType::F32 => go!(f32),
        DType::I8 => go!(i8),
        DType::U8 => go!(u8),
        DType::I16 => go!(i16),
        DType::I32 => go!(i32),
        DType::I64 => go!(i64),
        t => Err(icx.unsupported(format!("{t} operands"))),
    }
}

/// MAXIMUM with the reference kernel.
pub fn eval_maximum(cx: &mut EvalCx<'_>) -> Result<()> {
    eval_max_min(cx, true)
}

/// MINIMUM with the reference kernel.
pub fn eval_minimum(cx: &mut EvalCx<'_>) -> Result<()> {
    eval_max_min(cx, false)
}

/// Lowers Add (transitional: evaluated from the graph).
pub fn lower_add(cx: &mut crate::lower::LowerCx<'_>, _a: &crate::ir::FusedActAttrs) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}

/// Lowers Sub (transitional: evaluated from the graph).
pub fn lower_sub(cx: &mut crate::lower::LowerCx<'_>, _a: &crate::ir::FusedActAttrs) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}

/// Lowers Mul (transitional: evaluated from the graph).
pub fn lower_mul(cx: &mut crate::lower::LowerCx<'_>, _a: &crate::ir::FusedActAttrs) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}

/// Lowers Div (transitional: evaluated from the graph).
pub fn lower_div(cx: &mut crate::lower::LowerCx<'_>, _a: &crate::ir::FusedActAttrs) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}

/// Lowers SquaredDifference (transitional: evaluated from the graph).
pub fn lower_squared_difference(cx: &mut crate::lower::LowerCx<'_>) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}

/// Lowers Maximum (transitional: evaluated from the graph).
pub fn lower_maximum(cx: &mut crate::lower::LowerCx<'_>) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}

/// Lowers Minimum (transitional: evaluated from the graph).
pub fn lower_minimum(cx: &mut crate::lower::LowerCx<'_>) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}


/// The `binary` family's kernels, each with its parameters (filled in as the family is lowered).
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

//! MEAN, SUM and REDUCE_MAX over constant axes (TFLite `kernels/reduce.cc`).
//!
//! Shape rule (`GetOutputShape`): negative axes count from the end, repeated axes count once;
//! with `keep_dims` each reduced dimension becomes 1, else it is dropped. An empty axis list
//! copies the input unchanged (TFLite's `ReduceIsCopy`: no requantization either).
//!
//! Quantized MEAN (`int8`, `uint8`) and `uint8` SUM follow the reference `QuantizedMeanOrSum`:
//! an `int32` sum of raw values, `M = S_in / S_out` from `QuantizeMultiplier` (double), for MEAN
//! divided by the element count in integers. `int8` SUM follows the optimized kernel's float
//! arithmetic instead: LiteRT's reference `int8` SUM reads the data as `uint8` (a TFLite bug that
//! returns garbage), and the default kernels and XNNPACK both compute the float formula.
//! REDUCE_MAX compares raw values and requires equal input and output quantization.

use mvcc_kernels::kernels::reduce::{
    self as k, QuantizedMeanOrSumParams, ReduceShape, SumI8FloatParams, MAX_REDUCE_RANK,
};

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{DType, ReduceAttrs, Shape};
use crate::lower::{LowerCx, Step};
use crate::quant::quantize_multiplier;
use crate::rust::step::{Slice, StepCx};

/// The reduced axes, resolved (non-negative, deduplicated, sorted).
fn resolve_axes(cx: &InferCx<'_>, rank: usize) -> Result<Vec<usize>> {
    let raw = cx.const_ints(1)?;
    let r = rank as i64;
    let mut axes = Vec::with_capacity(raw.len());
    for a in raw {
        let axis = if a < 0 { a + r } else { a };
        if !(0..r).contains(&axis) {
            return Err(cx.err(format!("axis {a} out of range for rank {rank}")));
        }
        axes.push(axis as usize);
    }
    axes.sort_unstable();
    axes.dedup();
    Ok(axes)
}

fn output_shape(input: &[usize], axes: &[usize], keep_dims: bool) -> Shape {
    let mut out = Vec::with_capacity(input.len());
    for (i, &d) in input.iter().enumerate() {
        if axes.contains(&i) {
            if keep_dims {
                out.push(1);
            }
        } else {
            out.push(d);
        }
    }
    out
}

fn infer_reduce(cx: &InferCx<'_>, a: &ReduceAttrs, dtypes: &[DType]) -> Result<Vec<Shape>> {
    cx.arity(2, 2, 1)?;
    let input = cx.expect_dtype(0, dtypes)?;
    let out = cx.output(0)?;
    if out.dtype != input.dtype {
        return Err(cx.err(format!(
            "output type {} differs from input type {}",
            out.dtype, input.dtype
        )));
    }
    let axes = resolve_axes(cx, input.shape.len())?;
    Ok(vec![output_shape(&input.shape, &axes, a.keep_dims)])
}

/// MEAN: f32, i32, i64, and per-tensor quantized i8/u8.
pub fn infer_mean(cx: &InferCx<'_>, a: &ReduceAttrs) -> Result<Vec<Shape>> {
    infer_reduce(
        cx,
        a,
        &[DType::F32, DType::I32, DType::I64, DType::I8, DType::U8],
    )
}

/// SUM: f32, i32, i64, and per-tensor quantized i8/u8.
pub fn infer_sum(cx: &InferCx<'_>, a: &ReduceAttrs) -> Result<Vec<Shape>> {
    infer_reduce(
        cx,
        a,
        &[DType::F32, DType::I32, DType::I64, DType::I8, DType::U8],
    )
}

/// REDUCE_MAX: f32, i32, i64, i8, u8, i16 (quantized ones keep their quantization).
pub fn infer_reduce_max(cx: &InferCx<'_>, a: &ReduceAttrs) -> Result<Vec<Shape>> {
    infer_reduce(
        cx,
        a,
        &[
            DType::F32,
            DType::I32,
            DType::I64,
            DType::I8,
            DType::U8,
            DType::I16,
        ],
    )
}

/// The reduction's shape with adjacent dimensions of the same kind merged (as TFLite's
/// `ResolveAxis`), or `None` when the axis list is empty (a copy).
pub fn reduce_shape(cx: &InferCx<'_>) -> Result<Option<ReduceShape>> {
    let input = cx.input(0)?;
    if cx.const_ints(1)?.is_empty() {
        return Ok(None);
    }
    let axes = resolve_axes(cx, input.shape.len())?;
    let mut dims: Vec<(usize, bool)> = Vec::new();
    for (i, &d) in input.shape.iter().enumerate() {
        let r = axes.contains(&i);
        match dims.last_mut() {
            Some((pd, pr)) if *pr == r => *pd *= d,
            _ => dims.push((d, r)),
        }
    }
    if dims.len() > MAX_REDUCE_RANK {
        return Err(cx.unsupported(format!(
            "a reduction with more than {MAX_REDUCE_RANK} alternating groups of dimensions"
        )));
    }
    let mut s = ReduceShape {
        rank: dims.len(),
        dims: [1; MAX_REDUCE_RANK],
        reduced: [false; MAX_REDUCE_RANK],
    };
    for (i, (d, r)) in dims.into_iter().enumerate() {
        s.dims[i] = d;
        s.reduced[i] = r;
    }
    Ok(Some(s))
}

/// Parameters of quantized MEAN or SUM as TFLite's `PrepareMeanOrSum` and the reference
/// `QuantizedMeanOrSum` compute them.
pub fn quantized_mean_or_sum_params(
    cx: &InferCx<'_>,
    shape: ReduceShape,
    mean: bool,
) -> Result<QuantizedMeanOrSumParams> {
    let (in_scale, in_zp) = cx.per_tensor_quant(cx.input(0)?)?;
    let (out_scale, out_zp) = cx.per_tensor_quant(cx.output(0)?)?;
    let m = quantize_multiplier(f64::from(in_scale) / f64::from(out_scale));
    let (mut multiplier, mut shift) = (m.multiplier, m.shift);
    let n = shape.reduced_len() as u64;
    if mean && n > 0 {
        // Fold 1/n into the multiplier: floor(log2 n) more bits, an integer division.
        let mut bits = 63 - n.leading_zeros() as i32;
        bits = bits.min(32).min(31 + shift);
        multiplier = ((i64::from(multiplier) << bits) / n as i64) as i32;
        shift -= bits;
    }
    Ok(QuantizedMeanOrSumParams {
        shape,
        multiplier,
        shift,
        input_zero_point: in_zp,
        output_zero_point: out_zp,
    })
}

/// Parameters of `int8` SUM as TFLite's optimized `QuantizedMeanOrSum` uses them: the scale
/// ratio and the zero-point correction in float.
pub fn sum_i8_float_params(cx: &InferCx<'_>, shape: ReduceShape) -> Result<SumI8FloatParams> {
    let (in_scale, in_zp) = cx.per_tensor_quant(cx.input(0)?)?;
    let (out_scale, out_zp) = cx.per_tensor_quant(cx.output(0)?)?;
    let scale = in_scale / out_scale;
    let bias = (-in_zp) as f32 * scale * shape.reduced_len() as f32;
    Ok(SumI8FloatParams {
        shape,
        scale,
        bias,
        output_zero_point: out_zp,
    })
}

/// Which reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Mean,
    Sum,
    Max,
}

/// The kernel of a reduction and its parameters (`PrepareMeanOrSum` / `PrepareSimple`).
fn reduce_kernel(cx: &InferCx<'_>, which: Which) -> Result<Kernel> {
    let (input, out) = (cx.input(0)?, cx.output(0)?);
    let quantized = input.dtype.is_quantized_int() && input.quant.is_some();
    if which == Which::Max
        && quantized
        && cx.per_tensor_quant(input)? != cx.per_tensor_quant(out)?
    {
        return Err(cx.err("REDUCE_MAX needs the same scale and zero point on input and output"));
    }
    let Some(shape) = reduce_shape(cx)? else {
        return Ok(Kernel::Copy);
    };
    if input.num_elements() != shape.input_len() || out.num_elements() != shape.output_len() {
        return Err(cx.err("tensor sizes do not match the reduction"));
    }
    Ok(match (which, input.dtype) {
        (Which::Mean, DType::F32) => Kernel::MeanF32(shape),
        (Which::Mean, DType::I32) => Kernel::MeanI32(shape),
        (Which::Mean, DType::I64) => Kernel::MeanI64(shape),
        (Which::Mean, DType::I8) => {
            Kernel::MeanOrSumI8(quantized_mean_or_sum_params(cx, shape, true)?)
        }
        (Which::Mean, DType::U8) => {
            Kernel::MeanOrSumU8(quantized_mean_or_sum_params(cx, shape, true)?)
        }
        (Which::Sum, DType::F32) => Kernel::SumF32(shape),
        (Which::Sum, DType::I32) => Kernel::SumI32(shape),
        (Which::Sum, DType::I64) => Kernel::SumI64(shape),
        (Which::Sum, DType::I8) => Kernel::SumI8Float(sum_i8_float_params(cx, shape)?),
        (Which::Sum, DType::U8) => {
            Kernel::MeanOrSumU8(quantized_mean_or_sum_params(cx, shape, false)?)
        }
        (Which::Max, DType::F32) => Kernel::MaxF32(shape),
        (Which::Max, DType::I32) => Kernel::MaxI32(shape),
        (Which::Max, DType::I64) => Kernel::MaxI64(shape),
        (Which::Max, DType::I8) => Kernel::MaxI8(shape),
        (Which::Max, DType::U8) => Kernel::MaxU8(shape),
        (Which::Max, DType::I16) => Kernel::MaxI16(shape),
        (_, t) => return Err(cx.unsupported(format!("input type {t}"))),
    })
}

/// Runs `kernel` on the operands of an evaluation context.
fn eval_kernel(cx: &mut EvalCx<'_>, kernel: &Kernel) -> Result<()> {
    let inputs = cx.inputs.clone();
    cx.run_step(inputs, kernel.scratch_bytes(), |io| kernel.exec(io))
}

/// MEAN.
pub fn eval_mean(cx: &mut EvalCx<'_>, _a: &ReduceAttrs) -> Result<()> {
    let kernel = reduce_kernel(&cx.infer_cx(), Which::Mean)?;
    eval_kernel(cx, &kernel)
}

/// SUM.
pub fn eval_sum(cx: &mut EvalCx<'_>, _a: &ReduceAttrs) -> Result<()> {
    let kernel = reduce_kernel(&cx.infer_cx(), Which::Sum)?;
    eval_kernel(cx, &kernel)
}

/// REDUCE_MAX.
pub fn eval_reduce_max(cx: &mut EvalCx<'_>, _a: &ReduceAttrs) -> Result<()> {
    let kernel = reduce_kernel(&cx.infer_cx(), Which::Max)?;
    eval_kernel(cx, &kernel)
}

/// One step reading only the data operand (the axes are in the parameters).
fn lower_reduce(cx: &mut LowerCx<'_>, which: Which) -> Result<Vec<Step>> {
    let kernel = reduce_kernel(&cx.icx, which)?;
    let input = cx.required(0)?;
    let outputs = cx.outputs()?;
    let origin = cx.origin();
    let kernel = match kernel {
        Kernel::Copy => crate::lower::Kernel::Copy,
        k => crate::lower::Kernel::Reduce(k),
    };
    let mut step = Step::new(kernel, vec![Some(input)], outputs, origin);
    if let crate::lower::Kernel::Reduce(k) = &step.kernel {
        step.scratch_bytes = k.scratch_bytes();
    }
    Ok(vec![step])
}

/// Lowers MEAN to one step.
pub fn lower_mean(cx: &mut LowerCx<'_>, _a: &ReduceAttrs) -> Result<Vec<Step>> {
    lower_reduce(cx, Which::Mean)
}

/// Lowers SUM to one step.
pub fn lower_sum(cx: &mut LowerCx<'_>, _a: &ReduceAttrs) -> Result<Vec<Step>> {
    lower_reduce(cx, Which::Sum)
}

/// Lowers REDUCE_MAX to one step.
pub fn lower_reduce_max(cx: &mut LowerCx<'_>, _a: &ReduceAttrs) -> Result<Vec<Step>> {
    lower_reduce(cx, Which::Max)
}

/// The `reduce` family's kernels, each with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// An empty axis list: the input is copied (lowered to the program's copy kernel).
    Copy,
    /// Float MEAN.
    MeanF32(ReduceShape),
    /// `int32` MEAN (an `int64` sum per output in scratch).
    MeanI32(ReduceShape),
    /// `int64` MEAN (an `int64` sum per output in scratch).
    MeanI64(ReduceShape),
    /// `int8` MEAN (an `int32` sum per output in scratch).
    MeanOrSumI8(QuantizedMeanOrSumParams),
    /// `uint8` MEAN or SUM (an `int32` sum per output in scratch).
    MeanOrSumU8(QuantizedMeanOrSumParams),
    /// Float SUM.
    SumF32(ReduceShape),
    /// `int32` SUM.
    SumI32(ReduceShape),
    /// `int64` SUM.
    SumI64(ReduceShape),
    /// `int8` SUM in float (an `int32` sum per output in scratch).
    SumI8Float(SumI8FloatParams),
    /// Float REDUCE_MAX.
    MaxF32(ReduceShape),
    /// `int32` REDUCE_MAX.
    MaxI32(ReduceShape),
    /// `int64` REDUCE_MAX.
    MaxI64(ReduceShape),
    /// `int8` REDUCE_MAX.
    MaxI8(ReduceShape),
    /// `uint8` REDUCE_MAX.
    MaxU8(ReduceShape),
    /// `int16` REDUCE_MAX.
    MaxI16(ReduceShape),
}

/// The operand as `T`, the result as `T` and the scratch as `S`, checked against the shape.
fn io_with_scratch<'a, T: bytemuck::Pod, S: bytemuck::Pod>(
    io: &'a mut StepIo<'_>,
    shape: &ReduceShape,
) -> Result<(&'a [T], &'a mut [T], &'a mut [S])> {
    let bad = io.err("operand, result or scratch sizes do not match the reduction");
    let x = io.input::<T>(0)?;
    let y = io.outputs.get_mut(0).and_then(|b| b.as_mut_slice::<T>());
    let s = io.scratch.as_mut_slice::<S>();
    match (y, s) {
        (Some(y), Some(s))
            if x.len() == shape.input_len()
                && y.len() == shape.output_len()
                && s.len() >= shape.output_len() =>
        {
            Ok((x, y, &mut s[..shape.output_len()]))
        }
        _ => Err(bad),
    }
}

/// The operand and result as `T`, checked against the shape.
fn io_plain<'a, T: bytemuck::Pod>(
    io: &'a mut StepIo<'_>,
    shape: &ReduceShape,
) -> Result<(&'a [T], &'a mut [T])> {
    let bad = io.err("operand or result sizes do not match the reduction");
    let x = io.input::<T>(0)?;
    match io.outputs.get_mut(0).and_then(|b| b.as_mut_slice::<T>()) {
        Some(y) if x.len() == shape.input_len() && y.len() == shape.output_len() => Ok((x, y)),
        _ => Err(bad),
    }
}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::Copy => "copy",
            Kernel::MeanF32(_) => "mean_f32",
            Kernel::MeanI32(_) => "mean_i32",
            Kernel::MeanI64(_) => "mean_i64",
            Kernel::MeanOrSumI8(_) => "mean_i8",
            Kernel::MeanOrSumU8(_) => "mean_or_sum_u8",
            Kernel::SumF32(_) => "sum_f32",
            Kernel::SumI32(_) => "sum_i32",
            Kernel::SumI64(_) => "sum_i64",
            Kernel::SumI8Float(_) => "sum_i8",
            Kernel::MaxF32(_) => "reduce_max_f32",
            Kernel::MaxI32(_) => "reduce_max_i32",
            Kernel::MaxI64(_) => "reduce_max_i64",
            Kernel::MaxI8(_) => "reduce_max_i8",
            Kernel::MaxU8(_) => "reduce_max_u8",
            Kernel::MaxI16(_) => "reduce_max_i16",
        }
    }

    /// Bytes of scratch memory the kernel needs (one accumulator per output).
    pub fn scratch_bytes(&self) -> usize {
        match self {
            Kernel::MeanI32(s) | Kernel::MeanI64(s) => 8 * s.output_len(),
            Kernel::MeanOrSumI8(p) | Kernel::MeanOrSumU8(p) => 4 * p.shape.output_len(),
            Kernel::SumI8Float(p) => 4 * p.shape.output_len(),
            _ => 0,
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand, result or scratch sizes that do not match the parameters.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::Copy => {
                let x = io.input::<u8>(0)?;
                if io.output::<u8>(0)?.len() != x.len() {
                    return Err(io.err("copy between values of different sizes"));
                }
                io.output::<u8>(0)?.copy_from_slice(x);
            }
            Kernel::MeanF32(s) => io_plain::<f32>(io, s).map(|(x, y)| k::mean_f32(s, x, y))?,
            Kernel::MeanI32(s) => {
                let (x, y, t) = io_with_scratch::<i32, i64>(io, s)?;
                k::mean_int(s, x, y, t);
            }
            Kernel::MeanI64(s) => {
                let (x, y, t) = io_with_scratch::<i64, i64>(io, s)?;
                k::mean_int(s, x, y, t);
            }
            Kernel::MeanOrSumI8(p) => {
                let (x, y, t) = io_with_scratch::<i8, i32>(io, &p.shape)?;
                k::quantized_mean_or_sum(p, x, y, t);
            }
            Kernel::MeanOrSumU8(p) => {
                let (x, y, t) = io_with_scratch::<u8, i32>(io, &p.shape)?;
                k::quantized_mean_or_sum(p, x, y, t);
            }
            Kernel::SumF32(s) => io_plain::<f32>(io, s).map(|(x, y)| k::sum_f32(s, x, y))?,
            Kernel::SumI32(s) => io_plain::<i32>(io, s).map(|(x, y)| k::sum_i32(s, x, y))?,
            Kernel::SumI64(s) => io_plain::<i64>(io, s).map(|(x, y)| k::sum_i64(s, x, y))?,
            Kernel::SumI8Float(p) => {
                let (x, y, t) = io_with_scratch::<i8, i32>(io, &p.shape)?;
                k::sum_i8_float(p, x, y, t);
            }
            Kernel::MaxF32(s) => {
                io_plain::<f32>(io, s).map(|(x, y)| k::reduce_max(s, f32::MIN, x, y))?
            }
            Kernel::MaxI32(s) => {
                io_plain::<i32>(io, s).map(|(x, y)| k::reduce_max(s, i32::MIN, x, y))?
            }
            Kernel::MaxI64(s) => {
                io_plain::<i64>(io, s).map(|(x, y)| k::reduce_max(s, i64::MIN, x, y))?
            }
            Kernel::MaxI8(s) => {
                io_plain::<i8>(io, s).map(|(x, y)| k::reduce_max(s, i8::MIN, x, y))?
            }
            Kernel::MaxU8(s) => {
                io_plain::<u8>(io, s).map(|(x, y)| k::reduce_max(s, u8::MIN, x, y))?
            }
            Kernel::MaxI16(s) => {
                io_plain::<i16>(io, s).map(|(x, y)| k::reduce_max(s, i16::MIN, x, y))?
            }
        }
        Ok(())
    }
}

/// Operand and result expressions as `ty`, checked against the shape like [`io_plain`].
fn rust_io(cx: &mut StepCx<'_>, ty: &str, shape: &ReduceShape) -> Result<(Slice, Slice)> {
    let x = cx.input(0, ty)?;
    let y = cx.output(0, ty)?;
    if x.len != shape.input_len() || y.len != shape.output_len() {
        return Err(cx.err("operand or result sizes do not match the reduction"));
    }
    Ok((x, y))
}

/// Operand, result and scratch expressions, checked like [`io_with_scratch`] (the scratch cut to
/// one accumulator per output).
fn rust_io_scratch(
    cx: &mut StepCx<'_>,
    (ty, acc): (&str, &str),
    shape: &ReduceShape,
) -> Result<(Slice, Slice, String)> {
    let (x, y) = rust_io(cx, ty, shape)?;
    let s = cx.scratch(acc)?;
    let n = shape.output_len();
    if s.len < n {
        return Err(cx.err("operand, result or scratch sizes do not match the reduction"));
    }
    let s = if s.len == n {
        s.expr
    } else {
        format!("&mut {}[..{n}]", s.expr)
    };
    Ok((x, y, s))
}

impl Kernel {
    /// Writes the step's Rust code: the same kernel [`Kernel::exec`] runs, with every parameter a
    /// `static`.
    ///
    /// # Errors
    /// Operand, result or scratch sizes that do not match the parameters.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        let plain = |cx: &mut StepCx<'_>, f: &str, ty: &str, s: &ReduceShape| -> Result<()> {
            let (x, y) = rust_io(cx, ty, s)?;
            let p = cx.param("shape", s);
            cx.call(
                &format!("k::reduce::{f}"),
                &[format!("&{p}"), x.expr, y.expr],
            );
            Ok(())
        };
        let max = |cx: &mut StepCx<'_>, ty: &str, s: &ReduceShape| -> Result<()> {
            let (x, y) = rust_io(cx, ty, s)?;
            let p = cx.param("shape", s);
            let lowest = format!("{ty}::MIN");
            cx.call(
                "k::reduce::reduce_max",
                &[format!("&{p}"), lowest, x.expr, y.expr],
            );
            Ok(())
        };
        let mean_int = |cx: &mut StepCx<'_>, ty: &str, s: &ReduceShape| -> Result<()> {
            let (x, y, t) = rust_io_scratch(cx, (ty, "i64"), s)?;
            let p = cx.param("shape", s);
            cx.call("k::reduce::mean_int", &[format!("&{p}"), x.expr, y.expr, t]);
            Ok(())
        };
        match self {
            Kernel::Copy => {
                let x = cx.input(0, "u8")?;
                let y = cx.output(0, "u8")?;
                if x.len != y.len {
                    return Err(cx.err("copy between values of different sizes"));
                }
                cx.stmt(format!("        {}.copy_from_slice({});", y.expr, x.expr));
                Ok(())
            }
            Kernel::MeanF32(s) => plain(cx, "mean_f32", "f32", s),
            Kernel::MeanI32(s) => mean_int(cx, "i32", s),
            Kernel::MeanI64(s) => mean_int(cx, "i64", s),
            Kernel::MeanOrSumI8(p) | Kernel::MeanOrSumU8(p) => {
                let ty = if matches!(self, Kernel::MeanOrSumU8(_)) {
                    "u8"
                } else {
                    "i8"
                };
                let (x, y, t) = rust_io_scratch(cx, (ty, "i32"), &p.shape)?;
                let p = cx.param("params", p);
                cx.call(
                    "k::reduce::quantized_mean_or_sum",
                    &[format!("&{p}"), x.expr, y.expr, t],
                );
                Ok(())
            }
            Kernel::SumF32(s) => plain(cx, "sum_f32", "f32", s),
            Kernel::SumI32(s) => plain(cx, "sum_i32", "i32", s),
            Kernel::SumI64(s) => plain(cx, "sum_i64", "i64", s),
            Kernel::SumI8Float(p) => {
                let (x, y, t) = rust_io_scratch(cx, ("i8", "i32"), &p.shape)?;
                let p = cx.param("params", p);
                cx.call(
                    "k::reduce::sum_i8_float",
                    &[format!("&{p}"), x.expr, y.expr, t],
                );
                Ok(())
            }
            Kernel::MaxF32(s) => max(cx, "f32", s),
            Kernel::MaxI32(s) => max(cx, "i32", s),
            Kernel::MaxI64(s) => max(cx, "i64", s),
            Kernel::MaxI8(s) => max(cx, "i8", s),
            Kernel::MaxU8(s) => max(cx, "u8", s),
            Kernel::MaxI16(s) => max(cx, "i16", s),
        }
    }
}

#[cfg(feature = "cranelift")]
#[path = "reduce_clif.rs"]
pub(crate) mod clif;

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code (`reduce_clif.rs`).
    ///
    /// # Errors
    /// Operand or result sizes that do not match the parameters.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        clif::emit(self, cx)
    }
}

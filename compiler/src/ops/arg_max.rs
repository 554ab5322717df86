//! ARG_MAX over one constant axis (TFLite `kernels/arg_min_max.cc`): the output drops the axis
//! and holds `int32` or `int64` indices, the first one on ties. Inputs: f32, i32, i64, i8, u8
//! (quantized inputs compare raw values, which orders them the same way).

use mvcc_kernels::kernels::arg_max::{self as k, ArgIndex, ArgMaxParams};

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{DType, OutTypeAttrs, Shape};
use crate::lower::{LowerCx, Step};
use crate::rust::step::{rust_type, StepCx};

/// The resolved axis.
fn axis(cx: &InferCx<'_>, rank: usize) -> Result<usize> {
    let v = cx.const_ints(1)?;
    let [a] = v[..] else {
        return Err(cx.err("the axis operand must hold one value"));
    };
    let r = rank as i64;
    let a = if a < 0 { a + r } else { a };
    if !(0..r).contains(&a) {
        return Err(cx.err(format!("axis out of range for rank {rank}")));
    }
    Ok(a as usize)
}

/// ARG_MAX: the input shape without the axis.
pub fn infer_arg_max(cx: &InferCx<'_>, a: &OutTypeAttrs) -> Result<Vec<Shape>> {
    cx.arity(2, 2, 1)?;
    let input = cx.expect_dtype(
        0,
        &[DType::F32, DType::I32, DType::I64, DType::I8, DType::U8],
    )?;
    let out = cx.output(0)?;
    if !matches!(out.dtype, DType::I32 | DType::I64) || out.dtype != a.out {
        return Err(cx.unsupported(format!("output type {}", out.dtype)));
    }
    let ax = axis(cx, input.shape.len())?;
    let mut shape = input.shape.clone();
    shape.remove(ax);
    Ok(vec![shape])
}

/// The input seen as `[outer, axis, inner]`.
pub fn arg_max_params(cx: &InferCx<'_>) -> Result<ArgMaxParams> {
    let shape = &cx.input(0)?.shape;
    let ax = axis(cx, shape.len())?;
    Ok(ArgMaxParams {
        outer: shape[..ax].iter().product(),
        axis: shape[ax],
        inner: shape[ax + 1..].iter().product(),
    })
}

/// The kernel of an ARG_MAX and its parameters.
pub fn arg_max_kernel(cx: &InferCx<'_>) -> Result<Kernel> {
    let params = arg_max_params(cx)?;
    let (input, output) = (cx.input(0)?.dtype, cx.output(0)?.dtype);
    if !matches!(
        input,
        DType::F32 | DType::I32 | DType::I64 | DType::I8 | DType::U8
    ) || !matches!(output, DType::I32 | DType::I64)
    {
        return Err(cx.unsupported(format!("input type {input} with output type {output}")));
    }
    Ok(Kernel::ArgMax {
        params,
        input,
        output,
    })
}

/// ARG_MAX.
pub fn eval_arg_max(cx: &mut EvalCx<'_>, _a: &OutTypeAttrs) -> Result<()> {
    let kernel = arg_max_kernel(&cx.infer_cx())?;
    let inputs = cx.inputs.clone();
    cx.run_step(inputs, 0, |io| kernel.exec(io))
}

/// Lowers ARG_MAX to one step reading only the data operand (the axis is in the parameters).
pub fn lower_arg_max(cx: &mut LowerCx<'_>, _a: &OutTypeAttrs) -> Result<Vec<Step>> {
    let kernel = arg_max_kernel(&cx.icx)?;
    let input = cx.required(0)?;
    let outputs = cx.outputs()?;
    let origin = cx.origin();
    Ok(vec![Step::new(
        crate::lower::Kernel::ArgMax(kernel),
        vec![Some(input)],
        outputs,
        origin,
    )])
}

/// The `arg_max` family's kernel.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// ARG_MAX of an `input` tensor into `output` indices (`int32` or `int64`).
    ArgMax {
        /// The `[outer, axis, inner]` layout.
        params: ArgMaxParams,
        /// Element type of the input.
        input: DType,
        /// Element type of the indices.
        output: DType,
    },
}

fn exec_typed<T: Copy + PartialOrd + bytemuck::Pod, I: ArgIndex + bytemuck::Pod>(
    io: &mut StepIo<'_>,
    p: &ArgMaxParams,
) -> Result<()> {
    let x = io.input::<T>(0)?;
    let n_out = io.output::<I>(0)?.len();
    let n_in = p
        .outer
        .checked_mul(p.axis)
        .and_then(|v| v.checked_mul(p.inner));
    if n_in != Some(x.len()) || p.outer.checked_mul(p.inner) != Some(n_out) {
        return Err(io.err("operand or result size does not match the parameters"));
    }
    k::arg_max(p, x, io.output::<I>(0)?);
    Ok(())
}

fn exec_input<T: Copy + PartialOrd + bytemuck::Pod>(
    io: &mut StepIo<'_>,
    p: &ArgMaxParams,
    output: DType,
) -> Result<()> {
    match output {
        DType::I64 => exec_typed::<T, i64>(io, p),
        _ => exec_typed::<T, i32>(io, p),
    }
}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        "arg_max"
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters; an unsupported type.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        let Kernel::ArgMax {
            params,
            input,
            output,
        } = self;
        match input {
            DType::F32 => exec_input::<f32>(io, params, *output),
            DType::I32 => exec_input::<i32>(io, params, *output),
            DType::I64 => exec_input::<i64>(io, params, *output),
            DType::I8 => exec_input::<i8>(io, params, *output),
            DType::U8 => exec_input::<u8>(io, params, *output),
            t => Err(io.err(format!("ARG_MAX of {t} is not supported"))),
        }
    }
}

impl Kernel {
    /// Writes the step's Rust code: the same kernel [`Kernel::exec`] runs, with every parameter a
    /// `static`.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters; an unsupported type.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        let Kernel::ArgMax {
            params,
            input,
            output,
        } = self;
        if !matches!(
            input,
            DType::F32 | DType::I32 | DType::I64 | DType::I8 | DType::U8
        ) {
            return Err(cx.err(format!("ARG_MAX of {input} is not supported")));
        }
        let index = if *output == DType::I64 { "i64" } else { "i32" };
        let x = cx.input(0, rust_type(*input))?;
        let out = cx.output(0, index)?;
        let p = params;
        let n_in = p
            .outer
            .checked_mul(p.axis)
            .and_then(|v| v.checked_mul(p.inner));
        if n_in != Some(x.len) || p.outer.checked_mul(p.inner) != Some(out.len) {
            return Err(cx.err("operand or result size does not match the parameters"));
        }
        let name = cx.param("params", params);
        cx.call(
            "k::arg_max::arg_max",
            &[format!("&{name}"), x.expr, out.expr],
        );
        Ok(())
    }
}

#[cfg(feature = "cranelift")]
#[path = "arg_max_clif.rs"]
mod clif;

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code (`arg_max_clif.rs`).
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters; an unsupported type.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        let Kernel::ArgMax {
            params,
            input,
            output,
        } = self;
        clif::emit(cx, params, *input, *output)
    }
}

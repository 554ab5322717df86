//! SPLIT, SPLIT_V, PACK and UNPACK (TFLite `split.cc`, `split_v.cc`, `pack.cc`, `unpack.cc`).
//!
//! - SPLIT: operands **(axis, input)**; `num_splits` equal parts along the constant axis.
//! - SPLIT_V: operands (input, size_splits, axis); `size_splits` may hold one `-1`, which takes
//!   what the others leave.
//! - PACK: stacks `values_count` equal tensors along a new axis (`axis` in `[-(rank+1), rank]`).
//! - UNPACK: the inverse, along an existing axis whose size must be `num`.
//!
//! PACK and UNPACK require every operand and result to share scale and zero point (TFLite's
//! Prepare checks it for every type); SPLIT and SPLIT_V only move values.

use mvcc_kernels::kernels::split_pack::{self as kernel, SplitParams};

use super::transpose::{expect_same_quant, norm_axis, with_width, DataKernel, Width};
use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{DType, PackAttrs, Shape, SplitAttrs, Tensor};
use crate::lower::{LowerCx, Step};
use crate::rust::step::{Slice, StepCx};

/// Element types TFLite's SPLIT moves.
const SPLIT_DTYPES: &[DType] = &[DType::F32, DType::U8, DType::I8, DType::I16, DType::I32];
/// Element types TFLite's SPLIT_V moves.
const SPLIT_V_DTYPES: &[DType] = &[
    DType::F32,
    DType::U8,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
];
/// Element types TFLite's PACK moves (of those mvcc represents).
const PACK_DTYPES: &[DType] = &[
    DType::F32,
    DType::U8,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
];
/// Element types TFLite's UNPACK moves (of those mvcc represents).
const UNPACK_DTYPES: &[DType] = &[
    DType::F32,
    DType::U8,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::Bool,
];

/// The value of a constant one-element axis operand.
fn scalar_axis(cx: &InferCx<'_>, i: usize) -> Result<i64> {
    match cx.const_ints(i)?[..] {
        [axis] => Ok(axis),
        _ => Err(cx.err("the axis operand must hold one value")),
    }
}

/// Checks that every result has `input`'s type.
fn expect_outputs_dtype(cx: &InferCx<'_>, input: &Tensor) -> Result<()> {
    for i in 0..cx.node.outputs.len() {
        let o = cx.output(i)?;
        if o.dtype != input.dtype {
            return Err(cx.err(format!(
                "output {i} has type {}, the input {}",
                o.dtype, input.dtype
            )));
        }
    }
    Ok(())
}

/// Checks `num_splits` against the number of results.
fn expect_num_outputs(cx: &InferCx<'_>, n: usize) -> Result<()> {
    let got = cx.node.outputs.len();
    if got != n || n == 0 {
        return Err(cx.err(format!("the op declares {n} outputs but has {got}")));
    }
    Ok(())
}

/// The input split along `axis` into pieces of `sizes`.
fn split_shapes(input: &[usize], axis: usize, sizes: &[usize]) -> Vec<Shape> {
    sizes
        .iter()
        .map(|&s| {
            let mut shape = input.to_vec();
            shape[axis] = s;
            shape
        })
        .collect()
}

/// SPLIT: the normalized axis of the input (operand 1).
fn split_axis(cx: &InferCx<'_>) -> Result<usize> {
    norm_axis(cx, scalar_axis(cx, 0)?, cx.input(1)?.shape.len())
}

/// SPLIT: operands axis (constant) and input.
pub fn infer_split(cx: &InferCx<'_>, a: &SplitAttrs) -> Result<Vec<Shape>> {
    cx.arity(2, 2, a.num_splits)?;
    expect_num_outputs(cx, a.num_splits)?;
    let input = cx.expect_dtype(1, SPLIT_DTYPES)?;
    expect_outputs_dtype(cx, input)?;
    let axis = split_axis(cx)?;
    let dim = input.shape[axis];
    if dim % a.num_splits != 0 {
        return Err(cx.err(format!(
            "dimension {axis} of size {dim} does not split into {} equal parts",
            a.num_splits
        )));
    }
    Ok(split_shapes(
        &input.shape,
        axis,
        &vec![dim / a.num_splits; a.num_splits],
    ))
}

/// SPLIT_V: the normalized axis and the resolved sizes.
fn split_v_sizes(cx: &InferCx<'_>, a: &SplitAttrs) -> Result<(usize, Vec<usize>)> {
    let input = cx.input(0)?;
    let axis = norm_axis(cx, scalar_axis(cx, 2)?, input.shape.len())?;
    let t = cx.input(1)?;
    let sizes = cx.const_ints(1)?;
    if t.shape.len() != 1 || sizes.len() != a.num_splits {
        return Err(cx.err(format!(
            "size_splits must be a vector of {} entries, got shape {:?}",
            a.num_splits, t.shape
        )));
    }
    let dim = input.shape[axis] as i64;
    let mut wildcard = None;
    let mut sum = 0i64;
    for (i, &s) in sizes.iter().enumerate() {
        if s == -1 {
            if wildcard.replace(i).is_some() {
                return Err(cx.err("size_splits holds more than one -1"));
            }
        } else if s < 0 {
            return Err(cx.err(format!("size_splits holds a negative size {s}")));
        } else {
            sum = sum.saturating_add(s);
        }
    }
    let mut out: Vec<usize> = sizes.iter().map(|&s| s.max(0) as usize).collect();
    match wildcard {
        Some(i) if sum <= dim => out[i] = (dim - sum) as usize,
        None if sum == dim => {}
        _ => {
            return Err(cx.err(format!(
                "size_splits {sizes:?} do not add up to dimension {axis} of size {dim}"
            )))
        }
    }
    Ok((axis, out))
}

/// SPLIT_V: operands input, size_splits and axis (both constant).
pub fn infer_split_v(cx: &InferCx<'_>, a: &SplitAttrs) -> Result<Vec<Shape>> {
    cx.arity(3, 3, a.num_splits)?;
    expect_num_outputs(cx, a.num_splits)?;
    let input = cx.expect_dtype(0, SPLIT_V_DTYPES)?;
    expect_outputs_dtype(cx, input)?;
    let (axis, sizes) = split_v_sizes(cx, a)?;
    Ok(split_shapes(&input.shape, axis, &sizes))
}

/// PACK: the normalized axis of the new dimension.
fn pack_axis(cx: &InferCx<'_>, a: &PackAttrs) -> Result<usize> {
    let rank = cx.input(0)?.shape.len();
    norm_axis(cx, i64::from(a.axis), rank + 1)
}

/// PACK: `values_count` operands of one shape and type.
pub fn infer_pack(cx: &InferCx<'_>, a: &PackAttrs) -> Result<Vec<Shape>> {
    cx.arity(a.count.max(1), a.count.max(1), 1)?;
    let t0 = cx.expect_dtype(0, PACK_DTYPES)?;
    let out = cx.output(0)?;
    if out.dtype != t0.dtype {
        return Err(cx.err(format!(
            "output has type {}, the inputs {}",
            out.dtype, t0.dtype
        )));
    }
    let axis = pack_axis(cx, a)?;
    for i in 0..cx.node.inputs.len() {
        let t = cx.input(i)?;
        if t.dtype != t0.dtype || t.shape != t0.shape {
            return Err(cx.err(format!(
                "input {i} is {} {:?}, input 0 {} {:?}",
                t.dtype, t.shape, t0.dtype, t0.shape
            )));
        }
        expect_same_quant(cx, t, out)?;
    }
    let mut shape = t0.shape.clone();
    shape.insert(axis, a.count);
    Ok(vec![shape])
}

/// UNPACK: the normalized axis.
fn unpack_axis(cx: &InferCx<'_>, a: &PackAttrs) -> Result<usize> {
    norm_axis(cx, i64::from(a.axis), cx.input(0)?.shape.len())
}

/// UNPACK: one operand, `num` results.
pub fn infer_unpack(cx: &InferCx<'_>, a: &PackAttrs) -> Result<Vec<Shape>> {
    cx.arity(1, 1, a.count)?;
    expect_num_outputs(cx, a.count)?;
    let input = cx.expect_dtype(0, UNPACK_DTYPES)?;
    expect_outputs_dtype(cx, input)?;
    let axis = unpack_axis(cx, a)?;
    if input.shape[axis] != a.count {
        return Err(cx.err(format!(
            "dimension {axis} has size {}, but the op unpacks {}",
            input.shape[axis], a.count
        )));
    }
    for i in 0..cx.node.outputs.len() {
        expect_same_quant(cx, input, cx.output(i)?)?;
    }
    let mut shape = input.shape.clone();
    shape.remove(axis);
    Ok(vec![shape; a.count])
}

/// The kernel parameters: the product of the big tensor's dimensions before the axis.
fn params(shape: &[usize], axis: usize) -> SplitParams {
    SplitParams {
        outer: shape[..axis].iter().product(),
    }
}

/// Parameters of SPLIT.
pub fn split_params(cx: &InferCx<'_>) -> Result<SplitParams> {
    Ok(params(&cx.input(1)?.shape, split_axis(cx)?))
}

/// Parameters of SPLIT_V.
pub fn split_v_params(cx: &InferCx<'_>, a: &SplitAttrs) -> Result<SplitParams> {
    Ok(params(&cx.input(0)?.shape, split_v_sizes(cx, a)?.0))
}

/// Parameters of PACK.
pub fn pack_params(cx: &InferCx<'_>, a: &PackAttrs) -> Result<SplitParams> {
    Ok(params(&cx.output(0)?.shape, pack_axis(cx, a)?))
}

/// Parameters of UNPACK.
pub fn unpack_params(cx: &InferCx<'_>, a: &PackAttrs) -> Result<SplitParams> {
    Ok(params(&cx.input(0)?.shape, unpack_axis(cx, a)?))
}

/// A split of operand `input` (its only data operand) into every result.
fn split_kernel(cx: &InferCx<'_>, p: SplitParams, input: usize) -> Result<DataKernel<Kernel>> {
    let w = Width::of(cx, cx.input(input)?.dtype)?;
    Ok(DataKernel::new(Kernel::Split(p, w), [input]))
}

fn pack_kernel(cx: &InferCx<'_>, a: &PackAttrs) -> Result<DataKernel<Kernel>> {
    let p = pack_params(cx, a)?;
    let w = Width::of(cx, cx.output(0)?.dtype)?;
    Ok(DataKernel::new(
        Kernel::Pack(p, w),
        (0..cx.node.inputs.len()).collect::<Vec<_>>(),
    ))
}

/// SPLIT with [`kernel::split`].
pub fn eval_split(cx: &mut EvalCx<'_>, a: &SplitAttrs) -> Result<()> {
    let _ = a;
    let icx = cx.infer_cx();
    split_kernel(&icx, split_params(&icx)?, 1)?.eval(cx, Kernel::exec)
}

/// SPLIT_V with [`kernel::split`].
pub fn eval_split_v(cx: &mut EvalCx<'_>, a: &SplitAttrs) -> Result<()> {
    let icx = cx.infer_cx();
    split_kernel(&icx, split_v_params(&icx, a)?, 0)?.eval(cx, Kernel::exec)
}

/// PACK with [`kernel::pack`].
pub fn eval_pack(cx: &mut EvalCx<'_>, a: &PackAttrs) -> Result<()> {
    pack_kernel(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// UNPACK with [`kernel::split`].
pub fn eval_unpack(cx: &mut EvalCx<'_>, a: &PackAttrs) -> Result<()> {
    let icx = cx.infer_cx();
    split_kernel(&icx, unpack_params(&icx, a)?, 0)?.eval(cx, Kernel::exec)
}

/// Lowers SPLIT to one step reading the input (the axis is in the parameters).
pub fn lower_split(cx: &mut LowerCx<'_>, a: &SplitAttrs) -> Result<Vec<Step>> {
    let _ = a;
    let p = split_params(&cx.icx)?;
    split_kernel(&cx.icx, p, 1)?.lower(cx, crate::lower::Kernel::SplitPack)
}

/// Lowers SPLIT_V to one step reading the input (sizes and axis are in the parameters).
pub fn lower_split_v(cx: &mut LowerCx<'_>, a: &SplitAttrs) -> Result<Vec<Step>> {
    let p = split_v_params(&cx.icx, a)?;
    split_kernel(&cx.icx, p, 0)?.lower(cx, crate::lower::Kernel::SplitPack)
}

/// Lowers PACK to one step reading every operand.
pub fn lower_pack(cx: &mut LowerCx<'_>, a: &PackAttrs) -> Result<Vec<Step>> {
    pack_kernel(&cx.icx, a)?.lower(cx, crate::lower::Kernel::SplitPack)
}

/// Lowers UNPACK to one step.
pub fn lower_unpack(cx: &mut LowerCx<'_>, a: &PackAttrs) -> Result<Vec<Step>> {
    let p = unpack_params(&cx.icx, a)?;
    split_kernel(&cx.icx, p, 0)?.lower(cx, crate::lower::Kernel::SplitPack)
}

/// The `split_pack` family's kernels, each with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// SPLIT, SPLIT_V or UNPACK of elements of a width: operand 0 dealt out to every result.
    Split(SplitParams, Width),
    /// PACK of elements of a width: every operand interleaved into result 0.
    Pack(SplitParams, Width),
}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::Split(_, w) => w.pick(["split_x8", "split_x16", "split_x32", "split_x64"]),
            Kernel::Pack(_, w) => w.pick(["pack_x8", "pack_x16", "pack_x32", "pack_x64"]),
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::Split(p, w) => with_width!(*w, T => {
                let x = io.input::<T>(0)?;
                let e = io.err("results of an element type mismatch");
                let mut outs = io
                    .outputs
                    .iter_mut()
                    .map(|b| b.as_mut_slice::<T>())
                    .collect::<Option<Vec<_>>>()
                    .ok_or(e)?;
                if !p.fits(outs.iter().map(|o| o.len()), x.len()) {
                    let lens: Vec<usize> = outs.iter().map(|o| o.len()).collect();
                    return Err(io.err(format!(
                        "results of {lens:?} elements do not split an operand of {} in {} rows",
                        x.len(),
                        p.outer
                    )));
                }
                kernel::split(p, x, &mut outs);
                Ok(())
            }),
            Kernel::Pack(p, w) => with_width!(*w, T => {
                let inputs = (0..io.inputs.len())
                    .map(|i| io.input::<T>(i))
                    .collect::<Result<Vec<_>>>()?;
                let n_out = io.output::<T>(0)?.len();
                if !p.fits(inputs.iter().map(|x| x.len()), n_out) {
                    return Err(io.err(format!(
                        "{} operands do not pack into a result of {n_out} elements in {} rows",
                        inputs.len(),
                        p.outer
                    )));
                }
                kernel::pack(p, &inputs, io.output::<T>(0)?);
                Ok(())
            }),
        }
    }
}

/// `&[a, b, …]` (or `&mut [a, b, …]`) as an argument of a kernel call, one element per line
/// when it does not fit on the argument's line.
fn slice_array(prefix: &str, items: &[Slice]) -> String {
    let exprs: Vec<&str> = items.iter().map(|s| s.expr.as_str()).collect();
    let flat = format!("{prefix}[{}]", exprs.join(", "));
    // The argument's indentation and its trailing comma.
    if 12 + flat.len() < crate::rust::lit::WIDTH {
        return flat;
    }
    let mut s = format!("{prefix}[\n");
    for e in exprs {
        s.push_str(&format!("                {e},\n"));
    }
    s.push_str("            ]");
    s
}

impl Kernel {
    /// Writes the step's Rust code: the same kernel [`Kernel::exec`] runs, with every parameter a
    /// `static`.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        match self {
            Kernel::Split(p, w) => {
                let ty = w.rust_type();
                let x = cx.input(0, ty)?;
                let outs = (0..cx.step().outputs.len())
                    .map(|i| cx.output(i, ty))
                    .collect::<Result<Vec<_>>>()?;
                if !p.fits(outs.iter().map(|o| o.len), x.len) {
                    let lens: Vec<usize> = outs.iter().map(|o| o.len).collect();
                    return Err(cx.err(format!(
                        "results of {lens:?} elements do not split an operand of {} in {} rows",
                        x.len, p.outer
                    )));
                }
                let p = cx.param("params", p);
                let outs = slice_array("&mut ", &outs);
                cx.call("k::split_pack::split", &[format!("&{p}"), x.expr, outs]);
                Ok(())
            }
            Kernel::Pack(p, w) => {
                let ty = w.rust_type();
                let inputs = (0..cx.step().inputs.len())
                    .map(|i| cx.input(i, ty))
                    .collect::<Result<Vec<_>>>()?;
                let y = cx.output(0, ty)?;
                if !p.fits(inputs.iter().map(|x| x.len), y.len) {
                    return Err(cx.err(format!(
                        "{} operands do not pack into a result of {} elements in {} rows",
                        inputs.len(),
                        y.len,
                        p.outer
                    )));
                }
                let p = cx.param("params", p);
                let ins = slice_array("&", &inputs);
                cx.call("k::split_pack::pack", &[format!("&{p}"), ins, y.expr]);
                Ok(())
            }
        }
    }
}

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code: per operand (PACK) or result (SPLIT) one strided copy of
    /// `outer` rows, each a run of the operand's elements per chunk.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        use super::transpose::clif;
        use cranelift_codegen::ir::InstBuilder;
        match self {
            Kernel::Split(p, w) => {
                let x = cx.input(0)?;
                let outs = clif::all_outputs(cx);
                let wb = w.bytes();
                if !x.bytes.is_multiple_of(wb)
                    || outs.iter().any(|o| !o.bytes.is_multiple_of(wb))
                    || !p.fits(outs.iter().map(|o| o.len(wb)), x.len(wb))
                {
                    return Err(cx.err(format!(
                        "results of {:?} bytes do not split an operand of {} in {} rows",
                        outs.iter().map(|o| o.bytes).collect::<Vec<_>>(),
                        x.bytes,
                        p.outer
                    )));
                }
                if p.outer == 0 {
                    return Ok(());
                }
                let row = x.bytes / p.outer;
                let mut pos = 0;
                for o in outs {
                    let n = o.bytes / p.outer;
                    let src = cx.b.ins().iadd_imm_s(x.base, pos as i64);
                    clif::copy_rows(cx, (src, row), (o.base, n), p.outer, n);
                    pos += n;
                }
                Ok(())
            }
            Kernel::Pack(p, w) => {
                let inputs = clif::all_inputs(cx);
                let y = cx.output(0)?;
                super::concatenation::interleave(cx, p.outer, *w, &inputs, y)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::interp::Buf;
    use crate::ir::{DType, Op, PackAttrs, SplitAttrs};
    use crate::ops::transpose::testutil::{
        c32, emit_rust, eval, fails_with, infer, kernels, lower_and_run, t, tq,
    };

    #[cfg(feature = "cranelift")]
    #[test]
    fn jit_splits_and_packs_match_the_interpreter() {
        use crate::ops::transpose::testutil::{jit_matches, noise};
        let shape = [2, 6, 5, 8];
        let n: usize = shape.iter().product();
        for dtype in [DType::F32, DType::U8, DType::I16, DType::I32, DType::I64] {
            // SPLIT and UNPACK take no int64 (SPLIT_V and PACK do).
            let wide = dtype == DType::I64;
            for axis in 0..4 {
                let parts = (2..=shape[axis])
                    .find(|p| shape[axis] % p == 0)
                    .unwrap_or(1);
                let mut out = shape.to_vec();
                out[axis] /= parts;
                if !wide {
                    jit_matches(
                        Op::Split(SplitAttrs { num_splits: parts }),
                        vec![c32(&[], &[axis as i32]), t(dtype, &shape)],
                        (0..parts).map(|_| t(dtype, &out)).collect(),
                        &[noise(n * dtype.size(), axis as u64)],
                    )
                    .unwrap_or_else(|e| panic!("split {dtype} {axis}: {e}"));
                }
                // SPLIT_V into unequal parts.
                let d = shape[axis] as i32;
                jit_matches(
                    Op::SplitV(SplitAttrs { num_splits: 2 }),
                    vec![
                        t(dtype, &shape),
                        c32(&[2], &[1, d - 1]),
                        c32(&[], &[axis as i32]),
                    ],
                    vec![t(dtype, &[1]), t(dtype, &[1])],
                    &[noise(n * dtype.size(), axis as u64)],
                )
                .unwrap_or_else(|e| panic!("split_v {dtype} {axis}: {e}"));
                // UNPACK and PACK along the axis.
                let mut small = shape.to_vec();
                let count = small.remove(axis);
                let m: usize = small.iter().product();
                if !wide {
                    jit_matches(
                        Op::Unpack(PackAttrs {
                            count,
                            axis: axis as i32,
                        }),
                        vec![t(dtype, &shape)],
                        (0..count).map(|_| t(dtype, &small)).collect(),
                        &[noise(n * dtype.size(), axis as u64)],
                    )
                    .unwrap_or_else(|e| panic!("unpack {dtype} {axis}: {e}"));
                }
                let values: Vec<Buf> = (0..count)
                    .map(|i| noise(m * dtype.size(), i as u64))
                    .collect();
                jit_matches(
                    Op::Pack(PackAttrs {
                        count,
                        axis: axis as i32,
                    }),
                    (0..count).map(|_| t(dtype, &small)).collect(),
                    vec![t(dtype, &[1])],
                    &values,
                )
                .unwrap_or_else(|e| panic!("pack {dtype} {axis}: {e}"));
            }
        }
    }

    #[test]
    fn emitted_split_and_pack_take_slice_arrays() {
        let code = emit_rust(
            Op::Split(SplitAttrs { num_splits: 2 }),
            vec![c32(&[], &[-1]), t(DType::F32, &[2, 2])],
            vec![t(DType::F32, &[2, 1]), t(DType::F32, &[2, 1])],
        )
        .unwrap();
        assert!(
            code.contains(
                "k::split_pack::split(\n            &S0_PARAMS,\n            view::<i32>(i[0], 0, 4),\n            \
                 &mut [view_mut::<i32>(o[0], 0, 2), view_mut::<i32>(o[1], 0, 2)],\n        );"
            ),
            "{code}"
        );
        let code = emit_rust(
            Op::Pack(PackAttrs { count: 2, axis: 1 }),
            vec![t(DType::I8, &[2]), t(DType::I8, &[2])],
            vec![t(DType::I8, &[2, 2])],
        )
        .unwrap();
        assert!(
            code.contains(
                "            &[view::<u8>(i[0], 0, 2), view::<u8>(i[1], 0, 2)],\n            \
                 view_mut::<u8>(o[0], 0, 4),\n"
            ),
            "{code}"
        );
    }

    #[test]
    fn split_takes_the_axis_first() {
        let out = eval(
            Op::Split(SplitAttrs { num_splits: 2 }),
            vec![c32(&[], &[-1]), t(DType::I16, &[2, 2])],
            vec![t(DType::I16, &[2, 1]), t(DType::I16, &[2, 1])],
            &[Buf::from_slice(&[1i16, 2, 3, 4])],
        )
        .unwrap();
        assert_eq!(out[0].as_slice::<i16>().unwrap(), &[1, 3]);
        assert_eq!(out[1].as_slice::<i16>().unwrap(), &[2, 4]);
        let r = infer(
            Op::Split(SplitAttrs { num_splits: 2 }),
            vec![c32(&[], &[0]), t(DType::F32, &[3])],
            vec![t(DType::F32, &[1]), t(DType::F32, &[1])],
        );
        assert!(fails_with(r, "equal parts"));
    }

    #[test]
    fn lowered_splits_read_only_the_input() {
        let (p, out) = lower_and_run(
            Op::Split(SplitAttrs { num_splits: 2 }),
            vec![c32(&[], &[1]), t(DType::F32, &[2, 2])],
            vec![t(DType::F32, &[2, 1]), t(DType::F32, &[2, 1])],
            &[Buf::from_slice(&[1f32, 2., 3., 4.])],
        )
        .unwrap();
        assert_eq!(kernels(&p), vec![("split_x32".to_string(), 1)]);
        assert_eq!(out[0].as_slice::<f32>().unwrap(), &[1., 3.]);
        assert_eq!(out[1].as_slice::<f32>().unwrap(), &[2., 4.]);
        let (p, out) = lower_and_run(
            Op::SplitV(SplitAttrs { num_splits: 2 }),
            vec![t(DType::I8, &[3]), c32(&[2], &[-1, 1]), c32(&[], &[0])],
            vec![t(DType::I8, &[2]), t(DType::I8, &[1])],
            &[Buf::from_slice(&[1i8, 2, 3])],
        )
        .unwrap();
        assert_eq!(kernels(&p), vec![("split_x8".to_string(), 1)]);
        assert_eq!(out[0].as_slice::<i8>().unwrap(), &[1, 2]);
        assert_eq!(out[1].as_slice::<i8>().unwrap(), &[3]);
        let (p, out) = lower_and_run(
            Op::Unpack(PackAttrs { count: 2, axis: 1 }),
            vec![t(DType::I32, &[2, 2])],
            vec![t(DType::I32, &[2]), t(DType::I32, &[2])],
            &[Buf::from_slice(&[1i32, 2, 3, 4])],
        )
        .unwrap();
        assert_eq!(kernels(&p), vec![("split_x32".to_string(), 1)]);
        assert_eq!(out[0].as_slice::<i32>().unwrap(), &[1, 3]);
        let (p, out) = lower_and_run(
            Op::Pack(PackAttrs { count: 2, axis: 0 }),
            vec![t(DType::I16, &[2]), t(DType::I16, &[2])],
            vec![t(DType::I16, &[2, 2])],
            &[Buf::from_slice(&[1i16, 2]), Buf::from_slice(&[3i16, 4])],
        )
        .unwrap();
        assert_eq!(kernels(&p), vec![("pack_x16".to_string(), 2)]);
        assert_eq!(out[0].as_slice::<i16>().unwrap(), &[1, 2, 3, 4]);
    }

    #[test]
    fn split_v_resolves_the_wildcard() {
        let s = infer(
            Op::SplitV(SplitAttrs { num_splits: 3 }),
            vec![
                t(DType::F32, &[2, 7]),
                c32(&[3], &[1, -1, 2]),
                c32(&[], &[1]),
            ],
            vec![
                t(DType::F32, &[1]),
                t(DType::F32, &[1]),
                t(DType::F32, &[1]),
            ],
        );
        assert_eq!(s.unwrap(), vec![vec![2, 1], vec![2, 4], vec![2, 2]]);
        let r = infer(
            Op::SplitV(SplitAttrs { num_splits: 2 }),
            vec![t(DType::F32, &[2, 7]), c32(&[2], &[1, 2]), c32(&[], &[1])],
            vec![t(DType::F32, &[1]), t(DType::F32, &[1])],
        );
        assert!(fails_with(r, "do not add up"));
    }

    #[test]
    fn pack_and_unpack_keep_quantization() {
        let out = eval(
            Op::Pack(PackAttrs { count: 2, axis: -1 }),
            vec![tq(DType::U8, &[2], 0.5, 1), tq(DType::U8, &[2], 0.5, 1)],
            vec![tq(DType::U8, &[2, 2], 0.5, 1)],
            &[Buf::from_slice(&[1u8, 2]), Buf::from_slice(&[3u8, 4])],
        )
        .unwrap();
        assert_eq!(out[0].as_slice::<u8>().unwrap(), &[1, 3, 2, 4]);
        let r = infer(
            Op::Pack(PackAttrs { count: 2, axis: 0 }),
            vec![tq(DType::U8, &[2], 0.5, 1), tq(DType::U8, &[2], 0.5, 2)],
            vec![tq(DType::U8, &[2, 2], 0.5, 1)],
        );
        assert!(fails_with(r, "same quantization"));
        let r = infer(
            Op::Unpack(PackAttrs { count: 2, axis: 0 }),
            vec![tq(DType::I8, &[2, 3], 0.5, 1)],
            vec![tq(DType::I8, &[3], 0.5, 1), tq(DType::I8, &[3], 0.5, 0)],
        );
        assert!(fails_with(r, "same quantization"));
    }
}

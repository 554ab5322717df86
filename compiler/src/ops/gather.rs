//! GATHER (TFLite `gather.cc`, `reference_ops::Gather`): operands params and indices (int32 or
//! int64), attributes `axis` (negative counts from params' rank) and `batch_dims` (negative counts
//! from the indices' rank).
//!
//! The result shape is `params[..axis] ++ indices[batch_dims..] ++ params[axis + 1..]`; the first
//! `batch_dims` dimensions of params and indices must agree and `batch_dims ≤ axis`.
//!
//! Indices outside `[0, params.shape[axis])`: in a constant indices operand they are a compile
//! error; at run time the kernel returns an error code, as TFLite's invocation fails (see
//! [`mvcc_kernels::kernels::gather`]). Values are moved, never requantized (TFLite does not check
//! quantization).

use mvcc_kernels::kernels::gather::{self as kernel, GatherIndex, GatherParams};

use super::pad::width_type;
use super::transpose::{norm_axis, with_width, DataKernel, Width};
use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{DType, GatherAttrs, Shape};
use crate::lower::{LowerCx, Step};
use crate::rust::step::StepCx;

/// Element types TFLite's GATHER moves (of those mvcc represents).
const DTYPES: &[DType] = &[
    DType::F32,
    DType::U8,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::Bool,
];

/// The normalized `(axis, batch_dims)`, checked as TFLite's Prepare does.
fn axes(cx: &InferCx<'_>, a: &GatherAttrs) -> Result<(usize, usize)> {
    let params = cx.input(0)?;
    let indices = cx.input(1)?;
    let axis = norm_axis(cx, i64::from(a.axis), params.shape.len())?;
    let mut batch_dims = i64::from(a.batch_dims);
    if batch_dims < 0 {
        batch_dims += indices.shape.len() as i64;
    }
    if batch_dims < 0
        || batch_dims as usize > axis
        || batch_dims as usize >= params.shape.len()
        || batch_dims as usize > indices.shape.len()
    {
        return Err(cx.err(format!(
            "batch_dims {} does not fit axis {axis}, params rank {} and indices rank {}",
            a.batch_dims,
            params.shape.len(),
            indices.shape.len()
        )));
    }
    let batch_dims = batch_dims as usize;
    if params.shape[..batch_dims] != indices.shape[..batch_dims] {
        return Err(cx.err(format!(
            "the first {batch_dims} dimensions of params {:?} and indices {:?} differ",
            params.shape, indices.shape
        )));
    }
    Ok((axis, batch_dims))
}

/// GATHER: operands params and indices.
pub fn infer_gather(cx: &InferCx<'_>, a: &GatherAttrs) -> Result<Vec<Shape>> {
    cx.arity(2, 2, 1)?;
    let params = cx.expect_dtype(0, DTYPES)?;
    let indices = cx.expect_dtype(1, &[DType::I32, DType::I64])?;
    let out = cx.output(0)?;
    if out.dtype != params.dtype {
        return Err(cx.err(format!(
            "output has type {}, params {}",
            out.dtype, params.dtype
        )));
    }
    let (axis, batch_dims) = axes(cx, a)?;
    if indices.is_const() {
        let size = params.shape[axis] as i64;
        let values = cx.const_ints(1)?;
        if let Some((i, v)) = values.iter().enumerate().find(|(_, &v)| v < 0 || v >= size) {
            return Err(cx.err(format!(
                "constant index {v} (position {i}) is out of range for axis {axis} of size {size}"
            )));
        }
    }
    let mut shape = params.shape[..axis].to_vec();
    shape.extend_from_slice(&indices.shape[batch_dims..]);
    shape.extend_from_slice(&params.shape[axis + 1..]);
    Ok(vec![shape])
}

/// The kernel parameters of a GATHER.
pub fn gather_params(cx: &InferCx<'_>, a: &GatherAttrs) -> Result<GatherParams> {
    let (axis, batch_dims) = axes(cx, a)?;
    let params = &cx.input(0)?.shape;
    let indices = &cx.input(1)?.shape;
    Ok(GatherParams {
        batch: params[..batch_dims].iter().product(),
        outer: params[batch_dims..axis].iter().product(),
        axis_size: params[axis],
        inner: params[axis + 1..].iter().product(),
        coords: indices[batch_dims..].iter().product(),
    })
}

/// The kernel of a GATHER: params and indices stay operands (constant indices go to the weight
/// blob, already checked).
fn gather_kernel(cx: &InferCx<'_>, a: &GatherAttrs) -> Result<DataKernel<Kernel>> {
    let p = gather_params(cx, a)?;
    let w = Width::of(cx, cx.input(0)?.dtype)?;
    let kernel = match cx.input(1)?.dtype {
        DType::I32 => Kernel::GatherI32(p, w),
        DType::I64 => Kernel::GatherI64(p, w),
        t => return Err(cx.unsupported(format!("indices of type {t}"))),
    };
    Ok(DataKernel::new(kernel, [0, 1]))
}

/// GATHER with [`kernel::gather`]; an out-of-range index is an evaluation error.
pub fn eval_gather(cx: &mut EvalCx<'_>, a: &GatherAttrs) -> Result<()> {
    gather_kernel(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// Lowers GATHER to one step reading params and indices.
pub fn lower_gather(cx: &mut LowerCx<'_>, a: &GatherAttrs) -> Result<Vec<Step>> {
    gather_kernel(&cx.icx, a)?.lower(cx, crate::lower::Kernel::Gather)
}

/// The `gather` family's kernels, each with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// Elements of a width gathered by int32 indices.
    GatherI32(GatherParams, Width),
    /// Elements of a width gathered by int64 indices.
    GatherI64(GatherParams, Width),
}

/// Checks the operand sizes, then gathers; an index out of range is an error of the step.
fn exec_gather<T: bytemuck::Pod, I: GatherIndex + bytemuck::Pod>(
    io: &mut StepIo<'_>,
    p: &GatherParams,
) -> Result<()> {
    let params = io.input::<T>(0)?;
    let indices = io.input::<I>(1)?;
    let n_out = io.output::<T>(0)?.len();
    if params.len() != p.params_len() || indices.len() != p.indices_len() || n_out != p.out_len() {
        return Err(io.err(format!(
            "operands of {} and {} elements and a result of {n_out} do not match the parameters \
             ({}, {} and {})",
            params.len(),
            indices.len(),
            p.params_len(),
            p.indices_len(),
            p.out_len()
        )));
    }
    kernel::gather(p, params, indices, io.output::<T>(0)?).map_err(|e| {
        io.err(format!(
            "index {} (position {}) is out of range for a gathered axis of size {}",
            e.index, e.position, p.axis_size
        ))
    })
}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::GatherI32(_, w) => w.pick([
                "gather_x8_i32",
                "gather_x16_i32",
                "gather_x32_i32",
                "gather_x64_i32",
            ]),
            Kernel::GatherI64(_, w) => w.pick([
                "gather_x8_i64",
                "gather_x16_i64",
                "gather_x32_i64",
                "gather_x64_i64",
            ]),
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters; an index out of range (indices are data).
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::GatherI32(p, w) => with_width!(*w, T => exec_gather::<T, i32>(io, p)),
            Kernel::GatherI64(p, w) => with_width!(*w, T => exec_gather::<T, i64>(io, p)),
        }
    }
}

impl Kernel {
    /// Writes the step's Rust code: the call [`Kernel::exec`] makes, failing the run on an index
    /// out of range.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        let (p, w, index_ty) = match self {
            Kernel::GatherI32(p, w) => (p, w, "i32"),
            Kernel::GatherI64(p, w) => (p, w, "i64"),
        };
        let ty = width_type(*w);
        let params = cx.input(0, ty)?;
        let indices = cx.input(1, index_ty)?;
        let out = cx.output(0, ty)?;
        if params.len != p.params_len() || indices.len != p.indices_len() || out.len != p.out_len()
        {
            return Err(cx.err(format!(
                "operands of {} and {} elements and a result of {} do not match the parameters \
                 ({}, {} and {})",
                params.len,
                indices.len,
                out.len,
                p.params_len(),
                p.indices_len(),
                p.out_len()
            )));
        }
        let pn = cx.param("params", p);
        cx.call_fallible(
            "k::gather::gather",
            &[format!("&{pn}"), params.expr, indices.expr, out.expr],
            &format!(
                "an index is out of range for a gathered axis of size {}",
                p.axis_size
            ),
        );
        Ok(())
    }
}

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code: for every `(batch, outer, index)` the index is checked
    /// (one outside `[0, axis_size)` fails the step, as the runtime's kernel fails the run; the
    /// copy then reads slice 0 instead, never outside the params) and its slice of `inner`
    /// elements copied.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        use super::transpose::clif;
        use cranelift_codegen::ir::condcodes::IntCC;
        use cranelift_codegen::ir::{types, InstBuilder};
        let (p, w, index_ty) = match self {
            Kernel::GatherI32(p, w) => (p, w, types::I32),
            Kernel::GatherI64(p, w) => (p, w, types::I64),
        };
        let params = cx.input(0)?;
        let indices = cx.input(1)?;
        let out = cx.output(0)?;
        clif::expect_len(cx, "the params", &params, *w, p.params_len())?;
        if indices.bytes != p.indices_len() * index_ty.bytes() as usize {
            return Err(cx.err(format!(
                "the indices have {} bytes, the kernel expects {} indices",
                indices.bytes,
                p.indices_len()
            )));
        }
        clif::expect_len(cx, "the result", &out, *w, p.out_len())?;
        let row = p.inner * w.bytes();
        let (outer, coords, axis) = (p.outer, p.coords, p.axis_size);
        let ptr = cx.ptr;
        cx.for_range(p.batch, |cx, b| {
            cx.for_range(outer, |cx, o| {
                // Slice (b·outer + o) of the params and of the result.
                let bo = cx.b.ins().imul_imm_s(b, outer as i64);
                let bo = cx.b.ins().iadd(bo, o);
                let src = clif::offset(cx, params.base, bo, (axis * row) as i64);
                let dst = clif::offset(cx, out.base, bo, (coords * row) as i64);
                let first = clif::offset(
                    cx,
                    indices.base,
                    b,
                    (coords * index_ty.bytes() as usize) as i64,
                );
                cx.for_range(coords, |cx, i| {
                    let index = cx.load(index_ty, first, i);
                    let index = if index_ty == types::I64 {
                        index
                    } else {
                        cx.b.ins().sextend(types::I64, index)
                    };
                    // Negative indices are huge unsigned.
                    let bad = cx.b.ins().icmp_imm_s(
                        IntCC::UnsignedGreaterThanOrEqual,
                        index,
                        axis as i64,
                    );
                    cx.fail_if(bad);
                    if axis == 0 || row == 0 {
                        return Ok(());
                    }
                    let zero = cx.b.ins().iconst(types::I64, 0);
                    let safe = cx.b.ins().select(bad, zero, index);
                    let safe = if ptr == types::I64 {
                        safe
                    } else {
                        cx.b.ins().ireduce(ptr, safe)
                    };
                    let s = clif::offset(cx, src, safe, row as i64);
                    let d = clif::offset(cx, dst, i, row as i64);
                    clif::copy(cx, s, d, row);
                    Ok(())
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::interp::Buf;
    use crate::ir::{DType, GatherAttrs, Op};
    use crate::ops::transpose::testutil::{
        c32, cbytes, eval, fails_with, infer, kernels, lower_and_run, t,
    };

    fn gather(axis: i32, batch_dims: i32) -> Op {
        Op::Gather(GatherAttrs { axis, batch_dims })
    }

    #[cfg(feature = "cranelift")]
    #[test]
    fn jit_gathers_match_the_interpreter_and_refuse_bad_indices() {
        use crate::ops::transpose::testutil::{jit_matches, noise};
        // (params shape, indices shape, axis, batch_dims)
        type Case<'a> = (&'a [usize], &'a [usize], i32, i32);
        let cases: &[Case<'_>] = &[
            (&[5, 3], &[4], 0, 0),
            (&[2, 5, 3], &[4, 2], 1, 0),
            (&[2, 5, 3], &[2, 4], -1, 1),
            (&[2, 7, 40], &[3], 1, 0),
            (&[6], &[2, 2], 0, 0),
            (&[2, 3, 5, 4], &[2, 3, 2], 2, 2),
        ];
        for (k, &(shape, ishape, axis, batch)) in cases.iter().enumerate() {
            let axis_n = axis.rem_euclid(shape.len() as i32) as usize;
            let size = shape[axis_n] as i64;
            let count: usize = ishape.iter().product();
            let n: usize = shape.iter().product();
            for dtype in [DType::F32, DType::I8, DType::I16, DType::I64] {
                let idx: Vec<i64> = (0..count as i64)
                    .map(|i| (i * 7 + k as i64) % size)
                    .collect();
                let idx32: Vec<i32> = idx.iter().map(|&i| i as i32).collect();
                for (ity, ib) in [
                    (DType::I32, Buf::from_slice(&idx32)),
                    (DType::I64, Buf::from_slice(&idx)),
                ] {
                    jit_matches(
                        gather(axis, batch),
                        vec![t(dtype, shape), t(ity, ishape)],
                        vec![t(dtype, &[1])],
                        &[noise(n * dtype.size(), k as u64), ib],
                    )
                    .unwrap_or_else(|e| panic!("{dtype} {ity} {shape:?} {ishape:?}: {e}"));
                }
            }
        }
        // Out of range (too large, negative): the run fails.
        for bad in [3i32, -1, i32::MIN] {
            let r = jit_matches(
                gather(0, 0),
                vec![t(DType::F32, &[3, 2]), t(DType::I32, &[2])],
                vec![t(DType::F32, &[2, 2])],
                &[noise(24, 1), Buf::from_slice(&[0i32, bad])],
            );
            assert!(r.is_err(), "index {bad}");
        }
        // The interpreter refuses it; so does the JIT.
        let program = crate::lower::lower(
            &crate::ops::transpose::testutil::one_op_graph(
                gather(0, 0),
                vec![t(DType::I8, &[3, 2]), t(DType::I64, &[2])],
                vec![t(DType::I8, &[2, 2])],
            )
            .unwrap(),
        )
        .unwrap();
        let plan = crate::plan::plan(&program);
        let jit = crate::clif::Jit::new(&program, &plan).unwrap();
        let params = Buf::from_slice(&[1i8, 2, 3, 4, 5, 6]);
        for bad in [3i64, -1, i64::MIN, 1 << 40] {
            assert!(jit
                .run(&[params.clone(), Buf::from_slice(&[0i64, bad])])
                .is_err());
        }
        let out = jit.run(&[params, Buf::from_slice(&[2i64, 0])]).unwrap();
        assert_eq!(out[0].as_slice::<i8>().unwrap(), &[5, 6, 1, 2]);
    }

    #[test]
    fn shapes_with_axis_and_batch_dims() {
        let s = infer(
            gather(1, 0),
            vec![t(DType::F32, &[2, 5, 3]), c32(&[4, 2], &[0; 8])],
            vec![t(DType::F32, &[1])],
        );
        assert_eq!(s.unwrap(), vec![vec![2, 4, 2, 3]]);
        let s = infer(
            gather(-1, 1),
            vec![t(DType::F32, &[2, 5, 3]), t(DType::I64, &[2, 4])],
            vec![t(DType::F32, &[1])],
        );
        assert_eq!(s.unwrap(), vec![vec![2, 5, 4]]);
    }

    #[test]
    fn constant_indices_out_of_range_fail_to_compile() {
        let r = infer(
            gather(0, 0),
            vec![t(DType::I8, &[3, 2]), c32(&[2], &[0, 3])],
            vec![t(DType::I8, &[2, 2])],
        );
        assert!(fails_with(r, "out of range"));
        let r = infer(
            gather(0, 0),
            vec![t(DType::I8, &[3, 2]), c32(&[1], &[-1])],
            vec![t(DType::I8, &[1, 2])],
        );
        assert!(fails_with(r, "out of range"));
    }

    #[test]
    fn runtime_indices_are_checked() {
        let params = Buf::from_slice(&[1i8, 2, 3, 4, 5, 6]);
        let op = || gather(0, 0);
        let ins = || vec![t(DType::I8, &[3, 2]), t(DType::I64, &[2])];
        let out = eval(
            op(),
            ins(),
            vec![t(DType::I8, &[2, 2])],
            &[params.clone(), Buf::from_slice(&[2i64, 0])],
        )
        .unwrap();
        assert_eq!(out[0].as_slice::<i8>().unwrap(), &[5, 6, 1, 2]);
        let r = eval(
            op(),
            ins(),
            vec![t(DType::I8, &[2, 2])],
            &[params, Buf::from_slice(&[0i64, 7])],
        );
        assert!(fails_with(r, "index 7"));
    }

    #[test]
    fn lowered_gather_checks_indices_at_run_time() {
        let run = |indices: &[i32]| {
            lower_and_run(
                gather(1, 0),
                vec![t(DType::U8, &[2, 3]), t(DType::I32, &[2])],
                vec![t(DType::U8, &[2, 2])],
                &[
                    Buf::from_slice(&[1u8, 2, 3, 4, 5, 6]),
                    Buf::from_slice(indices),
                ],
            )
        };
        let (p, out) = run(&[2, 0]).unwrap();
        assert_eq!(kernels(&p), vec![("gather_x8_i32".to_string(), 2)]);
        assert_eq!(out[0].as_slice::<u8>().unwrap(), &[3, 1, 6, 4]);
        assert!(fails_with(run(&[0, 3]), "index 3 (position 1)"));
        assert!(fails_with(run(&[i32::MIN, 0]), "out of range"));
    }

    #[test]
    fn int64_constant_indices() {
        let out = eval(
            gather(1, 0),
            vec![t(DType::F32, &[2, 3]), cbytes(DType::I64, &[2], &[2i64, 2])],
            vec![t(DType::F32, &[2, 2])],
            &[Buf::from_slice(&[1f32, 2., 3., 4., 5., 6.])],
        )
        .unwrap();
        assert_eq!(out[0].as_slice::<f32>().unwrap(), &[3., 3., 6., 6.]);
    }

    #[test]
    fn rust_back_end_checks_indices() {
        let code = crate::ops::pad::rust_testutil::emitted(
            gather(1, 0),
            vec![t(DType::F32, &[2, 3]), t(DType::I64, &[2])],
            vec![t(DType::F32, &[2, 2])],
            &[
                Buf::from_slice(&[1f32, 2., 3., 4., 5., 6.]),
                Buf::from_slice(&[2i64, 0]),
            ],
        );
        assert!(code.contains("k::gather::gather("), "{code}");
        assert!(code.contains("view::<i32>(i[0], 0, 6),"), "{code}");
        assert!(code.contains("view::<i64>(i[1], 0, 2),"), "{code}");
        assert!(code.contains(".map_err(|_| RunError::Kernel {"), "{code}");
        assert!(
            code.contains("out of range for a gathered axis of size 3"),
            "{code}"
        );
    }
}

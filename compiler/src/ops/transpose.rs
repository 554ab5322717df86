//! TRANSPOSE (TFLite `transpose.cc`): permute dimensions by a constant permutation operand, up to
//! 6-D. Negative permutation entries count from the end (as TFLite accepts). Quantized tensors
//! must keep their scale and zero point (TFLite rejects anything else); values are only moved.
//!
//! This file also holds small helpers shared by the data-movement families (concatenation, pad,
//! slice, split/pack, gather, resize, depth-to-space).

use mvcc_kernels::kernels::transpose::{self as kernel, TransposeParams};

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::interp::{Buf, StepIo};
use crate::ir::{DType, Shape, Tensor};
use crate::lower::{LowerCx, Step};
use crate::rust::step::{Slice, StepCx};

#[cfg(feature = "cranelift")]
#[path = "transpose_clif.rs"]
pub(crate) mod clif;

/// The element width a data-movement kernel copies: values are moved as bit patterns, so one
/// instance per width serves every dtype of that size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// 1-byte elements (`uint8`, `int8`, `bool`).
    X8,
    /// 2-byte elements (`int16`, `float16`).
    X16,
    /// 4-byte elements (`float32`, `int32`).
    X32,
    /// 8-byte elements (`int64`).
    X64,
}

impl Width {
    /// The width of `dtype`'s elements.
    ///
    /// # Errors
    /// An element size other than 1, 2, 4 or 8 bytes.
    pub fn of(cx: &InferCx<'_>, dtype: DType) -> Result<Width> {
        match dtype.size() {
            1 => Ok(Width::X8),
            2 => Ok(Width::X16),
            4 => Ok(Width::X32),
            8 => Ok(Width::X64),
            n => Err(cx.unsupported(format!("type {dtype} with {n}-byte elements"))),
        }
    }

    /// Bytes per element.
    pub fn bytes(self) -> usize {
        match self {
            Width::X8 => 1,
            Width::X16 => 2,
            Width::X32 => 4,
            Width::X64 => 8,
        }
    }

    /// The one of four names (for 8-, 16-, 32- and 64-bit elements) that matches.
    pub(crate) fn pick(self, names: [&'static str; 4]) -> &'static str {
        names[self.bytes().trailing_zeros() as usize]
    }

    /// The element type generated Rust views values of this width as (the Rust back end's
    /// [`crate::rust::step::StepCx`] views integers of these widths; the bits are only moved).
    pub(crate) fn rust_type(self) -> &'static str {
        self.pick(["u8", "u16", "i32", "i64"])
    }
}

/// Runs `$body` with the type alias `$t` bound to the unsigned integer type of [`Width`] `$w`.
macro_rules! with_width {
    ($w:expr, $t:ident => $body:expr) => {
        match $w {
            $crate::ops::transpose::Width::X8 => {
                type $t = u8;
                $body
            }
            $crate::ops::transpose::Width::X16 => {
                type $t = u16;
                $body
            }
            $crate::ops::transpose::Width::X32 => {
                type $t = u32;
                $body
            }
            $crate::ops::transpose::Width::X64 => {
                type $t = u64;
                $body
            }
        }
    };
}
pub(crate) use with_width;

/// A data-movement kernel and the op operands it reads, in the step's order. Operands folded into
/// the parameters (axes, permutations, paddings, begin/end/strides, sizes) are not among them.
///
/// `lower_*` turns it into a step ([`DataKernel::lower`]); `eval_*` runs the same `exec` on the
/// op's values ([`DataKernel::eval`]), so the Program and constant folding share one
/// implementation.
#[derive(Debug)]
pub(crate) struct DataKernel<K> {
    /// The kernel with its parameters.
    pub kernel: K,
    /// Indices of the op's operands the step reads.
    pub operands: Vec<usize>,
}

impl<K> DataKernel<K> {
    /// A kernel reading the op's operands `operands`.
    pub fn new(kernel: K, operands: impl Into<Vec<usize>>) -> DataKernel<K> {
        DataKernel {
            kernel,
            operands: operands.into(),
        }
    }

    /// The step reading only the data operands.
    ///
    /// # Errors
    /// As [`LowerCx::required`].
    pub fn lower(
        self,
        cx: &mut LowerCx<'_>,
        wrap: impl FnOnce(K) -> crate::lower::Kernel,
    ) -> Result<Vec<Step>> {
        let inputs = self
            .operands
            .iter()
            .map(|&i| cx.required(i).map(Some))
            .collect::<Result<Vec<_>>>()?;
        let outputs = cx.outputs()?;
        let origin = cx.origin();
        Ok(vec![Step::new(wrap(self.kernel), inputs, outputs, origin)])
    }

    /// Runs `exec` on the op's values as the interpreter runs the step.
    ///
    /// # Errors
    /// The kernel's.
    pub fn eval(
        &self,
        cx: &mut EvalCx<'_>,
        exec: impl FnOnce(&K, &mut StepIo<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut inputs: Vec<Option<&Buf>> = Vec::with_capacity(self.operands.len());
        for &i in &self.operands {
            match cx.inputs.get(i).copied().flatten() {
                Some(b) => inputs.push(Some(b)),
                None => return Err(cx.err(format!("input {i} is missing"))),
            }
        }
        cx.run_step(inputs, 0, |io| exec(&self.kernel, io))
    }
}

/// Checks that a step's operand `input` and result `output` hold `want_in` and `want_out`
/// elements of `T`, and returns them.
///
/// # Errors
/// Missing operands or other sizes.
pub(crate) fn in_out<'a, 'b, T: bytemuck::Pod>(
    io: &'b mut StepIo<'a>,
    input: usize,
    want_in: usize,
    want_out: usize,
) -> Result<(&'a [T], &'b mut [T])> {
    let x = io.input::<T>(input)?;
    let n_out = io.output::<T>(0)?.len();
    if x.len() != want_in || n_out != want_out {
        return Err(io.err(format!(
            "operand of {} and result of {} elements do not match the parameters ({want_in} and \
             {want_out})",
            x.len(),
            n_out
        )));
    }
    Ok((x, io.output::<T>(0)?))
}

/// The Rust back end's [`in_out`]: operand `input` and result `0` as `ty` slices, checked to hold
/// `want_in` and `want_out` elements.
///
/// # Errors
/// Missing operands or other sizes.
pub(crate) fn rust_in_out(
    cx: &mut StepCx<'_>,
    ty: &str,
    input: usize,
    want_in: usize,
    want_out: usize,
) -> Result<(Slice, Slice)> {
    let x = cx.input(input, ty)?;
    let y = cx.output(0, ty)?;
    if x.len != want_in || y.len != want_out {
        return Err(cx.err(format!(
            "operand of {} and result of {} elements do not match the parameters ({want_in} and \
             {want_out})",
            x.len, y.len
        )));
    }
    Ok((x, y))
}

/// A tensor's `params` as TFLite's Prepare functions compare them: the first scale and zero point,
/// `(0.0, 0)` for a tensor without quantization.
pub(crate) fn tflite_qparams(t: &Tensor) -> (f32, i64) {
    match &t.quant {
        Some(q) if !q.scale.is_empty() && !q.zero_point.is_empty() => (q.scale[0], q.zero_point[0]),
        _ => (0.0, 0),
    }
}

/// Checks that quantized `input` and `output` share scale and zero point, as the TFLite kernels
/// that only move quantized values require; `op` names the op for the message.
pub(crate) fn expect_same_quant(cx: &InferCx<'_>, input: &Tensor, output: &Tensor) -> Result<()> {
    if tflite_qparams(input) != tflite_qparams(output) {
        let (si, zi) = tflite_qparams(input);
        let (so, zo) = tflite_qparams(output);
        return Err(cx.err(format!(
            "input \"{}\" (scale {si}, zero point {zi}) and output \"{}\" (scale {so}, zero point {zo}) \
             must have the same quantization",
            input.name, output.name
        )));
    }
    Ok(())
}

/// Normalizes `axis` (negative counts from the end) against `rank`; an error unless it lands in
/// `0..rank`.
pub(crate) fn norm_axis(cx: &InferCx<'_>, axis: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(cx.err(format!("axis {axis} is out of range for rank {rank}")))
    }
}

/// Checks that the op's element type is one of `dtypes` (an "unsupported" error otherwise) and
/// that result `0` has the same type.
pub(crate) fn expect_io_dtype<'g>(cx: &InferCx<'g>, dtypes: &[DType]) -> Result<&'g Tensor> {
    let input = cx.expect_dtype(0, dtypes)?;
    for i in 0..cx.node.outputs.len() {
        let out = cx.output(i)?;
        if out.dtype != input.dtype {
            return Err(cx.err(format!(
                "output {i} has type {}, the input {}",
                out.dtype, input.dtype
            )));
        }
    }
    Ok(input)
}

/// Element types TFLite's TRANSPOSE moves.
const DTYPES: &[DType] = &[
    DType::F32,
    DType::U8,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::Bool,
];

/// The normalized permutation (operand 1) for the input's rank.
fn permutation(cx: &InferCx<'_>, rank: usize) -> Result<Vec<usize>> {
    let perm = cx.const_ints(1)?;
    let t = cx.input(1)?;
    if t.shape.len() != 1 || perm.len() != rank {
        return Err(cx.err(format!(
            "the permutation must be a vector of {rank} entries, got shape {:?}",
            t.shape
        )));
    }
    let mut seen = vec![false; rank];
    let mut out = Vec::with_capacity(rank);
    for &p in &perm {
        let a = norm_axis(cx, p, rank)
            .map_err(|_| cx.err(format!("permutation entry {p} is out of range")))?;
        if std::mem::replace(&mut seen[a], true) {
            return Err(cx.err(format!("the permutation {perm:?} repeats dimension {a}")));
        }
        out.push(a);
    }
    Ok(out)
}

/// TRANSPOSE: operands input and permutation (constant int32/int64 vector).
pub fn infer_transpose(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    cx.arity(2, 2, 1)?;
    let input = expect_io_dtype(cx, DTYPES)?;
    let rank = input.shape.len();
    if rank > kernel::MAX_RANK {
        return Err(cx.unsupported(format!("rank {rank} (TFLite's TRANSPOSE supports up to 6)")));
    }
    if input.dtype.is_quantized_int() {
        expect_same_quant(cx, input, cx.output(0)?)?;
    }
    let perm = permutation(cx, rank)?;
    Ok(vec![perm.iter().map(|&a| input.shape[a]).collect()])
}

/// The kernel parameters of a TRANSPOSE.
pub fn transpose_params(cx: &InferCx<'_>) -> Result<TransposeParams> {
    let input = cx.input(0)?;
    let perm = permutation(cx, input.shape.len())?;
    TransposeParams::new(&input.shape, &perm).ok_or_else(|| cx.err("invalid permutation"))
}

/// The kernel of a TRANSPOSE (the permutation folded into the parameters).
fn transpose_kernel(cx: &InferCx<'_>) -> Result<DataKernel<Kernel>> {
    let p = transpose_params(cx)?;
    let w = Width::of(cx, cx.input(0)?.dtype)?;
    Ok(DataKernel::new(Kernel::Transpose(p, w), [0]))
}

/// TRANSPOSE: moves the elements with [`kernel::transpose`].
pub fn eval_transpose(cx: &mut EvalCx<'_>) -> Result<()> {
    transpose_kernel(&cx.infer_cx())?.eval(cx, Kernel::exec)
}

/// Lowers TRANSPOSE to one step reading the input.
pub fn lower_transpose(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    transpose_kernel(&cx.icx)?.lower(cx, crate::lower::Kernel::Transpose)
}

/// The `transpose` family's kernels, each with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// TRANSPOSE of elements of a width.
    Transpose(TransposeParams, Width),
}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::Transpose(_, w) => w.pick([
                "transpose_x8",
                "transpose_x16",
                "transpose_x32",
                "transpose_x64",
            ]),
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::Transpose(p, w) => with_width!(*w, T => {
                let n = p.elements();
                let (x, y) = in_out::<T>(io, 0, n, n)?;
                kernel::transpose(p, x, y);
                Ok(())
            }),
        }
    }
}

impl Kernel {
    /// Writes the step's Rust code: the same kernel [`Kernel::exec`] runs, with every parameter a
    /// `static`.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        match self {
            Kernel::Transpose(p, w) => {
                let n = p.elements();
                let (x, y) = rust_in_out(cx, w.rust_type(), 0, n, n)?;
                let p = cx.param("params", p);
                cx.call(
                    "k::transpose::transpose",
                    &[format!("&{p}"), x.expr, y.expr],
                );
                Ok(())
            }
        }
    }
}

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code: the runtime's strided walk with every shape and stride
    /// an immediate (`clif::strided_gather`).
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        match self {
            Kernel::Transpose(p, w) => {
                let n = p.elements();
                let x = cx.input(0)?;
                let y = cx.output(0)?;
                clif::expect_len(cx, "the operand", &x, *w, n)?;
                clif::expect_len(cx, "the result", &y, *w, n)?;
                let r = p.rank;
                clif::strided_gather(
                    cx,
                    x.base,
                    y.base,
                    *w,
                    0,
                    &p.out_shape[..r],
                    &p.in_strides[..r],
                );
                Ok(())
            }
        }
    }
}

/// One-op graphs for the data-movement families' unit tests.
#[cfg(test)]
pub(crate) mod testutil {
    use crate::error::Result;
    use crate::interp::Buf;
    use crate::ir::{DType, Graph, Op, OpId, OpNode, Quant, Shape, Tensor};
    use crate::ops::{self, EvalCx};

    /// A non-constant tensor (its shape is what the model file would declare).
    pub fn t(dtype: DType, shape: &[usize]) -> Tensor {
        Tensor {
            name: String::new(),
            dtype,
            shape: shape.to_vec(),
            quant: None,
            data: None,
            tflite_index: None,
        }
    }

    /// A per-tensor quantized tensor.
    pub fn tq(dtype: DType, shape: &[usize], scale: f32, zero_point: i64) -> Tensor {
        Tensor {
            quant: Some(Quant::per_tensor(scale, zero_point)),
            ..t(dtype, shape)
        }
    }

    /// A constant int32 tensor.
    pub fn c32(shape: &[usize], values: &[i32]) -> Tensor {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Tensor {
            data: Some(data),
            ..t(DType::I32, shape)
        }
    }

    /// A constant tensor of any type from its values' bytes.
    pub fn cbytes<T: bytemuck::Pod>(dtype: DType, shape: &[usize], values: &[T]) -> Tensor {
        Tensor {
            data: Some(bytemuck::cast_slice(values).to_vec()),
            ..t(dtype, shape)
        }
    }

    /// A graph holding `op` over `inputs` (`None` = omitted) with `outputs`.
    pub fn graph(op: Op, inputs: Vec<Option<Tensor>>, outputs: Vec<Tensor>) -> (Graph, OpId) {
        let mut g = Graph::new();
        let ins = inputs
            .into_iter()
            .map(|t| t.map(|t| g.add_tensor(t)))
            .collect();
        let outs = outputs.into_iter().map(|t| g.add_tensor(t)).collect();
        let id = g.add_op(OpNode {
            op,
            inputs: ins,
            outputs: outs,
            tflite_index: Some(0),
            version: 1,
        });
        (g, id)
    }

    /// The op's inferred result shapes.
    pub fn infer(op: Op, inputs: Vec<Tensor>, outputs: Vec<Tensor>) -> Result<Vec<Shape>> {
        let (g, id) = graph(op, inputs.into_iter().map(Some).collect(), outputs);
        ops::infer(&g, id)
    }

    /// Infers the shapes, then evaluates the op on `values` (one buffer per non-constant input,
    /// in order) and returns the results' buffers.
    pub fn eval(
        op: Op,
        inputs: Vec<Tensor>,
        outputs: Vec<Tensor>,
        values: &[Buf],
    ) -> Result<Vec<Buf>> {
        let (mut g, id) = graph(op, inputs.into_iter().map(Some).collect(), outputs);
        let shapes = ops::infer(&g, id)?;
        let node = g.op(id).clone();
        for (&o, s) in node.outputs.iter().zip(shapes) {
            g.tensor_mut(o).shape = s;
        }
        let consts: Vec<Option<Buf>> = node
            .inputs
            .iter()
            .map(|t| t.and_then(|t| g.tensor(t).data.as_deref().map(Buf::from_bytes)))
            .collect();
        let mut next = values.iter();
        let ins: Vec<Option<&Buf>> = consts
            .iter()
            .map(|c| c.as_ref().or_else(|| next.next()))
            .collect();
        let outs = node
            .outputs
            .iter()
            .map(|&o| Buf::zeroed(g.tensor(o).byte_len()))
            .collect();
        let mut cx = EvalCx {
            graph: &g,
            node: &node,
            inputs: ins,
            outputs: outs,
        };
        ops::eval(&mut cx)?;
        Ok(cx.outputs)
    }

    /// Lowers the one-op graph (non-constant operands become model inputs, results model outputs)
    /// and runs the program in its planned arena on `values` (one buffer per model input).
    pub fn lower_and_run(
        op: Op,
        inputs: Vec<Tensor>,
        outputs: Vec<Tensor>,
        values: &[Buf],
    ) -> Result<(crate::lower::Program, Vec<Buf>)> {
        let program = crate::lower::lower(&one_op_graph(op, inputs, outputs)?)?;
        let plan = crate::plan::plan(&program);
        let outs = crate::interp::Interpreter::new(&program, &plan).run(values)?;
        Ok((program, outs))
    }

    /// Lowers the one-op graph as [`lower_and_run`] does, runs it in the interpreter and through
    /// the Cranelift JIT (arena and outputs filled with garbage first), checks that every output
    /// byte agrees and that the code compiles for aarch64 and baseline x86-64; returns the
    /// program and the outputs.
    #[cfg(feature = "cranelift")]
    pub fn jit_matches(
        op: Op,
        inputs: Vec<Tensor>,
        outputs: Vec<Tensor>,
        values: &[Buf],
    ) -> Result<(crate::lower::Program, Vec<Buf>)> {
        let program = crate::lower::lower(&one_op_graph(op, inputs, outputs)?)?;
        let plan = crate::plan::plan(&program);
        let want = crate::interp::Interpreter::new(&program, &plan).run(values)?;
        let jit = crate::clif::Jit::new(&program, &plan)?;
        let mut arena = crate::clif::Arena::new(jit.arena_bytes());
        arena.bytes_mut().fill(0xA5);
        let mut outs: Vec<Buf> = want
            .iter()
            .map(|b| {
                let mut x = Buf::zeroed(b.len());
                x.bytes_mut().fill(0xA5);
                x
            })
            .collect();
        jit.run_in(&mut arena, values, &mut outs, None)?;
        for (i, (got, want)) in outs.iter().zip(&want).enumerate() {
            assert_eq!(got.bytes(), want.bytes(), "output {i}");
        }
        // The code also compiles for the shipped targets without the host's features.
        for name in ["aarch64-unknown-linux-gnu", "x86_64-unknown-linux-gnu"] {
            let target = crate::clif::target::Target::lookup(name)?;
            crate::clif::object::object(&program, &plan, &target, "m")?;
        }
        Ok((program, outs))
    }

    /// The graph of one op whose non-constant operands are the model inputs, its results the
    /// outputs, with the results' shapes inferred.
    pub fn one_op_graph(op: Op, inputs: Vec<Tensor>, outputs: Vec<Tensor>) -> Result<Graph> {
        let (mut g, id) = graph(op, inputs.into_iter().map(Some).collect(), outputs);
        let shapes = ops::infer(&g, id)?;
        let node = g.op(id).clone();
        for (&o, s) in node.outputs.iter().zip(shapes) {
            g.tensor_mut(o).shape = s;
        }
        g.inputs = node
            .inputs
            .iter()
            .flatten()
            .copied()
            .filter(|&t| !g.tensor(t).is_const())
            .collect();
        g.outputs = node.outputs.clone();
        Ok(g)
    }

    /// Lowers the one-op graph as [`lower_and_run`] does and returns the Rust back end's code
    /// for it (planned as the back end plans, [`crate::rust::plan_program`]).
    pub fn emit_rust(op: Op, inputs: Vec<Tensor>, outputs: Vec<Tensor>) -> Result<String> {
        let program = crate::lower::lower(&one_op_graph(op, inputs, outputs)?)?;
        let (program, plan) = crate::rust::plan_program(program)?;
        let opts = crate::rust::Options::new("m");
        Ok(crate::rust::generate(&program, &plan, &opts)?.code)
    }

    /// `bytes` pseudo-random bytes (a fixed xorshift sequence per seed).
    pub fn noise(bytes: usize, seed: u64) -> Buf {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let v: Vec<u8> = (0..bytes)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        Buf::from_bytes(&v)
    }

    /// The kernel names of a program's steps and how many operands each reads.
    pub fn kernels(p: &crate::lower::Program) -> Vec<(String, usize)> {
        p.steps
            .iter()
            .map(|s| (s.kernel.name(), s.inputs.len()))
            .collect()
    }

    /// Whether `r` is an error whose message contains `needle`.
    pub fn fails_with<T: std::fmt::Debug>(r: Result<T>, needle: &str) -> bool {
        match r {
            Ok(v) => panic!("expected an error mentioning {needle:?}, got {v:?}"),
            Err(e) => {
                let s = e.to_string();
                assert!(
                    s.contains(needle),
                    "error {s:?} does not mention {needle:?}"
                );
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::{Kernel, TransposeParams, Width};
    use crate::interp::{Buf, StepIo};
    use crate::ir::{DType, NoAttrs, Op};
    use crate::lower::Origin;

    #[test]
    fn negative_permutation_entries_count_from_the_end() {
        let out = eval(
            Op::Transpose(NoAttrs),
            vec![t(DType::F32, &[2, 3]), c32(&[2], &[-1, 0])],
            vec![t(DType::F32, &[3, 2])],
            &[Buf::from_slice(&[1f32, 2., 3., 4., 5., 6.])],
        )
        .unwrap();
        assert_eq!(out[0].as_slice::<f32>().unwrap(), &[1., 4., 2., 5., 3., 6.]);
    }

    #[test]
    fn quantized_transpose_keeps_quantization() {
        let r = infer(
            Op::Transpose(NoAttrs),
            vec![tq(DType::I8, &[2, 3], 0.5, 1), c32(&[2], &[1, 0])],
            vec![tq(DType::I8, &[3, 2], 0.25, 1)],
        );
        assert!(fails_with(r, "same quantization"));
    }

    #[test]
    fn lowered_transpose_reads_only_the_input() {
        let (p, out) = lower_and_run(
            Op::Transpose(NoAttrs),
            vec![t(DType::I16, &[2, 3]), c32(&[2], &[1, 0])],
            vec![t(DType::I16, &[3, 2])],
            &[Buf::from_slice(&[1i16, 2, 3, 4, 5, 6])],
        )
        .unwrap();
        assert_eq!(kernels(&p), vec![("transpose_x16".to_string(), 1)]);
        assert_eq!(out[0].as_slice::<i16>().unwrap(), &[1, 4, 2, 5, 3, 6]);
    }

    #[test]
    fn exec_rejects_operands_of_other_sizes() {
        let p = TransposeParams::new(&[2, 3], &[1, 0]).unwrap();
        let k = Kernel::Transpose(p, Width::X32);
        let origin = Origin::default();
        let x = Buf::from_slice(&[1f32, 2., 3., 4.]);
        let mut io = StepIo {
            inputs: vec![Some(&x)],
            outputs: vec![Buf::zeroed(24)],
            scratch: Buf::zeroed(0),
            origin: &origin,
        };
        assert!(fails_with(k.exec(&mut io), "do not match"));
    }

    #[test]
    fn emitted_transpose_moves_bits_of_the_width() {
        let code = emit_rust(
            Op::Transpose(NoAttrs),
            vec![t(DType::I16, &[2, 3]), c32(&[2], &[1, 0])],
            vec![t(DType::I16, &[3, 2])],
        )
        .unwrap();
        assert!(
            code.contains(
                "k::transpose::transpose(&S0_PARAMS, view::<u16>(i[0], 0, 6), \
                 view_mut::<u16>(o[0], 0, 6));"
            ),
            "{code}"
        );
        assert!(code.contains("static S0_PARAMS: k::transpose::TransposeParams"));
    }

    #[test]
    fn widths_pick_names() {
        assert_eq!(Width::X8.pick(["a", "b", "c", "d"]), "a");
        assert_eq!(Width::X64.pick(["a", "b", "c", "d"]), "d");
    }

    #[cfg(feature = "cranelift")]
    #[test]
    fn jit_transposes_match_the_interpreter() {
        let cases: &[(&[usize], &[i32])] = &[
            (&[2, 3], &[1, 0]),
            (&[2, 3, 4, 5], &[0, 2, 3, 1]),
            (&[1, 4, 5, 16], &[0, 3, 1, 2]),
            (&[3, 17, 5], &[2, 1, 0]),
            (&[4, 33], &[1, 0]),
            (&[2, 3, 40], &[1, 0, 2]),
            (&[2, 1, 3, 1, 2, 3], &[5, 3, 1, 0, 2, 4]),
            (&[], &[]),
            (&[0, 3], &[1, 0]),
        ];
        for dtype in [DType::F32, DType::U8, DType::I16, DType::I64, DType::Bool] {
            for (k, (shape, perm)) in cases.iter().enumerate() {
                let n: usize = shape.iter().product();
                let out: Vec<usize> = perm.iter().map(|&a| shape[a as usize]).collect();
                let x = if dtype == DType::Bool {
                    Buf::from_bytes(
                        &noise(n, k as u64)
                            .bytes()
                            .iter()
                            .map(|b| b & 1)
                            .collect::<Vec<_>>(),
                    )
                } else {
                    noise(n * dtype.size(), k as u64)
                };
                jit_matches(
                    Op::Transpose(NoAttrs),
                    vec![t(dtype, shape), c32(&[perm.len()], perm)],
                    vec![t(dtype, &out)],
                    &[x],
                )
                .unwrap_or_else(|e| panic!("{dtype} {shape:?} {perm:?}: {e}"));
            }
        }
    }

    #[test]
    fn repeated_permutation_is_rejected() {
        let r = infer(
            Op::Transpose(NoAttrs),
            vec![t(DType::F32, &[2, 3]), c32(&[2], &[1, 1])],
            vec![t(DType::F32, &[3, 2])],
        );
        assert!(fails_with(r, "repeats"));
    }
}

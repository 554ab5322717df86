//! CONCATENATION (TFLite `concatenation.cc`): any number of operands of one rank and type, equal
//! except along the axis.
//!
//! - float32, int16, int32, int64: a copy. int16 operands and result must have zero point 0.
//! - int8: a copy; TFLite requires every operand to have the result's scale and zero point.
//! - uint8: TFLite's reference kernel runs `ConcatenationWithScaling`: operands whose scale or
//!   zero point differ from the result's are requantized in `f32` (see
//!   [`mvcc_kernels::kernels::concatenation::ConcatRescale`]).
//!
//! TFLite rejects a fused activation other than NONE. mvcc applies one on float32 (a clamp after
//! the copy, as every other float op does) and reports it unsupported on quantized types.

use mvcc_kernels::kernels::common::ActF32;
use mvcc_kernels::kernels::concatenation::{self as kernel, ConcatParams, ConcatRescale};

use super::transpose::{norm_axis, tflite_qparams, with_width, DataKernel, Width};
use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{Activation, ConcatAttrs, DType, Shape};
use crate::lower::{LowerCx, Step};
use crate::quant::act_f32;
use crate::rust::step::{Slice, StepCx};

/// Element types TFLite's CONCATENATION accepts.
const DTYPES: &[DType] = &[
    DType::F32,
    DType::U8,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
];

/// CONCATENATION: one result, the operands' shape with the axis dimension summed.
pub fn infer_concatenation(cx: &InferCx<'_>, a: &ConcatAttrs) -> Result<Vec<Shape>> {
    let n = cx.node.inputs.len();
    cx.arity(n.max(1), n.max(1), 1)?;
    let t0 = cx.expect_dtype(0, DTYPES)?;
    let out = cx.output(0)?;
    if out.dtype != t0.dtype {
        return Err(cx.err(format!(
            "output has type {}, the inputs {}",
            out.dtype, t0.dtype
        )));
    }
    let rank = t0.shape.len();
    let axis = norm_axis(cx, i64::from(a.axis), rank)?;
    let mut shape = t0.shape.clone();
    shape[axis] = 0;
    for i in 0..cx.node.inputs.len() {
        let t = cx.input(i)?;
        if t.dtype != t0.dtype {
            return Err(cx.err(format!(
                "input {i} has type {}, input 0 {}",
                t.dtype, t0.dtype
            )));
        }
        if t.shape.len() != rank
            || t.shape
                .iter()
                .zip(&t0.shape)
                .enumerate()
                .any(|(d, (x, y))| d != axis && x != y)
        {
            return Err(cx.err(format!(
                "input {i} has shape {:?}, which does not match input 0's {:?} outside axis {axis}",
                t.shape, t0.shape
            )));
        }
        shape[axis] += t.shape[axis];
    }
    if a.act != Activation::None && t0.dtype != DType::F32 {
        return Err(cx.unsupported(format!(
            "fused activation on a {} concatenation (TFLite accepts none)",
            t0.dtype
        )));
    }
    match t0.dtype {
        DType::I8 => {
            let want = tflite_qparams(out);
            for i in 0..cx.node.inputs.len() {
                let t = cx.input(i)?;
                if tflite_qparams(t) != want {
                    return Err(cx.err(format!(
                        "int8 input {i} (\"{}\") must have the output's scale and zero point (TFLite does not \
                         rescale int8 concatenations)",
                        t.name
                    )));
                }
            }
        }
        DType::U8 => {
            cx.per_tensor_quant(out)?;
            for i in 0..cx.node.inputs.len() {
                cx.per_tensor_quant(cx.input(i)?)?;
            }
        }
        DType::I16 => {
            for t in (0..cx.node.inputs.len())
                .map(|i| cx.input(i))
                .chain([Ok(out)])
            {
                let t = t?;
                if tflite_qparams(t).1 != 0 {
                    return Err(cx.err(format!(
                        "int16 tensor \"{}\" must have zero point 0",
                        t.name
                    )));
                }
            }
        }
        _ => {}
    }
    Ok(vec![shape])
}

/// The kernel parameters: the product of the output dimensions before the axis.
pub fn concat_params(cx: &InferCx<'_>, a: &ConcatAttrs) -> Result<ConcatParams> {
    let out = cx.output(0)?;
    let axis = norm_axis(cx, i64::from(a.axis), out.shape.len())?;
    Ok(ConcatParams {
        outer: out.shape[..axis].iter().product(),
    })
}

/// uint8: each operand's rescaling into the output's quantization.
pub fn concat_rescales(cx: &InferCx<'_>) -> Result<Vec<ConcatRescale>> {
    let (out_scale, out_zp) = cx.per_tensor_quant(cx.output(0)?)?;
    (0..cx.node.inputs.len())
        .map(|i| {
            let (s, z) = cx.per_tensor_quant(cx.input(i)?)?;
            Ok(ConcatRescale::new(s, z, out_scale, out_zp))
        })
        .collect()
}

/// The kernel of a CONCATENATION: a copy of elements of a width, unless a float activation
/// clamps or uint8 operands need rescaling.
fn concat_kernel(cx: &InferCx<'_>, a: &ConcatAttrs) -> Result<DataKernel<Kernel>> {
    let p = concat_params(cx, a)?;
    let dtype = cx.output(0)?.dtype;
    let kernel = match dtype {
        DType::F32 if a.act != Activation::None => Kernel::ConcatF32(p, act_f32(a.act)),
        DType::U8 => {
            let rescales = concat_rescales(cx)?;
            if rescales.iter().all(|r| r.identity) {
                Kernel::Concat(p, Width::X8)
            } else {
                Kernel::ConcatU8(p, rescales)
            }
        }
        _ => Kernel::Concat(p, Width::of(cx, dtype)?),
    };
    Ok(DataKernel::new(
        kernel,
        (0..cx.node.inputs.len()).collect::<Vec<_>>(),
    ))
}

/// CONCATENATION: copies (float: then clamps; uint8: rescales) with the runtime kernels.
pub fn eval_concatenation(cx: &mut EvalCx<'_>, a: &ConcatAttrs) -> Result<()> {
    concat_kernel(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// Lowers CONCATENATION to one step reading every operand.
pub fn lower_concatenation(cx: &mut LowerCx<'_>, a: &ConcatAttrs) -> Result<Vec<Step>> {
    concat_kernel(&cx.icx, a)?.lower(cx, crate::lower::Kernel::Concatenation)
}

/// The `concatenation` family's kernels, each with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// A copy of elements of a width.
    Concat(ConcatParams, Width),
    /// Float, then the activation clamp.
    ConcatF32(ConcatParams, ActF32),
    /// uint8 with each operand's rescaling into the output's quantization (in operand order).
    ConcatU8(ConcatParams, Vec<ConcatRescale>),
}

/// The operands of a step as `T`, checked to make up the result with `p`.
fn operands<'a, T: bytemuck::Pod>(
    io: &mut StepIo<'a>,
    p: &ConcatParams,
    n: Option<usize>,
) -> Result<Vec<&'a [T]>> {
    let count = n.unwrap_or(io.inputs.len());
    let inputs = (0..count)
        .map(|i| io.input::<T>(i))
        .collect::<Result<Vec<_>>>()?;
    let out_len = io.output::<T>(0)?.len();
    if count != io.inputs.len() || !p.fits(inputs.iter().map(|x| x.len()), out_len) {
        return Err(io.err(format!(
            "{} operands of {:?} elements do not concatenate into {out_len} in {} rows",
            io.inputs.len(),
            inputs.iter().map(|x| x.len()).collect::<Vec<_>>(),
            p.outer
        )));
    }
    Ok(inputs)
}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::Concat(_, w) => w.pick([
                "concatenation_x8",
                "concatenation_x16",
                "concatenation_x32",
                "concatenation_x64",
            ]),
            Kernel::ConcatF32(..) => "concatenation_f32",
            Kernel::ConcatU8(..) => "concatenation_rescale_u8",
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::Concat(p, w) => with_width!(*w, T => {
                let inputs = operands::<T>(io, p, None)?;
                kernel::concatenation(p, &inputs, io.output::<T>(0)?);
                Ok(())
            }),
            Kernel::ConcatF32(p, act) => {
                let inputs = operands::<f32>(io, p, None)?;
                kernel::concatenation_f32(p, &inputs, *act, io.output::<f32>(0)?);
                Ok(())
            }
            Kernel::ConcatU8(p, rescales) => {
                let inputs = operands::<u8>(io, p, Some(rescales.len()))?;
                let inputs: Vec<(&[u8], ConcatRescale)> =
                    inputs.into_iter().zip(rescales.iter().copied()).collect();
                kernel::concatenation_with_scaling_u8(p, &inputs, io.output::<u8>(0)?);
                Ok(())
            }
        }
    }
}

/// The operands of a step as `ty`, checked like [`operands`] to make up the result with `p`;
/// the operands and the result.
fn rust_operands(
    cx: &mut StepCx<'_>,
    ty: &str,
    p: &ConcatParams,
    n: Option<usize>,
) -> Result<(Vec<Slice>, Slice)> {
    let all = cx.step().inputs.len();
    let count = n.unwrap_or(all);
    let inputs = (0..count)
        .map(|i| cx.input(i, ty))
        .collect::<Result<Vec<_>>>()?;
    let out = cx.output(0, ty)?;
    if count != all || !p.fits(inputs.iter().map(|x| x.len), out.len) {
        return Err(cx.err(format!(
            "{all} operands of {:?} elements do not concatenate into {} in {} rows",
            inputs.iter().map(|x| x.len).collect::<Vec<_>>(),
            out.len,
            p.outer
        )));
    }
    Ok((inputs, out))
}

/// `&[a, b, …]`, one item per line when long (laid out for an argument of a call broken one
/// argument per line).
fn array(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    let flat = format!("&[{}]", items.join(", "));
    if flat.len() <= 80 {
        return flat;
    }
    let mut s = String::from("&[\n");
    for i in &items {
        s.push_str(&format!("{:16}{i},\n", ""));
    }
    s.push_str(&format!("{:12}]", ""));
    s
}

impl Kernel {
    /// Writes the step's Rust code: the same kernel [`Kernel::exec`] runs, with every parameter a
    /// `static` (a copy views the elements as any type of their width).
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        match self {
            Kernel::Concat(p, w) => {
                let t = w.pick(["u8", "u16", "i32", "i64"]);
                let (inputs, out) = rust_operands(cx, t, p, None)?;
                let name = cx.param("params", p);
                let xs = array(inputs.into_iter().map(|x| x.expr));
                let args = [format!("&{name}"), xs, out.expr];
                cx.call("k::concatenation::concatenation", &args);
            }
            Kernel::ConcatF32(p, act) => {
                let (inputs, out) = rust_operands(cx, "f32", p, None)?;
                let name = cx.param("params", p);
                let a = cx.param("act", act);
                let xs = array(inputs.into_iter().map(|x| x.expr));
                let args = [format!("&{name}"), xs, a, out.expr];
                cx.call("k::concatenation::concatenation_f32", &args);
            }
            Kernel::ConcatU8(p, rescales) => {
                let (inputs, out) = rust_operands(cx, "u8", p, Some(rescales.len()))?;
                let name = cx.param("params", p);
                let r = cx.param_array("rescales", rescales);
                let xs = array(
                    inputs
                        .into_iter()
                        .enumerate()
                        .map(|(i, x)| format!("({x}, {r}[{i}])")),
                );
                let args = [format!("&{name}"), xs, out.expr];
                cx.call("k::concatenation::concatenation_with_scaling_u8", &args);
            }
        }
        Ok(())
    }
}

/// Cranelift code: every operand is `outer` chunks interleaved into the result; each operand's
/// chunks become one strided copy (rows of its chunk length, `Σ chunks` apart in the result).
#[cfg(feature = "cranelift")]
mod clif_code {
    use cranelift_codegen::ir::condcodes::FloatCC;
    use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
    use mvcc_kernels::kernels::common::ActF32;
    use mvcc_kernels::kernels::concatenation::{self as kernel, ConcatParams, ConcatRescale};

    use super::Kernel;
    use crate::clif::cx::{KernelCx, Region};
    use crate::error::Result;
    use crate::ops::transpose::{clif, Width};

    /// Checks that `inputs` (elements of width `w`) concatenate into `y` in `outer` rows, as the
    /// runtime's `fits` does; the chunk length of each operand in bytes.
    fn chunks(
        cx: &KernelCx<'_, '_>,
        outer: usize,
        w: Width,
        inputs: &[Region],
        y: &Region,
    ) -> Result<Vec<usize>> {
        let wb = w.bytes();
        let fits = y.bytes.is_multiple_of(wb)
            && inputs.iter().all(|x| x.bytes.is_multiple_of(wb))
            && kernel::chunks_fit(outer, inputs.iter().map(|x| x.len(wb)), y.len(wb));
        if !fits {
            return Err(cx.err(format!(
                "operands of {:?} bytes do not concatenate into {} in {outer} rows",
                inputs.iter().map(|x| x.bytes).collect::<Vec<_>>(),
                y.bytes
            )));
        }
        Ok(inputs
            .iter()
            .map(|x| x.bytes.checked_div(outer).unwrap_or(0))
            .collect())
    }

    /// CONCATENATION and PACK: `inputs` interleaved into `y` in `outer` rows.
    ///
    /// # Errors
    /// Operand sizes that do not concatenate.
    pub(crate) fn interleave(
        cx: &mut KernelCx<'_, '_>,
        outer: usize,
        w: Width,
        inputs: &[Region],
        y: Region,
    ) -> Result<()> {
        let lens = chunks(cx, outer, w, inputs, &y)?;
        if outer == 0 {
            return Ok(());
        }
        let row = y.bytes / outer;
        let mut pos = 0;
        for (x, n) in inputs.iter().zip(lens) {
            let dst = cx.b.ins().iadd_imm_s(y.base, pos as i64);
            clif::copy_rows(cx, (x.base, n), (dst, row), outer, n);
            pos += n;
        }
        Ok(())
    }

    /// `x < min ? min : x`, then `> max ? max`, on `f32x4` lanes.
    fn clamp4(cx: &mut KernelCx<'_, '_>, x: Value, act: ActF32) -> Value {
        let f = types::F32X4;
        let lo = cx.f32const(act.min);
        let lo = cx.b.ins().splat(f, lo);
        let hi = cx.f32const(act.max);
        let hi = cx.b.ins().splat(f, hi);
        let below = cx.b.ins().fcmp(FloatCC::LessThan, x, lo);
        let below = cx.b.ins().bitcast(f, MemFlagsData::new(), below);
        let a = cx.b.ins().bitselect(below, lo, x);
        let above = cx.b.ins().fcmp(FloatCC::GreaterThan, a, hi);
        let above = cx.b.ins().bitcast(f, MemFlagsData::new(), above);
        cx.b.ins().bitselect(above, hi, a)
    }

    /// TFLite's float activation clamp over the `n` floats at `ptr`, four at a time.
    fn clamp_all(cx: &mut KernelCx<'_, '_>, ptr: Value, n: usize, act: ActF32) -> Result<()> {
        let mf = MemFlagsData::new().with_notrap();
        cx.for_range(n / 4, |cx, i| {
            let p = clif::offset(cx, ptr, i, 16);
            let v = cx.b.ins().load(types::F32X4, mf, p, 0);
            let v = clamp4(cx, v, act);
            cx.b.ins().store(mf, v, p, 0);
            Ok(())
        })?;
        for k in n / 4 * 4..n {
            let off = (k * 4) as i64;
            let p = cx.b.ins().iadd_imm_s(ptr, off);
            let v = cx.b.ins().load(types::F32, mf, p, 0);
            let v = cx.clamp_f32(v, act.min, act.max);
            cx.b.ins().store(mf, v, p, 0);
        }
        Ok(())
    }

    /// The 256 results of `r` on every uint8 value, computed by the runtime's kernel.
    fn rescale_table(r: ConcatRescale) -> Vec<u8> {
        let all: Vec<u8> = (0..=255).collect();
        let mut out = vec![0u8; 256];
        kernel::concatenation_with_scaling_u8(&ConcatParams { outer: 1 }, &[(&all, r)], &mut out);
        out
    }

    /// `n` bytes per row through the 256-byte `table`, `rows` rows (`src_stride`, `dst_stride`
    /// bytes apart).
    fn lookup_rows(
        cx: &mut KernelCx<'_, '_>,
        table: Value,
        (src, src_stride): (Value, usize),
        (dst, dst_stride): (Value, usize),
        rows: usize,
        n: usize,
    ) -> Result<()> {
        let ptr = cx.ptr;
        cx.for_range(rows, |cx, r| {
            let s = clif::offset(cx, src, r, src_stride as i64);
            let d = clif::offset(cx, dst, r, dst_stride as i64);
            cx.for_range(n, |cx, e| {
                let q = cx.load(types::I8, s, e);
                let q = cx.b.ins().uextend(ptr, q);
                let v = cx.load(types::I8, table, q);
                cx.store(v, d, e);
                Ok(())
            })
        })
    }

    impl Kernel {
        /// Writes the step's Cranelift code: strided copies per operand (the float activation
        /// clamps the result afterwards, four lanes at a time, as the runtime does; uint8 operands
        /// that need rescaling go through a 256-entry table the runtime's own rescaling computed,
        /// so every byte matches).
        ///
        /// # Errors
        /// Operand sizes that do not match the parameters.
        pub fn emit_clif(&self, cx: &mut KernelCx<'_, '_>) -> Result<()> {
            match self {
                Kernel::Concat(p, w) => {
                    let inputs = clif::all_inputs(cx);
                    let y = cx.output(0)?;
                    interleave(cx, p.outer, *w, &inputs, y)
                }
                Kernel::ConcatF32(p, act) => {
                    let inputs = clif::all_inputs(cx);
                    let y = cx.output(0)?;
                    interleave(cx, p.outer, Width::X32, &inputs, y)?;
                    if *act != ActF32::NONE {
                        clamp_all(cx, y.base, y.len(4), *act)?;
                    }
                    Ok(())
                }
                Kernel::ConcatU8(p, rescales) => {
                    let inputs = clif::all_inputs(cx);
                    let y = cx.output(0)?;
                    if inputs.len() != rescales.len() {
                        return Err(cx.err(format!(
                            "{} operands for {} rescalings",
                            inputs.len(),
                            rescales.len()
                        )));
                    }
                    let lens = chunks(cx, p.outer, Width::X8, &inputs, &y)?;
                    if p.outer == 0 {
                        return Ok(());
                    }
                    let row = y.bytes / p.outer;
                    let mut pos = 0;
                    for ((x, n), r) in inputs.iter().zip(lens).zip(rescales) {
                        let dst = cx.b.ins().iadd_imm_s(y.base, pos as i64);
                        if r.identity {
                            clif::copy_rows(cx, (x.base, n), (dst, row), p.outer, n);
                        } else if n > 0 {
                            let table = cx.const_data(&rescale_table(*r))?;
                            lookup_rows(cx, table, (x.base, n), (dst, row), p.outer, n)?;
                        }
                        pos += n;
                    }
                    Ok(())
                }
            }
        }
    }
}

#[cfg(feature = "cranelift")]
pub(crate) use clif_code::interleave;

#[cfg(test)]
mod tests {
    use crate::interp::Buf;
    use crate::ir::{Activation, ConcatAttrs, DType, Op};
    use crate::ops::transpose::testutil::{eval, fails_with, infer, kernels, lower_and_run, t, tq};

    fn concat(axis: i32, act: Activation) -> Op {
        Op::Concatenation(ConcatAttrs { axis, act })
    }

    #[cfg(feature = "cranelift")]
    #[test]
    fn jit_concatenations_match_the_interpreter() {
        use crate::ops::transpose::testutil::{jit_matches, noise};
        let shapes: &[&[usize]] = &[&[2, 3, 5, 4], &[2, 3, 5, 1], &[2, 3, 5, 13]];
        // Quantized types with the output's quantization.
        let tt = |dtype: DType, s: &[usize]| match dtype {
            DType::U8 | DType::I8 => tq(dtype, s, 0.5, 3),
            DType::I16 => tq(dtype, s, 0.5, 0),
            _ => t(dtype, s),
        };
        for axis in 0..4usize {
            for dtype in [DType::F32, DType::U8, DType::I8, DType::I16, DType::I64] {
                let ins: Vec<Vec<usize>> = shapes
                    .iter()
                    .map(|s| {
                        let mut v = vec![2, 3, 5, 4];
                        v[axis] = s[3];
                        v
                    })
                    .collect();
                let values: Vec<Buf> = ins
                    .iter()
                    .enumerate()
                    .map(|(i, s)| noise(s.iter().product::<usize>() * dtype.size(), i as u64))
                    .collect();
                let (p, _) = jit_matches(
                    concat(axis as i32, Activation::None),
                    ins.iter().map(|s| tt(dtype, s)).collect(),
                    vec![tt(dtype, &[1])],
                    &values,
                )
                .unwrap_or_else(|e| panic!("{dtype} {axis}: {e}"));
                assert!(kernels(&p)[0].0.starts_with("concatenation_x"));
                if dtype == DType::F32 {
                    // Finite floats for the clamp.
                    let values: Vec<Buf> = ins
                        .iter()
                        .enumerate()
                        .map(|(i, s)| {
                            let n: usize = s.iter().product();
                            let v: Vec<f32> = noise(n, i as u64)
                                .bytes()
                                .iter()
                                .map(|&b| (f32::from(b) - 100.0) / 16.0)
                                .collect();
                            Buf::from_slice(&v)
                        })
                        .collect();
                    for act in [Activation::Relu, Activation::Relu6, Activation::ReluN1To1] {
                        let (p, _) = jit_matches(
                            concat(axis as i32, act),
                            ins.iter().map(|s| t(dtype, s)).collect(),
                            vec![t(dtype, &[1])],
                            &values,
                        )
                        .unwrap_or_else(|e| panic!("{act:?} {axis}: {e}"));
                        assert_eq!(kernels(&p)[0].0, "concatenation_f32");
                    }
                }
            }
            // uint8 with rescaling: one operand like the output, two not.
            let q = [(0.5, 10), (0.25, 0), (1.7, 200)];
            let values: Vec<Buf> = ins_u8(axis)
                .iter()
                .enumerate()
                .map(|(i, s)| noise(s.iter().product(), i as u64 + 7))
                .collect();
            let (p, _) = jit_matches(
                concat(axis as i32, Activation::None),
                ins_u8(axis)
                    .iter()
                    .zip(q)
                    .map(|(s, (sc, z))| tq(DType::U8, s, sc, z))
                    .collect(),
                vec![tq(DType::U8, &[1], 0.5, 10)],
                &values,
            )
            .unwrap_or_else(|e| panic!("u8 {axis}: {e}"));
            assert_eq!(kernels(&p)[0].0, "concatenation_rescale_u8");
        }
    }

    #[cfg(feature = "cranelift")]
    fn ins_u8(axis: usize) -> Vec<Vec<usize>> {
        [4, 1, 13]
            .iter()
            .map(|&n| {
                let mut v = vec![2, 3, 5, 4];
                v[axis] = n;
                v
            })
            .collect()
    }

    #[test]
    fn int8_operands_must_share_the_output_quantization() {
        let r = infer(
            concat(0, Activation::None),
            vec![
                tq(DType::I8, &[1, 2], 0.5, 0),
                tq(DType::I8, &[1, 2], 0.25, 0),
            ],
            vec![tq(DType::I8, &[2, 2], 0.5, 0)],
        );
        assert!(fails_with(r, "does not rescale"));
    }

    #[test]
    fn uint8_operands_are_rescaled() {
        // Operand 1 (scale 1, zero point 0) into the output's scale 0.5, zero point 10:
        // q -> round(2q) + 10.
        let out = eval(
            concat(-1, Activation::None),
            vec![
                tq(DType::U8, &[1, 2], 0.5, 10),
                tq(DType::U8, &[1, 1], 1.0, 0),
            ],
            vec![tq(DType::U8, &[1, 3], 0.5, 10)],
            &[Buf::from_slice(&[7u8, 200]), Buf::from_slice(&[150u8])],
        )
        .unwrap();
        assert_eq!(out[0].as_slice::<u8>().unwrap(), &[7, 200, 255]);
    }

    #[test]
    fn float_activation_clamps_and_quantized_activation_is_unsupported() {
        let out = eval(
            concat(1, Activation::Relu6),
            vec![t(DType::F32, &[1, 2]), t(DType::F32, &[1, 1])],
            vec![t(DType::F32, &[1, 3])],
            &[Buf::from_slice(&[-1f32, 3.]), Buf::from_slice(&[9f32])],
        )
        .unwrap();
        assert_eq!(out[0].as_slice::<f32>().unwrap(), &[0., 3., 6.]);
        let r = infer(
            concat(0, Activation::Relu),
            vec![tq(DType::U8, &[1], 0.5, 0)],
            vec![tq(DType::U8, &[1], 0.5, 0)],
        );
        assert!(fails_with(r, "fused activation"));
    }

    #[test]
    fn lowered_concatenations_pick_the_plainest_kernel() {
        let run = |scale: f32| {
            lower_and_run(
                concat(0, Activation::None),
                vec![tq(DType::U8, &[1], 0.5, 10), tq(DType::U8, &[1], scale, 10)],
                vec![tq(DType::U8, &[2], 0.5, 10)],
                &[Buf::from_slice(&[7u8]), Buf::from_slice(&[12u8])],
            )
            .unwrap()
        };
        let (p, out) = run(0.5);
        assert_eq!(kernels(&p), vec![("concatenation_x8".to_string(), 2)]);
        assert_eq!(out[0].as_slice::<u8>().unwrap(), &[7, 12]);
        // (12 − 10) · 1 / 0.5 + 10 = 14.
        let (p, out) = run(1.0);
        assert_eq!(
            kernels(&p),
            vec![("concatenation_rescale_u8".to_string(), 2)]
        );
        assert_eq!(out[0].as_slice::<u8>().unwrap(), &[7, 14]);
        let (p, _) = lower_and_run(
            concat(0, Activation::Relu),
            vec![t(DType::F32, &[1]), t(DType::F32, &[1])],
            vec![t(DType::F32, &[2])],
            &[Buf::from_slice(&[-1f32]), Buf::from_slice(&[1f32])],
        )
        .unwrap();
        assert_eq!(kernels(&p), vec![("concatenation_f32".to_string(), 2)]);
    }

    #[test]
    fn mismatched_shapes_are_rejected() {
        let r = infer(
            concat(1, Activation::None),
            vec![t(DType::F32, &[1, 2]), t(DType::F32, &[2, 1])],
            vec![t(DType::F32, &[1, 3])],
        );
        assert!(fails_with(r, "does not match"));
    }
}

//! PAD, PADV2 and MIRROR_PAD (TFLite `pad.cc`, `mirror_pad.cc`).
//!
//! The paddings operand is a constant `[rank, 2]` int32/int64 tensor of non-negative
//! `(before, after)` pairs. PAD and PADV2 accept up to 5 dimensions (TFLite's limit).
//!
//! Pad values, as TFLite's `Eval` picks them: float PAD pads with 0.0; uint8 PAD, and int8/int16
//! PAD when the input is quantized, pad with the *output's* zero point (which must be
//! representable); unquantized integer PAD pads with 0; PADV2 pads with its one-element constant
//! operand, which for quantized types must share the output's scale and zero point. Values are
//! copied, never requantized (TFLite does not compare input and output quantization).
//!
//! MIRROR_PAD (REFLECT or SYMMETRIC) on float32, uint8, int8, int32, int64. TFLite's kernel does
//! not check the paddings against the input; mvcc requires TensorFlow's bound (at most `dim − 1`
//! for REFLECT, `dim` for SYMMETRIC), beyond which TFLite reads outside the input.

use mvcc_kernels::kernels::pad::{self as kernel, MirrorPadParams, PadParams};

use super::transpose::{expect_io_dtype, in_out, tflite_qparams, with_width, DataKernel, Width};
use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{DType, MirrorPadAttrs, MirrorPadMode, Shape};
use crate::lower::{LowerCx, Step};
use crate::quant::qrange;
use crate::rust::step::StepCx;

/// Element types TFLite's PAD and PADV2 accept (of those mvcc represents).
const PAD_DTYPES: &[DType] = &[
    DType::F32,
    DType::U8,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::Bool,
];
/// Element types TFLite's MIRROR_PAD accepts.
const MIRROR_DTYPES: &[DType] = &[DType::F32, DType::U8, DType::I8, DType::I32, DType::I64];
/// TFLite's `PadKernelMaxDimensionCount`.
const PAD_MAX_RANK: usize = 5;

/// The `(before, after)` pairs of the paddings operand (operand 1) for the input's rank.
fn paddings(cx: &InferCx<'_>, rank: usize) -> Result<Vec<(usize, usize)>> {
    let t = cx.input(1)?;
    let v = cx.const_ints(1)?;
    if t.shape.len() != 2 || t.shape[0] != rank || t.shape[1] != 2 || v.len() != 2 * rank {
        return Err(cx.err(format!(
            "the paddings must have shape [{rank}, 2], got {:?}",
            t.shape
        )));
    }
    v.chunks_exact(2)
        .map(|c| {
            let ok = |x: i64| usize::try_from(x).ok().filter(|&x| x <= i32::MAX as usize);
            match (ok(c[0]), ok(c[1])) {
                (Some(b), Some(a)) => Ok((b, a)),
                _ => Err(cx.err(format!(
                    "paddings must be non-negative int32 values, got {:?}",
                    v
                ))),
            }
        })
        .collect()
}

fn padded_shape(input: &[usize], pads: &[(usize, usize)]) -> Shape {
    input
        .iter()
        .zip(pads)
        .map(|(&d, &(b, a))| d + b + a)
        .collect()
}

fn infer_pad_common(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    let input = expect_io_dtype(cx, PAD_DTYPES)?;
    let rank = input.shape.len();
    if rank > PAD_MAX_RANK {
        return Err(cx.unsupported(format!("rank {rank} (TFLite pads up to 5 dimensions)")));
    }
    let pads = paddings(cx, rank)?;
    Ok(vec![padded_shape(&input.shape, &pads)])
}

/// Whether TFLite pads this tensor through its quantized path (`EvalInt`).
fn quantized_path(cx: &InferCx<'_>) -> Result<bool> {
    let input = cx.input(0)?;
    Ok(match input.dtype {
        DType::U8 => true,
        DType::I8 | DType::I16 => input.quant.is_some(),
        _ => false,
    })
}

/// PAD: operands input and paddings.
pub fn infer_pad(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    cx.arity(2, 2, 1)?;
    let shapes = infer_pad_common(cx)?;
    pad_value_bits(cx)?;
    Ok(shapes)
}

/// PADV2: operands input, paddings and (optionally) the one-element pad value.
pub fn infer_pad_v2(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    cx.arity(2, 3, 1)?;
    let shapes = infer_pad_common(cx)?;
    if let Some(c) = cx.opt_input(2) {
        let input = cx.input(0)?;
        if c.dtype != input.dtype {
            return Err(cx.err(format!(
                "the pad value has type {}, the input {}",
                c.dtype, input.dtype
            )));
        }
        if c.num_elements() != 1 {
            return Err(cx.err(format!(
                "the pad value must have one element, it has shape {:?}",
                c.shape
            )));
        }
        if quantized_path(cx)? && tflite_qparams(c) != tflite_qparams(cx.output(0)?) {
            return Err(
                cx.err("the quantized pad value must have the output's scale and zero point")
            );
        }
    }
    if cx.opt_input(2).is_none_or(|c| c.is_const()) {
        pad_value_bits(cx)?;
    }
    Ok(shapes)
}

/// The pad value's bit pattern (little-endian, zero-extended to 64 bits) when it is known at
/// compile time: TFLite's choice for PAD, PADV2's constant operand.
pub fn pad_value_bits(cx: &InferCx<'_>) -> Result<u64> {
    let input = cx.input(0)?;
    if let Some(c) = cx.opt_input(2) {
        let data = c
            .data
            .as_ref()
            .ok_or_else(|| cx.err("the pad value is not a constant"))?;
        let n = input.dtype.size();
        let bytes = data
            .get(..n)
            .ok_or_else(|| cx.err("the pad value is too short"))?;
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(bytes);
        return Ok(u64::from_le_bytes(b));
    }
    if !quantized_path(cx)? {
        return Ok(0);
    }
    let out = cx.output(0)?;
    let zp = tflite_qparams(out).1;
    let (lo, hi) = qrange(out.dtype);
    if zp < i64::from(lo) || zp > i64::from(hi) {
        return Err(cx.err(format!(
            "the output zero point {zp} is outside the {} range",
            out.dtype
        )));
    }
    // Two's complement truncated to the element size.
    let mask = if out.dtype.size() == 8 {
        u64::MAX
    } else {
        (1u64 << (8 * out.dtype.size())) - 1
    };
    Ok((zp as u64) & mask)
}

/// The kernel parameters of PAD / PADV2.
pub fn pad_params(cx: &InferCx<'_>) -> Result<PadParams> {
    let input = cx.input(0)?;
    let pads = paddings(cx, input.shape.len())?;
    PadParams::new(&input.shape, &pads).ok_or_else(|| cx.err("too many dimensions"))
}

/// The kernel of PAD / PADV2: the paddings folded into the parameters, a pad value known at
/// compile time folded too; PADV2's run-time pad value stays an operand.
fn pad_kernel(cx: &InferCx<'_>) -> Result<DataKernel<Kernel>> {
    let p = pad_params(cx)?;
    let w = Width::of(cx, cx.input(0)?.dtype)?;
    if cx.opt_input(2).is_some_and(|c| !c.is_const()) {
        return Ok(DataKernel::new(
            Kernel::Pad(p, w, PadValue::Operand),
            [0, 2],
        ));
    }
    let bits = pad_value_bits(cx)?;
    Ok(DataKernel::new(
        Kernel::Pad(p, w, PadValue::Const(bits)),
        [0],
    ))
}

/// PAD with [`kernel::pad`].
pub fn eval_pad(cx: &mut EvalCx<'_>) -> Result<()> {
    pad_kernel(&cx.infer_cx())?.eval(cx, Kernel::exec)
}

/// PADV2 with [`kernel::pad`].
pub fn eval_pad_v2(cx: &mut EvalCx<'_>) -> Result<()> {
    pad_kernel(&cx.infer_cx())?.eval(cx, Kernel::exec)
}

/// Lowers PAD to one step reading the input.
pub fn lower_pad(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    pad_kernel(&cx.icx)?.lower(cx, crate::lower::Kernel::Pad)
}

/// Lowers PADV2 to one step reading the input (and the pad value when it is not a constant).
pub fn lower_pad_v2(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    pad_kernel(&cx.icx)?.lower(cx, crate::lower::Kernel::Pad)
}

/// MIRROR_PAD: operands input and paddings.
pub fn infer_mirror_pad(cx: &InferCx<'_>, a: &MirrorPadAttrs) -> Result<Vec<Shape>> {
    cx.arity(2, 2, 1)?;
    let input = expect_io_dtype(cx, MIRROR_DTYPES)?;
    let rank = input.shape.len();
    if rank > kernel::MAX_RANK {
        return Err(cx.unsupported(format!(
            "rank {rank} (mvcc mirror-pads up to {} dimensions)",
            kernel::MAX_RANK
        )));
    }
    let pads = paddings(cx, rank)?;
    let offset = mirror_offset(a);
    for (d, (&size, &(b, e))) in input.shape.iter().zip(&pads).enumerate() {
        let limit = size.saturating_sub(offset);
        if b > limit || e > limit {
            return Err(cx.err(format!(
                "paddings ({b}, {e}) of dimension {d} exceed {limit}, the most {} padding allows for size {size}",
                if offset == 1 { "REFLECT" } else { "SYMMETRIC" }
            )));
        }
    }
    Ok(vec![padded_shape(&input.shape, &pads)])
}

fn mirror_offset(a: &MirrorPadAttrs) -> usize {
    match a.mode {
        MirrorPadMode::Reflect => 1,
        MirrorPadMode::Symmetric => 0,
    }
}

/// The kernel parameters of MIRROR_PAD.
pub fn mirror_pad_params(cx: &InferCx<'_>, a: &MirrorPadAttrs) -> Result<MirrorPadParams> {
    Ok(MirrorPadParams {
        pad: pad_params(cx)?,
        offset: mirror_offset(a),
    })
}

fn mirror_pad_kernel(cx: &InferCx<'_>, a: &MirrorPadAttrs) -> Result<DataKernel<Kernel>> {
    let p = mirror_pad_params(cx, a)?;
    let w = Width::of(cx, cx.input(0)?.dtype)?;
    Ok(DataKernel::new(Kernel::MirrorPad(p, w), [0]))
}

/// MIRROR_PAD with [`kernel::mirror_pad`].
pub fn eval_mirror_pad(cx: &mut EvalCx<'_>, a: &MirrorPadAttrs) -> Result<()> {
    mirror_pad_kernel(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// Lowers MIRROR_PAD to one step reading the input.
pub fn lower_mirror_pad(cx: &mut LowerCx<'_>, a: &MirrorPadAttrs) -> Result<Vec<Step>> {
    mirror_pad_kernel(&cx.icx, a)?.lower(cx, crate::lower::Kernel::Pad)
}

/// Where a PAD's pad value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PadValue {
    /// Known at compile time: the element's bit pattern, little-endian, zero-extended.
    Const(u64),
    /// Operand 1 of the step (PADV2 with a pad value computed at run time).
    Operand,
}

/// The `pad` family's kernels, each with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// PAD / PADV2 of elements of a width.
    Pad(PadParams, Width, PadValue),
    /// MIRROR_PAD of elements of a width.
    MirrorPad(MirrorPadParams, Width),
}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::Pad(_, w, _) => w.pick(["pad_x8", "pad_x16", "pad_x32", "pad_x64"]),
            Kernel::MirrorPad(_, w) => w.pick([
                "mirror_pad_x8",
                "mirror_pad_x16",
                "mirror_pad_x32",
                "mirror_pad_x64",
            ]),
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters; a missing pad value.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::Pad(p, w, value) => with_width!(*w, T => {
                let value: T = match *value {
                    // Truncation to the element width is the point: the bits were zero-extended.
                    PadValue::Const(bits) => bits as T,
                    PadValue::Operand => match io.input::<T>(1)?.first() {
                        Some(&v) => v,
                        None => return Err(io.err("the pad value is empty")),
                    },
                };
                let (x, y) = in_out::<T>(io, 0, p.in_len(), p.out_len())?;
                kernel::pad(p, x, value, y);
                Ok(())
            }),
            Kernel::MirrorPad(p, w) => with_width!(*w, T => {
                if !p.fits() {
                    return Err(io.err("the paddings do not fit the input"));
                }
                let (x, y) = in_out::<T>(io, 0, p.pad.in_len(), p.pad.out_len())?;
                kernel::mirror_pad(p, x, y);
                Ok(())
            }),
        }
    }
}

/// The element type generated code views a data-movement kernel's elements of width `w` as
/// (the kernels are generic over any `Copy` type; only the size matters).
pub(crate) fn width_type(w: Width) -> &'static str {
    match w {
        Width::X8 => "u8",
        Width::X16 => "u16",
        Width::X32 => "i32",
        Width::X64 => "i64",
    }
}

/// A literal of [`width_type`]`(w)` with the bit pattern `bits` (zero-extended), as
/// [`Kernel::exec`] truncates it.
fn width_literal(w: Width, bits: u64) -> String {
    // Truncation to the element width is the point, as in `exec`.
    match w {
        Width::X8 => format!("{}u8", bits as u8),
        Width::X16 => format!("{}u16", bits as u16),
        Width::X32 => format!("{}i32", bits as u32 as i32),
        Width::X64 => format!("{}i64", bits as i64),
    }
}

impl Kernel {
    /// Writes the step's Rust code: the call [`Kernel::exec`] makes.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters; an empty pad value operand; MIRROR_PAD
    /// paddings that do not fit the input.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        match self {
            Kernel::Pad(p, w, value) => {
                let ty = width_type(*w);
                let value = match *value {
                    PadValue::Const(bits) => width_literal(*w, bits),
                    PadValue::Operand => {
                        let v = cx.input(1, ty)?;
                        if v.len == 0 {
                            return Err(cx.err("the pad value is empty"));
                        }
                        format!("{}[0]", v.expr)
                    }
                };
                let (x, y) = emit_in_out(cx, ty, p.in_len(), p.out_len())?;
                let pn = cx.param("params", p);
                cx.call("k::pad::pad", &[format!("&{pn}"), x, value, y]);
            }
            Kernel::MirrorPad(p, w) => {
                if !p.fits() {
                    return Err(cx.err("the paddings do not fit the input"));
                }
                let (x, y) = emit_in_out(cx, width_type(*w), p.pad.in_len(), p.pad.out_len())?;
                let pn = cx.param("params", p);
                cx.call("k::pad::mirror_pad", &[format!("&{pn}"), x, y]);
            }
        }
        Ok(())
    }
}

/// Operand 0 and result 0 as `ty`, checked to hold `want_in` and `want_out` elements (as
/// `in_out` does for `exec`).
fn emit_in_out(
    cx: &mut StepCx<'_>,
    ty: &str,
    want_in: usize,
    want_out: usize,
) -> Result<(String, String)> {
    let x = cx.input(0, ty)?;
    let y = cx.output(0, ty)?;
    if x.len != want_in || y.len != want_out {
        return Err(cx.err(format!(
            "operand of {} and result of {} elements, the kernel expects {want_in} and {want_out}",
            x.len, y.len
        )));
    }
    Ok((x.expr, y.expr))
}

/// Cranelift code for PAD and MIRROR_PAD, one output dimension at a time: along each dimension
/// the output is up to three runs (the leading padding, the input's extent, the trailing
/// padding). PAD fills its padding runs as whole blocks and recurses into the middle run only;
/// MIRROR_PAD recurses into all three, the padding runs walking the input backwards. Trailing
/// dimensions without padding are one contiguous block in both tensors, copied at once.
#[cfg(feature = "cranelift")]
mod clif_code {
    use cranelift_codegen::ir::{InstBuilder, Value};
    use mvcc_kernels::kernels::pad::PadParams;

    use super::{Kernel, PadValue};
    use crate::clif::cx::KernelCx;
    use crate::error::Result;
    use crate::ops::transpose::clif::{self, Pattern};
    use crate::ops::transpose::Width;

    /// One padded dimension: input size, leading and trailing padding, and the input and output
    /// strides in bytes.
    #[derive(Clone, Copy, Debug)]
    struct Dim {
        size: usize,
        before: usize,
        after: usize,
        in_stride: usize,
        out_stride: usize,
    }

    /// The padded dimensions of `p` (outermost first) and the contiguous block below them in
    /// bytes: trailing dimensions without padding fold into the block, unpadded dimensions of
    /// size 1 disappear.
    fn dims(p: &PadParams, w: Width) -> (Vec<Dim>, usize) {
        let r = p.rank;
        let after = |d: usize| p.out_shape[d] - p.in_shape[d] - p.before[d];
        let mut block = w.bytes();
        let mut last = r;
        while last > 0 && p.before[last - 1] == 0 && after(last - 1) == 0 {
            block *= p.in_shape[last - 1];
            last -= 1;
        }
        let mut out = Vec::new();
        let (mut is, mut os) = (block, block);
        for d in (0..last).rev() {
            let dim = Dim {
                size: p.in_shape[d],
                before: p.before[d],
                after: after(d),
                in_stride: is,
                out_stride: os,
            };
            is *= p.in_shape[d];
            os *= p.out_shape[d];
            if !(dim.size == 1 && dim.before == 0 && dim.after == 0) {
                out.push(dim);
            }
        }
        out.reverse();
        (out, block)
    }

    /// PAD below dimension `dims[0]`: the block at `src` into the block at `dst`.
    fn pad(
        cx: &mut KernelCx<'_, '_>,
        dims: &[Dim],
        block: usize,
        pat: Pattern,
        src: Value,
        dst: Value,
    ) {
        let Some((d, rest)) = dims.split_first() else {
            clif::copy(cx, src, dst, block);
            return;
        };
        let os = d.out_stride;
        clif::fill(cx, pat, dst, d.before * os);
        let mid = cx.b.ins().iadd_imm_s(dst, (d.before * os) as i64);
        if rest.is_empty() {
            // The innermost padded dimension: the input's run is contiguous.
            clif::copy(cx, src, mid, d.size * os);
        } else {
            let _ = cx.for_range(d.size, |cx, i| {
                let s = clif::offset(cx, src, i, d.in_stride as i64);
                let o = clif::offset(cx, mid, i, os as i64);
                pad(cx, rest, block, pat, s, o);
                Ok(())
            });
        }
        let tail =
            cx.b.ins()
                .iadd_imm_s(dst, ((d.before + d.size) * os) as i64);
        clif::fill(cx, pat, tail, d.after * os);
    }

    /// MIRROR_PAD below dimension `dims[0]` (`offset` 1 for REFLECT, 0 for SYMMETRIC).
    fn mirror(
        cx: &mut KernelCx<'_, '_>,
        dims: &[Dim],
        block: usize,
        offset: usize,
        src: Value,
        dst: Value,
    ) {
        let Some((d, rest)) = dims.split_first() else {
            clif::copy(cx, src, dst, block);
            return;
        };
        let (is, os) = (d.in_stride as i64, d.out_stride as i64);
        // (count, first output index, first input index, input step): output index i of the
        // leading padding reads before + offset − 1 − i, of the trailing padding j reads
        // size − 1 − offset − j (TFLite's GetInputDimension; `fits` was checked).
        let runs = [
            (d.before, 0, d.before as i64 + offset as i64 - 1, -1i64),
            (d.size, d.before, 0, 1),
            (
                d.after,
                d.before + d.size,
                d.size as i64 - 1 - offset as i64,
                -1,
            ),
        ];
        for (count, out_first, in_first, step) in runs {
            if count == 0 {
                continue;
            }
            let s0 = cx.b.ins().iadd_imm_s(src, in_first * is);
            let d0 = cx.b.ins().iadd_imm_s(dst, out_first as i64 * os);
            if rest.is_empty() && step == 1 {
                clif::copy(cx, s0, d0, count * d.out_stride);
            } else if rest.is_empty() && block <= 8 && block.is_power_of_two() {
                // Single elements walked backwards.
                let ty = clif::int_type(match block {
                    1 => Width::X8,
                    2 => Width::X16,
                    4 => Width::X32,
                    _ => Width::X64,
                });
                clif::copy_strided(cx, ty, (s0, -is), (d0, os), count);
            } else {
                let _ = cx.for_range(count, |cx, i| {
                    let s = clif::offset(cx, s0, i, step * is);
                    let o = clif::offset(cx, d0, i, os);
                    mirror(cx, rest, block, offset, s, o);
                    Ok(())
                });
            }
        }
    }

    impl Kernel {
        /// Writes the step's Cranelift code (see the module docs).
        ///
        /// # Errors
        /// Operand sizes that do not match the parameters; an empty pad value operand; MIRROR_PAD
        /// paddings that do not fit the input.
        pub fn emit_clif(&self, cx: &mut KernelCx<'_, '_>) -> Result<()> {
            match self {
                Kernel::Pad(p, w, value) => {
                    let pat = match *value {
                        PadValue::Const(bits) => Pattern::constant(cx, *w, bits),
                        PadValue::Operand => {
                            let v = cx.input(1)?;
                            if v.bytes < w.bytes() {
                                return Err(cx.err("the pad value is empty"));
                            }
                            Pattern::load(cx, *w, v.base)
                        }
                    };
                    let x = cx.input(0)?;
                    let y = cx.output(0)?;
                    clif::expect_len(cx, "the operand", &x, *w, p.in_len())?;
                    clif::expect_len(cx, "the result", &y, *w, p.out_len())?;
                    if p.out_len() == 0 {
                        return Ok(());
                    }
                    let (dims, block) = dims(p, *w);
                    pad(cx, &dims, block, pat, x.base, y.base);
                    Ok(())
                }
                Kernel::MirrorPad(p, w) => {
                    if !p.fits() {
                        return Err(cx.err("the paddings do not fit the input"));
                    }
                    let x = cx.input(0)?;
                    let y = cx.output(0)?;
                    clif::expect_len(cx, "the operand", &x, *w, p.pad.in_len())?;
                    clif::expect_len(cx, "the result", &y, *w, p.pad.out_len())?;
                    if p.pad.out_len() == 0 {
                        return Ok(());
                    }
                    let (dims, block) = dims(&p.pad, *w);
                    mirror(cx, &dims, block, p.offset, x.base, y.base);
                    Ok(())
                }
            }
        }
    }
}

/// Rust back-end test helper shared by this crate's data-movement and conversion families.
#[cfg(test)]
pub(crate) mod rust_testutil {
    use crate::interp::Buf;
    use crate::ir::{Op, Tensor};
    use crate::ops::transpose::testutil::{emit_rust, lower_and_run};

    /// The Rust code generated for a one-op graph, after checking that the interpreter runs the
    /// graph on `values`.
    pub fn emitted(op: Op, inputs: Vec<Tensor>, outputs: Vec<Tensor>, values: &[Buf]) -> String {
        lower_and_run(op.clone(), inputs.clone(), outputs.clone(), values).unwrap();
        emit_rust(op, inputs, outputs).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use crate::interp::Buf;
    use crate::ir::{DType, MirrorPadAttrs, MirrorPadMode, NoAttrs, Op};
    use crate::ops::transpose::testutil::{
        c32, cbytes, eval, fails_with, infer, kernels, lower_and_run, t, tq,
    };

    #[cfg(feature = "cranelift")]
    #[test]
    fn jit_pads_match_the_interpreter() {
        use crate::ops::transpose::testutil::{jit_matches, noise};
        // (input shape, paddings)
        type Case<'a> = (&'a [usize], &'a [i32]);
        let cases: &[Case<'_>] = &[
            (&[2], &[1, 2]),
            (&[1, 5, 6, 3], &[0, 0, 1, 1, 1, 1, 0, 0]),
            (&[1, 5, 6, 3], &[0, 0, 0, 1, 0, 1, 0, 0]),
            (&[2, 3, 4], &[1, 0, 0, 2, 3, 1]),
            (&[1, 3, 40], &[0, 0, 2, 3, 0, 0]),
            (&[1, 3, 40], &[0, 0, 0, 0, 1, 37]),
            (&[2, 3], &[0, 0, 0, 0]),
            (&[1, 1, 2, 1, 3], &[1, 1, 0, 0, 1, 2, 0, 1, 2, 0]),
            (&[0, 3], &[1, 1, 0, 0]),
        ];
        for (k, &(shape, pads)) in cases.iter().enumerate() {
            let r = shape.len();
            let n: usize = shape.iter().product();
            for dtype in [DType::F32, DType::U8, DType::I16, DType::I64] {
                let x = noise(n * dtype.size(), k as u64);
                jit_matches(
                    Op::Pad(NoAttrs),
                    vec![t(dtype, shape), c32(&[r, 2], pads)],
                    vec![t(dtype, &[1])],
                    std::slice::from_ref(&x),
                )
                .unwrap_or_else(|e| panic!("pad {dtype} {shape:?} {pads:?}: {e}"));
                // PADV2 with a run-time value.
                let v = noise(dtype.size(), 99);
                jit_matches(
                    Op::PadV2(NoAttrs),
                    vec![t(dtype, shape), c32(&[r, 2], pads), t(dtype, &[])],
                    vec![t(dtype, &[1])],
                    &[x.clone(), v],
                )
                .unwrap_or_else(|e| panic!("padv2 {dtype} {shape:?} {pads:?}: {e}"));
            }
            // Quantized: the zero point.
            jit_matches(
                Op::Pad(NoAttrs),
                vec![tq(DType::I8, shape, 0.5, -3), c32(&[r, 2], pads)],
                vec![tq(DType::I8, &[1], 0.5, -3)],
                &[noise(n, k as u64)],
            )
            .unwrap_or_else(|e| panic!("pad i8 {shape:?} {pads:?}: {e}"));
            let (p, _) = jit_matches(
                Op::PadV2(NoAttrs),
                vec![
                    t(DType::F32, shape),
                    c32(&[r, 2], pads),
                    cbytes(DType::F32, &[], &[-2.5f32]),
                ],
                vec![t(DType::F32, &[1])],
                &[noise(n * 4, k as u64)],
            )
            .unwrap();
            assert_eq!(kernels(&p)[0].1, 1);
        }
        // MIRROR_PAD (paddings that fit both modes).
        let mirror: &[Case<'_>] = &[
            (&[3], &[2, 2]),
            (&[1, 5, 6, 3], &[0, 0, 2, 1, 1, 3, 0, 0]),
            (&[2, 3, 4], &[1, 0, 0, 2, 3, 1]),
            (&[4, 40], &[1, 2, 3, 2]),
            (&[3, 5, 2], &[0, 0, 2, 1, 1, 1]),
            (&[2, 3], &[0, 0, 0, 0]),
        ];
        for (k, &(shape, pads)) in mirror.iter().enumerate() {
            let r = shape.len();
            let n: usize = shape.iter().product();
            for mode in [MirrorPadMode::Reflect, MirrorPadMode::Symmetric] {
                for dtype in [DType::F32, DType::U8, DType::I32, DType::I64] {
                    jit_matches(
                        Op::MirrorPad(MirrorPadAttrs { mode }),
                        vec![t(dtype, shape), c32(&[r, 2], pads)],
                        vec![t(dtype, &[1])],
                        &[noise(n * dtype.size(), k as u64)],
                    )
                    .unwrap_or_else(|e| panic!("mirror {mode:?} {dtype} {shape:?} {pads:?}: {e}"));
                }
            }
        }
    }

    #[test]
    fn quantized_pad_uses_the_output_zero_point() {
        let out = eval(
            Op::Pad(NoAttrs),
            vec![tq(DType::I8, &[2], 0.1, -5), c32(&[1, 2], &[1, 1])],
            vec![tq(DType::I8, &[4], 0.1, -7)],
            &[Buf::from_slice(&[1i8, 2])],
        )
        .unwrap();
        assert_eq!(out[0].as_slice::<i8>().unwrap(), &[-7, 1, 2, -7]);
        // An unquantized int8 tensor pads with 0.
        let out = eval(
            Op::Pad(NoAttrs),
            vec![t(DType::I8, &[1]), c32(&[1, 2], &[0, 1])],
            vec![t(DType::I8, &[2])],
            &[Buf::from_slice(&[3i8])],
        )
        .unwrap();
        assert_eq!(out[0].as_slice::<i8>().unwrap(), &[3, 0]);
    }

    #[test]
    fn pad_v2_value_and_its_quantization() {
        let out = eval(
            Op::PadV2(NoAttrs),
            vec![
                t(DType::F32, &[1, 1]),
                c32(&[2, 2], &[0, 1, 1, 0]),
                cbytes(DType::F32, &[], &[2.5f32]),
            ],
            vec![t(DType::F32, &[2, 2])],
            &[Buf::from_slice(&[1f32])],
        )
        .unwrap();
        assert_eq!(out[0].as_slice::<f32>().unwrap(), &[2.5, 1., 2.5, 2.5]);
        let mut value = cbytes(DType::U8, &[], &[9u8]);
        value.quant = Some(crate::ir::Quant::per_tensor(0.5, 3));
        let r = infer(
            Op::PadV2(NoAttrs),
            vec![tq(DType::U8, &[1], 0.5, 4), c32(&[1, 2], &[1, 0]), value],
            vec![tq(DType::U8, &[2], 0.5, 4)],
        );
        assert!(fails_with(r, "scale and zero point"));
    }

    #[test]
    fn lowered_pads_fold_paddings_and_constant_values() {
        // PADV2 with a run-time pad value keeps it as an operand.
        let (p, out) = lower_and_run(
            Op::PadV2(NoAttrs),
            vec![
                t(DType::I64, &[2]),
                c32(&[1, 2], &[1, 2]),
                t(DType::I64, &[]),
            ],
            vec![t(DType::I64, &[5])],
            &[Buf::from_slice(&[7i64, 8]), Buf::from_slice(&[-1i64])],
        )
        .unwrap();
        assert_eq!(kernels(&p), vec![("pad_x64".to_string(), 2)]);
        assert_eq!(out[0].as_slice::<i64>().unwrap(), &[-1, 7, 8, -1, -1]);
        // A constant pad value (and the paddings) are parameters.
        let (p, out) = lower_and_run(
            Op::PadV2(NoAttrs),
            vec![
                t(DType::I16, &[1]),
                c32(&[1, 2], &[0, 1]),
                cbytes(DType::I16, &[], &[-3i16]),
            ],
            vec![t(DType::I16, &[2])],
            &[Buf::from_slice(&[5i16])],
        )
        .unwrap();
        assert_eq!(kernels(&p), vec![("pad_x16".to_string(), 1)]);
        assert_eq!(out[0].as_slice::<i16>().unwrap(), &[5, -3]);
        let (p, out) = lower_and_run(
            Op::MirrorPad(MirrorPadAttrs {
                mode: MirrorPadMode::Reflect,
            }),
            vec![t(DType::U8, &[3]), c32(&[1, 2], &[2, 1])],
            vec![t(DType::U8, &[6])],
            &[Buf::from_slice(&[1u8, 2, 3])],
        )
        .unwrap();
        assert_eq!(kernels(&p), vec![("mirror_pad_x8".to_string(), 1)]);
        assert_eq!(out[0].as_slice::<u8>().unwrap(), &[3, 2, 1, 2, 3, 2]);
    }

    #[test]
    fn bad_paddings_are_rejected() {
        let r = infer(
            Op::Pad(NoAttrs),
            vec![t(DType::F32, &[2]), c32(&[1, 2], &[-1, 0])],
            vec![t(DType::F32, &[1])],
        );
        assert!(fails_with(r, "non-negative"));
        let r = infer(
            Op::Pad(NoAttrs),
            vec![t(DType::F32, &[2]), c32(&[2, 2], &[0; 4])],
            vec![t(DType::F32, &[2])],
        );
        assert!(fails_with(r, "shape [1, 2]"));
        let r = infer(
            Op::Pad(NoAttrs),
            vec![tq(DType::U8, &[1], 0.5, 0), c32(&[1, 2], &[1, 0])],
            vec![tq(DType::U8, &[2], 0.5, 300)],
        );
        assert!(fails_with(r, "zero point 300"));
    }

    #[test]
    fn mirror_pad_limits() {
        let mirror = |mode| Op::MirrorPad(MirrorPadAttrs { mode });
        let ok = infer(
            mirror(MirrorPadMode::Symmetric),
            vec![t(DType::F32, &[3]), c32(&[1, 2], &[3, 3])],
            vec![t(DType::F32, &[9])],
        );
        assert_eq!(ok.unwrap(), vec![vec![9]]);
        let r = infer(
            mirror(MirrorPadMode::Reflect),
            vec![t(DType::F32, &[3]), c32(&[1, 2], &[3, 0])],
            vec![t(DType::F32, &[6])],
        );
        assert!(fails_with(r, "exceed 2"));
    }

    #[test]
    fn rust_back_end_pad_values() {
        use super::rust_testutil::emitted;
        // A run-time pad value is read from its operand's first element.
        let code = emitted(
            Op::PadV2(NoAttrs),
            vec![
                t(DType::I64, &[2]),
                c32(&[1, 2], &[1, 2]),
                t(DType::I64, &[]),
            ],
            vec![t(DType::I64, &[5])],
            &[Buf::from_slice(&[7i64, 8]), Buf::from_slice(&[-1i64])],
        );
        assert!(code.contains("k::pad::pad("), "{code}");
        assert!(code.contains("view::<i64>(i[1], 0, 1)[0],"), "{code}");
        // A constant one is a literal of the element width, with the value's bits.
        let code = emitted(
            Op::PadV2(NoAttrs),
            vec![
                t(DType::F32, &[1]),
                c32(&[1, 2], &[0, 1]),
                cbytes(DType::F32, &[], &[-2.5f32]),
            ],
            vec![t(DType::F32, &[2])],
            &[Buf::from_slice(&[1f32])],
        );
        let bits = (-2.5f32).to_bits() as i32;
        assert!(code.contains(&format!(" {bits}i32,")), "{code}");
        let code = emitted(
            Op::MirrorPad(MirrorPadAttrs {
                mode: MirrorPadMode::Symmetric,
            }),
            vec![t(DType::I64, &[2]), c32(&[1, 2], &[2, 1])],
            vec![t(DType::I64, &[5])],
            &[Buf::from_slice(&[1i64, 2])],
        );
        assert!(
            code.contains("k::pad::mirror_pad(&S0_PARAMS, view::<i64>("),
            "{code}"
        );
    }
}

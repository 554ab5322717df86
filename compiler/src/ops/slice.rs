//! SLICE and STRIDED_SLICE (TFLite `slice.cc`, `strided_slice.cc` with `strided_slice_logic.h`).
//!
//! Both resolve, at compile time, to a [`SliceParams`] walk: a start index, a step and a count per
//! dimension. Operands begin/size (SLICE) and begin/end/strides (STRIDED_SLICE) must be constant.
//!
//! SLICE: `size[i] == -1` means "to the end"; otherwise `begin + size` must fit the dimension.
//!
//! STRIDED_SLICE follows TFLite's current kernel exactly:
//! - `BuildStridedSliceParams` expands the ellipsis (which also absorbs dimensions the begin
//!   operand does not cover) and new axes into an *effective* input shape of at most 5
//!   dimensions, with per-dimension begin/end masks;
//! - `StridedSliceStartForAxis`: negative begin counts from the end, then clamps to
//!   `[0, dim]` (positive stride) or `[-1, dim − 1]` (negative), and a begin mask overrides it
//!   with the first (last) element;
//! - `StridedSliceEndForAxis`: a shrunk axis takes one element; with the `offset` flag the end is
//!   `begin + end`; negative ends count from the end; clamping as for begin; an end mask overrides;
//! - the output has `ceil((end − begin) / stride)` elements per kept axis (at least 0).
//!
//! Where TFLite's kernel would misbehave, mvcc reports an error: zero strides; a shrunk axis
//! whose index is out of range or whose stride is negative (TFLite's loop then writes nothing);
//! `offset` with an ellipsis or new axes, or an `offset` slice that runs past the input (TFLite
//! sizes the output from the raw `end` but walks the clamped range).
//!
//! Values are moved, never requantized; neither TFLite kernel checks quantization.

use mvcc_kernels::kernels::slice::{self as kernel, SliceParams};

use super::transpose::{expect_io_dtype, with_width, DataKernel, Width};
use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{DType, Shape, StridedSliceAttrs};
use crate::lower::{LowerCx, Step};
use crate::rust::step::StepCx;

/// Element types TFLite's SLICE and STRIDED_SLICE move (of those mvcc represents).
const DTYPES: &[DType] = &[
    DType::F32,
    DType::U8,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::Bool,
];
/// TFLite's limit for both ops (input dimensions; for STRIDED_SLICE also with added axes).
const MAX_RANK: usize = 5;

/// A resolved slice: per walked dimension of the (effective) input, where to start, how to step,
/// how many elements; and the result shape (without shrunk axes).
#[derive(Clone, Debug, PartialEq)]
struct Resolved {
    in_shape: Vec<usize>,
    start: Vec<usize>,
    step: Vec<isize>,
    count: Vec<usize>,
    out_shape: Shape,
}

impl Resolved {
    fn params(&self, cx: &InferCx<'_>) -> Result<SliceParams> {
        SliceParams::new(&self.in_shape, &self.start, &self.step, &self.count)
            .ok_or_else(|| cx.err("too many dimensions"))
    }
}

/// A 1-D constant integer operand.
fn vector(cx: &InferCx<'_>, i: usize, what: &str) -> Result<Vec<i64>> {
    let t = cx.input(i)?;
    if t.shape.len() != 1 {
        return Err(cx.err(format!("{what} must be a vector, got shape {:?}", t.shape)));
    }
    cx.const_ints(i)
}

fn resolve_slice(cx: &InferCx<'_>) -> Result<Resolved> {
    let input = cx.input(0)?;
    let rank = input.shape.len();
    let begin = vector(cx, 1, "begin")?;
    let size = vector(cx, 2, "size")?;
    if begin.len() != rank || size.len() != rank {
        return Err(cx.err(format!(
            "begin and size must have {rank} entries, got {} and {}",
            begin.len(),
            size.len()
        )));
    }
    let mut r = Resolved {
        in_shape: input.shape.clone(),
        start: Vec::with_capacity(rank),
        step: vec![1; rank],
        count: Vec::with_capacity(rank),
        out_shape: Vec::with_capacity(rank),
    };
    for (d, (&b, &s)) in begin.iter().zip(&size).enumerate() {
        let dim = input.shape[d] as i64;
        let bad = || {
            cx.err(format!(
                "begin {b} and size {s} do not fit dimension {d} of size {dim}"
            ))
        };
        if b < 0 || b > dim {
            return Err(bad());
        }
        let len = if s == -1 { dim - b } else { s };
        if len < 0 || len > dim - b {
            return Err(bad());
        }
        r.start.push(b as usize);
        r.count.push(len as usize);
        r.out_shape.push(len as usize);
    }
    Ok(r)
}

/// SLICE: operands input, begin, size (constant int32/int64 vectors).
pub fn infer_slice(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    cx.arity(3, 3, 1)?;
    let input = expect_io_dtype(cx, DTYPES)?;
    if input.shape.len() > MAX_RANK {
        return Err(cx.unsupported(format!(
            "rank {} (TFLite slices up to 5 dimensions)",
            input.shape.len()
        )));
    }
    Ok(vec![resolve_slice(cx)?.out_shape])
}

/// The kernel parameters of a SLICE.
pub fn slice_params(cx: &InferCx<'_>) -> Result<SliceParams> {
    resolve_slice(cx)?.params(cx)
}

/// The kernel of a SLICE or STRIDED_SLICE: the walk `p` over elements of the input's width.
fn slice_kernel(cx: &InferCx<'_>, p: SliceParams) -> Result<DataKernel<Kernel>> {
    let w = Width::of(cx, cx.input(0)?.dtype)?;
    if p.out_len() != cx.output(0)?.num_elements() || !p.fits(cx.input(0)?.num_elements()) {
        return Err(cx.err("the slice does not fit the input and output"));
    }
    Ok(DataKernel::new(Kernel::Slice(p, w), [0]))
}

/// SLICE with [`kernel::slice`].
pub fn eval_slice(cx: &mut EvalCx<'_>) -> Result<()> {
    let icx = cx.infer_cx();
    slice_kernel(&icx, slice_params(&icx)?)?.eval(cx, Kernel::exec)
}

/// Lowers SLICE to one step reading the input (begin and size are in the parameters).
pub fn lower_slice(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let p = slice_params(&cx.icx)?;
    slice_kernel(&cx.icx, p)?.lower(cx, crate::lower::Kernel::Slice)
}

fn bit(mask: i32, i: i64) -> bool {
    (0..32).contains(&i) && (mask >> i) & 1 == 1
}

/// One effective dimension of a strided slice, as TFLite's `BuildStridedSliceParams` leaves it.
#[derive(Clone, Copy, Debug, Default)]
struct Axis {
    size: usize,
    begin: i64,
    end: i64,
    stride: i64,
    begin_mask: bool,
    end_mask: bool,
    shrink: bool,
}

/// TFLite's `BuildStridedSliceParams`: expands the ellipsis and new axes.
fn effective_axes(cx: &InferCx<'_>, a: &StridedSliceAttrs) -> Result<Vec<Axis>> {
    let input = cx.input(0)?;
    let input_dims = input.shape.len() as i64;
    // TFLite accepts only int32 here, which also keeps the index arithmetic below far from
    // overflowing.
    for i in 1..4 {
        cx.expect_dtype(i, &[DType::I32])?;
    }
    let begin = vector(cx, 1, "begin")?;
    let end = vector(cx, 2, "end")?;
    let strides = vector(cx, 3, "strides")?;
    if begin.len() != end.len() || strides.len() != begin.len() {
        return Err(cx.err(format!(
            "begin, end and strides must have the same length, got {}, {} and {}",
            begin.len(),
            end.len(),
            strides.len()
        )));
    }
    let begin_count = begin.len() as i64;
    let num_add_axis = (0..begin_count)
        .filter(|&i| !bit(a.ellipsis_mask, i) && bit(a.new_axis_mask, i))
        .count() as i64;
    let effective_dims = input_dims + num_add_axis;
    if effective_dims > MAX_RANK as i64 {
        return Err(cx.unsupported(format!(
            "{effective_dims} dimensions with the new axes (TFLite's STRIDED_SLICE supports up to 5)"
        )));
    }
    let n = effective_dims as usize;
    let mut ellipsis = vec![false; n];
    let mut new_axis = vec![false; n];
    let mut ellipsis_start = effective_dims;
    let mut expanded_ellipsis = 0i64;
    let mut i = 0i64;
    while i < effective_dims {
        if bit(a.ellipsis_mask, i) {
            ellipsis_start = i;
            let ellipsis_end =
                (i + 1).max((i + 1 + num_add_axis + input_dims - begin_count).min(effective_dims));
            expanded_ellipsis = ellipsis_end - ellipsis_start - 1;
            while i < ellipsis_end {
                ellipsis[i as usize] = true;
                i += 1;
            }
            continue;
        }
        if bit(a.new_axis_mask, i - expanded_ellipsis) {
            new_axis[i as usize] = true;
        }
        i += 1;
    }
    let inconsistent =
        || cx.err("the ellipsis, new-axis masks and begin operand do not fit the input's rank");
    let mut added_ellipsis = 0i64;
    let mut added_axes = 0i64;
    let mut axes = Vec::with_capacity(n);
    for i in 0..effective_dims {
        let input_dim = |added: i64| {
            usize::try_from(i - added)
                .ok()
                .and_then(|k| input.shape.get(k).copied())
                .ok_or_else(inconsistent)
        };
        let ax = if ellipsis[i as usize] {
            added_ellipsis = (i - ellipsis_start).max(0);
            Axis {
                size: input_dim(added_axes)?,
                stride: 1,
                begin_mask: true,
                end_mask: true,
                ..Axis::default()
            }
        } else if new_axis[i as usize] {
            added_axes += 1;
            Axis {
                size: 1,
                begin: 0,
                end: 1,
                stride: 1,
                ..Axis::default()
            }
        } else if i >= begin_count + expanded_ellipsis {
            Axis {
                size: input_dim(added_axes)?,
                stride: 1,
                begin_mask: true,
                end_mask: true,
                ..Axis::default()
            }
        } else {
            let orig = i - added_ellipsis;
            let o = usize::try_from(orig)
                .ok()
                .filter(|&o| o < begin.len())
                .ok_or_else(inconsistent)?;
            Axis {
                size: input_dim(added_axes)?,
                begin: begin[o],
                end: end[o],
                stride: strides[o],
                begin_mask: bit(a.begin_mask, orig),
                end_mask: bit(a.end_mask, orig),
                shrink: bit(a.shrink_axis_mask, orig),
            }
        };
        axes.push(ax);
    }
    Ok(axes)
}

/// `StridedSliceStartForAxis`.
fn start_for_axis(ax: &Axis) -> i64 {
    let size = ax.size as i64;
    let mut start = ax.begin;
    if start < 0 {
        start += size;
    }
    start = if ax.stride > 0 {
        start.clamp(0, size)
    } else {
        start.clamp(-1, size - 1)
    };
    if ax.begin_mask {
        start = if ax.stride > 0 { 0 } else { size - 1 };
    }
    start
}

/// `StridedSliceEndForAxis`.
fn end_for_axis(ax: &Axis, start: i64, offset: bool) -> i64 {
    let size = ax.size as i64;
    if ax.shrink {
        return if start >= size { start } else { start + 1 };
    }
    let mut end = ax.end;
    if offset {
        end += start;
    }
    if end < 0 {
        end += size;
    }
    end = if ax.stride > 0 {
        end.clamp(0, size)
    } else {
        end.clamp(-1, size - 1)
    };
    if ax.end_mask {
        end = if ax.stride > 0 { size } else { -1 };
    }
    end
}

/// `ceil(span / stride)`, at least 0.
fn steps(span: i64, stride: i64) -> i64 {
    let q = span / stride;
    let ceil = if span % stride != 0 && (span < 0) == (stride < 0) {
        q + 1
    } else {
        q
    };
    ceil.max(0)
}

fn resolve_strided_slice(cx: &InferCx<'_>, a: &StridedSliceAttrs) -> Result<Resolved> {
    if a.offset && (a.ellipsis_mask != 0 || a.new_axis_mask != 0) {
        return Err(cx.unsupported("the offset flag together with an ellipsis or new axes"));
    }
    if a.offset && cx.input(1)?.num_elements() != cx.input(0)?.shape.len() {
        // TFLite sizes such a result from `end` entries the operand does not have.
        return Err(
            cx.unsupported("the offset flag with fewer begin entries than input dimensions")
        );
    }
    let axes = effective_axes(cx, a)?;
    let mut r = Resolved {
        in_shape: Vec::with_capacity(axes.len()),
        start: Vec::with_capacity(axes.len()),
        step: Vec::with_capacity(axes.len()),
        count: Vec::with_capacity(axes.len()),
        out_shape: Vec::new(),
    };
    for (d, ax) in axes.iter().enumerate() {
        if ax.stride == 0 {
            return Err(cx.err(format!("stride of dimension {d} is zero")));
        }
        let start = start_for_axis(ax);
        let end = end_for_axis(ax, start, a.offset);
        let count = steps(end - start, ax.stride);
        if ax.shrink {
            if ax.stride < 0 {
                return Err(cx.err(format!("dimension {d} is shrunk with a negative stride")));
            }
            if count != 1 {
                return Err(cx.err(format!(
                    "shrunk dimension {d}: index {} is out of range for size {}",
                    ax.begin, ax.size
                )));
            }
        } else {
            // TFLite sizes the result from the raw end with the offset flag; the walk must agree.
            let declared = if a.offset {
                steps(ax.end, ax.stride)
            } else {
                count
            };
            if declared != count {
                return Err(cx.err(format!(
                    "dimension {d}: the offset slice of {} elements runs past the input (size {})",
                    ax.end, ax.size
                )));
            }
            r.out_shape.push(count as usize);
        }
        let first = if count > 0 { start } else { 0 };
        r.in_shape.push(ax.size);
        r.start
            .push(usize::try_from(first).map_err(|_| cx.err("negative start"))?);
        r.step.push(ax.stride as isize);
        r.count.push(count as usize);
    }
    Ok(r)
}

/// STRIDED_SLICE: operands input, begin, end, strides (constant int32/int64 vectors).
pub fn infer_strided_slice(cx: &InferCx<'_>, a: &StridedSliceAttrs) -> Result<Vec<Shape>> {
    cx.arity(4, 4, 1)?;
    let input = expect_io_dtype(cx, DTYPES)?;
    if input.shape.len() > MAX_RANK {
        return Err(cx.unsupported(format!(
            "rank {} (TFLite's STRIDED_SLICE supports up to 5)",
            input.shape.len()
        )));
    }
    Ok(vec![resolve_strided_slice(cx, a)?.out_shape])
}

/// The kernel parameters of a STRIDED_SLICE.
pub fn strided_slice_params(cx: &InferCx<'_>, a: &StridedSliceAttrs) -> Result<SliceParams> {
    resolve_strided_slice(cx, a)?.params(cx)
}

/// STRIDED_SLICE with [`kernel::slice`].
pub fn eval_strided_slice(cx: &mut EvalCx<'_>, a: &StridedSliceAttrs) -> Result<()> {
    let icx = cx.infer_cx();
    slice_kernel(&icx, strided_slice_params(&icx, a)?)?.eval(cx, Kernel::exec)
}

/// Lowers STRIDED_SLICE to one step reading the input (begin, end and strides are in the
/// parameters).
pub fn lower_strided_slice(cx: &mut LowerCx<'_>, a: &StridedSliceAttrs) -> Result<Vec<Step>> {
    let p = strided_slice_params(&cx.icx, a)?;
    slice_kernel(&cx.icx, p)?.lower(cx, crate::lower::Kernel::Slice)
}

/// The `slice` family's kernels, each with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// SLICE or STRIDED_SLICE of elements of a width.
    Slice(SliceParams, Width),
}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::Slice(_, w) => w.pick(["slice_x8", "slice_x16", "slice_x32", "slice_x64"]),
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::Slice(p, w) => with_width!(*w, T => {
                let x = io.input::<T>(0)?;
                let n_out = io.output::<T>(0)?.len();
                if n_out != p.out_len() || !p.fits(x.len()) {
                    return Err(io.err(format!(
                        "an operand of {} and a result of {n_out} elements do not fit the slice",
                        x.len()
                    )));
                }
                kernel::slice(p, x, io.output::<T>(0)?);
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
    /// Operand sizes that do not fit the slice.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        match self {
            Kernel::Slice(p, w) => {
                let x = cx.input(0, w.rust_type())?;
                let y = cx.output(0, w.rust_type())?;
                if y.len != p.out_len() || !p.fits(x.len) {
                    return Err(cx.err(format!(
                        "an operand of {} and a result of {} elements do not fit the slice",
                        x.len, y.len
                    )));
                }
                let p = cx.param("params", p);
                cx.call("k::slice::slice", &[format!("&{p}"), x.expr, y.expr]);
                Ok(())
            }
        }
    }
}

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code: the runtime's strided walk with every shape, stride and
    /// offset an immediate.
    ///
    /// # Errors
    /// Operand sizes that do not fit the slice.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        use super::transpose::clif;
        match self {
            Kernel::Slice(p, w) => {
                let x = cx.input(0)?;
                let y = cx.output(0)?;
                clif::expect_len(cx, "the result", &y, *w, p.out_len())?;
                if !x.bytes.is_multiple_of(w.bytes()) || !p.fits(x.len(w.bytes())) {
                    return Err(cx.err(format!(
                        "an operand of {} bytes does not fit the slice",
                        x.bytes
                    )));
                }
                let r = p.rank;
                clif::strided_gather(
                    cx,
                    x.base,
                    y.base,
                    *w,
                    p.offset,
                    &p.out_shape[..r],
                    &p.strides[..r],
                );
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp::Buf;
    use crate::ir::{NoAttrs, Op};
    use crate::ops::transpose::testutil::{
        c32, eval, fails_with, infer, kernels, lower_and_run, t,
    };

    fn ss(begin: i32, end: i32, ellipsis: i32, new_axis: i32, shrink: i32, offset: bool) -> Op {
        Op::StridedSlice(StridedSliceAttrs {
            begin_mask: begin,
            end_mask: end,
            ellipsis_mask: ellipsis,
            new_axis_mask: new_axis,
            shrink_axis_mask: shrink,
            offset,
        })
    }

    /// The shape of STRIDED_SLICE on a `[1, 5, 6, 7]` float input.
    fn ss_shape(op: Op, b: &[i32], e: &[i32], s: &[i32]) -> Result<Vec<Shape>> {
        let n = b.len();
        infer(
            op,
            vec![
                t(DType::F32, &[1, 5, 6, 7]),
                c32(&[n], b),
                c32(&[n], e),
                c32(&[n], s),
            ],
            vec![t(DType::F32, &[1])],
        )
    }

    #[test]
    fn strided_slice_shapes_match_tflite() {
        // Each expected shape is what LiteRT 2.3.0's reference kernel produced for the spec.
        type Case<'a> = (Op, &'a [i32], &'a [i32], &'a [i32], &'a [usize]);
        let cases: &[Case<'_>] = &[
            (
                ss(0, 0, 2, 1, 0, false),
                &[0, 0, 1],
                &[0, 0, 3],
                &[1, 1, 1],
                &[1, 1, 5, 6, 2],
            ),
            (
                ss(4, 4, 2, 0, 0, false),
                &[0, 0, 0],
                &[1, 0, 0],
                &[1, 1, -2],
                &[1, 5, 6, 4],
            ),
            (
                ss(1, 1, 4, 8, 2, false),
                &[0, 2, 0, 0],
                &[0, 3, 0, 0],
                &[1, 1, 1, 1],
                &[1, 6, 7, 1],
            ),
            (
                ss(0, 0, 0, 0, 0, true),
                &[0, 1, 2, 3],
                &[1, 3, 2, 4],
                &[1, 1, 2, 1],
                &[1, 3, 1, 4],
            ),
            (
                ss(0, 0, 0, 0, 0, false),
                &[0, 1],
                &[1, 4],
                &[1, 1],
                &[1, 3, 6, 7],
            ),
            (
                ss(0, 4, 0, 0, 0, false),
                &[0, -2, 0],
                &[1, -6, 0],
                &[1, -1, 1],
                &[1, 4, 6, 7],
            ),
            (
                ss(0, 0, 1, 0, 0, false),
                &[0, 0, 0, 0],
                &[0, 0, 0, 0],
                &[1, 1, 1, 1],
                &[1, 0, 0, 0],
            ),
            (
                ss(0, 0, 0, 2, 0, false),
                &[0, 3],
                &[0, 1],
                &[1, 1],
                &[0, 1, 5, 6, 7],
            ),
            (
                ss(0, 0, 0, 0, 0, false),
                &[0, -100, 10, 0],
                &[1, 100, -100, 7],
                &[1, 1, -2, 3],
                &[1, 5, 3, 3],
            ),
        ];
        for (op, b, e, s, want) in cases {
            assert_eq!(
                ss_shape(op.clone(), b, e, s).unwrap(),
                vec![want.to_vec()],
                "{b:?} {e:?} {s:?}"
            );
        }
    }

    #[cfg(feature = "cranelift")]
    #[test]
    fn jit_slices_match_the_interpreter() {
        use crate::ops::transpose::testutil::{jit_matches, noise};
        // (masks, begin, end, strides) on a [2, 5, 6, 7] input.
        type Case<'a> = (Op, &'a [i32], &'a [i32], &'a [i32]);
        let cases: &[Case<'_>] = &[
            (ss(0, 0, 2, 1, 0, false), &[0, 0, 1], &[0, 0, 3], &[1, 1, 1]),
            (
                ss(4, 4, 2, 0, 0, false),
                &[0, 0, 0],
                &[1, 0, 0],
                &[1, 1, -2],
            ),
            (
                ss(1, 1, 4, 8, 2, false),
                &[0, 2, 0, 0],
                &[0, 3, 0, 0],
                &[1, 1, 1, 1],
            ),
            (
                ss(0, 0, 0, 0, 0, true),
                &[0, 1, 2, 3],
                &[1, 3, 2, 4],
                &[1, 1, 2, 1],
            ),
            (ss(0, 0, 0, 0, 0, false), &[0, 1], &[1, 4], &[1, 1]),
            (
                ss(0, 4, 0, 0, 0, false),
                &[0, -2, 0],
                &[1, -6, 0],
                &[1, -1, 1],
            ),
            (
                ss(0, 0, 0, 0, 0, false),
                &[0, -100, 10, 0],
                &[2, 100, -100, 7],
                &[1, 1, -2, 3],
            ),
            (
                ss(0, 0, 0, 0, 0, false),
                &[1, 0, 0, 6],
                &[2, 5, 6, 7],
                &[1, 1, 1, 1],
            ),
            (
                ss(15, 15, 0, 0, 0, false),
                &[0, 0, 0, 0],
                &[0, 0, 0, 0],
                &[-1, -1, -1, -1],
            ),
            (
                ss(0, 0, 0, 0, 15, false),
                &[1, 2, 3, 4],
                &[2, 3, 4, 5],
                &[1, 1, 1, 1],
            ),
        ];
        for dtype in [DType::F32, DType::I8, DType::I64] {
            for (k, (op, b, e, st)) in cases.iter().enumerate() {
                let n = b.len();
                jit_matches(
                    op.clone(),
                    vec![
                        t(dtype, &[2, 5, 6, 7]),
                        c32(&[n], b),
                        c32(&[n], e),
                        c32(&[n], st),
                    ],
                    vec![t(dtype, &[1])],
                    &[noise(2 * 5 * 6 * 7 * dtype.size(), k as u64)],
                )
                .unwrap_or_else(|err| panic!("{dtype} {b:?} {e:?} {st:?}: {err}"));
            }
        }
        // SLICE: a box, to the end, a whole tensor.
        let boxes: &[(&[i32], &[i32])] = &[
            (&[0, 1, 2, 3], &[2, 3, 4, 4]),
            (&[1, 0, 0, 0], &[-1, -1, -1, -1]),
            (&[0, 0, 0, 0], &[2, 5, 6, 7]),
            (&[0, 4, 5, 6], &[2, 1, 1, 1]),
        ];
        for (k, (begin, size)) in boxes.iter().enumerate() {
            jit_matches(
                Op::Slice(NoAttrs),
                vec![
                    t(DType::U8, &[2, 5, 6, 7]),
                    c32(&[4], begin),
                    c32(&[4], size),
                ],
                vec![t(DType::U8, &[1])],
                &[noise(2 * 5 * 6 * 7, k as u64)],
            )
            .unwrap_or_else(|err| panic!("{begin:?} {size:?}: {err}"));
        }
    }

    #[test]
    fn strided_slice_rejects_what_tflite_mishandles() {
        let none = ss(0, 0, 0, 0, 0, false);
        assert!(fails_with(
            ss_shape(none, &[0, 0], &[1, 1], &[1, 0]),
            "zero"
        ));
        // Shrinking an index past the end.
        assert!(fails_with(
            ss_shape(ss(0, 0, 0, 0, 2, false), &[0, 5], &[1, 6], &[1, 1]),
            "out of range"
        ));
        // Shrinking with a negative stride: TFLite's loop writes nothing.
        assert!(fails_with(
            ss_shape(ss(0, 0, 0, 0, 2, false), &[0, 1], &[1, 0], &[1, -1]),
            "negative stride"
        ));
        // An offset slice longer than what is left of the dimension.
        assert!(fails_with(
            ss_shape(
                ss(0, 0, 0, 0, 0, true),
                &[0, 3, 0, 0],
                &[1, 4, 6, 7],
                &[1, 1, 1, 1]
            ),
            "runs past"
        ));
        // With the offset flag every dimension needs its begin and size.
        assert!(fails_with(
            ss_shape(ss(0, 0, 0, 0, 0, true), &[0, 3], &[1, 1], &[1, 1]),
            "fewer begin entries"
        ));
    }

    #[test]
    fn strided_slice_moves_int32_shapes() {
        // The SHAPE -> STRIDED_SLICE pattern: element 0 of an int32 vector, shrunk to a scalar.
        let out = eval(
            ss(0, 0, 0, 0, 1, false),
            vec![
                t(DType::I32, &[4]),
                c32(&[1], &[0]),
                c32(&[1], &[1]),
                c32(&[1], &[1]),
            ],
            vec![t(DType::I32, &[])],
            &[Buf::from_slice(&[3i32, 5, 7, 9])],
        )
        .unwrap();
        assert_eq!(out[0].as_slice::<i32>().unwrap(), &[3]);
        // Backwards with a stride of 2.
        let out = eval(
            ss(1, 2, 0, 0, 0, false),
            vec![
                t(DType::I32, &[4]),
                c32(&[1], &[0]),
                c32(&[1], &[0]),
                c32(&[1], &[-2]),
            ],
            vec![t(DType::I32, &[2])],
            &[Buf::from_slice(&[3i32, 5, 7, 9])],
        )
        .unwrap();
        assert_eq!(out[0].as_slice::<i32>().unwrap(), &[9, 5]);
    }

    #[test]
    fn slice_to_the_end_and_out_of_range() {
        let out = eval(
            Op::Slice(NoAttrs),
            vec![
                t(DType::U8, &[2, 3]),
                c32(&[2], &[1, 1]),
                c32(&[2], &[-1, -1]),
            ],
            vec![t(DType::U8, &[1, 2])],
            &[Buf::from_slice(&[1u8, 2, 3, 4, 5, 6])],
        )
        .unwrap();
        assert_eq!(out[0].as_slice::<u8>().unwrap(), &[5, 6]);
        let r = infer(
            Op::Slice(NoAttrs),
            vec![
                t(DType::U8, &[2, 3]),
                c32(&[2], &[1, 1]),
                c32(&[2], &[1, 3]),
            ],
            vec![t(DType::U8, &[1, 3])],
        );
        assert!(fails_with(r, "do not fit"));
    }

    #[test]
    fn lowered_slices_read_only_the_input() {
        let (p, out) = lower_and_run(
            ss(0, 0, 0, 0, 0, false),
            vec![
                t(DType::F32, &[2, 3]),
                c32(&[2], &[1, 2]),
                c32(&[2], &[2, -4]),
                c32(&[2], &[1, -2]),
            ],
            vec![t(DType::F32, &[1, 2])],
            &[Buf::from_slice(&[1f32, 2., 3., 4., 5., 6.])],
        )
        .unwrap();
        assert_eq!(kernels(&p), vec![("slice_x32".to_string(), 1)]);
        assert_eq!(out[0].as_slice::<f32>().unwrap(), &[6., 4.]);
        let (p, out) = lower_and_run(
            Op::Slice(NoAttrs),
            vec![t(DType::Bool, &[4]), c32(&[1], &[1]), c32(&[1], &[2])],
            vec![t(DType::Bool, &[2])],
            &[Buf::from_slice(&[0u8, 1, 0, 1])],
        )
        .unwrap();
        assert_eq!(kernels(&p), vec![("slice_x8".to_string(), 1)]);
        assert_eq!(out[0].as_slice::<u8>().unwrap(), &[1, 0]);
    }

    #[test]
    fn ceil_steps() {
        assert_eq!(steps(5, 2), 3);
        assert_eq!(steps(4, 2), 2);
        assert_eq!(steps(-5, -2), 3);
        assert_eq!(steps(-4, 2), 0);
        assert_eq!(steps(3, -1), 0);
        assert_eq!(steps(0, 1), 0);
    }

    #[test]
    fn start_end_clamping() {
        let ax = Axis {
            size: 4,
            begin: -1,
            end: 10,
            stride: 1,
            ..Axis::default()
        };
        let s = start_for_axis(&ax);
        assert_eq!((s, end_for_axis(&ax, s, false)), (3, 4));
        // Backwards over everything with masks.
        let ax = Axis {
            size: 4,
            stride: -1,
            begin_mask: true,
            end_mask: true,
            ..Axis::default()
        };
        let s = start_for_axis(&ax);
        assert_eq!((s, end_for_axis(&ax, s, false)), (3, -1));
        // Offset: end is a length from begin.
        let ax = Axis {
            size: 6,
            begin: 2,
            end: 3,
            stride: 1,
            ..Axis::default()
        };
        let s = start_for_axis(&ax);
        assert_eq!((s, end_for_axis(&ax, s, true)), (2, 5));
    }
}

//! RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR (TFLite `resize_bilinear.cc`,
//! `resize_nearest_neighbor.cc`): a 4-D NHWC input and a constant size operand `[new_h, new_w]`
//! (positive).
//!
//! Per dtype the kernels follow what TFLite's *reference* kernels dispatch to: float32 and uint8
//! bilinear interpolate in float (uint8 adds 0.5 and truncates), int8 and int16 bilinear use
//! `ResizeBilinearInteger`'s fixed-point arithmetic; nearest neighbour copies for every dtype.
//! Bilinear rejects `align_corners` together with `half_pixel_centers`, as TFLite does. Values
//! stay in the quantized domain: TFLite neither requantizes nor compares input and output
//! quantization.

use mvcc_kernels::kernels::resize::{self as kernel, ResizeParams};

use super::transpose::{in_out, rust_in_out, with_width, DataKernel, Width};
use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{DType, ResizeAttrs, Shape};
use crate::lower::{LowerCx, Step};
use crate::rust::step::StepCx;

/// Element types both TFLite resize kernels accept (of those mvcc represents).
const DTYPES: &[DType] = &[DType::F32, DType::U8, DType::I8, DType::I16];

/// Heights and widths must stay below this so that TFLite's 32-bit coordinate arithmetic
/// (`1024 · size` in the integer kernel) cannot overflow.
const MAX_SPATIAL: usize = 1 << 20;

/// The new `(height, width)` from the size operand.
fn new_size(cx: &InferCx<'_>) -> Result<(usize, usize)> {
    let t = cx.input(1)?;
    let v = cx.const_ints(1)?;
    match (t.shape.len(), &v[..]) {
        (1, &[h, w]) if h > 0 && w > 0 && h <= i32::MAX as i64 && w <= i32::MAX as i64 => {
            Ok((h as usize, w as usize))
        }
        _ => Err(cx.err(format!(
            "the size operand must be two positive values, got {v:?}"
        ))),
    }
}

fn infer_resize(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    cx.arity(2, 2, 1)?;
    let input = cx.expect_dtype(0, DTYPES)?;
    let out = cx.output(0)?;
    if out.dtype != input.dtype {
        return Err(cx.err(format!(
            "output has type {}, the input {}",
            out.dtype, input.dtype
        )));
    }
    let [n, _, _, c] = input.shape[..] else {
        return Err(cx.err(format!(
            "the input must be 4-D (NHWC), got shape {:?}",
            input.shape
        )));
    };
    if n * c != 0 && (input.shape[1] == 0 || input.shape[2] == 0) {
        return Err(cx.err(format!(
            "the input has no rows or columns to resize (shape {:?})",
            input.shape
        )));
    }
    let (h, w) = new_size(cx)?;
    // TFLite's coordinate arithmetic is 32-bit (the integer kernel scales by 1024).
    if [input.shape[1], input.shape[2], h, w]
        .iter()
        .any(|&d| d >= MAX_SPATIAL)
    {
        return Err(cx.unsupported(format!("spatial sizes of {MAX_SPATIAL} or more")));
    }
    Ok(vec![vec![n, h, w, c]])
}

/// RESIZE_BILINEAR: operands input and size.
pub fn infer_resize_bilinear(cx: &InferCx<'_>, a: &ResizeAttrs) -> Result<Vec<Shape>> {
    if a.align_corners && a.half_pixel_centers {
        return Err(cx.err("half_pixel_centers requires align_corners to be false"));
    }
    infer_resize(cx)
}

/// RESIZE_NEAREST_NEIGHBOR: operands input and size.
pub fn infer_resize_nearest_neighbor(cx: &InferCx<'_>, a: &ResizeAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    infer_resize(cx)
}

/// The kernel parameters of either resize (TFLite's scales computed from the shapes).
pub fn resize_params(cx: &InferCx<'_>, a: &ResizeAttrs) -> Result<ResizeParams> {
    let input = cx.input(0)?;
    let [n, h, w, c] = input.shape[..] else {
        return Err(cx.err("the input must be 4-D"));
    };
    let (oh, ow) = new_size(cx)?;
    Ok(ResizeParams::new(
        [n, h, w, c],
        oh,
        ow,
        a.align_corners,
        a.half_pixel_centers,
    ))
}

/// The kernel of a RESIZE_BILINEAR: float interpolation for float32 and uint8, TFLite's integer
/// arithmetic for int8 and int16.
fn resize_bilinear_kernel(cx: &InferCx<'_>, a: &ResizeAttrs) -> Result<DataKernel<Kernel>> {
    let p = resize_params(cx, a)?;
    let kernel = match cx.input(0)?.dtype {
        DType::F32 => Kernel::BilinearF32(p),
        DType::U8 => Kernel::BilinearU8(p),
        DType::I8 => Kernel::BilinearI8(p),
        DType::I16 => Kernel::BilinearI16(p),
        t => return Err(cx.unsupported(format!("input type {t}"))),
    };
    Ok(DataKernel::new(kernel, [0]))
}

fn resize_nearest_kernel(cx: &InferCx<'_>, a: &ResizeAttrs) -> Result<DataKernel<Kernel>> {
    let p = resize_params(cx, a)?;
    let w = Width::of(cx, cx.input(0)?.dtype)?;
    Ok(DataKernel::new(Kernel::Nearest(p, w), [0]))
}

/// RESIZE_BILINEAR with the float, uint8 or integer reference kernel.
pub fn eval_resize_bilinear(cx: &mut EvalCx<'_>, a: &ResizeAttrs) -> Result<()> {
    resize_bilinear_kernel(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// RESIZE_NEAREST_NEIGHBOR with [`kernel::resize_nearest_neighbor`].
pub fn eval_resize_nearest_neighbor(cx: &mut EvalCx<'_>, a: &ResizeAttrs) -> Result<()> {
    resize_nearest_kernel(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// Lowers RESIZE_BILINEAR to one step reading the input (the size is in the parameters).
pub fn lower_resize_bilinear(cx: &mut LowerCx<'_>, a: &ResizeAttrs) -> Result<Vec<Step>> {
    resize_bilinear_kernel(&cx.icx, a)?.lower(cx, crate::lower::Kernel::Resize)
}

/// Lowers RESIZE_NEAREST_NEIGHBOR to one step reading the input.
pub fn lower_resize_nearest_neighbor(cx: &mut LowerCx<'_>, a: &ResizeAttrs) -> Result<Vec<Step>> {
    resize_nearest_kernel(&cx.icx, a)?.lower(cx, crate::lower::Kernel::Resize)
}

/// The `resize` family's kernels, each with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// Float32 bilinear.
    BilinearF32(ResizeParams),
    /// uint8 bilinear (float interpolation).
    BilinearU8(ResizeParams),
    /// int8 bilinear (integer arithmetic).
    BilinearI8(ResizeParams),
    /// int16 bilinear (integer arithmetic).
    BilinearI16(ResizeParams),
    /// Nearest neighbour of elements of a width.
    Nearest(ResizeParams, Width),
}

/// The operand and result of a step as `T`, checked against `p`.
fn checked<'a, 'b, T: bytemuck::Pod>(
    io: &'b mut StepIo<'a>,
    p: &ResizeParams,
) -> Result<(&'a [T], &'b mut [T])> {
    if !p.is_valid() {
        return Err(io.err("an empty input cannot be resized"));
    }
    in_out::<T>(io, 0, p.in_len(), p.out_len())
}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::BilinearF32(_) => "resize_bilinear_f32",
            Kernel::BilinearU8(_) => "resize_bilinear_u8",
            Kernel::BilinearI8(_) => "resize_bilinear_i8",
            Kernel::BilinearI16(_) => "resize_bilinear_i16",
            Kernel::Nearest(_, w) => w.pick([
                "resize_nearest_x8",
                "resize_nearest_x16",
                "resize_nearest_x32",
                "resize_nearest_x64",
            ]),
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::BilinearF32(p) => {
                let (x, y) = checked::<f32>(io, p)?;
                kernel::resize_bilinear_f32(p, x, y);
            }
            Kernel::BilinearU8(p) => {
                let (x, y) = checked::<u8>(io, p)?;
                kernel::resize_bilinear_u8(p, x, y);
            }
            Kernel::BilinearI8(p) => {
                let (x, y) = checked::<i8>(io, p)?;
                kernel::resize_bilinear_integer(p, x, y);
            }
            Kernel::BilinearI16(p) => {
                let (x, y) = checked::<i16>(io, p)?;
                kernel::resize_bilinear_integer(p, x, y);
            }
            Kernel::Nearest(p, w) => with_width!(*w, T => {
                let (x, y) = checked::<T>(io, p)?;
                kernel::resize_nearest_neighbor(p, x, y);
            }),
        }
        Ok(())
    }
}

impl Kernel {
    /// Writes the step's Rust code: the same kernel [`Kernel::exec`] runs, with every parameter a
    /// `static`.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters, an empty input to resize.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        let (p, f, ty) = match self {
            Kernel::BilinearF32(p) => (p, "resize_bilinear_f32", "f32"),
            Kernel::BilinearU8(p) => (p, "resize_bilinear_u8", "u8"),
            Kernel::BilinearI8(p) => (p, "resize_bilinear_integer", "i8"),
            Kernel::BilinearI16(p) => (p, "resize_bilinear_integer", "i16"),
            Kernel::Nearest(p, w) => (p, "resize_nearest_neighbor", w.rust_type()),
        };
        if !p.is_valid() {
            return Err(cx.err("an empty input cannot be resized"));
        }
        let (x, y) = rust_in_out(cx, ty, 0, p.in_len(), p.out_len())?;
        let p = cx.param("params", p);
        cx.call(
            &format!("k::resize::{f}"),
            &[format!("&{p}"), x.expr, y.expr],
        );
        Ok(())
    }
}

#[cfg(feature = "cranelift")]
#[path = "resize_clif.rs"]
mod clif;

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code (`resize_clif.rs`).
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters, an empty input to resize.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        clif::emit(self, cx)
    }
}

#[cfg(test)]
mod tests {
    use crate::interp::Buf;
    use crate::ir::{DType, Op, ResizeAttrs};
    use crate::ops::transpose::testutil::{c32, fails_with, infer, kernels, lower_and_run, t};

    #[test]
    fn lowered_resizes_read_only_the_input() {
        let attrs = ResizeAttrs {
            align_corners: false,
            half_pixel_centers: false,
        };
        let (p, out) = lower_and_run(
            Op::ResizeBilinear(attrs.clone()),
            vec![t(DType::I8, &[1, 1, 2, 1]), c32(&[2], &[1, 4])],
            vec![t(DType::I8, &[1, 1, 4, 1])],
            &[Buf::from_slice(&[-3i8, 0])],
        )
        .unwrap();
        assert_eq!(kernels(&p), vec![("resize_bilinear_i8".to_string(), 1)]);
        assert_eq!(out[0].as_slice::<i8>().unwrap(), &[-3, -2, 0, 0]);
        let (p, out) = lower_and_run(
            Op::ResizeNearestNeighbor(attrs),
            vec![t(DType::I16, &[1, 1, 2, 1]), c32(&[2], &[1, 4])],
            vec![t(DType::I16, &[1, 1, 4, 1])],
            &[Buf::from_slice(&[5i16, 6])],
        )
        .unwrap();
        assert_eq!(kernels(&p), vec![("resize_nearest_x16".to_string(), 1)]);
        assert_eq!(out[0].as_slice::<i16>().unwrap(), &[5, 5, 6, 6]);
    }

    #[test]
    fn empty_rows_are_rejected() {
        let r = infer(
            Op::ResizeNearestNeighbor(ResizeAttrs {
                align_corners: false,
                half_pixel_centers: false,
            }),
            vec![t(DType::F32, &[1, 0, 2, 1]), c32(&[2], &[2, 2])],
            vec![t(DType::F32, &[1])],
        );
        assert!(fails_with(r, "no rows or columns"));
    }

    #[test]
    fn shapes_and_flag_checks() {
        let op = |align_corners, half_pixel_centers| {
            Op::ResizeBilinear(ResizeAttrs {
                align_corners,
                half_pixel_centers,
            })
        };
        let s = infer(
            op(false, true),
            vec![t(DType::I8, &[1, 4, 4, 3]), c32(&[2], &[7, 10])],
            vec![t(DType::I8, &[1])],
        );
        assert_eq!(s.unwrap(), vec![vec![1, 7, 10, 3]]);
        let r = infer(
            op(true, true),
            vec![t(DType::I8, &[1, 4, 4, 3]), c32(&[2], &[7, 10])],
            vec![t(DType::I8, &[1])],
        );
        assert!(fails_with(r, "half_pixel_centers"));
        let r = infer(
            op(false, false),
            vec![t(DType::F32, &[1, 4, 4, 3]), c32(&[2], &[0, 10])],
            vec![t(DType::F32, &[1])],
        );
        assert!(fails_with(r, "positive"));
    }
}

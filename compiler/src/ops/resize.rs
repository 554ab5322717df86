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

use mvcc_runtime::kernels::resize::{self as kernel, ResizeParams};

use super::transpose::with_bits_type;
use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{DType, ResizeAttrs, Shape};

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

/// RESIZE_BILINEAR with the float, uint8 or integer reference kernel.
pub fn eval_resize_bilinear(cx: &mut EvalCx<'_>, a: &ResizeAttrs) -> Result<()> {
    let p = resize_params(&cx.infer_cx(), a)?;
    match cx.in_tensor(0)?.dtype {
        DType::F32 => {
            let input = cx.input::<f32>(0)?;
            kernel::resize_bilinear_f32(&p, input, cx.output::<f32>(0)?);
        }
        DType::U8 => {
            let input = cx.input::<u8>(0)?;
            kernel::resize_bilinear_u8(&p, input, cx.output::<u8>(0)?);
        }
        DType::I8 => {
            let input = cx.input::<i8>(0)?;
            kernel::resize_bilinear_integer(&p, input, cx.output::<i8>(0)?);
        }
        DType::I16 => {
            let input = cx.input::<i16>(0)?;
            kernel::resize_bilinear_integer(&p, input, cx.output::<i16>(0)?);
        }
        d => return Err(cx.err(format!("unsupported type {d}"))),
    }
    Ok(())
}

/// RESIZE_NEAREST_NEIGHBOR with [`kernel::resize_nearest_neighbor`].
pub fn eval_resize_nearest_neighbor(cx: &mut EvalCx<'_>, a: &ResizeAttrs) -> Result<()> {
    let p = resize_params(&cx.infer_cx(), a)?;
    let dtype = cx.in_tensor(0)?.dtype;
    with_bits_type!(cx, dtype, T => {
        let input = cx.input::<T>(0)?;
        kernel::resize_nearest_neighbor(&p, input, cx.output::<T>(0)?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use crate::ir::{DType, Op, ResizeAttrs};
    use crate::ops::transpose::testutil::{c32, fails_with, infer, t};

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

/// Lowers ResizeBilinear (transitional: evaluated from the graph).
pub fn lower_resize_bilinear(cx: &mut crate::lower::LowerCx<'_>, _a: &crate::ir::ResizeAttrs) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}

/// Lowers ResizeNearestNeighbor (transitional: evaluated from the graph).
pub fn lower_resize_nearest_neighbor(cx: &mut crate::lower::LowerCx<'_>, _a: &crate::ir::ResizeAttrs) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}


/// The `resize` family's kernels, each with its parameters (filled in as the family is lowered).
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

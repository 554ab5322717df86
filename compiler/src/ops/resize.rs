//! Op family `resize` (placeholder until implemented).

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{ResizeAttrs};
use crate::ir::Shape;

pub fn infer_resize_bilinear(cx: &InferCx<'_>, a: &ResizeAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_resize_nearest_neighbor(cx: &InferCx<'_>, a: &ResizeAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn eval_resize_bilinear(cx: &mut EvalCx<'_>, a: &ResizeAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

pub fn eval_resize_nearest_neighbor(cx: &mut EvalCx<'_>, a: &ResizeAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

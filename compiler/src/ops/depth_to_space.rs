//! Op family `depth_to_space` (placeholder until implemented).

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{BlockAttrs};
use crate::ir::Shape;

pub fn infer_depth_to_space(cx: &InferCx<'_>, a: &BlockAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_space_to_depth(cx: &InferCx<'_>, a: &BlockAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn eval_depth_to_space(cx: &mut EvalCx<'_>, a: &BlockAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

pub fn eval_space_to_depth(cx: &mut EvalCx<'_>, a: &BlockAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

//! Op family `pool_2d` (placeholder until implemented).

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{Pool2dAttrs};
use crate::ir::Shape;

pub fn infer_average_pool_2d(cx: &InferCx<'_>, a: &Pool2dAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_max_pool_2d(cx: &InferCx<'_>, a: &Pool2dAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn eval_average_pool_2d(cx: &mut EvalCx<'_>, a: &Pool2dAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

pub fn eval_max_pool_2d(cx: &mut EvalCx<'_>, a: &Pool2dAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

//! Op family `reduce` (placeholder until implemented).

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{ReduceAttrs};
use crate::ir::Shape;

pub fn infer_mean(cx: &InferCx<'_>, a: &ReduceAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_sum(cx: &InferCx<'_>, a: &ReduceAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_reduce_max(cx: &InferCx<'_>, a: &ReduceAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn eval_mean(cx: &mut EvalCx<'_>, a: &ReduceAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

pub fn eval_sum(cx: &mut EvalCx<'_>, a: &ReduceAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

pub fn eval_reduce_max(cx: &mut EvalCx<'_>, a: &ReduceAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

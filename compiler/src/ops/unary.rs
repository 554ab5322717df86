//! Op family `unary` (placeholder until implemented).

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::Shape;

pub fn infer_rsqrt(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_sqrt(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_exp(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    Err(cx.unsupported("not implemented yet"))
}

pub fn eval_rsqrt(cx: &mut EvalCx<'_>) -> Result<()> {
    Err(cx.err("not implemented yet"))
}

pub fn eval_sqrt(cx: &mut EvalCx<'_>) -> Result<()> {
    Err(cx.err("not implemented yet"))
}

pub fn eval_exp(cx: &mut EvalCx<'_>) -> Result<()> {
    Err(cx.err("not implemented yet"))
}

//! Op family `logistic_tanh` (placeholder until implemented).

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::Shape;

pub fn infer_logistic(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_tanh(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    Err(cx.unsupported("not implemented yet"))
}

pub fn eval_logistic(cx: &mut EvalCx<'_>) -> Result<()> {
    Err(cx.err("not implemented yet"))
}

pub fn eval_tanh(cx: &mut EvalCx<'_>) -> Result<()> {
    Err(cx.err("not implemented yet"))
}

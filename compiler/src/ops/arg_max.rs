//! Op family `arg_max` (placeholder until implemented).

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{OutTypeAttrs};
use crate::ir::Shape;

pub fn infer_arg_max(cx: &InferCx<'_>, a: &OutTypeAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn eval_arg_max(cx: &mut EvalCx<'_>, a: &OutTypeAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

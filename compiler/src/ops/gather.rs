//! Op family `gather` (placeholder until implemented).

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{GatherAttrs};
use crate::ir::Shape;

pub fn infer_gather(cx: &InferCx<'_>, a: &GatherAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn eval_gather(cx: &mut EvalCx<'_>, a: &GatherAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

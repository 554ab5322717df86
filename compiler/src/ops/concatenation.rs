//! Op family `concatenation` (placeholder until implemented).

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{ConcatAttrs};
use crate::ir::Shape;

pub fn infer_concatenation(cx: &InferCx<'_>, a: &ConcatAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn eval_concatenation(cx: &mut EvalCx<'_>, a: &ConcatAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

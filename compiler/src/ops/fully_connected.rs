//! Op family `fully_connected` (placeholder until implemented).

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{FullyConnectedAttrs};
use crate::ir::Shape;

pub fn infer_fully_connected(cx: &InferCx<'_>, a: &FullyConnectedAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn eval_fully_connected(cx: &mut EvalCx<'_>, a: &FullyConnectedAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

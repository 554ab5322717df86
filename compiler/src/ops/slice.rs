//! Op family `slice` (placeholder until implemented).

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{StridedSliceAttrs};
use crate::ir::Shape;

pub fn infer_slice(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_strided_slice(cx: &InferCx<'_>, a: &StridedSliceAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn eval_slice(cx: &mut EvalCx<'_>) -> Result<()> {
    Err(cx.err("not implemented yet"))
}

pub fn eval_strided_slice(cx: &mut EvalCx<'_>, a: &StridedSliceAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

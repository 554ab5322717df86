//! Op family `quantize` (placeholder until implemented).

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{OutTypeAttrs};
use crate::ir::Shape;

pub fn infer_quantize(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_dequantize(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_cast(cx: &InferCx<'_>, a: &OutTypeAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn eval_quantize(cx: &mut EvalCx<'_>) -> Result<()> {
    Err(cx.err("not implemented yet"))
}

pub fn eval_dequantize(cx: &mut EvalCx<'_>) -> Result<()> {
    Err(cx.err("not implemented yet"))
}

pub fn eval_cast(cx: &mut EvalCx<'_>, a: &OutTypeAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

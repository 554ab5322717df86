//! Op family `pad` (placeholder until implemented).

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{MirrorPadAttrs};
use crate::ir::Shape;

pub fn infer_pad(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_pad_v2(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_mirror_pad(cx: &InferCx<'_>, a: &MirrorPadAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn eval_pad(cx: &mut EvalCx<'_>) -> Result<()> {
    Err(cx.err("not implemented yet"))
}

pub fn eval_pad_v2(cx: &mut EvalCx<'_>) -> Result<()> {
    Err(cx.err("not implemented yet"))
}

pub fn eval_mirror_pad(cx: &mut EvalCx<'_>, a: &MirrorPadAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

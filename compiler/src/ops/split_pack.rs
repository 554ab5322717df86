//! Op family `split_pack` (placeholder until implemented).

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{PackAttrs, SplitAttrs};
use crate::ir::Shape;

pub fn infer_split(cx: &InferCx<'_>, a: &SplitAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_split_v(cx: &InferCx<'_>, a: &SplitAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_pack(cx: &InferCx<'_>, a: &PackAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_unpack(cx: &InferCx<'_>, a: &PackAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn eval_split(cx: &mut EvalCx<'_>, a: &SplitAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

pub fn eval_split_v(cx: &mut EvalCx<'_>, a: &SplitAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

pub fn eval_pack(cx: &mut EvalCx<'_>, a: &PackAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

pub fn eval_unpack(cx: &mut EvalCx<'_>, a: &PackAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

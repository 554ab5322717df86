//! Op family `binary` (placeholder until implemented).

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{FusedActAttrs};
use crate::ir::Shape;

pub fn infer_add(cx: &InferCx<'_>, a: &FusedActAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_sub(cx: &InferCx<'_>, a: &FusedActAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_mul(cx: &InferCx<'_>, a: &FusedActAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_div(cx: &InferCx<'_>, a: &FusedActAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_squared_difference(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_maximum(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_minimum(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    Err(cx.unsupported("not implemented yet"))
}

pub fn eval_add(cx: &mut EvalCx<'_>, a: &FusedActAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

pub fn eval_sub(cx: &mut EvalCx<'_>, a: &FusedActAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

pub fn eval_mul(cx: &mut EvalCx<'_>, a: &FusedActAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

pub fn eval_div(cx: &mut EvalCx<'_>, a: &FusedActAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

pub fn eval_squared_difference(cx: &mut EvalCx<'_>) -> Result<()> {
    Err(cx.err("not implemented yet"))
}

pub fn eval_maximum(cx: &mut EvalCx<'_>) -> Result<()> {
    Err(cx.err("not implemented yet"))
}

pub fn eval_minimum(cx: &mut EvalCx<'_>) -> Result<()> {
    Err(cx.err("not implemented yet"))
}

//! Op family `conv_2d` (placeholder until implemented).

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{Conv2dAttrs, DepthwiseConv2dAttrs, TransposeConvAttrs};
use crate::ir::Shape;

pub fn infer_conv_2d(cx: &InferCx<'_>, a: &Conv2dAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_depthwise_conv_2d(cx: &InferCx<'_>, a: &DepthwiseConv2dAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn infer_transpose_conv(cx: &InferCx<'_>, a: &TransposeConvAttrs) -> Result<Vec<Shape>> {
    let _ = a;
    Err(cx.unsupported("not implemented yet"))
}

pub fn eval_conv_2d(cx: &mut EvalCx<'_>, a: &Conv2dAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

pub fn eval_depthwise_conv_2d(cx: &mut EvalCx<'_>, a: &DepthwiseConv2dAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

pub fn eval_transpose_conv(cx: &mut EvalCx<'_>, a: &TransposeConvAttrs) -> Result<()> {
    let _ = a;
    Err(cx.err("not implemented yet"))
}

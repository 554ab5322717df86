//! RESHAPE, SQUEEZE, EXPAND_DIMS, SHAPE and DENSIFY: ops that change only a tensor's shape (or, for
//! SHAPE, read it). Their evaluation is a copy of the bytes; the middle end turns them into aliases.
//!
//! Shape rules follow TFLite's `reshape.cc` (one `-1` wildcard; the new shape from the shape operand,
//! else from the options), `squeeze.cc`, `expand_dims.cc` and `shape.cc`.

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{num_elements, DType, OutTypeAttrs, Shape, SqueezeAttrs};
use crate::lower::{LowerCx, Step};

/// Resolves a requested shape with at most one `-1` against `count` elements.
fn resolve_shape(cx: &InferCx<'_>, want: &[i64], count: usize) -> Result<Shape> {
    let mut out = Vec::with_capacity(want.len());
    let mut wildcard = None;
    let mut known: usize = 1;
    for (i, &d) in want.iter().enumerate() {
        if d == -1 {
            if wildcard.replace(i).is_some() {
                return Err(cx.err("the new shape has more than one -1"));
            }
            out.push(1);
        } else if d < 0 {
            return Err(cx.err(format!("the new shape has a negative dimension {d}")));
        } else {
            let d = usize::try_from(d).map_err(|_| cx.err("dimension out of range"))?;
            known = known
                .checked_mul(d)
                .ok_or_else(|| cx.err("the new shape overflows"))?;
            out.push(d);
        }
    }
    if let Some(i) = wildcard {
        if known == 0 || !count.is_multiple_of(known) {
            return Err(cx.err(format!("cannot reshape {count} elements to {want:?}")));
        }
        out[i] = count / known;
    } else if known != count {
        return Err(cx.err(format!("cannot reshape {count} elements to {want:?}")));
    }
    Ok(out)
}

/// RESHAPE: operands data and (optionally) the new shape; else the options' `new_shape`, else the
/// declared output shape (TFLite falls back the same way).
pub fn infer_reshape(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    cx.arity(1, 2, 1)?;
    let input = cx.input(0)?;
    let out = cx.output(0)?;
    if out.dtype != input.dtype {
        return Err(cx.err("input and output types differ"));
    }
    let want: Vec<i64> = match cx.opt_input(1) {
        // A shape operand of one element with value -1 is how TF writes "flatten"; shape operands
        // that are not constant are resolved by constant folding before this runs.
        Some(_) => cx.const_ints(1)?,
        None => out.shape.iter().map(|&d| d as i64).collect(),
    };
    Ok(vec![resolve_shape(cx, &want, input.num_elements())?])
}

/// SQUEEZE: removes the listed size-1 dimensions (all of them when the list is empty).
pub fn infer_squeeze(cx: &InferCx<'_>, a: &SqueezeAttrs) -> Result<Vec<Shape>> {
    cx.arity(1, 1, 1)?;
    let input = cx.input(0)?;
    let rank = input.shape.len() as i64;
    let mut drop = vec![false; input.shape.len()];
    if a.dims.is_empty() {
        for (i, &d) in input.shape.iter().enumerate() {
            drop[i] = d == 1;
        }
    } else {
        for &d in &a.dims {
            let d = i64::from(d);
            let axis = if d < 0 { d + rank } else { d };
            if !(0..rank).contains(&axis) {
                return Err(cx.err(format!(
                    "squeeze dimension {d} out of range for rank {rank}"
                )));
            }
            if input.shape[axis as usize] != 1 {
                return Err(cx.err(format!(
                    "cannot squeeze dimension {d} of size {}",
                    input.shape[axis as usize]
                )));
            }
            drop[axis as usize] = true;
        }
    }
    Ok(vec![input
        .shape
        .iter()
        .zip(&drop)
        .filter(|(_, &k)| !k)
        .map(|(&d, _)| d)
        .collect()])
}

/// EXPAND_DIMS: inserts a size-1 dimension at the (constant) axis operand.
pub fn infer_expand_dims(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    cx.arity(2, 2, 1)?;
    let input = cx.input(0)?;
    let axis = cx.const_ints(1)?;
    let [axis] = axis[..] else {
        return Err(cx.err("the axis operand must hold one value"));
    };
    let rank = input.shape.len() as i64;
    let axis = if axis < 0 { axis + rank + 1 } else { axis };
    if !(0..=rank).contains(&axis) {
        return Err(cx.err(format!("axis out of range for rank {rank}")));
    }
    let mut shape = input.shape.clone();
    shape.insert(axis as usize, 1);
    Ok(vec![shape])
}

/// SHAPE: a 1-D int32/int64 tensor of the input's dimensions.
pub fn infer_shape(cx: &InferCx<'_>, a: &OutTypeAttrs) -> Result<Vec<Shape>> {
    cx.arity(1, 1, 1)?;
    let input = cx.input(0)?;
    if !matches!(a.out, DType::I32 | DType::I64) {
        return Err(cx.unsupported(format!("output type {}", a.out)));
    }
    Ok(vec![vec![input.shape.len()]])
}

/// DENSIFY: the importer has already decoded the sparse constant; the result has its dense shape.
pub fn infer_densify(cx: &InferCx<'_>) -> Result<Vec<Shape>> {
    cx.arity(1, 1, 1)?;
    let input = cx.input(0)?;
    if !input.is_const() {
        return Err(cx.err("DENSIFY needs a constant input"));
    }
    Ok(vec![input.shape.clone()])
}

/// Copies operand 0 to result 0 byte for byte (RESHAPE, SQUEEZE, EXPAND_DIMS, DENSIFY).
pub fn eval_copy(cx: &mut EvalCx<'_>) -> Result<()> {
    let input = cx.input::<u8>(0)?;
    let out = cx.output::<u8>(0)?;
    if input.len() != out.len() {
        return Err(cx.err("input and output sizes differ"));
    }
    out.copy_from_slice(input);
    Ok(())
}

/// SHAPE: writes the input's dimensions.
pub fn eval_shape(cx: &mut EvalCx<'_>, a: &OutTypeAttrs) -> Result<()> {
    let dims = cx.in_tensor(0)?.shape.clone();
    match a.out {
        DType::I64 => {
            for (o, d) in cx.output::<i64>(0)?.iter_mut().zip(dims) {
                *o = d as i64;
            }
        }
        _ => {
            for (o, d) in cx.output::<i32>(0)?.iter_mut().zip(dims) {
                *o = d as i32;
            }
        }
    }
    let _ = num_elements;
    Ok(())
}

/// One copy step from operand 0 (reshapes that cannot be aliases, e.g. into a model output; the
/// lowering turns the others into aliases before reaching here).
fn copy_step(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let input = cx.required(0)?;
    let origin = cx.origin();
    Ok(vec![Step::new(
        crate::lower::Kernel::Copy,
        vec![Some(input)],
        cx.outputs()?,
        origin,
    )])
}

/// Lowers RESHAPE: a copy (or, in `lower::lower`, an alias).
pub fn lower_reshape(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    copy_step(cx)
}

/// Lowers SQUEEZE: a copy (or an alias).
pub fn lower_squeeze(cx: &mut LowerCx<'_>, _a: &SqueezeAttrs) -> Result<Vec<Step>> {
    copy_step(cx)
}

/// Lowers EXPAND_DIMS: a copy (or an alias).
pub fn lower_expand_dims(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    copy_step(cx)
}

/// Lowers SHAPE (normally folded at import): a copy of the shape, a compile-time constant.
pub fn lower_shape(cx: &mut LowerCx<'_>, a: &OutTypeAttrs) -> Result<Vec<Step>> {
    let dims = cx.icx.input(0)?.shape.clone();
    let bytes: Vec<u8> = match a.out {
        DType::I64 => dims
            .iter()
            .flat_map(|&d| (d as i64).to_le_bytes())
            .collect(),
        _ => dims
            .iter()
            .flat_map(|&d| (d as i32).to_le_bytes())
            .collect(),
    };
    let shape = cx.packed(&bytes);
    let origin = cx.origin();
    Ok(vec![Step::new(
        crate::lower::Kernel::Copy,
        vec![Some(shape)],
        cx.outputs()?,
        origin,
    )])
}

/// Lowers DENSIFY (normally folded at import): a copy of the decoded constant.
pub fn lower_densify(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    copy_step(cx)
}

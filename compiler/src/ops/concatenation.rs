//! CONCATENATION (TFLite `concatenation.cc`): any number of operands of one rank and type, equal
//! except along the axis.
//!
//! - float32, int16, int32, int64: a copy. int16 operands and result must have zero point 0.
//! - int8: a copy; TFLite requires every operand to have the result's scale and zero point.
//! - uint8: TFLite's reference kernel runs `ConcatenationWithScaling`: operands whose scale or
//!   zero point differ from the result's are requantized in `f32` (see
//!   [`mvcc_runtime::kernels::concatenation::ConcatRescale`]).
//!
//! TFLite rejects a fused activation other than NONE. mvcc applies one on float32 (a clamp after
//! the copy, as every other float op does) and reports it unsupported on quantized types.

use mvcc_runtime::kernels::concatenation::{self as kernel, ConcatParams, ConcatRescale};

use super::transpose::{norm_axis, tflite_qparams, with_bits_type};
use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{Activation, ConcatAttrs, DType, Shape};
use crate::quant::act_f32;

/// Element types TFLite's CONCATENATION accepts.
const DTYPES: &[DType] = &[
    DType::F32,
    DType::U8,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
];

/// CONCATENATION: one result, the operands' shape with the axis dimension summed.
pub fn infer_concatenation(cx: &InferCx<'_>, a: &ConcatAttrs) -> Result<Vec<Shape>> {
    let n = cx.node.inputs.len();
    cx.arity(n.max(1), n.max(1), 1)?;
    let t0 = cx.expect_dtype(0, DTYPES)?;
    let out = cx.output(0)?;
    if out.dtype != t0.dtype {
        return Err(cx.err(format!(
            "output has type {}, the inputs {}",
            out.dtype, t0.dtype
        )));
    }
    let rank = t0.shape.len();
    let axis = norm_axis(cx, i64::from(a.axis), rank)?;
    let mut shape = t0.shape.clone();
    shape[axis] = 0;
    for i in 0..cx.node.inputs.len() {
        let t = cx.input(i)?;
        if t.dtype != t0.dtype {
            return Err(cx.err(format!(
                "input {i} has type {}, input 0 {}",
                t.dtype, t0.dtype
            )));
        }
        if t.shape.len() != rank
            || t.shape
                .iter()
                .zip(&t0.shape)
                .enumerate()
                .any(|(d, (x, y))| d != axis && x != y)
        {
            return Err(cx.err(format!(
                "input {i} has shape {:?}, which does not match input 0's {:?} outside axis {axis}",
                t.shape, t0.shape
            )));
        }
        shape[axis] += t.shape[axis];
    }
    if a.act != Activation::None && t0.dtype != DType::F32 {
        return Err(cx.unsupported(format!(
            "fused activation on a {} concatenation (TFLite accepts none)",
            t0.dtype
        )));
    }
    match t0.dtype {
        DType::I8 => {
            let want = tflite_qparams(out);
            for i in 0..cx.node.inputs.len() {
                let t = cx.input(i)?;
                if tflite_qparams(t) != want {
                    return Err(cx.err(format!(
                        "int8 input {i} (\"{}\") must have the output's scale and zero point (TFLite does not \
                         rescale int8 concatenations)",
                        t.name
                    )));
                }
            }
        }
        DType::U8 => {
            cx.per_tensor_quant(out)?;
            for i in 0..cx.node.inputs.len() {
                cx.per_tensor_quant(cx.input(i)?)?;
            }
        }
        DType::I16 => {
            for t in (0..cx.node.inputs.len())
                .map(|i| cx.input(i))
                .chain([Ok(out)])
            {
                let t = t?;
                if tflite_qparams(t).1 != 0 {
                    return Err(cx.err(format!(
                        "int16 tensor \"{}\" must have zero point 0",
                        t.name
                    )));
                }
            }
        }
        _ => {}
    }
    Ok(vec![shape])
}

/// The kernel parameters: the product of the output dimensions before the axis.
pub fn concat_params(cx: &InferCx<'_>, a: &ConcatAttrs) -> Result<ConcatParams> {
    let out = cx.output(0)?;
    let axis = norm_axis(cx, i64::from(a.axis), out.shape.len())?;
    Ok(ConcatParams {
        outer: out.shape[..axis].iter().product(),
    })
}

/// uint8: each operand's rescaling into the output's quantization.
pub fn concat_rescales(cx: &InferCx<'_>) -> Result<Vec<ConcatRescale>> {
    let (out_scale, out_zp) = cx.per_tensor_quant(cx.output(0)?)?;
    (0..cx.node.inputs.len())
        .map(|i| {
            let (s, z) = cx.per_tensor_quant(cx.input(i)?)?;
            Ok(ConcatRescale::new(s, z, out_scale, out_zp))
        })
        .collect()
}

/// CONCATENATION: copies (float: then clamps; uint8: rescales) with the runtime kernels.
pub fn eval_concatenation(cx: &mut EvalCx<'_>, a: &ConcatAttrs) -> Result<()> {
    let icx = cx.infer_cx();
    let p = concat_params(&icx, a)?;
    let n = cx.node.inputs.len();
    let dtype = cx.out_tensor(0)?.dtype;
    match dtype {
        DType::F32 => {
            let inputs = (0..n)
                .map(|i| cx.input::<f32>(i))
                .collect::<Result<Vec<_>>>()?;
            kernel::concatenation_f32(&p, &inputs, act_f32(a.act), cx.output::<f32>(0)?);
            Ok(())
        }
        DType::U8 => {
            let rescales = concat_rescales(&icx)?;
            let inputs = (0..n)
                .map(|i| Ok((cx.input::<u8>(i)?, rescales[i])))
                .collect::<Result<Vec<_>>>()?;
            kernel::concatenation_with_scaling_u8(&p, &inputs, cx.output::<u8>(0)?);
            Ok(())
        }
        _ => with_bits_type!(cx, dtype, T => {
            let inputs = (0..n).map(|i| cx.input::<T>(i)).collect::<Result<Vec<_>>>()?;
            kernel::concatenation(&p, &inputs, cx.output::<T>(0)?);
            Ok(())
        }),
    }
}

#[cfg(test)]
mod tests {
    use crate::interp::Buf;
    use crate::ir::{Activation, ConcatAttrs, DType, Op};
    use crate::ops::transpose::testutil::{eval, fails_with, infer, t, tq};

    fn concat(axis: i32, act: Activation) -> Op {
        Op::Concatenation(ConcatAttrs { axis, act })
    }

    #[test]
    fn int8_operands_must_share_the_output_quantization() {
        let r = infer(
            concat(0, Activation::None),
            vec![
                tq(DType::I8, &[1, 2], 0.5, 0),
                tq(DType::I8, &[1, 2], 0.25, 0),
            ],
            vec![tq(DType::I8, &[2, 2], 0.5, 0)],
        );
        assert!(fails_with(r, "does not rescale"));
    }

    #[test]
    fn uint8_operands_are_rescaled() {
        // Operand 1 (scale 1, zero point 0) into the output's scale 0.5, zero point 10:
        // q -> round(2q) + 10.
        let out = eval(
            concat(-1, Activation::None),
            vec![
                tq(DType::U8, &[1, 2], 0.5, 10),
                tq(DType::U8, &[1, 1], 1.0, 0),
            ],
            vec![tq(DType::U8, &[1, 3], 0.5, 10)],
            &[Buf::from_slice(&[7u8, 200]), Buf::from_slice(&[150u8])],
        )
        .unwrap();
        assert_eq!(out[0].as_slice::<u8>().unwrap(), &[7, 200, 255]);
    }

    #[test]
    fn float_activation_clamps_and_quantized_activation_is_unsupported() {
        let out = eval(
            concat(1, Activation::Relu6),
            vec![t(DType::F32, &[1, 2]), t(DType::F32, &[1, 1])],
            vec![t(DType::F32, &[1, 3])],
            &[Buf::from_slice(&[-1f32, 3.]), Buf::from_slice(&[9f32])],
        )
        .unwrap();
        assert_eq!(out[0].as_slice::<f32>().unwrap(), &[0., 3., 6.]);
        let r = infer(
            concat(0, Activation::Relu),
            vec![tq(DType::U8, &[1], 0.5, 0)],
            vec![tq(DType::U8, &[1], 0.5, 0)],
        );
        assert!(fails_with(r, "fused activation"));
    }

    #[test]
    fn mismatched_shapes_are_rejected() {
        let r = infer(
            concat(1, Activation::None),
            vec![t(DType::F32, &[1, 2]), t(DType::F32, &[2, 1])],
            vec![t(DType::F32, &[1, 3])],
        );
        assert!(fails_with(r, "does not match"));
    }
}

/// Lowers Concatenation (transitional: evaluated from the graph).
pub fn lower_concatenation(cx: &mut crate::lower::LowerCx<'_>, _a: &crate::ir::ConcatAttrs) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}


/// The `concatenation` family's kernels, each with its parameters (filled in as the family is lowered).
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match *self {}
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn exec(&self, _io: &mut crate::interp::StepIo<'_>) -> Result<()> {
        match *self {}
    }
}

//! FULLY_CONNECTED: shape rule and reference evaluation (TFLite's `fully_connected.cc`).
//!
//! The input is flattened to `[batches, depth]` with `depth = weights.shape[1]` and
//! `batches = num_elements / depth`; the output is `[batches, units]`, or with `keep_num_dims`
//! the input's shape with the last dimension replaced by `units`.
//!
//! Quantized numerics follow LiteRT's *reference* kernels, which rescale in double precision
//! (see `mvcc_runtime::kernels::fully_connected`): the effective scale of unit `n` is
//! `f64(S_in) · f64(S_w[n]) / f64(S_out)` for int8 per-channel weights, and the same with the one
//! weight scale for int8 per-tensor and uint8 weights. Per-channel weights are symmetric: their
//! zero point is not read. Only NONE, RELU, RELU_N1_TO_1 and RELU6 may be fused (TFLite rejects
//! the others for non-hybrid kernels). Shuffled weights are rejected by the importer; float
//! inputs with quantized weights (hybrid, dynamic-range quantization) are unsupported.

use mvcc_runtime::kernels::common::ActF32;
use mvcc_runtime::kernels::fully_connected::{
    fully_connected_f32, fully_connected_q, FullyConnectedParams, FullyConnectedQuant,
};

use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::ir::{Activation, DType, FullyConnectedAttrs, Shape};
use crate::quant::{act_f32, act_q};

/// How FULLY_CONNECTED computes.
#[derive(Clone, Debug, PartialEq)]
pub enum FcNumerics {
    /// float32 with its clamp.
    F32(ActF32),
    /// int8 or uint8 with offsets, clamp and one effective scale per unit.
    Quant {
        /// `I8` or `U8`.
        dtype: DType,
        /// Offsets and clamp.
        q: FullyConnectedQuant,
        /// `S_in · S_w[n] / S_out` per unit.
        scale: Vec<f64>,
    },
}

/// FULLY_CONNECTED's kernel parameters, numerics and output shape, computed as TFLite's
/// `Prepare` does.
///
/// # Errors
/// Invalid shapes or quantization; unsupported type combinations or activations.
pub fn fully_connected_params(
    cx: &InferCx<'_>,
    a: &FullyConnectedAttrs,
) -> Result<(FullyConnectedParams, FcNumerics, Shape)> {
    cx.arity(2, 3, 1)?;
    let input = cx.input(0)?;
    let weights = cx.input(1)?;
    let output = cx.output(0)?;
    let [units, depth] = weights.shape[..] else {
        return Err(cx.err(format!(
            "weights must have rank 2, have shape {:?}",
            weights.shape
        )));
    };
    if depth == 0 || units == 0 {
        return Err(cx.err(format!(
            "weights have an empty dimension: {:?}",
            weights.shape
        )));
    }
    let n_in = input.num_elements();
    if n_in % depth != 0 {
        return Err(cx.err(format!(
            "input of {n_in} elements does not split into rows of {depth}"
        )));
    }
    let batches = n_in / depth;
    let shape = if a.keep_num_dims {
        match input.shape.split_last() {
            Some((&last, lead)) if last == depth => {
                let mut s = lead.to_vec();
                s.push(units);
                s
            }
            _ => {
                return Err(cx.err(format!(
                "keep_num_dims needs the input's last dimension to be {depth}, input shape {:?}",
                input.shape
            )))
            }
        }
    } else {
        vec![batches, units]
    };
    let bias = cx.opt_input(2);
    if let Some(b) = bias {
        if b.num_elements() != units {
            return Err(cx.err(format!(
                "bias has {} elements for {units} units",
                b.num_elements()
            )));
        }
    }
    let act = match a.act {
        Activation::None | Activation::Relu | Activation::ReluN1To1 | Activation::Relu6 => a.act,
        Activation::Tanh => return Err(cx.unsupported("fused TANH activation")),
    };
    let dtype = match (input.dtype, weights.dtype) {
        (DType::F32, DType::F32) => None,
        (DType::I8, DType::I8) => Some(DType::I8),
        (DType::U8, DType::U8) => Some(DType::U8),
        (DType::F32, DType::I8 | DType::U8) => {
            return Err(cx.unsupported(
                "hybrid kernel (float input, quantized weights; dynamic-range quantization)",
            ))
        }
        (DType::I16, _) => return Err(cx.unsupported("int16 activations")),
        (i, w) => return Err(cx.unsupported(format!("input type {i} with weights type {w}"))),
    };
    if output.dtype != input.dtype {
        return Err(cx.unsupported(format!(
            "input type {} with output type {}",
            input.dtype, output.dtype
        )));
    }
    if let Some(b) = bias {
        let want = if dtype.is_none() {
            DType::F32
        } else {
            DType::I32
        };
        if b.dtype != want {
            return Err(cx.err(format!("bias has type {}, expected {want}", b.dtype)));
        }
    }
    let params = FullyConnectedParams {
        batches,
        depth,
        units,
    };
    let Some(dtype) = dtype else {
        return Ok((params, FcNumerics::F32(act_f32(act)), shape));
    };
    let (s_in, z_in) = cx.per_tensor_quant(input)?;
    let (s_out, z_out) = cx.per_tensor_quant(output)?;
    let per_channel = weights.quant.as_ref().is_some_and(|q| q.is_per_axis());
    let (scales, zero_points) = cx.channel_quant(weights, units)?;
    if scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(cx.err(format!(
            "weights \"{}\" have an invalid scale",
            weights.name
        )));
    }
    let filter_offset = if per_channel {
        if dtype != DType::I8 {
            return Err(cx.unsupported("per-channel uint8 weights"));
        }
        if weights.quant.as_ref().is_some_and(|q| q.axis != 0) {
            return Err(cx.err("weights must be quantized along dimension 0"));
        }
        0
    } else {
        -i32::try_from(zero_points[0]).map_err(|_| cx.err("weights zero point out of range"))?
    };
    let scale = scales
        .iter()
        .map(|&s_w| f64::from(s_in) * f64::from(s_w) / f64::from(s_out))
        .collect();
    let q = FullyConnectedQuant {
        input_offset: -z_in,
        filter_offset,
        output_offset: z_out,
        act: act_q(act, dtype, s_out, z_out),
    };
    Ok((params, FcNumerics::Quant { dtype, q, scale }, shape))
}

/// FULLY_CONNECTED: `[…, K] × [N, K] → [batches, N]` (or `[…, N]` with `keep_num_dims`).
pub fn infer_fully_connected(cx: &InferCx<'_>, a: &FullyConnectedAttrs) -> Result<Vec<Shape>> {
    let (_, _, shape) = fully_connected_params(cx, a)?;
    Ok(vec![shape])
}

/// Runs FULLY_CONNECTED with the reference kernels.
pub fn eval_fully_connected(cx: &mut EvalCx<'_>, a: &FullyConnectedAttrs) -> Result<()> {
    let (p, num, _) = fully_connected_params(&cx.infer_cx(), a)?;
    if cx.out_tensor(0)?.num_elements() != p.batches * p.units {
        return Err(cx.err("output size does not match the shape rule"));
    }
    match num {
        FcNumerics::F32(act) => {
            let (x, w, b) = (
                cx.input::<f32>(0)?,
                cx.input::<f32>(1)?,
                cx.opt_input::<f32>(2)?,
            );
            fully_connected_f32(&p, act, x, w, b, cx.output::<f32>(0)?);
        }
        FcNumerics::Quant {
            dtype: DType::U8,
            q,
            scale,
        } => {
            let (x, w, b) = (
                cx.input::<u8>(0)?,
                cx.input::<u8>(1)?,
                cx.opt_input::<i32>(2)?,
            );
            fully_connected_q(&p, &q, &scale, x, w, b, cx.output::<u8>(0)?);
        }
        FcNumerics::Quant { q, scale, .. } => {
            let (x, w, b) = (
                cx.input::<i8>(0)?,
                cx.input::<i8>(1)?,
                cx.opt_input::<i32>(2)?,
            );
            fully_connected_q(&p, &q, &scale, x, w, b, cx.output::<i8>(0)?);
        }
    }
    Ok(())
}

/// Lowers FullyConnected (transitional: evaluated from the graph).
pub fn lower_fully_connected(cx: &mut crate::lower::LowerCx<'_>, _a: &crate::ir::FullyConnectedAttrs) -> Result<Vec<crate::lower::Step>> {
    crate::lower::graph_step(cx)
}


/// The `fully_connected` family's kernels, each with its parameters (filled in as the family is lowered).
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

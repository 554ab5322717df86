//! FULLY_CONNECTED: shape rule and reference evaluation (TFLite's `fully_connected.cc`).
//!
//! The input is flattened to `[batches, depth]` with `depth = weights.shape[1]` and
//! `batches = num_elements / depth`; the output is `[batches, units]`, or with `keep_num_dims`
//! the input's shape with the last dimension replaced by `units`.
//!
//! Quantized numerics follow LiteRT's *reference* kernels, which rescale in double precision
//! (see `mvcc_kernels::kernels::fully_connected`): the effective scale of unit `n` is
//! `f64(S_in) · f64(S_w[n]) / f64(S_out)` for int8 per-channel weights, and the same with the one
//! weight scale for int8 per-tensor and uint8 weights. Per-channel weights are symmetric: their
//! zero point is not read. Only NONE, RELU, RELU_N1_TO_1 and RELU6 may be fused (TFLite rejects
//! the others for non-hybrid kernels). Shuffled weights are rejected by the importer; float
//! inputs with quantized weights (hybrid, dynamic-range quantization) are unsupported.

use mvcc_kernels::kernels::common::{ActF32, Quantized};
use mvcc_kernels::kernels::conv_2d::blocked_len;
use mvcc_kernels::kernels::fully_connected::{
    fully_connected_f32, fully_connected_f32_packed, fully_connected_q, fully_connected_q_packed,
    FullyConnectedParams, FullyConnectedQuant,
};

use super::conv_2d::{pack_weights, Operands, Weights};
use super::{EvalCx, InferCx, Lowered};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{Activation, DType, FullyConnectedAttrs, Shape};
use crate::lower::{LowerCx, Step};
use crate::quant::{act_f32, act_q};
use crate::rust::lit::{Lit, ToLit};
use crate::rust::step::{Slice, StepCx};

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

/// FULLY_CONNECTED's kernel: parameters computed once, weights packed and bias folded when
/// constant (see [`Weights`]).
///
/// # Errors
/// As [`fully_connected_params`].
pub fn plan_fully_connected(cx: &InferCx<'_>, a: &FullyConnectedAttrs) -> Result<Lowered<Kernel>> {
    let (params, num, _) = fully_connected_params(cx, a)?;
    let (dtype, offsets) = match &num {
        FcNumerics::F32(_) => (DType::F32, (0, 0)),
        FcNumerics::Quant { dtype, q, .. } => (*dtype, (q.input_offset, q.filter_offset)),
    };
    let packed = pack_weights(cx, dtype, params.units, params.depth, false, offsets);
    let weights = if packed.is_some() {
        Weights::Packed
    } else {
        Weights::Model
    };
    let kernel = match num {
        FcNumerics::F32(act) => Kernel::F32 {
            params,
            act,
            weights,
        },
        FcNumerics::Quant { dtype, q, scale } => Kernel::Q {
            dtype,
            params,
            q,
            scale,
            weights,
        },
    };
    let mut l = Lowered::new(kernel);
    l.packed = packed.unwrap_or_default();
    Ok(l)
}

/// Runs FULLY_CONNECTED with the reference kernels (the lowered kernel on the op's values).
pub fn eval_fully_connected(cx: &mut EvalCx<'_>, a: &FullyConnectedAttrs) -> Result<()> {
    plan_fully_connected(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// Lowers FULLY_CONNECTED to one step.
///
/// # Errors
/// As [`fully_connected_params`].
pub fn lower_fully_connected(cx: &mut LowerCx<'_>, a: &FullyConnectedAttrs) -> Result<Vec<Step>> {
    let l = plan_fully_connected(&cx.icx, a)?;
    Ok(vec![l.into_step(cx, crate::lower::Kernel::FullyConnected)?])
}

/// The `fully_connected` family's kernels. Operands `[input, weights, bias]`; with
/// [`Weights::Packed`] the weights are `[ceil(units/16)][depth][16]` and the bias is always
/// present (quantized: with the zero-point corrections folded in).
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// float32.
    F32 {
        /// Shapes.
        params: FullyConnectedParams,
        /// Fused activation clamp.
        act: ActF32,
        /// Weight form.
        weights: Weights,
    },
    /// int8 (per-tensor or per-channel weights) or uint8.
    Q {
        /// `I8` or `U8`: the element type of input, weights and output.
        dtype: DType,
        /// Shapes.
        params: FullyConnectedParams,
        /// Offsets and clamp.
        q: FullyConnectedQuant,
        /// `S_in · S_w[n] / S_out` per unit.
        scale: Vec<f64>,
        /// Weight form.
        weights: Weights,
    },
}

/// Input, weights and bias, checked against the kernel's sizes.
fn operands<'a, T: bytemuck::Pod, B: bytemuck::Pod>(
    io: &StepIo<'a>,
    p: &FullyConnectedParams,
    weights: Weights,
) -> Result<Operands<'a, T, T, B>> {
    let x = io.input::<T>(0)?;
    let w = io.input::<T>(1)?;
    let (w_len, b) = match weights {
        Weights::Packed => (blocked_len(p.units, p.depth), Some(io.input::<B>(2)?)),
        Weights::Model => (p.units * p.depth, io.opt_input::<B>(2)?),
    };
    let bias_ok = b.is_none_or(|b| b.len() == p.units);
    if x.len() != p.batches * p.depth || w.len() != w_len || !bias_ok {
        return Err(io.err("operand sizes do not match the kernel"));
    }
    Ok((x, w, b))
}

fn exec_q<T: Quantized + bytemuck::Pod>(
    io: &mut StepIo<'_>,
    p: &FullyConnectedParams,
    q: &FullyConnectedQuant,
    scale: &[f64],
    weights: Weights,
) -> Result<()> {
    let (x, w, b) = operands::<T, i32>(io, p, weights)?;
    if io.output::<T>(0)?.len() != p.batches * p.units || scale.len() != p.units {
        return Err(io.err("the output size does not match the kernel"));
    }
    let out = io.output::<T>(0)?;
    match (weights, b) {
        (Weights::Packed, Some(b)) => fully_connected_q_packed(p, q, scale, x, w, b, out),
        _ => fully_connected_q(p, q, scale, x, w, b, out),
    }
    Ok(())
}

impl Kernel {
    /// A short name for listings (`_unpacked` for weights in the model's form).
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::F32 { weights, .. } => match weights {
                Weights::Packed => "fully_connected_f32",
                Weights::Model => "fully_connected_f32_unpacked",
            },
            Kernel::Q { dtype, weights, .. } => match (*dtype == DType::U8, weights) {
                (false, Weights::Packed) => "fully_connected_i8",
                (false, Weights::Model) => "fully_connected_i8_unpacked",
                (true, Weights::Packed) => "fully_connected_u8",
                (true, Weights::Model) => "fully_connected_u8_unpacked",
            },
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::F32 {
                params,
                act,
                weights,
            } => {
                let (x, w, b) = operands::<f32, f32>(io, params, *weights)?;
                let out = io.output::<f32>(0)?;
                if out.len() != params.batches * params.units {
                    return Err(io.err("the output size does not match the kernel"));
                }
                match (weights, b) {
                    (Weights::Packed, Some(b)) => {
                        fully_connected_f32_packed(params, *act, x, w, b, out)
                    }
                    _ => fully_connected_f32(params, *act, x, w, b, out),
                }
                Ok(())
            }
            Kernel::Q {
                dtype,
                params,
                q,
                scale,
                weights,
            } => match dtype {
                DType::U8 => exec_q::<u8>(io, params, q, scale, *weights),
                _ => exec_q::<i8>(io, params, q, scale, *weights),
            },
        }
    }
}

/// An `f64` written as a literal of generated code (the effective scales; `ToLit` has no `f64`
/// impl of its own).
#[derive(Clone, Copy, Debug)]
struct F64(f64);

impl ToLit for F64 {
    fn ty() -> String {
        "f64".into()
    }
    fn to_lit(&self) -> Lit {
        let v = self.0;
        Lit::Atom(if v.is_finite() {
            // The shortest decimal that reads back as the same f64, with a `.` or an exponent.
            format!("{v:?}")
        } else if v == f64::INFINITY {
            "f64::INFINITY".into()
        } else if v == f64::NEG_INFINITY {
            "f64::NEG_INFINITY".into()
        } else {
            format!("f64::from_bits({:#018x})", v.to_bits())
        })
    }
}

/// Input, weights and bias as `(t, b_ty)`, checked like [`operands`].
fn rust_operands(
    cx: &mut StepCx<'_>,
    (t, b_ty): (&str, &str),
    p: &FullyConnectedParams,
    weights: Weights,
) -> Result<(Slice, Slice, Option<Slice>)> {
    let x = cx.input(0, t)?;
    let w = cx.input(1, t)?;
    let (w_len, b) = match weights {
        Weights::Packed => (blocked_len(p.units, p.depth), Some(cx.input(2, b_ty)?)),
        Weights::Model => (p.units * p.depth, cx.opt_input(2, b_ty)?),
    };
    let bias_ok = b.as_ref().is_none_or(|b| b.len == p.units);
    if x.len != p.batches * p.depth || w.len != w_len || !bias_ok {
        return Err(cx.err("operand sizes do not match the kernel"));
    }
    Ok((x, w, b))
}

impl Kernel {
    /// Writes the step's Rust code: the same kernel [`Kernel::exec`] runs, with every parameter a
    /// `static`.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        let (p, mut args, (x, w, b), t, name) = match self {
            Kernel::F32 {
                params,
                act,
                weights,
            } => {
                let ops = rust_operands(cx, ("f32", "f32"), params, *weights)?;
                let a = cx.param("act", act);
                (params, vec![a], ops, "f32", "f32")
            }
            Kernel::Q {
                dtype,
                params,
                q,
                scale,
                weights,
            } => {
                let t = if *dtype == DType::U8 { "u8" } else { "i8" };
                let ops = rust_operands(cx, (t, "i32"), params, *weights)?;
                if scale.len() != params.units {
                    return Err(cx.err("one scale per unit is needed"));
                }
                let qn = cx.param("quant", q);
                let scales: Vec<F64> = scale.iter().copied().map(F64).collect();
                let sn = cx.param_array("scale", &scales);
                (
                    params,
                    vec![format!("&{qn}"), format!("&{sn}")],
                    ops,
                    t,
                    "q",
                )
            }
        };
        let out = cx.output(0, t)?;
        if out.len != p.batches * p.units {
            return Err(cx.err("the output size does not match the kernel"));
        }
        let pn = cx.param("params", p);
        args.insert(0, format!("&{pn}"));
        args.extend([x.expr, w.expr]);
        let packed = match self {
            Kernel::F32 { weights, .. } | Kernel::Q { weights, .. } => *weights == Weights::Packed,
        };
        let path = match b {
            Some(b) if packed => {
                args.push(b.expr);
                format!("k::fully_connected::fully_connected_{name}_packed")
            }
            b => {
                args.push(b.map_or_else(|| "None".into(), |b| format!("Some({b})")));
                format!("k::fully_connected::fully_connected_{name}")
            }
        };
        args.push(out.expr);
        cx.call(&path, &args);
        Ok(())
    }
}

#[cfg(feature = "cranelift")]
#[path = "fully_connected_clif.rs"]
pub(crate) mod clif;

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code (see [`crate::clif`] and `fully_connected_clif.rs`).
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        match self {
            Kernel::F32 {
                params,
                act,
                weights,
            } => clif::fully_connected_f32(cx, params, *act, *weights),
            Kernel::Q {
                dtype,
                params,
                q,
                scale,
                weights,
            } => clif::fully_connected_q(cx, params, *dtype, q, scale, *weights),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Op, Quant};
    use crate::ops::conv_2d::tests::{packed_matches_model, tensor};

    #[test]
    fn packed_fully_connected_matches_the_model_form() {
        let attrs = FullyConnectedAttrs {
            act: Activation::Relu,
            keep_num_dims: false,
        };
        // 19 units: one full block of 16 and a padded one.
        for (seed, dtype, per_channel) in [
            (7, DType::I8, true),
            (8, DType::I8, false),
            (9, DType::U8, false),
            (10, DType::F32, false),
        ] {
            let (qx, qw, qy) = match dtype {
                DType::F32 => (None, None, None),
                DType::U8 => (
                    Some(Quant::per_tensor(0.25, 140)),
                    Some(Quant::per_tensor(0.01, 99)),
                    Some(Quant::per_tensor(0.5, 20)),
                ),
                _ => (
                    Some(Quant::per_tensor(0.25, -100)),
                    Some(if per_channel {
                        Quant {
                            scale: (0..19).map(|c| 0.002 * (c + 1) as f32).collect(),
                            zero_point: vec![0; 19],
                            axis: 0,
                        }
                    } else {
                        Quant::per_tensor(0.01, 0)
                    }),
                    Some(Quant::per_tensor(0.5, 3)),
                ),
            };
            let bias_dtype = if dtype == DType::F32 {
                DType::F32
            } else {
                DType::I32
            };
            for bias in [true, false] {
                let mut ts = vec![
                    tensor("x", dtype, &[3, 37], qx.clone(), false),
                    tensor("w", dtype, &[19, 37], qw.clone(), false),
                ];
                if bias {
                    ts.push(tensor("b", bias_dtype, &[19], None, false));
                }
                ts.push(tensor("y", dtype, &[3, 19], qy.clone(), false));
                let slots: &[usize] = if bias { &[1, 2] } else { &[1] };
                let (packed, model) = packed_matches_model(
                    seed,
                    Op::FullyConnected(attrs.clone()),
                    &ts,
                    slots,
                    |cx| plan_fully_connected(cx, &attrs),
                    Kernel::exec,
                );
                assert!(!packed.name().ends_with("unpacked"), "{}", packed.name());
                assert!(model.name().ends_with("unpacked"), "{}", model.name());
            }
        }
    }
}

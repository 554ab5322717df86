//! The conversion state of the reference executor: operands read as tensors and scalars, new
//! tensors and ops, and the layout and type bridges the operations share.

use std::borrow::Cow;
use std::collections::BTreeSet;

use super::checked_byte_len;
use crate::error::{Error, Location, Problem, Result, UnsupportedOp};
use crate::ir::{
    Activation, DType, Graph, NoAttrs, Op, OpNode, Padding, Quant, Shape, Tensor, TensorId,
};
use crate::nnapi::desc::{fuse, padding, Description, Lifetime, Operand, OperandType};
use crate::tflite::{MAX_ACTIVATION_BYTES, MAX_TENSOR_BYTES};

/// The fused activation of a `FuseCode`.
fn activation(code: i32) -> Option<Activation> {
    Some(match code {
        fuse::NONE => Activation::None,
        fuse::RELU => Activation::Relu,
        fuse::RELU1 => Activation::ReluN1To1,
        fuse::RELU6 => Activation::Relu6,
        _ => return None,
    })
}

/// `[0, 2, 3, 1]`: NCHW → NHWC.
const TO_NHWC: [i32; 4] = [0, 2, 3, 1];
/// `[0, 3, 1, 2]`: NHWC → NCHW.
const TO_NCHW: [i32; 4] = [0, 3, 1, 2];

/// The conversion state.
pub(super) struct Cx<'a> {
    /// The model.
    pub(super) desc: &'a Description,
    /// The weight blob its `Weight` constants refer to.
    pub(super) weights: &'a [u8],
    /// The graph being built.
    pub(super) g: Graph,
    /// Tensor of each operand, once created.
    pub(super) ids: Vec<Option<TensorId>>,
    /// Tensors whose shape the next op's shape rule sets.
    pub(super) pending: Vec<bool>,
    /// Tensor names used so far (names are unique).
    pub(super) names: BTreeSet<String>,
    /// Bytes of the results so far (bounded by [`MAX_ACTIVATION_BYTES`]).
    pub(super) activation_bytes: usize,
    /// The operation being converted.
    pub(super) op: usize,
    /// Whether an operation is being converted (else model inputs are being created).
    pub(super) in_op: bool,
}

impl<'a> Cx<'a> {
    pub(super) fn new(desc: &'a Description, weights: &'a [u8]) -> Cx<'a> {
        Cx {
            desc,
            weights,
            g: Graph::new(),
            ids: vec![None; desc.operands.len()],
            pending: Vec::new(),
            names: BTreeSet::new(),
            activation_bytes: 0,
            op: 0,
            in_op: false,
        }
    }

    // ----- errors -----

    pub(super) fn op_name(&self) -> &'static str {
        self.desc
            .operations
            .get(self.op)
            .map_or("?", |o| o.ty.name())
    }

    /// The operation being converted, or the whole model while model inputs are created.
    pub(super) fn loc(&self) -> Location {
        if self.in_op {
            Location::operator(Some(self.op as u32), self.op_name())
        } else {
            Location::model()
        }
    }

    pub(super) fn err(&self, msg: impl Into<String>) -> Error {
        Error::invalid(self.loc(), msg)
    }

    pub(super) fn unsupported(&self, reason: impl Into<String>) -> Error {
        let (name, operators) = if self.in_op {
            (self.op_name().to_string(), vec![self.op as u32])
        } else {
            ("model input".to_string(), Vec::new())
        };
        Error::one(Problem::Unsupported(vec![UnsupportedOp {
            name,
            version: 1,
            operators,
            reason: Some(reason.into()),
        }]))
    }

    // ----- operands -----

    pub(super) fn operand(&self, i: u32) -> Result<&'a Operand> {
        let desc = self.desc;
        desc.operand(i)
            .ok_or_else(|| self.err(format!("operand {i} does not exist")))
    }

    /// The operation's input operand at `slot`.
    pub(super) fn input_index(&self, slot: usize) -> Result<u32> {
        self.desc
            .operations
            .get(self.op)
            .and_then(|o| o.inputs.get(slot).copied())
            .ok_or_else(|| self.err(format!("input {slot} is missing")))
    }

    pub(super) fn input_operand(&self, slot: usize) -> Result<&'a Operand> {
        self.operand(self.input_index(slot)?)
    }

    pub(super) fn n_inputs(&self) -> usize {
        self.desc
            .operations
            .get(self.op)
            .map_or(0, |o| o.inputs.len())
    }

    pub(super) fn input_type(&self, slot: usize) -> Option<OperandType> {
        self.input_operand(slot).ok().map(|o| o.ty)
    }

    pub(super) fn scalar_bytes(&self, slot: usize, ty: OperandType) -> Result<Cow<'a, [u8]>> {
        let o = self.input_operand(slot)?;
        if o.ty != ty {
            return Err(self.err(format!(
                "input {slot} (\"{}\") is {}, expected a scalar of type {ty}",
                o.name, o.ty
            )));
        }
        let weights = self.weights;
        match o.const_bytes(weights) {
            Some(b) if b.len() == ty.element_size() => Ok(b),
            Some(b) => Err(self.err(format!(
                "input {slot} (\"{}\") holds {} bytes, a {ty} needs {}",
                o.name,
                b.len(),
                ty.element_size()
            ))),
            None => Err(self.unsupported(format!(
                "input {slot} (\"{}\") must be a constant (mvcc compiles parameters in)",
                o.name
            ))),
        }
    }

    pub(super) fn int(&self, slot: usize) -> Result<i32> {
        let b = self.scalar_bytes(slot, OperandType::Int32)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(super) fn float(&self, slot: usize) -> Result<f32> {
        let b = self.scalar_bytes(slot, OperandType::Float32)?;
        Ok(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(super) fn boolean(&self, slot: usize) -> Result<bool> {
        Ok(self.scalar_bytes(slot, OperandType::Bool)?[0] != 0)
    }

    /// An optional `BOOL` at `slot` (false when absent or omitted).
    pub(super) fn opt_bool(&self, slot: usize) -> Result<bool> {
        if slot >= self.n_inputs() || self.is_omitted(slot)? {
            return Ok(false);
        }
        self.boolean(slot)
    }

    pub(super) fn is_omitted(&self, slot: usize) -> Result<bool> {
        Ok(matches!(
            self.input_operand(slot)?.lifetime,
            Lifetime::NoValue
        ))
    }

    /// A positive `INT32` (stride, filter size, dilation, block size).
    pub(super) fn positive(&self, slot: usize, what: &str) -> Result<usize> {
        let v = self.int(slot)?;
        usize::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| self.err(format!("{what} (input {slot}) must be positive, got {v}")))
    }

    /// A non-negative `INT32` (explicit padding).
    pub(super) fn non_negative(&self, slot: usize, what: &str) -> Result<usize> {
        let v = self.int(slot)?;
        usize::try_from(v).map_err(|_| {
            self.err(format!(
                "{what} (input {slot}) must not be negative, got {v}"
            ))
        })
    }

    pub(super) fn act(&self, slot: usize) -> Result<Activation> {
        let code = self.int(slot)?;
        activation(code).ok_or_else(|| self.err(format!("input {slot}: {code} is not a FuseCode")))
    }

    pub(super) fn padding_code(&self, slot: usize) -> Result<Padding> {
        match self.int(slot)? {
            padding::SAME => Ok(Padding::Same),
            padding::VALID => Ok(Padding::Valid),
            c => Err(self.err(format!("input {slot}: {c} is not a PaddingCode"))),
        }
    }

    // ----- tensors -----

    pub(super) fn unique_name(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut n = 1;
        while self.names.contains(&name) {
            n += 1;
            name = format!("{base}#{n}");
        }
        self.names.insert(name.clone());
        name
    }

    pub(super) fn push_tensor(&mut self, t: Tensor, pending: bool) -> TensorId {
        let id = self.g.add_tensor(t);
        self.pending.push(pending);
        id
    }

    /// The IR type and quantization of an operand.
    pub(super) fn tensor_type(&self, i: u32, o: &Operand) -> Result<(DType, Option<Quant>)> {
        let loc = || self.loc().with_tensor(Some(i), &o.name);
        let per_tensor = |zp: i32, lo: i32, hi: i32| -> Result<Option<Quant>> {
            if !(o.scale > 0.0 && o.scale.is_finite()) {
                return Err(Error::invalid(
                    loc(),
                    format!("{} operand needs a positive scale, has {}", o.ty, o.scale),
                ));
            }
            if !(lo..=hi).contains(&zp) {
                return Err(Error::invalid(
                    loc(),
                    format!("zero point {zp} is out of range for {}", o.ty),
                ));
            }
            Ok(Some(Quant::per_tensor(o.scale, i64::from(zp))))
        };
        Ok(match o.ty {
            OperandType::TensorFloat32 => (DType::F32, None),
            OperandType::TensorInt32 => (DType::I32, None),
            OperandType::TensorBool8 => (DType::Bool, None),
            OperandType::TensorQuant8Asymm => (DType::U8, per_tensor(o.zero_point, 0, 255)?),
            OperandType::TensorQuant8AsymmSigned => {
                (DType::I8, per_tensor(o.zero_point, -128, 127)?)
            }
            OperandType::TensorQuant8Symm => (DType::I8, per_tensor(o.zero_point, 0, 0)?),
            OperandType::TensorQuant8SymmPerChannel => {
                let q = o.channel_quant.as_ref().ok_or_else(|| {
                    Error::invalid(loc(), "a per-channel operand has no channel parameters")
                })?;
                let axis = q.channel_dim as usize;
                if o.dims.get(axis).map(|&d| d as usize) != Some(q.scales.len()) {
                    return Err(Error::invalid(
                        loc(),
                        format!(
                            "{} scales for dimension {axis} of {:?}",
                            q.scales.len(),
                            o.dims
                        ),
                    ));
                }
                if q.scales.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
                    return Err(Error::invalid(loc(), "a channel scale is not positive"));
                }
                let quant = Quant {
                    scale: q.scales.clone(),
                    zero_point: vec![0; q.scales.len()],
                    axis,
                };
                (DType::I8, Some(quant))
            }
            t if t.is_scalar() => {
                return Err(Error::invalid(
                    loc(),
                    format!("a {t} scalar is used where a tensor is expected"),
                ))
            }
            t => return Err(self.unsupported(format!("operand {i} (\"{}\") has type {t}", o.name))),
        })
    }

    /// Creates operand `i`'s tensor (model inputs, constants, and results when written).
    pub(super) fn create(&mut self, i: u32) -> Result<TensorId> {
        let o = self.operand(i)?;
        let (dtype, quant) = self.tensor_type(i, o)?;
        let data = match &o.lifetime {
            Lifetime::Inline(_) | Lifetime::Weight(_) | Lifetime::Blocked(_) => {
                let b = o.const_bytes(self.weights).ok_or_else(|| {
                    self.err(format!(
                        "constant operand {i} (\"{}\") lies outside the weights",
                        o.name
                    ))
                })?;
                if Some(b.len()) != checked_byte_len(o) {
                    return Err(self.err(format!(
                        "constant operand {i} (\"{}\") holds {} bytes, {} {:?} needs {}",
                        o.name,
                        b.len(),
                        o.ty,
                        o.dims,
                        o.byte_len()
                    )));
                }
                Some(b.to_vec())
            }
            _ => None,
        };
        if checked_byte_len(o).is_none_or(|b| b > MAX_TENSOR_BYTES) {
            return Err(self.err(format!(
                "operand {i} (\"{}\") of {:?} is too large (over {MAX_TENSOR_BYTES} bytes)",
                o.name, o.dims
            )));
        }
        let unknown = o.dims.is_empty() || o.dims.contains(&0);
        if unknown && data.is_some() {
            return Err(self.err(format!(
                "constant operand {i} (\"{}\") has unknown dimensions {:?}",
                o.name, o.dims
            )));
        }
        let base = if o.name.is_empty() {
            format!("operand{i}")
        } else {
            o.name.clone()
        };
        let name = self.unique_name(&base);
        let id = self.push_tensor(
            Tensor {
                name,
                dtype,
                shape: o.dims.iter().map(|&d| d as usize).collect(),
                quant,
                data,
                tflite_index: Some(i),
            },
            unknown,
        );
        if let Some(slot) = self.ids.get_mut(i as usize) {
            *slot = Some(id);
        }
        Ok(id)
    }

    /// The tensor read at input `slot` (which must be available: a model input, a constant or
    /// an earlier result).
    pub(super) fn read(&mut self, slot: usize) -> Result<TensorId> {
        let i = self.input_index(slot)?;
        if let Some(Some(id)) = self.ids.get(i as usize) {
            return Ok(*id);
        }
        let o = self.operand(i)?;
        match o.lifetime {
            Lifetime::Inline(_) | Lifetime::Weight(_) | Lifetime::Blocked(_) => self.create(i),
            Lifetime::NoValue => Err(self.err(format!(
                "input {slot} (operand {i}, \"{}\") is omitted but required",
                o.name
            ))),
            _ => Err(self.err(format!(
                "input {slot} (operand {i}, \"{}\") is read before any operation writes it",
                o.name
            ))),
        }
    }

    /// The tensor read at an optional input `slot` (`None` when omitted).
    pub(super) fn read_opt(&mut self, slot: usize) -> Result<Option<TensorId>> {
        if slot >= self.n_inputs() || self.is_omitted(slot)? {
            return Ok(None);
        }
        self.read(slot).map(Some)
    }

    /// The tensor of output `slot`, created now (an operand is written once).
    pub(super) fn write(&mut self, slot: usize) -> Result<TensorId> {
        let i = self
            .desc
            .operations
            .get(self.op)
            .and_then(|o| o.outputs.get(slot).copied())
            .ok_or_else(|| self.err(format!("output {slot} is missing")))?;
        let o = self.operand(i)?;
        if !matches!(o.lifetime, Lifetime::Temporary | Lifetime::Output) {
            return Err(self.err(format!(
                "output {slot} (operand {i}, \"{}\") is not a temporary or a model output",
                o.name
            )));
        }
        if let Some(Some(_)) = self.ids.get(i as usize) {
            return Err(self.err(format!(
                "output {slot} (operand {i}, \"{}\") is written twice",
                o.name
            )));
        }
        self.create(i)
    }

    /// A new intermediate tensor like `like` (type and quantization), its shape set by the op
    /// that writes it.
    pub(super) fn temp_like(&mut self, like: TensorId, suffix: &str) -> TensorId {
        let t = self.g.tensor(like);
        let (dtype, quant) = (t.dtype, t.quant.clone());
        self.temp(like, suffix, dtype, quant)
    }

    pub(super) fn temp(
        &mut self,
        base: TensorId,
        suffix: &str,
        dtype: DType,
        quant: Option<Quant>,
    ) -> TensorId {
        let name = format!("{}.{suffix}", self.g.tensor(base).name);
        let name = self.unique_name(&name);
        self.push_tensor(
            Tensor {
                name,
                dtype,
                shape: Vec::new(),
                quant,
                data: None,
                tflite_index: None,
            },
            true,
        )
    }

    pub(super) fn const_i32(&mut self, base: &str, shape: Shape, vals: &[i32]) -> TensorId {
        let name = self.unique_name(base);
        let data = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_tensor(
            Tensor {
                name,
                dtype: DType::I32,
                shape,
                quant: None,
                data: Some(data),
                tflite_index: None,
            },
            false,
        )
    }

    /// Adds an op, then sets the shapes of its pending results from its shape rule, or checks
    /// the declared ones against it.
    pub(super) fn add(
        &mut self,
        op: Op,
        inputs: Vec<Option<TensorId>>,
        outputs: Vec<TensorId>,
    ) -> Result<()> {
        let id = self.g.add_op(OpNode {
            op,
            inputs,
            outputs: outputs.clone(),
            tflite_index: Some(self.op as u32),
            version: 1,
        });
        let shapes = crate::ops::infer(&self.g, id)?;
        if shapes.len() != outputs.len() {
            return Err(self.err(format!(
                "the op computes {} results, {} were given",
                shapes.len(),
                outputs.len()
            )));
        }
        for (&t, shape) in outputs.iter().zip(shapes) {
            let tt = self.g.tensor(t);
            let bytes = shape
                .iter()
                .try_fold(tt.dtype.size(), |a, &d| a.checked_mul(d))
                .filter(|&b| b <= MAX_TENSOR_BYTES && b > 0);
            self.activation_bytes = self.activation_bytes.saturating_add(bytes.unwrap_or(0));
            if bytes.is_none() || self.activation_bytes > MAX_ACTIVATION_BYTES {
                return Err(Error::invalid(
                    self.loc().with_tensor(tt.tflite_index, &tt.name),
                    format!("the result shape {shape:?} is empty or too large"),
                ));
            }
            if self.pending.get(t.index()).copied().unwrap_or(false) {
                self.g.tensor_mut(t).shape = shape;
                self.pending[t.index()] = false;
            } else if self.g.tensor(t).shape != shape {
                let tt = self.g.tensor(t);
                return Err(Error::invalid(
                    self.loc().with_tensor(tt.tflite_index, &tt.name),
                    format!(
                        "the output is declared {:?}, the operation computes {shape:?}",
                        tt.shape
                    ),
                ));
            }
        }
        Ok(())
    }

    /// `op(inputs) → temp` (like `like`), returning the temp.
    pub(super) fn add_temp(
        &mut self,
        op: Op,
        inputs: Vec<Option<TensorId>>,
        like: TensorId,
        suffix: &str,
    ) -> Result<TensorId> {
        let t = self.temp_like(like, suffix);
        self.add(op, inputs, vec![t])?;
        Ok(t)
    }

    pub(super) fn transpose(
        &mut self,
        x: TensorId,
        perm: &[i32],
        out: Option<TensorId>,
    ) -> Result<TensorId> {
        let name = format!("{}.perm", self.g.tensor(x).name);
        let p = self.const_i32(&name, vec![perm.len()], perm);
        match out {
            Some(o) => {
                self.add(Op::Transpose(NoAttrs), vec![Some(x), Some(p)], vec![o])?;
                Ok(o)
            }
            None => self.add_temp(Op::Transpose(NoAttrs), vec![Some(x), Some(p)], x, "t"),
        }
    }

    /// The input in NHWC (a transposed copy for NCHW).
    pub(super) fn nhwc_in(&mut self, x: TensorId, nchw: bool) -> Result<TensorId> {
        if nchw {
            self.transpose(x, &TO_NHWC, None)
        } else {
            Ok(x)
        }
    }

    /// Where the NHWC op writes its result: `out` itself, or a temp transposed into `out` by
    /// [`Cx::nhwc_out_done`].
    pub(super) fn nhwc_out(&mut self, out: TensorId, nchw: bool) -> TensorId {
        if nchw {
            self.temp_like(out, "nhwc")
        } else {
            out
        }
    }

    pub(super) fn nhwc_out_done(&mut self, nhwc: TensorId, out: TensorId) -> Result<()> {
        if nhwc != out {
            self.transpose(nhwc, &TO_NCHW, Some(out))?;
        }
        Ok(())
    }

    /// A QUANTIZE of `x` to `dtype` with quantization `quant` (a new temp).
    pub(super) fn requantize(
        &mut self,
        x: TensorId,
        dtype: DType,
        quant: Quant,
    ) -> Result<TensorId> {
        let t = self.temp(x, dtype.name(), dtype, Some(quant));
        self.add(Op::Quantize(NoAttrs), vec![Some(x)], vec![t])?;
        Ok(t)
    }

    /// `x` moved to the other 8-bit type by ±128 on values and zero points (exact). Constants
    /// are converted here; other tensors through a QUANTIZE.
    pub(super) fn flip_sign(&mut self, x: TensorId, to: DType) -> Result<TensorId> {
        let t = self.g.tensor(x);
        let shift = if to == DType::U8 { 128 } else { -128 };
        let quant = match t.per_tensor_quant() {
            Some((s, z)) => Quant::per_tensor(s, z + shift),
            None => {
                return Err(self.err(format!(
                    "tensor \"{}\" needs per-tensor quantization here",
                    t.name
                )))
            }
        };
        if let Some(d) = &t.data {
            let data = d.iter().map(|b| b ^ 0x80).collect();
            let name = format!("{}.{}", t.name, to.name());
            let shape = t.shape.clone();
            let name = self.unique_name(&name);
            return Ok(self.push_tensor(
                Tensor {
                    name,
                    dtype: to,
                    shape,
                    quant: Some(quant),
                    data: Some(data),
                    tflite_index: None,
                },
                false,
            ));
        }
        self.requantize(x, to, quant)
    }

    pub(super) fn arity(&self, min: usize, max: usize) -> Result<()> {
        let n = self.n_inputs();
        if n < min || n > max {
            let want = if min == max {
                min.to_string()
            } else {
                format!("{min} to {max}")
            };
            return Err(self.err(format!("expected {want} inputs, got {n}")));
        }
        Ok(())
    }

    /// `t`'s per-tensor quantization with the zero point moved by `shift`.
    pub(super) fn flipped_quant(&self, t: TensorId, shift: i64) -> Result<Quant> {
        let tt = self.g.tensor(t);
        tt.per_tensor_quant()
            .map(|(s, z)| Quant::per_tensor(s, z + shift))
            .ok_or_else(|| {
                self.err(format!(
                    "tensor \"{}\" needs per-tensor quantization",
                    tt.name
                ))
            })
    }

    /// The values of a constant `TENSOR_INT32` input.
    pub(super) fn const_ints(&mut self, slot: usize) -> Result<(TensorId, Vec<i64>)> {
        let t = self.read(slot)?;
        let tt = self.g.tensor(t);
        if tt.dtype != DType::I32 {
            return Err(self.err(format!("input {slot} must be a TENSOR_INT32")));
        }
        match tt.const_ints() {
            Some(v) => Ok((t, v)),
            None => Err(self.unsupported(format!(
                "input {slot} (\"{}\") must be a constant (mvcc compiles static shapes)",
                tt.name
            ))),
        }
    }
}

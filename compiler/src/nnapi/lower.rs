//! Lowering graph ops to NNAPI operations, with the support check: an op either becomes NNAPI
//! operations in a [`Builder`] or stays on the CPU with the reason.
//!
//! Constants keep TFLite's layout, which is NNAPI's: CONV_2D filters `[Cout, h, w, Cin]`,
//! DEPTHWISE_CONV_2D filters `[1, h, w, Cout]`, FULLY_CONNECTED weights `[units, input_size]`.
//! A constant the CPU code already holds is not copied ([`cpu_copies`]): the operand refers to the
//! same bytes, or for a filter packed in 16-channel blocks (a pure reordering of the same values)
//! to that copy ([`Lifetime::Blocked`]), which the runtime unpacks when it builds the NNAPI model.
//! Other constants are appended to the program's weight blob as the graph holds them (the CPU
//! code's quantized biases have zero points folded in, which NNAPI must not see). Quantized
//! biases keep NNAPI's rule `bias_scale = input_scale × filter_scale` (TFLite's too); a missing
//! bias becomes a zero bias (NNAPI requires one).

use super::desc::{
    fuse, padding, Blocked, BlockedLayout, ChannelQuant, Description, Lifetime, Operand,
    OperandType, Operation, OperationType,
};
use crate::ir::{Activation, DType, Graph, Op, OpId, Padding, TensorId};
use crate::lower::{Lowered, WeightBlob, WeightRange};

/// Constants of at most this many bytes are inline operands (NNAPI copies them at once:
/// `ANEURALNETWORKS_MAX_SIZE_OF_IMMEDIATELY_COPIED_VALUES`).
const MAX_INLINE: usize = 128;

/// For each graph tensor, the CPU program's copy of it that an NNAPI operand can refer to
/// instead of a second copy: the same bytes read by one of its op's steps ([`Lifetime::Weight`]:
/// float biases, constants kernels read as they are), or for a CONV_2D, DEPTHWISE_CONV_2D or
/// FULLY_CONNECTED filter the steps' blocked copy ([`Lifetime::Blocked`]). Every match is checked
/// byte for byte (blocked copies unpacked). Constants small enough to be inline have none.
pub fn cpu_copies(g: &Graph, lowered: &Lowered) -> Vec<Option<Lifetime>> {
    let weights = &lowered.program.weights.bytes;
    let mut found: Vec<Option<Lifetime>> = vec![None; g.tensors.len()];
    for (op, steps) in &lowered.ranges {
        let node = g.op(*op);
        let filter_order = match node.op {
            Op::Conv2d(_) | Op::FullyConnected(_) => Some(false),
            Op::DepthwiseConv2d(_) => Some(true),
            _ => None,
        };
        let ranges: Vec<WeightRange> = lowered.program.steps[steps.clone()]
            .iter()
            .flat_map(|s| s.inputs.iter().flatten())
            .filter_map(|o| match *o {
                crate::lower::Operand::Weight(r) => Some(r),
                crate::lower::Operand::Value(_) => None,
            })
            .collect();
        for (slot, t) in node.inputs.iter().enumerate() {
            let Some(t) = *t else { continue };
            let tensor = g.tensor(t);
            let Some(data) = &tensor.data else { continue };
            if data.len() <= MAX_INLINE || found[t.index()].is_some() {
                continue;
            }
            let same = ranges.iter().find(|r| {
                r.len == data.len() && weights.get(r.offset..r.offset + r.len) == Some(data)
            });
            if let Some(r) = same {
                found[t.index()] = Some(Lifetime::Weight(*r));
                continue;
            }
            let Some(taps_first) = filter_order.filter(|_| slot == 1) else {
                continue;
            };
            let (Some((&first, rest)), Some((&last, init))) =
                (tensor.shape.split_first(), tensor.shape.split_last())
            else {
                continue;
            };
            let (channels, taps) = if taps_first {
                (last, init.iter().product::<usize>())
            } else {
                (first, rest.iter().product::<usize>())
            };
            let layout = BlockedLayout {
                channels,
                taps,
                taps_first,
                elem: tensor.dtype.size(),
            };
            let len = layout.packed_len();
            found[t.index()] = ranges
                .iter()
                .filter(|r| Some(r.len) == len)
                .map(|&range| Blocked { range, layout })
                .find(|b| b.unpack(weights).as_deref() == Some(data.as_slice()))
                .map(Lifetime::Blocked);
        }
    }
    found
}

/// Why an op stays on the CPU.
pub type Reason = String;

/// Builds one NNAPI model from consecutive graph ops.
#[derive(Debug)]
pub struct Builder<'g> {
    g: &'g Graph,
    /// The API level the description may use.
    pub target_api: u32,
    /// The description so far.
    pub desc: Description,
    /// Graph tensor → operand, for tensors defined or imported in this builder.
    pub operand_of: Vec<Option<u32>>,
    /// Graph tensors imported as model inputs, in order.
    pub imported: Vec<TensorId>,
    /// Graph tensors produced here, in order, with their operands.
    pub produced: Vec<(TensorId, u32)>,
    /// The CPU program's copies of constants ([`cpu_copies`]).
    cpu_copies: &'g [Option<Lifetime>],
}

/// State to roll back to when an op cannot be lowered.
#[derive(Clone, Copy, Debug)]
struct Mark {
    operands: usize,
    operations: usize,
    imported: usize,
    produced: usize,
    blob: usize,
    api: u32,
}

fn act_code(act: Activation) -> Result<i32, Reason> {
    Ok(match act {
        Activation::None => fuse::NONE,
        Activation::Relu => fuse::RELU,
        Activation::ReluN1To1 => fuse::RELU1,
        Activation::Relu6 => fuse::RELU6,
        Activation::Tanh => return Err("NNAPI has no fused TANH activation".into()),
    })
}

impl<'g> Builder<'g> {
    /// An empty model for `g` at `target_api`; constants with an entry in `cpu_copies` (indexed
    /// by graph tensor, possibly empty) refer to the CPU program's copies.
    pub fn new(g: &'g Graph, target_api: u32, cpu_copies: &'g [Option<Lifetime>]) -> Builder<'g> {
        Builder {
            g,
            target_api,
            desc: Description {
                api_level: 27,
                ..Description::default()
            },
            operand_of: vec![None; g.tensors.len()],
            imported: Vec::new(),
            produced: Vec::new(),
            cpu_copies,
        }
    }

    fn mark(&self, blob: &WeightBlob) -> Mark {
        Mark {
            operands: self.desc.operands.len(),
            operations: self.desc.operations.len(),
            imported: self.imported.len(),
            produced: self.produced.len(),
            blob: blob.bytes.len(),
            api: self.desc.api_level,
        }
    }

    fn rollback(&mut self, m: Mark, blob: &mut WeightBlob) {
        for o in self.operand_of.iter_mut() {
            if o.is_some_and(|i| i as usize >= m.operands) {
                *o = None;
            }
        }
        self.desc.operands.truncate(m.operands);
        self.desc.operations.truncate(m.operations);
        self.imported.truncate(m.imported);
        self.produced.truncate(m.produced);
        blob.bytes.truncate(m.blob);
        self.desc.api_level = m.api;
    }

    /// Raises the description's API level to `api`, or fails when the target is lower.
    fn need(&mut self, api: u32, what: &str) -> Result<(), Reason> {
        if api > self.target_api {
            return Err(format!(
                "{what} needs NNAPI API level {api}, the target is {}",
                self.target_api
            ));
        }
        self.desc.api_level = self.desc.api_level.max(api);
        Ok(())
    }

    /// Lowers op `id` into the model, or leaves the model as it was and returns the reason.
    /// NNAPI operations that would not pass [`super::validate`] (a zero point outside the
    /// type's range, say) are not kept: the op stays on the CPU with the first problem.
    pub fn lower(&mut self, id: OpId, blob: &mut WeightBlob) -> Result<(), Reason> {
        let m = self.mark(blob);
        let r = self.lower_op(id, blob).and_then(|()| {
            let issues =
                super::validate::validate_since(&self.desc, &blob.bytes, m.operands, m.operations);
            match issues.first() {
                None => Ok(()),
                Some(issue) => Err(format!("NNAPI would reject it: {issue}")),
            }
        });
        if r.is_err() {
            self.rollback(m, blob);
        }
        r
    }

    /// The NNAPI type of a graph tensor's elements. `filter` marks a convolution filter
    /// (per-channel int8 becomes `TENSOR_QUANT8_SYMM_PER_CHANNEL`).
    fn tensor_type(&mut self, t: TensorId) -> Result<OperandType, Reason> {
        let tensor = self.g.tensor(t);
        let per_channel = tensor.quant.as_ref().is_some_and(|q| q.scale.len() > 1);
        let ty = match (tensor.dtype, tensor.quant.is_some()) {
            (DType::F32, false) => OperandType::TensorFloat32,
            (DType::I32, _) => OperandType::TensorInt32,
            (DType::U8, true) if !per_channel => OperandType::TensorQuant8Asymm,
            (DType::I8, true) if per_channel => OperandType::TensorQuant8SymmPerChannel,
            (DType::I8, true) => OperandType::TensorQuant8AsymmSigned,
            (dt, q) => {
                return Err(format!(
                    "tensor \"{}\": NNAPI has no {}{} tensor type",
                    tensor.name,
                    if q { "quantized " } else { "" },
                    dt
                ))
            }
        };
        self.need(ty.min_api(), &format!("operand type {ty}"))?;
        Ok(ty)
    }

    fn new_operand(&mut self, t: TensorId, lifetime: Lifetime) -> Result<u32, Reason> {
        let tensor = self.g.tensor(t);
        let ty = self.tensor_type(t)?;
        let dims = tensor
            .shape
            .iter()
            .map(|&d| u32::try_from(d).map_err(|_| "dimension too large".to_string()))
            .collect::<Result<Vec<u32>, _>>()?;
        let dims =
            if dims.is_empty() && matches!(lifetime, Lifetime::Inline(_) | Lifetime::Weight(_)) {
                // A scalar constant (a broadcast operand): NNAPI operands of tensor type have rank ≥ 1.
                vec![1]
            } else {
                dims
            };
        if dims.is_empty() {
            return Err(format!(
                "tensor \"{}\" is a rank-0 tensor; NNAPI tensors have rank ≥ 1",
                tensor.name
            ));
        }
        let (mut scale, mut zero_point, mut channel_quant) = (0.0, 0, None);
        if let Some(q) = &tensor.quant {
            if q.scale.len() > 1 && ty != OperandType::TensorInt32 {
                if q.zero_point.iter().any(|&z| z != 0) {
                    return Err(format!(
                        "tensor \"{}\": per-channel quantization with a nonzero zero point",
                        tensor.name
                    ));
                }
                channel_quant = Some(ChannelQuant {
                    channel_dim: q.axis as u32,
                    scales: q.scale.clone(),
                });
            } else if ty == OperandType::TensorInt32 && q.scale.len() > 1 {
                // A per-channel convolution's bias: NNAPI wants scale 0 (it is implied).
            } else if ty != OperandType::TensorInt32 || q.scale[0] != 0.0 {
                scale = q.scale[0];
                zero_point = i32::try_from(q.zero_point[0]).map_err(|_| "zero point")?;
            }
        }
        Ok(self.desc.add_operand(Operand {
            name: tensor.name.clone(),
            ty,
            dims,
            scale,
            zero_point,
            lifetime,
            channel_quant,
        }))
    }

    /// The operand for graph tensor `t` as an operation input: a constant (appended to the blob),
    /// a tensor produced earlier in this model, or a new model input.
    fn input(&mut self, t: TensorId, blob: &mut WeightBlob) -> Result<u32, Reason> {
        if let Some(o) = self.operand_of[t.index()] {
            return Ok(o);
        }
        let tensor = self.g.tensor(t);
        let o = match &tensor.data {
            Some(d) => {
                let lifetime = if d.len() <= MAX_INLINE {
                    Lifetime::Inline(d.clone())
                } else if let Some(Some(copy)) = self.cpu_copies.get(t.index()) {
                    copy.clone()
                } else {
                    Lifetime::Weight(blob.push(d))
                };
                self.new_operand(t, lifetime)?
            }
            None => {
                let o = self.new_operand(t, Lifetime::Input)?;
                self.imported.push(t);
                o
            }
        };
        self.operand_of[t.index()] = Some(o);
        Ok(o)
    }

    /// A new temporary operand for result tensor `t`.
    fn result(&mut self, t: TensorId) -> Result<u32, Reason> {
        let o = self.new_operand(t, Lifetime::Temporary)?;
        self.operand_of[t.index()] = Some(o);
        self.produced.push((t, o));
        Ok(o)
    }

    /// An intermediate operand like `like`'s, with its own quantization.
    fn temp_like(&mut self, like: u32, name: String, quant: Option<(f32, i64)>) -> u32 {
        let mut o = self.desc.operands[like as usize].clone();
        o.name = name;
        o.lifetime = Lifetime::Temporary;
        if let Some((s, z)) = quant {
            o.scale = s;
            o.zero_point = z as i32;
        }
        self.desc.add_operand(o)
    }

    fn op(&mut self, ty: OperationType, inputs: Vec<u32>, outputs: Vec<u32>) {
        self.desc.operations.push(Operation {
            ty,
            inputs,
            outputs,
        });
    }

    fn node_input(&self, id: OpId, i: usize) -> Result<TensorId, Reason> {
        self.g
            .op(id)
            .inputs
            .get(i)
            .copied()
            .flatten()
            .ok_or_else(|| format!("operand {i} is missing"))
    }

    /// A zero bias of `n` elements for a quantized or float convolution.
    fn zero_bias(
        &mut self,
        n: usize,
        float: bool,
        scale: f32,
        blob: &mut WeightBlob,
    ) -> Result<u32, Reason> {
        let bytes = vec![0u8; n * 4];
        let lifetime = if bytes.len() <= MAX_INLINE {
            Lifetime::Inline(bytes)
        } else {
            Lifetime::Weight(blob.push(&bytes))
        };
        Ok(self.desc.add_operand(Operand {
            name: "zero_bias".into(),
            ty: if float {
                OperandType::TensorFloat32
            } else {
                OperandType::TensorInt32
            },
            dims: vec![u32::try_from(n).map_err(|_| "bias too large")?],
            scale: if float { 0.0 } else { scale },
            zero_point: 0,
            lifetime,
            channel_quant: None,
        }))
    }

    /// Operand `i` (a bias), or a zero bias matching the filter when the op has none.
    fn bias(
        &mut self,
        id: OpId,
        i: usize,
        x: u32,
        w: u32,
        channels: usize,
        blob: &mut WeightBlob,
    ) -> Result<u32, Reason> {
        match self.g.op(id).inputs.get(i).copied().flatten() {
            Some(t) => self.input(t, blob),
            None => {
                let (xo, wo) = (
                    &self.desc.operands[x as usize],
                    &self.desc.operands[w as usize],
                );
                let float = xo.ty == OperandType::TensorFloat32;
                let scale = if wo.channel_quant.is_some() {
                    0.0
                } else {
                    xo.scale * wo.scale
                };
                self.zero_bias(channels, float, scale, blob)
            }
        }
    }

    /// The padding arguments: implicit `[code]` or explicit `[left, right, top, bottom]`.
    fn padding(&mut self, p: Padding) -> Vec<u32> {
        match p {
            Padding::Same => vec![self.desc.int32("padding", padding::SAME)],
            Padding::Valid => vec![self.desc.int32("padding", padding::VALID)],
            Padding::Explicit {
                top,
                bottom,
                left,
                right,
            } => vec![
                self.desc.int32("pad_left", left as i32),
                self.desc.int32("pad_right", right as i32),
                self.desc.int32("pad_top", top as i32),
                self.desc.int32("pad_bottom", bottom as i32),
            ],
        }
    }

    fn check_same_quant(&self, a: u32, b: u32, what: &str) -> Result<(), Reason> {
        let (x, y) = (
            &self.desc.operands[a as usize],
            &self.desc.operands[b as usize],
        );
        if x.ty != y.ty || x.scale != y.scale || x.zero_point != y.zero_point {
            return Err(format!(
                "NNAPI's {what} needs its output quantized like its input"
            ));
        }
        Ok(())
    }

    fn lower_op(&mut self, id: OpId, blob: &mut WeightBlob) -> Result<(), Reason> {
        let node = self.g.op(id);
        let outs = node.outputs.clone();
        let Some(&out_t) = outs.first() else {
            return Err("the op has no result".into());
        };
        match &node.op {
            Op::Conv2d(a) => {
                let x = self.input(self.node_input(id, 0)?, blob)?;
                let w = self.input(self.node_input(id, 1)?, blob)?;
                let cout = self.g.tensor(self.node_input(id, 1)?).shape[0];
                let b = self.bias(id, 2, x, w, cout, blob)?;
                let residual = match &a.residual {
                    Some(r) => Some((r.conv_quant, self.input(self.node_input(id, 3)?, blob)?)),
                    None => None,
                };
                let mut args = vec![x, w, b];
                args.extend(self.padding(a.padding));
                args.push(self.desc.int32("stride_w", a.stride[1] as i32));
                args.push(self.desc.int32("stride_h", a.stride[0] as i32));
                let conv_act = if residual.is_some() {
                    Activation::None
                } else {
                    a.act
                };
                args.push(self.desc.int32("fuse", act_code(conv_act)?));
                if a.dilation != [1, 1] {
                    self.need(29, "CONV_2D with dilation")?;
                    args.push(self.desc.bool("nchw", false));
                    args.push(self.desc.int32("dilation_w", a.dilation[1] as i32));
                    args.push(self.desc.int32("dilation_h", a.dilation[0] as i32));
                }
                match residual {
                    None => {
                        let y = self.result(out_t)?;
                        self.op(OperationType::Conv2d, args, vec![y]);
                    }
                    Some((q, r)) => {
                        let y = self.result(out_t)?;
                        let name = format!("{}/conv", self.g.tensor(out_t).name);
                        let c = self.temp_like(y, name, q);
                        self.op(OperationType::Conv2d, args, vec![c]);
                        let f = self.desc.int32("fuse", act_code(a.act)?);
                        self.op(OperationType::Add, vec![c, r, f], vec![y]);
                    }
                }
            }
            Op::DepthwiseConv2d(a) => {
                let x = self.input(self.node_input(id, 0)?, blob)?;
                let w = self.input(self.node_input(id, 1)?, blob)?;
                let cout = *self
                    .g
                    .tensor(self.node_input(id, 1)?)
                    .shape
                    .last()
                    .ok_or("filter of rank 0")?;
                let b = self.bias(id, 2, x, w, cout, blob)?;
                if let Some(cq) = &self.desc.operands[w as usize].channel_quant {
                    if cq.channel_dim != 3 {
                        return Err(
                            "depthwise filter quantized per channel along a dimension other than 3"
                                .into(),
                        );
                    }
                }
                let mut args = vec![x, w, b];
                args.extend(self.padding(a.padding));
                args.push(self.desc.int32("stride_w", a.stride[1] as i32));
                args.push(self.desc.int32("stride_h", a.stride[0] as i32));
                args.push(
                    self.desc
                        .int32("depth_multiplier", a.depth_multiplier as i32),
                );
                args.push(self.desc.int32("fuse", act_code(a.act)?));
                if a.dilation != [1, 1] {
                    self.need(29, "DEPTHWISE_CONV_2D with dilation")?;
                    args.push(self.desc.bool("nchw", false));
                    args.push(self.desc.int32("dilation_w", a.dilation[1] as i32));
                    args.push(self.desc.int32("dilation_h", a.dilation[0] as i32));
                }
                let y = self.result(out_t)?;
                self.op(OperationType::DepthwiseConv2d, args, vec![y]);
            }
            Op::FullyConnected(a) => {
                let wt = self.node_input(id, 1)?;
                if self
                    .g
                    .tensor(wt)
                    .quant
                    .as_ref()
                    .is_some_and(|q| q.scale.len() > 1)
                {
                    return Err("NNAPI has no per-channel FULLY_CONNECTED".into());
                }
                let xt = self.node_input(id, 0)?;
                if self.g.tensor(xt).shape.len() < 2 {
                    return Err("NNAPI's FULLY_CONNECTED needs an input of rank ≥ 2".into());
                }
                let x = self.input(xt, blob)?;
                let w = self.input(wt, blob)?;
                let units = self.g.tensor(wt).shape[0];
                let b = self.bias(id, 2, x, w, units, blob)?;
                let f = self.desc.int32("fuse", act_code(a.act)?);
                let y = self.result(out_t)?;
                let out_shape = &self.g.tensor(out_t).shape;
                if out_shape.len() == 2 {
                    self.op(OperationType::FullyConnected, vec![x, w, b, f], vec![y]);
                } else {
                    // NNAPI's result is [batches, units]; the graph keeps the input's leading
                    // dimensions: reshape.
                    let batches = out_shape.iter().product::<usize>() / units.max(1);
                    let name = format!("{}/2d", self.g.tensor(out_t).name);
                    let t = self.temp_like(y, name, None);
                    self.desc.operands[t as usize].dims = vec![batches as u32, units as u32];
                    self.op(OperationType::FullyConnected, vec![x, w, b, f], vec![t]);
                    let dims: Vec<u32> = self.desc.operands[y as usize].dims.clone();
                    let s = self.shape_operand(&dims);
                    self.op(OperationType::Reshape, vec![t, s], vec![y]);
                }
            }
            Op::Add(a) | Op::Mul(a) => {
                let x = self.input(self.node_input(id, 0)?, blob)?;
                let z = self.input(self.node_input(id, 1)?, blob)?;
                let ty = if matches!(node.op, Op::Add(_)) {
                    OperationType::Add
                } else {
                    OperationType::Mul
                };
                if self.desc.operands[x as usize].ty == OperandType::TensorInt32 {
                    self.need(30, &format!("int32 {ty}"))?;
                }
                let f = self.desc.int32("fuse", act_code(a.act)?);
                let y = self.result(out_t)?;
                self.op(ty, vec![x, z, f], vec![y]);
            }
            Op::AveragePool2d(a) | Op::MaxPool2d(a) => {
                let ty = if matches!(node.op, Op::AveragePool2d(_)) {
                    OperationType::AveragePool2d
                } else {
                    OperationType::MaxPool2d
                };
                let x = self.input(self.node_input(id, 0)?, blob)?;
                let mut args = vec![x];
                if matches!(a.padding, Padding::Explicit { .. }) {
                    return Err("pooling with explicit padding".into());
                }
                args.extend(self.padding(a.padding));
                args.push(self.desc.int32("stride_w", a.stride[1] as i32));
                args.push(self.desc.int32("stride_h", a.stride[0] as i32));
                args.push(self.desc.int32("filter_w", a.filter[1] as i32));
                args.push(self.desc.int32("filter_h", a.filter[0] as i32));
                args.push(self.desc.int32("fuse", act_code(a.act)?));
                let y = self.result(out_t)?;
                self.op(ty, args, vec![y]);
            }
            Op::Concatenation(a) => {
                let mut args = Vec::new();
                for i in 0..node.inputs.len() {
                    args.push(self.input(self.node_input(id, i)?, blob)?);
                }
                let rank = self.g.tensor(out_t).shape.len() as i32;
                let axis = if a.axis < 0 { a.axis + rank } else { a.axis };
                if rank > 4 {
                    return Err("NNAPI's CONCATENATION takes rank ≤ 4".into());
                }
                args.push(self.desc.int32("axis", axis));
                let y = self.result(out_t)?;
                let any_mixed = args[..args.len() - 1].iter().any(|&i| {
                    let (o, r) = (
                        &self.desc.operands[i as usize],
                        &self.desc.operands[y as usize],
                    );
                    o.scale != r.scale || o.zero_point != r.zero_point
                });
                if any_mixed {
                    self.need(29, "CONCATENATION with differently quantized inputs")?;
                }
                if a.act == Activation::None {
                    self.op(OperationType::Concatenation, args, vec![y]);
                } else {
                    let name = format!("{}/concat", self.g.tensor(out_t).name);
                    let t = self.temp_like(y, name, None);
                    self.op(OperationType::Concatenation, args, vec![t]);
                    let ty = match a.act {
                        Activation::Relu => OperationType::Relu,
                        Activation::Relu6 => OperationType::Relu6,
                        Activation::ReluN1To1 => OperationType::Relu1,
                        _ => return Err("CONCATENATION with this activation".into()),
                    };
                    self.op(ty, vec![t], vec![y]);
                }
            }
            Op::Reshape(_) | Op::Squeeze(_) | Op::ExpandDims(_) => {
                let x = self.input(self.node_input(id, 0)?, blob)?;
                let y = self.result(out_t)?;
                let dims = self.desc.operands[y as usize].dims.clone();
                let s = self.shape_operand(&dims);
                self.op(OperationType::Reshape, vec![x, s], vec![y]);
            }
            Op::Softmax(a) => {
                let x = self.input(self.node_input(id, 0)?, blob)?;
                let rank = self.desc.operands[x as usize].dims.len();
                if rank != 2 && rank != 4 {
                    self.need(29, "SOFTMAX of rank other than 2 or 4")?;
                }
                let beta = self.desc.float32("beta", a.beta);
                let y = self.result(out_t)?;
                self.check_softmax_out(y)?;
                self.op(OperationType::Softmax, vec![x, beta], vec![y]);
            }
            Op::Logistic(_) => {
                let x = self.input(self.node_input(id, 0)?, blob)?;
                let y = self.result(out_t)?;
                self.check_softmax_out(y)?;
                self.op(OperationType::Logistic, vec![x], vec![y]);
            }
            Op::Tanh(_) | Op::Relu(_) | Op::Relu6(_) | Op::ReluN1To1(_) | Op::HardSwish(_) => {
                let ty = match node.op {
                    Op::Tanh(_) => OperationType::Tanh,
                    Op::Relu(_) => OperationType::Relu,
                    Op::Relu6(_) => OperationType::Relu6,
                    Op::ReluN1To1(_) => OperationType::Relu1,
                    _ => OperationType::HardSwish,
                };
                if ty == OperationType::HardSwish {
                    self.need(30, "HARD_SWISH")?;
                }
                let x = self.input(self.node_input(id, 0)?, blob)?;
                let y = self.result(out_t)?;
                if ty == OperationType::Tanh
                    && self.desc.operands[y as usize].ty != OperandType::TensorFloat32
                {
                    self.need(29, "quantized TANH")?;
                    let o = &self.desc.operands[y as usize];
                    let zp = if o.ty == OperandType::TensorQuant8Asymm {
                        128
                    } else {
                        0
                    };
                    if o.scale != 1.0 / 128.0 || o.zero_point != zp {
                        return Err(format!(
                            "NNAPI's quantized TANH needs output scale 1/128, zero point {zp}"
                        ));
                    }
                }
                if matches!(
                    ty,
                    OperationType::Relu | OperationType::Relu6 | OperationType::Relu1
                ) {
                    self.check_same_quant(x, y, ty.name())?;
                }
                self.op(ty, vec![x], vec![y]);
            }
            Op::Dequantize(_) => {
                let x = self.input(self.node_input(id, 0)?, blob)?;
                let y = self.result(out_t)?;
                if self.desc.operands[x as usize].ty != OperandType::TensorQuant8Asymm {
                    self.need(29, "DEQUANTIZE of this type")?;
                }
                self.op(OperationType::Dequantize, vec![x], vec![y]);
            }
            Op::Quantize(_) => {
                let x = self.input(self.node_input(id, 0)?, blob)?;
                if self.desc.operands[x as usize].ty != OperandType::TensorFloat32 {
                    return Err("NNAPI's QUANTIZE takes a float32 input (requantization is not an NNAPI op)".into());
                }
                self.need(29, "QUANTIZE")?;
                let y = self.result(out_t)?;
                self.op(OperationType::Quantize, vec![x], vec![y]);
            }
            Op::Mean(a) => {
                self.need(28, "MEAN")?;
                let x = self.input(self.node_input(id, 0)?, blob)?;
                let axes_t = self.node_input(id, 1)?;
                let axes = self
                    .g
                    .tensor(axes_t)
                    .const_ints()
                    .ok_or("MEAN with non-constant axes")?;
                let axes: Vec<u8> = axes
                    .iter()
                    .flat_map(|&v| (v as i32).to_le_bytes())
                    .collect();
                let n = (axes.len() / 4) as u32;
                let ax = self.desc.add_operand(Operand {
                    name: "axes".into(),
                    ty: OperandType::TensorInt32,
                    dims: vec![n],
                    scale: 0.0,
                    zero_point: 0,
                    lifetime: Lifetime::Inline(axes),
                    channel_quant: None,
                });
                let keep = self.desc.int32("keep_dims", i32::from(a.keep_dims));
                let y = self.result(out_t)?;
                if self.desc.operands[y as usize].ty != OperandType::TensorFloat32 {
                    self.check_same_quant(x, y, "quantized MEAN")?;
                }
                self.op(OperationType::Mean, vec![x, ax, keep], vec![y]);
            }
            Op::Pad(_) => {
                self.need(28, "PAD")?;
                let x = self.input(self.node_input(id, 0)?, blob)?;
                let pt = self.node_input(id, 1)?;
                let pads = self
                    .g
                    .tensor(pt)
                    .const_ints()
                    .ok_or("PAD with non-constant paddings")?;
                let rank = self.desc.operands[x as usize].dims.len() as u32;
                let bytes: Vec<u8> = pads
                    .iter()
                    .flat_map(|&v| (v as i32).to_le_bytes())
                    .collect();
                let p = self.desc.add_operand(Operand {
                    name: "paddings".into(),
                    ty: OperandType::TensorInt32,
                    dims: vec![rank, 2],
                    scale: 0.0,
                    zero_point: 0,
                    lifetime: Lifetime::Inline(bytes),
                    channel_quant: None,
                });
                let y = self.result(out_t)?;
                if self.desc.operands[y as usize].ty != OperandType::TensorFloat32 {
                    self.check_same_quant(x, y, "quantized PAD")?;
                    if self.desc.operands[x as usize].zero_point != 0 {
                        // Before feature level 3 quantized PAD padded with raw 0, not the zero point.
                        self.need(29, "quantized PAD with a nonzero zero point")?;
                    }
                }
                self.op(OperationType::Pad, vec![x, p], vec![y]);
            }
            Op::ResizeBilinear(a) => {
                let x = self.input(self.node_input(id, 0)?, blob)?;
                let y = self.result(out_t)?;
                let dims = self.desc.operands[y as usize].dims.clone();
                if dims.len() != 4 {
                    return Err("RESIZE_BILINEAR of rank other than 4".into());
                }
                if self.desc.operands[x as usize].ty != OperandType::TensorFloat32 {
                    self.need(29, "quantized RESIZE_BILINEAR")?;
                }
                let mut args = vec![
                    x,
                    self.desc.int32("out_w", dims[2] as i32),
                    self.desc.int32("out_h", dims[1] as i32),
                ];
                if a.align_corners || a.half_pixel_centers {
                    self.need(
                        30,
                        "RESIZE_BILINEAR with align_corners or half_pixel_centers",
                    )?;
                    args.push(self.desc.bool("nchw", false));
                    args.push(self.desc.bool("align_corners", a.align_corners));
                    args.push(self.desc.bool("half_pixel_centers", a.half_pixel_centers));
                }
                self.op(OperationType::ResizeBilinear, args, vec![y]);
            }
            Op::DepthToSpace(a) => {
                let x = self.input(self.node_input(id, 0)?, blob)?;
                let bs = self.desc.int32("block_size", a.block_size as i32);
                let y = self.result(out_t)?;
                self.op(OperationType::DepthToSpace, vec![x, bs], vec![y]);
            }
            Op::Prelu(_) => {
                self.need(29, "PRELU")?;
                let x = self.input(self.node_input(id, 0)?, blob)?;
                let al = self.input(self.node_input(id, 1)?, blob)?;
                let y = self.result(out_t)?;
                self.op(OperationType::Prelu, vec![x, al], vec![y]);
            }
            other => {
                return Err(format!(
                    "mvcc does not lower {} to NNAPI",
                    other.kind().tflite_name()
                ))
            }
        }
        // Every declared type must exist at the description's level.
        Ok(())
    }

    fn shape_operand(&mut self, dims: &[u32]) -> u32 {
        let bytes: Vec<u8> = dims
            .iter()
            .flat_map(|&d| (d as i32).to_le_bytes())
            .collect();
        self.desc.add_operand(Operand {
            name: "shape".into(),
            ty: OperandType::TensorInt32,
            dims: vec![dims.len() as u32],
            scale: 0.0,
            zero_point: 0,
            lifetime: Lifetime::Inline(bytes),
            channel_quant: None,
        })
    }

    fn check_softmax_out(&self, y: u32) -> Result<(), Reason> {
        let o = &self.desc.operands[y as usize];
        let zp = match o.ty {
            OperandType::TensorQuant8Asymm => 0,
            OperandType::TensorQuant8AsymmSigned => -128,
            _ => return Ok(()),
        };
        if o.scale != 1.0 / 256.0 || o.zero_point != zp {
            return Err(format!(
                "NNAPI needs this quantized output to have scale 1/256 and zero point {zp}"
            ));
        }
        Ok(())
    }
}

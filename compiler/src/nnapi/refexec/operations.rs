//! NNAPI operations as mvcc ops, one method per operation (input lists as in
//! `NeuralNetworksTypes.h`; see the parent module's table for where NNAPI and TFLite differ).

use std::collections::BTreeSet;

use super::cx::Cx;
use crate::error::{Error, Location, Problem, Result, UnsupportedOp};
use crate::ir::{
    Activation, BlockAttrs, ConcatAttrs, Conv2dAttrs, DType, DepthwiseConv2dAttrs,
    FullyConnectedAttrs, FusedActAttrs, NoAttrs, Op, OutTypeAttrs, Padding, Pool2dAttrs, Quant,
    ReduceAttrs, ResizeAttrs, SoftmaxAttrs,
};
use crate::nnapi::desc::{Lifetime, OperandType, OperationType};

/// How a convolution's quantized types are bridged to a combination mvcc's kernels run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bridge {
    /// As in the model.
    None,
    /// `uint8` activations with a per-channel filter: activations through `int8`.
    U8ToI8,
    /// `int8` activations with an asymmetric per-tensor `int8` filter: all through `uint8`.
    I8ToU8,
}

impl Cx<'_> {
    /// Converts the whole description: model inputs, every operation in order, model outputs;
    /// then verifies the graph.
    pub(super) fn build(&mut self) -> Result<()> {
        let desc = self.desc;
        for (k, &i) in desc.inputs.iter().enumerate() {
            let o = desc.operand(i).ok_or_else(|| {
                Error::invalid(
                    Location::model(),
                    format!("model input {k} is operand {i}, which does not exist"),
                )
            })?;
            if !matches!(o.lifetime, Lifetime::Input) {
                return Err(Error::invalid(
                    Location::tensor(Some(i), &o.name),
                    format!("model input {k} is not an input operand"),
                ));
            }
            if self.ids.get(i as usize).copied().flatten().is_some() {
                return Err(Error::invalid(
                    Location::tensor(Some(i), &o.name),
                    format!("operand {i} is listed twice as a model input"),
                ));
            }
            if o.dims.is_empty() || o.dims.contains(&0) {
                return Err(Error::one(Problem::Unsupported(vec![UnsupportedOp {
                    name: format!("model input {k} (operand {i}, \"{}\")", o.name),
                    version: 1,
                    operators: Vec::new(),
                    reason: Some(format!(
                        "dimensions {:?}: mvcc compiles static shapes",
                        o.dims
                    )),
                }])));
            }
            let id = self.create(i)?;
            self.g.inputs.push(id);
        }
        self.in_op = true;
        for n in 0..desc.operations.len() {
            self.op = n;
            self.operation()?;
        }
        for (k, &i) in desc.outputs.iter().enumerate() {
            let id = self.ids.get(i as usize).copied().flatten();
            let id = match id {
                Some(id) => id,
                None => {
                    let name = desc.operand(i).map_or("", |o| o.name.as_str());
                    return Err(Error::invalid(
                        Location::tensor(Some(i), name),
                        format!("model output {k} is never computed"),
                    ));
                }
            };
            self.g.outputs.push(id);
        }
        crate::ir::verify::verify(&self.g)
    }

    /// Converts operation `self.op`.
    fn operation(&mut self) -> Result<()> {
        let ty = self.desc.operations[self.op].ty;
        let n_out = self.desc.operations[self.op].outputs.len();
        if n_out != 1 {
            return Err(self.err(format!("expected 1 output, got {n_out}")));
        }
        match ty {
            OperationType::Add | OperationType::Mul => self.binary(ty),
            OperationType::AveragePool2d | OperationType::MaxPool2d => self.pool(ty),
            OperationType::Concatenation => self.concatenation(),
            OperationType::Conv2d => self.conv(false),
            OperationType::DepthwiseConv2d => self.conv(true),
            OperationType::DepthToSpace => self.depth_to_space(),
            OperationType::Dequantize => self.unary(Op::Dequantize(NoAttrs)),
            OperationType::FullyConnected => self.fully_connected(),
            OperationType::HardSwish => self.unary(Op::HardSwish(NoAttrs)),
            OperationType::Logistic => self.unary(Op::Logistic(NoAttrs)),
            OperationType::Mean => self.mean(),
            OperationType::Pad => self.pad(),
            OperationType::Prelu => {
                self.arity(2, 2)?;
                let (x, alpha) = (self.read(0)?, self.read(1)?);
                let out = self.write(0)?;
                self.add(Op::Prelu(NoAttrs), vec![Some(x), Some(alpha)], vec![out])
            }
            OperationType::Quantize => self.unary(Op::Quantize(NoAttrs)),
            OperationType::Relu => self.unary(Op::Relu(NoAttrs)),
            OperationType::Relu1 => self.unary(Op::ReluN1To1(NoAttrs)),
            OperationType::Relu6 => self.unary(Op::Relu6(NoAttrs)),
            OperationType::Reshape => self.reshape(),
            OperationType::ResizeBilinear => self.resize_bilinear(),
            OperationType::Softmax => self.softmax(),
            OperationType::Tanh => self.unary(Op::Tanh(NoAttrs)),
        }
    }

    fn unary(&mut self, op: Op) -> Result<()> {
        self.arity(1, 1)?;
        let x = self.read(0)?;
        let out = self.write(0)?;
        self.add(op, vec![Some(x)], vec![out])
    }

    fn binary(&mut self, ty: OperationType) -> Result<()> {
        self.arity(3, 3)?;
        let (a, b) = (self.read(0)?, self.read(1)?);
        let act = self.act(2)?;
        if self.g.tensor(a).dtype == DType::I32 && act != Activation::None {
            return Err(self.err("an INT32 operation's FuseCode must be NONE"));
        }
        let out = self.write(0)?;
        let attrs = FusedActAttrs { act };
        let op = if ty == OperationType::Add {
            Op::Add(attrs)
        } else {
            Op::Mul(attrs)
        };
        self.add(op, vec![Some(a), Some(b)], vec![out])
    }

    fn pool(&mut self, ty: OperationType) -> Result<()> {
        self.arity(7, 11)?;
        let n = self.n_inputs();
        let (padding, stride, filter, act, nchw) = match n {
            10 | 11 => {
                let left = self.non_negative(1, "padding left")?;
                let right = self.non_negative(2, "padding right")?;
                let top = self.non_negative(3, "padding top")?;
                let bottom = self.non_negative(4, "padding bottom")?;
                let p = Padding::Explicit {
                    top,
                    bottom,
                    left,
                    right,
                };
                let stride = [
                    self.positive(6, "stride height")?,
                    self.positive(5, "stride width")?,
                ];
                let filter = [
                    self.positive(8, "filter height")?,
                    self.positive(7, "filter width")?,
                ];
                (p, stride, filter, self.act(9)?, self.opt_bool(10)?)
            }
            7 | 8 => {
                let p = self.padding_code(1)?;
                let stride = [
                    self.positive(3, "stride height")?,
                    self.positive(2, "stride width")?,
                ];
                let filter = [
                    self.positive(5, "filter height")?,
                    self.positive(4, "filter width")?,
                ];
                (p, stride, filter, self.act(6)?, self.opt_bool(7)?)
            }
            _ => return Err(self.err(format!("expected 7, 8, 10 or 11 inputs, got {n}"))),
        };
        let x = self.read(0)?;
        let out = self.write(0)?;
        let attrs = Pool2dAttrs {
            padding,
            stride,
            filter,
            act,
        };
        let op = if ty == OperationType::AveragePool2d {
            Op::AveragePool2d(attrs)
        } else {
            Op::MaxPool2d(attrs)
        };
        let xin = self.nhwc_in(x, nchw)?;
        let o = self.nhwc_out(out, nchw);
        self.add(op, vec![Some(xin)], vec![o])?;
        self.nhwc_out_done(o, out)
    }

    fn concatenation(&mut self) -> Result<()> {
        let n = self.n_inputs();
        if n < 2 {
            return Err(self.err(format!("expected at least 2 inputs, got {n}")));
        }
        let axis = self.int(n - 1)?;
        let out = self.write(0)?;
        let out_t = self.g.tensor(out);
        let (out_dtype, out_q) = (out_t.dtype, out_t.per_tensor_quant());
        let mut inputs = Vec::with_capacity(n - 1);
        for slot in 0..n - 1 {
            let mut x = self.read(slot)?;
            let t = self.g.tensor(x);
            if out_dtype == DType::I8 && t.dtype == DType::I8 {
                if let Some((s, z)) = out_q {
                    if t.per_tensor_quant() != Some((s, z)) {
                        x = self.requantize(x, DType::I8, Quant::per_tensor(s, z))?;
                    }
                }
            }
            inputs.push(Some(x));
        }
        let attrs = ConcatAttrs {
            axis,
            act: Activation::None,
        };
        self.add(Op::Concatenation(attrs), inputs, vec![out])
    }

    /// CONV_2D and DEPTHWISE_CONV_2D, explicit or implicit padding.
    fn conv(&mut self, depthwise: bool) -> Result<()> {
        let n = self.n_inputs();
        // Slots after the bias: DEPTHWISE_CONV_2D has the depth multiplier before the FuseCode.
        let extra = usize::from(depthwise);
        let layout_at = |s: usize| self.input_type(s) == Some(OperandType::Bool);
        let implicit = n == 7 + extra || (n >= 8 + extra && layout_at(7 + extra));
        let (padding, stride_at, act_at) = if implicit {
            if n != 7 + extra && n != 8 + extra && n != 10 + extra {
                return Err(self.err(format!(
                    "implicit padding takes {}, {} or {} inputs, got {n}",
                    7 + extra,
                    8 + extra,
                    10 + extra
                )));
            }
            (self.padding_code(3)?, 4, 6 + extra)
        } else {
            if n != 10 + extra && n != 11 + extra && n != 13 + extra {
                return Err(self.err(format!(
                    "explicit padding takes {}, {} or {} inputs, got {n}",
                    10 + extra,
                    11 + extra,
                    13 + extra
                )));
            }
            let p = Padding::Explicit {
                left: self.non_negative(3, "padding left")?,
                right: self.non_negative(4, "padding right")?,
                top: self.non_negative(5, "padding top")?,
                bottom: self.non_negative(6, "padding bottom")?,
            };
            (p, 7, 9 + extra)
        };
        let stride = [
            self.positive(stride_at + 1, "stride height")?,
            self.positive(stride_at, "stride width")?,
        ];
        let multiplier = if depthwise {
            Some(self.positive(act_at - 1, "depth multiplier")?)
        } else {
            None
        };
        let act = self.act(act_at)?;
        let nchw = self.opt_bool(act_at + 1)?;
        let dilation = if n > act_at + 2 {
            [
                self.positive(act_at + 3, "dilation height")?,
                self.positive(act_at + 2, "dilation width")?,
            ]
        } else {
            [1, 1]
        };
        let x = self.read(0)?;
        let mut filter = self.read(1)?;
        let bias = self.read(2)?;
        let out = self.write(0)?;
        let (ft, xt) = (self.g.tensor(filter), self.g.tensor(x));
        let fshape = ft.shape.clone();
        let in_c = match (xt.shape.len(), nchw) {
            (4, true) => xt.shape[1],
            (4, false) => xt.shape[3],
            _ => {
                return Err(self.err(format!(
                    "the input must have rank 4, has shape {:?}",
                    xt.shape
                )))
            }
        };
        if fshape.len() != 4 {
            return Err(self.err(format!("the filter must have rank 4, has shape {fshape:?}")));
        }
        if let Some(m) = multiplier {
            if in_c.checked_mul(m) != Some(fshape[3]) {
                return Err(self.err(format!(
                    "{in_c} input channels × depth multiplier {m} ≠ {} filter channels",
                    fshape[3]
                )));
            }
        } else if fshape[3] != in_c {
            return Err(self.err(format!(
                "the filter reads {} channels, the input has {in_c}",
                fshape[3]
            )));
        }
        let per_channel = ft.quant.as_ref().is_some_and(|q| q.is_per_axis())
            || self.input_operand(1)?.ty == OperandType::TensorQuant8SymmPerChannel;
        let bridge = match (xt.dtype, ft.dtype) {
            (DType::U8, DType::I8) if per_channel => Bridge::U8ToI8,
            (DType::I8, DType::I8)
                if !per_channel && ft.per_tensor_quant().is_some_and(|(_, z)| z != 0) =>
            {
                Bridge::I8ToU8
            }
            _ => Bridge::None,
        };
        let mut xin = self.nhwc_in(x, nchw)?;
        let nhwc = self.nhwc_out(out, nchw);
        let core = match bridge {
            Bridge::None => nhwc,
            Bridge::U8ToI8 => {
                xin = self.flip_sign(xin, DType::I8)?;
                let q = self.flipped_quant(nhwc, -128)?;
                self.temp(nhwc, "i8", DType::I8, Some(q))
            }
            Bridge::I8ToU8 => {
                xin = self.flip_sign(xin, DType::U8)?;
                filter = self.flip_sign(filter, DType::U8)?;
                let q = self.flipped_quant(nhwc, 128)?;
                self.temp(nhwc, "u8", DType::U8, Some(q))
            }
        };
        let op = match multiplier {
            Some(m) => Op::DepthwiseConv2d(DepthwiseConv2dAttrs {
                padding,
                stride,
                dilation,
                depth_multiplier: m,
                act,
            }),
            None => Op::Conv2d(Conv2dAttrs {
                padding,
                stride,
                dilation,
                act,
                residual: None,
            }),
        };
        self.add(op, vec![Some(xin), Some(filter), Some(bias)], vec![core])?;
        if core != nhwc {
            self.add(Op::Quantize(NoAttrs), vec![Some(core)], vec![nhwc])?;
        }
        self.nhwc_out_done(nhwc, out)
    }

    fn depth_to_space(&mut self) -> Result<()> {
        self.arity(2, 3)?;
        let block_size = self.positive(1, "block size")?;
        let nchw = self.opt_bool(2)?;
        let x = self.read(0)?;
        let out = self.write(0)?;
        let xin = self.nhwc_in(x, nchw)?;
        let o = self.nhwc_out(out, nchw);
        self.add(
            Op::DepthToSpace(BlockAttrs { block_size }),
            vec![Some(xin)],
            vec![o],
        )?;
        self.nhwc_out_done(o, out)
    }

    fn fully_connected(&mut self) -> Result<()> {
        self.arity(4, 4)?;
        let x = self.read(0)?;
        let w = self.read(1)?;
        let bias = self.read_opt(2)?;
        let act = self.act(3)?;
        if self.g.tensor(x).shape.len() < 2 {
            return Err(self.err("the input must have rank 2 or more"));
        }
        let out = self.write(0)?;
        let attrs = FullyConnectedAttrs {
            act,
            keep_num_dims: false,
        };
        self.add(
            Op::FullyConnected(attrs),
            vec![Some(x), Some(w), bias],
            vec![out],
        )
    }

    fn mean(&mut self) -> Result<()> {
        self.arity(3, 3)?;
        let x = self.read(0)?;
        let (axes, vals) = self.const_ints(1)?;
        let keep = self.int(2)? > 0;
        let rank = self.g.tensor(x).shape.len() as i64;
        let mut reduced = BTreeSet::new();
        for &a in &vals {
            if a < -rank || a >= rank {
                return Err(self.err(format!("axis {a} is out of range for rank {rank}")));
            }
            reduced.insert(if a < 0 { a + rank } else { a });
        }
        let out = self.write(0)?;
        // NNAPI: all dimensions reduced without keep_dims is shape [1] (TFLite: a scalar).
        let all = !keep && reduced.len() as i64 == rank;
        let (xt, ot) = (self.g.tensor(x), self.g.tensor(out));
        let quantized = matches!(xt.dtype, DType::U8 | DType::I8);
        if quantized && (xt.dtype != ot.dtype || xt.quant != ot.quant) {
            return Err(self.err(
                "a quantized MEAN's output must have the input's type, scale and zero point",
            ));
        }
        if !quantized && !all {
            let op = Op::Mean(ReduceAttrs { keep_dims: keep });
            return self.add(op, vec![Some(x), Some(axes)], vec![out]);
        }
        // NNAPI's quantized MEAN (`reference_ops::Mean<T, int32_t>`) divides the raw int32 sum
        // by the count, truncating toward zero (TFLite's quantized MEAN rounds): CAST to int32,
        // the int32 MEAN (which truncates), CAST back — exact.
        let src = if quantized {
            let t = self.temp(x, "i32", DType::I32, None);
            self.add(
                Op::Cast(OutTypeAttrs { out: DType::I32 }),
                vec![Some(x)],
                vec![t],
            )?;
            t
        } else {
            x
        };
        let op = Op::Mean(ReduceAttrs {
            keep_dims: keep || all,
        });
        let mut m = if quantized || all {
            self.add_temp(op, vec![Some(src), Some(axes)], src, "mean")?
        } else {
            self.add(op, vec![Some(src), Some(axes)], vec![out])?;
            out
        };
        if all {
            let name = format!("{}.shape", self.g.tensor(out).name);
            let shape = self.const_i32(&name, vec![1], &[1]);
            let r = if quantized {
                self.temp_like(m, "flat")
            } else {
                out
            };
            self.add(Op::Reshape(NoAttrs), vec![Some(m), Some(shape)], vec![r])?;
            m = r;
        }
        if quantized {
            let to = self.g.tensor(out).dtype;
            self.add(Op::Cast(OutTypeAttrs { out: to }), vec![Some(m)], vec![out])?;
        }
        Ok(())
    }

    fn pad(&mut self) -> Result<()> {
        self.arity(2, 2)?;
        let x = self.read(0)?;
        let (paddings, _) = self.const_ints(1)?;
        let out = self.write(0)?;
        self.add(Op::Pad(NoAttrs), vec![Some(x), Some(paddings)], vec![out])
    }

    fn reshape(&mut self) -> Result<()> {
        self.arity(2, 2)?;
        let x = self.read(0)?;
        let shape_t = self.read(1)?;
        let out = self.write(0)?;
        let shape = if self.g.tensor(shape_t).is_const() {
            shape_t
        } else {
            // A shape computed at run time: the declared output dimensions say what it is.
            if self.pending[out.index()] {
                return Err(self.unsupported(
                    "a shape operand that is not a constant, with unknown output dimensions",
                ));
            }
            let dims: Vec<i32> = self
                .g
                .tensor(out)
                .shape
                .iter()
                .map(|&d| i32::try_from(d).unwrap_or(i32::MAX))
                .collect();
            let name = format!("{}.shape", self.g.tensor(out).name);
            self.const_i32(&name, vec![dims.len()], &dims)
        };
        self.add(Op::Reshape(NoAttrs), vec![Some(x), Some(shape)], vec![out])
    }

    fn resize_bilinear(&mut self) -> Result<()> {
        self.arity(3, 6)?;
        let nchw = self.opt_bool(3)?;
        let align_corners = self.opt_bool(4)?;
        let half_pixel_centers = self.opt_bool(5)?;
        if align_corners && half_pixel_centers {
            return Err(self.err("half_pixel_centers requires align_corners to be false"));
        }
        let x = self.read(0)?;
        let xs = self.g.tensor(x).shape.clone();
        let (in_h, in_w) = match (xs.len(), nchw) {
            (4, true) => (xs[2], xs[3]),
            (4, false) => (xs[1], xs[2]),
            _ => return Err(self.err(format!("the input must have rank 4, has {xs:?}"))),
        };
        let (new_w, new_h) = match self.input_type(1) {
            Some(OperandType::Float32) => {
                let scaled = |size: usize, s: f32| (size as f32 * s).floor();
                let (w, h) = (scaled(in_w, self.float(1)?), scaled(in_h, self.float(2)?));
                let ok = |v: f32| (1.0..=i32::MAX as f32).contains(&v);
                if !ok(w) || !ok(h) {
                    return Err(self.err(format!("the scales give an output of {h}×{w}")));
                }
                (w as i32, h as i32)
            }
            _ => (self.int(1)?, self.int(2)?),
        };
        if new_w < 1 || new_h < 1 {
            return Err(self.err(format!("the output size {new_h}×{new_w} must be positive")));
        }
        let out = self.write(0)?;
        let name = format!("{}.size", self.g.tensor(out).name);
        let size = self.const_i32(&name, vec![2], &[new_h, new_w]);
        let xin = self.nhwc_in(x, nchw)?;
        let o = self.nhwc_out(out, nchw);
        let attrs = ResizeAttrs {
            align_corners,
            half_pixel_centers,
        };
        self.add(
            Op::ResizeBilinear(attrs),
            vec![Some(xin), Some(size)],
            vec![o],
        )?;
        self.nhwc_out_done(o, out)
    }

    fn softmax(&mut self) -> Result<()> {
        self.arity(2, 3)?;
        let beta = self.float(1)?;
        if !(beta > 0.0 && beta.is_finite()) {
            return Err(self.err(format!("beta must be positive, got {beta}")));
        }
        let axis = if self.n_inputs() > 2 && !self.is_omitted(2)? {
            self.int(2)?
        } else {
            -1
        };
        let x = self.read(0)?;
        let rank = self.g.tensor(x).shape.len();
        let r = rank as i64;
        let a = i64::from(axis);
        if rank == 0 || a < -r || a >= r {
            return Err(self.err(format!("axis {axis} is out of range for rank {rank}")));
        }
        let a = if a < 0 { a + r } else { a } as usize;
        let out = self.write(0)?;
        let op = Op::Softmax(SoftmaxAttrs { beta });
        if a == rank - 1 {
            return self.add(op, vec![Some(x)], vec![out]);
        }
        // TFLite's softmax runs over the last axis: move the axis there and back.
        let mut perm: Vec<i32> = (0..rank as i32).filter(|&d| d != a as i32).collect();
        perm.push(a as i32);
        let mut inverse = vec![0i32; rank];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p as usize] = i as i32;
        }
        let moved = self.transpose(x, &perm, None)?;
        let s = self.temp_like(out, "softmax");
        self.add(op, vec![Some(moved)], vec![s])?;
        self.transpose(s, &inverse, Some(out))?;
        Ok(())
    }
}

//! Op semantics, one module per op family: the shape rule (`infer_*`) and the reference
//! evaluation (`eval_*`) that runs the runtime's reference kernels with parameters computed the
//! way TFLite's `Prepare` computes them.
//!
//! [`infer`] and [`eval`] dispatch over [`Op`] with no catch-all arm: a new op fails to compile
//! until it has both.

pub mod activation;
pub mod arg_max;
pub mod binary;
pub mod concatenation;
pub mod conv_2d;
pub mod depth_to_space;
pub mod fully_connected;
pub mod gather;
pub mod l2_normalization;
pub mod logistic_tanh;
pub mod pad;
pub mod pool_2d;
pub mod quantize;
pub mod reduce;
pub mod reshape;
pub mod resize;
pub mod slice;
pub mod softmax;
pub mod split_pack;
pub mod transpose;
pub mod unary;

use crate::error::{Error, Location, Problem, Result, UnsupportedOp};
use crate::interp::Buf;
use crate::ir::{DType, Graph, Op, OpId, OpNode, Quant, Shape, Tensor};
use crate::lower::{LowerCx, Step};

/// What a shape rule sees: the graph and one op.
#[derive(Debug)]
pub struct InferCx<'g> {
    /// The graph.
    pub graph: &'g Graph,
    /// The op.
    pub node: &'g OpNode,
}

impl<'g> InferCx<'g> {
    /// Where the op is, for messages.
    pub fn loc(&self) -> Location {
        Location::operator(self.node.tflite_index, self.node.op.kind().tflite_name())
    }

    /// An invalid-model error at this op.
    pub fn err(&self, msg: impl Into<String>) -> Error {
        Error::invalid(self.loc(), msg)
    }

    /// An "unsupported use of this op" error (type combination, option value, …).
    pub fn unsupported(&self, reason: impl Into<String>) -> Error {
        Error::one(Problem::Unsupported(vec![UnsupportedOp {
            name: self.node.op.kind().tflite_name().to_string(),
            version: self.node.version,
            operators: self.node.tflite_index.into_iter().collect(),
            reason: Some(reason.into()),
        }]))
    }

    /// Checks the number of operands (`max` inclusive) and results.
    pub fn arity(&self, min_in: usize, max_in: usize, outputs: usize) -> Result<()> {
        let n = self.node.inputs.len();
        if n < min_in || n > max_in {
            let want = if min_in == max_in {
                min_in.to_string()
            } else {
                format!("{min_in} to {max_in}")
            };
            return Err(self.err(format!("expected {want} inputs, got {n}")));
        }
        if self.node.outputs.len() != outputs {
            return Err(self.err(format!(
                "expected {outputs} outputs, got {}",
                self.node.outputs.len()
            )));
        }
        Ok(())
    }

    /// Operand `i`, which must be present.
    pub fn input(&self, i: usize) -> Result<&'g Tensor> {
        match self.node.inputs.get(i).copied().flatten() {
            Some(t) => Ok(self.graph.tensor(t)),
            None => Err(self.err(format!("input {i} is missing"))),
        }
    }

    /// Operand `i`, if present.
    pub fn opt_input(&self, i: usize) -> Option<&'g Tensor> {
        self.node
            .inputs
            .get(i)
            .copied()
            .flatten()
            .map(|t| self.graph.tensor(t))
    }

    /// Result `i`.
    pub fn output(&self, i: usize) -> Result<&'g Tensor> {
        match self.node.outputs.get(i) {
            Some(&t) => Ok(self.graph.tensor(t)),
            None => Err(self.err(format!("output {i} is missing"))),
        }
    }

    /// The integer values of constant operand `i` (axes, shapes, paddings, …).
    pub fn const_ints(&self, i: usize) -> Result<Vec<i64>> {
        let t = self.input(i)?;
        if !matches!(t.dtype, DType::I32 | DType::I64) {
            return Err(self.err(format!("input {i} (\"{}\") must be int32 or int64", t.name)));
        }
        t.const_ints().ok_or_else(|| {
            self.unsupported(format!(
                "input {i} (\"{}\") must be a constant (mvcc compiles static shapes only)",
                t.name
            ))
        })
    }

    /// Checks that operand `i` has one of `dtypes`.
    pub fn expect_dtype(&self, i: usize, dtypes: &[DType]) -> Result<&'g Tensor> {
        let t = self.input(i)?;
        if dtypes.contains(&t.dtype) {
            Ok(t)
        } else {
            Err(self.unsupported(format!("input {i} has type {}", t.dtype)))
        }
    }

    /// Per-tensor `(scale, zero_point)` of a quantized operand or result, or an error.
    pub fn per_tensor_quant(&self, t: &Tensor) -> Result<(f32, i32)> {
        match t.per_tensor_quant() {
            Some((s, z)) if s > 0.0 && s.is_finite() && i32::try_from(z).is_ok() => {
                Ok((s, z as i32))
            }
            Some(_) => Err(self.err(format!(
                "tensor \"{}\" has an invalid scale or zero point",
                t.name
            ))),
            None => Err(self.err(format!(
                "tensor \"{}\" of type {} needs per-tensor quantization",
                t.name, t.dtype
            ))),
        }
    }

    /// Per-axis (or per-tensor, broadcast to `n`) quantization of a quantized weight operand.
    pub fn channel_quant(&self, t: &Tensor, n: usize) -> Result<(Vec<f32>, Vec<i64>)> {
        let q: &Quant = t.quant.as_ref().ok_or_else(|| {
            self.err(format!(
                "tensor \"{}\" of type {} needs quantization",
                t.name, t.dtype
            ))
        })?;
        if q.scale.len() == 1 {
            Ok((vec![q.scale[0]; n], vec![q.zero_point[0]; n]))
        } else if q.scale.len() == n {
            Ok((q.scale.clone(), q.zero_point.clone()))
        } else {
            Err(self.err(format!(
                "tensor \"{}\" has {} scales for {n} channels",
                t.name,
                q.scale.len()
            )))
        }
    }
}

/// What a reference evaluation sees: the op, its operands' values and fresh result buffers.
#[derive(Debug)]
pub struct EvalCx<'a> {
    /// The graph.
    pub graph: &'a Graph,
    /// The op.
    pub node: &'a OpNode,
    /// Operand values (`None` for omitted optional operands).
    pub inputs: Vec<Option<&'a Buf>>,
    /// Result buffers, zeroed, sized from the result tensors.
    pub outputs: Vec<Buf>,
}

impl<'a> EvalCx<'a> {
    /// Runs `exec` on `inputs` (usually this op's operand values, some possibly replaced by
    /// lowered data) exactly as the interpreter runs a step: constant folding and the Program
    /// share one kernel implementation.
    ///
    /// # Errors
    /// The kernel's.
    pub fn run_step<'b>(
        &mut self,
        inputs: Vec<Option<&'b Buf>>,
        scratch_bytes: usize,
        exec: impl for<'x> FnOnce(&mut crate::interp::StepIo<'x>) -> Result<()>,
    ) -> Result<()> {
        let node = self.node;
        let origin = crate::lower::Origin {
            ops: node.tflite_index.into_iter().collect(),
            op: node.op.kind().tflite_name(),
            tensors: Vec::new(),
        };
        let mut io = crate::interp::StepIo {
            inputs,
            outputs: std::mem::take(&mut self.outputs),
            scratch: Buf::zeroed(scratch_bytes),
            origin: &origin,
        };
        let r = exec(&mut io);
        self.outputs = io.outputs;
        r
    }

    /// The shape rule's view of the same op.
    pub fn infer_cx(&self) -> InferCx<'a> {
        InferCx {
            graph: self.graph,
            node: self.node,
        }
    }

    /// An error at this op.
    pub fn err(&self, msg: impl Into<String>) -> Error {
        self.infer_cx().err(msg)
    }

    /// Operand tensor `i` (type, shape, quantization).
    pub fn in_tensor(&self, i: usize) -> Result<&'a Tensor> {
        self.infer_cx().input(i)
    }

    /// Result tensor `i`.
    pub fn out_tensor(&self, i: usize) -> Result<&'a Tensor> {
        self.infer_cx().output(i)
    }

    /// Operand `i`'s values as `T` (which must match the operand's element type).
    pub fn input<T: bytemuck::Pod>(&self, i: usize) -> Result<&'a [T]> {
        match self.inputs.get(i).copied().flatten() {
            Some(b) => b
                .as_slice::<T>()
                .ok_or_else(|| self.err(format!("input {i}: element type mismatch"))),
            None => Err(self.err(format!("input {i} is missing"))),
        }
    }

    /// Operand `i`'s values if present.
    pub fn opt_input<T: bytemuck::Pod>(&self, i: usize) -> Result<Option<&'a [T]>> {
        match self.inputs.get(i).copied().flatten() {
            Some(_) => self.input(i).map(Some),
            None => Ok(None),
        }
    }

    /// Result `i`'s buffer as `T`.
    pub fn output<T: bytemuck::Pod>(&mut self, i: usize) -> Result<&mut [T]> {
        let loc = self.infer_cx().loc();
        match self.outputs.get_mut(i) {
            Some(b) => b
                .as_mut_slice::<T>()
                .ok_or_else(|| Error::invalid(loc, format!("output {i}: element type mismatch"))),
            None => Err(Error::invalid(loc, format!("output {i} is missing"))),
        }
    }
}

/// A family kernel with what its step needs besides the op's own operands: operand slots whose
/// bytes the lowering computed (pre-packed weights, folded biases; a slot past the op's operands
/// adds one), kernel scratch and the in-place hint.
///
/// `lower_*` turns it into a [`Step`] ([`Lowered::into_step`]) and `eval_*` runs the same kernel
/// on the op's values ([`Lowered::eval`]), so the Program and the reference evaluation share one
/// implementation.
#[derive(Debug)]
pub struct Lowered<K> {
    /// The kernel with its parameters.
    pub kernel: K,
    /// `(operand slot, bytes)` replacing (or adding) operands.
    pub packed: Vec<(usize, Vec<u8>)>,
    /// Scratch bytes (see [`Step::scratch_bytes`]).
    pub scratch_bytes: usize,
    /// See [`Step::in_place`].
    pub in_place: Option<usize>,
}

impl<K> Lowered<K> {
    /// A kernel that reads the op's operands as they are.
    pub fn new(kernel: K) -> Lowered<K> {
        Lowered {
            kernel,
            packed: Vec::new(),
            scratch_bytes: 0,
            in_place: None,
        }
    }

    /// The step: the op's operands (constants copied into the blob) with the packed slots
    /// replaced by their bytes in the blob.
    ///
    /// # Errors
    /// As [`LowerCx::operand`].
    pub fn into_step(
        self,
        cx: &mut LowerCx<'_>,
        wrap: impl FnOnce(K) -> crate::lower::Kernel,
    ) -> Result<Step> {
        let n = self
            .packed
            .iter()
            .map(|(slot, _)| slot + 1)
            .fold(cx.icx.node.inputs.len(), usize::max);
        let mut inputs = Vec::with_capacity(n);
        for i in 0..n {
            inputs.push(match self.packed.iter().find(|(slot, _)| *slot == i) {
                Some((_, bytes)) => Some(cx.packed(bytes)),
                None => cx.operand(i)?,
            });
        }
        let mut step = Step::new(wrap(self.kernel), inputs, cx.outputs()?, cx.origin());
        step.scratch_bytes = self.scratch_bytes;
        step.in_place = self.in_place;
        Ok(step)
    }

    /// Runs the kernel on the values of `cx` (the packed slots replaced), through `exec` as the
    /// interpreter would.
    ///
    /// # Errors
    /// The kernel's.
    pub fn eval(
        &self,
        cx: &mut EvalCx<'_>,
        exec: impl FnOnce(&K, &mut crate::interp::StepIo<'_>) -> Result<()>,
    ) -> Result<()> {
        let packed: Vec<(usize, Buf)> = self
            .packed
            .iter()
            .map(|(s, b)| (*s, Buf::from_bytes(b)))
            .collect();
        let n = packed
            .iter()
            .map(|(slot, _)| slot + 1)
            .fold(cx.inputs.len(), usize::max);
        let inputs = (0..n)
            .map(|i| match packed.iter().find(|(slot, _)| *slot == i) {
                Some((_, b)) => Some(b),
                None => cx.inputs.get(i).copied().flatten(),
            })
            .collect();
        cx.run_step(inputs, self.scratch_bytes, |io| exec(&self.kernel, io))
    }
}

/// The constant data of operand `i` as `T` (little-endian), or `None` when the operand is absent
/// or not a constant.
pub fn const_data<T: bytemuck::Pod>(cx: &InferCx<'_>, i: usize) -> Option<Vec<T>> {
    let t = cx.opt_input(i)?;
    let d = t.data.as_ref()?;
    let size = std::mem::size_of::<T>();
    if size == 0 || d.len() % size != 0 {
        return None;
    }
    Some(
        d.chunks_exact(size)
            .map(bytemuck::pod_read_unaligned)
            .collect(),
    )
}

/// Output shapes of op `id` by its shape rule (checked against the model's shapes by the verifier).
pub fn infer(graph: &Graph, id: OpId) -> Result<Vec<Shape>> {
    let node = graph.op(id);
    let cx = InferCx { graph, node };
    match &node.op {
        Op::Conv2d(a) => conv_2d::infer_conv_2d(&cx, a),
        Op::DepthwiseConv2d(a) => conv_2d::infer_depthwise_conv_2d(&cx, a),
        Op::TransposeConv(a) => conv_2d::infer_transpose_conv(&cx, a),
        Op::FullyConnected(a) => fully_connected::infer_fully_connected(&cx, a),
        Op::Add(a) => binary::infer_add(&cx, a),
        Op::Sub(a) => binary::infer_sub(&cx, a),
        Op::Mul(a) => binary::infer_mul(&cx, a),
        Op::Div(a) => binary::infer_div(&cx, a),
        Op::SquaredDifference(_) => binary::infer_squared_difference(&cx),
        Op::Maximum(_) => binary::infer_maximum(&cx),
        Op::Minimum(_) => binary::infer_minimum(&cx),
        Op::Rsqrt(_) => unary::infer_rsqrt(&cx),
        Op::Sqrt(_) => unary::infer_sqrt(&cx),
        Op::Exp(_) => unary::infer_exp(&cx),
        Op::Concatenation(a) => concatenation::infer_concatenation(&cx, a),
        Op::AveragePool2d(a) => pool_2d::infer_average_pool_2d(&cx, a),
        Op::MaxPool2d(a) => pool_2d::infer_max_pool_2d(&cx, a),
        Op::Mean(a) => reduce::infer_mean(&cx, a),
        Op::Sum(a) => reduce::infer_sum(&cx, a),
        Op::ReduceMax(a) => reduce::infer_reduce_max(&cx, a),
        Op::Pad(_) => pad::infer_pad(&cx),
        Op::PadV2(_) => pad::infer_pad_v2(&cx),
        Op::MirrorPad(a) => pad::infer_mirror_pad(&cx, a),
        Op::Reshape(_) => reshape::infer_reshape(&cx),
        Op::Squeeze(a) => reshape::infer_squeeze(&cx, a),
        Op::ExpandDims(_) => reshape::infer_expand_dims(&cx),
        Op::Transpose(_) => transpose::infer_transpose(&cx),
        Op::Slice(_) => slice::infer_slice(&cx),
        Op::StridedSlice(a) => slice::infer_strided_slice(&cx, a),
        Op::Split(a) => split_pack::infer_split(&cx, a),
        Op::SplitV(a) => split_pack::infer_split_v(&cx, a),
        Op::Pack(a) => split_pack::infer_pack(&cx, a),
        Op::Unpack(a) => split_pack::infer_unpack(&cx, a),
        Op::Gather(a) => gather::infer_gather(&cx, a),
        Op::Shape(a) => reshape::infer_shape(&cx, a),
        Op::Softmax(a) => softmax::infer_softmax(&cx, a),
        Op::LogSoftmax(_) => softmax::infer_log_softmax(&cx),
        Op::Logistic(_) => logistic_tanh::infer_logistic(&cx),
        Op::Tanh(_) => logistic_tanh::infer_tanh(&cx),
        Op::Relu(_) => activation::infer_relu(&cx),
        Op::Relu6(_) => activation::infer_relu6(&cx),
        Op::ReluN1To1(_) => activation::infer_relu_n1_to_1(&cx),
        Op::LeakyRelu(a) => activation::infer_leaky_relu(&cx, a),
        Op::Prelu(_) => activation::infer_prelu(&cx),
        Op::HardSwish(_) => activation::infer_hard_swish(&cx),
        Op::Quantize(_) => quantize::infer_quantize(&cx),
        Op::Dequantize(_) => quantize::infer_dequantize(&cx),
        Op::Cast(a) => quantize::infer_cast(&cx, a),
        Op::ResizeBilinear(a) => resize::infer_resize_bilinear(&cx, a),
        Op::ResizeNearestNeighbor(a) => resize::infer_resize_nearest_neighbor(&cx, a),
        Op::DepthToSpace(a) => depth_to_space::infer_depth_to_space(&cx, a),
        Op::SpaceToDepth(a) => depth_to_space::infer_space_to_depth(&cx, a),
        Op::ArgMax(a) => arg_max::infer_arg_max(&cx, a),
        Op::Densify(_) => reshape::infer_densify(&cx),
        Op::L2Normalization(_) => l2_normalization::infer_l2_normalization(&cx),
    }
}

/// Lowers the op of `cx` to kernel steps (see [`crate::lower`]).
///
/// # Errors
/// Parameters that cannot be computed.
pub fn lower(cx: &mut LowerCx<'_>) -> Result<Vec<Step>> {
    let node = cx.icx.node;
    match &node.op {
        Op::Conv2d(a) => conv_2d::lower_conv_2d(cx, a),
        Op::DepthwiseConv2d(a) => conv_2d::lower_depthwise_conv_2d(cx, a),
        Op::TransposeConv(a) => conv_2d::lower_transpose_conv(cx, a),
        Op::FullyConnected(a) => fully_connected::lower_fully_connected(cx, a),
        Op::Add(a) => binary::lower_add(cx, a),
        Op::Sub(a) => binary::lower_sub(cx, a),
        Op::Mul(a) => binary::lower_mul(cx, a),
        Op::Div(a) => binary::lower_div(cx, a),
        Op::SquaredDifference(_) => binary::lower_squared_difference(cx),
        Op::Maximum(_) => binary::lower_maximum(cx),
        Op::Minimum(_) => binary::lower_minimum(cx),
        Op::Rsqrt(_) => unary::lower_rsqrt(cx),
        Op::Sqrt(_) => unary::lower_sqrt(cx),
        Op::Exp(_) => unary::lower_exp(cx),
        Op::Concatenation(a) => concatenation::lower_concatenation(cx, a),
        Op::AveragePool2d(a) => pool_2d::lower_average_pool_2d(cx, a),
        Op::MaxPool2d(a) => pool_2d::lower_max_pool_2d(cx, a),
        Op::Mean(a) => reduce::lower_mean(cx, a),
        Op::Sum(a) => reduce::lower_sum(cx, a),
        Op::ReduceMax(a) => reduce::lower_reduce_max(cx, a),
        Op::Pad(_) => pad::lower_pad(cx),
        Op::PadV2(_) => pad::lower_pad_v2(cx),
        Op::MirrorPad(a) => pad::lower_mirror_pad(cx, a),
        Op::Reshape(_) => reshape::lower_reshape(cx),
        Op::Squeeze(a) => reshape::lower_squeeze(cx, a),
        Op::ExpandDims(_) => reshape::lower_expand_dims(cx),
        Op::Transpose(_) => transpose::lower_transpose(cx),
        Op::Slice(_) => slice::lower_slice(cx),
        Op::StridedSlice(a) => slice::lower_strided_slice(cx, a),
        Op::Split(a) => split_pack::lower_split(cx, a),
        Op::SplitV(a) => split_pack::lower_split_v(cx, a),
        Op::Pack(a) => split_pack::lower_pack(cx, a),
        Op::Unpack(a) => split_pack::lower_unpack(cx, a),
        Op::Gather(a) => gather::lower_gather(cx, a),
        Op::Shape(a) => reshape::lower_shape(cx, a),
        Op::Softmax(a) => softmax::lower_softmax(cx, a),
        Op::LogSoftmax(_) => softmax::lower_log_softmax(cx),
        Op::Logistic(_) => logistic_tanh::lower_logistic(cx),
        Op::Tanh(_) => logistic_tanh::lower_tanh(cx),
        Op::Relu(_) => activation::lower_relu(cx),
        Op::Relu6(_) => activation::lower_relu6(cx),
        Op::ReluN1To1(_) => activation::lower_relu_n1_to_1(cx),
        Op::LeakyRelu(a) => activation::lower_leaky_relu(cx, a),
        Op::Prelu(_) => activation::lower_prelu(cx),
        Op::HardSwish(_) => activation::lower_hard_swish(cx),
        Op::Quantize(_) => quantize::lower_quantize(cx),
        Op::Dequantize(_) => quantize::lower_dequantize(cx),
        Op::Cast(a) => quantize::lower_cast(cx, a),
        Op::ResizeBilinear(a) => resize::lower_resize_bilinear(cx, a),
        Op::ResizeNearestNeighbor(a) => resize::lower_resize_nearest_neighbor(cx, a),
        Op::DepthToSpace(a) => depth_to_space::lower_depth_to_space(cx, a),
        Op::SpaceToDepth(a) => depth_to_space::lower_space_to_depth(cx, a),
        Op::ArgMax(a) => arg_max::lower_arg_max(cx, a),
        Op::Densify(_) => reshape::lower_densify(cx),
        Op::L2Normalization(_) => l2_normalization::lower_l2_normalization(cx),
    }
}

/// Runs op `cx.node` with the reference kernels, filling `cx.outputs`.
pub fn eval(cx: &mut EvalCx<'_>) -> Result<()> {
    let op = &cx.node.op;
    match op {
        Op::Conv2d(a) => conv_2d::eval_conv_2d(cx, a),
        Op::DepthwiseConv2d(a) => conv_2d::eval_depthwise_conv_2d(cx, a),
        Op::TransposeConv(a) => conv_2d::eval_transpose_conv(cx, a),
        Op::FullyConnected(a) => fully_connected::eval_fully_connected(cx, a),
        Op::Add(a) => binary::eval_add(cx, a),
        Op::Sub(a) => binary::eval_sub(cx, a),
        Op::Mul(a) => binary::eval_mul(cx, a),
        Op::Div(a) => binary::eval_div(cx, a),
        Op::SquaredDifference(_) => binary::eval_squared_difference(cx),
        Op::Maximum(_) => binary::eval_maximum(cx),
        Op::Minimum(_) => binary::eval_minimum(cx),
        Op::Rsqrt(_) => unary::eval_rsqrt(cx),
        Op::Sqrt(_) => unary::eval_sqrt(cx),
        Op::Exp(_) => unary::eval_exp(cx),
        Op::Concatenation(a) => concatenation::eval_concatenation(cx, a),
        Op::AveragePool2d(a) => pool_2d::eval_average_pool_2d(cx, a),
        Op::MaxPool2d(a) => pool_2d::eval_max_pool_2d(cx, a),
        Op::Mean(a) => reduce::eval_mean(cx, a),
        Op::Sum(a) => reduce::eval_sum(cx, a),
        Op::ReduceMax(a) => reduce::eval_reduce_max(cx, a),
        Op::Pad(_) => pad::eval_pad(cx),
        Op::PadV2(_) => pad::eval_pad_v2(cx),
        Op::MirrorPad(a) => pad::eval_mirror_pad(cx, a),
        Op::Reshape(_) => reshape::eval_copy(cx),
        Op::Squeeze(_) => reshape::eval_copy(cx),
        Op::ExpandDims(_) => reshape::eval_copy(cx),
        Op::Transpose(_) => transpose::eval_transpose(cx),
        Op::Slice(_) => slice::eval_slice(cx),
        Op::StridedSlice(a) => slice::eval_strided_slice(cx, a),
        Op::Split(a) => split_pack::eval_split(cx, a),
        Op::SplitV(a) => split_pack::eval_split_v(cx, a),
        Op::Pack(a) => split_pack::eval_pack(cx, a),
        Op::Unpack(a) => split_pack::eval_unpack(cx, a),
        Op::Gather(a) => gather::eval_gather(cx, a),
        Op::Shape(a) => reshape::eval_shape(cx, a),
        Op::Softmax(a) => softmax::eval_softmax(cx, a),
        Op::LogSoftmax(_) => softmax::eval_log_softmax(cx),
        Op::Logistic(_) => logistic_tanh::eval_logistic(cx),
        Op::Tanh(_) => logistic_tanh::eval_tanh(cx),
        Op::Relu(_) => activation::eval_relu(cx),
        Op::Relu6(_) => activation::eval_relu6(cx),
        Op::ReluN1To1(_) => activation::eval_relu_n1_to_1(cx),
        Op::LeakyRelu(a) => activation::eval_leaky_relu(cx, a),
        Op::Prelu(_) => activation::eval_prelu(cx),
        Op::HardSwish(_) => activation::eval_hard_swish(cx),
        Op::Quantize(_) => quantize::eval_quantize(cx),
        Op::Dequantize(_) => quantize::eval_dequantize(cx),
        Op::Cast(a) => quantize::eval_cast(cx, a),
        Op::ResizeBilinear(a) => resize::eval_resize_bilinear(cx, a),
        Op::ResizeNearestNeighbor(a) => resize::eval_resize_nearest_neighbor(cx, a),
        Op::DepthToSpace(a) => depth_to_space::eval_depth_to_space(cx, a),
        Op::SpaceToDepth(a) => depth_to_space::eval_space_to_depth(cx, a),
        Op::ArgMax(a) => arg_max::eval_arg_max(cx, a),
        Op::Densify(_) => reshape::eval_copy(cx),
        Op::L2Normalization(_) => l2_normalization::eval_l2_normalization(cx),
    }
}

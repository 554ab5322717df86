//! The closed set of operations, generated from one table.
//!
//! Every op mvcc supports is one variant of [`Op`], with one attributes struct. The table below is
//! the single source of the op's IR name, its TFLite builtin code and the supported-ops list; adding
//! a row makes every `match` over [`Op`] (which have no catch-all arm) fail to compile until the new
//! op is handled in the importer, shape inference and the interpreter.
//!
//! Operands are tensors, as in TFLite: parameters that TFLite passes as constant tensors (MEAN's
//! axes, TRANSPOSE's permutation, PAD's paddings, …) stay operands and must be constant after
//! constant folding; attributes hold what TFLite puts in the builtin options.

use std::fmt;

use super::types::DType;

/// Padding scheme of convolutions and pools (TFLite `Padding`, plus explicit amounts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// Output size `ceil(in / stride)`, the extra padding at the bottom/right.
    Same,
    /// No padding: output size `ceil((in − dilated_filter + 1) / stride)`.
    Valid,
    /// Explicit amounts on each side (no TFLite option writes this; `passes::fold_pad` folds a
    /// zero PAD into a convolution's padding): output size
    /// `(in + before + after − dilated_filter) / stride + 1`; padded taps read zero (the input's
    /// zero point in quantized convolutions), exactly as TFLite's own padding does. CONV_2D and
    /// DEPTHWISE_CONV_2D accept it, and the pools (NNAPI's explicit form; padded cells are left
    /// out of the window).
    Explicit {
        /// Rows before the first.
        top: usize,
        /// Rows after the last.
        bottom: usize,
        /// Columns before the first.
        left: usize,
        /// Columns after the last.
        right: usize,
    },
}

impl Padding {
    /// The explicit `[before, after]` amounts along `axis` (0 height, 1 width); `None` for SAME
    /// and VALID, whose amounts depend on the sizes.
    pub fn explicit(self, axis: usize) -> Option<[usize; 2]> {
        match self {
            Padding::Explicit {
                top,
                bottom,
                left,
                right,
            } => Some(if axis == 0 {
                [top, bottom]
            } else {
                [left, right]
            }),
            Padding::Same | Padding::Valid => None,
        }
    }
}

/// A fused activation (TFLite `ActivationFunctionType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// Identity.
    None,
    /// `max(x, 0)`.
    Relu,
    /// `clamp(x, -1, 1)`.
    ReluN1To1,
    /// `clamp(x, 0, 6)`.
    Relu6,
    /// `tanh(x)` (float only).
    Tanh,
}

impl Activation {
    fn name(self) -> &'static str {
        match self {
            Activation::None => "none",
            Activation::Relu => "relu",
            Activation::ReluN1To1 => "relu_n1_to_1",
            Activation::Relu6 => "relu6",
            Activation::Tanh => "tanh",
        }
    }
}

/// MIRROR_PAD mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MirrorPadMode {
    /// Mirror without repeating the border element.
    Reflect,
    /// Mirror including the border element.
    Symmetric,
}

/// A residual ADD fused into a CONV_2D (`passes::fuse_residual_add`): operand 3, a tensor of the
/// result's shape and type, is added to the convolution's result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Residual {
    /// Quantization `(scale, zero point)` of the convolution's own result before the addition
    /// (the ADD operand the fusion removed); `None` in float.
    pub conv_quant: Option<(f32, i64)>,
}

/// Attributes of CONV_2D.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2dAttrs {
    /// Padding scheme.
    pub padding: Padding,
    /// `[stride_h, stride_w]`.
    pub stride: [usize; 2],
    /// `[dilation_h, dilation_w]`.
    pub dilation: [usize; 2],
    /// Fused activation; with a residual, the ADD's, applied to the sum.
    pub act: Activation,
    /// A fused residual ADD. The convolution's own result is finished as an unfused CONV_2D
    /// with no activation stores it (float: clamped to `±FLT_MAX`; quantized: requantized to
    /// [`Residual::conv_quant`], clamped to the type's range), then added to operand 3 with
    /// TFLite's ADD arithmetic and `act`'s clamp: bit-identical to the two ops.
    pub residual: Option<Residual>,
}

/// Attributes of DEPTHWISE_CONV_2D.
#[derive(Clone, Debug, PartialEq)]
pub struct DepthwiseConv2dAttrs {
    /// Padding scheme.
    pub padding: Padding,
    /// `[stride_h, stride_w]`.
    pub stride: [usize; 2],
    /// `[dilation_h, dilation_w]`.
    pub dilation: [usize; 2],
    /// Output channels per input channel (TFLite derives it from the filter shape; the option is
    /// checked against it).
    pub depth_multiplier: usize,
    /// Fused activation.
    pub act: Activation,
}

/// Attributes of TRANSPOSE_CONV.
#[derive(Clone, Debug, PartialEq)]
pub struct TransposeConvAttrs {
    /// Padding scheme.
    pub padding: Padding,
    /// `[stride_h, stride_w]`.
    pub stride: [usize; 2],
    /// Fused activation (version 4+).
    pub act: Activation,
}

/// Attributes of FULLY_CONNECTED.
#[derive(Clone, Debug, PartialEq)]
pub struct FullyConnectedAttrs {
    /// Fused activation.
    pub act: Activation,
    /// Keep the input's leading dimensions instead of flattening them to a batch.
    pub keep_num_dims: bool,
}

/// Attributes of element-wise ops with a fused activation (ADD, SUB, MUL, DIV).
#[derive(Clone, Debug, PartialEq)]
pub struct FusedActAttrs {
    /// Fused activation.
    pub act: Activation,
}

/// Attributes of CONCATENATION.
#[derive(Clone, Debug, PartialEq)]
pub struct ConcatAttrs {
    /// Axis (negative counts from the end).
    pub axis: i32,
    /// Fused activation.
    pub act: Activation,
}

/// Attributes of AVERAGE_POOL_2D and MAX_POOL_2D.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool2dAttrs {
    /// Padding scheme.
    pub padding: Padding,
    /// `[stride_h, stride_w]`.
    pub stride: [usize; 2],
    /// `[filter_h, filter_w]`.
    pub filter: [usize; 2],
    /// Fused activation.
    pub act: Activation,
}

/// Attributes of MEAN, SUM and REDUCE_MAX (the axes are operand 1).
#[derive(Clone, Debug, PartialEq)]
pub struct ReduceAttrs {
    /// Keep reduced dimensions with size 1.
    pub keep_dims: bool,
}

/// Attributes of MIRROR_PAD.
#[derive(Clone, Debug, PartialEq)]
pub struct MirrorPadAttrs {
    /// Mirror mode.
    pub mode: MirrorPadMode,
}

/// Attributes of SQUEEZE.
#[derive(Clone, Debug, PartialEq)]
pub struct SqueezeAttrs {
    /// Dimensions to remove (all size-1 dimensions when empty).
    pub dims: Vec<i32>,
}

/// Attributes of STRIDED_SLICE (begin, end and strides are operands 1–3).
#[derive(Clone, Debug, PartialEq)]
pub struct StridedSliceAttrs {
    /// Bit i set: ignore begin\[i\], start at the first element.
    pub begin_mask: i32,
    /// Bit i set: ignore end\[i\], run to the last element.
    pub end_mask: i32,
    /// Bit i set: an ellipsis.
    pub ellipsis_mask: i32,
    /// Bit i set: insert a new dimension of size 1.
    pub new_axis_mask: i32,
    /// Bit i set: take one element and drop the dimension.
    pub shrink_axis_mask: i32,
    /// `end` is an offset from `begin`.
    pub offset: bool,
}

/// Attributes of SPLIT and SPLIT_V.
#[derive(Clone, Debug, PartialEq)]
pub struct SplitAttrs {
    /// Number of outputs.
    pub num_splits: usize,
}

/// Attributes of PACK and UNPACK.
#[derive(Clone, Debug, PartialEq)]
pub struct PackAttrs {
    /// Number of packed (or unpacked) tensors.
    pub count: usize,
    /// Axis of the new (or removed) dimension.
    pub axis: i32,
}

/// Attributes of GATHER.
#[derive(Clone, Debug, PartialEq)]
pub struct GatherAttrs {
    /// Axis of the params operand gathered from.
    pub axis: i32,
    /// Leading batch dimensions shared by params and indices.
    pub batch_dims: i32,
}

/// Attributes of SOFTMAX.
#[derive(Clone, Debug, PartialEq)]
pub struct SoftmaxAttrs {
    /// Inverse temperature.
    pub beta: f32,
}

/// Attributes of LEAKY_RELU.
#[derive(Clone, Debug, PartialEq)]
pub struct LeakyReluAttrs {
    /// Slope for negative inputs.
    pub alpha: f32,
}

/// Attributes of RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR (the size is operand 1).
#[derive(Clone, Debug, PartialEq)]
pub struct ResizeAttrs {
    /// Align the corner pixels of input and output.
    pub align_corners: bool,
    /// Sample at pixel centres.
    pub half_pixel_centers: bool,
}

/// Attributes of DEPTH_TO_SPACE and SPACE_TO_DEPTH.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockAttrs {
    /// Block size.
    pub block_size: usize,
}

/// Attributes of ops that have none.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct NoAttrs;

/// Attributes of SHAPE, ARG_MAX and CAST whose output type the output tensor already states.
#[derive(Clone, Debug, PartialEq)]
pub struct OutTypeAttrs {
    /// The output element type.
    pub out: DType,
}

/// Writes attributes as `{key=value, …}` in the IR text form.
pub trait AttrsText {
    /// The `key=value` pairs, in a fixed order.
    fn pairs(&self) -> Vec<(&'static str, String)>;
}

fn hw(v: [usize; 2]) -> String {
    format!("[{},{}]", v[0], v[1])
}

fn pad(p: Padding) -> String {
    match p {
        Padding::Same => "same".into(),
        Padding::Valid => "valid".into(),
        Padding::Explicit {
            top,
            bottom,
            left,
            right,
        } => format!("explicit(h=[{top},{bottom}],w=[{left},{right}])"),
    }
}

impl AttrsText for Conv2dAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("stride", hw(self.stride)),
            ("dilation", hw(self.dilation)),
            ("pad", pad(self.padding)),
            ("act", self.act.name().into()),
        ];
        match self.residual.map(|r| r.conv_quant) {
            None => {}
            Some(None) => v.push(("residual", "add".into())),
            Some(Some((s, z))) => v.push(("residual", format!("add(conv=q({s},{z}))"))),
        }
        v
    }
}
impl AttrsText for DepthwiseConv2dAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("stride", hw(self.stride)),
            ("dilation", hw(self.dilation)),
            ("pad", pad(self.padding)),
            ("depth_multiplier", self.depth_multiplier.to_string()),
            ("act", self.act.name().into()),
        ]
    }
}
impl AttrsText for TransposeConvAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("stride", hw(self.stride)),
            ("pad", pad(self.padding)),
            ("act", self.act.name().into()),
        ]
    }
}
impl AttrsText for FullyConnectedAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("act", self.act.name().into()),
            ("keep_num_dims", self.keep_num_dims.to_string()),
        ]
    }
}
impl AttrsText for FusedActAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![("act", self.act.name().into())]
    }
}
impl AttrsText for ConcatAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("axis", self.axis.to_string()),
            ("act", self.act.name().into()),
        ]
    }
}
impl AttrsText for Pool2dAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("filter", hw(self.filter)),
            ("stride", hw(self.stride)),
            ("pad", pad(self.padding)),
            ("act", self.act.name().into()),
        ]
    }
}
impl AttrsText for ReduceAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![("keep_dims", self.keep_dims.to_string())]
    }
}
impl AttrsText for MirrorPadAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let m = match self.mode {
            MirrorPadMode::Reflect => "reflect",
            MirrorPadMode::Symmetric => "symmetric",
        };
        vec![("mode", m.into())]
    }
}
impl AttrsText for SqueezeAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![("dims", format!("{:?}", self.dims).replace(' ', ""))]
    }
}
impl AttrsText for StridedSliceAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("begin_mask", self.begin_mask.to_string()),
            ("end_mask", self.end_mask.to_string()),
            ("ellipsis_mask", self.ellipsis_mask.to_string()),
            ("new_axis_mask", self.new_axis_mask.to_string()),
            ("shrink_axis_mask", self.shrink_axis_mask.to_string()),
            ("offset", self.offset.to_string()),
        ]
    }
}
impl AttrsText for SplitAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![("num_splits", self.num_splits.to_string())]
    }
}
impl AttrsText for PackAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("count", self.count.to_string()),
            ("axis", self.axis.to_string()),
        ]
    }
}
impl AttrsText for GatherAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("axis", self.axis.to_string()),
            ("batch_dims", self.batch_dims.to_string()),
        ]
    }
}
impl AttrsText for SoftmaxAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![("beta", format!("{:?}", self.beta))]
    }
}
impl AttrsText for LeakyReluAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![("alpha", format!("{:?}", self.alpha))]
    }
}
impl AttrsText for ResizeAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("align_corners", self.align_corners.to_string()),
            ("half_pixel_centers", self.half_pixel_centers.to_string()),
        ]
    }
}
impl AttrsText for BlockAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![("block_size", self.block_size.to_string())]
    }
}
impl AttrsText for NoAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}
impl AttrsText for OutTypeAttrs {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![("out", self.out.name().into())]
    }
}

macro_rules! define_ops {
    ($(
        $(#[$doc:meta])*
        $variant:ident($attrs:ty) = $name:literal, $tflite:literal, $code:literal;
    )*) => {
        /// An operation of the IR. See the module docs.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Op {
            $( $(#[$doc])* $variant($attrs), )*
        }

        /// The kind of an [`Op`], without attributes.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum OpKind {
            $( $(#[$doc])* $variant, )*
        }

        impl Op {
            /// The op's kind.
            pub fn kind(&self) -> OpKind {
                match self { $( Op::$variant(_) => OpKind::$variant, )* }
            }

            /// Attributes as `key=value` pairs for the text form.
            pub fn attr_pairs(&self) -> Vec<(&'static str, String)> {
                match self { $( Op::$variant(a) => a.pairs(), )* }
            }
        }

        impl OpKind {
            /// Every supported op kind, in table order.
            pub const ALL: &'static [OpKind] = &[ $( OpKind::$variant, )* ];

            /// The IR name (`conv_2d`).
            pub fn name(self) -> &'static str {
                match self { $( OpKind::$variant => $name, )* }
            }

            /// The TFLite builtin operator name (`CONV_2D`).
            pub fn tflite_name(self) -> &'static str {
                match self { $( OpKind::$variant => $tflite, )* }
            }

            /// The TFLite builtin operator code.
            pub fn tflite_code(self) -> i32 {
                match self { $( OpKind::$variant => $code, )* }
            }

            /// The op kind for a TFLite builtin code, if mvcc supports it.
            pub fn from_tflite_code(code: i32) -> Option<OpKind> {
                match code { $( $code => Some(OpKind::$variant), )* _ => None }
            }
        }
    };
}

define_ops! {
    /// CONV_2D: operands input `[N,H,W,Ci]`, filter `[Co,Kh,Kw,Ci]`, optional bias `[Co]`, and
    /// with a fused residual ADD ([`Conv2dAttrs::residual`]) the residual `[N,Ho,Wo,Co]`.
    /// float32; int8 with per-channel int8 filter and int32 bias; uint8 with per-tensor uint8
    /// filter. Follows `reference_ops::Conv` / `reference_integer_ops::ConvPerChannel` (and
    /// `reference_ops::Add` for the residual).
    Conv2d(Conv2dAttrs) = "conv_2d", "CONV_2D", 3;
    /// DEPTHWISE_CONV_2D: input `[N,H,W,Ci]`, filter `[1,Kh,Kw,Ci·m]`, optional bias.
    DepthwiseConv2d(DepthwiseConv2dAttrs) = "depthwise_conv_2d", "DEPTHWISE_CONV_2D", 4;
    /// TRANSPOSE_CONV: operands output_shape (const i32 `[4]`), filter `[Co,Kh,Kw,Ci]`, input,
    /// optional bias.
    TransposeConv(TransposeConvAttrs) = "transpose_conv", "TRANSPOSE_CONV", 67;
    /// FULLY_CONNECTED: input `[…, K]`, weights `[Co, K]`, optional bias `[Co]`.
    FullyConnected(FullyConnectedAttrs) = "fully_connected", "FULLY_CONNECTED", 9;
    /// ADD with NumPy broadcasting.
    Add(FusedActAttrs) = "add", "ADD", 0;
    /// SUB with NumPy broadcasting.
    Sub(FusedActAttrs) = "sub", "SUB", 41;
    /// MUL with NumPy broadcasting.
    Mul(FusedActAttrs) = "mul", "MUL", 18;
    /// DIV with NumPy broadcasting.
    Div(FusedActAttrs) = "div", "DIV", 42;
    /// SQUARED_DIFFERENCE `(a − b)²` with broadcasting.
    SquaredDifference(NoAttrs) = "squared_difference", "SQUARED_DIFFERENCE", 99;
    /// MAXIMUM with broadcasting.
    Maximum(NoAttrs) = "maximum", "MAXIMUM", 55;
    /// MINIMUM with broadcasting.
    Minimum(NoAttrs) = "minimum", "MINIMUM", 57;
    /// RSQRT `1/√x`.
    Rsqrt(NoAttrs) = "rsqrt", "RSQRT", 76;
    /// SQRT.
    Sqrt(NoAttrs) = "sqrt", "SQRT", 75;
    /// EXP.
    Exp(NoAttrs) = "exp", "EXP", 47;
    /// CONCATENATION of any number of operands along an axis.
    Concatenation(ConcatAttrs) = "concatenation", "CONCATENATION", 2;
    /// AVERAGE_POOL_2D.
    AveragePool2d(Pool2dAttrs) = "average_pool_2d", "AVERAGE_POOL_2D", 1;
    /// MAX_POOL_2D.
    MaxPool2d(Pool2dAttrs) = "max_pool_2d", "MAX_POOL_2D", 17;
    /// MEAN over constant axes (operand 1).
    Mean(ReduceAttrs) = "mean", "MEAN", 40;
    /// SUM over constant axes (operand 1).
    Sum(ReduceAttrs) = "sum", "SUM", 74;
    /// REDUCE_MAX over constant axes (operand 1).
    ReduceMax(ReduceAttrs) = "reduce_max", "REDUCE_MAX", 82;
    /// PAD with zeros (the zero point in quantized tensors); paddings operand `[rank, 2]`.
    Pad(NoAttrs) = "pad", "PAD", 34;
    /// PADV2 with a constant value operand.
    PadV2(NoAttrs) = "pad_v2", "PADV2", 60;
    /// MIRROR_PAD.
    MirrorPad(MirrorPadAttrs) = "mirror_pad", "MIRROR_PAD", 100;
    /// RESHAPE (the shape comes from the output tensor).
    Reshape(NoAttrs) = "reshape", "RESHAPE", 22;
    /// SQUEEZE.
    Squeeze(SqueezeAttrs) = "squeeze", "SQUEEZE", 43;
    /// EXPAND_DIMS (axis operand 1).
    ExpandDims(NoAttrs) = "expand_dims", "EXPAND_DIMS", 70;
    /// TRANSPOSE (permutation operand 1).
    Transpose(NoAttrs) = "transpose", "TRANSPOSE", 39;
    /// SLICE (begin, size operands).
    Slice(NoAttrs) = "slice", "SLICE", 65;
    /// STRIDED_SLICE (begin, end, strides operands).
    StridedSlice(StridedSliceAttrs) = "strided_slice", "STRIDED_SLICE", 45;
    /// SPLIT: operands axis, input.
    Split(SplitAttrs) = "split", "SPLIT", 49;
    /// SPLIT_V: operands input, size_splits, axis.
    SplitV(SplitAttrs) = "split_v", "SPLIT_V", 102;
    /// PACK (stack) along a new axis.
    Pack(PackAttrs) = "pack", "PACK", 83;
    /// UNPACK (unstack) along an axis.
    Unpack(PackAttrs) = "unpack", "UNPACK", 88;
    /// GATHER: operands params, indices.
    Gather(GatherAttrs) = "gather", "GATHER", 36;
    /// SHAPE of the input (always constant-folded: shapes are static).
    Shape(OutTypeAttrs) = "shape", "SHAPE", 77;
    /// SOFTMAX over the last axis.
    Softmax(SoftmaxAttrs) = "softmax", "SOFTMAX", 25;
    /// LOG_SOFTMAX over the last axis.
    LogSoftmax(NoAttrs) = "log_softmax", "LOG_SOFTMAX", 50;
    /// LOGISTIC (sigmoid).
    Logistic(NoAttrs) = "logistic", "LOGISTIC", 14;
    /// TANH.
    Tanh(NoAttrs) = "tanh", "TANH", 28;
    /// RELU.
    Relu(NoAttrs) = "relu", "RELU", 19;
    /// RELU6.
    Relu6(NoAttrs) = "relu6", "RELU6", 21;
    /// RELU_N1_TO_1.
    ReluN1To1(NoAttrs) = "relu_n1_to_1", "RELU_N1_TO_1", 20;
    /// LEAKY_RELU.
    LeakyRelu(LeakyReluAttrs) = "leaky_relu", "LEAKY_RELU", 98;
    /// PRELU: operands input, alpha (broadcast).
    Prelu(NoAttrs) = "prelu", "PRELU", 54;
    /// HARD_SWISH `x · relu6(x + 3) / 6`.
    HardSwish(NoAttrs) = "hard_swish", "HARD_SWISH", 117;
    /// QUANTIZE: float → quantized, or requantize between quantized types/scales.
    Quantize(NoAttrs) = "quantize", "QUANTIZE", 114;
    /// DEQUANTIZE: quantized or float16 → float32.
    Dequantize(NoAttrs) = "dequantize", "DEQUANTIZE", 6;
    /// CAST between element types.
    Cast(OutTypeAttrs) = "cast", "CAST", 53;
    /// RESIZE_BILINEAR (size operand 1).
    ResizeBilinear(ResizeAttrs) = "resize_bilinear", "RESIZE_BILINEAR", 23;
    /// RESIZE_NEAREST_NEIGHBOR (size operand 1).
    ResizeNearestNeighbor(ResizeAttrs) = "resize_nearest_neighbor", "RESIZE_NEAREST_NEIGHBOR", 97;
    /// DEPTH_TO_SPACE.
    DepthToSpace(BlockAttrs) = "depth_to_space", "DEPTH_TO_SPACE", 5;
    /// SPACE_TO_DEPTH.
    SpaceToDepth(BlockAttrs) = "space_to_depth", "SPACE_TO_DEPTH", 26;
    /// ARG_MAX over a constant axis (operand 1).
    ArgMax(OutTypeAttrs) = "arg_max", "ARG_MAX", 56;
    /// DENSIFY: a sparse constant made dense (folded at import).
    Densify(NoAttrs) = "densify", "DENSIFY", 124;
    /// L2_NORMALIZATION over the last axis.
    L2Normalization(NoAttrs) = "l2_normalization", "L2_NORMALIZATION", 11;
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

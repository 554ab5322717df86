//! A small `.tflite` writer for tests: describe a model with plain structs, get FlatBuffer bytes.
//!
//! The TFLite converter folds most patterns mvcc's passes look for, and it never writes the
//! malformed files the reader must reject, so tests build such models here. Fields are written as
//! given, without validation: a test can write any index, size or shape it wants.

use super::schema_generated::tflite as fb;

/// A tensor of subgraph 0.
#[derive(Clone, Debug, Default)]
pub struct TensorSpec {
    /// Name.
    pub name: String,
    /// Shape, written as is (may be negative, zero, huge).
    pub shape: Vec<i32>,
    /// TFLite `TensorType` code (FLOAT32 0, INT32 2, UINT8 3, INT64 4, INT8 9, …).
    pub dtype: i8,
    /// Buffer index (0 = no data).
    pub buffer: u32,
    /// Quantization scales (empty = none).
    pub scale: Vec<f32>,
    /// Quantization zero points.
    pub zero_point: Vec<i64>,
    /// Quantized dimension.
    pub quantized_dimension: i32,
}

/// Builtin options of an operator.
#[derive(Clone, Debug, Default)]
pub enum OptionsSpec {
    /// No options table.
    #[default]
    None,
    /// CONV_2D: padding (0 SAME, 1 VALID), stride (h, w), activation code, dilation (h, w).
    Conv2d {
        /// Padding code.
        padding: i8,
        /// `[h, w]`.
        stride: [i32; 2],
        /// Activation code.
        act: i8,
        /// `[h, w]`.
        dilation: [i32; 2],
    },
    /// DEPTHWISE_CONV_2D.
    DepthwiseConv2d {
        /// Padding code.
        padding: i8,
        /// `[h, w]`.
        stride: [i32; 2],
        /// Depth multiplier.
        depth_multiplier: i32,
        /// Activation code.
        act: i8,
        /// `[h, w]`.
        dilation: [i32; 2],
    },
    /// ADD with an activation code.
    Add {
        /// Activation code.
        act: i8,
    },
    /// MUL with an activation code.
    Mul {
        /// Activation code.
        act: i8,
    },
    /// SUB with an activation code.
    Sub {
        /// Activation code.
        act: i8,
    },
    /// DIV with an activation code.
    Div {
        /// Activation code.
        act: i8,
    },
    /// SQUEEZE with the dimensions to remove.
    Squeeze {
        /// Dimensions (all size-1 dimensions when empty).
        dims: Vec<i32>,
    },
    /// FULLY_CONNECTED with an activation code.
    FullyConnected {
        /// Activation code.
        act: i8,
    },
    /// AVERAGE_POOL_2D / MAX_POOL_2D.
    Pool2d {
        /// Padding code.
        padding: i8,
        /// `[h, w]`.
        stride: [i32; 2],
        /// `[h, w]`.
        filter: [i32; 2],
        /// Activation code.
        act: i8,
    },
    /// RESHAPE with `new_shape`.
    Reshape {
        /// The new shape.
        new_shape: Vec<i32>,
    },
    /// SOFTMAX with beta.
    Softmax {
        /// Beta.
        beta: f32,
    },
    /// CONCATENATION.
    Concatenation {
        /// Axis.
        axis: i32,
        /// Activation code.
        act: i8,
    },
}

/// An operator.
#[derive(Clone, Debug, Default)]
pub struct OperatorSpec {
    /// Index into the op codes.
    pub opcode_index: u32,
    /// Input tensor indices (-1 = omitted).
    pub inputs: Vec<i32>,
    /// Output tensor indices.
    pub outputs: Vec<i32>,
    /// Options.
    pub options: OptionsSpec,
}

/// A buffer: inline data, or an external `(offset, size)` pair.
#[derive(Clone, Debug, Default)]
pub struct BufferSpec {
    /// Inline bytes.
    pub data: Vec<u8>,
    /// External data offset (used when > 1).
    pub offset: u64,
    /// External data size.
    pub size: u64,
}

/// A whole model (one subgraph).
#[derive(Clone, Debug)]
pub struct ModelSpec {
    /// Schema version (3).
    pub version: u32,
    /// `(builtin code, version)` per op code; code 32 is CUSTOM.
    pub opcodes: Vec<(i32, i32)>,
    /// Tensors.
    pub tensors: Vec<TensorSpec>,
    /// Buffers; buffer 0 should be empty.
    pub buffers: Vec<BufferSpec>,
    /// Operators, in execution order.
    pub operators: Vec<OperatorSpec>,
    /// Subgraph input tensor indices.
    pub inputs: Vec<i32>,
    /// Subgraph output tensor indices.
    pub outputs: Vec<i32>,
}

impl Default for ModelSpec {
    fn default() -> ModelSpec {
        ModelSpec {
            version: 3,
            opcodes: Vec::new(),
            tensors: Vec::new(),
            buffers: vec![BufferSpec::default()],
            operators: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
        }
    }
}

impl ModelSpec {
    /// Adds a buffer holding `data` and returns its index.
    pub fn add_buffer(&mut self, data: Vec<u8>) -> u32 {
        self.buffers.push(BufferSpec {
            data,
            ..BufferSpec::default()
        });
        (self.buffers.len() - 1) as u32
    }

    /// Adds a tensor and returns its index.
    pub fn add_tensor(&mut self, t: TensorSpec) -> i32 {
        self.tensors.push(t);
        (self.tensors.len() - 1) as i32
    }

    /// Adds an op code and returns its index.
    pub fn add_opcode(&mut self, code: i32, version: i32) -> u32 {
        self.opcodes.push((code, version));
        (self.opcodes.len() - 1) as u32
    }

    /// Serializes the model.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = flatbuffers::FlatBufferBuilder::new();
        let buffers: Vec<_> = self
            .buffers
            .iter()
            .map(|s| {
                let data = (!s.data.is_empty()).then(|| b.create_vector(&s.data));
                fb::Buffer::create(
                    &mut b,
                    &fb::BufferArgs {
                        data,
                        offset: s.offset,
                        size: s.size,
                    },
                )
            })
            .collect();
        let tensors: Vec<_> = self
            .tensors
            .iter()
            .map(|t| {
                let shape = Some(b.create_vector(&t.shape));
                let name = Some(b.create_string(&t.name));
                let quantization = (!t.scale.is_empty()).then(|| {
                    let scale = Some(b.create_vector(&t.scale));
                    let zero_point = Some(b.create_vector(&t.zero_point));
                    fb::QuantizationParameters::create(
                        &mut b,
                        &fb::QuantizationParametersArgs {
                            scale,
                            zero_point,
                            quantized_dimension: t.quantized_dimension,
                            ..Default::default()
                        },
                    )
                });
                fb::Tensor::create(
                    &mut b,
                    &fb::TensorArgs {
                        shape,
                        type_: fb::TensorType(t.dtype),
                        buffer: t.buffer,
                        name,
                        quantization,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let operators: Vec<_> = self
            .operators
            .iter()
            .map(|o| {
                let inputs = Some(b.create_vector(&o.inputs));
                let outputs = Some(b.create_vector(&o.outputs));
                let (ty, opts) = write_options(&mut b, &o.options);
                fb::Operator::create(
                    &mut b,
                    &fb::OperatorArgs {
                        opcode_index: o.opcode_index,
                        inputs,
                        outputs,
                        builtin_options_type: ty,
                        builtin_options: opts,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let tensors = Some(b.create_vector(&tensors));
        let operators = Some(b.create_vector(&operators));
        let inputs = Some(b.create_vector(&self.inputs));
        let outputs = Some(b.create_vector(&self.outputs));
        let sg = fb::SubGraph::create(
            &mut b,
            &fb::SubGraphArgs {
                tensors,
                inputs,
                outputs,
                operators,
                name: None,
            },
        );
        let codes: Vec<_> = self
            .opcodes
            .iter()
            .map(|&(code, version)| {
                fb::OperatorCode::create(
                    &mut b,
                    &fb::OperatorCodeArgs {
                        deprecated_builtin_code: code.min(127) as i8,
                        custom_code: None,
                        version,
                        builtin_code: code,
                    },
                )
            })
            .collect();
        let operator_codes = Some(b.create_vector(&codes));
        let subgraphs = Some(b.create_vector(&[sg]));
        let buffers = Some(b.create_vector(&buffers));
        let model = fb::Model::create(
            &mut b,
            &fb::ModelArgs {
                version: self.version,
                operator_codes,
                subgraphs,
                description: None,
                buffers,
            },
        );
        fb::finish_model_buffer(&mut b, model);
        b.finished_data().to_vec()
    }
}

type UnionOffset = flatbuffers::WIPOffset<flatbuffers::UnionWIPOffset>;

fn write_options(
    b: &mut flatbuffers::FlatBufferBuilder<'_>,
    o: &OptionsSpec,
) -> (fb::BuiltinOptions, Option<UnionOffset>) {
    use fb::ActivationFunctionType as A;
    match o {
        OptionsSpec::None => (fb::BuiltinOptions::NONE, None),
        OptionsSpec::Conv2d {
            padding,
            stride,
            act,
            dilation,
        } => {
            let x = fb::Conv2DOptions::create(
                b,
                &fb::Conv2DOptionsArgs {
                    padding: fb::Padding(*padding),
                    stride_h: stride[0],
                    stride_w: stride[1],
                    fused_activation_function: A(*act),
                    dilation_h_factor: dilation[0],
                    dilation_w_factor: dilation[1],
                    ..Default::default()
                },
            );
            (fb::BuiltinOptions::Conv2DOptions, Some(x.as_union_value()))
        }
        OptionsSpec::DepthwiseConv2d {
            padding,
            stride,
            depth_multiplier,
            act,
            dilation,
        } => {
            let x = fb::DepthwiseConv2DOptions::create(
                b,
                &fb::DepthwiseConv2DOptionsArgs {
                    padding: fb::Padding(*padding),
                    stride_h: stride[0],
                    stride_w: stride[1],
                    depth_multiplier: *depth_multiplier,
                    fused_activation_function: A(*act),
                    dilation_h_factor: dilation[0],
                    dilation_w_factor: dilation[1],
                },
            );
            (
                fb::BuiltinOptions::DepthwiseConv2DOptions,
                Some(x.as_union_value()),
            )
        }
        OptionsSpec::Add { act } => {
            let x = fb::AddOptions::create(
                b,
                &fb::AddOptionsArgs {
                    fused_activation_function: A(*act),
                    ..Default::default()
                },
            );
            (fb::BuiltinOptions::AddOptions, Some(x.as_union_value()))
        }
        OptionsSpec::Mul { act } => {
            let x = fb::MulOptions::create(
                b,
                &fb::MulOptionsArgs {
                    fused_activation_function: A(*act),
                },
            );
            (fb::BuiltinOptions::MulOptions, Some(x.as_union_value()))
        }
        OptionsSpec::Sub { act } => {
            let x = fb::SubOptions::create(
                b,
                &fb::SubOptionsArgs {
                    fused_activation_function: A(*act),
                    ..Default::default()
                },
            );
            (fb::BuiltinOptions::SubOptions, Some(x.as_union_value()))
        }
        OptionsSpec::Div { act } => {
            let x = fb::DivOptions::create(
                b,
                &fb::DivOptionsArgs {
                    fused_activation_function: A(*act),
                },
            );
            (fb::BuiltinOptions::DivOptions, Some(x.as_union_value()))
        }
        OptionsSpec::Squeeze { dims } => {
            let v = Some(b.create_vector(dims));
            let x = fb::SqueezeOptions::create(b, &fb::SqueezeOptionsArgs { squeeze_dims: v });
            (fb::BuiltinOptions::SqueezeOptions, Some(x.as_union_value()))
        }
        OptionsSpec::FullyConnected { act } => {
            let x = fb::FullyConnectedOptions::create(
                b,
                &fb::FullyConnectedOptionsArgs {
                    fused_activation_function: A(*act),
                    ..Default::default()
                },
            );
            (
                fb::BuiltinOptions::FullyConnectedOptions,
                Some(x.as_union_value()),
            )
        }
        OptionsSpec::Pool2d {
            padding,
            stride,
            filter,
            act,
        } => {
            let x = fb::Pool2DOptions::create(
                b,
                &fb::Pool2DOptionsArgs {
                    padding: fb::Padding(*padding),
                    stride_h: stride[0],
                    stride_w: stride[1],
                    filter_height: filter[0],
                    filter_width: filter[1],
                    fused_activation_function: A(*act),
                },
            );
            (fb::BuiltinOptions::Pool2DOptions, Some(x.as_union_value()))
        }
        OptionsSpec::Reshape { new_shape } => {
            let v = Some(b.create_vector(new_shape));
            let x = fb::ReshapeOptions::create(b, &fb::ReshapeOptionsArgs { new_shape: v });
            (fb::BuiltinOptions::ReshapeOptions, Some(x.as_union_value()))
        }
        OptionsSpec::Softmax { beta } => {
            let x = fb::SoftmaxOptions::create(b, &fb::SoftmaxOptionsArgs { beta: *beta });
            (fb::BuiltinOptions::SoftmaxOptions, Some(x.as_union_value()))
        }
        OptionsSpec::Concatenation { axis, act } => {
            let x = fb::ConcatenationOptions::create(
                b,
                &fb::ConcatenationOptionsArgs {
                    axis: *axis,
                    fused_activation_function: A(*act),
                },
            );
            (
                fb::BuiltinOptions::ConcatenationOptions,
                Some(x.as_union_value()),
            )
        }
    }
}

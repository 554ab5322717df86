//! Reference kernels, one module per op family.
//!
//! Each module holds the op family's parameter struct(s) — every field a compile-time constant
//! computed once by the compiler — and scalar reference implementations that follow TensorFlow
//! Lite's reference kernels. Tensors are dense, row-major (NHWC for images), passed as typed slices
//! whose lengths the compiler has checked against the shapes in the parameters.

pub mod activation;
pub mod arg_max;
pub mod binary;
pub mod common;
pub mod concatenation;
pub mod conv_2d;
pub mod depth_to_space;
pub mod depthwise_conv_2d;
pub mod fully_connected;
pub mod gather;
pub mod l2_normalization;
pub mod logistic_tanh;
pub mod pad;
pub mod pool_2d;
pub mod quantize;
pub mod reduce;
pub mod resize;
pub mod slice;
pub mod softmax;
pub mod split_pack;
pub mod transpose;
pub mod transpose_conv;
pub mod unary;

//! Reference kernels: `depthwise_conv_2d` (to be written).

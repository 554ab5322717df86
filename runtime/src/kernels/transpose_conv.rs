//! Reference kernels: `transpose_conv` (to be written).

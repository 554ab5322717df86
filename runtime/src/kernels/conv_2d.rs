//! Reference kernels: `conv_2d` (to be written).

//! Reference kernels: `softmax` (to be written).

//! Reference kernels: `l2_normalization` (to be written).

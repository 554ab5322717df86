//! Reference kernels: `split_pack` (to be written).

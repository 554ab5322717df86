//! Reference kernels: `pool_2d` (to be written).

//! Reference kernels: `slice` (to be written).

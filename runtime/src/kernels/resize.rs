//! Reference kernels: `resize` (to be written).

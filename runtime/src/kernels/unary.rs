//! Reference kernels: `unary` (to be written).

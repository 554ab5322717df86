//! Reference kernels: `reduce` (to be written).

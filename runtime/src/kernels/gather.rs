//! Reference kernels: `gather` (to be written).

//! Reference kernels: `concatenation` (to be written).

//! Reference kernels: `transpose` (to be written).

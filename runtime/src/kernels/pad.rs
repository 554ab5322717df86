//! Reference kernels: `pad` (to be written).

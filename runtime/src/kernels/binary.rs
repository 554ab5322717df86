//! Reference kernels: `binary` (to be written).

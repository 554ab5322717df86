//! Reference kernels: `quantize` (to be written).

//! Reference kernels: `activation` (to be written).

//! Reference kernels: `fully_connected` (to be written).

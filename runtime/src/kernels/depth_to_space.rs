//! Reference kernels: `depth_to_space` (to be written).

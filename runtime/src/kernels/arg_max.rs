//! Reference kernels: `arg_max` (to be written).

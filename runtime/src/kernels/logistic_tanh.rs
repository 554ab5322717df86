//! Reference kernels: `logistic_tanh` (to be written).

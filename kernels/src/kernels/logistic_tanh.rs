//! LOGISTIC and TANH (TFLite `kernels/activations.cc`, reference kernels).
//!
//! Float follows `reference_ops::Logistic` / `reference_ops::Tanh`. For `int8` and `uint8`,
//! TFLite's reference (and generic optimized) kernels look each value up in a 256-entry table
//! that `Prepare` fills by dequantizing every possible input, applying the float function and
//! requantizing (`LUTPopulate`); the compiler builds the same table, so the kernel here is the
//! lookup ([`lookup_table`]).

/// A 256-entry table indexed by the input byte (an `int8` value's two's-complement byte, as
/// TFLite's `LUTIndex`), holding the output byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LutParams {
    /// `table[input byte] = output byte`.
    pub table: [u8; 256],
}

/// `1 / (1 + exp(−x))` in float, as `reference_ops::Logistic`.
pub fn logistic_f32(input: &[f32], output: &mut [f32]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = 1.0 / (1.0 + libm::expf(-x));
    }
}

/// `tanh(x)` in float, as `reference_ops::Tanh`.
pub fn tanh_f32(input: &[f32], output: &mut [f32]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = libm::tanhf(x);
    }
}

/// `reference_integer_ops::LookupTable` for 8-bit tensors, on their bytes (`int8` tensors are
/// passed as their two's-complement bytes).
pub fn lookup_table(p: &LutParams, input: &[u8], output: &mut [u8]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = p.table[usize::from(x)];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_indexes_by_byte() {
        let mut table = [0u8; 256];
        for (i, t) in table.iter_mut().enumerate() {
            *t = (255 - i) as u8;
        }
        let p = LutParams { table };
        let input = [0u8, 1, 128, 255];
        let mut out = [0u8; 4];
        lookup_table(&p, &input, &mut out);
        assert_eq!(out, [255, 254, 127, 0]);
    }

    #[test]
    fn float_functions() {
        let mut out = [0.0f32; 2];
        logistic_f32(&[0.0, 100.0], &mut out);
        assert_eq!(out, [0.5, 1.0]);
        tanh_f32(&[0.0, -100.0], &mut out);
        assert_eq!(out, [0.0, -1.0]);
    }
}

//! What the model fuzz targets share.

use mvcc::interp::Buf;
use mvcc::ir::Graph;

/// The model in `data`, if it imports. Most random inputs fail the identifier check at once, so
/// they are also tried with it patched in: the fuzzer explores the FlatBuffer structure rather
/// than the first eight bytes. Models whose activations exceed 64 MiB are skipped (the importer
/// allows more than a fuzzer's memory limit).
pub fn small_model(data: &[u8]) -> Option<Graph> {
    let mut patched;
    let bytes = if data.len() >= 8 && &data[4..8] != b"TFL3" {
        patched = data.to_vec();
        patched[4..8].copy_from_slice(b"TFL3");
        &patched[..]
    } else {
        data
    };
    let g = mvcc::load_model(bytes).ok()?;
    let activations: usize = g.tensors.iter().filter(|t| !t.is_const()).map(|t| t.byte_len()).sum();
    (activations <= 64 << 20).then_some(g)
}

/// Zero-filled buffers for the model's inputs.
pub fn zero_inputs(g: &Graph) -> Vec<Buf> {
    g.inputs.iter().map(|&t| Buf::zeroed(g.tensor(t).byte_len())).collect()
}

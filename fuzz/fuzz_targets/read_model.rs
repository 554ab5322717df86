//! Fuzzes the reader and importer: any bytes must give a model or a clean error, and any model
//! that imports must run on zero inputs without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mvcc::interp::{Buf, Interpreter};

fuzz_target!(|data: &[u8]| {
    // Most random inputs fail the identifier check at once; also try them with it patched in, so
    // the fuzzer explores the FlatBuffer structure rather than the first eight bytes.
    let mut patched;
    let bytes = if data.len() >= 8 && &data[4..8] != b"TFL3" {
        patched = data.to_vec();
        patched[4..8].copy_from_slice(b"TFL3");
        &patched[..]
    } else {
        data
    };
    if let Ok(g) = mvcc::load_model(bytes) {
        // Running needs every tensor's memory; the importer caps it at MAX_ACTIVATION_BYTES, more
        // than a fuzzer's memory limit, so only small models run.
        let bytes: usize = g.tensors.iter().filter(|t| !t.is_const()).map(|t| t.byte_len()).sum();
        if bytes > 64 << 20 {
            return;
        }
        if let Ok((p, plan)) = mvcc::interp::compile(&g) {
            let inputs: Vec<Buf> = g.inputs.iter().map(|&t| Buf::zeroed(g.tensor(t).byte_len())).collect();
            let _ = Interpreter::new(&p, &plan).run(&inputs);
        }
    }
});

//! Fuzzes the reader and importer: any bytes must give a model or a clean error, and any model
//! that imports must run on zero inputs without panicking.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use mvcc::interp::Interpreter;

fuzz_target!(|data: &[u8]| {
    let Some(g) = common::small_model(data) else {
        return;
    };
    if let Ok((p, plan)) = mvcc::interp::compile(&g) {
        let _ = Interpreter::new(&p, &plan).run(&common::zero_inputs(&g));
    }
});

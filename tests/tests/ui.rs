//! `include_model!`'s error messages, checked with trybuild: a missing file, a model with
//! unsupported ops (all listed in one message at the path literal), a truncated model, bad macro
//! arguments, and a typed `run` called with the wrong element type. `TRYBUILD=overwrite`
//! rewrites the `.stderr` files.

#[test]
fn include_model_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*.rs");
}

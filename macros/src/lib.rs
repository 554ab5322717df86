//! `mvcc-macros`: the `include_model!` procedural macro.
//!
//! The macro arrives with the Rust back end (see `ARCHITECTURE.md`); this crate holds its place in
//! the workspace so the layout and the dependency rules are fixed from the start. It exports nothing
//! yet.

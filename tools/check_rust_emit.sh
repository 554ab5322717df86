#!/bin/sh
# Generates Rust for one model with `mvcc build --emit rust` and type-checks it in a scratch crate.
# Usage: tools/check_rust_emit.sh MODEL.tflite [SCRATCH_DIR]
# (A development aid; the test suite compiles every fixture through include_model!.)
set -eu
model=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${2:-${TMPDIR:-/tmp}/mvcc-emit-check}
mkdir -p "$dir/src"
cargo run -q --manifest-path "$root/Cargo.toml" -p mvcc -- build "$model" --emit rust --name model -o "$dir/src"
cat > "$dir/Cargo.toml" <<TOML
[package]
name = "emit-check"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
mvcc-runtime = { path = "$root/runtime" }

[workspace]
TOML
cat > "$dir/src/lib.rs" <<'RS'
#![no_std]
#![deny(warnings)]
pub mod model;
RS
cd "$dir" && CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$dir/target} cargo build -q
echo "ok: $1 generates Rust that compiles"

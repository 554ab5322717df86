#!/bin/sh
# Measures what embedding a model with include_model! costs a Rust project: the wall time of a
# clean `cargo build --release` of a small binary crate that embeds MODEL (compiling mvcc-runtime,
# mvcc-macros and the compiler library it runs, with their dependencies), and the size of the
# stripped binary next to the .tflite file.
# Usage: tools/measure_embed.sh MODEL.tflite [WORK_DIR]
set -eu
model=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${2:-${TMPDIR:-/tmp}/mvcc-embed-$(basename "$model" .tflite)}
rm -rf "$dir"
mkdir -p "$dir/src"
cat > "$dir/Cargo.toml" <<TOML
[package]
name = "embed"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
mvcc-runtime = { path = "$root/runtime", features = ["macros", "std"] }

[profile.release]
strip = true

[workspace]
TOML
cat > "$dir/src/main.rs" <<RS
mod net {
    mvcc_runtime::include_model!("$model");
}

fn main() {
    let mut model = net::Model::with_arena(mvcc_runtime::mem::zeroed_arena());
    let input = vec![Default::default(); net::INPUT0_LEN];
    let mut output = vec![Default::default(); net::OUTPUT0_LEN];
    let t = std::time::Instant::now();
    model
        .run(
            input.as_slice().try_into().unwrap(),
            output.as_mut_slice().try_into().unwrap(),
        )
        .unwrap();
    println!("one run: {:?}; output[0] = {:?}", t.elapsed(), output[0]);
}
RS
cp "$root/Cargo.lock" "$dir/Cargo.lock"
cd "$dir"
start=$(date +%s.%N)
CARGO_TARGET_DIR="$dir/target" cargo build --release --offline -q 2>&1 || CARGO_TARGET_DIR="$dir/target" cargo build --release -q
end=$(date +%s.%N)
bin="$dir/target/release/embed"
printf 'model %s: %s bytes; clean release build %.1f s; binary %s bytes\n' \
    "$(basename "$model")" "$(stat -c %s "$model")" "$(echo "$end - $start" | bc)" "$(stat -c %s "$bin")"
"$bin"

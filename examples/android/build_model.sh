#!/bin/sh
# Compiles the face detector for Android (aarch64, NEON) into app/src/main/cpp/face.{o,h}, and,
# when ANDROID_NDK_HOME is set, cross-links a test shared library with the NDK's clang to check
# that the object links for the device (API level 24 by default: ANDROID_API).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cpp="$here/app/src/main/cpp"
cargo run --release --manifest-path "$root/Cargo.toml" -p mvcc -- build \
    "$root/examples/face_detect/models/face_detection_short_range.tflite" \
    --name face --target aarch64-linux-android --emit obj,header -o "$cpp"
if [ -n "${ANDROID_NDK_HOME:-}" ]; then
    api=${ANDROID_API:-24}
    clang=$(ls "$ANDROID_NDK_HOME"/toolchains/llvm/prebuilt/*/bin/aarch64-linux-android"$api"-clang | head -n 1)
    "$clang" -shared -fPIC -O2 -I"$cpp" -o "$cpp/libfacejni.so" "$cpp/face_jni.c" "$cpp/face.o" -llog
    echo "linked $cpp/libfacejni.so with $clang"
else
    echo "ANDROID_NDK_HOME is not set: built face.o and face.h only"
fi

mod m {
    mvcc_runtime::include_model!("models/unsupported_ops.tflite");
}

fn main() {}

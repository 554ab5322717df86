mod a {
    mvcc_runtime::include_model!(42);
}

mod b {
    mvcc_runtime::include_model!("models/unsupported_ops.tflite", fast);
}

fn main() {}

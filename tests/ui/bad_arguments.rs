mod a {
    mvcc_runtime::include_model!(42);
}

mod b {
    mvcc_runtime::include_model!("models/unsupported_ops.tflite", fast);
}

mod c {
    mvcc_runtime::include_model!("models/unsupported_ops.tflite", nnapi_max_segments = 2);
}

mod d {
    mvcc_runtime::include_model!("models/unsupported_ops.tflite", nnapi, nnapi_max_segments);
}

fn main() {}

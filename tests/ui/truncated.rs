mod m {
    mvcc_runtime::include_model!("models/truncated.tflite");
}

fn main() {}

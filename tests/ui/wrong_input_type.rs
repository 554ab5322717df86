mod m {
    mvcc_runtime::include_model!("../fixtures/dwconv_f32/model.tflite");
}

fn main() {
    let mut model = m::Model::new();
    let input = [0i8; m::INPUT0_LEN];
    let mut output = [0f32; m::OUTPUT0_LEN];
    let _ = model.run(&input, &mut output);
}

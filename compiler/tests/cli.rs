//! The `mvcc` binary: exit codes and messages.

use std::process::Command;

fn mvcc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mvcc"))
}

fn tmp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mvcc-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn a_malformed_model_exits_with_1_and_one_line_per_problem() {
    let p = tmp("bad.tflite", b"\x10\x00\x00\x00TFL3garbage garbage garbage");
    for args in [vec!["inspect"], vec!["run"]] {
        let out = mvcc().args(&args).arg(&p).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains("not a valid TFLite model"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_missing_file_is_named() {
    let out = mvcc()
        .args(["inspect", "/nonexistent/model.tflite"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/model.tflite"));
}

#[test]
fn every_command_has_help() {
    for cmd in [
        vec!["--help"],
        vec!["inspect", "--help"],
        vec!["run", "--help"],
    ] {
        let out = mvcc().args(&cmd).output().unwrap();
        assert!(out.status.success(), "{cmd:?}");
        assert!(!out.stdout.is_empty());
    }
}

#[test]
fn nnapi_inspect_and_reference_run() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/conv_i8");
    let model = root.join("model.tflite");
    // The partition at API 30 (signed int8 is API 30) and at 29 (everything stays on the CPU).
    let out = mvcc()
        .args(["inspect", "--nnapi", "--api-level", "30"])
        .arg(&model)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("6 of 6 ops on NNAPI"), "{text}");
    assert!(text.contains("op0 CONV_2D("), "{text}");
    let out = mvcc()
        .args(["inspect", "--nnapi", "--api-level", "29"])
        .arg(&model)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 of 6 ops on NNAPI"), "{text}");
    assert!(
        text.contains("needs NNAPI API level 30, the target is 29"),
        "{text}"
    );
    let out = mvcc()
        .args(["inspect", "--nnapi", "--api-level", "12"])
        .arg(&model)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // The reference run writes the same outputs as the interpreter (both match TFLite).
    let dir = std::env::temp_dir().join(format!("mvcc-cli-nnapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut outs = Vec::new();
    for backend in ["interp", "nnapi-ref"] {
        let mut cmd = mvcc();
        cmd.args(["run", "--backend", backend, "--api-level", "30", "-i"])
            .arg(root.join("tensors/0.npy"));
        for k in 0..4 {
            cmd.arg("-o").arg(dir.join(format!("{backend}{k}.npy")));
        }
        let r = cmd.arg(&model).output().unwrap();
        assert_eq!(
            r.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&r.stderr)
        );
        outs.push(
            (0..4)
                .map(|k| std::fs::read(dir.join(format!("{backend}{k}.npy"))).unwrap())
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(outs[0], outs[1]);
}

/// `mvcc inspect m.tflite | head`: a reader that goes away ends the command quietly, without a
/// panic and without an error.
#[test]
fn a_closed_stdout_pipe_ends_quietly() {
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/conv_i8/model.tflite");
    for flags in [
        vec![],
        vec!["--ir"],
        vec!["--json"],
        vec!["--plan"],
        vec!["--passes"],
        vec!["--dot"],
        vec!["--nnapi", "--api-level", "30"],
    ] {
        let mut child = mvcc()
            .arg("inspect")
            .args(&flags)
            .arg(&model)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before the model is even read: every write gets EPIPE.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{flags:?}: {err}");
        assert!(err.is_empty(), "{flags:?}: {err}");
    }
}

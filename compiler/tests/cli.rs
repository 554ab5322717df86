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

//! Cranelift objects as a user links them: every fixture built by `mvcc::clif::object` for
//! x86-64 (linked with the host `cc`, run natively) and for `aarch64-linux-android` (linked with
//! `aarch64-linux-gnu-gcc`, run under `qemu-aarch64`), with `targets/runner.c` reading the inputs
//! and writing the outputs; the outputs are compared with TFLite's. The aarch64 objects are also
//! checked with binutils: no use of register x18 (reserved on Android), no text relocations in a
//! shared library built from them.
//!
//! Needs `cc`, `aarch64-linux-gnu-gcc`, `aarch64-linux-gnu-objdump`, `readelf` and `qemu-aarch64`
//! (`.ci/run` installs them from Debian's `gcc-aarch64-linux-gnu` and `qemu-user`); the test
//! fails naming what is missing. `MVCC_CASE=<substring>` selects cases.

use std::path::{Path, PathBuf};
use std::process::Command;

use mvcc::clif::target::Target;
use mvcc::interp::Buf;
use mvcc_tests::{check_outputs, fixture_inputs, run_suite, Fixture};

/// Cases expected to fail, with the reason. Each must still fail.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

/// The aarch64 sysroot Debian's cross compiler installs (qemu's `-L`).
const AARCH64_SYSROOT: &str = "/usr/aarch64-linux-gnu";

fn tool_missing(tool: &str) -> Option<String> {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    (!ok).then(|| tool.to_string())
}

fn scratch_dir(case: &str, target: &str) -> PathBuf {
    let d = std::env::temp_dir()
        .join(format!("mvcc-native-{}", std::process::id()))
        .join(format!("{case}-{target}"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_cmd(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Builds, links and runs one fixture for one target; returns the outputs.
fn build_and_run(
    f: &Fixture,
    target: &str,
    inputs: &[Buf],
    program: &mvcc::lower::Program,
    plan: &mvcc::plan::Plan,
) -> Result<(Vec<Buf>, PathBuf), String> {
    let t = Target::lookup(target).map_err(|e| e.to_string())?;
    let obj = mvcc::clif::object::object(program, plan, &t, "model").map_err(|e| e.to_string())?;
    let header = mvcc::clif::object::header(program, plan, "model", "model.tflite");
    let dir = scratch_dir(&f.name, target);
    std::fs::write(dir.join("model.o"), &obj).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("model.h"), header).map_err(|e| e.to_string())?;
    let aarch64 = target.starts_with("aarch64");
    let cc = if aarch64 {
        "aarch64-linux-gnu-gcc"
    } else {
        "cc"
    };
    let runner = Path::new(env!("CARGO_MANIFEST_DIR")).join("../targets/runner.c");
    run_cmd(
        Command::new(cc)
            .current_dir(&dir)
            .args([
                "-O2",
                "-I.",
                "-DMVCC_HEADER=\"model.h\"",
                "-DMVCC_PREFIX=MODEL",
            ])
            .args(["-DMVCC_RUN=model_run", "-o", "runner", "model.o"])
            .arg(&runner),
    )?;
    let mut args = Vec::new();
    for (i, b) in inputs.iter().enumerate() {
        let p = dir.join(format!("in{i}.bin"));
        std::fs::write(&p, b.bytes()).map_err(|e| e.to_string())?;
        args.push(p);
    }
    for i in 0..program.outputs.len() {
        args.push(dir.join(format!("out{i}.bin")));
    }
    if aarch64 {
        run_cmd(
            Command::new("qemu-aarch64")
                .args(["-L", AARCH64_SYSROOT])
                .arg(dir.join("runner"))
                .args(&args),
        )?;
    } else {
        run_cmd(Command::new(dir.join("runner")).args(&args))?;
    }
    let outs = (0..program.outputs.len())
        .map(|i| std::fs::read(dir.join(format!("out{i}.bin"))).map(|b| Buf::from_bytes(&b)))
        .collect::<Result<Vec<Buf>, _>>()
        .map_err(|e| e.to_string())?;
    Ok((outs, dir))
}

/// The first instruction of a disassembly that names register x18 or w18 as an operand. Each
/// function is read up to its last `ret`: Cranelift places constant pools after the code, and
/// objdump decodes their bytes as instructions.
fn x18_use(disassembly: &str) -> Option<String> {
    let mut functions: Vec<Vec<&str>> = Vec::new();
    for line in disassembly.lines() {
        if line.ends_with(">:") {
            functions.push(Vec::new());
        } else if let Some(f) = functions.last_mut() {
            f.push(line);
        }
    }
    for f in functions {
        let end = f
            .iter()
            .rposition(|l| l.contains("\tret"))
            .map_or(0, |i| i + 1);
        for line in &f[..end] {
            let operands = line.split('\t').nth(3).unwrap_or("");
            let uses = operands
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|t| t == "x18" || t == "w18");
            if uses {
                return Some(line.to_string());
            }
        }
    }
    None
}

/// Checks an aarch64 object: no x18, no text relocations once linked into a shared library.
fn check_aarch64_object(dir: &Path) -> Result<(), String> {
    let dis = Command::new("aarch64-linux-gnu-objdump")
        .args(["-d", "model.o"])
        .current_dir(dir)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&dis.stdout);
    if let Some(line) = x18_use(&text) {
        return Err(format!("the object uses register x18: {line}"));
    }
    run_cmd(
        Command::new("aarch64-linux-gnu-gcc")
            .current_dir(dir)
            .args(["-shared", "-o", "libmodel.so", "model.o"]),
    )?;
    let dynamic = Command::new("readelf")
        .args(["-d", "libmodel.so"])
        .current_dir(dir)
        .output()
        .map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&dynamic.stdout).contains("TEXTREL") {
        return Err("a shared library built from the object has text relocations".into());
    }
    Ok(())
}

fn run_native(f: &Fixture) -> Result<Vec<String>, String> {
    let (inputs, shapes) = fixture_inputs(f)?;
    let graph = mvcc::load_model_with_shapes(&f.model(), &shapes)
        .map_err(|e| format!("import failed: {e}"))?;
    let (program, plan) =
        mvcc::interp::compile(&graph).map_err(|e| format!("compile failed: {e}"))?;
    let mut bad = Vec::new();
    for target in ["x86_64-unknown-linux-gnu", "aarch64-linux-android"] {
        let (outs, dir) = build_and_run(f, target, &inputs, &program, &plan)
            .map_err(|e| format!("{target}: {e}"))?;
        for m in check_outputs(f, &graph, &program, &outs) {
            bad.push(format!("{target}: {m}"));
        }
        if target.starts_with("aarch64") {
            check_aarch64_object(&dir).map_err(|e| format!("{target}: {e}"))?;
        }
    }
    Ok(bad)
}

#[test]
fn every_fixture_matches_tflite_as_linked_objects() {
    let missing: Vec<String> = [
        "cc",
        "aarch64-linux-gnu-gcc",
        "aarch64-linux-gnu-objdump",
        "readelf",
        "qemu-aarch64",
    ]
    .into_iter()
    .filter_map(tool_missing)
    .collect();
    assert!(
        missing.is_empty(),
        "missing tools: {} (Debian: apt-get install gcc-aarch64-linux-gnu qemu-user)",
        missing.join(", ")
    );
    run_suite("Cranelift objects", KNOWN_FAILURES, run_native);
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("mvcc-native-{}", std::process::id())),
    );
}

#[test]
fn object_output_is_deterministic() {
    let f = mvcc_tests::fixture("dwconv_f32").unwrap();
    let graph = mvcc::load_model(&f.model()).unwrap();
    let (program, plan) = mvcc::interp::compile(&graph).unwrap();
    for target in ["x86_64-unknown-linux-gnu", "aarch64-linux-android"] {
        let t = Target::lookup(target).unwrap();
        let a = mvcc::clif::object::object(&program, &plan, &t, "m").unwrap();
        let b = mvcc::clif::object::object(&program, &plan, &t, "m").unwrap();
        assert!(a == b, "{target}: two builds differ");
    }
}

#[test]
fn the_x18_check_reads_operands_of_code_only() {
    let dis = "0000000000000000 <f>:\n   0:\tf9400003 \tldr\tx3, [x0, #0x18]\n   4:\td65f03c0 \tret\n   8:\t12345678 \tldpsw\tx23, x18, [x1]\n\n0000000000000010 <g>:\n  10:\taa1203e0 \tmov\tx0, x18\n  14:\td65f03c0 \tret\n";
    let hit = x18_use(dis).expect("g uses x18");
    assert!(hit.contains("mov\tx0, x18"), "{hit}");
    let clean = "0000000000000000 <f>:\n   0:\tf9400003 \tldr\tx3, [x0, #0x18]\n   4:\td65f03c0 \tret\n   8:\t12345678 \tldpsw\tx23, x18, [x1]\n";
    assert_eq!(x18_use(clean), None);
}

//! The NNAPI target through the runtime's real `dlopen`/`dlsym` path: a fake
//! `libneuralnetworks.so` written in C (`fake-nnapi/fake_nnapi.c`, built here with `cc`) stands in
//! for the device's library, so the NDK signatures, struct layouts and constants the runtime
//! declares in Rust (`mvcc_runtime::nnapi::sys`) are exercised through the C ABI, by embedded
//! models (`include_model!(…, nnapi = N)`) and `set_target`.
//!
//! The runtime loads the library once per process, so each case re-runs this test binary as a
//! child process (the `child` test, which does nothing unless `MVCC_FAKE_NNAPI_CHILD` names a
//! case) with `LD_LIBRARY_PATH` pointing at one build of the fake and `FAKE_NNAPI_MODE` choosing
//! its behaviour. The child checks what the model does (target, reason, outputs); the parent
//! checks the fake's log of every call — arguments, value hashes, handles — against the model's
//! NNAPI description, and that every object was freed and no rule of the fake broken.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use mvcc::nnapi::{Description, Lifetime, OperandType, Place, SegmentKind};
use mvcc_runtime::nnapi::{sys, ActiveTarget, Fns, Target, Unavailable};
use mvcc_runtime::CompiledModel;

mod conv {
    mvcc_runtime::include_model!("fixtures/conv_i8/model.tflite", nnapi = 30);
}

mod fc {
    mvcc_runtime::include_model!("fixtures/fc_u8/model.tflite", nnapi = 27);
}

/// Names the case a child process runs.
const CHILD: &str = "MVCC_FAKE_NNAPI_CHILD";

// ---------------------------------------------------------------------------------------------
// Building the fake.

/// Builds of the fake, one directory each (`<dir>/libneuralnetworks.so`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Lib {
    /// Every function (an API-31 library).
    Api31,
    /// No `getRuntimeFeatureLevel` (API 30).
    Api30,
    /// Only the API-27 functions.
    Api27,
    /// API 31 without `ANeuralNetworksEvent_free`.
    NoEventFree,
    /// No library at all.
    Missing,
}

impl Lib {
    fn flags(self) -> &'static [&'static str] {
        match self {
            Lib::Api31 => &["-DFAKE_API=31"],
            Lib::Api30 => &["-DFAKE_API=30"],
            Lib::Api27 => &["-DFAKE_API=27"],
            Lib::NoEventFree => &["-DFAKE_API=31", "-DFAKE_DROP_EVENT_FREE"],
            Lib::Missing => &[],
        }
    }

    fn dir(self, root: &Path) -> PathBuf {
        root.join(format!("{self:?}").to_lowercase())
    }
}

const BUILT: [Lib; 4] = [Lib::Api31, Lib::Api30, Lib::Api27, Lib::NoEventFree];

/// The directory holding the builds, or `None` (with a message) when there is no C compiler.
fn libs() -> Option<&'static Path> {
    static ROOT: OnceLock<Option<PathBuf>> = OnceLock::new();
    ROOT.get_or_init(|| {
        if Command::new("cc").arg("--version").output().is_err() {
            eprintln!("SKIPPED: no `cc` to build the fake libneuralnetworks.so");
            return None;
        }
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fake-nnapi/fake_nnapi.c");
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fake-nnapi");
        for lib in BUILT {
            let dir = lib.dir(&root);
            std::fs::create_dir_all(&dir).unwrap();
            // Built under a private name, then renamed: concurrent test runs never see half a
            // library.
            let tmp = dir.join(format!("build.{}.so", std::process::id()));
            let out = Command::new("cc")
                .args(["-shared", "-fPIC", "-O1", "-fvisibility=hidden", "-std=c11"])
                .args(["-Wall", "-Wextra"])
                .args(lib.flags())
                .arg("-o")
                .arg(&tmp)
                .arg(&src)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "cc failed for {lib:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::fs::rename(&tmp, dir.join("libneuralnetworks.so")).unwrap();
        }
        Some(root)
    })
    .as_deref()
}

/// Runs the `child` test in a new process for `case` with the fake built as `lib` in `mode`, and
/// returns the fake's log (`None` when there is no C compiler).
fn run_child(case: &str, lib: Lib, mode: &str) -> Option<Vec<String>> {
    let root = libs()?;
    let log = root.join(format!("{case}.{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let mut path = std::env::var_os("LD_LIBRARY_PATH").unwrap_or_default();
    if lib != Lib::Missing {
        let mut p = lib.dir(root).into_os_string();
        if !path.is_empty() {
            p.push(":");
            p.push(&path);
        }
        path = p;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD, case)
        .env("FAKE_NNAPI_MODE", mode)
        .env("FAKE_NNAPI_LOG", &log)
        .env("LD_LIBRARY_PATH", path)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        out.status.success(),
        "child {case} failed:\n{}\n{}\nlog {}:\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        log.display(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 passed"),
        "child {case} ran no test:\n{stdout}"
    );
    let _ = std::fs::remove_file(&log);
    Some(text.lines().map(str::to_string).collect())
}

// ---------------------------------------------------------------------------------------------
// What the log should say.

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn list(v: &[u32]) -> String {
    let items: Vec<String> = v.iter().map(u32::to_string).collect();
    format!("[{}]", items.join(","))
}

/// A fixture, its model compiled for NNAPI at `api`, and its inputs.
struct Case {
    fixture: mvcc_tests::Fixture,
    graph: mvcc::ir::Graph,
    program: mvcc::lower::Program,
    compiled: mvcc::nnapi::partition::Compiled,
    inputs: Vec<mvcc::interp::Buf>,
}

fn case(name: &str, api: u32) -> Case {
    let fixture = mvcc_tests::fixture(name).unwrap();
    let graph = mvcc::load_model(&fixture.model()).unwrap();
    let (program, _) = mvcc::interp::compile(&graph).unwrap();
    let compiled = mvcc::nnapi::partition::compile(&graph, api).unwrap();
    let (inputs, _) = mvcc_tests::fixture_inputs(&fixture).unwrap();
    Case {
        fixture,
        graph,
        program,
        compiled,
        inputs,
    }
}

impl Case {
    /// The index of the only NNAPI segment in the partition.
    fn segment_index(&self) -> usize {
        self.compiled
            .partition
            .segments
            .iter()
            .position(|s| matches!(s.kind, SegmentKind::Nnapi { .. }))
            .expect("an NNAPI segment")
    }

    /// The only NNAPI segment: its description and its input and output places.
    fn segment(&self) -> (&Description, &[Place], &[Place]) {
        let mut nnapi = self
            .compiled
            .partition
            .segments
            .iter()
            .filter_map(|s| match &s.kind {
                SegmentKind::Nnapi {
                    desc,
                    inputs,
                    outputs,
                } => Some((desc, &inputs[..], &outputs[..])),
                SegmentKind::Cpu => None,
            });
        let first = nnapi.next().expect("an NNAPI segment");
        assert!(nnapi.next().is_none(), "the tests expect one NNAPI segment");
        first
    }

    fn input_bytes(&self, place: Place) -> &[u8] {
        match place {
            Place::ModelInput { index, offset, len } => {
                &self.inputs[index].bytes()[offset..offset + len]
            }
            other => panic!("the tests expect segment inputs in model inputs: {other:?}"),
        }
    }

    /// The calls that build and compile the segment's model, handles numbered from `first`;
    /// `for_devices`: checked and compiled for `fake-npu` alone (API 29 and later).
    fn build_log(&self, first: u32, for_devices: bool) -> Vec<String> {
        let (desc, _, _) = self.segment();
        let weights = &self.compiled.program.weights.bytes;
        let (m, c) = (first, first + 1);
        let mut v = vec![format!("Model_create -> 0 model#{m}")];
        for (i, o) in desc.operands.iter().enumerate() {
            v.push(format!(
                "Model_addOperand model#{m} %{i} type={} dims={} scale={:08x} zp={} -> 0",
                o.ty.code(),
                list(&o.dims),
                o.scale.to_bits(),
                o.zero_point
            ));
            if let Some(q) = &o.channel_quant {
                let scales: Vec<String> = q
                    .scales
                    .iter()
                    .map(|s| format!("{:08x}", s.to_bits()))
                    .collect();
                v.push(format!(
                    "Model_setOperandSymmPerChannelQuantParams model#{m} %{i} dim={} scales=[{}] \
                     -> 0",
                    q.channel_dim,
                    scales.join(",")
                ));
            }
            match &o.lifetime {
                Lifetime::NoValue => v.push(format!(
                    "Model_setOperandValue model#{m} %{i} NULL len=0 -> 0"
                )),
                Lifetime::Inline(_) | Lifetime::Weight(_) | Lifetime::Blocked(_) => {
                    // Blocked filters arrive unpacked: the fake hashes what it was given.
                    let b = o.const_bytes(weights).unwrap();
                    let b: &[u8] = &b;
                    let value = match o.ty {
                        OperandType::Int32 | OperandType::Uint32 => {
                            format!(" i32={}", i32::from_le_bytes(b.try_into().unwrap()))
                        }
                        OperandType::Bool => format!(" bool={}", b[0]),
                        OperandType::Float32 => {
                            format!(" f32={:08x}", u32::from_le_bytes(b.try_into().unwrap()))
                        }
                        _ => String::new(),
                    };
                    v.push(format!(
                        "Model_setOperandValue model#{m} %{i} len={} fnv={:016x}{value} -> 0",
                        b.len(),
                        fnv1a(b)
                    ));
                }
                Lifetime::Temporary | Lifetime::Input | Lifetime::Output => {}
            }
        }
        for op in &desc.operations {
            v.push(format!(
                "Model_addOperation model#{m} type={} in={} out={} -> 0",
                op.ty.code(),
                list(&op.inputs),
                list(&op.outputs)
            ));
        }
        v.push(format!(
            "Model_identifyInputsAndOutputs model#{m} in={} out={} -> 0",
            list(&desc.inputs),
            list(&desc.outputs)
        ));
        v.push(format!(
            "Model_finish model#{m} operands={} operations={} -> 0",
            desc.operands.len(),
            desc.operations.len()
        ));
        if for_devices {
            let ones = vec!["1"; desc.operations.len()].join(",");
            v.push(format!(
                "Model_getSupportedOperationsForDevices model#{m} devices=[fake-npu] -> 0 \
                 supported=[{ones}]"
            ));
            v.push(format!(
                "Compilation_createForDevices model#{m} devices=[fake-npu] -> 0 compilation#{c}"
            ));
        } else {
            v.push(format!("Compilation_create model#{m} -> 0 compilation#{c}"));
        }
        v.push(format!("Compilation_setPreference compilation#{c} 1 -> 0"));
        v.push(format!("Compilation_finish compilation#{c} -> 0"));
        v
    }

    /// The calls of one execution of compilation `c` as execution `e`, up to its compute call
    /// (with `compute` as its result and the rest of its line).
    fn execution_log(&self, c: u32, e: u32) -> Vec<String> {
        let (_, ins, outs) = self.segment();
        let mut v = vec![format!(
            "Execution_create compilation#{c} -> 0 execution#{e}"
        )];
        for (k, p) in ins.iter().enumerate() {
            v.push(format!(
                "Execution_setInput execution#{e} {k} type=NULL len={} -> 0",
                place_len(*p)
            ));
        }
        for (k, p) in outs.iter().enumerate() {
            v.push(format!(
                "Execution_setOutput execution#{e} {k} type=NULL len={} -> 0",
                place_len(*p)
            ));
        }
        v
    }

    /// The input hashes the fake logs when it computes.
    fn input_hashes(&self) -> String {
        let (_, ins, _) = self.segment();
        let h: Vec<String> = ins
            .iter()
            .map(|&p| format!("{:016x}", fnv1a(self.input_bytes(p))))
            .collect();
        h.join(",")
    }

    /// The model's outputs as the fake's successful executions leave them: byte `i` of NNAPI
    /// output `k` is `i * 37 + k * 101 + 11`, at that output's place.
    fn fake_outputs(&self, sizes: &[usize]) -> Vec<Vec<u8>> {
        let (_, _, outs) = self.segment();
        let mut bufs: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![0; n]).collect();
        for (k, p) in outs.iter().enumerate() {
            let Place::ModelOutput { index, offset, len } = *p else {
                panic!("the tests expect segment outputs in model outputs: {p:?}");
            };
            for i in 0..len {
                bufs[index][offset + i] = (i * 37 + k * 101 + 11) as u8;
            }
        }
        bufs
    }

    /// Mismatches of `outputs` against TFLite's.
    fn check(&self, outputs: &[mvcc::interp::Buf]) -> Vec<String> {
        mvcc_tests::check_outputs(&self.fixture, &self.graph, &self.program, outputs)
    }
}

fn place_len(p: Place) -> usize {
    match p {
        Place::Arena { len, .. }
        | Place::ModelInput { len, .. }
        | Place::ModelOutput { len, .. } => len,
    }
}

/// The device queries of an API-29+ library (`fake-npu` at `npu_level`; the runtime's own level is
/// never asked: the accelerator's decides).
fn device_log(npu_level: u32, reference_level: u32) -> Vec<String> {
    let mut v: Vec<String> = [
        "getDeviceCount -> 0 count=2",
        "getDevice 0 -> 0 fake-npu",
        "Device_getName fake-npu -> 0",
        "Device_getType fake-npu -> 0 type=4",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(format!(
        "Device_getFeatureLevel fake-npu -> 0 level={npu_level}"
    ));
    v.extend(
        [
            "getDevice 1 -> 0 nnapi-reference",
            "Device_getName nnapi-reference -> 0",
            "Device_getType nnapi-reference -> 0 type=2",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    v.push(format!(
        "Device_getFeatureLevel nnapi-reference -> 0 level={reference_level}"
    ));
    v
}

fn exit_line(created: u32) -> String {
    format!("exit live=0 created={created} errors=0")
}

/// Compares logs line by line, showing the first difference.
fn assert_log(got: &[String], want: &[String]) {
    let first = got.iter().zip(want).position(|(g, w)| g != w);
    assert!(
        got == want,
        "the fake's log differs at line {}:\n got: {:?}\nwant: {:?}\nfull log:\n{}",
        first.unwrap_or(got.len().min(want.len())),
        first.map(|i| &got[i]),
        first.map(|i| &want[i]),
        got.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The child side.

/// Runs `m` once on the fixture's inputs and returns its outputs.
fn run(m: &mut dyn CompiledModel, c: &Case) -> Vec<mvcc::interp::Buf> {
    let ins: Vec<&[u8]> = c.inputs.iter().map(|b| b.bytes()).collect();
    let mut outs: Vec<mvcc::interp::Buf> = m
        .outputs()
        .iter()
        .map(|t| mvcc::interp::Buf::zeroed(t.bytes()))
        .collect();
    let mut refs: Vec<&mut [u8]> = outs.iter_mut().map(|b| b.bytes_mut()).collect();
    m.run_bytes(&ins, &mut refs).unwrap();
    outs
}

fn bytes(outs: &[mvcc::interp::Buf]) -> Vec<Vec<u8>> {
    outs.iter().map(|b| b.bytes().to_vec()).collect()
}

/// NNAPI is used: `set_target` reports nothing and both runs return the fake's outputs (which are
/// not TFLite's). The parent checks that dropping the model freed the NNAPI objects.
fn uses_nnapi(m: &mut dyn CompiledModel, set: Option<Unavailable>, active: ActiveTarget, c: &Case) {
    assert_eq!(set, None);
    assert_eq!(active, ActiveTarget::Nnapi);
    let sizes: Vec<usize> = m.outputs().iter().map(|t| t.bytes()).collect();
    for _ in 0..2 {
        let outs = run(m, c);
        assert_eq!(
            bytes(&outs),
            c.fake_outputs(&sizes),
            "NNAPI's results not used"
        );
        assert!(
            !c.check(&outs).is_empty(),
            "the fake's pattern matched TFLite"
        );
    }
}

fn child_conv_ok() {
    let c = case("conv_i8", 30);
    let mut m = Box::new(conv::Model::new());
    let set = m.set_target(Target::Nnapi);
    assert_eq!(m.accelerator().reason(), None);
    let active = m.accelerator().active();
    uses_nnapi(&mut *m, set, active, &c);
    assert_eq!(m.accelerator().active(), ActiveTarget::Nnapi);
}

/// NNAPI is not used: the model runs on the CPU and matches TFLite.
fn on_the_cpu(m: &mut dyn CompiledModel, c: &Case) {
    for _ in 0..2 {
        let bad = c.check(&run(m, c));
        assert!(bad.is_empty(), "{bad:?}");
    }
}

fn child_conv_unavailable(want: Unavailable) {
    let c = case("conv_i8", 30);
    let mut m = Box::new(conv::Model::new());
    assert_eq!(m.set_target(Target::Nnapi), Some(want));
    assert_eq!(m.accelerator().active(), ActiveTarget::Cpu);
    assert_eq!(m.accelerator().reason(), Some(&want));
    on_the_cpu(&mut *m, &c);
}

fn child_fallback(m: &mut dyn CompiledModel, c: &Case) {
    let bad = c.check(&run(m, c));
    assert!(bad.is_empty(), "first run, after the fallback: {bad:?}");
    on_the_cpu(m, c);
}

fn child_conv_fail_compute() {
    let c = case("conv_i8", 30);
    let mut m = Box::new(conv::Model::new());
    assert_eq!(m.set_target(Target::Nnapi), None);
    assert_eq!(m.accelerator().active(), ActiveTarget::Nnapi);
    child_fallback(&mut *m, &c);
    assert_eq!(m.accelerator().active(), ActiveTarget::Cpu);
    assert_eq!(
        m.accelerator().reason(),
        Some(&Unavailable::Refused {
            call: "ANeuralNetworksExecution_compute",
            code: sys::OP_FAILED
        })
    );
}

fn child_api27_ok() {
    child_conv_unavailable(Unavailable::FeatureLevel { have: 27, need: 30 });
    let c = case("fc_u8", 27);
    let mut m = Box::new(fc::Model::new());
    let set = m.set_target(Target::Nnapi);
    let active = m.accelerator().active();
    uses_nnapi(&mut *m, set, active, &c);
}

fn child_api27_fail() {
    let c = case("fc_u8", 27);
    let mut m = Box::new(fc::Model::new());
    assert_eq!(m.set_target(Target::Nnapi), None);
    child_fallback(&mut *m, &c);
    assert_eq!(m.accelerator().active(), ActiveTarget::Cpu);
    assert_eq!(
        m.accelerator().reason(),
        Some(&Unavailable::Refused {
            call: "ANeuralNetworksEvent_wait",
            code: sys::OP_FAILED
        })
    );
}

/// Calls the fake through the loaded table with broken arguments: each must be refused with the
/// NDK's code (the fake's checks are live, so the other cases can fail).
fn child_fake_refuses_bad_calls() {
    let f = Fns::load().unwrap();
    let op = |ty: i32, dims: &[u32], scale: f32, zp: i32| sys::ANeuralNetworksOperandType {
        type_: ty,
        dimension_count: dims.len() as u32,
        dimensions: if dims.is_empty() {
            std::ptr::null()
        } else {
            dims.as_ptr()
        },
        scale,
        zero_point: zp,
    };
    // SAFETY: the table is the fake's, whose functions have the NDK signatures; every pointer is
    // valid for the call or deliberately null.
    unsafe {
        let mut m = std::ptr::null_mut();
        assert_eq!((f.model_create)(&mut m), sys::NO_ERROR);
        let dims = [2u32, 3];
        let t = op(3, &dims, 0.0, 0);
        assert_eq!((f.model_add_operand)(m, &t), sys::NO_ERROR); // %0 input
        assert_eq!((f.model_add_operand)(m, &t), sys::NO_ERROR); // %1 constant
        assert_eq!((f.model_add_operand)(m, &t), sys::NO_ERROR); // %2 output
        let scalar = op(1, &[], 0.0, 0);
        assert_eq!((f.model_add_operand)(m, &scalar), sys::NO_ERROR); // %3 fuse code
                                                                      // 1. A scalar with dimensions.
        assert_eq!(
            (f.model_add_operand)(m, &op(1, &dims, 0.0, 0)),
            sys::BAD_DATA
        );
        // 2. A dimension count without dimensions.
        let mut no_dims = t;
        no_dims.dimensions = std::ptr::null();
        assert_eq!((f.model_add_operand)(m, &no_dims), sys::BAD_DATA);
        // 3. An int8 tensor without a scale.
        assert_eq!(
            (f.model_add_operand)(m, &op(14, &dims, 0.0, 0)),
            sys::BAD_DATA
        );
        // 4. A value of the wrong length (24 bytes needed).
        let values = [0f32; 6];
        let p = values.as_ptr().cast();
        assert_eq!((f.model_set_operand_value)(m, 1, p, 20), sys::BAD_DATA);
        assert_eq!((f.model_set_operand_value)(m, 1, p, 24), sys::NO_ERROR);
        let fuse = 0i32;
        let q = (&fuse as *const i32).cast();
        assert_eq!((f.model_set_operand_value)(m, 3, q, 4), sys::NO_ERROR);
        // 5. An operand out of range.
        assert_eq!((f.model_set_operand_value)(m, 9, q, 4), sys::BAD_DATA);
        // 6. Per-channel parameters on a float tensor.
        let scales = [1f32; 3];
        let pc = sys::ANeuralNetworksSymmPerChannelQuantParams {
            channel_dim: 1,
            scale_count: 3,
            scales: scales.as_ptr(),
        };
        let set_pc = f.model_set_operand_symm_per_channel_quant_params.unwrap();
        assert_eq!(set_pc(m, 0, &pc), sys::BAD_DATA);
        // 7. An unknown operation code.
        let (ins, outs) = ([0u32, 1, 3], [2u32]);
        let add = |ty: i32, ins: &[u32]| {
            (f.model_add_operation)(m, ty, ins.len() as u32, ins.as_ptr(), 1, outs.as_ptr())
        };
        assert_eq!(add(5000, &ins), sys::BAD_DATA);
        // 8. An input index out of range.
        assert_eq!(add(0, &[0, 7, 3]), sys::BAD_DATA);
        assert_eq!(add(0, &ins), sys::NO_ERROR); // ADD
                                                 // 9. A constant as a model input.
        let id = |i: &[u32], o: &[u32]| {
            (f.model_identify_inputs_and_outputs)(
                m,
                i.len() as u32,
                i.as_ptr(),
                o.len() as u32,
                o.as_ptr(),
            )
        };
        assert_eq!(id(&[1], &[2]), sys::BAD_DATA);
        assert_eq!(id(&[0], &[2]), sys::NO_ERROR);
        // 16. The supported operations of an unfinished model.
        let supported = f.model_get_supported_operations_for_devices.unwrap();
        let for_devices = f.compilation_create_for_devices.unwrap();
        let mut npu = std::ptr::null_mut();
        assert_eq!((f.get_device.unwrap())(0, &mut npu), sys::NO_ERROR);
        let npu = npu.cast_const();
        let mut flags = [false; 4];
        assert_eq!(supported(m, &npu, 1, flags.as_mut_ptr()), sys::BAD_STATE);
        assert_eq!((f.model_finish)(m), sys::NO_ERROR);
        assert_eq!(supported(m, &npu, 1, flags.as_mut_ptr()), sys::NO_ERROR);
        assert_eq!(flags, [true, false, false, false]);
        // 17. A pointer that is not a device.
        let fake = 0x40usize as *const sys::ANeuralNetworksDevice;
        assert_eq!(supported(m, &fake, 1, flags.as_mut_ptr()), sys::BAD_DATA);
        // 18. The same device twice; 19. no device.
        let mut c = std::ptr::null_mut();
        assert_eq!(
            for_devices(m, [npu, npu].as_ptr(), 2, &mut c),
            sys::BAD_DATA
        );
        assert_eq!(for_devices(m, [npu].as_ptr(), 0, &mut c), sys::BAD_DATA);
        assert!(c.is_null());
        // 10. Changing a finished model.
        assert_eq!((f.model_add_operand)(m, &t), sys::BAD_STATE);
        assert_eq!((f.compilation_create)(m, &mut c), sys::NO_ERROR);
        // 11. An execution of an unfinished compilation.
        let mut e = std::ptr::null_mut();
        assert_eq!((f.execution_create)(c, &mut e), sys::BAD_STATE);
        assert!(e.is_null());
        assert_eq!((f.compilation_finish)(c), sys::NO_ERROR);
        assert_eq!((f.execution_create)(c, &mut e), sys::NO_ERROR);
        let mut input = [0f32; 6];
        let mut output = [0f32; 6];
        // 12. An input buffer of the wrong length.
        let set_in = f.execution_set_input;
        let ip = input.as_mut_ptr().cast();
        assert_eq!(set_in(e, 0, std::ptr::null(), ip, 16), sys::BAD_DATA);
        assert_eq!(set_in(e, 0, std::ptr::null(), ip, 24), sys::NO_ERROR);
        // 13. Computing with an output not set.
        let compute = f.execution_compute.unwrap();
        assert_eq!(compute(e), sys::BAD_DATA);
        (f.execution_free)(e);
        // 14. An output overlapping the input.
        assert_eq!((f.execution_create)(c, &mut e), sys::NO_ERROR);
        assert_eq!(set_in(e, 0, std::ptr::null(), ip, 24), sys::NO_ERROR);
        let set_out = f.execution_set_output;
        assert_eq!(set_out(e, 0, std::ptr::null(), ip, 24), sys::NO_ERROR);
        assert_eq!(compute(e), sys::BAD_DATA);
        (f.execution_free)(e);
        // And a good execution.
        assert_eq!((f.execution_create)(c, &mut e), sys::NO_ERROR);
        assert_eq!(set_in(e, 0, std::ptr::null(), ip, 24), sys::NO_ERROR);
        let op_ = output.as_mut_ptr().cast();
        assert_eq!(set_out(e, 0, std::ptr::null(), op_, 24), sys::NO_ERROR);
        assert_eq!(compute(e), sys::NO_ERROR);
        (f.execution_free)(e);
        // 15. A model freed before its compilation.
        (f.model_free)(m);
        (f.compilation_free)(c);
    }
}

#[test]
fn child() {
    let Ok(case) = std::env::var(CHILD) else {
        return;
    };
    match case.as_str() {
        "conv_ok" => child_conv_ok(),
        "conv_refuse_compile" => child_conv_unavailable(Unavailable::Refused {
            call: "ANeuralNetworksCompilation_finish",
            code: sys::OP_FAILED,
        }),
        "conv_fail_compute" => child_conv_fail_compute(),
        "conv_reference_only" => child_conv_unavailable(Unavailable::OnlyCpuReference),
        "conv_unsupported" => child_conv_unavailable(Unavailable::Unsupported {
            segment: self::case("conv_i8", 30).segment_index(),
            operation: 0,
        }),
        "conv_npu_level_29" => {
            child_conv_unavailable(Unavailable::FeatureLevel { have: 29, need: 30 })
        }
        "conv_missing_symbol" => {
            child_conv_unavailable(Unavailable::MissingSymbol("ANeuralNetworksEvent_free"))
        }
        "conv_missing_library" => child_conv_unavailable(Unavailable::LibraryMissing),
        "api27_ok" => child_api27_ok(),
        "api27_fail" => child_api27_fail(),
        "bad_calls" => child_fake_refuses_bad_calls(),
        other => panic!("unknown child case {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The parent side.

#[test]
fn nnapi_results_are_used_through_an_api_31_library() {
    let Some(log) = run_child("conv_ok", Lib::Api31, "ok") else {
        return;
    };
    let c = case("conv_i8", 30);
    let mut want = device_log(30, 31);
    want.extend(c.build_log(1, true));
    for e in [3, 4] {
        want.extend(c.execution_log(2, e));
        want.push(format!(
            "Execution_compute execution#{e} in=[{}] -> 0",
            c.input_hashes()
        ));
        want.push(format!("Execution_free execution#{e}"));
    }
    want.push("Compilation_free compilation#2".into());
    want.push("Model_free model#1".into());
    want.push(exit_line(4));
    assert_log(&log, &want);
}

#[test]
fn an_api_30_library_gives_its_level_through_the_devices() {
    let Some(log) = run_child("conv_ok", Lib::Api30, "ok") else {
        return;
    };
    let c = case("conv_i8", 30);
    let mut want = device_log(30, 30);
    want.extend(c.build_log(1, true));
    for e in [3, 4] {
        want.extend(c.execution_log(2, e));
        want.push(format!(
            "Execution_compute execution#{e} in=[{}] -> 0",
            c.input_hashes()
        ));
        want.push(format!("Execution_free execution#{e}"));
    }
    want.extend(
        ["Compilation_free compilation#2", "Model_free model#1"]
            .iter()
            .map(|s| s.to_string()),
    );
    want.push(exit_line(4));
    assert_log(&log, &want);
}

#[test]
fn a_refused_compilation_leaves_the_model_on_the_cpu() {
    let Some(log) = run_child("conv_refuse_compile", Lib::Api31, "refuse_compile") else {
        return;
    };
    let c = case("conv_i8", 30);
    let mut want = device_log(30, 31);
    let mut build = c.build_log(1, true);
    build.pop();
    want.extend(build);
    want.push("Compilation_finish compilation#2 -> 5".into());
    want.push("Compilation_free compilation#2".into());
    want.push("Model_free model#1".into());
    want.push(exit_line(2));
    assert_log(&log, &want);
}

#[test]
fn a_failed_execution_falls_back_to_the_cpu_and_frees_nnapi() {
    let Some(log) = run_child("conv_fail_compute", Lib::Api31, "fail_compute") else {
        return;
    };
    let c = case("conv_i8", 30);
    let mut want = device_log(30, 31);
    want.extend(c.build_log(1, true));
    want.extend(c.execution_log(2, 3));
    want.push(format!(
        "Execution_compute execution#3 in=[{}] -> 5",
        c.input_hashes()
    ));
    // Freed at once; the second run makes no NNAPI call.
    want.push("Execution_free execution#3".into());
    want.push("Compilation_free compilation#2".into());
    want.push("Model_free model#1".into());
    want.push(exit_line(3));
    assert_log(&log, &want);
}

#[test]
fn only_the_reference_device_is_not_used() {
    let Some(log) = run_child("conv_reference_only", Lib::Api31, "reference_only") else {
        return;
    };
    let want: Vec<String> = [
        "getDeviceCount -> 0 count=1",
        "getDevice 0 -> 0 nnapi-reference",
        "Device_getName nnapi-reference -> 0",
        "Device_getType nnapi-reference -> 0 type=2",
        "Device_getFeatureLevel nnapi-reference -> 0 level=31",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([exit_line(0)])
    .collect();
    assert_log(&log, &want);
}

#[test]
fn an_operation_the_accelerator_does_not_support_leaves_the_model_on_the_cpu() {
    let Some(log) = run_child("conv_unsupported", Lib::Api31, "unsupported_op") else {
        return;
    };
    let c = case("conv_i8", 30);
    let mut want = device_log(30, 31);
    let mut build = c.build_log(1, true);
    // Nothing is compiled: the model goes right after the support query.
    build.truncate(build.len() - 4);
    want.extend(build);
    let (desc, _, _) = c.segment();
    let mut flags = vec!["1"; desc.operations.len()];
    flags[0] = "0";
    want.push(format!(
        "Model_getSupportedOperationsForDevices model#1 devices=[fake-npu] -> 0 supported=[{}]",
        flags.join(",")
    ));
    want.push("Model_free model#1".into());
    want.push(exit_line(1));
    assert_log(&log, &want);
}

#[test]
fn an_accelerator_below_the_model_level_is_not_used_whatever_the_runtime_level() {
    let Some(log) = run_child("conv_npu_level_29", Lib::Api31, "npu_level_29") else {
        return;
    };
    // fake-npu is at 29, the runtime (and its reference device) at 31; conv_i8 needs 30.
    let mut want = device_log(29, 31);
    want.push(exit_line(0));
    assert_log(&log, &want);
}

#[test]
fn a_library_without_an_api_27_function_is_not_used() {
    let Some(log) = run_child("conv_missing_symbol", Lib::NoEventFree, "ok") else {
        return;
    };
    // Nothing called; the library is closed again (its destructor writes the last line).
    assert_log(&log, &[exit_line(0)]);
}

#[test]
fn without_the_library_nnapi_is_missing() {
    let Some(log) = run_child("conv_missing_library", Lib::Missing, "ok") else {
        return;
    };
    assert!(log.is_empty(), "{log:?}");
}

#[test]
fn an_api_27_library_runs_through_start_compute_and_events() {
    let Some(log) = run_child("api27_ok", Lib::Api27, "ok") else {
        return;
    };
    // conv_i8 needs API 30 and makes no call; fc_u8 is built, run twice and freed.
    let c = case("fc_u8", 27);
    let mut want = c.build_log(1, false);
    for (e, ev) in [(3, 4), (5, 6)] {
        want.extend(c.execution_log(2, e));
        want.push(format!(
            "Execution_startCompute execution#{e} in=[{}] -> 0 event#{ev}",
            c.input_hashes()
        ));
        want.push(format!("Event_wait event#{ev} -> 0"));
        want.push(format!("Event_free event#{ev}"));
        want.push(format!("Execution_free execution#{e}"));
    }
    want.push("Compilation_free compilation#2".into());
    want.push("Model_free model#1".into());
    want.push(exit_line(6));
    assert_log(&log, &want);
}

#[test]
fn an_api_27_execution_failing_at_its_event_falls_back() {
    let Some(log) = run_child("api27_fail", Lib::Api27, "fail_compute") else {
        return;
    };
    let c = case("fc_u8", 27);
    let mut want = c.build_log(1, false);
    want.extend(c.execution_log(2, 3));
    want.push(format!(
        "Execution_startCompute execution#3 in=[{}] -> 0 event#4",
        c.input_hashes()
    ));
    want.push("Event_wait event#4 -> 5".into());
    want.push("Event_free event#4".into());
    want.push("Execution_free execution#3".into());
    want.push("Compilation_free compilation#2".into());
    want.push("Model_free model#1".into());
    want.push(exit_line(4));
    assert_log(&log, &want);
}

#[test]
fn the_fake_refuses_broken_calls() {
    let Some(log) = run_child("bad_calls", Lib::Api31, "ok") else {
        return;
    };
    let errors: Vec<&String> = log.iter().filter(|l| l.starts_with("ERROR")).collect();
    assert_eq!(errors.len(), 20, "{}", log.join("\n"));
    assert_eq!(
        log.last().map(String::as_str),
        Some("exit live=0 created=5 errors=20"),
        "{}",
        log.join("\n")
    );
}

//! The build-script API: compile a `.tflite` model into a Rust module in `OUT_DIR`, for projects
//! that want to read or cache the generated code rather than expand `include_model!`.
//!
//! ```no_run
//! // In build.rs's `fn main()`:
//! mvcc::build::RustModule::new("models/face_detection_short_range.tflite")
//!     .write()
//!     .unwrap_or_else(|e| panic!("{e}"));
//! ```
//!
//! ```ignore
//! // src/main.rs
//! mod face {
//!     include!(concat!(env!("OUT_DIR"), "/face_detection_short_range.rs"));
//! }
//! ```
//!
//! The module is the same code `include_model!` expands to (see [`crate::rust`]); the weights go
//! into `NAME.weights.bin` beside it, embedded with `include_bytes!`. The crate needs
//! `mvcc-runtime` as a dependency and `mvcc` (with `default-features = false`) as a build
//! dependency.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::rust::{model_name, Options, WeightsForm};

/// Why a model could not be written.
#[derive(Debug)]
pub enum Error {
    /// Reading the model or writing the output failed.
    Io(PathBuf, std::io::Error),
    /// The model does not compile (every problem listed).
    Compile(PathBuf, crate::Error),
    /// No output directory: `OUT_DIR` is unset and none was given.
    NoOutDir,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(p, e) => write!(f, "{}: {e}", p.display()),
            Error::Compile(p, e) => {
                writeln!(f, "{}: {} problem(s):", p.display(), e.problems.len())?;
                for pr in &e.problems {
                    writeln!(f, "  {pr}")?;
                }
                Ok(())
            }
            Error::NoOutDir => write!(
                f,
                "OUT_DIR is not set (not in a build script?) and no out_dir was given"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// The files written for one model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The Rust module (`NAME.rs`).
    pub source: PathBuf,
    /// The weight blob (`NAME.weights.bin`).
    pub weights: PathBuf,
    /// Arena size in bytes.
    pub arena_bytes: usize,
}

/// Compiles the model at `model` and writes `dir/NAME.rs` and `dir/NAME.weights.bin`.
///
/// # Errors
/// I/O errors; every compile problem.
pub fn write_rust(
    model: &Path,
    dir: &Path,
    name: Option<&str>,
    trace: bool,
    input_shapes: &[Option<Vec<usize>>],
    nnapi: Option<crate::nnapi::partition::Options>,
) -> Result<Written, Error> {
    let bytes = std::fs::read(model).map_err(|e| Error::Io(model.to_path_buf(), e))?;
    let stem = model
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model");
    let name = name.map_or_else(|| model_name(stem), model_name);
    let source_name = model
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("model.tflite")
        .to_string();
    let weights_file = format!("{name}.weights.bin");
    let opts = Options {
        name: name.clone(),
        source: source_name,
        weights: WeightsForm::File(weights_file.clone()),
        trace,
        input_shapes: input_shapes.to_vec(),
        nnapi,
    };
    let generated =
        crate::rust::compile(&bytes, &opts).map_err(|e| Error::Compile(model.to_path_buf(), e))?;
    std::fs::create_dir_all(dir).map_err(|e| Error::Io(dir.to_path_buf(), e))?;
    let source = dir.join(format!("{name}.rs"));
    let weights = dir.join(weights_file);
    write_if_changed(&weights, &generated.weights)?;
    write_if_changed(&source, generated.code.as_bytes())?;
    Ok(Written {
        source,
        weights,
        arena_bytes: generated.arena_bytes,
    })
}

/// Writes `bytes` unless the file already holds them (so Cargo does not rebuild for nothing).
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).map_err(|e| Error::Io(path.to_path_buf(), e))
}

/// A model to compile from a build script.
#[derive(Clone, Debug)]
pub struct RustModule {
    model: PathBuf,
    name: Option<String>,
    out_dir: Option<PathBuf>,
    trace: bool,
    input_shapes: Vec<Option<Vec<usize>>>,
    nnapi: Option<crate::nnapi::partition::Options>,
}

impl RustModule {
    /// The model at `path` (relative paths are relative to the crate root, where Cargo runs
    /// build scripts).
    pub fn new(path: impl Into<PathBuf>) -> RustModule {
        RustModule {
            model: path.into(),
            name: None,
            out_dir: None,
            trace: false,
            input_shapes: Vec::new(),
            nnapi: None,
        }
    }

    /// The module's file name (default: the model's file stem, sanitized).
    pub fn name(mut self, name: &str) -> RustModule {
        self.name = Some(name.to_string());
        self
    }

    /// Where to write (default: `OUT_DIR`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> RustModule {
        self.out_dir = Some(dir.into());
        self
    }

    /// Also generate `run_traced` (a hook after every step).
    pub fn trace(mut self, on: bool) -> RustModule {
        self.trace = on;
        self
    }

    /// Shapes for the model's inputs, in order (`None`: the file's), for models with dynamic
    /// dimensions.
    pub fn input_shapes(mut self, shapes: Vec<Option<Vec<usize>>>) -> RustModule {
        self.input_shapes = shapes;
        self
    }

    /// Also embed the model's NNAPI partition for this Android API level (27..=35; 29 covers
    /// float and uint8 models, int8 needs 30): the model gains `set_target` (see
    /// `mvcc_runtime::nnapi`).
    pub fn nnapi(mut self, api_level: u32) -> RustModule {
        self.nnapi = Some(crate::nnapi::partition::Options::new(api_level));
        self
    }

    /// As [`RustModule::nnapi`], with every partition option (e.g. the segment limit).
    pub fn nnapi_options(mut self, options: crate::nnapi::partition::Options) -> RustModule {
        self.nnapi = Some(options);
        self
    }

    /// Compiles and writes the module; tells Cargo to rerun when the model changes.
    ///
    /// # Errors
    /// See [`Error`].
    pub fn write(self) -> Result<Written, Error> {
        let dir = match self.out_dir {
            Some(d) => d,
            None => PathBuf::from(std::env::var_os("OUT_DIR").ok_or(Error::NoOutDir)?),
        };
        println!("cargo:rerun-if-changed={}", self.model.display());
        write_rust(
            &self.model,
            &dir,
            self.name.as_deref(),
            self.trace,
            &self.input_shapes,
            self.nnapi,
        )
    }
}

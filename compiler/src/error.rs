//! Errors: every problem found in a model, each with where it is.
//!
//! Nothing derived from a model file panics; every failure becomes a [`Problem`] with a
//! [`Location`]. Checks collect all problems they find before failing, so a user sees every
//! unsupported op and every malformed tensor at once.

use std::fmt;

/// Where in the model a problem is. Every field is optional; the more the better.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// Subgraph index in the `.tflite` file.
    pub subgraph: Option<u32>,
    /// Operator index in the subgraph.
    pub operator: Option<u32>,
    /// The op's TFLite name (`CONV_2D`).
    pub op: Option<String>,
    /// Tensor index in the subgraph.
    pub tensor: Option<u32>,
    /// Tensor name.
    pub tensor_name: Option<String>,
}

impl Location {
    /// The whole model.
    pub fn model() -> Location {
        Location::default()
    }

    /// An operator of subgraph 0.
    pub fn operator(index: Option<u32>, op: impl Into<String>) -> Location {
        Location {
            subgraph: Some(0),
            operator: index,
            op: Some(op.into()),
            ..Location::default()
        }
    }

    /// A tensor of subgraph 0.
    pub fn tensor(index: Option<u32>, name: impl Into<String>) -> Location {
        Location {
            subgraph: Some(0),
            tensor: index,
            tensor_name: Some(name.into()),
            ..Location::default()
        }
    }

    /// This location, narrowed to a tensor.
    pub fn with_tensor(mut self, index: Option<u32>, name: impl Into<String>) -> Location {
        self.tensor = index;
        self.tensor_name = Some(name.into());
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(s) = self.subgraph {
            if s != 0 {
                parts.push(format!("subgraph {s}"));
            }
        }
        match (self.operator, &self.op) {
            (Some(i), Some(op)) => parts.push(format!("operator {i} ({op})")),
            (Some(i), None) => parts.push(format!("operator {i}")),
            (None, Some(op)) => parts.push(format!("op {op}")),
            (None, None) => {}
        }
        match (self.tensor, &self.tensor_name) {
            (Some(i), Some(n)) if !n.is_empty() => parts.push(format!("tensor {i} \"{n}\"")),
            (Some(i), _) => parts.push(format!("tensor {i}")),
            (None, Some(n)) => parts.push(format!("tensor \"{n}\"")),
            (None, None) => {}
        }
        if parts.is_empty() {
            f.write_str("model")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// An operator mvcc does not support, with every operator index that uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsupportedOp {
    /// TFLite builtin name, custom code, or `BUILTIN_<code>` for codes newer than mvcc knows.
    pub name: String,
    /// Operator version.
    pub version: i32,
    /// Operator indices (subgraph 0) that use it.
    pub operators: Vec<u32>,
    /// Why, when the op itself is known but this use of it is not (a version or type combination).
    pub reason: Option<String>,
}

impl fmt::Display for UnsupportedOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let idx: Vec<String> = self.operators.iter().map(|i| i.to_string()).collect();
        let plural = if self.operators.len() == 1 { "" } else { "s" };
        write!(
            f,
            "{} v{} (operator{plural} {})",
            self.name,
            self.version,
            idx.join(", ")
        )?;
        if let Some(r) = &self.reason {
            write!(f, ": {r}")?;
        }
        Ok(())
    }
}

/// One problem in a model.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Problem {
    /// The bytes are not a well-formed TFLite FlatBuffer.
    #[error("not a valid TFLite model: {0}")]
    Malformed(String),
    /// A structural rule of the model is broken (index out of range, size mismatch, cycle, …).
    #[error("{location}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// What is wrong.
        message: String,
    },
    /// Operators mvcc does not support; one entry per distinct op and version.
    #[error("unsupported operators: {}", .0.iter().map(|u| u.to_string()).collect::<Vec<_>>().join("; "))]
    Unsupported(Vec<UnsupportedOp>),
}

/// The error type of the compiler library: one or more problems.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    /// Every problem found, in model order.
    pub problems: Vec<Problem>,
}

impl Error {
    /// An error of one problem.
    pub fn one(p: Problem) -> Error {
        Error { problems: vec![p] }
    }

    /// An [`Problem::Invalid`] error.
    pub fn invalid(location: Location, message: impl Into<String>) -> Error {
        Error::one(Problem::Invalid {
            location,
            message: message.into(),
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<Problem> for Error {
    fn from(p: Problem) -> Error {
        Error::one(p)
    }
}

/// Result with the library's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Collects problems, so a check can report all of them.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// Records an invalid-model problem.
    pub fn invalid(&mut self, location: Location, message: impl Into<String>) {
        self.0.push(Problem::Invalid {
            location,
            message: message.into(),
        });
    }

    /// Records every problem of `e`.
    pub fn extend(&mut self, e: Error) {
        self.0.extend(e.problems);
    }

    /// `Ok(v)` if no problem was recorded. All unsupported-op problems are merged into one,
    /// first, listing each op, version and reason once with every operator index using it.
    pub fn finish<T>(self, v: T) -> Result<T> {
        if self.0.is_empty() {
            return Ok(v);
        }
        let mut merged: Vec<UnsupportedOp> = Vec::new();
        let mut rest = Vec::new();
        for p in self.0 {
            match p {
                Problem::Unsupported(list) => {
                    for u in list {
                        match merged.iter_mut().find(|m| {
                            m.name == u.name && m.version == u.version && m.reason == u.reason
                        }) {
                            Some(m) => m.operators.extend(u.operators),
                            None => merged.push(u),
                        }
                    }
                }
                other => rest.push(other),
            }
        }
        let mut problems = Vec::new();
        if !merged.is_empty() {
            problems.push(Problem::Unsupported(merged));
        }
        problems.extend(rest);
        Err(Error { problems })
    }
}

//! The NNAPI back end: lowering to an Android Neural Networks API model description, the
//! CPU/NNAPI partition, a validator for NNAPI's operand rules, and a reference executor that runs
//! a description on the host with NNAPI's semantics.

pub mod cts;
pub mod desc;
pub mod encode;
pub mod lower;
pub mod partition;
pub mod refexec;
pub mod run;
pub mod text;
pub mod validate;

pub use desc::*;

//! Target descriptions (`targets/*.json`): a triple, Cranelift's shared flags and the ISA's CPU
//! features. `host` is the machine mvcc runs on, with every feature it has.

use std::path::Path;
use std::str::FromStr;

use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};

use crate::error::{Error, Location, Result};

/// A target to compile for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The name (`host`, a file stem, or a path).
    pub name: String,
    /// The triple; `None` for the host.
    pub triple: Option<String>,
    /// Cranelift shared settings.
    pub flags: Vec<(String, String)>,
    /// ISA settings (CPU features).
    pub isa_flags: Vec<(String, String)>,
}

/// The descriptions shipped in `targets/`, embedded so the installed binary knows them.
const BUILTIN: &[(&str, &str)] = &[
    (
        "x86_64-unknown-linux-gnu",
        include_str!("../../../targets/x86_64-unknown-linux-gnu.json"),
    ),
    (
        "x86_64-v3-unknown-linux-gnu",
        include_str!("../../../targets/x86_64-v3-unknown-linux-gnu.json"),
    ),
    (
        "aarch64-linux-android",
        include_str!("../../../targets/aarch64-linux-android.json"),
    ),
    (
        "aarch64-unknown-linux-gnu",
        include_str!("../../../targets/aarch64-unknown-linux-gnu.json"),
    ),
];

fn bad(name: &str, msg: impl std::fmt::Display) -> Error {
    Error::invalid(Location::model(), format!("target {name}: {msg}"))
}

fn pairs(name: &str, v: Option<&serde_json::Value>) -> Result<Vec<(String, String)>> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let obj = v
        .as_object()
        .ok_or_else(|| bad(name, "flags must be an object of strings"))?;
    obj.iter()
        .map(|(k, v)| match v.as_str() {
            Some(s) => Ok((k.clone(), s.to_string())),
            None => Err(bad(name, format!("flag {k} must be a string"))),
        })
        .collect()
}

impl Target {
    /// The host with every feature it has.
    pub fn host() -> Target {
        Target {
            name: "host".into(),
            triple: None,
            flags: Vec::new(),
            isa_flags: Vec::new(),
        }
    }

    /// Parses a description.
    ///
    /// # Errors
    /// Malformed JSON or fields.
    pub fn parse(name: &str, json: &str) -> Result<Target> {
        let v: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(name, e))?;
        let triple = v
            .get("triple")
            .and_then(|t| t.as_str())
            .ok_or_else(|| bad(name, "no \"triple\""))?;
        Ok(Target {
            name: name.to_string(),
            triple: Some(triple.to_string()),
            flags: pairs(name, v.get("flags"))?,
            isa_flags: pairs(name, v.get("isa_flags"))?,
        })
    }

    /// `host`, a shipped target's name, or a path to a description.
    ///
    /// # Errors
    /// An unknown name, an unreadable or malformed file.
    pub fn lookup(name: &str) -> Result<Target> {
        if name == "host" {
            return Ok(Target::host());
        }
        if let Some((_, json)) = BUILTIN.iter().find(|(n, _)| *n == name) {
            return Target::parse(name, json);
        }
        let path = Path::new(name);
        if path.extension().is_some_and(|e| e == "json") || path.exists() {
            let json = std::fs::read_to_string(path).map_err(|e| bad(name, e))?;
            return Target::parse(name, &json);
        }
        let known: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        Err(bad(
            name,
            format!("unknown; use host, {}, or a .json file", known.join(", ")),
        ))
    }

    /// Whether code for this target runs on this machine.
    pub fn is_host(&self) -> bool {
        self.triple.is_none()
    }

    /// The Cranelift ISA.
    ///
    /// # Errors
    /// An unsupported triple or an unknown flag.
    pub fn isa(&self) -> Result<OwnedTargetIsa> {
        let mut f = settings::builder();
        f.set("opt_level", "speed")
            .map_err(|e| bad(&self.name, e))?;
        f.set("enable_verifier", "true")
            .map_err(|e| bad(&self.name, e))?;
        for (k, v) in &self.flags {
            f.set(k, v)
                .map_err(|e| bad(&self.name, format!("flag {k}={v}: {e}")))?;
        }
        let mut isa = match &self.triple {
            None => cranelift_native::builder().map_err(|e| bad(&self.name, e))?,
            Some(t) => {
                let triple = target_lexicon::Triple::from_str(t).map_err(|e| bad(&self.name, e))?;
                cranelift_codegen::isa::lookup(triple).map_err(|e| bad(&self.name, e))?
            }
        };
        for (k, v) in &self.isa_flags {
            isa.set(k, v)
                .map_err(|e| bad(&self.name, format!("ISA flag {k}={v}: {e}")))?;
        }
        isa.finish(settings::Flags::new(f))
            .map_err(|e| bad(&self.name, e))
    }
}

//! Typed access to the parameters passed to `run` (the host has already checked the types
//! and applied defaults, so a mismatch here is a bug in the step's own declaration: a
//! `bad-input`, never retried).

use crate::{Param, ParamValue, StepError, bad_input};

/// The parameters `run` receives, read by name and type: `Params(params).int("k")?`.
pub struct Params(pub Vec<Param>);

impl Params {
    fn get(&self, name: &str) -> Result<&ParamValue, StepError> {
        self.0
            .iter()
            .find(|p| p.name == name)
            .map(|p| &p.value)
            .ok_or_else(|| bad_input(format!("parameter `{name}` was not passed")))
    }

    /// A string parameter.
    pub fn str(&self, name: &str) -> Result<String, StepError> {
        match self.get(name)? {
            ParamValue::Str(s) => Ok(s.clone()),
            _ => Err(bad_input(format!("parameter `{name}` is not of type str"))),
        }
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Result<i64, StepError> {
        match self.get(name)? {
            ParamValue::Int(i) => Ok(*i),
            _ => Err(bad_input(format!("parameter `{name}` is not of type int"))),
        }
    }

    /// A float parameter.
    pub fn float(&self, name: &str) -> Result<f64, StepError> {
        match self.get(name)? {
            ParamValue::Float(f) => Ok(*f),
            _ => Err(bad_input(format!("parameter `{name}` is not of type float"))),
        }
    }

    /// A boolean parameter.
    pub fn bool(&self, name: &str) -> Result<bool, StepError> {
        match self.get(name)? {
            ParamValue::Boolean(b) => Ok(*b),
            _ => Err(bad_input(format!("parameter `{name}` is not of type bool"))),
        }
    }
}

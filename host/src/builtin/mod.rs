//! Built-in steps. Each is one file that registers itself with `inventory::submit!`, so adding
//! one touches no central list: the manifest loader, `brulee plugins` and the pipeline all
//! read the registry.

mod accepted_risk;
mod file;
mod inline;
mod min_cvss;

use crate::manifest::StepConfig;
use crate::plugin::{PluginError, Stage, StepCode};

/// A built-in step, registered with [`inventory::submit!`].
pub struct Builtin {
    /// What a manifest writes after `builtin =`.
    pub name: &'static str,
    pub stage: Stage,
    pub description: &'static str,
    /// Turn the step's validated config into the running step.
    pub build: fn(&StepConfig) -> Result<Box<dyn StepCode>, PluginError>,
}

inventory::collect!(Builtin);

/// Every built-in, sorted by stage and name.
pub fn all() -> Vec<&'static Builtin> {
    let mut all: Vec<&'static Builtin> = inventory::iter::<Builtin>.into_iter().collect();
    all.sort_by_key(|b| (b.stage, b.name));
    all
}

pub fn find(stage: Stage, name: &str) -> Option<&'static Builtin> {
    all()
        .into_iter()
        .find(|b| b.stage == stage && b.name == name)
}

/// The built-in names of a stage, for manifest validation.
pub fn names(stage: Stage) -> Vec<&'static str> {
    all()
        .into_iter()
        .filter(|b| b.stage == stage)
        .map(|b| b.name)
        .collect()
}

/// A built-in's config, deserialised.
fn config<T: serde::de::DeserializeOwned>(step: &StepConfig) -> Result<T, PluginError> {
    serde_json::from_value(step.config.clone())
        .map_err(|e| PluginError::Load(format!("bad config: {e}")))
}

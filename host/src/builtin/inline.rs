//! `builtin = "inline"` source: targets written in the manifest itself, for a scan whose scope
//! is small and fixed enough to live beside its steps.
//!
//! ```toml
//! [[source]]
//! builtin = "inline"
//! config = { targets = ["127.0.0.2", "127.0.1.0/28"] }
//! ```

use super::Builtin;
use crate::manifest::StepConfig;
use crate::plugin::{PluginError, Stage, StepCode};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    targets: Vec<String>,
}

struct InlineSource(Vec<String>);

impl StepCode for InlineSource {
    fn targets(&mut self) -> Result<Vec<String>, PluginError> {
        // The pipeline validates every target, as it does for every source.
        Ok(self.0.clone())
    }
}

fn build(step: &StepConfig) -> Result<Box<dyn StepCode>, PluginError> {
    let config: Config = super::config(step)?;
    if config.targets.is_empty() {
        return Err(PluginError::Load(
            "config.targets is empty: list at least one address, range or host name".into(),
        ));
    }
    Ok(Box::new(InlineSource(config.targets)))
}

inventory::submit! {
    Builtin {
        name: "inline",
        stage: Stage::Source,
        description: "targets listed in the manifest; config: targets = [\"127.0.0.2\", …]",
        build,
    }
}

//! `builtin = "file"` source: targets from a file, one or more per line (Flan Scan's ips.txt).
//!
//! ```toml
//! [[source]]
//! builtin = "file"
//! config = { path = "ips.txt" }   # relative to the manifest
//! ```

use std::path::PathBuf;

use super::Builtin;
use crate::manifest::StepConfig;
use crate::plugin::{PluginError, Stage, StepCode};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    path: PathBuf,
}

struct FileSource {
    path: PathBuf,
}

impl StepCode for FileSource {
    fn targets(&mut self) -> Result<Vec<String>, PluginError> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| {
            PluginError::Failed(format!("cannot read {}: {e}", self.path.display()))
        })?;
        // Blank lines and # comments are skipped; the pipeline validates every target.
        Ok(text
            .lines()
            .map(|l| l.split('#').next().unwrap_or_default())
            .flat_map(str::split_whitespace)
            .map(str::to_string)
            .collect())
    }
}

fn build(step: &StepConfig) -> Result<Box<dyn StepCode>, PluginError> {
    let config: Config = super::config(step)?;
    Ok(Box::new(FileSource {
        path: step.dir.join(config.path),
    }))
}

inventory::submit! {
    Builtin {
        name: "file",
        stage: Stage::Source,
        description: "targets from a file, one or more per line (# comments); config: path",
        build,
    }
}

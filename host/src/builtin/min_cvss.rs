//! `builtin = "min-cvss"` filter: drops findings scored below a CVSS threshold.
//!
//! ```toml
//! [[filter]]
//! builtin = "min-cvss"
//! config = { min = 7.0, keep_unscored = true }
//! ```

use super::Builtin;
use crate::findings::Finding;
use crate::manifest::StepConfig;
use crate::plugin::{PluginError, Stage, StepCode, Verdict};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    min: f64,
    /// Keep findings without a score (default): "unknown" is not "low".
    #[serde(default = "yes")]
    keep_unscored: bool,
}

fn yes() -> bool {
    true
}

struct MinCvss(Config);

impl StepCode for MinCvss {
    fn filter(&mut self, finding: &Finding) -> Result<Verdict, PluginError> {
        Ok(match finding.vulnerability.cvss {
            Some(score) if score < self.0.min => {
                Verdict::Drop(format!("CVSS {score} is below {}", self.0.min))
            }
            None if !self.0.keep_unscored => Verdict::Drop("no CVSS score".into()),
            _ => Verdict::Keep,
        })
    }
}

fn build(step: &StepConfig) -> Result<Box<dyn StepCode>, PluginError> {
    Ok(Box::new(MinCvss(super::config(step)?)))
}

inventory::submit! {
    Builtin {
        name: "min-cvss",
        stage: Stage::Filter,
        description: "drops findings with a CVSS score below config.min (keep_unscored = true)",
        build,
    }
}

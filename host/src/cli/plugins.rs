//! `brulee plugins`: the built-in steps, the first-party plugins, and what a manifest loads.

use std::path::PathBuf;

use clap::Args;

use super::exit;
use crate::manifest::PluginCatalog;
use crate::pipeline::FirstPartyPlugins;

/// List built-in steps and first-party plugins, and with --manifest the steps it loads.
#[derive(Debug, Args)]
pub struct PluginsArgs {
    /// Also list the steps this manifest loads, in pipeline order.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
}

pub fn run(args: PluginsArgs) -> anyhow::Result<u8> {
    println!("Built-in steps:");
    for builtin in crate::builtin::all() {
        println!(
            "  [[{}]] builtin = {:<12} {}",
            builtin.stage.table(),
            format!("{:?}", builtin.name),
            builtin.description
        );
    }
    let catalog = FirstPartyPlugins::default();
    let names = catalog.names();
    println!("First-party plugins (plugin = \"NAME\"):");
    if names.is_empty() {
        println!("  none built: run `cargo xtask plugins`");
    }
    for name in names {
        let path = catalog
            .find(&name)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        println!("  {name:<20} {path}");
    }
    if let Some(file) = &args.manifest {
        let manifest = super::manifest::load(file)?;
        println!("{} loads:", file.display());
        for step in &manifest.steps {
            let grants: Vec<String> = step.allow_hosts.iter().map(ToString::to_string).collect();
            println!(
                "  [[{}]] {:<20} {}  on_error={:?} allow_hosts=[{}] env=[{}]",
                step.stage.table(),
                step.name,
                step.code,
                step.on_error,
                grants.join(", "),
                step.env.join(", ")
            );
        }
    }
    Ok(exit::OK)
}

//! The GCS and Azure Blob test servers and the clients that read their objects back
//! (host/tests/sink_gcs_azure.rs), installed under `target/tools` once:
//! - `venv-gcs`: gcp-storage-emulator (the GCS JSON API), google-cloud-storage and
//!   azure-storage-blob (the clients users have), cryptography (the test's OAuth token
//!   endpoint verifies RS256 with it);
//! - `azurite`: Azurite 3.35.0 from npm (3.36 and later need Node 21; Debian 12 has 20).
//!
//! Measured commands and quirks: shared/notes/storage-servers.md.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

/// PyPI packages of the venv; a change of this list rebuilds it.
const PYTHON_REQUIREMENTS: [&str; 4] = [
    "gcp-storage-emulator==2026.7.19",
    "google-cloud-storage==3.17.1",
    "azure-storage-blob==12.31.1",
    "cryptography==50.0.2",
];
const AZURITE: &str = "azurite@3.35.0";

/// Debian packages these need besides python3-venv (already wanted by the k8s check): Node
/// with npm for Azurite (Debian 12's nodejs is 18, enough for Azurite 3.35). Asked for only
/// when the program is missing: NodeSource's nodejs bundles npm and conflicts with Debian's.
pub fn apt_packages() -> Vec<&'static str> {
    [("node", "nodejs"), ("npm", "npm")]
        .into_iter()
        .filter(|(program, _)| !crate::setup::on_path(program))
        .map(|(_, package)| package)
        .collect()
}

/// Installs what is missing; a second run only compares two stamps.
pub fn install() -> Result<()> {
    let tools = testkit::gcs_azure::tools_dir(&crate::target_dir());
    python_venv(&tools.join("venv-gcs"))?;
    azurite(&tools.join("azurite"))
}

fn python_venv(venv: &Path) -> Result<()> {
    let stamp = venv.join("xtask-requirements.txt");
    let wanted = PYTHON_REQUIREMENTS.join("\n");
    if fs::read_to_string(&stamp).is_ok_and(|have| have == wanted) {
        return Ok(());
    }
    if venv.exists() {
        fs::remove_dir_all(venv).with_context(|| format!("removing {}", venv.display()))?;
    }
    crate::run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
    crate::run(
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(PYTHON_REQUIREMENTS),
    )?;
    fs::write(&stamp, wanted).with_context(|| format!("writing {}", stamp.display()))
}

fn azurite(dir: &Path) -> Result<()> {
    crate::setup::npm_package(dir, AZURITE, "node_modules/.bin/azurite-blob")
}

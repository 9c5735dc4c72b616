//! Installing brulee's system dependencies with apt.
//!
//! Every check comes before apt, so a machine that already has everything never touches apt
//! (fast, and works offline or without root).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use testkit::ServiceKind;

/// What `cargo xtask container` needs: buildah and podman build and run images without a
/// daemon, runc because crun fails here, mmdebstrap for the base image
/// (`shared/notes/containers.md`).
pub const CONTAINER_PACKAGES: [&str; 6] = [
    "buildah",
    "podman",
    "runc",
    "mmdebstrap",
    "uidmap",
    "containernetworking-plugins",
];

/// What `cargo xtask k8s` needs: a virtualenv for its PyPI tools.
pub const K8S_PACKAGES: [&str; 1] = ["python3-venv"];

pub fn setup(test: bool) -> Result<()> {
    let mut wanted = Vec::new();
    if !testkit::nmap_available() {
        wanted.push("nmap");
    }
    if test {
        wanted.extend(ServiceKind::ALL.map(ServiceKind::debian_package));
        wanted.extend(REPORT_TEST_PACKAGES);
        wanted.extend(K8S_PACKAGES);
        wanted.extend(crate::storage_gcp_azure::apt_packages());
    }
    install(&wanted)?;
    if test {
        crate::storage_aws::setup()?;
        crate::storage_gcp_azure::install()?;
        sarif_multitool()?;
    }
    Ok(())
}

/// Microsoft's SARIF Multitool, whose `validate` checks the SARIF report against the SARIF
/// 2.1.0 schema and its rules (host/tests/formats/sarif.rs). A self-contained .NET build,
/// from npm; 5.7.0 is what was measured here.
const SARIF_MULTITOOL: &str = "@microsoft/sarif-multitool@5.7.0";

/// Where the tests find it, under the tools folder.
pub const SARIF_MULTITOOL_BIN: &str =
    "sarif-multitool/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool";

fn sarif_multitool() -> Result<()> {
    let tools = crate::storage_aws::tools_dir();
    crate::setup::npm_package(
        &tools.join("sarif-multitool"),
        SARIF_MULTITOOL,
        "node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool",
    )?;
    // npm no longer runs the package's postinstall script, which only sets this bit.
    let bin = tools.join(SARIF_MULTITOOL_BIN);
    let mut permissions = fs::metadata(&bin)
        .with_context(|| format!("{} was not installed", bin.display()))?
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    fs::set_permissions(&bin, permissions).with_context(|| format!("chmod {}", bin.display()))
}

/// Installs an npm package (`name@version`) into `dir`, unless a stamp says it is there and
/// `bin` (relative to `dir`) exists.
pub fn npm_package(dir: &Path, spec: &str, bin: &str) -> Result<()> {
    let stamp = dir.join("xtask-package.txt");
    if fs::read_to_string(&stamp).is_ok_and(|have| have == spec) && dir.join(bin).is_file() {
        return Ok(());
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    crate::run(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(dir)
            .arg(spec),
    )?;
    fs::write(&stamp, spec).with_context(|| format!("writing {}", stamp.display()))
}

/// What the report tests (host/tests/formats.rs) run: pdflatex and latexmk for the LaTeX → PDF
/// report, pdftotext and pdfinfo to read the PDF back, headless Chromium to open the HTML
/// report. The smallest TeX Live set the LaTeX template needs (longtable, hyperref, xcolor and
/// the Helvetica/Courier Type 1 clones of texlive-fonts-recommended), not texlive-full: together
/// about 600 MB installed instead of 5 GB.
const REPORT_TEST_PACKAGES: [&str; 7] = [
    "texlive-latex-base",
    "texlive-latex-recommended",
    "texlive-fonts-recommended",
    "latexmk",
    "poppler-utils",
    "chromium",
    // Chromium draws text with whatever fontconfig finds: without a font, screenshots show boxes.
    "fonts-dejavu-core",
];

/// `target/tools/bin/BIN`, installed first from crates.io with `cargo install --locked` (the
/// pinned `spec`, e.g. `cargo-fuzz@0.13.2`, plus `extra` arguments) if it is not there.
pub fn cargo_tool(spec: &str, bin: &str, extra: &[&str]) -> Result<PathBuf> {
    let tools = crate::storage_aws::tools_dir();
    let path = tools.join("bin").join(bin);
    if !path.is_file() {
        crate::run(
            crate::cargo()
                .args(["install", spec, "--locked"])
                .args(extra)
                .arg("--root")
                .arg(&tools),
        )?;
    }
    Ok(path)
}

/// Installs the Rust standard library for wasm32-wasip2 (plugins are built for it), unless
/// rustup already has it.
pub fn wasm_target() -> Result<()> {
    let target = crate::plugins::TARGET;
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .with_context(|| {
            format!("running rustup: it installs the {target} target plugins are built for")
        })?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == target)
    {
        return Ok(());
    }
    crate::run(Command::new("rustup").args(["target", "add", target]))
}

/// Installs those of `packages` that dpkg does not report as installed.
pub fn install(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        eprintln!("setup: nothing to install");
        return Ok(());
    }
    let list = missing.join(" ");
    if !on_path("apt-get") {
        bail!("setup: apt-get not found; install these packages with your system's package manager: {list}");
    }
    if unsafe { libc::geteuid() } != 0 {
        bail!("setup: installing {list} needs root: run `sudo apt-get install -y {list}`, or this command as root");
    }

    let _guard = NoDaemonStarts::at(Path::new(POLICY_RC_D))?;
    let mut updated = false;
    if !have_package_lists() {
        apt_update()?;
        updated = true;
    }
    if let Err(first) = apt_install(&missing) {
        if updated {
            return Err(first);
        }
        // Usually stale lists pointing at versions the mirror no longer has.
        eprintln!("setup: {first:#}; updating the package lists and trying again");
        apt_update()?;
        apt_install(&missing)?;
    }
    let still: Vec<&str> = missing.iter().copied().filter(|p| !installed(p)).collect();
    if !still.is_empty() {
        bail!(
            "setup: apt-get finished but these are still not installed: {}",
            still.join(" ")
        );
    }
    Ok(())
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout == b"install ok installed")
}

pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn have_package_lists() -> bool {
    fs::read_dir("/var/lib/apt/lists").is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("_Packages"))
    })
}

fn apt() -> Command {
    let mut command = Command::new("apt-get");
    command
        .env("DEBIAN_FRONTEND", "noninteractive")
        // A fresh machine may still be running its own apt job: wait for it rather than fail.
        .args(["-o", "DPkg::Lock::Timeout=300"])
        // No progress bars in logs.
        .args(["-o", "Dpkg::Use-Pty=0"]);
    command
}

fn apt_update() -> Result<()> {
    crate::run(apt().args(["-q", "update"]))
}

fn apt_install(packages: &[&str]) -> Result<()> {
    crate::run(
        apt()
            .args(["-q", "-y", "--no-install-recommends", "install"])
            .args(packages),
    )
}

/// Debian's maintainer scripts start every daemon they install (sshd, nginx, redis on
/// their standard ports), which tests must not race with and nobody asked for. A
/// policy-rc.d that exits 101 forbids it; one that was already there is left alone.
struct NoDaemonStarts {
    created: Option<PathBuf>,
}

const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

impl NoDaemonStarts {
    fn at(path: &Path) -> Result<Self> {
        if path.symlink_metadata().is_ok() {
            return Ok(Self { created: None });
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o755)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        file.write_all(
            b"#!/bin/sh\n# Written by cargo xtask setup while it installs packages.\nexit 101\n",
        )
        .with_context(|| format!("writing {}", path.display()))?;
        Ok(Self {
            created: Some(path.to_owned()),
        })
    }
}

impl Drop for NoDaemonStarts {
    fn drop(&mut self) {
        if let Some(path) = &self.created {
            if let Err(e) = fs::remove_file(path) {
                eprintln!("setup: could not remove {}: {e}", path.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_rc_d_is_created_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy-rc.d");
        let guard = NoDaemonStarts::at(&path).unwrap();
        let status = Command::new(&path).status().unwrap();
        assert_eq!(
            status.code(),
            Some(101),
            "invoke-rc.d reads 101 as 'action forbidden'"
        );
        drop(guard);
        assert!(!path.exists());
    }

    #[test]
    fn existing_policy_rc_d_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy-rc.d");
        fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        drop(NoDaemonStarts::at(&path).unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), "#!/bin/sh\nexit 0\n");
    }
}

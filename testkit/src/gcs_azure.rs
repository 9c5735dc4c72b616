//! Object-storage test servers for the gcs and azure-blob sinks, on 127.0.0.1: the GCS
//! emulator, Azurite, and an OAuth token endpoint that verifies service-account JWTs.
//!
//! `cargo xtask setup --test` installs them under `<target>/tools` (xtask/src/storage_gcp_azure.rs).

use std::fs::{self, File};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::{free_port, io_err, stop, Error};

/// Azurite's well-known development account (its documentation publishes the key).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

const TOKEN_ENDPOINT_PY: &str = include_str!("../python/oauth_token_endpoint.py");
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Where xtask installs the tools: `<target>/tools`.
pub fn tools_dir(target: &Path) -> PathBuf {
    target.join("tools")
}

/// The venv with the GCS emulator, the Python clients and `cryptography`.
pub fn venv_python(tools: &Path) -> Result<PathBuf, Error> {
    installed(
        tools.join("venv-gcs/bin/python"),
        "the venv-gcs Python venv",
    )
}

fn installed(path: PathBuf, tool: &'static str) -> Result<PathBuf, Error> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::MissingTool { tool })
    }
}

/// A server we started on 127.0.0.1, stopped (and reaped) when dropped.
#[derive(Debug)]
pub struct StorageServer {
    pub port: u16,
    child: Child,
    // Dropped after `child` is stopped, so the server never sees its files vanish.
    tempdir: tempfile::TempDir,
}

impl StorageServer {
    /// Runs `command(dir, port)` with a fresh folder and a free port, and returns once the
    /// port accepts connections.
    fn start(name: &'static str, command: impl Fn(&Path, u16) -> Command) -> Result<Self, Error> {
        let tempdir = tempfile::Builder::new()
            .prefix(&format!("testkit-{name}-"))
            .tempdir()
            .map_err(io_err("creating a temporary directory"))?;
        let port = free_port(IpAddr::V4(Ipv4Addr::LOCALHOST))?;
        let log = File::create(tempdir.path().join("output.log"))
            .map_err(io_err("creating output.log"))?;
        let log2 = log.try_clone().map_err(io_err("duplicating output.log"))?;
        let child = command(tempdir.path(), port)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(io_err(format!("starting {name}")))?;
        let mut server = StorageServer {
            port,
            child,
            tempdir,
        };
        if let Err(reason) = server.wait_ready() {
            stop(&mut server.child);
            return Err(Error::Start {
                daemon: name,
                addr: server.addr(),
                reason,
                output: server.output(),
            });
        }
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited early ({status})"));
            }
            if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("not accepting connections after {READY_TIMEOUT:?}"));
            }
            sleep(Duration::from_millis(50));
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port)
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's own folder (its data, and output.log with its stdout and stderr).
    pub fn dir(&self) -> &Path {
        self.tempdir.path()
    }

    pub fn output(&self) -> String {
        fs::read_to_string(self.dir().join("output.log")).unwrap_or_default()
    }
}

impl Drop for StorageServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// gcp-storage-emulator (the GCS JSON API) with one bucket; it checks no credentials.
pub fn gcs_emulator(tools: &Path, bucket: &str) -> Result<StorageServer, Error> {
    let program = installed(
        tools.join("venv-gcs/bin/gcp-storage-emulator"),
        "gcp-storage-emulator",
    )?;
    StorageServer::start("gcp-storage-emulator", |dir, port| {
        let mut command = Command::new(&program);
        command
            .arg("-d")
            .arg(dir.join("data"))
            .args(["start", "-H", "127.0.0.1", "--port", &port.to_string()])
            .args(["--default-bucket", bucket]);
        command
    })
}

/// Azurite's blob service, in memory. `--skipApiVersionCheck` is for the Python client,
/// whose API version is newer than Azurite 3.35 knows; the sink sends one it knows.
pub fn azurite(tools: &Path) -> Result<StorageServer, Error> {
    let program = installed(
        tools.join("azurite/node_modules/.bin/azurite-blob"),
        "azurite-blob",
    )?;
    StorageServer::start("azurite-blob", |_, port| {
        let mut command = Command::new(&program);
        command
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args([
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
            ]);
        command
    })
}

/// A service account made for one test: a fresh RSA key pair and the token endpoint that
/// trusts only its public key.
pub struct ServiceAccount {
    pub token_endpoint: StorageServer,
    /// The access token the endpoint grants.
    pub token: String,
    keys: tempfile::TempDir,
}

impl ServiceAccount {
    pub const EMAIL: &'static str = "scanner@brulee-test.iam.gserviceaccount.com";

    /// The scope the gcs sink asks for.
    pub const GCS_SCOPE: &'static str = "https://www.googleapis.com/auth/devstorage.read_write";

    /// An account whose token endpoint grants the gcs sink's scope.
    pub fn start(tools: &Path) -> Result<Self, Error> {
        Self::start_for_scope(tools, Self::GCS_SCOPE)
    }

    /// An account whose token endpoint grants a token only to grants asking for `scope`.
    pub fn start_for_scope(tools: &Path, scope: &str) -> Result<Self, Error> {
        let python = venv_python(tools)?;
        let keys = keygen(&python)?;
        let script = keys.path().join("oauth_token_endpoint.py");
        let token = format!("ya29.test-{}", std::process::id());
        let public = keys.path().join("public.pem");
        let token_endpoint = StorageServer::start("oauth-token-endpoint", |dir, port| {
            let mut command = Command::new(&python);
            command
                .arg(&script)
                .arg("serve")
                .arg(port.to_string())
                .arg(&public)
                .arg(&token)
                .arg(dir.join("grants.log"))
                .arg(scope);
            command
        })?;
        Ok(ServiceAccount {
            token_endpoint,
            token,
            keys,
        })
    }

    pub fn token_uri(&self) -> String {
        format!("{}/token", self.token_endpoint.url())
    }

    /// The key file's JSON, as `gcloud iam service-accounts keys create` writes it, with this
    /// account's private key (or another one, `private_pem`, to test a wrong key).
    pub fn key_json(&self, private_pem: Option<&str>) -> String {
        let own = fs::read_to_string(self.keys.path().join("private.pem")).unwrap_or_default();
        serde_json::json!({
            "type": "service_account",
            "project_id": "brulee-test",
            "private_key_id": "0123456789abcdef",
            "private_key": private_pem.unwrap_or(&own),
            "client_email": Self::EMAIL,
            "client_id": "100000000000000000001",
            "token_uri": self.token_uri(),
        })
        .to_string()
    }

    /// What the endpoint decided, one line per grant request.
    pub fn grants_log(&self) -> String {
        fs::read_to_string(self.token_endpoint.dir().join("grants.log")).unwrap_or_default()
    }

    /// A private key (PKCS#8 PEM) that is not this account's.
    pub fn other_private_key(tools: &Path) -> Result<String, Error> {
        let other = keygen(&venv_python(tools)?)?;
        fs::read_to_string(other.path().join("private.pem"))
            .map_err(io_err("reading the other key"))
    }
}

/// A fresh folder with the token endpoint's script and a new key pair (private.pem, public.pem).
fn keygen(python: &Path) -> Result<tempfile::TempDir, Error> {
    let keys = tempfile::Builder::new()
        .prefix("testkit-sa-")
        .tempdir()
        .map_err(io_err("creating a temporary directory"))?;
    let script = keys.path().join("oauth_token_endpoint.py");
    fs::write(&script, TOKEN_ENDPOINT_PY).map_err(io_err("writing the token endpoint"))?;
    let output = Command::new(python)
        .arg(&script)
        .arg("keygen")
        .arg(keys.path())
        .output()
        .map_err(io_err("generating a key pair"))?;
    if !output.status.success() {
        return Err(Error::Io {
            context: "generating a key pair".into(),
            source: std::io::Error::other(String::from_utf8_lossy(&output.stderr).into_owned()),
        });
    }
    Ok(keys)
}

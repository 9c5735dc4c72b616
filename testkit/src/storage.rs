//! Real AWS-speaking servers on 127.0.0.1 for the s3 sink and aws-ec2 source tests: `s3s-fs`
//! (S3 over a folder, verifies SigV4) and moto's server (EC2), plus the AWS CLI to check what
//! they hold. `cargo xtask setup --test` installs them under `target/tools`
//! (xtask/src/storage_aws.rs); measured commands and quirks: shared/notes/storage-servers.md.
//!
//! Each server runs as our child on a free port of 127.0.0.1 and is stopped by its PID when
//! dropped, like [`crate::LoopbackService`].

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::{free_port, io_err, is_executable, stop, Error, PORT_ATTEMPTS, READY_TIMEOUT};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Where `cargo xtask setup --test` installs the tools: the target folder's `tools`
/// (`CARGO_TARGET_DIR` when the tests were built with one, else the project's `target`).
pub fn tools_dir() -> PathBuf {
    match option_env!("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
    }
    .join("tools")
}

/// A tool under [`tools_dir`], or the error that says how to install it.
pub fn tool(relative: &'static str) -> Result<PathBuf, Error> {
    let path = tools_dir().join(relative);
    if is_executable(&path) {
        Ok(path)
    } else {
        Err(Error::MissingTool { tool: relative })
    }
}

/// A server process we started, stopped and reaped on drop.
#[derive(Debug)]
pub struct Server {
    pub port: u16,
    child: Child,
    /// The server's data folder and its output.log; removed after the server stops.
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts `program` with `args(port, dir)` on a free loopback port and waits until the
    /// port accepts connections; retries on another port if the chosen one was taken.
    fn start(
        name: &'static str,
        program: &Path,
        args: impl Fn(u16, &Path) -> Vec<String>,
    ) -> Result<Self, Error> {
        let mut attempt = 1;
        loop {
            let dir = tempfile::Builder::new()
                .prefix(&format!("testkit-{name}-"))
                .tempdir()
                .map_err(io_err("creating a temporary directory"))?;
            let port = free_port(LOOPBACK)?;
            let log = File::create(dir.path().join("output.log"))
                .map_err(io_err("creating output.log"))?;
            let log2 = log.try_clone().map_err(io_err("duplicating output.log"))?;
            let child = Command::new(program)
                .args(args(port, dir.path()))
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log2)
                .spawn()
                .map_err(io_err(format!("starting {}", program.display())))?;
            let mut server = Server { port, child, dir };
            match server.wait_ready() {
                Ok(()) => return Ok(server),
                Err(reason) => {
                    stop(&mut server.child);
                    let output = server.output();
                    if attempt < PORT_ATTEMPTS && output.contains("in use") {
                        attempt += 1;
                        continue;
                    }
                    return Err(Error::Start {
                        daemon: name,
                        addr: SocketAddr::new(LOOPBACK, port),
                        reason,
                        output,
                    });
                }
            }
        }
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let addr = SocketAddr::new(LOOPBACK, self.port);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited early ({status})"));
            }
            match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() >= deadline => {
                    return Err(format!("not ready after {READY_TIMEOUT:?}: {e}"))
                }
                Err(_) => sleep(Duration::from_millis(50)),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's own folder (s3s-fs keeps its buckets in `data/` under it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the server printed.
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("output.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// `s3s-fs` serving `dir()/data` (a bucket is a folder there, an object a file) to clients
/// that sign with `access_key` and `secret_key`.
pub fn start_s3s_fs(access_key: &str, secret_key: &str) -> Result<Server, Error> {
    let program = tool("bin/s3s-fs")?;
    let (access_key, secret_key) = (access_key.to_string(), secret_key.to_string());
    Server::start("s3s-fs", &program, move |port, dir| {
        let data = dir.join("data");
        let _ = std::fs::create_dir_all(&data);
        vec![
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
            "--access-key".into(),
            access_key.clone(),
            "--secret-key".into(),
            secret_key.clone(),
            data.display().to_string(),
        ]
    })
}

/// moto's server (EC2, S3, IAM, … in memory). It checks no signature unless opted in, so it
/// is for API behaviour; s3s-fs is where SigV4 is verified.
pub fn start_moto() -> Result<Server, Error> {
    let program = tool("venv-aws/bin/moto_server")?;
    Server::start("moto_server", &program, |port, _| {
        vec![
            "-H".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ]
    })
}

/// The AWS CLI against `endpoint` with these credentials, and nothing from the user's own AWS
/// configuration (no ~/.aws, no instance metadata lookups).
pub fn aws_cli(endpoint: &str, access_key: &str, secret_key: &str) -> Result<Command, Error> {
    let program = tool("venv-aws/bin/aws")?;
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", access_key)
        .env("AWS_SECRET_ACCESS_KEY", secret_key)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["--endpoint-url", endpoint]);
    Ok(command)
}

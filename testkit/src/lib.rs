//! Real network services on loopback, for brulee's tests and fixtures.
//!
//! brulee interprets what `nmap -sV` says about real daemons, so its tests run Debian's own
//! sshd, vsftpd, nginx and redis rather than fakes: a fake would only test our own idea of
//! what nmap sees. Each daemon runs in the foreground as our child, so we own its PID and can
//! always stop it; it listens on a free port of one loopback address only, and reads its
//! configuration and keys from its own temporary directory, never from the system's.
//!
//! `cargo xtask setup --test` installs the daemons (and nmap).

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

pub mod gcs_azure;
pub mod storage;

/// How long a daemon gets to accept a connection and show its banner.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a daemon gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// Binding port 0 and releasing it leaves a window in which someone else may take the port.
const PORT_ATTEMPTS: usize = 5;

/// Errors from starting a service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{tool} is not installed: run `cargo xtask setup --test`")]
    MissingTool { tool: &'static str },
    #[error("refusing to start a test service on {0}: only loopback addresses are allowed")]
    NotLoopback(IpAddr),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("{daemon} did not start on {addr}: {reason}\n--- output of {daemon} ---\n{output}")]
    Start {
        daemon: &'static str,
        addr: SocketAddr,
        reason: String,
        output: String,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// The kinds of real services testkit can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    Ssh,
    Ftp,
    Http,
    Redis,
}

impl ServiceKind {
    pub const ALL: [ServiceKind; 4] = [Self::Ssh, Self::Ftp, Self::Http, Self::Redis];

    /// Absolute path of the Debian daemon: absolute because sshd insists on it (it re-executes
    /// itself) and because a non-root PATH often lacks /usr/sbin.
    pub fn daemon(self) -> &'static str {
        match self {
            Self::Ssh => "/usr/sbin/sshd",
            Self::Ftp => "/usr/sbin/vsftpd",
            Self::Http => "/usr/sbin/nginx",
            Self::Redis => "/usr/bin/redis-server",
        }
    }

    /// The service name `nmap -sV` reports for this daemon.
    pub fn nmap_name(self) -> &'static str {
        match self {
            Self::Ssh => "ssh",
            Self::Ftp => "ftp",
            Self::Http => "http",
            Self::Redis => "redis",
        }
    }

    /// The Debian package that provides the daemon.
    pub fn debian_package(self) -> &'static str {
        match self {
            Self::Ssh => "openssh-server",
            Self::Ftp => "vsftpd",
            Self::Http => "nginx-light",
            Self::Redis => "redis-server",
        }
    }

    fn required_programs(self) -> &'static [&'static str] {
        match self {
            Self::Ssh => &["/usr/sbin/sshd", "/usr/bin/ssh-keygen"],
            Self::Ftp => &["/usr/sbin/vsftpd"],
            Self::Http => &["/usr/sbin/nginx"],
            Self::Redis => &["/usr/bin/redis-server"],
        }
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.nmap_name())
    }
}

/// Whether `nmap` is on PATH.
pub fn nmap_available() -> bool {
    find_on_path("nmap").is_some()
}

/// The programs that tests need but this machine lacks ("nmap" or a daemon's absolute
/// path), so a test can say what is missing instead of failing obscurely.
pub fn missing_tools() -> Vec<&'static str> {
    let mut missing = Vec::new();
    if !nmap_available() {
        missing.push("nmap");
    }
    for kind in ServiceKind::ALL {
        for &program in kind.required_programs() {
            if !is_executable(Path::new(program)) && !missing.contains(&program) {
                missing.push(program);
            }
        }
    }
    missing
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A running daemon, stopped (and waited for) when dropped.
#[derive(Debug)]
pub struct LoopbackService {
    pub kind: ServiceKind,
    pub addr: IpAddr,
    pub port: u16,
    child: Child,
    // Dropped after `child` is stopped (Drop::drop runs before fields are dropped), so the
    // daemon never sees its files vanish while it runs.
    tempdir: tempfile::TempDir,
}

impl LoopbackService {
    /// Starts `kind` on a free port of `addr` (a loopback address) and returns once it
    /// accepts connections and answers like the daemon it is.
    pub fn start(kind: ServiceKind, addr: IpAddr) -> Result<Self, Error> {
        if !addr.is_loopback() {
            return Err(Error::NotLoopback(addr));
        }
        if let Some(&tool) = kind
            .required_programs()
            .iter()
            .find(|p| !is_executable(Path::new(p)))
        {
            return Err(Error::MissingTool { tool });
        }
        let mut attempt = 1;
        loop {
            let port = free_port(addr)?;
            match Self::start_on(kind, addr, port) {
                Err(e) if attempt < PORT_ATTEMPTS && is_port_conflict(&e) => attempt += 1,
                result => return result,
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port)
    }

    /// The service's private directory: configuration, keys, logs (`output.log` holds the
    /// daemon's stdout and stderr).
    pub fn dir(&self) -> &Path {
        self.tempdir.path()
    }

    fn start_on(kind: ServiceKind, addr: IpAddr, port: u16) -> Result<Self, Error> {
        let tempdir = tempfile::Builder::new()
            .prefix(&format!("testkit-{kind}-"))
            .tempdir()
            .map_err(io_err("creating a temporary directory"))?;
        let dir = tempdir.path();
        // nginx's workers run as an unprivileged user and must reach the document root.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
            .map_err(io_err(format!("chmod {}", dir.display())))?;

        let mut command = match kind {
            ServiceKind::Ssh => sshd_command(dir, addr, port)?,
            ServiceKind::Ftp => vsftpd_command(dir, addr, port)?,
            ServiceKind::Http => nginx_command(dir, addr, port)?,
            ServiceKind::Redis => redis_command(dir, addr, port),
        };
        // A file, not a pipe: nobody reads a pipe while the daemon runs, and a full pipe
        // would block it.
        let log_path = dir.join("output.log");
        let log = File::create(&log_path).map_err(io_err("creating output.log"))?;
        let log2 = log.try_clone().map_err(io_err("duplicating output.log"))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(io_err(format!("starting {}", kind.daemon())))?;

        let mut service = LoopbackService {
            kind,
            addr,
            port,
            child,
            tempdir,
        };
        match service.wait_ready() {
            Ok(()) => Ok(service),
            Err(reason) => {
                service.terminate();
                Err(Error::Start {
                    daemon: kind.daemon(),
                    addr: service.socket_addr(),
                    reason,
                    output: service.output(),
                })
            }
        }
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let target = self.socket_addr();
        let mut last = String::from("never tried");
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Err(format!("it exited early ({status})")),
                Ok(None) => {}
                Err(e) => return Err(format!("cannot query its status: {e}")),
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "not ready after {READY_TIMEOUT:?} (last attempt: {last})"
                ));
            }
            match TcpStream::connect_timeout(&target, Duration::from_millis(500)) {
                Ok(stream) => match check_banner(self.kind, stream) {
                    Ok(()) => return Ok(()),
                    Err(e) => last = e,
                },
                Err(e) => last = format!("connect: {e}"),
            }
            sleep(Duration::from_millis(50));
        }
    }

    fn output(&self) -> String {
        let mut text = fs::read_to_string(self.dir().join("output.log")).unwrap_or_default();
        // nginx and vsftpd report most problems in their own logs, not on stderr.
        for log in ["error.log", "vsftpd.log"] {
            if let Ok(extra) = fs::read_to_string(self.dir().join(log)) {
                text.push_str(&format!("--- {log} ---\n{extra}"));
            }
        }
        text
    }

    /// SIGTERM, then SIGKILL if the daemon is still there after a grace period; always reaps
    /// it, so its PID is gone once this returns.
    fn terminate(&mut self) {
        stop(&mut self.child);
    }
}

impl Drop for LoopbackService {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// SIGTERM, then SIGKILL if the process is still there after a grace period; always reaps
/// it, so its PID is gone once this returns.
fn stop(child: &mut Child) {
    // A reaped PID may already belong to another process: never signal it.
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    // Not reaped yet, so this PID is still ours even if the process just exited.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn free_port(addr: IpAddr) -> Result<u16, Error> {
    let listener =
        TcpListener::bind((addr, 0)).map_err(io_err(format!("binding a free port on {addr}")))?;
    let port = listener
        .local_addr()
        .map_err(io_err("reading a bound port"))?
        .port();
    Ok(port)
}

fn is_port_conflict(error: &Error) -> bool {
    match error {
        // vsftpd says only "could not bind listening IPv4 socket".
        Error::Start { output, .. } => {
            output.contains("in use") || output.contains("could not bind")
        }
        _ => false,
    }
}

/// Reads until a full first line has arrived, so a prefix check does not race the daemon.
fn read_first_line(stream: &mut TcpStream) -> Result<String, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    while !buf.contains(&b'\n') && buf.len() < 4096 {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("reading the banner: {e}")),
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// An open port is not enough: sshd and vsftpd accept before they can serve, and only a
/// real answer proves the daemon will talk to nmap.
fn check_banner(kind: ServiceKind, mut stream: TcpStream) -> Result<(), String> {
    let timeout = Some(Duration::from_secs(2));
    stream
        .set_read_timeout(timeout)
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(timeout)
        .map_err(|e| e.to_string())?;
    let (request, expected): (&[u8], &str) = match kind {
        ServiceKind::Ssh => (b"", "SSH-"),
        ServiceKind::Ftp => (b"", "220"),
        ServiceKind::Http => (b"HEAD / HTTP/1.0\r\nHost: localhost\r\n\r\n", "HTTP/"),
        ServiceKind::Redis => (b"PING\r\n", "+PONG"),
    };
    if !request.is_empty() {
        stream
            .write_all(request)
            .map_err(|e| format!("sending a request: {e}"))?;
    }
    let line = read_first_line(&mut stream)?;
    if line.starts_with(expected) {
        Ok(())
    } else {
        Err(format!(
            "expected a reply starting with {expected:?}, got {line:?}"
        ))
    }
}

fn write_file(path: &Path, contents: &str) -> Result<(), Error> {
    fs::write(path, contents).map_err(io_err(format!("writing {}", path.display())))
}

/// Debian's daemons expect these system directories, which only their init scripts create.
fn ensure_dir(path: &str) -> Result<(), Error> {
    fs::create_dir_all(path).map_err(io_err(format!("creating {path} (needs root)")))
}

fn sshd_command(dir: &Path, addr: IpAddr, port: u16) -> Result<Command, Error> {
    let key = dir.join("ssh_host_ed25519_key");
    let keygen = Command::new("/usr/bin/ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "testkit", "-f"])
        .arg(&key)
        .output()
        .map_err(io_err("running ssh-keygen"))?;
    if !keygen.status.success() {
        return Err(Error::Io {
            context: format!(
                "ssh-keygen failed: {}",
                String::from_utf8_lossy(&keygen.stderr)
            ),
            source: io::Error::other(keygen.status.to_string()),
        });
    }
    // Privilege separation directory.
    ensure_dir("/run/sshd")?;
    let config = dir.join("sshd_config");
    write_file(
        &config,
        &format!(
            "Port {port}\n\
             ListenAddress {addr}\n\
             PidFile {dir}/sshd.pid\n\
             UsePAM no\n\
             PermitRootLogin no\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             AuthorizedKeysFile none\n",
            dir = dir.display()
        ),
    )?;
    let mut command = Command::new("/usr/sbin/sshd");
    // -e: log to stderr (our output.log) instead of syslog.
    command
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&config)
        .arg("-h")
        .arg(&key);
    Ok(command)
}

fn vsftpd_command(dir: &Path, addr: IpAddr, port: u16) -> Result<Command, Error> {
    // vsftpd refuses to start unless this exists; Debian's init script normally creates it.
    let chroot = "/var/run/vsftpd/empty";
    ensure_dir(chroot)?;
    let listen = match addr {
        IpAddr::V4(_) => format!("listen=YES\nlisten_ipv6=NO\nlisten_address={addr}\n"),
        IpAddr::V6(_) => format!("listen=NO\nlisten_ipv6=YES\nlisten_address6={addr}\n"),
    };
    // vsftpd refuses to run with both anonymous and local logins disabled, so local logins
    // stay on; tests never log in.
    let mut config = format!(
        "{listen}listen_port={port}\n\
         background=NO\n\
         anonymous_enable=NO\n\
         local_enable=YES\n\
         write_enable=NO\n\
         pam_service_name=vsftpd\n\
         secure_chroot_dir={chroot}\n\
         xferlog_enable=NO\n\
         vsftpd_log_file={dir}/vsftpd.log\n\
         seccomp_sandbox=NO\n",
        dir = dir.display()
    );
    if unsafe { libc::geteuid() } != 0 {
        config.push_str("run_as_launching_user=YES\n");
    }
    let path = dir.join("vsftpd.conf");
    write_file(&path, &config)?;
    let mut command = Command::new("/usr/sbin/vsftpd");
    command.arg(&path);
    Ok(command)
}

fn nginx_command(dir: &Path, addr: IpAddr, port: u16) -> Result<Command, Error> {
    let www = dir.join("www");
    fs::create_dir(&www).map_err(io_err("creating the document root"))?;
    write_file(&www.join("index.html"), "<h1>brulee testkit</h1>\n")?;
    let d = dir.display();
    // SocketAddr's Display brackets IPv6 addresses, as nginx's `listen` wants.
    let listen = SocketAddr::new(addr, port);
    // Every path nginx writes to is redirected here: the compiled-in ones are system paths.
    let config = format!(
        "worker_processes 1;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log notice;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n\
         \x20   access_log {d}/access.log;\n\
         \x20   client_body_temp_path {d}/client_body;\n\
         \x20   proxy_temp_path {d}/proxy;\n\
         \x20   fastcgi_temp_path {d}/fastcgi;\n\
         \x20   uwsgi_temp_path {d}/uwsgi;\n\
         \x20   scgi_temp_path {d}/scgi;\n\
         \x20   server {{\n\
         \x20       listen {listen};\n\
         \x20       server_name localhost;\n\
         \x20       root {d}/www;\n\
         \x20   }}\n\
         }}\n"
    );
    let path = dir.join("nginx.conf");
    write_file(&path, &config)?;
    let mut command = Command::new("/usr/sbin/nginx");
    // -e: errors before the configuration is read would otherwise go to /var/log/nginx.
    command
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&path)
        .args(["-g", "daemon off;"]);
    Ok(command)
}

fn redis_command(dir: &Path, addr: IpAddr, port: u16) -> Command {
    let mut command = Command::new("/usr/bin/redis-server");
    command
        .arg("--bind")
        .arg(addr.to_string())
        .arg("--port")
        .arg(port.to_string())
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        // Protected mode only admits 127.0.0.1 and ::1 as clients; it is bound to loopback anyway.
        .args(["--protected-mode", "no"])
        .arg("--dir")
        .arg(dir);
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn require_tools() {
        let missing = missing_tools();
        assert!(
            missing.is_empty(),
            "missing {missing:?}: run `cargo xtask setup --test` to install them"
        );
    }

    fn pid_exists(pid: u32) -> bool {
        // Signal 0 checks existence without signalling.
        unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
    }

    fn start_and_stop(kind: ServiceKind, addr: IpAddr) {
        require_tools();
        let service = LoopbackService::start(kind, addr).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((service.kind, service.addr), (kind, addr));
        let (pid, target, dir) = (
            service.pid(),
            service.socket_addr(),
            service.dir().to_owned(),
        );
        assert!(pid_exists(pid), "{kind} (pid {pid}) should be running");
        TcpStream::connect_timeout(&target, Duration::from_secs(2))
            .unwrap_or_else(|e| panic!("{kind} on {target} should accept connections: {e}"));

        drop(service);
        assert!(
            !pid_exists(pid),
            "{kind} (pid {pid}) should be gone after drop"
        );
        // sshd and vsftpd fork per connection, and the child closes its copy of the listening
        // socket only once it runs: on a busy machine the port can answer for a moment after
        // the daemon itself is gone.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&target, Duration::from_secs(1)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "{target} should be closed after drop"
            );
            sleep(Duration::from_millis(100));
        }
        assert!(!dir.exists(), "{} should be removed", dir.display());
    }

    // Distinct addresses so the tests also show that any 127.0.0.x works without setup.
    #[test]
    fn ssh_starts_and_stops() {
        start_and_stop(ServiceKind::Ssh, Ipv4Addr::new(127, 0, 0, 2).into());
    }

    #[test]
    fn ftp_starts_and_stops() {
        start_and_stop(ServiceKind::Ftp, Ipv4Addr::new(127, 0, 0, 3).into());
    }

    #[test]
    fn http_starts_and_stops() {
        start_and_stop(ServiceKind::Http, Ipv4Addr::new(127, 0, 0, 4).into());
    }

    #[test]
    fn redis_starts_and_stops() {
        start_and_stop(ServiceKind::Redis, Ipv4Addr::new(127, 0, 0, 5).into());
    }

    #[test]
    fn http_on_ipv6_loopback() {
        start_and_stop(ServiceKind::Http, Ipv6Addr::LOCALHOST.into());
    }

    #[test]
    fn redis_on_ipv6_loopback() {
        start_and_stop(ServiceKind::Redis, Ipv6Addr::LOCALHOST.into());
    }

    #[test]
    fn two_services_of_one_kind_get_different_ports() {
        require_tools();
        let addr = IpAddr::from(Ipv4Addr::LOCALHOST);
        let a = LoopbackService::start(ServiceKind::Redis, addr).unwrap_or_else(|e| panic!("{e}"));
        let b = LoopbackService::start(ServiceKind::Redis, addr).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(a.port, b.port);
    }

    #[test]
    fn refuses_non_loopback_addresses() {
        let err = LoopbackService::start(ServiceKind::Redis, Ipv4Addr::new(10, 0, 0, 1).into())
            .unwrap_err();
        assert!(matches!(err, Error::NotLoopback(_)), "{err}");
    }

    #[test]
    fn startup_failure_names_the_daemon_and_shows_its_output() {
        require_tools();
        // Hold the port ourselves so redis must fail to bind it.
        let addr = IpAddr::from(Ipv4Addr::new(127, 0, 0, 7));
        let held = TcpListener::bind((addr, 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        let err = LoopbackService::start_on(ServiceKind::Redis, addr, port).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/usr/bin/redis-server"), "{text}");
        assert!(text.contains("in use"), "{text}");
        assert!(is_port_conflict(&err));
    }
}

//! Records real nmap XML for brulee's parser and report tests.
//!
//! Hand-written XML would only encode our beliefs about nmap; these files are what nmap
//! really printed about real daemons. Targets are only ever services started here: on
//! loopback addresses, or in two network namespaces created for the purpose and deleted
//! afterwards, whose private addresses exist nowhere else.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, ensure, Context, Result};
use testkit::{LoopbackService, ServiceKind};

/// What one fixture is and how it was made, for fixtures/README.md.
struct Recorded {
    file: &'static str,
    what: String,
    command: String,
}

type Recorder = fn(&Path) -> Result<Recorded>;

pub fn record() -> Result<()> {
    ensure!(
        unsafe { libc::geteuid() } == 0,
        "fixtures needs root: nmap's SYN and UDP scans use raw sockets, and `ip netns` needs CAP_SYS_ADMIN"
    );
    crate::setup::setup(true)?;
    crate::setup::install(&["iproute2"])?;

    let out_dir = crate::project_root().join("fixtures").join("nmap");
    fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let version = nmap_version()?;
    let recorders: [(&str, Recorder); 4] = [
        ("loopback-services.xml", loopback_services),
        ("ipv6-loopback.xml", ipv6_loopback),
        ("udp-loopback.xml", udp_loopback),
        ("hosts-down.xml", hosts_down),
    ];

    let mut recorded = Vec::new();
    let mut failed = Vec::new();
    for (file, recorder) in recorders {
        eprintln!("fixtures: recording {file}");
        match recorder(&out_dir) {
            Ok(r) => {
                eprintln!("fixtures: wrote fixtures/nmap/{}", r.file);
                recorded.push((r, now_utc()));
            }
            Err(e) => {
                // A half-written or stale file must not pass for this run's output.
                let _ = fs::remove_file(out_dir.join(file));
                eprintln!("fixtures: {file} FAILED: {e:#}");
                failed.push((file, format!("{e:#}")));
            }
        }
    }
    write_readme(
        &out_dir.parent().unwrap().join("README.md"),
        &version,
        &recorded,
        &failed,
    )?;
    if !failed.is_empty() {
        bail!(
            "{} of 4 fixtures could not be recorded (see above)",
            failed.len()
        );
    }
    eprintln!("fixtures: all 4 recorded with nmap {version}; see fixtures/README.md");
    Ok(())
}

/// (a) One service per loopback address, every address scanned on every started port, so
/// the file also has closed ports.
fn loopback_services(out_dir: &Path) -> Result<Recorded> {
    let kinds = [
        ServiceKind::Ssh,
        ServiceKind::Ftp,
        ServiceKind::Http,
        ServiceKind::Redis,
    ];
    let mut services = Vec::new();
    for (kind, last_octet) in kinds.into_iter().zip(2u8..) {
        let addr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, last_octet));
        services.push(LoopbackService::start(kind, addr)?);
    }
    let ports = join(services.iter().map(|s| s.port));
    let file = "loopback-services.xml";
    let command = nmap(
        out_dir,
        &["-n", "-sV", "-oX", file, "-p", &ports, "127.0.0.2-5"],
    )?;
    Ok(Recorded {
        file,
        what: describe(&services),
        command,
    })
}

/// (b) Service detection over IPv6.
fn ipv6_loopback(out_dir: &Path) -> Result<Recorded> {
    let service = LoopbackService::start(ServiceKind::Http, IpAddr::V6(Ipv6Addr::LOCALHOST))?;
    let file = "ipv6-loopback.xml";
    let port = service.port.to_string();
    let command = nmap(
        out_dir,
        &["-6", "-n", "-sV", "-oX", file, "-p", &port, "::1"],
    )?;
    Ok(Recorded {
        file,
        what: describe(&[service]),
        command,
    })
}

/// (c) A UDP scan: an echo listener of our own (nmap recognises echo services by their
/// answer) and a port nobody listens on, which the kernel reports closed.
fn udp_loopback(out_dir: &Path) -> Result<Recorded> {
    let addr = Ipv4Addr::new(127, 0, 0, 6);
    let echo = UdpEcho::start(addr)?;
    let closed = {
        let probe = UdpSocket::bind((addr, 0)).context("finding a free UDP port")?;
        probe.local_addr()?.port()
    };
    let file = "udp-loopback.xml";
    let ports = format!("{},{closed}", echo.port);
    let command = nmap(
        out_dir,
        &["-n", "-sU", "-sV", "-oX", file, "-p", &ports, "127.0.0.6"],
    )?;
    let what = format!(
        "UDP echo listener in xtask on 127.0.0.6:{} (open); 127.0.0.6:{closed} has no listener (closed)",
        echo.port
    );
    Ok(Recorded {
        file,
        what,
        command,
    })
}

/// (d) A host that is up and one that is down, which loopback cannot show (every 127.x
/// address answers). Two namespaces joined by a veth pair form a tiny private network:
/// nmap runs in A and scans B's address and an unused one of the same /29.
fn hosts_down(out_dir: &Path) -> Result<Recorded> {
    const NS_A: &str = "brulee-fx-a";
    const NS_B: &str = "brulee-fx-b";
    const A_ADDR: &str = "10.231.47.1";
    const B_ADDR: &str = "10.231.47.2";
    const REDIS_PORT: &str = "6379";

    // Declared first so it is dropped last: the daemon inside B dies before B does.
    let _netns = Namespaces::create(&[NS_A, NS_B])?;
    ip(&[
        "link", "add", "fx-a", "netns", NS_A, "type", "veth", "peer", "name", "fx-b", "netns", NS_B,
    ])?;
    for (ns, dev, addr) in [(NS_A, "fx-a", A_ADDR), (NS_B, "fx-b", B_ADDR)] {
        ip(&["-n", ns, "addr", "add", &format!("{addr}/29"), "dev", dev])?;
        ip(&["-n", ns, "link", "set", dev, "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
    }

    let dir = tempfile::tempdir()?;
    let log = dir.path().join("redis.log");
    let mut redis = Command::new("ip");
    redis
        .args(["netns", "exec", NS_B, ServiceKind::Redis.daemon()])
        .args([
            "--bind",
            B_ADDR,
            "--port",
            REDIS_PORT,
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--daemonize", "no", "--protected-mode", "no", "--logfile"])
        .arg(&log)
        .arg("--dir")
        .arg(dir.path())
        .stdin(Stdio::null());
    eprintln!("$ {}", crate::display(&redis));
    // `ip netns exec` execs the daemon, so this PID is redis's own.
    let redis = Reaped(redis.spawn().context("starting redis-server in netns B")?);
    wait_for_log(&log, "Ready to accept connections", Duration::from_secs(10))?;

    let file = "hosts-down.xml";
    let targets = "10.231.47.2-3";
    // -v: without it nmap leaves down hosts out of the XML entirely.
    let args = ["-v", "-n", "-sV", "-oX", file, "-p", REDIS_PORT, targets];
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", NS_A, "nmap"])
        .args(args)
        .current_dir(out_dir);
    crate::run(&mut command)?;
    drop(redis);
    let what = format!(
        "netns {NS_A} ({A_ADDR}/29, runs nmap) and {NS_B} ({B_ADDR}/29, runs redis-server on port \
         {REDIS_PORT}) joined by a veth pair; 10.231.47.3 is unused, so that host is down"
    );
    Ok(Recorded {
        file,
        what,
        command: format!("ip netns exec {NS_A} nmap {}", args.join(" ")),
    })
}

/// Runs nmap in `out_dir` with a relative -oX file name, so the XML's recorded command line
/// does not carry this machine's paths. Returns the command as recorded.
fn nmap(out_dir: &Path, args: &[&str]) -> Result<String> {
    crate::run(Command::new("nmap").args(args).current_dir(out_dir))?;
    Ok(format!("nmap {}", args.join(" ")))
}

fn nmap_version() -> Result<String> {
    let out = Command::new("nmap")
        .arg("--version")
        .output()
        .context("running nmap --version")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|word| *word != "version")
        .nth(1)
        .map(str::to_owned)
        .with_context(|| format!("unexpected `nmap --version` output: {text}"))
}

fn describe(services: &[LoopbackService]) -> String {
    let list: Vec<String> = services
        .iter()
        .map(|s| {
            let daemon = Path::new(s.kind.daemon())
                .file_name()
                .unwrap()
                .to_string_lossy();
            let addr = std::net::SocketAddr::new(s.addr, s.port);
            format!("{daemon} ({}) on {addr}", s.kind.debian_package())
        })
        .collect();
    format!("testkit services: {}", list.join("; "))
}

fn join(items: impl Iterator<Item = impl ToString>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

fn now_utc() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

fn ip(args: &[&str]) -> Result<()> {
    crate::run(Command::new("ip").args(args))
}

fn wait_for_log(log: &Path, needle: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let text = fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "no {needle:?} in {} after {timeout:?}:\n{text}",
                log.display()
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// fixtures/README.md may also describe fixtures from elsewhere, so only the section
/// between these markers is ours to rewrite.
const README_BEGIN: &str = "<!-- BEGIN section written by `cargo xtask fixtures` -->";
const README_END: &str = "<!-- END section written by `cargo xtask fixtures` -->";

fn write_readme(
    path: &Path,
    version: &str,
    recorded: &[(Recorded, String)],
    failed: &[(&str, String)],
) -> Result<()> {
    let mut section = format!(
        "{README_BEGIN}\n\
         ## Recorded by `cargo xtask fixtures`\n\n\
         These files in `nmap/` are real nmap XML, recorded by `cargo xtask fixtures` \
         (xtask/src/fixtures.rs), which starts real daemons with testkit and scans only them: \
         loopback addresses with exactly the started ports, or network namespaces it creates \
         and deletes. None is edited by hand; to refresh them, run `cargo xtask fixtures` as \
         root and commit the result. Ports are whatever was free at the time; the commands ran \
         inside `fixtures/nmap/`.\n"
    );
    for (r, date) in recorded {
        section.push_str(&format!(
            "\n### nmap/{}\n\n- services: {}\n- command: `{}`\n- nmap: {version}\n- recorded: {date}\n",
            r.file, r.what, r.command
        ));
    }
    for (file, error) in failed {
        section.push_str(&format!(
            "\n### nmap/{file}\n\nNot recorded: the last run failed: {error}\n"
        ));
    }
    section.push_str(README_END);
    section.push('\n');

    let old = match fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let text = merge_readme(old.as_deref(), &section);
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Puts `section` (which starts and ends with the markers) in place of the marked section
/// of `old`, or after it when it has none.
fn merge_readme(old: Option<&str>, section: &str) -> String {
    let old = old.unwrap_or("# Fixtures\n");
    match (old.find(README_BEGIN), old.find(README_END)) {
        (Some(begin), Some(end)) if begin < end => {
            let after = &old[end + README_END.len()..];
            format!(
                "{}{section}{}",
                &old[..begin],
                after.strip_prefix('\n').unwrap_or(after)
            )
        }
        _ => format!("{}\n\n{section}", old.trim_end()),
    }
}

/// Network namespaces that exist for as long as this value does, also on error.
struct Namespaces(Vec<&'static str>);

impl Namespaces {
    fn create(names: &[&'static str]) -> Result<Self> {
        // Left over from an interrupted run: start clean.
        for name in names {
            if Path::new("/run/netns").join(name).exists() {
                ip(&["netns", "del", name])?;
            }
        }
        let mut created = Namespaces(Vec::new());
        for name in names {
            ip(&["netns", "add", name])?;
            created.0.push(name);
        }
        Ok(created)
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in self.0.iter().rev() {
            if let Err(e) = ip(&["netns", "del", name]) {
                eprintln!("fixtures: could not delete netns {name}: {e:#}");
            }
        }
    }
}

/// A child stopped by SIGTERM (then SIGKILL) and reaped when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if !matches!(self.0.try_wait(), Ok(None)) {
            return;
        }
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if !matches!(self.0.try_wait(), Ok(None)) {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A UDP echo service on a thread, stopped when dropped.
struct UdpEcho {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl UdpEcho {
    fn start(addr: Ipv4Addr) -> Result<Self> {
        let socket = UdpSocket::bind((addr, 0)).context("binding the UDP echo socket")?;
        // Wakes the thread regularly to notice `stop`.
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let port = socket.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while !flag.load(Ordering::Relaxed) {
                // Errors are our own wake-up timeouts, or ICMP errors reported for earlier
                // replies: neither ends the service.
                if let Ok((n, peer)) = socket.recv_from(&mut buf) {
                    let _ = socket.send_to(&buf[..n], peer);
                }
            }
        });
        Ok(UdpEcho {
            port,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for UdpEcho {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_section_is_replaced_and_the_rest_kept() {
        let section = |body: &str| format!("{README_BEGIN}\n{body}\n{README_END}\n");
        let fresh = merge_readme(None, &section("one"));
        assert_eq!(fresh, format!("# Fixtures\n\n{}", section("one")));

        let theirs = format!("{fresh}\n## Other fixtures\n\nkept\n");
        let again = merge_readme(Some(&theirs), &section("two"));
        assert_eq!(
            again,
            format!(
                "# Fixtures\n\n{}\n## Other fixtures\n\nkept\n",
                section("two")
            )
        );

        let unmarked = merge_readme(Some("# Fixtures\n\nby hand\n"), &section("x"));
        assert_eq!(
            unmarked,
            format!("# Fixtures\n\nby hand\n\n{}", section("x"))
        );
    }
}

//! A bounded check that the vulners API answers, made once per scan.
//!
//! When the API cannot be reached the script writes nothing at all to the XML, and the scan pays
//! for it: measured with nmap 7.93, one dropped DNS reply stalls the whole nmap process for 5 s
//! (glibc's resolver timeout) and an endpoint that accepts but never answers stretched a 6 s
//! scan to 38 s. So brulee asks first, with a hard deadline, and leaves the script out when the
//! answer does not come in time.

use std::sync::mpsc;
use std::time::Duration;

/// The endpoint the script itself calls (see `api_endpoint` in vulners.nse).
pub const DEFAULT_API_URL: &str = "https://vulners.com/api/v3/burp/software/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The API answered with an HTTP response (any status: it is there).
    Reachable,
    /// No answer within the deadline, or the connection failed; says why.
    Unreachable(String),
}

/// Ask `url` for an HTTP answer within `deadline`.
///
/// The request runs on its own thread because name resolution (getaddrinfo) cannot be
/// cancelled; if it outlives the deadline the thread is simply abandoned.
pub fn probe_api(url: &str, deadline: Duration) -> ProbeOutcome {
    let (tx, rx) = mpsc::channel();
    let url = url.to_string();
    let spawned = std::thread::Builder::new()
        .name("vulners-probe".into())
        .spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(deadline))
                .http_status_as_error(false)
                .build()
                .into();
            let outcome = match agent.get(&url).header("User-Agent", "brulee").call() {
                Ok(_) => ProbeOutcome::Reachable,
                Err(err) => ProbeOutcome::Unreachable(err.to_string()),
            };
            let _ = tx.send(outcome);
        });
    if let Err(err) = spawned {
        return ProbeOutcome::Unreachable(format!("could not start the check: {err}"));
    }
    rx.recv_timeout(deadline + Duration::from_millis(200))
        .unwrap_or_else(|_| {
            ProbeOutcome::Unreachable(format!("no answer within {} s", deadline.as_secs_f32()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Instant;

    #[test]
    fn a_server_that_answers_is_reachable() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            conn.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .unwrap();
        });
        let outcome = probe_api(
            &format!("http://127.0.0.1:{port}/api"),
            Duration::from_secs(2),
        );
        assert_eq!(outcome, ProbeOutcome::Reachable);
        server.join().unwrap();
    }

    #[test]
    fn a_server_that_never_answers_is_given_up_on_in_time() {
        // Accepts the connection (the kernel does, from the backlog) but never replies.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let started = Instant::now();
        let outcome = probe_api(
            &format!("http://127.0.0.1:{port}/api"),
            Duration::from_millis(500),
        );
        assert!(
            matches!(outcome, ProbeOutcome::Unreachable(_)),
            "{outcome:?}"
        );
        // Generous bound: this checks that the deadline holds, not how fast the machine is.
        assert!(started.elapsed() < Duration::from_secs(10));
        drop(listener);
    }

    #[test]
    fn a_closed_port_is_unreachable() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let outcome = probe_api(&format!("http://127.0.0.1:{port}/"), Duration::from_secs(2));
        assert!(matches!(outcome, ProbeOutcome::Unreachable(_)));
    }
}

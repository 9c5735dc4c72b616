//! What both aws plugins do around a signed request: retry it with backoff when the failure
//! may pass, and turn AWS's XML error answers into messages a user can act on.

use std::time::Duration;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first one included (at least 1).
    pub attempts: u32,
    /// Wait before the second try; doubled before each further one.
    pub first_backoff: Duration,
}

/// What one try came to.
#[derive(Debug)]
pub enum Outcome<T> {
    Done(T),
    /// Worth another try: a transport error, a 5xx, a throttling answer.
    Retry(String),
    /// Would fail again the same way: a refused signature, a missing bucket.
    Fail(String),
}

impl RetryPolicy {
    /// Runs `attempt` until it is done, fails for good, or the tries are used up; `sleep`
    /// waits between tries (a plugin passes `std::thread::sleep`).
    pub fn run<T>(
        &self,
        mut sleep: impl FnMut(Duration),
        mut attempt: impl FnMut() -> Outcome<T>,
    ) -> Result<T, String> {
        let attempts = self.attempts.max(1);
        let mut wait = self.first_backoff;
        let mut last = String::new();
        for n in 1..=attempts {
            match attempt() {
                Outcome::Done(value) => return Ok(value),
                Outcome::Fail(why) => return Err(why),
                Outcome::Retry(why) => last = why,
            }
            if n < attempts {
                sleep(wait);
                wait = wait.saturating_mul(2);
            }
        }
        Err(format!("{last} (gave up after {attempts} attempts)"))
    }
}

/// Whether an HTTP status is worth retrying: server errors, and 429 / 503 throttling.
pub fn retryable(status: u16) -> bool {
    status >= 500 || status == 429
}

/// A non-2xx answer as an [`Outcome`]: retried when [`retryable`], explained either way
/// (`context` says which request, e.g. `PUT http://…/key`).
pub fn failure<T>(service: &str, context: &str, status: u16, body: &str) -> Outcome<T> {
    let why = format!("{context}: {}", explain(service, status, body));
    if retryable(status) {
        Outcome::Retry(why)
    } else {
        Outcome::Fail(why)
    }
}

/// A request that got no answer: retried, unless brulee itself refused the host (the SDK's
/// client says "HTTP request denied"), which no retry can change.
pub fn transport<T>(error: String) -> Outcome<T> {
    if error.contains("HTTP request denied") {
        Outcome::Fail(error)
    } else {
        Outcome::Retry(error)
    }
}

/// The text of the first `<tag>…</tag>` in an XML answer, entities decoded. AWS's answers
/// are small and flat where this is used (error codes, an upload id).
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(
        xml[start..end]
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// A failed answer from an AWS (or S3-compatible) service, explained: which credential to
/// check for the codes that mean a bad key or secret, else the service's own code and message.
pub fn explain(service: &str, status: u16, body: &str) -> String {
    let code = xml_text(body, "Code").unwrap_or_default();
    let message = xml_text(body, "Message").unwrap_or_default();
    let hint = match code.as_str() {
        "SignatureDoesNotMatch" => {
            ": check AWS_SECRET_ACCESS_KEY (and the clock: signatures expire after 15 minutes)"
        }
        "InvalidAccessKeyId" | "AuthFailure" | "UnrecognizedClientException" => {
            ": check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        }
        "InvalidClientTokenId" | "ExpiredToken" | "InvalidToken" => {
            ": check AWS_SESSION_TOKEN, or unset it for long-term keys"
        }
        _ => "",
    };
    let detail = if message.is_empty() {
        String::new()
    } else {
        format!(" ({message})")
    };
    match (status, code.is_empty()) {
        (_, true) => format!(
            "{service} answered HTTP {status}: {}",
            body.chars().take(200).collect::<String>().trim()
        ),
        (401 | 403, false) if !hint.is_empty() => {
            format!("{service} refused the credentials ({code}){hint}{detail}")
        }
        _ => format!("{service} answered HTTP {status} {code}{hint}{detail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_doubling_then_give_up() {
        let policy = RetryPolicy {
            attempts: 4,
            first_backoff: Duration::from_millis(100),
        };
        let mut waits = Vec::new();
        let mut tries = 0;
        let result: Result<(), String> = policy.run(
            |d| waits.push(d.as_millis()),
            || {
                tries += 1;
                Outcome::Retry(format!("connection refused #{tries}"))
            },
        );
        assert_eq!(tries, 4);
        assert_eq!(waits, vec![100, 200, 400]);
        assert_eq!(
            result.unwrap_err(),
            "connection refused #4 (gave up after 4 attempts)"
        );
    }

    #[test]
    fn a_final_failure_is_not_retried_and_success_stops() {
        let policy = RetryPolicy {
            attempts: 5,
            first_backoff: Duration::ZERO,
        };
        let mut tries = 0;
        let r: Result<(), _> = policy.run(
            |_| {},
            || {
                tries += 1;
                Outcome::Fail("403".into())
            },
        );
        assert_eq!((r.unwrap_err().as_str(), tries), ("403", 1));
        let mut tries = 0;
        let r = policy.run(
            |_| {},
            || {
                tries += 1;
                if tries < 3 {
                    Outcome::Retry("503".into())
                } else {
                    Outcome::Done(tries)
                }
            },
        );
        assert_eq!(r.unwrap(), 3);
    }

    #[test]
    fn errors_name_the_credential_to_check() {
        // As s3s-fs and AWS answer a wrong secret.
        let body = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>\
                    <Message>The request signature we calculated does not match</Message></Error>";
        let text = explain("S3", 403, body);
        assert!(
            text.starts_with(
                "S3 refused the credentials (SignatureDoesNotMatch): check AWS_SECRET_ACCESS_KEY"
            ),
            "{text}"
        );
        // EC2's Query API nests the error deeper.
        let ec2 = "<Response><Errors><Error><Code>AuthFailure</Code><Message>AWS was not able \
                   to validate the provided access credentials</Message></Error></Errors></Response>";
        assert!(explain("EC2", 401, ec2).contains("(AuthFailure): check AWS_ACCESS_KEY_ID"));
        let missing = "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>";
        assert_eq!(
            explain("S3", 404, missing),
            "S3 answered HTTP 404 NoSuchBucket (The specified bucket does not exist)"
        );
        assert_eq!(
            explain("S3", 502, "Bad gateway"),
            "S3 answered HTTP 502: Bad gateway"
        );
        assert!(retryable(503) && retryable(429) && !retryable(403));
        assert!(matches!(
            failure::<()>("S3", "PUT k", 503, ""),
            Outcome::Retry(_)
        ));
        assert!(
            matches!(failure::<()>("S3", "PUT k", 403, body), Outcome::Fail(m) if m.starts_with("PUT k: S3 refused"))
        );
        assert!(matches!(
            transport::<()>("x: HTTP request denied by brulee".into()),
            Outcome::Fail(_)
        ));
        assert!(matches!(
            transport::<()>("x: ConnectionRefused".into()),
            Outcome::Retry(_)
        ));
    }

    #[test]
    fn xml_text_decodes_entities() {
        assert_eq!(
            xml_text("<R><UploadId>a&amp;b</UploadId></R>", "UploadId").as_deref(),
            Some("a&b")
        );
        assert_eq!(xml_text("<R/>", "UploadId"), None);
    }
}

//! AWS Signature Version 4, as brulee's aws plugins need it (the `s3` sink and the `aws-ec2`
//! source): header-based signing of one request.
//!
//! A library shared by plugins, not a plugin: it knows nothing of brulee's SDK, so it builds
//! and tests natively (`cargo test -p aws-sigv4` in `plugins/`) as well as for wasm32-wasip2.
//!
//! The steps are AWS's: a canonical request, a string to sign over its SHA-256, and an
//! HMAC-SHA256 chain from the secret key through date, region and service
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>).

pub mod service;

use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// The algorithm name that starts the string to sign and the Authorization header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Hex SHA-256 of the empty body, the payload hash of every GET.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What can be wrong with a request or with the credentials before anything is sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("{0}: only http:// and https:// URLs can be signed")]
    Scheme(String),
    #[error("{0}: the URL has no host")]
    NoHost(String),
    #[error("{0} is not set: grant it with env = [\"{0}\"] in the manifest and set it")]
    MissingVariable(&'static str),
}

/// An access key, its secret and, for temporary credentials, the session token.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

// The secret must never reach a log line or an error message.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("session_token", &self.session_token.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// From the standard variables `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and (optional)
    /// `AWS_SESSION_TOKEN`, read through `env` (a plugin passes the SDK's granted-variable
    /// lookup; it returns `None` for a variable that is unset or not granted).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let required = |name: &'static str| {
            env(name)
                .filter(|v| !v.is_empty())
                .ok_or(Error::MissingVariable(name))
        };
        Ok(Credentials {
            access_key_id: required("AWS_ACCESS_KEY_ID")?,
            secret_access_key: required("AWS_SECRET_ACCESS_KEY")?,
            session_token: env("AWS_SESSION_TOKEN").filter(|v| !v.is_empty()),
        })
    }
}

/// The moment a request is signed, as SigV4 writes it: `20150830T123600Z`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp(String);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_datetime(time::OffsetDateTime::now_utc())
    }

    /// Seconds since 1970-01-01 UTC.
    pub fn from_unix(seconds: i64) -> Self {
        Self::from_datetime(
            time::OffsetDateTime::from_unix_timestamp(seconds)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        )
    }

    fn from_datetime(t: time::OffsetDateTime) -> Self {
        Timestamp(format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ))
    }

    /// `x-amz-date`'s value.
    pub fn amz_date(&self) -> &str {
        &self.0
    }

    /// The day, `20150830`, for the credential scope.
    pub fn date(&self) -> &str {
        &self.0[..8]
    }
}

/// Signs requests for one service in one region.
#[derive(Debug, Clone)]
pub struct Signer {
    pub credentials: Credentials,
    pub region: String,
    /// `s3`, `ec2`, …
    pub service: String,
    /// Send and sign `x-amz-content-sha256` (S3 requires it; other services ignore it).
    pub content_sha256_header: bool,
}

impl Signer {
    /// The headers to add to a request for it to be signed: `x-amz-date`, then
    /// `x-amz-content-sha256` and `x-amz-security-token` when they apply, and `authorization`.
    ///
    /// `url` is the URL as it will be sent: its path and query already percent-encoded with
    /// [`encode`] (S3 signs the path as sent, without normalising it). `headers` are the other
    /// headers the request carries; every one of them is signed, and `host` is taken from the
    /// URL's authority, as the HTTP client sends it.
    pub fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        payload: &[u8],
        at: &Timestamp,
    ) -> Result<Vec<(String, String)>, Error> {
        let payload_hash = hex::encode(Sha256::digest(payload));
        let mut added = vec![("x-amz-date".to_string(), at.amz_date().to_string())];
        if self.content_sha256_header {
            added.push(("x-amz-content-sha256".into(), payload_hash.clone()));
        }
        if let Some(token) = &self.credentials.session_token {
            added.push(("x-amz-security-token".into(), token.clone()));
        }
        let parts = UrlParts::parse(url)?;
        let mut signed: Vec<(String, String)> = vec![("host".into(), parts.authority.into())];
        signed.extend(headers.iter().chain(&added).cloned());
        let request = canonical_request(method, parts.path, parts.query, &signed, &payload_hash);
        let scope = self.scope(at);
        let to_sign = string_to_sign(at, &scope, &request.text);
        let key = signing_key(
            &self.credentials.secret_access_key,
            at.date(),
            &self.region,
            &self.service,
        );
        let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
        added.push((
            "authorization".into(),
            format!(
                "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
                self.credentials.access_key_id, request.signed_headers
            ),
        ));
        Ok(added)
    }

    /// `20150830/us-east-1/service/aws4_request`.
    fn scope(&self, at: &Timestamp) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            at.date(),
            self.region,
            self.service
        )
    }
}

/// A canonical request and the list of the headers it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalRequest {
    pub text: String,
    /// `host;x-amz-date`: lower-case names, sorted, `;`-separated.
    pub signed_headers: String,
}

/// AWS's canonical request: method, path, sorted query, sorted lower-case headers with
/// trimmed values (inner runs of spaces folded), the signed header list, the payload hash.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    payload_hash: &str,
) -> CanonicalRequest {
    let mut pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    pairs.sort_unstable();
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");

    let mut headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| {
            (
                n.trim().to_ascii_lowercase(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    headers.sort();
    // Repeated headers are signed once, their values joined by commas in the order given.
    let mut merged: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        match merged.last_mut() {
            Some((last, joined)) if *last == name => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => merged.push((name, value)),
        }
    }
    let canonical_headers: String = merged.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let signed_headers = merged
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let path = if path.is_empty() { "/" } else { path };
    CanonicalRequest {
        text: format!(
            "{}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}",
            method.to_ascii_uppercase()
        ),
        signed_headers,
    }
}

/// `AWS4-HMAC-SHA256`, the timestamp, the scope and the hex SHA-256 of the canonical request.
pub fn string_to_sign(at: &Timestamp, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{}\n{scope}\n{}",
        at.amz_date(),
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// HMAC-SHA256 of "AWS4" + secret over the date, then the region, the service, "aws4_request".
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Hex SHA-256, e.g. for a part's `x-amz-content-sha256`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes as SigV4 wants: every byte but the unreserved characters, upper-case hex.
/// For a query parameter or a single path segment.
pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, NOT_UNRESERVED).to_string()
}

/// Encodes an object key for the URL path: each `/`-separated segment with [`encode`], the
/// slashes kept.
pub fn encode_path(key: &str) -> String {
    key.split('/').map(encode).collect::<Vec<_>>().join("/")
}

/// The pieces of a URL that SigV4 signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub https: bool,
    /// `host` or `host:port`: what the client sends as the Host header.
    pub authority: &'a str,
    pub path: &'a str,
    pub query: &'a str,
}

impl<'a> UrlParts<'a> {
    pub fn parse(url: &'a str) -> Result<Self, Error> {
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(Error::Scheme(url.to_string()));
        };
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = match before_query.find('/') {
            Some(i) => before_query.split_at(i),
            None => (before_query, "/"),
        };
        if authority.is_empty() {
            return Err(Error::NoHost(url.to_string()));
        }
        Ok(UrlParts {
            https,
            authority,
            path,
            query,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // AWS's Signature Version 4 test suite (aws-sig-v4-test-suite, formerly at
    // https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html): its
    // credentials, region, service and time, and the expected canonical requests, strings to
    // sign and signatures of the vectors get-vanilla, get-vanilla-query-order-key-case and
    // post-vanilla.
    const SUITE_KEY: &str = "AKIDEXAMPLE";
    const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    /// 2015-08-30T12:36:00Z.
    const SUITE_TIME: i64 = 1_440_938_160;

    fn suite_signer() -> Signer {
        Signer {
            credentials: Credentials {
                access_key_id: SUITE_KEY.into(),
                secret_access_key: SUITE_SECRET.into(),
                session_token: None,
            },
            region: "us-east-1".into(),
            service: "service".into(),
            content_sha256_header: false,
        }
    }

    fn authorization(headers: &[(String, String)]) -> &str {
        &headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .unwrap()
            .1
    }

    #[test]
    fn timestamp_formats_as_sigv4() {
        let at = Timestamp::from_unix(SUITE_TIME);
        assert_eq!(at.amz_date(), "20150830T123600Z");
        assert_eq!(at.date(), "20150830");
    }

    #[test]
    fn suite_get_vanilla() {
        let at = Timestamp::from_unix(SUITE_TIME);
        let headers = vec![
            ("Host".to_string(), "example.amazonaws.com".to_string()),
            ("X-Amz-Date".to_string(), at.amz_date().to_string()),
        ];
        let request = canonical_request("GET", "/", "", &headers, EMPTY_SHA256);
        assert_eq!(
            request.text,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sts = string_to_sign(
            &at,
            "20150830/us-east-1/service/aws4_request",
            &request.text,
        );
        assert_eq!(
            sts,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        let signed = suite_signer()
            .sign("GET", "https://example.amazonaws.com/", &[], b"", &at)
            .unwrap();
        assert_eq!(
            authorization(&signed),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn suite_get_vanilla_query_order_key_case() {
        let at = Timestamp::from_unix(SUITE_TIME);
        let url = "https://example.amazonaws.com/?Param2=value2&Param1=value1";
        let headers = vec![
            ("host".to_string(), "example.amazonaws.com".to_string()),
            ("x-amz-date".to_string(), at.amz_date().to_string()),
        ];
        let parts = UrlParts::parse(url).unwrap();
        let request = canonical_request("GET", parts.path, parts.query, &headers, EMPTY_SHA256);
        assert_eq!(
            string_to_sign(
                &at,
                "20150830/us-east-1/service/aws4_request",
                &request.text
            ),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"
        );
        let signed = suite_signer().sign("GET", url, &[], b"", &at).unwrap();
        assert!(authorization(&signed).ends_with(
            "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        ));
    }

    #[test]
    fn suite_post_vanilla() {
        let at = Timestamp::from_unix(SUITE_TIME);
        let signed = suite_signer()
            .sign("POST", "https://example.amazonaws.com/", &[], b"", &at)
            .unwrap();
        assert!(authorization(&signed).ends_with(
            "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        ));
    }

    // Amazon S3 API Reference, "Signature Calculations for the Authorization Header",
    // example GET Object (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html):
    // the first 10 bytes of examplebucket/test.txt on 2013-05-24T00:00:00Z, with
    // x-amz-content-sha256 signed.
    #[test]
    fn s3_documentation_get_object() {
        let signer = Signer {
            credentials: Credentials {
                access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
                secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
                session_token: None,
            },
            region: "us-east-1".into(),
            service: "s3".into(),
            content_sha256_header: true,
        };
        let at = Timestamp::from_unix(1_369_353_600);
        assert_eq!(at.amz_date(), "20130524T000000Z");
        let range = [("Range".to_string(), "bytes=0-9".to_string())];
        let signed = signer
            .sign(
                "GET",
                "https://examplebucket.s3.amazonaws.com/test.txt",
                &range,
                b"",
                &at,
            )
            .unwrap();
        assert_eq!(
            authorization(&signed),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert!(signed.contains(&("x-amz-content-sha256".into(), EMPTY_SHA256.into())));
    }

    #[test]
    fn session_token_is_sent_and_signed() {
        let mut signer = suite_signer();
        signer.credentials.session_token = Some("TOKEN".into());
        let at = Timestamp::from_unix(SUITE_TIME);
        let signed = signer
            .sign("GET", "https://example.amazonaws.com/", &[], b"", &at)
            .unwrap();
        assert!(signed.contains(&("x-amz-security-token".into(), "TOKEN".into())));
        assert!(
            authorization(&signed).contains("SignedHeaders=host;x-amz-date;x-amz-security-token,")
        );
    }

    #[test]
    fn header_values_are_trimmed_and_folded() {
        let headers = vec![("My-Header1".to_string(), "  a   b  c ".to_string())];
        let request = canonical_request("get", "", "", &headers, EMPTY_SHA256);
        assert!(request.text.starts_with("GET\n/\n\nmy-header1:a b c\n"));
    }

    #[test]
    fn keys_are_encoded_segment_by_segment() {
        assert_eq!(encode_path("a b/c+d/ü~.txt"), "a%20b/c%2Bd/%C3%BC~.txt");
        assert_eq!(encode("x=y&z"), "x%3Dy%26z");
    }

    #[test]
    fn urls_split_and_bad_ones_are_refused() {
        let p = UrlParts::parse("http://127.0.0.1:9000/b/k?uploads").unwrap();
        assert_eq!(
            (p.https, p.authority, p.path, p.query),
            (false, "127.0.0.1:9000", "/b/k", "uploads")
        );
        assert_eq!(UrlParts::parse("http://h").unwrap().path, "/");
        assert!(matches!(UrlParts::parse("ftp://h/"), Err(Error::Scheme(_))));
        assert!(matches!(
            UrlParts::parse("http:///x"),
            Err(Error::NoHost(_))
        ));
    }

    #[test]
    fn missing_credentials_name_the_variable() {
        let err = Credentials::from_env(|_| None).unwrap_err();
        assert_eq!(err, Error::MissingVariable("AWS_ACCESS_KEY_ID"));
        assert!(err.to_string().contains("env = [\"AWS_ACCESS_KEY_ID\"]"));
        let only_key = Credentials::from_env(|n| (n == "AWS_ACCESS_KEY_ID").then(|| "k".into()));
        assert_eq!(
            only_key.unwrap_err(),
            Error::MissingVariable("AWS_SECRET_ACCESS_KEY")
        );
    }
}

//! OAuth 2.0 for the GCS JSON API: an access token given as is, or one obtained for a
//! service account by a JWT signed RS256 with its private key (RFC 7523, as Google's client
//! libraries do it).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use brulee_sdk::http::Request;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use sha2::Sha256;
use sink_upload::Retry;

/// What uploading to a bucket needs (read/write on objects, not on bucket settings).
pub const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_write";
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// How long the signed grant is valid: Google accepts at most one hour.
const GRANT_LIFETIME_SECS: u64 = 3600;

/// The fields of a service-account key file (`gcloud iam service-accounts keys create`) the
/// sink uses; the file has more.
#[derive(serde::Deserialize)]
pub struct ServiceAccountKey {
    client_email: String,
    private_key: String,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

impl ServiceAccountKey {
    /// Parses the key JSON held in the environment variable `variable`.
    pub fn parse(json: &str, variable: &str) -> Result<Self, String> {
        let key: ServiceAccountKey = serde_json::from_str(json).map_err(|e| {
            format!("{variable} does not hold a service-account key JSON (client_email, private_key, token_uri): {e}")
        })?;
        Ok(key)
    }

    /// Exchanges a signed grant for an access token at `token_uri` (the config's, else the
    /// key's, else Google's).
    pub fn access_token(&self, token_uri: Option<&str>, retry: &Retry) -> Result<String, String> {
        let token_uri = token_uri
            .or(self.token_uri.as_deref())
            .unwrap_or(GOOGLE_TOKEN_URI);
        let assertion = self.signed_grant(token_uri, unix_now())?;
        let body = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
        );
        let response = sink_upload::send(retry, || {
            Request::post(token_uri, body.clone())
                .header("content-type", "application/x-www-form-urlencoded")
        })
        .map_err(|e| format!("getting an access token from {token_uri}: {e}"))?;
        if response.status != 200 {
            return Err(format!(
                "the token endpoint {token_uri} refused the service-account key of {} (HTTP {}): {}; check that the key in the granted variable is current and belongs to this account",
                self.client_email,
                response.status,
                response.text().chars().take(300).collect::<String>()
            ));
        }
        #[derive(serde::Deserialize)]
        struct Token {
            access_token: String,
        }
        let token: Token = serde_json::from_slice(&response.body).map_err(|e| {
            format!("the token endpoint {token_uri} answered without an access_token: {e}")
        })?;
        Ok(token.access_token)
    }

    /// The JWT `header.claims.signature` asking `token_uri` for a token with [`SCOPE`].
    fn signed_grant(&self, token_uri: &str, now: u64) -> Result<String, String> {
        let key = if self.private_key.contains("BEGIN RSA PRIVATE KEY") {
            RsaPrivateKey::from_pkcs1_pem(&self.private_key).map_err(|e| e.to_string())
        } else {
            RsaPrivateKey::from_pkcs8_pem(&self.private_key).map_err(|e| e.to_string())
        }
        .map_err(|e| {
            format!(
                "the private_key of service account {} is not an RSA key in PEM form: {e}",
                self.client_email
            )
        })?;
        let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.private_key_id {
            header["kid"] = kid.as_str().into();
        }
        let claims = serde_json::json!({
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": token_uri,
            "iat": now,
            "exp": now + GRANT_LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = SigningKey::<Sha256>::new(key).sign(signing_input.as_bytes());
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        ))
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

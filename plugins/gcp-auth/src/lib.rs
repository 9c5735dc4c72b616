//! OAuth 2.0 access tokens for brulee's Google Cloud plugins (the `gcs` sink, the
//! `gcp-compute` source): an access token given as is in a granted variable, or one obtained
//! for a service account by a JWT grant signed RS256 with its private key (RFC 7523, as
//! Google's client libraries do it).
//!
//! Plugins have no filesystem, so the key is the key file's JSON text in a granted variable
//! (`GOOGLE_APPLICATION_CREDENTIALS_JSON="$(cat key.json)"`), not a path.

// The token exchange is HTTP, which exists only in the WASM build; natively (the unit tests)
// what it alone uses is unused.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use sha2::Sha256;

/// The variable holding the service-account key JSON unless the config names another.
pub const DEFAULT_CREDENTIALS_ENV: &str = "GOOGLE_APPLICATION_CREDENTIALS_JSON";
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// How long the signed grant is valid: Google accepts at most one hour.
const GRANT_LIFETIME_SECS: u64 = 3600;

/// Where a plugin's access token comes from, as its config says: `token_env` (a variable
/// holding an access token) wins over `credentials_env` (a variable holding a key JSON,
/// [`DEFAULT_CREDENTIALS_ENV`] by default).
pub enum Credential {
    /// An access token, e.g. `gcloud auth print-access-token`.
    Token { variable: String, token: String },
    /// A service-account key, exchanged for a token at its token URI.
    Key {
        variable: String,
        key: ServiceAccountKey,
    },
}

impl Credential {
    /// Reads the credential from the granted variables; `env` is the SDK's `brulee_sdk::env`
    /// (`Err` when the manifest does not grant the variable, `Ok(None)` when it is unset).
    pub fn from_env(
        token_env: Option<&str>,
        credentials_env: Option<&str>,
        env: impl Fn(&str) -> Result<Option<String>, String>,
    ) -> Result<Self, String> {
        if let Some(name) = token_env {
            let token = env(name)
                .map_err(|e| {
                    format!("{e} (config.token_env names {name}: grant it with env = [\"{name}\"])")
                })?
                .filter(|t| !t.is_empty())
                .ok_or(format!("config.token_env names {name}, which is not set"))?;
            return Ok(Credential::Token {
                variable: name.to_string(),
                token,
            });
        }
        let name = credentials_env.unwrap_or(DEFAULT_CREDENTIALS_ENV);
        let json = env(name)
            .map_err(|e| format!("{e} (the service-account key JSON is read from {name}: grant it with env = [\"{name}\"], or set config.token_env)"))?
            .ok_or(format!(
                "{name} is not set: it must hold the service-account key JSON (or set config.token_env to a variable holding an access token)"
            ))?;
        Ok(Credential::Key {
            variable: name.to_string(),
            key: ServiceAccountKey::parse(&json, name)?,
        })
    }

    /// Which credential this is, for messages: `the access token in GCP_TOKEN`, `the key of
    /// service account a@b.iam.gserviceaccount.com in GOOGLE_APPLICATION_CREDENTIALS_JSON`.
    pub fn describe(&self) -> String {
        match self {
            Credential::Token { variable, .. } => format!("the access token in {variable}"),
            Credential::Key { variable, key } => format!(
                "the key of service account {} in {variable}",
                key.client_email
            ),
        }
    }
}

#[cfg(target_arch = "wasm32")]
impl Credential {
    /// An access token with `scope`: the given one, or a service-account grant exchanged at
    /// `token_uri` (the config's, else the key's, else Google's).
    pub fn access_token(
        &self,
        scope: &str,
        token_uri: Option<&str>,
        retry: &sink_upload::Retry,
    ) -> Result<String, String> {
        match self {
            Credential::Token { token, .. } => Ok(token.clone()),
            Credential::Key { key, .. } => key.access_token(scope, token_uri, retry),
        }
    }
}

/// The fields of a service-account key file (`gcloud iam service-accounts keys create`) the
/// plugins use; the file has more.
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

    /// Exchanges a signed grant for an access token with `scope` at `token_uri` (the
    /// config's, else the key's, else Google's).
    #[cfg(target_arch = "wasm32")]
    pub fn access_token(
        &self,
        scope: &str,
        token_uri: Option<&str>,
        retry: &sink_upload::Retry,
    ) -> Result<String, String> {
        use brulee_sdk::http::Request;

        let token_uri = token_uri
            .or(self.token_uri.as_deref())
            .unwrap_or(GOOGLE_TOKEN_URI);
        let assertion = self.signed_grant(scope, token_uri, unix_now())?;
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

    /// The JWT `header.claims.signature` asking `token_uri` for a token with `scope`.
    fn signed_grant(&self, scope: &str, token_uri: &str, now: u64) -> Result<String, String> {
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
            "scope": scope,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(
        vars: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Result<Option<String>, String> {
        move |name| match vars.iter().find(|(n, _)| *n == name) {
            Some((_, v)) => Ok(Some(v.to_string())),
            None => Err(format!("{name} is not granted")),
        }
    }

    #[test]
    fn a_token_variable_wins_and_is_named_in_messages() {
        let credential =
            Credential::from_env(Some("GCP_TOKEN"), None, env_of(&[("GCP_TOKEN", "ya29.x")]))
                .unwrap();
        assert_eq!(credential.describe(), "the access token in GCP_TOKEN");
    }

    #[test]
    fn a_missing_grant_says_which_variable_to_grant() {
        let Err(e) = Credential::from_env(None, None, env_of(&[])) else {
            panic!("no credential is granted");
        };
        assert!(
            e.contains("grant it with env = [\"GOOGLE_APPLICATION_CREDENTIALS_JSON\"]"),
            "{e}"
        );
    }

    #[test]
    fn a_key_that_is_not_pem_is_named_by_its_account() {
        let key = ServiceAccountKey::parse(
            r#"{"client_email": "a@b.iam.gserviceaccount.com", "private_key": "nope"}"#,
            "KEY",
        )
        .unwrap();
        let e = key
            .signed_grant("s", "http://127.0.0.1/token", 0)
            .unwrap_err();
        assert!(
            e.starts_with(
                "the private_key of service account a@b.iam.gserviceaccount.com is not an RSA key"
            ),
            "{e}"
        );
    }
}

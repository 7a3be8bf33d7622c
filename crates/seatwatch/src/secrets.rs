//! Where the GitLab token comes from: `GITLAB_TOKEN` or a file locally, AWS Secrets Manager in
//! Lambda.
//!
//! A Secrets Manager secret holds either the bare token or `{"token": "...", "url": "..."}`. The
//! value is cached for the life of the process (warm Lambda invocations reuse it) and read again
//! only when GitLab answers 401, so a token rotated in the secret is picked up by the next call
//! without a redeploy. Nothing here ever formats the token: [`Token`] redacts itself.

use std::path::PathBuf;

use tokio::sync::Mutex;

use seatwatch_gitlab::Token;

/// The token and, when the secret carries one, the GitLab URL to use with it.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub token: Token,
    pub url: Option<String>,
}

/// Why no token could be had, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("no GitLab token: set GITLAB_TOKEN, or pass --token-file FILE or --secret-id NAME")]
    NoSource,
    #[error("GITLAB_TOKEN is set but empty")]
    EmptyEnv,
    #[error("cannot read token file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("token file {0} is empty: put the token on its first line")]
    EmptyFile(PathBuf),
    #[error(
        "secret {secret_id:?} not found in Secrets Manager: create it (aws secretsmanager create-secret --name {secret_id} --secret-string '<token>') or fix SEATWATCH_SECRET_ID"
    )]
    SecretNotFound { secret_id: String },
    #[error(
        "not allowed to read secret {secret_id:?}: grant secretsmanager:GetSecretValue on it to this role"
    )]
    AccessDenied { secret_id: String },
    #[error("secret {secret_id:?} has no string value: store the token as SecretString")]
    NotAString { secret_id: String },
    #[error(
        "secret {secret_id:?} is JSON but has no non-empty \"token\" field: store the bare token or {{\"token\": \"...\", \"url\": \"...\"}}"
    )]
    NoTokenField { secret_id: String },
    #[error("secret {secret_id:?} is empty: put the GitLab token in it")]
    EmptySecret { secret_id: String },
    #[error("cannot read secret {secret_id:?} from Secrets Manager: {reason}")]
    Aws { secret_id: String, reason: String },
}

impl SecretError {
    /// Worth trying again later (throttling, network), as opposed to a setup mistake.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SecretError::Aws { .. })
    }
}

/// One of the three places a token can come from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// The value of `GITLAB_TOKEN`, read once at start-up.
    Env(Token),
    File(PathBuf),
    SecretsManager {
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
    },
    /// None was configured (or `GITLAB_TOKEN` is empty): every read says so, so `check` can
    /// report it as a failed check instead of refusing to start.
    Missing {
        empty_env: bool,
    },
}

impl TokenSource {
    /// The local choice: `--token-file` wins over `--secret-id`, which wins over `GITLAB_TOKEN`.
    /// `secrets_client` is only called when a secret is named, so no AWS config is loaded otherwise.
    pub async fn choose<F, Fut>(
        token_file: Option<PathBuf>,
        secret_id: Option<String>,
        secrets_client: F,
    ) -> Result<TokenSource, SecretError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = aws_sdk_secretsmanager::Client>,
    {
        if let Some(path) = token_file {
            return Ok(TokenSource::File(path));
        }
        if let Some(secret_id) = secret_id.filter(|s| !s.trim().is_empty()) {
            return Ok(TokenSource::SecretsManager {
                client: secrets_client().await,
                secret_id,
            });
        }
        Ok(match std::env::var("GITLAB_TOKEN") {
            Ok(v) if v.trim().is_empty() => TokenSource::Missing { empty_env: true },
            Ok(v) => TokenSource::Env(Token::new(v.trim())),
            Err(_) => TokenSource::Missing { empty_env: false },
        })
    }

    async fn read(&self) -> Result<Credentials, SecretError> {
        match self {
            TokenSource::Missing { empty_env: true } => Err(SecretError::EmptyEnv),
            TokenSource::Missing { empty_env: false } => Err(SecretError::NoSource),
            TokenSource::Env(token) => Ok(Credentials {
                token: token.clone(),
                url: None,
            }),
            TokenSource::File(path) => {
                let text =
                    tokio::fs::read_to_string(path)
                        .await
                        .map_err(|e| SecretError::File {
                            path: path.clone(),
                            reason: e.kind().to_string(),
                        })?;
                let first = text.lines().next().unwrap_or("").trim();
                if first.is_empty() {
                    return Err(SecretError::EmptyFile(path.clone()));
                }
                Ok(Credentials {
                    token: Token::new(first),
                    url: None,
                })
            }
            TokenSource::SecretsManager { client, secret_id } => {
                read_secret(client, secret_id).await
            }
        }
    }
}

async fn read_secret(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<Credentials, SecretError> {
    use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| {
            let id = secret_id.to_string();
            // A 403 is a refusal whatever its body: an emulator's IAM denial (moto answers this
            // JSON-protocol call in XML) would otherwise read as a garbled, retryable response.
            let forbidden = e.raw_response().is_some_and(|r| r.status().as_u16() == 403);
            match e.code() {
                Some("ResourceNotFoundException") => SecretError::SecretNotFound { secret_id: id },
                Some("AccessDeniedException") => SecretError::AccessDenied { secret_id: id },
                _ if forbidden => SecretError::AccessDenied { secret_id: id },
                // The SDK's Display for a service error is only "service error"; the code and
                // message say what happened, and never contain the secret value.
                code => SecretError::Aws {
                    secret_id: id,
                    reason: match (code, e.message()) {
                        (Some(c), Some(m)) => format!("{c}: {m}"),
                        (Some(c), None) => c.to_string(),
                        _ => format!("{}", aws_sdk_secretsmanager::error::DisplayErrorContext(&e)),
                    },
                },
            }
        })?;
    let raw = out.secret_string().ok_or_else(|| SecretError::NotAString {
        secret_id: secret_id.to_string(),
    })?;
    parse_secret(raw, secret_id)
}

/// A bare token, or a JSON object with `token` and optionally `url`.
pub(crate) fn parse_secret(raw: &str, secret_id: &str) -> Result<Credentials, SecretError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(SecretError::EmptySecret {
            secret_id: secret_id.to_string(),
        });
    }
    if raw.starts_with('{') {
        #[derive(serde::Deserialize)]
        struct Shape {
            token: Option<String>,
            url: Option<String>,
        }
        // A parse failure must not echo the secret: serde_json's message can quote the input.
        let shape: Shape = serde_json::from_str(raw).map_err(|_| SecretError::NoTokenField {
            secret_id: secret_id.to_string(),
        })?;
        let token = shape
            .token
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SecretError::NoTokenField {
                secret_id: secret_id.to_string(),
            })?;
        return Ok(Credentials {
            token: Token::new(token),
            url: shape.url.filter(|u| !u.trim().is_empty()),
        });
    }
    Ok(Credentials {
        token: Token::new(raw),
        url: None,
    })
}

/// A token source with a cache: read once, read again after GitLab said 401.
#[derive(Debug)]
pub struct TokenProvider {
    source: TokenSource,
    cached: Mutex<Option<Credentials>>,
}

impl TokenProvider {
    pub fn new(source: TokenSource) -> Self {
        TokenProvider {
            source,
            cached: Mutex::new(None),
        }
    }

    /// The cached credentials, reading the source on first use.
    pub async fn get(&self) -> Result<Credentials, SecretError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            return Ok(c.clone());
        }
        let fresh = self.source.read().await?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    /// Reads the source again (after a 401): returns the new credentials, and whether the token
    /// changed, so a caller retries only when retrying can help.
    pub async fn refresh(&self) -> Result<(Credentials, bool), SecretError> {
        let fresh = self.source.read().await?;
        let mut cached = self.cached.lock().await;
        let changed = cached
            .as_ref()
            .is_none_or(|old| old.token.expose() != fresh.token.expose());
        *cached = Some(fresh.clone());
        Ok((fresh, changed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_may_be_a_bare_token() {
        let c = parse_secret("  glpat-fake-test-token-0000\n", "s").unwrap();
        assert_eq!(c.token.expose(), "glpat-fake-test-token-0000");
        assert!(c.url.is_none());
    }

    #[test]
    fn secret_may_be_json_with_token_and_url() {
        let c = parse_secret(
            r#"{"token": "glpat-fake-test-token-0000", "url": "https://gitlab.example.com"}"#,
            "s",
        )
        .unwrap();
        assert_eq!(c.token.expose(), "glpat-fake-test-token-0000");
        assert_eq!(c.url.as_deref(), Some("https://gitlab.example.com"));
    }

    #[test]
    fn json_secret_without_token_is_a_clear_error_that_does_not_echo_it() {
        let err = parse_secret(r#"{"tokn": "glpat-fake-canary-1111"}"#, "s").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"token\" field"), "{text}");
        assert!(!text.contains("canary"), "{text}");
        // broken JSON: serde's message would quote the input
        let err = parse_secret(r#"{"token": "glpat-fake-canary-1111""#, "s").unwrap_err();
        assert!(!err.to_string().contains("canary"));
    }

    #[test]
    fn empty_secret_is_refused() {
        assert!(matches!(
            parse_secret("   ", "s"),
            Err(SecretError::EmptySecret { .. })
        ));
    }

    #[tokio::test]
    async fn token_file_is_read_and_rotation_is_seen_on_refresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "glpat-fake-first-0000\n").unwrap();
        let p = TokenProvider::new(TokenSource::File(path.clone()));
        assert_eq!(
            p.get().await.unwrap().token.expose(),
            "glpat-fake-first-0000"
        );
        std::fs::write(&path, "glpat-fake-second-0000\n").unwrap();
        // cached until refreshed
        assert_eq!(
            p.get().await.unwrap().token.expose(),
            "glpat-fake-first-0000"
        );
        let (c, changed) = p.refresh().await.unwrap();
        assert!(changed);
        assert_eq!(c.token.expose(), "glpat-fake-second-0000");
        let (_, changed) = p.refresh().await.unwrap();
        assert!(!changed);
    }

    #[tokio::test]
    async fn empty_token_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "\n").unwrap();
        let p = TokenProvider::new(TokenSource::File(path));
        assert!(matches!(p.get().await, Err(SecretError::EmptyFile(_))));
    }
}

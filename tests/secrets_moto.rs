//! The Secrets Manager token source against moto's server: both secret shapes, the errors a user
//! can make, and rotation picked up after a refresh.

use seatwatch::secrets::{SecretError, TokenProvider, TokenSource};
use seatwatch_testkit::moto;

async fn client(m: &moto::Moto) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&moto::sdk_config(m).await)
}

async fn put(c: &aws_sdk_secretsmanager::Client, name: &str, value: &str) {
    c.create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("moto creates the secret");
}

#[tokio::test]
async fn bare_token_secret_is_read() {
    let m = moto::start();
    let c = client(&m).await;
    let name = moto::unique("bare");
    put(&c, &name, "glpat-fake-secret-bare-0000\n").await;
    let p = TokenProvider::new(TokenSource::SecretsManager {
        client: c,
        secret_id: name,
    });
    let creds = p.get().await.expect("secret read");
    assert_eq!(creds.token.expose(), "glpat-fake-secret-bare-0000");
    assert!(creds.url.is_none());
}

#[tokio::test]
async fn json_secret_gives_token_and_url() {
    let m = moto::start();
    let c = client(&m).await;
    let name = moto::unique("json");
    put(
        &c,
        &name,
        r#"{"token":"glpat-fake-secret-json-0000","url":"https://gitlab.example.com/gitlab"}"#,
    )
    .await;
    let p = TokenProvider::new(TokenSource::SecretsManager {
        client: c,
        secret_id: name,
    });
    let creds = p.get().await.expect("secret read");
    assert_eq!(creds.token.expose(), "glpat-fake-secret-json-0000");
    assert_eq!(
        creds.url.as_deref(),
        Some("https://gitlab.example.com/gitlab")
    );
}

#[tokio::test]
async fn missing_secret_says_how_to_create_it() {
    let m = moto::start();
    let c = client(&m).await;
    let p = TokenProvider::new(TokenSource::SecretsManager {
        client: c,
        secret_id: "seatwatch/does-not-exist".into(),
    });
    let err = p.get().await.expect_err("no such secret");
    assert!(matches!(err, SecretError::SecretNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("create-secret"), "{err}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn rotated_secret_is_cached_until_refreshed() {
    let m = moto::start();
    let c = client(&m).await;
    let name = moto::unique("rot");
    put(&c, &name, "glpat-fake-secret-old-0000").await;
    let p = TokenProvider::new(TokenSource::SecretsManager {
        client: c.clone(),
        secret_id: name.clone(),
    });
    assert_eq!(
        p.get().await.unwrap().token.expose(),
        "glpat-fake-secret-old-0000"
    );
    c.put_secret_value()
        .secret_id(&name)
        .secret_string("glpat-fake-secret-new-0000")
        .send()
        .await
        .expect("moto rotates");
    // warm invocations keep the cached value: no Secrets Manager call per run
    assert_eq!(
        p.get().await.unwrap().token.expose(),
        "glpat-fake-secret-old-0000"
    );
    let (fresh, changed) = p.refresh().await.expect("re-read");
    assert!(changed);
    assert_eq!(fresh.token.expose(), "glpat-fake-secret-new-0000");
    assert_eq!(
        p.get().await.unwrap().token.expose(),
        "glpat-fake-secret-new-0000"
    );
}

#[tokio::test]
async fn json_secret_without_token_is_refused_without_echoing_it() {
    let m = moto::start();
    let c = client(&m).await;
    let name = moto::unique("notoken");
    put(
        &c,
        &name,
        r#"{"url":"https://g.example","tok":"glpat-fake-canary-9999"}"#,
    )
    .await;
    let p = TokenProvider::new(TokenSource::SecretsManager {
        client: c,
        secret_id: name,
    });
    let err = p.get().await.expect_err("no token field");
    assert!(matches!(err, SecretError::NoTokenField { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("canary"));
}

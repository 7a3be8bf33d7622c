//! moto's server (real DynamoDB / Secrets Manager / S3 wire protocols) for integration tests.
//!
//! `scripts/test.sh` installs moto into `.venv` and starts one server for the whole run, passing
//! its address in `SEATWATCH_TEST_MOTO_URL`. Run on its own (`cargo test`), a test starts a
//! private server on a free 127.0.0.1 port instead and kills it when the guard drops. Tests share a
//! server safely by using unique table, bucket and secret names ([`unique`]).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A running moto server; kills the private one (if any) on drop.
pub struct Moto {
    pub endpoint: String,
    child: Option<Child>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn moto_binary() -> PathBuf {
    if let Ok(p) = std::env::var("SEATWATCH_TEST_MOTO_BIN") {
        return PathBuf::from(p);
    }
    let venv = crate::repo_root().join(".venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    panic!(
        "moto_server not found at {}: run `scripts/test.sh` once (it creates .venv with moto[server]), \
         or set SEATWATCH_TEST_MOTO_URL to a running moto server",
        venv.display()
    );
}

/// The shared server from the test script, or a private one.
pub fn start() -> Moto {
    if let Ok(url) = std::env::var("SEATWATCH_TEST_MOTO_URL") {
        return Moto {
            endpoint: url,
            child: None,
        };
    }
    start_private(&[])
}

/// A private server with extra environment (e.g. `INITIAL_NO_AUTH_ACTION_COUNT`, which turns on
/// IAM enforcement after that many actions), never the shared one: its settings are its own.
pub fn start_private(env: &[(&str, String)]) -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let child = Command::new(moto_binary())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        child: Some(child),
    };
    wait_ready(&moto.endpoint);
    moto
}

/// An SDK config pointed at this moto server with the given access key.
pub async fn sdk_config_as(
    moto: &Moto,
    access_key: &str,
    secret_key: &str,
) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto.endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            access_key, secret_key, None, None, "moto-iam",
        ))
        .load()
        .await
}

/// Polls moto's own API until it answers: readiness, not a fixed sleep.
fn wait_ready(endpoint: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = endpoint.trim_start_matches("http://").to_string();
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
            use std::io::{Read, Write};
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let req = format!("GET /moto-api/ HTTP/1.0\r\nHost: {addr}\r\n\r\n");
            if s.write_all(req.as_bytes()).is_ok() {
                let mut buf = [0u8; 12];
                if s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.") {
                    return;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("moto_server did not become ready at {endpoint} within 30 s");
}

/// Environment for a child process (the CLI, a Lambda binary) that must talk to this moto server
/// with fake credentials and never look for real ones.
pub fn aws_env(moto: &Moto) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

/// An SDK config pointed at this moto server.
pub async fn sdk_config(moto: &Moto) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto.endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

/// A name no other test in this run uses (tables, buckets, secrets share one moto server).
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A new bucket named `prefix-…` ([`unique`], lower case as S3 wants it).
pub async fn new_bucket(client: &aws_sdk_s3::Client, prefix: &str) -> String {
    let name = unique(prefix).to_lowercase();
    client
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("create bucket");
    name
}

/// Every object of `bucket`, key to bytes, read straight from moto.
pub async fn bucket_contents(
    client: &aws_sdk_s3::Client,
    bucket: &str,
) -> BTreeMap<String, Vec<u8>> {
    let listed = client
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list");
    let mut out = BTreeMap::new();
    for o in listed.contents() {
        let key = o.key().expect("key").to_string();
        let body = client
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .expect("get")
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .to_vec();
        out.insert(key, body);
    }
    out
}

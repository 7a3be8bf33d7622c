//! Publishing to S3 against moto's server: every object lands with its Content-Type and
//! Cache-Control, and a PUT failing part-way leaves the previous pages in place.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use seatwatch::publish::{Destination, PublishError, publish, s3_client};
use seatwatch::site::SiteFile;

fn file(
    path: &str,
    content_type: &'static str,
    cache_control: &'static str,
    body: &str,
) -> SiteFile {
    SiteFile {
        path: path.into(),
        content_type,
        cache_control,
        bytes: body.as_bytes().to_vec(),
    }
}

fn site(version: &str) -> Vec<SiteFile> {
    vec![
        file(
            "data/report.json",
            "application/json",
            "no-cache",
            &format!("{{\"v\":\"{version}\"}}"),
        ),
        file(
            "unused.csv",
            "text/csv; charset=utf-8",
            "no-cache",
            &format!("v\n{version}\n"),
        ),
        file(
            "site.css",
            "text/css; charset=utf-8",
            "public, max-age=86400",
            "body{}",
        ),
        file(
            "unused.html",
            "text/html; charset=utf-8",
            "no-cache",
            &format!("<p>unused {version}</p>"),
        ),
        file(
            "index.html",
            "text/html; charset=utf-8",
            "no-cache",
            &format!("<p>index {version}</p>"),
        ),
    ]
}

async fn object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> (String, Option<String>, Option<String>) {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {key}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)));
    let content_type = out.content_type().map(str::to_string);
    let cache_control = out.cache_control().map(str::to_string);
    let body = out.body.collect().await.expect("body").into_bytes();
    (
        String::from_utf8(body.to_vec()).expect("utf-8"),
        content_type,
        cache_control,
    )
}

async fn bucket(client: &aws_sdk_s3::Client) -> String {
    let name = support::moto::unique("site").to_lowercase();
    client
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("create bucket");
    name
}

#[tokio::test]
async fn publishes_every_file_with_type_and_cache_headers() {
    let moto = support::moto::start();
    let cfg = support::moto::sdk_config(&moto).await;
    let client = s3_client(&cfg);
    let bucket = bucket(&client).await;
    let dest: Destination = format!("s3://{bucket}/reports/prod/")
        .parse()
        .expect("valid");
    let summary = publish(&site("1"), &dest, Some(&client))
        .await
        .expect("publishes");
    assert_eq!(summary.files, 5);
    assert_eq!(summary.destination, format!("s3://{bucket}/reports/prod"));
    let (body, ct, cc) = object(&client, &bucket, "reports/prod/index.html").await;
    assert_eq!(body, "<p>index 1</p>");
    assert_eq!(ct.as_deref(), Some("text/html; charset=utf-8"));
    assert_eq!(cc.as_deref(), Some("no-cache"));
    let (body, ct, _) = object(&client, &bucket, "reports/prod/data/report.json").await;
    assert_eq!(body, "{\"v\":\"1\"}");
    assert_eq!(ct.as_deref(), Some("application/json"));
    let (_, ct, cc) = object(&client, &bucket, "reports/prod/site.css").await;
    assert_eq!(ct.as_deref(), Some("text/css; charset=utf-8"));
    assert_eq!(cc.as_deref(), Some("public, max-age=86400"));
}

/// Fails the PUT of one key, as S3 would on a throttle or a denied key; counts the PUTs sent.
#[derive(Debug)]
struct FailPutOf {
    key: &'static str,
    puts: Arc<AtomicUsize>,
}

impl Intercept for FailPutOf {
    fn name(&self) -> &'static str {
        "FailPutOf"
    }
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        if request.method() == "PUT" {
            self.puts.fetch_add(1, Ordering::SeqCst);
            let path = request.uri().split('?').next().unwrap_or_default();
            if path.ends_with(self.key) {
                return Err(format!("injected failure for {}", self.key).into());
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_put_failing_midway_leaves_the_previous_pages() {
    let moto = support::moto::start();
    let cfg = support::moto::sdk_config(&moto).await;
    let client = s3_client(&cfg);
    let bucket = bucket(&client).await;
    let dest: Destination = format!("s3://{bucket}").parse().expect("valid");
    publish(&site("1"), &dest, Some(&client))
        .await
        .expect("first publish");

    let puts = Arc::new(AtomicUsize::new(0));
    let failing = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&cfg)
            .force_path_style(true)
            .interceptor(FailPutOf {
                key: "unused.csv",
                puts: puts.clone(),
            })
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .build(),
    );
    let err = publish(&site("2"), &dest, Some(&failing))
        .await
        .expect_err("the put fails");
    match &err {
        PublishError::S3Put { key, .. } => assert_eq!(key, "unused.csv"),
        other => panic!("unexpected error: {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&format!("s3://{bucket}/unused.csv")),
        "{message}"
    );
    assert!(message.contains("no page was replaced"), "{message}");
    // report.json went first, then unused.csv failed: nothing after it was sent
    assert_eq!(puts.load(Ordering::SeqCst), 2);
    assert_eq!(
        object(&client, &bucket, "index.html").await.0,
        "<p>index 1</p>"
    );
    assert_eq!(
        object(&client, &bucket, "unused.html").await.0,
        "<p>unused 1</p>"
    );
    assert_eq!(object(&client, &bucket, "unused.csv").await.0, "v\n1\n");
}

#[tokio::test]
async fn a_missing_bucket_is_a_clear_error() {
    let moto = support::moto::start();
    let cfg = support::moto::sdk_config(&moto).await;
    let client = s3_client(&cfg);
    let dest: Destination = "s3://no-such-bucket-seatwatch/x".parse().expect("valid");
    let err = publish(&site("1"), &dest, Some(&client))
        .await
        .expect_err("no bucket");
    let message = err.to_string();
    assert!(
        message.contains("s3://no-such-bucket-seatwatch/x/data/report.json"),
        "{message}"
    );
    assert!(message.contains("NoSuchBucket"), "{message}");
}

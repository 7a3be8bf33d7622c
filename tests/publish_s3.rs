//! Publishing to S3 against moto's server: every object lands with its Content-Type and
//! Cache-Control, and a PUT failing part-way leaves the previous pages in place: for every k, an
//! outage from the k-th PUT on leaves every object whole, every page naming its snapshot, and the
//! next run publishes the complete new site.

use seatwatch_testkit::{moto, synthetic};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use seatwatch::publish::{Destination, PublishError, publish, s3_client};
use seatwatch_core::site::SiteFile;

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

#[tokio::test]
async fn publishes_every_file_with_type_and_cache_headers() {
    let moto = moto::start();
    let cfg = moto::sdk_config(&moto).await;
    let client = s3_client(&cfg);
    let bucket = moto::new_bucket(&client, "site").await;
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
    let moto = moto::start();
    let cfg = moto::sdk_config(&moto).await;
    let client = s3_client(&cfg);
    let bucket = moto::new_bucket(&client, "site").await;
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
    let moto = moto::start();
    let cfg = moto::sdk_config(&moto).await;
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

// ---- a publish cut short at every k-th PUT, through the fault proxy ---------------------------

fn real_site(date: chrono::NaiveDate) -> Vec<SiteFile> {
    use seatwatch_core::analyse::{Policy, build_report};
    let members = synthetic::members(300, date);
    let history = synthetic::history(members.len() as u64, 60, date);
    let latest = history.last().expect("history").clone();
    let generated = date.and_hms_opt(6, 0, 0).expect("valid time").and_utc();
    let report = build_report(
        &latest,
        &members,
        &history,
        &[],
        &Policy::default(),
        generated,
    );
    seatwatch_core::site::render(&report, &members).expect("renders")
}

/// The snapshot a page says it shows: the footer's "Snapshot of <strong>DATE</strong>".
fn page_snapshot(page: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(page);
    let start = text.find("Snapshot of <strong>")? + "Snapshot of <strong>".len();
    let end = text[start..].find("</strong>")? + start;
    Some(text[start..end].to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_cut_at_every_kth_put_leaves_whole_objects_and_the_next_run_completes() {
    use seatwatch_testkit::proxy::{Fault, Proxy};
    let moto = moto::start();
    let cfg = moto::sdk_config(&moto).await;
    let direct = s3_client(&cfg);
    let proxy = Proxy::start(&moto, Fault::None).await;
    // The SDK's own retries stay on (as in production), only faster: the outage outlasts them.
    let through_proxy = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&cfg)
            .endpoint_url(&proxy.endpoint)
            .force_path_style(true)
            .retry_config(
                aws_sdk_s3::config::retry::RetryConfig::standard()
                    .with_initial_backoff(std::time::Duration::from_millis(5)),
            )
            .build(),
    );
    let (day_a, day_b) = (
        "2026-06-29".parse().expect("date"),
        "2026-06-30".parse().expect("date"),
    );
    let old: std::collections::BTreeMap<String, Vec<u8>> = real_site(day_a)
        .into_iter()
        .map(|f| (f.path, f.bytes))
        .collect();
    let new_site = real_site(day_b);
    let new: std::collections::BTreeMap<String, Vec<u8>> = new_site
        .iter()
        .map(|f| (f.path.clone(), f.bytes.clone()))
        .collect();
    assert_eq!(
        old.keys().collect::<Vec<_>>(),
        new.keys().collect::<Vec<_>>(),
        "both days have the same files"
    );
    let is_page = |path: &str| path.ends_with(".html");

    for k in 1..=new_site.len() as u32 {
        let bucket = moto::new_bucket(&direct, "site").await;
        let dest: Destination = format!("s3://{bucket}").parse().expect("valid");
        let old_files: Vec<SiteFile> = real_site(day_a);
        publish(&old_files, &dest, Some(&direct))
            .await
            .expect("day A publishes");

        proxy.set_fault(Fault::FailS3PutsFrom(k));
        let err = publish(&new_site, &dest, Some(&through_proxy))
            .await
            .expect_err("the outage fails the publish");
        proxy.set_fault(Fault::None);
        assert!(
            err.is_retryable(),
            "k={k}: a 500 outage is worth retrying: {err}"
        );

        let seen = moto::bucket_contents(&direct, &bucket).await;
        assert_eq!(
            seen.keys().collect::<Vec<_>>(),
            new.keys().collect::<Vec<_>>(),
            "k={k}: an object is missing or extra"
        );
        let mut replaced = Vec::new();
        for (path, bytes) in &seen {
            // Whole: byte for byte one day's file, never a mix or a cut.
            let which = if bytes == &new[path] {
                "new"
            } else if bytes == &old[path] {
                "old"
            } else {
                panic!(
                    "k={k}: {path} is neither day's file ({} bytes)",
                    bytes.len()
                )
            };
            // (the stylesheet is the same both days: it says nothing about progress)
            if which == "new" && old[path] != new[path] {
                replaced.push(path.clone());
            }
            if is_page(path) {
                let shown = page_snapshot(bytes)
                    .unwrap_or_else(|| panic!("k={k}: {path} does not name its snapshot"));
                let expected = if which == "new" { day_b } else { day_a };
                assert_eq!(shown, expected.to_string(), "k={k}: {path}");
            }
        }
        // Data before pages, index.html last: a new page only ever links to new data, and the
        // overview names the new day only once everything is new.
        let any_new_page = replaced.iter().any(|p| is_page(p));
        if any_new_page {
            for path in new.keys().filter(|p| !is_page(p) && old[*p] != new[*p]) {
                assert!(
                    replaced.contains(path),
                    "k={k}: a new page is out while {path} is still old"
                );
            }
        }
        assert!(
            !replaced.iter().any(|p| p == "index.html"),
            "k={k}: index.html was replaced by a failed publish"
        );
        // The documented order: data files, then pages, index.html last.
        let mut order: Vec<&SiteFile> = new_site.iter().collect();
        order.sort_by_key(|f| (is_page(&f.path), f.path == "index.html"));
        let mut landed: Vec<String> = order[..(k - 1) as usize]
            .iter()
            .filter(|f| old[&f.path] != f.bytes)
            .map(|f| f.path.clone())
            .collect();
        landed.sort();
        assert_eq!(
            replaced, landed,
            "k={k}: exactly the PUTs before the outage landed"
        );
        let message = err.to_string();
        let state = if any_new_page {
            "some pages may already be the new ones"
        } else {
            "no page was replaced"
        };
        assert!(message.contains(state), "k={k}: {message}");

        // The next run publishes the complete new site.
        publish(&new_site, &dest, Some(&through_proxy))
            .await
            .expect("the next run publishes");
        assert_eq!(
            moto::bucket_contents(&direct, &bucket).await,
            new,
            "k={k}: next run"
        );
    }
    assert!(proxy.counters().s3_puts_failed.load(Ordering::SeqCst) > 0);
}

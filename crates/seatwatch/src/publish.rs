//! Writes the site's files to a folder or to S3, so a reader never sees a half-updated site.
//!
//! Data files (`data/report.json`, the CSVs, the stylesheet) go first and pages last, with
//! `index.html` the very last: a page is only replaced once everything it links to is in place,
//! and a failure part-way leaves the previous pages untouched. In a folder each file is written
//! under a temporary name beside its target and renamed over it (atomic on one filesystem); in S3
//! each object is a single PUT with its Content-Type and Cache-Control.

use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;

use seatwatch_core::site::SiteFile;

/// Where the site goes: `SEATWATCH_SITE` / `SEATWATCH_BUCKET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Folder(PathBuf),
    /// `prefix` has no leading or trailing `/`; empty for the bucket root.
    S3 {
        bucket: String,
        prefix: String,
    },
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Folder(p) => write!(f, "{}", p.display()),
            Destination::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Destination::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl FromStr for Destination {
    type Err = PublishError;

    /// `s3://bucket/prefix`, `s3://bucket`, or a folder path.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(PublishError::BadDestination {
                given: s.to_string(),
                why: "it is empty",
            });
        }
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(PublishError::BadDestination {
                    given: s.to_string(),
                    why: "the bucket name is missing",
                });
            }
            return Ok(Destination::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if s.contains("://") {
            return Err(PublishError::BadDestination {
                given: s.to_string(),
                why: "only s3:// URLs and folder paths are supported",
            });
        }
        Ok(Destination::Folder(PathBuf::from(s)))
    }
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishSummary {
    pub destination: String,
    pub files: usize,
    pub bytes: u64,
}

/// Why a publish failed. Each says whether the previous pages are still what readers see.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "the site destination {given:?} is not usable: {why}; give a folder path or s3://bucket/prefix"
    )]
    BadDestination { given: String, why: &'static str },
    #[error("publishing to {destination} needs an S3 client, but none was given (a seatwatch bug)")]
    NoS3Client { destination: String },
    #[error(
        "site file path {path:?} would land outside the destination; nothing was written (a seatwatch bug)"
    )]
    UnsafePath { path: String },
    #[error(
        "writing {path} failed: {cause}; {state}. Check that the folder exists, is writable and has space"
    )]
    Folder {
        path: PathBuf,
        state: &'static str,
        // in the message, so deliberately not a `source()`: each cause prints once
        cause: std::io::Error,
    },
    #[error(
        "uploading s3://{bucket}/{key} failed: {message}; {state}. Check that the bucket exists, \
         the region and endpoint are right, and the credentials allow s3:PutObject on it"
    )]
    S3Put {
        bucket: String,
        key: String,
        state: &'static str,
        message: String,
        /// A throttle, a 5xx or a network fault: the next run may succeed as it is.
        retryable: bool,
    },
}

impl PublishError {
    /// Whether publishing again later may succeed without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            PublishError::S3Put {
                retryable: true,
                ..
            }
        )
    }
}

/// What went wrong with one PUT, in S3's own words, and whether trying again can help.
fn s3_failure<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> (String, bool)
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    use aws_sdk_s3::error::SdkError;
    let status = e.raw_response().map(|r| r.status().as_u16());
    let message = match (e.code(), e.message()) {
        (Some(code), Some(text)) => format!("{code}: {text}"),
        (Some(code), None) => code.to_string(),
        _ => DisplayErrorContext(e).to_string(),
    };
    let retryable = match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        // 403 (denied), 404 (no bucket), 400 (bad request) need someone to act.
        _ => {
            status.is_some_and(|s| s >= 500 || s == 429)
                || matches!(
                    e.code(),
                    Some("SlowDown" | "RequestTimeout" | "InternalError" | "ServiceUnavailable")
                )
        }
    };
    (message, retryable)
}

const PAGES_UNTOUCHED: &str = "no page was replaced, readers still see the previous site";
const PAGES_PARTLY: &str = "some pages may already be the new ones, all data files are";

fn is_page(f: &SiteFile) -> bool {
    f.path.ends_with(".html")
}

/// Data files first, then pages, `index.html` last; otherwise the order given.
fn publish_order(files: &[SiteFile]) -> Vec<&SiteFile> {
    let mut ordered: Vec<&SiteFile> = files.iter().collect();
    ordered.sort_by_key(|f| (is_page(f), f.path == "index.html"));
    ordered
}

/// A site path must stay inside the destination: relative, no `..`, no root.
fn checked_relative(path: &str) -> Result<&Path, PublishError> {
    let p = Path::new(path);
    let safe = !path.is_empty()
        && !path.contains('\\')
        && p.components().all(|c| matches!(c, Component::Normal(_)));
    if safe {
        Ok(p)
    } else {
        Err(PublishError::UnsafePath {
            path: path.to_string(),
        })
    }
}

/// Publishes `files` to `dest`; `s3` is required for an S3 destination.
pub async fn publish(
    files: &[SiteFile],
    dest: &Destination,
    s3: Option<&aws_sdk_s3::Client>,
) -> Result<PublishSummary, PublishError> {
    for f in files {
        checked_relative(&f.path)?;
    }
    let ordered = publish_order(files);
    match dest {
        Destination::Folder(dir) => publish_folder(&ordered, dir).await?,
        Destination::S3 { bucket, prefix } => {
            let client = s3.ok_or_else(|| PublishError::NoS3Client {
                destination: dest.to_string(),
            })?;
            publish_s3(&ordered, client, bucket, prefix).await?
        }
    }
    let summary = PublishSummary {
        destination: dest.to_string(),
        files: files.len(),
        bytes: files.iter().map(|f| f.bytes.len() as u64).sum(),
    };
    tracing::info!(
        destination = %summary.destination,
        files = summary.files,
        bytes = summary.bytes,
        "site published"
    );
    Ok(summary)
}

async fn publish_folder(files: &[&SiteFile], dir: &Path) -> Result<(), PublishError> {
    // A page counts as replaced once its rename is done: the one that fails is not.
    let mut pages_replaced = false;
    for f in files {
        let state = if pages_replaced {
            PAGES_PARTLY
        } else {
            PAGES_UNTOUCHED
        };
        let target = dir.join(checked_relative(&f.path)?);
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |cause| PublishError::Folder { path, state, cause }
        };
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(io_err(parent))?;
        }
        let file_name = target
            .file_name()
            .expect("checked_relative allows only normal components")
            .to_string_lossy();
        // Beside the target (same filesystem, so the rename is atomic) and unique per process.
        let temp = target.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
        if let Err(e) = tokio::fs::write(&temp, &f.bytes).await {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(io_err(&temp)(e));
        }
        if let Err(e) = tokio::fs::rename(&temp, &target).await {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(io_err(&target)(e));
        }
        pages_replaced |= is_page(f);
    }
    Ok(())
}

fn object_key(prefix: &str, path: &str) -> String {
    if prefix.is_empty() {
        path.to_string()
    } else {
        format!("{prefix}/{path}")
    }
}

async fn publish_s3(
    files: &[&SiteFile],
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<(), PublishError> {
    // A PUT is all or nothing: the page whose PUT fails still shows the previous version.
    let mut pages_replaced = false;
    for f in files {
        let key = object_key(prefix, &f.path);
        client
            .put_object()
            .bucket(bucket)
            .key(&key)
            .content_type(f.content_type)
            .cache_control(f.cache_control)
            .body(ByteStream::from(f.bytes.clone()))
            .send()
            .await
            .map_err(|e| {
                let (message, retryable) = s3_failure(&e);
                PublishError::S3Put {
                    bucket: bucket.to_string(),
                    key,
                    state: if pages_replaced {
                        PAGES_PARTLY
                    } else {
                        PAGES_UNTOUCHED
                    },
                    message,
                    retryable,
                }
            })?;
        pages_replaced |= is_page(f);
    }
    Ok(())
}

/// An S3 client from the shared AWS config. With a custom endpoint (moto, MinIO, LocalStack) it
/// uses path-style addressing: `bucket.localhost` does not resolve.
pub fn s3_client(cfg: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let custom_endpoint = cfg.endpoint_url().is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL").is_some();
    let s3_config = aws_sdk_s3::config::Builder::from(cfg)
        .force_path_style(custom_endpoint)
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, body: &str) -> SiteFile {
        SiteFile {
            path: path.to_string(),
            content_type: if path.ends_with(".html") {
                "text/html; charset=utf-8"
            } else {
                "text/plain"
            },
            cache_control: "no-cache",
            bytes: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn destinations_parse_from_s3_urls_and_paths() {
        assert_eq!(
            "s3://bucket/a/b/".parse::<Destination>().expect("valid"),
            Destination::S3 {
                bucket: "bucket".into(),
                prefix: "a/b".into()
            }
        );
        assert_eq!(
            "s3://bucket".parse::<Destination>().expect("valid"),
            Destination::S3 {
                bucket: "bucket".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            "site".parse::<Destination>().expect("valid"),
            Destination::Folder("site".into())
        );
        for bad in ["", "s3://", "s3:///x", "https://example.com/site"] {
            let err = bad.parse::<Destination>().expect_err(bad);
            assert!(err.to_string().contains("s3://bucket/prefix"), "{err}");
        }
        assert_eq!(
            Destination::S3 {
                bucket: "b".into(),
                prefix: "p".into()
            }
            .to_string(),
            "s3://b/p"
        );
    }

    #[test]
    fn pages_are_ordered_after_data_and_index_last() {
        let files = [
            file("index.html", ""),
            file("unused.html", ""),
            file("data/report.json", ""),
            file("activity.html", ""),
            file("unused.csv", ""),
        ];
        let order: Vec<&str> = publish_order(&files)
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(
            order,
            [
                "data/report.json",
                "unused.csv",
                "unused.html",
                "activity.html",
                "index.html"
            ]
        );
    }

    #[test]
    fn paths_that_escape_the_destination_are_refused() {
        for bad in ["../x", "/etc/passwd", "a/../../b", "", "a\\b"] {
            assert!(checked_relative(bad).is_err(), "{bad}");
        }
        assert!(checked_relative("data/report.json").is_ok());
    }

    #[tokio::test]
    async fn folder_publish_writes_every_file_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let dest = Destination::Folder(dir.path().join("site"));
        let files = [
            file("data/report.json", "{}"),
            file("index.html", "<p>1</p>"),
        ];
        let summary = publish(&files, &dest, None).await.expect("publishes");
        assert_eq!(summary.files, 2);
        assert_eq!(summary.bytes, 10);
        let site = dir.path().join("site");
        assert_eq!(
            std::fs::read_to_string(site.join("index.html")).expect("index"),
            "<p>1</p>"
        );
        assert_eq!(
            std::fs::read_to_string(site.join("data/report.json")).expect("json"),
            "{}"
        );
        let mut names: Vec<String> = std::fs::read_dir(&site)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["data", "index.html"]);
    }

    #[tokio::test]
    async fn a_failed_data_file_leaves_the_previous_pages() {
        let dir = tempfile::tempdir().expect("temp dir");
        let dest = Destination::Folder(dir.path().to_path_buf());
        publish(
            &[file("a.csv", "old"), file("index.html", "old page")],
            &dest,
            None,
        )
        .await
        .expect("first publish");
        // a directory where the second data file must go: its rename fails
        std::fs::create_dir_all(dir.path().join("b.csv/occupied")).expect("blocker");
        let err = publish(
            &[
                file("a.csv", "new"),
                file("b.csv", "new"),
                file("index.html", "new page"),
            ],
            &dest,
            None,
        )
        .await
        .expect_err("the blocked file fails the publish");
        let message = err.to_string();
        assert!(message.contains("b.csv"), "{message}");
        assert!(message.contains("no page was replaced"), "{message}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("index.html")).expect("index"),
            "old page"
        );
        let leftovers = std::fs::read_dir(dir.path())
            .expect("list")
            .filter(|e| {
                e.as_ref()
                    .map(|e| e.file_name().to_string_lossy().contains(".tmp-"))
                    .unwrap_or(false)
            })
            .count();
        assert_eq!(leftovers, 0);
    }

    #[tokio::test]
    async fn s3_without_a_client_is_an_error() {
        let dest: Destination = "s3://b/p".parse().expect("valid");
        let err = publish(&[file("index.html", "")], &dest, None)
            .await
            .expect_err("no client");
        assert!(matches!(err, PublishError::NoS3Client { .. }));
    }
}

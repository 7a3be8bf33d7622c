//! Wiring: from the typed [`Config`] to the clients, stores and destinations the commands need.
//!
//! The CLI and the Lambda functions both build one [`App`] (once per process, i.e. once per cold
//! start) and call its commands, so neither holds logic of its own. AWS configuration is loaded
//! only when something needs AWS (a secret, a DynamoDB store, an S3 site), so local runs on the
//! embedded default never look for credentials.

use std::time::Instant;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;
use tokio::sync::OnceCell;

use crate::check::{self, CheckReport};
use crate::collect::{self, CollectError, CollectOptions, CollectOutcome};
use crate::config::{Config, ConfigError};
use crate::publish::{self, Destination};
use crate::secrets::{SecretError, TokenProvider, TokenSource};
use crate::store::{self, SnapshotReader, SnapshotStore, SnapshotWriter, StoreUrl};
use seatwatch_core::analyse::{self, Policy};
use seatwatch_core::site;
use seatwatch_core::snapshot::InstanceId;
use seatwatch_gitlab::{Client, GitLabError};

/// Why a command could not start or finish; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    GitLab(#[from] GitLabError),
    // The wrapped error is part of the message and deliberately not a `source()`: printed with
    // its causes (`{:#}`), each cause would otherwise show twice. See `wraps_without_source!`.
    #[error("collect: {0}")]
    Collect(CollectError),
    #[error("store: {0}")]
    Store(store::StoreError),
    #[error("report: {0}")]
    Analyse(analyse::AnalyseError),
    #[error("site: {0}")]
    Site(site::SiteError),
    #[error("publish: {0}")]
    Publish(publish::PublishError),
    #[error(
        "no snapshot of {0} in the store yet: run `seatwatch collect` first (or check SEATWATCH_STORE)"
    )]
    NoSnapshot(String),
    #[error(
        "the store holds several GitLab instances ({0}): set GITLAB_URL (and GITLAB_GROUP) to choose one"
    )]
    WhichInstance(String),
    #[error("invalid setting: {0}")]
    Invalid(String),
}

/// `From` for variants whose message already shows the wrapped error (so it is no `source()`).
macro_rules! wraps_without_source {
    ($($variant:ident($inner:ty)),* $(,)?) => {
        $(impl From<$inner> for AppError {
            fn from(inner: $inner) -> Self {
                AppError::$variant(inner)
            }
        })*
    };
}

wraps_without_source!(
    Collect(CollectError),
    Store(store::StoreError),
    Analyse(analyse::AnalyseError),
    Site(site::SiteError),
    Publish(publish::PublishError),
);

impl AppError {
    /// Whether running again later may succeed without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        match self {
            AppError::Secret(e) => e.is_retryable(),
            AppError::GitLab(e) => e.is_retryable(),
            AppError::Collect(e) => e.is_retryable(),
            AppError::Store(e) => e.is_retryable(),
            AppError::Publish(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// Everything a command needs, built once per process.
pub struct App {
    pub config: Config,
    pub tokens: TokenProvider,
    aws: OnceCell<aws_config::SdkConfig>,
    client: OnceCell<Client>,
    store: OnceCell<Box<dyn SnapshotStore>>,
}

/// What `report` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ReportSummary {
    pub instance: String,
    pub snapshot_date: NaiveDate,
    pub destination: String,
    pub files: usize,
    pub bytes: u64,
    pub members: usize,
    pub reclaimable: usize,
}

/// The AWS SDK's own configuration chain: `AWS_REGION`, `AWS_ENDPOINT_URL`, credentials.
async fn load_aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

impl App {
    /// Chooses the token source (file, secret, or `GITLAB_TOKEN`) without reading it yet.
    pub async fn new(config: Config) -> Result<App, AppError> {
        App::build(config, OnceCell::new()).await
    }

    /// Like [`App::new`], with the AWS configuration given rather than loaded from the
    /// environment: a test runs a function's code path under one principal's credentials.
    pub async fn with_aws(config: Config, aws: aws_config::SdkConfig) -> Result<App, AppError> {
        App::build(config, OnceCell::new_with(Some(aws))).await
    }

    async fn build(config: Config, aws: OnceCell<aws_config::SdkConfig>) -> Result<App, AppError> {
        let source = TokenSource::choose(
            config.token_file.clone(),
            config.secret_id.clone(),
            || async {
                let cfg = aws.get_or_init(load_aws_config).await;
                aws_sdk_secretsmanager::Client::new(cfg)
            },
        )
        .await;
        // A missing token is not fatal here: `check` reports it as a failed check, and the
        // other commands fail on their first read with the same message.
        let tokens = TokenProvider::new(source?);
        Ok(App {
            config,
            tokens,
            aws,
            client: OnceCell::new(),
            store: OnceCell::new(),
        })
    }

    /// The AWS configuration, loaded on first use.
    pub async fn aws(&self) -> &aws_config::SdkConfig {
        self.aws.get_or_init(load_aws_config).await
    }

    /// Pre-flight checks as of `today`.
    pub async fn check(&self, today: NaiveDate) -> CheckReport {
        check::run(&self.config, &self.tokens, today).await
    }

    /// The GitLab client, built on first use from the settings and the token source.
    pub async fn client(&self) -> Result<&Client, AppError> {
        self.client
            .get_or_try_init(|| async {
                let creds = self.tokens.get().await?;
                let base = self.config.base_url(creds.url.as_deref())?;
                Ok::<_, AppError>(Client::new(
                    base,
                    creds.token,
                    self.config.client_options(),
                )?)
            })
            .await
    }

    /// The snapshot store the settings name.
    ///
    /// A SQLite file gets its schema here (it is part of the file, made on first use). A DynamoDB
    /// table is never created or altered here: that is deployment's job (CloudFormation, or
    /// [`App::setup_store`] for the CLI), so the Lambda functions call no control-plane API and
    /// their roles need no `DescribeTable`, `DescribeTimeToLive`, `CreateTable` or
    /// `UpdateTimeToLive`. A missing table shows on the first read as
    /// [`store::StoreError::TableMissing`].
    async fn store(&self) -> Result<&dyn SnapshotStore, AppError> {
        let store = self
            .store
            .get_or_try_init(|| async {
                let url = &self.config.store;
                let store = self.open_store(url).await?;
                if matches!(url, StoreUrl::Sqlite(_)) {
                    store.ensure_ready().await?;
                }
                Ok::<_, AppError>(store)
            })
            .await?;
        Ok(store.as_ref())
    }

    /// The store as `report` uses it: read only.
    pub async fn reader(&self) -> Result<&dyn SnapshotReader, AppError> {
        Ok(self.store().await?)
    }

    /// The store as `collect` uses it: write a day, keep a checkpoint, read the previous day.
    pub async fn writer(&self) -> Result<&dyn SnapshotWriter, AppError> {
        Ok(self.store().await?)
    }

    /// The explicit provisioning step (`seatwatch setup`): creates the store when missing (a
    /// DynamoDB table with its TTL, or the SQLite schema). Idempotent. Returns the store's URL.
    pub async fn setup_store(&self) -> Result<String, AppError> {
        let url = &self.config.store;
        let store = self.open_store(url).await?;
        store.ensure_ready().await?;
        Ok(url.to_string())
    }

    async fn open_store(&self, url: &StoreUrl) -> Result<Box<dyn SnapshotStore>, AppError> {
        let aws = match url {
            StoreUrl::DynamoDb(_) => Some(self.aws().await),
            StoreUrl::Sqlite(_) => None,
        };
        Ok(store::open(url, aws, self.config.retention_days).await?)
    }

    /// Collects the snapshot of `date`, to the end.
    pub async fn collect(&self, date: NaiveDate) -> Result<collect::CollectSummary, AppError> {
        Ok(self.collect_until(date, None).await?.summary().clone())
    }

    /// Collects the snapshot of `date`, stopping with a checkpoint before `deadline`.
    ///
    /// A 401 makes the token source be read once more: when the token changed (rotated in the
    /// secret, or revoked and replaced mid-run) the run starts again with the new one; the
    /// aborted run's parts are never committed and are cleared by the next commit.
    pub async fn collect_until(
        &self,
        date: NaiveDate,
        deadline: Option<Instant>,
    ) -> Result<CollectOutcome, AppError> {
        let client = self.client().await?;
        let store = self.writer().await?;
        let mut opts = CollectOptions::new(date);
        opts.group = self.config.group.as_ref().map(|g| g.as_str().to_string());
        opts.seats_purchased = self.config.seats_purchased;
        opts.events_concurrency = self.config.concurrency;
        opts.deadline = deadline;
        opts.time_zone = self.config.time_zone;
        opts.contribution_days = self.config.policy.contribution_days;
        opts.grace_days = self.config.policy.grace_days;
        opts.contribution_backfill_pages = self.config.contribution_backfill_pages;
        let mut refreshed = false;
        loop {
            // Boxed: the collect future is deep enough to overflow type-layout limits when
            // nested inside the Lambda runtime's own futures.
            match Box::pin(collect::collect(client, store, &opts, Utc::now())).await {
                Err(e) if e.is_auth() && !refreshed => {
                    refreshed = true;
                    match self.tokens.refresh().await {
                        Ok((fresh, true)) => {
                            tracing::warn!(
                                "GitLab refused the token; retrying with the token now in the source"
                            );
                            client.set_token(fresh.token);
                        }
                        _ => return Err(e.into()),
                    }
                }
                other => return Ok(other?),
            }
        }
    }

    /// Which instance to report on: the one the settings name, or the only one in the store.
    async fn instance(&self, store: &dyn SnapshotReader) -> Result<InstanceId, AppError> {
        if let Some(url) = &self.config.gitlab_url {
            let base = url
                .parsed
                .as_ref()
                .map_err(|e| ConfigError::from(e.clone()))?;
            let group = self.config.group.as_ref().map(|g| g.as_str());
            return Ok(InstanceId::new(&base.host_and_path(), group));
        }
        let all = store.instances().await?;
        match all.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(AppError::NoSnapshot("any GitLab".into())),
            many => Err(AppError::WhichInstance(
                many.iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            )),
        }
    }

    /// Renders the site from the store's latest snapshot and publishes it.
    pub async fn report(&self, now: DateTime<Utc>) -> Result<ReportSummary, AppError> {
        let store = self.reader().await?;
        let instance = self.instance(store).await?;
        let dest = &self.config.site;
        let s3 = match dest {
            Destination::S3 { .. } => Some(publish::s3_client(self.aws().await)),
            Destination::Folder(_) => None,
        };
        render_and_publish(
            store,
            &instance,
            &self.config.policy,
            now,
            dest,
            s3.as_ref(),
        )
        .await
    }
}

/// The report of an instance's latest committed day, rendered and published to `dest`: what
/// `report`, the `report` Lambda and the demo all do once the snapshots are in a store.
pub async fn render_and_publish(
    store: &dyn SnapshotReader,
    instance: &InstanceId,
    policy: &Policy,
    now: DateTime<Utc>,
    dest: &Destination,
    s3: Option<&aws_sdk_s3::Client>,
) -> Result<ReportSummary, AppError> {
    let latest = store
        .latest_day(instance)
        .await?
        .ok_or_else(|| AppError::NoSnapshot(instance.to_string()))?;
    let history = store
        .days(instance, latest.date - Days::new(400), latest.date)
        .await?;
    let members = store.members(instance, latest.date).await?;
    let duo_holders = store.duo_holders(instance, latest.date).await?;
    let report = analyse::build_report(&latest, &members, &history, &duo_holders, policy, now);
    let files = site::render(&report, &members)?;
    publish::publish(&files, dest, s3).await?;
    Ok(ReportSummary {
        instance: instance.to_string(),
        snapshot_date: latest.date,
        destination: dest.to_string(),
        files: files.len(),
        bytes: files.iter().map(|f| f.bytes.len() as u64).sum(),
        members: members.len(),
        reclaimable: report.reclaimable.len(),
    })
}

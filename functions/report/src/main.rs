//! The `report` Lambda: invoked after a committed collect, it renders the site from DynamoDB into
//! the S3 bucket behind CloudFront and returns a JSON summary.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use seatwatch::app::App;
use seatwatch::config::Settings;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = App::new(Settings::from_lambda_env()?).await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        let summary = app.report(chrono::Utc::now()).await?;
        Ok::<_, Error>(serde_json::to_value(summary)?)
    }))
    .await
}

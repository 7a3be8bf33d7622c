//! The `check` Lambda: invoked by hand, it runs the pre-flight checks and returns the same
//! document as `seatwatch check --json`. Any event (`{}` included) is accepted.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use seatwatch::app::App;
use seatwatch::config::Settings;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // Built once per cold start; the token is cached across warm invocations.
    let app = App::new(Settings::from_lambda_env()?).await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        let today = chrono::Utc::now().date_naive();
        let report = app.check(today).await;
        if let Some(line) = seatwatch::emf::token_days_left(report.token_expires_at, today) {
            println!("{line}");
        }
        Ok::<_, Error>(serde_json::to_value(report)?)
    }))
    .await
}

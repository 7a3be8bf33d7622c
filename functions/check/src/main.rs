//! The `check` Lambda: invoked by hand, it runs the pre-flight checks and returns the same
//! document as `seatwatch check --json`. Any event (`{}` included) is accepted.

// The Lambda runtime's service layers around the function's future nest deeper than rustc's
// default layout limit in test builds.
#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent, service_fn};
use seatwatch::app::App;
use seatwatch::config::Config;
use seatwatch::lambda::IgnoredEvent;

#[tokio::main]
async fn main() -> Result<(), Error> {
    seatwatch::lambda::init_logging();
    // Built once per cold start; the token is cached across warm invocations.
    let app = App::new(Config::from_lambda_env()?).await?;
    let app = &app;
    lambda_runtime::run(service_fn(
        move |_event: LambdaEvent<IgnoredEvent>| async move {
            let today = chrono::Utc::now().date_naive();
            seatwatch::lambda::check(app, today).await
        },
    ))
    .await
}

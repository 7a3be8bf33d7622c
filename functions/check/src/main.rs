//! The `check` Lambda: invoked by hand, it runs the pre-flight checks and returns the same
//! document as `seatwatch check --json`. Any event (`{}` included) is accepted.

// The Lambda runtime's service layers around the function's future nest deeper than rustc's
// default layout limit in test builds.
#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent};
use seatwatch::lambda::IgnoredEvent;

#[tokio::main]
async fn main() -> Result<(), Error> {
    seatwatch::lambda::serve(|app, _event: LambdaEvent<IgnoredEvent>| async move {
        seatwatch::lambda::check(app, chrono::Utc::now().date_naive()).await
    })
    .await
}

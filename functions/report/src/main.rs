//! The `report` Lambda: invoked after a committed collect, it renders the site from DynamoDB into
//! the S3 bucket behind CloudFront and returns a JSON summary.

// The Lambda runtime's service layers around the function's future nest deeper than rustc's
// default layout limit in test builds.
#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent};
use seatwatch::lambda::IgnoredEvent;

#[tokio::main]
async fn main() -> Result<(), Error> {
    seatwatch::lambda::serve(|app, _event: LambdaEvent<IgnoredEvent>| async move {
        seatwatch::lambda::report(app, chrono::Utc::now()).await
    })
    .await
}

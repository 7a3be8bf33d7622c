//! The `collect` Lambda: an EventBridge schedule (or `{}`) in, one day's snapshot committed to
//! DynamoDB, a JSON summary out. An instance too large for one invocation stops with a checkpoint
//! before the deadline and returns `"status": "checkpointed"`; the state machine in
//! infra/template.yaml invokes it again until it returns `"committed"`, then runs `report`.

// The Lambda runtime's service layers around the collect future nest deeper than rustc's
// default layout limit in test builds.
#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent};
use seatwatch::lambda::CollectEvent;

#[tokio::main]
async fn main() -> Result<(), Error> {
    seatwatch::lambda::serve(|app, event: LambdaEvent<CollectEvent>| async move {
        {
            let deadline = seatwatch::lambda::deadline(&event.context);
            seatwatch::lambda::collect(app, &event.payload, deadline).await
        }
    })
    .await
}

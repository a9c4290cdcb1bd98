//! Echoes the tenant the runtime handed to this invocation, plus a per-environment counter,
//! so the end-to-end suite can check `Context::tenant_id` and warm reuse.

use std::sync::atomic::{AtomicU64, Ordering};

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

static COUNT: AtomicU64 = AtomicU64::new(0);

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let count = COUNT.fetch_add(1, Ordering::Relaxed) + 1;
    Ok(json!({
        "tenantId": event.context.tenant_id,
        "requestId": event.context.request_id,
        "functionArn": event.context.invoked_function_arn,
        "count": count,
        "event": event.payload,
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}

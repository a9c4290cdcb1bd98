//! What Invoke needs beyond the registry: the router, and the translation of a resolved
//! function into the router's [`FunctionTarget`] (code, runtime launch plan, Lambda's
//! environment variables), cached per deployment so the warm path builds nothing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulkhead_model::Runtime;
use bulkhead_registry::{Registry, ResolvedFunction};
use bulkhead_router::{FunctionTarget, Router};

use crate::ApiError;

/// Cached targets beyond this many are dropped wholesale; rebuilding one costs microseconds.
const TARGET_CACHE: usize = 4096;

pub struct Invoker {
    pub router: Arc<Router>,
    /// Where `bulkhead runtime install` put the runtime interface clients.
    pub runtimes_root: PathBuf,
    targets: Mutex<HashMap<(String, String, String), Arc<FunctionTarget>>>,
}

impl Invoker {
    pub fn new(router: Arc<Router>, runtimes_root: PathBuf) -> Self {
        Self {
            router,
            runtimes_root,
            targets: Mutex::default(),
        }
    }

    pub(crate) fn target(
        &self,
        registry: &Registry,
        resolved: &ResolvedFunction,
    ) -> Result<Arc<FunctionTarget>, ApiError> {
        let c = &resolved.config;
        let key = (
            c.function_name.clone(),
            resolved.executed_version.clone(),
            c.revision_id.clone(),
        );
        if let Some(t) = self.targets.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(t);
        }
        let target = Arc::new(self.build(registry, resolved)?);
        if let Ok(mut m) = self.targets.lock() {
            if m.len() >= TARGET_CACHE {
                m.clear();
            }
            m.insert(key, target.clone());
        }
        Ok(target)
    }

    fn build(
        &self,
        registry: &Registry,
        resolved: &ResolvedFunction,
    ) -> Result<FunctionTarget, ApiError> {
        let c = &resolved.config;
        let runtime: Runtime = c.runtime.parse().map_err(|_| ApiError::internal())?;
        let launch = bulkhead_runtimes::launch(runtime, c.handler.as_deref(), &self.runtimes_root)
            .map_err(|e| {
                ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "ServiceException",
                    e.to_string(),
                )
            })?;
        let settings = registry.settings();
        let mut env: Vec<(String, String)> = vec![
            ("AWS_REGION".into(), settings.region.clone()),
            ("AWS_DEFAULT_REGION".into(), settings.region.clone()),
            ("AWS_LAMBDA_FUNCTION_NAME".into(), c.function_name.clone()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), c.memory_size.to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION".into(), resolved.executed_version.clone()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
            ("AWS_LAMBDA_LOG_GROUP_NAME".into(), c.logging_config.log_group.clone()),
            ("AWS_LAMBDA_LOG_FORMAT".into(), c.logging_config.log_format.clone()),
            ("AWS_LAMBDA_RUNTIME_API".into(), format!("127.0.0.1:{}", bulkhead_sandbox::ns::RUNTIME_API_PORT)),
            ("LAMBDA_TASK_ROOT".into(), "/var/task".into()),
            ("LAMBDA_RUNTIME_DIR".into(), "/var/runtime".into()),
            ("TZ".into(), ":UTC".into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("PATH".into(), "/usr/local/bin:/usr/bin/:/bin:/opt/bin".into()),
            ("LD_LIBRARY_PATH".into(), "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib".into()),
        ];
        if let Some(h) = &c.handler {
            env.push(("_HANDLER".into(), h.clone()));
        }
        if let Some(e) = runtime.execution_env() {
            env.push(("AWS_EXECUTION_ENV".into(), e));
        }
        // The runtime's own variables, then the function's: both may replace Lambda's unreserved
        // defaults (PATH, LANG, ...); reserved names were refused when the function was saved.
        let mut overrides: Vec<(String, String)> = launch.env.clone();
        if let Some(vars) = c.environment.as_ref() {
            overrides.extend(vars.variables.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        for (k, v) in overrides {
            env.retain(|(existing, _)| *existing != k);
            env.push((k, v));
        }
        Ok(FunctionTarget {
            name: c.function_name.clone(),
            version: resolved.executed_version.clone(),
            revision: c.revision_id.clone(),
            per_tenant: resolved.tenancy.is_some(),
            memory_mb: c.memory_size,
            tmp_mb: c.ephemeral_storage.size,
            timeout: Duration::from_secs(u64::from(c.timeout)),
            reserved_concurrency: resolved.reserved_concurrency,
            code_dir: registry.code_tree(&resolved.code_sha256_hex),
            runtime_dir: launch.runtime_dir,
            argv: launch.argv,
            env,
        })
    }
}

//! Admission: account and reserved concurrency, the tenant-environment cap, and the host
//! memory budget. Pure bookkeeping, no I/O, so every rule has a plain unit test and the
//! property test can drive it.

use std::collections::HashMap;

/// Limits of one host.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Invocations running at once across all functions (Lambda's default: 1,000).
    pub account_concurrency: u32,
    /// Memory that live environments may reserve, in MiB; past it, idle ones are evicted.
    pub memory_budget_mb: u64,
}

/// Why an invocation was refused, as Lambda's 429 `Reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Account concurrency exhausted.
    AccountConcurrency,
    /// The function's reserved concurrency exhausted.
    ReservedConcurrency,
    /// A PER_TENANT function already holds 2.5 environments per unit of concurrency.
    TenantEnvironments,
    /// The host's memory budget is full of busy environments.
    HostMemory,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::AccountConcurrency => "ConcurrentInvocationLimitExceeded",
            Refusal::ReservedConcurrency => "ReservedFunctionConcurrentInvocationLimitExceeded",
            // UNCONFIRMED: AWS documents the 429 "Rate exceeded" for the tenant cap but not its Reason.
            Refusal::TenantEnvironments => "ConcurrentInvocationLimitExceeded",
            Refusal::HostMemory => "ConcurrentInvocationLimitExceeded",
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FunctionUse {
    pub busy: u32,
    pub environments: u32,
}

#[derive(Debug, Default)]
pub struct Usage {
    busy: u32,
    memory_mb: u64,
    functions: HashMap<String, FunctionUse>,
}

/// Lambda: at most 2,500 tenant environments per 1,000 concurrent executions.
pub fn tenant_environment_cap(concurrency: u32) -> u32 {
    (u64::from(concurrency) * 5 / 2).min(u64::from(u32::MAX)) as u32
}

impl Usage {
    pub fn busy(&self) -> u32 {
        self.busy
    }

    pub fn memory_mb(&self) -> u64 {
        self.memory_mb
    }

    pub fn function(&self, name: &str) -> FunctionUse {
        self.functions.get(name).copied().unwrap_or_default()
    }

    /// Counts one more running invocation, or says why not.
    pub fn admit(
        &mut self,
        limits: &Limits,
        function: &str,
        reserved: Option<u32>,
    ) -> Result<(), Refusal> {
        if self.busy >= limits.account_concurrency {
            return Err(Refusal::AccountConcurrency);
        }
        let f = self.functions.entry(function.to_owned()).or_default();
        if reserved.is_some_and(|r| f.busy >= r) {
            return Err(Refusal::ReservedConcurrency);
        }
        f.busy += 1;
        self.busy += 1;
        Ok(())
    }

    pub fn finish(&mut self, function: &str) {
        self.busy = self.busy.saturating_sub(1);
        if let Some(f) = self.functions.get_mut(function) {
            f.busy = f.busy.saturating_sub(1);
        }
        self.forget_if_unused(function);
    }

    /// Whether one more environment of `function` fits under the tenant cap (PER_TENANT only).
    pub fn tenant_cap_allows(
        &self,
        limits: &Limits,
        function: &str,
        per_tenant: bool,
        reserved: Option<u32>,
    ) -> bool {
        !per_tenant
            || self.function(function).environments
                < tenant_environment_cap(reserved.unwrap_or(limits.account_concurrency))
    }

    pub fn memory_allows(&self, limits: &Limits, memory_mb: u32) -> bool {
        self.memory_mb + u64::from(memory_mb) <= limits.memory_budget_mb
    }

    pub fn add_environment(&mut self, function: &str, memory_mb: u32) {
        self.functions
            .entry(function.to_owned())
            .or_default()
            .environments += 1;
        self.memory_mb += u64::from(memory_mb);
    }

    /// A spare is not a tenant environment (no cap counts it) but holds memory.
    pub fn add_spare(&mut self, memory_mb: u32) {
        self.memory_mb += u64::from(memory_mb);
    }

    pub fn remove_spare(&mut self, memory_mb: u32) {
        self.memory_mb = self.memory_mb.saturating_sub(u64::from(memory_mb));
    }

    /// A spare bound to a tenant: it now counts under its function's tenant cap too.
    pub fn spare_bound(&mut self, function: &str) {
        self.functions
            .entry(function.to_owned())
            .or_default()
            .environments += 1;
    }

    pub fn remove_environment(&mut self, function: &str, memory_mb: u32) {
        if let Some(f) = self.functions.get_mut(function) {
            f.environments = f.environments.saturating_sub(1);
        }
        self.memory_mb = self.memory_mb.saturating_sub(u64::from(memory_mb));
        self.forget_if_unused(function);
    }

    fn forget_if_unused(&mut self, function: &str) {
        if self
            .functions
            .get(function)
            .is_some_and(|f| *f == FunctionUse::default())
        {
            self.functions.remove(function);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            account_concurrency: 3,
            memory_budget_mb: 1024,
        }
    }

    #[test]
    fn account_concurrency_is_shared_by_all_functions() {
        let mut u = Usage::default();
        for f in ["a", "b", "c"] {
            u.admit(&limits(), f, None).expect("admitted");
        }
        assert_eq!(
            u.admit(&limits(), "d", None),
            Err(Refusal::AccountConcurrency)
        );
        u.finish("b");
        assert!(u.admit(&limits(), "d", None).is_ok());
    }

    #[test]
    fn reserved_concurrency_caps_one_function() {
        let mut u = Usage::default();
        u.admit(&limits(), "a", Some(1)).expect("first");
        assert_eq!(
            u.admit(&limits(), "a", Some(1)),
            Err(Refusal::ReservedConcurrency)
        );
        assert!(
            u.admit(&limits(), "b", None).is_ok(),
            "others are not affected"
        );
    }

    #[test]
    fn tenant_environments_are_capped_at_two_and_a_half_per_unit() {
        assert_eq!(tenant_environment_cap(1000), 2500);
        assert_eq!(tenant_environment_cap(2), 5);
        let mut u = Usage::default();
        for _ in 0..5 {
            assert!(u.tenant_cap_allows(&limits(), "iso", true, Some(2)));
            u.add_environment("iso", 128);
        }
        assert!(!u.tenant_cap_allows(&limits(), "iso", true, Some(2)));
        assert!(
            u.tenant_cap_allows(&limits(), "iso", false, Some(2)),
            "non-isolated functions are not capped"
        );
        u.remove_environment("iso", 128);
        assert!(u.tenant_cap_allows(&limits(), "iso", true, Some(2)));
    }

    #[test]
    fn memory_budget_counts_live_environments() {
        let mut u = Usage::default();
        u.add_environment("a", 1000);
        assert!(!u.memory_allows(&limits(), 128));
        u.remove_environment("a", 1000);
        assert!(u.memory_allows(&limits(), 1024));
        assert_eq!(u.function("a"), FunctionUse::default());
    }
}

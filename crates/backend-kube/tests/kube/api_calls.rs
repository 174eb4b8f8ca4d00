//! `API_CALLS` (which the deploy manifests' RBAC Role must grant) is exactly what the backend
//! uses: the union of the requests of every scripted scenario, mapped to (group, resource, verb).

use std::collections::BTreeSet;

use co_backend_kube::{ApiCall, API_CALLS};

fn set(calls: &[ApiCall]) -> BTreeSet<(&'static str, &'static str, &'static str)> {
    calls
        .iter()
        .map(|c| (c.group, c.resource, c.verb))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_scenarios_use_exactly_api_calls() {
    let used = crate::scripted::tests::all().await;
    let declared = set(API_CALLS);
    assert_eq!(declared.len(), API_CALLS.len(), "API_CALLS has duplicates");
    assert_eq!(set(&used), declared);
}

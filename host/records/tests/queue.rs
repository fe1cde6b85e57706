//! The step queue's conformance suite, on SQLite and PostgreSQL alike: a ready step is
//! claimed once, a lease kept alive by heartbeats and returned by the reaper when it
//! expires, a stale claim fenced out, tenants served fairly, labels and tenant filters
//! respected, and concurrent claimers never taking the same step.

mod support;

use support::Backend;
use weft_records::{Claim, ClaimFilter};

const LEASE: i64 = 1_000;

fn steps(claims: &[Claim]) -> Vec<&str> {
    claims.iter().map(|c| c.step.as_str()).collect()
}

async fn a_ready_step_is_claimed_once(backend: &Backend) {
    let records = backend.open("alpha").await;
    records
        .enqueue("r1", &[("a", ""), ("b", ""), ("c", "")], 0)
        .await
        .expect("enqueue");
    records
        .enqueue("r1", &[("a", "")], 5)
        .await
        .expect("queued again: no change");
    let queue = records.queue();
    let any = ClaimFilter::default();
    let first = queue.claim("w1", &any, 2, 10, LEASE).await.expect("claim");
    let second = queue.claim("w2", &any, 2, 10, LEASE).await.expect("claim");
    assert_eq!((first.len(), second.len()), (2, 1));
    let mut all: Vec<&str> = steps(&first).into_iter().chain(steps(&second)).collect();
    all.sort_unstable();
    assert_eq!(all, ["a", "b", "c"]);
    assert!(
        first
            .iter()
            .chain(&second)
            .all(|c| c.fence > 1 && c.claims == 1 && c.tenant == "alpha")
    );
    assert!(queue.claim("w3", &any, 2, 10, LEASE).await.expect("claim").is_empty());
    assert_eq!(queue.depth().await.expect("depth"), (0, 3));
    for claim in first.iter().chain(&second) {
        assert!(queue.release(claim).await.expect("release"));
    }
    assert_eq!(queue.depth().await.expect("depth"), (0, 0));
}

async fn an_expired_lease_is_claimed_again_and_the_old_claim_is_fenced_out(backend: &Backend) {
    let records = backend.open("alpha").await;
    records.enqueue("r1", &[("a", "")], 0).await.expect("enqueue");
    let queue = records.queue();
    let any = ClaimFilter::default();
    let stale = queue.claim("paused", &any, 1, 0, LEASE).await.expect("claim").remove(0);
    // Heartbeats keep it: at 900 the lease runs to 1,900.
    assert_eq!(
        queue
            .heartbeat("paused", &[&stale], 900, LEASE)
            .await
            .expect("heartbeat"),
        1
    );
    assert_eq!(
        queue.heartbeat("paused", &[], 900, LEASE).await.expect("heartbeat"),
        0,
        "only the claims the worker names"
    );
    assert_eq!(queue.reap(1_500).await.expect("reap"), 0);
    // The worker stops beating; past its lease the reaper gives the step back.
    assert_eq!(queue.reap(2_000).await.expect("reap"), 1);
    let fresh = queue
        .claim("other", &any, 1, 2_000, LEASE)
        .await
        .expect("claim")
        .remove(0);
    assert_eq!(
        (fresh.fence, fresh.claims),
        (stale.fence + 1, 2),
        "another attempt, with a higher fence"
    );
    assert!(
        !queue.release(&stale).await.expect("release"),
        "the stale claim cannot give it up"
    );
    assert_eq!(
        queue
            .heartbeat("paused", &[&stale], 2_100, LEASE)
            .await
            .expect("heartbeat"),
        0
    );
    assert!(queue.release(&fresh).await.expect("release"));
    assert!(!queue.release(&fresh).await.expect("release"), "once only");
}

async fn a_tenant_with_many_ready_steps_does_not_starve_one_with_few(backend: &Backend) {
    let flood = backend.open("flood").await;
    let names: Vec<String> = (0..50).map(|i| format!("s{i:02}")).collect();
    let steps_of: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "")).collect();
    flood.enqueue("big", &steps_of, 0).await.expect("enqueue");
    backend
        .open("small")
        .await
        .enqueue("one", &[("x", "")], 100)
        .await
        .expect("enqueue");
    let queue = flood.queue();
    let claimed = queue
        .claim("w", &ClaimFilter::default(), 2, 200, LEASE)
        .await
        .expect("claim");
    let tenants: Vec<&str> = claimed.iter().map(|c| c.tenant.as_str()).collect();
    assert!(
        tenants.contains(&"small"),
        "the later, smaller tenant gets one of two: {tenants:?}"
    );
    // With `flood` holding leases, `small`'s next step goes first again.
    backend
        .open("small")
        .await
        .enqueue("two", &[("y", "")], 300)
        .await
        .expect("enqueue");
    let next = queue
        .claim("w", &ClaimFilter::default(), 1, 400, LEASE)
        .await
        .expect("claim");
    assert_eq!(next[0].tenant, "flood", "small has one leased, flood one: oldest first");
    let next = queue
        .claim("w", &ClaimFilter::default(), 1, 400, LEASE)
        .await
        .expect("claim");
    assert_eq!(next[0].tenant, "small", "flood has two leased now");
}

async fn labels_and_tenants_limit_what_a_worker_claims(backend: &Backend) {
    let alpha = backend.open("alpha").await;
    alpha
        .enqueue("r", &[("train", "gpu"), ("load", "")], 0)
        .await
        .expect("enqueue");
    backend
        .open("beta")
        .await
        .enqueue("r2", &[("b", "")], 0)
        .await
        .expect("enqueue");
    let queue = alpha.queue();
    let only_beta = ClaimFilter {
        tenants: vec!["beta".into()],
        labels: Vec::new(),
    };
    assert_eq!(
        steps(&queue.claim("w", &only_beta, 5, 0, LEASE).await.expect("claim")),
        ["b"]
    );
    let cpu = ClaimFilter::default();
    assert_eq!(
        steps(&queue.claim("w", &cpu, 5, 0, LEASE).await.expect("claim")),
        ["load"]
    );
    let gpu = ClaimFilter {
        tenants: Vec::new(),
        labels: vec!["large-memory".into(), "gpu".into()],
    };
    assert_eq!(
        steps(&queue.claim("w", &gpu, 5, 0, LEASE).await.expect("claim")),
        ["train"]
    );
    // A label that only contains another's name does not match it.
    alpha.enqueue("r3", &[("t", "gpu")], 0).await.expect("enqueue");
    let gpus = ClaimFilter {
        tenants: Vec::new(),
        labels: vec!["gpus".into()],
    };
    assert!(queue.claim("w", &gpus, 5, 0, LEASE).await.expect("claim").is_empty());
    // A name that is not one is refused, never read as "any tenant" or matched loosely.
    let loose = ClaimFilter {
        tenants: vec!["al_ha".into()],
        labels: Vec::new(),
    };
    assert!(queue.claim("w", &loose, 5, 0, LEASE).await.is_err());
    assert!(alpha.enqueue("r4", &[("t", "g_u")], 0).await.is_err());
}

async fn concurrent_claimers_never_take_the_same_step(backend: &Backend) {
    let records = backend.open("alpha").await;
    let names: Vec<String> = (0..60).map(|i| format!("s{i:02}")).collect();
    let steps_of: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "")).collect();
    records.enqueue("r", &steps_of, 0).await.expect("enqueue");
    let claimers: Vec<_> = (0..6)
        .map(|w| {
            let queue = records.queue();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = queue
                        .claim(&format!("w{w}"), &ClaimFilter::default(), 3, 0, LEASE)
                        .await
                        .expect("claim");
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|c| c.step));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.expect("claimer"));
    }
    all.sort();
    assert_eq!(all, names, "every step claimed exactly once");
}

async fn a_step_given_back_waits_out_its_delay_and_keeps_its_fence(backend: &Backend) {
    let records = backend.open("alpha").await;
    records.enqueue("r1", &[("a", "")], 0).await.expect("enqueue");
    let queue = records.queue();
    let any = ClaimFilter::default();
    let claim = queue.claim("w1", &any, 1, 0, LEASE).await.expect("claim").remove(0);
    assert!(queue.give_back(&claim, 500).await.expect("give back"));
    assert!(!queue.give_back(&claim, 500).await.expect("give back"), "once");
    assert!(
        queue.claim("w2", &any, 1, 499, LEASE).await.expect("claim").is_empty(),
        "not before 500"
    );
    let again = queue.claim("w2", &any, 1, 500, LEASE).await.expect("claim").remove(0);
    assert_eq!((again.fence, again.claims), (claim.fence + 1, 2));
    assert!(
        !queue.release(&claim).await.expect("release"),
        "the first claim is fenced out"
    );
    assert!(queue.release(&again).await.expect("release"));
}

conformance!(
    a_step_given_back_waits_out_its_delay_and_keeps_its_fence,
    a_ready_step_is_claimed_once,
    an_expired_lease_is_claimed_again_and_the_old_claim_is_fenced_out,
    a_tenant_with_many_ready_steps_does_not_starve_one_with_few,
    labels_and_tenants_limit_what_a_worker_claims,
    concurrent_claimers_never_take_the_same_step,
);

//! `weft worker`: claims steps of runs handed to workers from the shared records and
//! executes them until Ctrl-C or SIGTERM (then finishes the steps it holds; a second
//! signal ends it at once, and its leases expire for other workers to take over).

use crate::cli::WorkerArgs;
use crate::settings::Settings;
use weft_engine::CancelSignal;
use weft_records::ClaimFilter;
use weft_runner::WorkerSettings;

pub async fn worker(args: &WorkerArgs, settings: &Settings) -> anyhow::Result<u8> {
    let runner = settings.runner().await?;
    let slots = args
        .slots
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, std::num::NonZero::get));
    let name = match &args.name {
        Some(name) => name.clone(),
        // The pid alone repeats (a container's is often 1): a random suffix keeps a new
        // process from taking over the heartbeats of a dead one's leases.
        None => format!(
            "{}-{}-{:04x}",
            gethostname().unwrap_or_else(|| "worker".into()),
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos() & 0xffff)
        ),
    };
    let worker = WorkerSettings {
        name: name.clone(),
        filter: ClaimFilter {
            tenants: args.tenants.clone(),
            labels: args.labels.clone(),
        },
        slots,
        lease: args.lease,
        poll: args.poll,
    };
    // A bad label or tenant name is refused now, not at the first claim.
    runner.records.queue().claim(&name, &worker.filter, 0, 0, 0).await?;
    let stop = CancelSignal::default();
    tokio::spawn(stop_on_signal(stop.clone()));
    eprintln!(
        "weft worker {name}: {slots} slots, labels [{}], tenants [{}] (records: {}, store: {})",
        args.labels.join(", "),
        if args.tenants.is_empty() {
            "all".to_string()
        } else {
            args.tenants.join(", ")
        },
        settings.records,
        weft_artifacts::shown_url(runner.store.url()),
    );
    let stats = runner.work(worker, stop).await?;
    let mut times = stats.claim_times.clone();
    times.sort_unstable();
    let at = |q: f64| {
        let i = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len().max(1)) - 1;
        times.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    eprintln!(
        "weft worker {name}: stopped; {} steps committed, {} results fenced out, {} given back; {} claims \
         ({} empty), p50 {:.2} ms, p99 {:.2} ms",
        stats.committed,
        stats.fenced,
        stats.given_back,
        stats.claims + stats.empty_claims,
        stats.empty_claims,
        at(0.5),
        at(0.99)
    );
    Ok(0)
}

/// The machine's name, for the worker's default name.
fn gethostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// The first Ctrl-C or SIGTERM stops claiming (the steps held are finished); a second
/// one ends the process at once.
async fn stop_on_signal(stop: CancelSignal) {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
        return;
    };
    let signal = async {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    signal.await;
    eprintln!("stopping: finishing the steps this worker holds (Ctrl-C again to quit at once)");
    stop.cancel("stopping");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    std::process::exit(130);
}

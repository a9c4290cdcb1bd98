//! Tenant A abuses its own resources. A must be ended or held back with a cause the host can
//! report, while tenant B's heartbeats keep arriving. Each test's doc comment says what the
//! attack tried.

use std::time::{Duration, Instant};

use bulkhead_isolation_tests::{
    Beat, ExitCause, Lab, host_fd_limit, host_open_fds, host_pids_of, host_rss, host_uid,
};

/// The longest pause between two of B's heartbeats (sent every 50 ms) that still counts as B
/// being served while A misbehaves on this 2-core machine.
const MAX_GAP: Duration = Duration::from_millis(1500);

fn longest_gap(beats: &[Beat]) -> Duration {
    beats
        .windows(2)
        .map(|w| w[1].at.duration_since(w[0].at))
        .max()
        .unwrap_or_default()
}

/// Tried: a fork bomb — every process forks as fast as it can — under a pids limit of 32. The
/// limit refuses forks with EAGAIN, the host sees the limit hit, and B keeps being served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_bomb_hits_the_pids_limit_while_the_neighbour_keeps_going() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let attack = lab.attack_with(&["fork-bomb"], |s| s.pids_max = 32).await;
    attack.assert_blocked().assert_reasons_within(&["EAGAIN"]);
    assert!(
        attack.exit.pids_limit_hit,
        "the host did not see the pids limit hit: {:?}\n{}",
        attack.exit,
        attack.transcript()
    );
    let during = victim.beats_between(attack.started, attack.ended);
    eprintln!(
        "fork bomb: {} | B: {} heartbeats, longest gap {:?}",
        attack.detail,
        during.len(),
        longest_gap(&during)
    );
    assert!(
        during.len() >= 3,
        "B sent {} heartbeats during the fork bomb\n{}",
        during.len(),
        attack.transcript()
    );
    assert!(
        longest_gap(&during) < MAX_GAP,
        "B stalled for {:?}",
        longest_gap(&during)
    );
    victim.assert_untouched(&attack).await;
}

/// Tried: touch memory a MiB at a time, up to 1 GiB, under a 32 MiB limit. The kernel kills A
/// and the host reports out-of-memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_ends_in_out_of_memory_while_the_neighbour_keeps_going() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let attack = lab
        .attack_with(&["memory-bomb"], |s| s.memory_mb = 32)
        .await;
    eprintln!(
        "memory bomb: {:?}, last: {:?}",
        attack.exit,
        attack.stderr.last()
    );
    assert_eq!(
        attack.exit.cause,
        ExitCause::OutOfMemory,
        "{}",
        attack.transcript()
    );
    assert_ne!(
        attack.verdict.as_deref(),
        Some("SUCCEEDED"),
        "{}",
        attack.transcript()
    );
    assert!(
        attack.exit.usage.peak_memory_bytes <= 33 << 20,
        "A used {} bytes",
        attack.exit.usage.peak_memory_bytes
    );
    victim.assert_untouched(&attack).await;
}

/// Tried: write 1 MiB files into `/tmp` until something refuses, with /tmp limited to 4 MiB.
/// The write fails with ENOSPC near the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filling_tmp_hits_enospc_while_the_neighbour_keeps_going() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let attack = lab.attack_with(&["fill-tmp"], |s| s.tmp_mb = 4).await;
    attack.assert_blocked().assert_reasons_within(&["ENOSPC"]);
    eprintln!("fill /tmp: {}", attack.detail);
    let written: u64 = attack
        .notes()
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("bytes written");
    assert!(
        written <= 4 << 20,
        "A wrote {written} bytes into a 4 MiB /tmp"
    );
    victim.assert_untouched(&attack).await;
}

/// Tried: two threads spinning on the CPU. A is held to its share while B's heartbeats keep
/// flowing for 2 s; then the host ends A (the timeout path) and reports it killed. While both
/// run, the host also checks that A and B are different, unprivileged host users.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_spin_is_contained_until_the_host_kills_it() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let marker = format!("spinner-{}", std::process::id());
    let spinner = lab.start_attacker(&["cpu-spin", &marker], |_| {}).await;
    let spinning = spinner
        .tenant
        .wait_line(
            |l| l.starts_with("RESULT cpu-spin running"),
            Duration::from_secs(10),
        )
        .await;
    assert!(
        spinning.is_some(),
        "A never started spinning\n{}",
        spinner.tenant.transcript()
    );

    let a_uids: Vec<Option<u32>> = host_pids_of(&marker).into_iter().map(host_uid).collect();
    let b_uids: Vec<Option<u32>> = victim.host_pids.iter().map(|p| host_uid(*p)).collect();
    assert!(!a_uids.is_empty() && !b_uids.is_empty());
    for uid in a_uids.iter().chain(b_uids.iter()) {
        assert!(
            uid.is_some_and(|u| u >= 1_000_000),
            "an environment runs as host uid {uid:?}: A {a_uids:?}, B {b_uids:?}"
        );
    }
    assert!(
        a_uids.iter().all(|a| !b_uids.contains(a)),
        "A and B share a host uid: A {a_uids:?}, B {b_uids:?}"
    );

    // The abuse window: A spins for 2 s, and B must be served throughout.
    let window = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = victim.beats_between(window, Instant::now());
    assert!(
        spinner.tenant.running(),
        "A ended by itself\n{}",
        spinner.tenant.transcript()
    );
    let attack = spinner.kill().await;
    eprintln!(
        "cpu spin: A used {:?} of CPU | B: {} heartbeats in 2 s, longest gap {:?}",
        attack.exit.usage.cpu_time,
        during.len(),
        longest_gap(&during)
    );
    assert_eq!(
        attack.exit.cause,
        ExitCause::Killed,
        "{}",
        attack.transcript()
    );
    assert!(
        attack.exit.usage.cpu_time >= Duration::from_millis(500),
        "A spun only {:?}: not really abusing",
        attack.exit.usage.cpu_time
    );
    assert!(
        during.len() >= 10,
        "B sent {} heartbeats in 2 s while A spun",
        during.len()
    );
    assert!(
        longest_gap(&during) < MAX_GAP,
        "B stalled for {:?} while A spun",
        longest_gap(&during)
    );
    victim.assert_untouched(&attack).await;
}

/// Tried: open connections to A's own Runtime API port until something refuses, and hold them
/// for 1.5 s. Each costs the host a descriptor; A's descriptor limit (1024) must bound that,
/// the host must get them back when A ends, and B must keep being served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_api_flood_is_bounded_while_the_neighbour_keeps_going() {
    let Some(lab) = Lab::new() else { return };
    // The host side of A's connections counts against this process's own descriptor limit.
    if let Some(limit) = host_fd_limit()
        && limit < 4096
    {
        eprintln!(
            "skipped: this process may open only {limit} descriptors; the flood needs about 1100"
        );
        return;
    }
    let victim = lab.victim().await;
    let baseline = host_open_fds();
    let flooder = lab
        .start_attacker(&["runtime-api-flood", "1500"], |_| {})
        .await;
    let mut peak = baseline;
    while flooder.tenant.running() && flooder.started().elapsed() < Duration::from_secs(20) {
        peak = peak.max(host_open_fds());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let attack = flooder.finish(Duration::from_secs(20)).await;
    let during = victim.beats_between(attack.started, attack.ended);
    eprintln!(
        "flood: {} | host descriptors {baseline} -> peak {peak} | B: {} heartbeats, longest gap {:?}",
        attack.detail,
        during.len(),
        longest_gap(&during)
    );
    attack.assert_blocked().assert_reasons_within(&["EMFILE"]);
    // Other tests of this binary run beside this one and hold descriptors of their own.
    // The host keeps at most 32 of one environment's Runtime API connections open.
    assert!(
        peak <= baseline + 32 + 200,
        "the host held {} descriptors for A's connections",
        peak - baseline
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while host_open_fds() > baseline + 200 {
        assert!(
            Instant::now() < deadline,
            "the host still holds {} descriptors after A ended",
            host_open_fds() - baseline
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        during.len() >= 10,
        "B sent {} heartbeats during the flood\n{}",
        during.len(),
        attack.transcript()
    );
    assert!(
        longest_gap(&during) < MAX_GAP,
        "B stalled for {:?} during the flood",
        longest_gap(&during)
    );
    victim.assert_untouched(&attack).await;
}

/// Tried: write 64 KiB lines to stdout as fast as possible for 2 s while the host's consumer of
/// A's output is stalled (as a log sink that has fallen behind would be). The host must not
/// buffer A's output without bound: that memory is the server's, outside A's memory limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_flood_does_not_make_the_host_buffer_without_bound() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let before = host_rss();
    let flooder = lab.start_attacker(&["log-flood", "2", "256"], |_| {}).await;
    flooder.tenant.pause_logs(true);
    let mut peak = before;
    let stalled = Instant::now();
    while stalled.elapsed() < Duration::from_secs(3) {
        peak = peak.max(host_rss());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    flooder.tenant.pause_logs(false);
    let attack = flooder.finish(Duration::from_secs(30)).await;
    let growth = peak.saturating_sub(before);
    eprintln!(
        "log flood: {} | host memory grew by {} MiB",
        attack.detail,
        growth >> 20
    );
    assert!(
        growth < 128 << 20,
        "the host buffered {} MiB of A's output\n{}",
        growth >> 20,
        attack.transcript()
    );
    attack.assert_blocked().assert_reasons_within(&["SLOWED"]);
    victim.assert_untouched(&attack).await;
}

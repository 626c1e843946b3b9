//! Nonces: a millisecond timestamp on Cobo's clock, never handed out twice per key per
//! host.
//!
//! Cobo refuses a nonce its key has used, and (as all of Cobo's SDKs assume) one far
//! from its clock. So a nonce is "now" in milliseconds, bumped past the last one handed
//! out. Every process of a host that signs with one key draws from one clock: two
//! atomics in a small file mapped shared, `cobo-oauth-<uid>/nonce-<key hash>` under
//! `/dev/shm` (else the temp dir; `COBO_OAUTH_CLOCK_DIR` moves it). Forked workers,
//! re-executed ones and unrelated processes all open the same file. If it cannot be
//! opened, the process keeps a clock of its own (logged once): its collisions with the
//! others are then refused by Cobo and re-signed by the callers.
//!
//! "Now" is Cobo's: this host's clock plus an offset learned from the signed
//! `Biz-Timestamp` of verified responses, shared the same way (`offset`), bounded by
//! `MAX_OFFSET_MS` and logged when it passes `LOGGED_OFFSET_MS`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use once_cell::sync::Lazy;

use crate::util::fork_local::{inherit_unlocked, ForkLocal};

/// A step back of the clock larger than this (an NTP correction, a corrected offset) is
/// followed: staying ahead would put every nonce outside Cobo's window until the clock
/// caught up. Smaller jitter keeps nonces strictly increasing.
const CLOCK_STEP_MS: u64 = 2_000;
/// Samples of Cobo's clock that differ from the offset in use by less than this do not
/// move it: a response's own latency makes each sample a little early.
const OFFSET_TOLERANCE_MS: i64 = 2_000;
/// A larger offset is logged (once per change): the host's clock needs fixing.
const LOGGED_OFFSET_MS: i64 = 5_000;
/// The largest correction applied. A `Biz-Timestamp` further off than this is not
/// taken for Cobo's clock.
const MAX_OFFSET_MS: i64 = 15 * 60 * 1000;

/// The clock of one API key: the last nonce handed out and the clock reading it was
/// drawn at (to tell a step back from running ahead).
#[derive(Debug, Default)]
#[repr(C)]
struct Cells {
    last: AtomicU64,
    reading: AtomicU64,
}

/// Hands out the nonces of one API key.
#[derive(Debug)]
pub(crate) struct NonceClock {
    cells: &'static Cells,
}

type Clocks = Mutex<HashMap<String, Arc<NonceClock>>>;

/// This process's clocks, by API key.
static CLOCKS: Lazy<ForkLocal<Clocks>> = Lazy::new(|| ForkLocal::new(Default::default(), inherit_unlocked));

/// How far a clock jumps past a nonce another host drew (`after_collision`): a random
/// span of this much, plus twice as far as the clock runs ahead of Cobo's.
const COLLISION_JUMP_MS: u64 = 64;
/// How far ahead of Cobo's clock a jump may take the nonces: a sixth of the 60 s window
/// Cobo's SDKs assume.
const MAX_AHEAD_MS: u64 = 10_000;

/// Collisions within this long of the last one are a streak: each doubles the jump.
const STREAK_MS: u64 = 1_000;
/// The last collision's time and the streak's length, in this process (atomics: no lock
/// a fork could leave held).
static LAST_COLLISION: AtomicU64 = AtomicU64::new(0);
static STREAK: AtomicU32 = AtomicU32::new(0);

/// Cobo refused a nonce as used: another host signing with the key drew it. This host's
/// clocks jump a random span forward, so that its resends leave the other's nonces
/// behind instead of colliding with each in turn. A clock at Cobo's time needs a short
/// jump (the other host's nonces are near now too); one running ahead (above 1000
/// signatures a second, its nonces fill every millisecond) is likely deep in the other's
/// range, as far ahead, and jumps past it. Collisions in a streak (the other host jumped
/// as far) double the span each time.
pub(crate) fn after_collision() {
    let now = cobo_now_ms();
    let ceiling = now.saturating_add(MAX_AHEAD_MS);
    let doublings = if now.saturating_sub(LAST_COLLISION.swap(now, Ordering::AcqRel)) < STREAK_MS {
        STREAK.fetch_add(1, Ordering::AcqRel).saturating_add(1).min(6)
    } else {
        STREAK.store(0, Ordering::Release);
        0
    };
    let clocks: Vec<Arc<NonceClock>> = crate::util::lock::lock(CLOCKS.get()).values().cloned().collect();
    for clock in clocks {
        let _ = clock.cells.last.fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
            let ahead = last.saturating_sub(now);
            let span = COLLISION_JUMP_MS.saturating_add(ahead.saturating_mul(2)) << doublings;
            // At least half the span: a host running ahead hands out every millisecond
            // of its lead, so a short jump lands among its nonces again.
            match last.saturating_add(random_jump(span)) {
                next if next <= ceiling => Some(next),
                // Past the ceiling a long jump would leave Cobo's window, and hosts stopped
                // at the ceiling would hand out the same nonces: a short random jump (at
                // most 1 s) still moves this host off the other's.
                _ => Some(last.saturating_add(random_jump(COLLISION_JUMP_MS << doublings.min(4)))),
            }
        });
    }
}

/// A random jump of at least half `span` and at most `span` (plus one).
fn random_jump(span: u64) -> u64 {
    span / 2 + 1 + crate::util::random::u64() % (span / 2 + 1)
}

impl NonceClock {
    /// The clock of `api_key`, shared by every `AppKey` of that key in this process and,
    /// through the mapped file, by every process of this host.
    pub(crate) fn for_key(api_key: &str) -> Arc<NonceClock> {
        let mut clocks = crate::util::lock::lock(CLOCKS.get());
        let clock = clocks.entry(api_key.to_owned()).or_insert_with(|| {
            let name = format!("nonce-{}", &crate::util::hex::encode(&crate::auth::signing::double_sha256(api_key.as_bytes()))[..32]);
            Arc::new(NonceClock { cells: shared_cells::<Cells>(&name).unwrap_or_else(leak_default) })
        });
        Arc::clone(clock)
    }

    /// A clock of this process only.
    #[cfg(test)]
    fn private() -> NonceClock {
        NonceClock { cells: leak_default() }
    }

    pub(crate) fn next(&self) -> u64 {
        self.next_at(cobo_now_ms())
    }

    fn next_at(&self, now: u64) -> u64 {
        let previous = self.cells.reading.swap(now, Ordering::AcqRel);
        let stepped_back = previous > now.saturating_add(CLOCK_STEP_MS);
        let mut last = self.cells.last.load(Ordering::Relaxed);
        loop {
            let next = if stepped_back { now } else { now.max(last.saturating_add(1)) };
            match self.cells.last.compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }
}

/// The host's offset to Cobo's clock, in milliseconds, shared by its processes.
fn offset() -> &'static AtomicI64 {
    static OFFSET: Lazy<&'static AtomicI64> = Lazy::new(|| shared_cells::<AtomicI64>("offset").unwrap_or_else(leak_default));
    &OFFSET
}

/// Cobo's clock as this host reckons it.
pub(crate) fn cobo_now_ms() -> u64 {
    now_ms().saturating_add_signed(offset().load(Ordering::Relaxed))
}

/// Learns Cobo's clock from a verified response's `Biz-Timestamp` (milliseconds).
pub(crate) fn observe_cobo_time(timestamp: &str) {
    let Ok(cobo) = timestamp.trim().parse::<i64>() else { return };
    let Ok(local) = i64::try_from(now_ms()) else { return };
    let sample = cobo.saturating_sub(local);
    let current = offset().load(Ordering::Relaxed);
    if sample.abs_diff(current) < OFFSET_TOLERANCE_MS.unsigned_abs() {
        return;
    }
    if sample.abs() > MAX_OFFSET_MS {
        log::warn!(
            target: "cobo_oauth",
            "clock offset ignored offset_ms={sample}: Cobo's Biz-Timestamp is further than {MAX_OFFSET_MS} ms from this host's clock; fix the host's clock"
        );
        return;
    }
    if offset().compare_exchange(current, sample, Ordering::AcqRel, Ordering::Relaxed).is_ok() && sample.abs() > LOGGED_OFFSET_MS {
        log::warn!(
            target: "cobo_oauth",
            "clock offset offset_ms={sample}: this host's clock is off Cobo's; nonces follow Cobo's clock"
        );
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}

fn leak_default<T: Default>() -> &'static T {
    Box::leak(Box::default())
}

/// `T` (atomics only) in the file `name` of the host's clock directory, mapped shared
/// for the life of the process; `None` (logged once) if that fails.
fn shared_cells<T>(name: &str) -> Option<&'static T> {
    match map(name, std::mem::size_of::<T>()) {
        // SAFETY: the mapping is page-aligned, at least size_of::<T>() long, never unmapped
        // (leaked), and holds only atomics (T is Cells or AtomicI64), for which any bit
        // pattern is valid and every access, from any process, is atomic.
        Ok(map) => Some(unsafe { &*(Box::leak(Box::new(map)).as_mut_ptr() as *const T) }),
        Err(err) => {
            static LOGGED: std::sync::Once = std::sync::Once::new();
            LOGGED.call_once(|| {
                log::warn!(
                    target: "cobo_oauth",
                    "shared nonce clock unavailable, using this process's own: {err}; processes signing with one key may then draw the same nonce, which Cobo refuses and the call re-signs"
                );
            });
            None
        }
    }
}

fn map(name: &str, len: usize) -> std::io::Result<memmap2::MmapRaw> {
    let path = directory()?.join(name);
    let file = crate::util::private_file::open_options().read(true).write(true).create(true).truncate(false).open(&path)?;
    let len = u64::try_from(len).unwrap_or(u64::MAX);
    // Racing processes may both extend it: to the same length, keeping what was written.
    if file.metadata()?.len() < len {
        file.set_len(len)?;
    }
    memmap2::MmapOptions::new().len(usize::try_from(len).unwrap_or(usize::MAX)).map_raw(&file)
}

/// `COBO_OAUTH_CLOCK_DIR`, else `cobo-oauth-<uid>` under `/dev/shm` or the temp dir:
/// this user's, private (0700), checked to be ours so no other user can move our clock.
fn directory() -> std::io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("COBO_OAUTH_CLOCK_DIR") {
        std::fs::create_dir_all(&dir)?;
        return Ok(PathBuf::from(dir));
    }
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
    let dir = base.join(format!("cobo-oauth-{}", user_id()));
    private_dir(&dir)?;
    Ok(dir)
}

#[cfg(unix)]
fn user_id() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(not(unix))]
fn user_id() -> u32 {
    0
}

#[cfg(unix)]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    match crate::util::private_file::create_dir(dir) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(err),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() || meta.uid() != user_id() || meta.mode() & 0o022 != 0 {
        return Err(std::io::Error::other(format!("{} is not a private directory of this user", dir.display())));
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_strictly_increase_across_threads() {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let clock = NonceClock::for_key("same key, separate lookups");
                std::thread::spawn(move || (0..2000).map(|_| clock.next()).collect::<Vec<_>>())
            })
            .collect();
        let mut all = Vec::new();
        for handle in handles {
            let nonces = handle.join().unwrap();
            assert!(nonces.windows(2).all(|w| w[0] < w[1]), "per-thread order");
            all.extend(nonces);
        }
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count, "no nonce handed out twice");
    }

    #[test]
    fn a_collision_moves_the_clock_past_the_other_hosts_nonces() {
        let clock = NonceClock::for_key("collided key");
        let before = clock.next();
        after_collision();
        let after = clock.next();
        assert!(after > before + 1 && after <= before + 1 + MAX_AHEAD_MS, "{before} -> {after}");
    }

    #[test]
    fn nonces_follow_the_clock_back_after_a_step() {
        let clock = NonceClock::private();
        assert_eq!(clock.next_at(100_000), 100_000);
        // Running ahead of the clock within a millisecond is fine...
        assert_eq!(clock.next_at(100_000), 100_001);
        assert_eq!(clock.next_at(99_500), 100_002, "small jitter: stay strictly increasing");
        // ...but a step back of minutes (NTP) returns to the clock.
        assert_eq!(clock.next_at(40_000), 40_000);
        assert_eq!(clock.next_at(40_000), 40_001);
    }
}

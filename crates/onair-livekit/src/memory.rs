//! How the process's memory is set up for a publisher that goes live again and again.
//! libwebrtc's allocation pattern (dozens of short-lived threads per room, long-lived runtime
//! threads) is what these settings answer; glibc is the allocator the SDK library uses.

use crate::sys;
use std::ffi::{OsStr, OsString};

/// The glibc tunables [`tune_memory`] puts in effect: no per-thread cache of freed blocks, no
/// cache of finished threads' stacks.
pub const MEMORY_TUNABLES: &[&str] = &[
    "glibc.malloc.tcache_count=0",
    "glibc.pthread.stack_cache_size=0",
];

/// What [`tune_memory`] found or did (when it returns at all).
#[derive(Debug)]
pub enum MemoryTuning {
    /// Running with [`MEMORY_TUNABLES`] and one malloc arena.
    Tuned,
    /// The operator's own values for these tunables (in `GLIBC_TUNABLES`) stay; ours are in
    /// effect for the rest.
    OperatorChoice(Vec<String>),
    /// Not Linux with glibc: nothing to tune.
    Unsupported,
    /// Started again, yet the tunables were gone (glibc drops them for set-user-ID programs);
    /// the program goes on with one arena only rather than start again and again.
    Dropped,
    /// Starting again with the tunables failed; the program goes on with one arena only.
    ReexecFailed(std::io::Error),
}

impl MemoryTuning {
    /// Says how memory is set up, once logging is ready: a warning when the tuning could not
    /// be applied, debug otherwise.
    pub fn log(&self) {
        match self {
            MemoryTuning::ReexecFailed(err) => tracing::warn!(
                %err,
                "could not start again with {}: memory may grow a little with each stream",
                MEMORY_TUNABLES.join(":")
            ),
            MemoryTuning::Dropped => tracing::warn!(
                "GLIBC_TUNABLES was dropped at start: memory may grow a little with each stream"
            ),
            other => tracing::debug!(tuning = ?other, "memory"),
        }
    }
}

/// Sets glibc up for a process that goes live again and again: one malloc arena, no
/// per-thread cache of freed blocks (tcache) and no cache of finished threads' stacks. Call it
/// first thing in `main`, before any other thread starts. glibc reads its tunables only when
/// a program starts, so when [`MEMORY_TUNABLES`] are not in effect yet this executes the
/// program again in place (the same binary, arguments and process id) with them added to
/// `GLIBC_TUNABLES`, and does not return. Child processes inherit the setting.
///
/// Why: libwebrtc starts dozens of short-lived threads per room and the SDK keeps long-lived
/// ones. glibc gives new threads their own arenas (up to 8 per core) and keeps what is freed
/// in them: without the arena cap, 50 go-live cycles in one process grew RSS from 27 to 41 MB,
/// none of it live memory. With one arena, RSS still ended 5–8 % above the first session's
/// after 50–100 cycles while the memory in use stayed flat (about 450 kB): each long-lived
/// thread kept up to 7 freed blocks per size class in its tcache, pinning heap pages that
/// [`release_free_memory`] could not hand back, and glibc kept the touched pages of up to
/// 40 MB of finished threads' stacks for reuse. With all three, RSS stayed within about 1 % of
/// the first session's over 100 cycles, at no measurable CPU cost. An operator's own
/// `MALLOC_ARENA_MAX` or values for these tunables always win.
pub fn tune_memory() -> MemoryTuning {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return MemoryTuning::Unsupported;
    }
    let current = std::env::var_os("GLIBC_TUNABLES");
    let started_again = std::env::var_os(STARTED_AGAIN).is_some();
    let outcome = match decide(current.as_deref(), started_again) {
        Step::StartAgain(tunables) => MemoryTuning::ReexecFailed(start_again_with(&tunables)),
        Step::Done(outcome) => outcome,
    };
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        sys::limit_malloc_arenas(1);
    }
    outcome
}

/// Returns memory the allocator keeps but no longer uses to the OS (Linux/glibc; elsewhere it
/// does nothing) and tells whether any was released. A session's video buffers and the SDK's
/// per-room state are freed in the middle of the heap, where glibc keeps them; a session's
/// teardown calls this as its last step, so a studio idling in the tray after End Stream
/// holds only what it uses.
pub fn release_free_memory() -> bool {
    sys::trim_heap()
}

/// The process's malloc heap right now, the SDK library's allocations included (glibc's own
/// counts; `None` elsewhere).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeapUsage {
    /// Bytes handed out and not freed: a leak in the library grows this, and nothing on the
    /// Rust side.
    pub in_use: u64,
    /// Bytes the allocator holds from the OS, free blocks between used ones included.
    pub held: u64,
}

/// See [`HeapUsage`].
pub fn heap_usage() -> Option<HeapUsage> {
    sys::malloc_usage().map(|(in_use, held)| HeapUsage { in_use, held })
}

/// Set on the second start, so that a program whose tunables glibc drops starts only twice.
const STARTED_AGAIN: &str = "ONAIR_STARTED_WITH_TUNABLES";

enum Step {
    StartAgain(OsString),
    Done(MemoryTuning),
}

/// What to do, given the current `GLIBC_TUNABLES` and whether this is the second start.
fn decide(current: Option<&OsStr>, started_again: bool) -> Step {
    match tunables_to_add(current) {
        Some(_) if started_again => Step::Done(MemoryTuning::Dropped),
        Some(tunables) => Step::StartAgain(tunables),
        None => match operator_settings(current) {
            kept if kept.is_empty() => Step::Done(MemoryTuning::Tuned),
            kept => Step::Done(MemoryTuning::OperatorChoice(kept)),
        },
    }
}

/// The `name=value` entries of a `GLIBC_TUNABLES` value.
fn entries(current: Option<&OsStr>) -> Vec<String> {
    current
        .map(OsStr::to_string_lossy)
        .unwrap_or_default()
        .split(':')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

fn name(tunable: &str) -> &str {
    tunable.split('=').next().unwrap_or(tunable)
}

/// The `GLIBC_TUNABLES` to start again with, or `None` when every one of ours is already set
/// (to our value or, by the operator, to another).
fn tunables_to_add(current: Option<&OsStr>) -> Option<OsString> {
    let mut all = entries(current);
    let missing: Vec<&str> = MEMORY_TUNABLES
        .iter()
        .filter(|wanted| !all.iter().any(|t| name(t) == name(wanted)))
        .copied()
        .collect();
    if missing.is_empty() {
        return None;
    }
    all.extend(missing.into_iter().map(str::to_owned));
    Some(all.join(":").into())
}

/// The operator's own values for tunables we would set.
fn operator_settings(current: Option<&OsStr>) -> Vec<String> {
    entries(current)
        .into_iter()
        .filter(|t| {
            MEMORY_TUNABLES
                .iter()
                .any(|wanted| name(t) == name(wanted) && t != wanted)
        })
        .collect()
}

/// Replaces this process's program with itself under `GLIBC_TUNABLES=tunables`; returns only
/// when that fails. `/proc/self/exe` names the running binary even if it was replaced on disk
/// (an upgrade while it runs).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn start_again_with(tunables: &OsStr) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let mut args = std::env::args_os();
    let program = args.next().unwrap_or_else(|| "onair".into());
    std::process::Command::new("/proc/self/exe")
        .arg0(program)
        .args(args)
        .env("GLIBC_TUNABLES", tunables)
        .env(STARTED_AGAIN, "1")
        .exec()
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn start_again_with(_tunables: &OsStr) -> std::io::Error {
    std::io::ErrorKind::Unsupported.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_add(current: Option<&str>) -> Option<String> {
        tunables_to_add(current.map(OsStr::new)).map(|t| t.to_string_lossy().into_owned())
    }

    fn ours() -> String {
        MEMORY_TUNABLES.join(":")
    }

    #[test]
    fn without_tunables_the_program_starts_again_with_only_ours() {
        assert_eq!(to_add(None), Some(ours()));
        assert_eq!(to_add(Some("")), Some(ours()));
    }

    #[test]
    fn an_operators_other_tunables_are_kept_beside_ours() {
        assert_eq!(
            to_add(Some("glibc.malloc.trim_threshold=131072")),
            Some(format!("glibc.malloc.trim_threshold=131072:{}", ours()))
        );
    }

    #[test]
    fn once_ours_are_in_effect_the_program_does_not_start_again() {
        assert_eq!(to_add(Some(&ours())), None);
        assert_eq!(
            to_add(Some(&format!("glibc.malloc.mxfast=0:{}", ours()))),
            None
        );
    }

    #[test]
    fn an_operators_own_value_wins_and_only_the_missing_tunable_is_added() {
        let theirs = "glibc.malloc.tcache_count=7";
        assert_eq!(
            to_add(Some(theirs)),
            Some(format!("{theirs}:glibc.pthread.stack_cache_size=0"))
        );
        let both = format!("{theirs}:glibc.pthread.stack_cache_size=0");
        assert_eq!(to_add(Some(&both)), None);
        assert_eq!(operator_settings(Some(OsStr::new(&both))), vec![theirs]);
        assert!(operator_settings(Some(OsStr::new(&ours()))).is_empty());
    }

    #[test]
    fn a_second_start_without_the_tunables_goes_on_instead_of_starting_a_third_time() {
        assert!(matches!(decide(None, false), Step::StartAgain(_)));
        assert!(matches!(
            decide(None, true),
            Step::Done(MemoryTuning::Dropped)
        ));
        assert!(matches!(
            decide(Some(OsStr::new(&ours())), true),
            Step::Done(MemoryTuning::Tuned)
        ));
        assert!(matches!(
            decide(Some(OsStr::new("glibc.malloc.tcache_count=7:glibc.pthread.stack_cache_size=0")), false),
            Step::Done(MemoryTuning::OperatorChoice(kept)) if kept == ["glibc.malloc.tcache_count=7"]
        ));
    }

    #[test]
    fn a_similar_but_different_tunable_name_is_not_taken_for_ours() {
        assert_eq!(
            to_add(Some("glibc.malloc.tcache_count_x=1")),
            Some(format!("glibc.malloc.tcache_count_x=1:{}", ours()))
        );
    }
}

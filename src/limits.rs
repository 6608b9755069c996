//! The open-files limit: every request in flight holds a socket, and the usual soft limit (1024) is
//! below what `-c 1000` plus the server in a test needs. The same limit caps the connections a run
//! keeps open, idle ones included (see `client::pool`).

use anyhow::bail;

use crate::client::resolve::PARALLEL_LOOKUPS;

/// Descriptors besides connections: std streams, the input file, the runtime's own, a built-in
/// server's listener, and a socket for each name lookup running.
const HEADROOM: u64 = 64 + PARALLEL_LOOKUPS as u64;

/// Connections a run may keep open when the limit is unknown.
const DEFAULT_MAX_OPEN: usize = 4096;

/// Raises the soft limit to the hard limit; returns the soft limit in force (None if unknown).
pub fn raise_open_files() -> Option<u64> {
    rlimit::increase_nofile_limit(u64::MAX).ok()
}

/// A clear error up front instead of "Too many open files" on some pages halfway through.
pub fn check_open_files(concurrency: usize, limit: Option<u64>) -> anyhow::Result<()> {
    let needed = concurrency as u64 + HEADROOM;
    match limit {
        Some(limit) if limit < needed => bail!(
            "{concurrency} requests in flight need about {needed} open files, but this process may open \
             only {limit}; lower -c or raise the limit (ulimit -n)"
        ),
        _ => Ok(()),
    }
}

/// The most connections a run may have open at once under `limit`.
pub fn max_open(limit: Option<u64>) -> usize {
    match limit {
        Some(limit) => usize::try_from(limit.saturating_sub(HEADROOM))
            .unwrap_or(usize::MAX)
            .max(1),
        None => DEFAULT_MAX_OPEN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_concurrency_the_limit_cannot_hold() {
        assert!(check_open_files(1000, Some(20_000)).is_ok());
        assert!(check_open_files(1000, None).is_ok());
        let err = check_open_files(1000, Some(1024)).unwrap_err().to_string();
        assert!(
            err.contains("1000 requests in flight need about 1096 open files"),
            "{err}"
        );
        assert_eq!(max_open(Some(1024)), 1024 - 96);
        assert_eq!(max_open(Some(10)), 1);
        assert!(err.contains("only 1024"), "{err}");
    }
}

//! The open-files limit: every request in flight holds a socket, and the usual soft limit (1024) is
//! below what `-c 1000` plus the server in a test needs.

use anyhow::bail;

/// Descriptors besides the sockets of requests in flight: std streams, the input file, DNS, the
/// runtime's own, a built-in server's listener.
const HEADROOM: u64 = 64;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_concurrency_the_limit_cannot_hold() {
        assert!(check_open_files(1000, Some(20_000)).is_ok());
        assert!(check_open_files(1000, None).is_ok());
        let err = check_open_files(1000, Some(1024)).unwrap_err().to_string();
        assert!(
            err.contains("1000 requests in flight need about 1064 open files"),
            "{err}"
        );
        assert!(err.contains("only 1024"), "{err}");
    }
}

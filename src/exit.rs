//! Named exit codes (documented in README and `--help`), and how a run's outcome maps to them.

/// Every page was fetched.
pub const SUCCESS: i32 = 0;
/// The run finished but at least one page failed.
pub const PAGES_FAILED: i32 = 1;
/// Usage or fatal error: bad flag (clap uses 2 as well), unreadable input, bad template, bind failure.
pub const USAGE: i32 = 2;
/// A `--check` failed (or was inconclusive with `--fail-inconclusive`).
pub const CHECKS_FAILED: i32 = 3;
/// Stopped by SIGINT (Ctrl-C), 128 + 2.
pub const SIGINT: i32 = 130;
/// Stopped by SIGTERM, 128 + 15.
pub const SIGTERM: i32 = 143;

/// How a command ended, when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    AllOk,
    PagesFailed,
    /// A check failed; it outranks failed pages (exit 3 over 1).
    ChecksFailed,
    /// Stopped by a signal; holds the exit code for it.
    Interrupted(i32),
}

impl Outcome {
    pub fn code(self) -> i32 {
        match self {
            Outcome::AllOk => SUCCESS,
            Outcome::PagesFailed => PAGES_FAILED,
            Outcome::ChecksFailed => CHECKS_FAILED,
            Outcome::Interrupted(code) => code,
        }
    }
}

/// Waits for SIGINT or SIGTERM and says which, as an exit code. Create it before the work starts so a
/// signal that arrives between two runs is not lost.
pub struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn new() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The exit code for the next signal received.
    pub async fn recv(&mut self) -> i32 {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => SIGINT,
                _ = self.term.recv() => SIGTERM,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            SIGINT
        }
    }
}

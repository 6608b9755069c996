//! The three loops, in-process, against the built-in server: order, concurrency, connection reuse.
//! Concurrency is proven with what the server observed, never with wall-clock thresholds.
//! The tests run on a current-thread runtime, as the binary does; the server has its own thread.

mod common;

use std::time::Duration;

use common::TestServer;
use indicatif::ProgressBar;
use pagefetch::fetch::{fetch_all, Fetcher};
use pagefetch::input::terms_from_args;
use pagefetch::order::InOrder;
use pagefetch::page::PageResult;
use pagefetch::page::Strategy;
use pagefetch::server::page_bytes;
use pagefetch::source::{Select, Source};
use pagefetch::template::{Jobs, Template};

const ALL: [Strategy; 3] = [Strategy::Sequential, Strategy::Joinset, Strategy::JoinAll];

fn jobs(inputs: &[String], template: &str) -> Jobs {
    Jobs::new(terms_from_args(inputs), Template::parse(template).unwrap())
}

async fn run(strategy: Strategy, jobs: &Jobs, concurrency: usize) -> Vec<PageResult> {
    // Past the server's 60 s hold, so a barrier never met shows as 504s, not timeouts.
    let fetcher = Fetcher::new(
        &pagefetch::setup::settings_from_flags(&["--timeout", "2m"]).unwrap(),
        concurrency,
    );
    let mut pages = Vec::new();
    let mut sink = |p: PageResult| {
        pages.push(p);
        Ok(())
    };
    let mut order = InOrder::new(&mut sink, ProgressBar::hidden());
    let mut source = Source::list(jobs, Select::default());
    fetch_all(strategy, &fetcher, &mut source, concurrency, &mut order)
        .await
        .unwrap();
    drop(order);
    pages
}

#[tokio::test]
async fn input_order_is_kept_when_the_first_pages_are_slowest() {
    let server = TestServer::instant();
    // Latency falls with the index, so the pages complete in reverse input order.
    let n = 8;
    let inputs: Vec<String> = (0..n)
        .map(|i| server.url(&format!("t{i}"), &format!("ms={}", (n - i) * 40)))
        .collect();
    let jobs = jobs(&inputs, &server.template());
    for strategy in ALL {
        let pages = run(strategy, &jobs, n).await;
        let order: Vec<usize> = pages.iter().map(|p| p.job.index).collect();
        assert_eq!(order, (0..n).collect::<Vec<_>>(), "{strategy:?}");
        for (i, p) in pages.iter().enumerate() {
            assert!(p.ok(), "{strategy:?} page {i}: {:?}", p.error);
            assert_eq!(
                p.bytes,
                page_bytes(&format!("t{i}")),
                "{strategy:?} page {i}"
            );
        }
    }
}

#[tokio::test]
async fn concurrency_limit_is_respected_and_used() {
    // Nothing is answered until five are in flight: a loop that never gets there gets 504s.
    let server = TestServer::instant();
    let inputs: Vec<String> = (0..24).map(|i| format!("term {i}")).collect();
    let jobs = jobs(&inputs, &server.held_template(5));
    for strategy in [Strategy::Joinset, Strategy::JoinAll] {
        let before = server.stats().requests();
        let pages = run(strategy, &jobs, 5).await;
        assert!(
            pages.iter().all(|p| p.ok() && p.status == Some(200)),
            "{strategy:?}: {:?}",
            pages.iter().find(|p| p.status != Some(200))
        );
        assert_eq!(server.stats().requests() - before, 24);
        assert_eq!(server.stats().max_in_flight(), 5, "{strategy:?}");
        server
            .stats()
            .max_in_flight
            .store(0, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn sequential_uses_one_connection_and_one_request_at_a_time() {
    let server = TestServer::instant();
    let inputs: Vec<String> = (0..50).map(|i| format!("page {i}")).collect();
    let jobs = jobs(&inputs, &server.template());
    // Many runs: a pool that takes connections back asynchronously opens a second one only now and then.
    for run_no in 0..200 {
        let before = server.stats().connections();
        let pages = run(Strategy::Sequential, &jobs, 64).await;
        assert!(pages.iter().all(PageResult::ok));
        assert_eq!(server.stats().connections() - before, 1, "run {run_no}");
    }
    assert_eq!(server.stats().max_in_flight(), 1);
}

#[tokio::test]
async fn all_loops_give_identical_records() {
    let server = TestServer::start(Duration::from_millis(5), Duration::from_millis(20));
    let inputs: Vec<String> = ["apple", "pear", "poire à café", "a&b#c/d", "x y"]
        .map(String::from)
        .to_vec();
    let jobs = jobs(&inputs, &server.template());
    let mut seen = Vec::new();
    for strategy in ALL {
        let pages = run(strategy, &jobs, 3).await;
        seen.push(
            pages
                .iter()
                .map(|p| (p.job.index, p.status, p.bytes, p.truncated))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0], seen[2]);
    assert_eq!(
        seen[0][2].2,
        page_bytes("poire à café"),
        "the server decoded the term it was sent"
    );
}

#[tokio::test]
async fn a_stalled_first_page_holds_at_most_a_window_of_later_pages() {
    let server = TestServer::instant();
    // Page 0 is held until the test opens the gate, however long that takes.
    let mut inputs = vec![server.url("slow", "gate=1")];
    inputs.extend((1..40).map(|i| server.url(&format!("t{i}"), "")));
    let jobs = jobs(&inputs, &server.template());
    for strategy in [Strategy::Joinset, Strategy::JoinAll] {
        server.stats().close_gate();
        let before = server.stats().requests();
        let fetcher = Fetcher::new(&pagefetch::setup::settings_from_flags(&[]).unwrap(), 4);
        let mut pages = Vec::new();
        let mut sink = |p: PageResult| {
            pages.push(p.job.index);
            Ok(())
        };
        let mut order = InOrder::new(&mut sink, ProgressBar::hidden()).with_window(8);
        let mut source = Source::list(&jobs, Select::default());
        let run = fetch_all(strategy, &fetcher, &mut source, 4, &mut order);
        let look = async {
            let started = || server.stats().requests() - before;
            let deadline = tokio::time::Instant::now() + common::DEADLINE;
            while started() < 8 {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{strategy:?}: only {} pages started while page 0 was held",
                    started()
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            // Pages 1..8 are answered at once; give a loop that would wrongly go on past the
            // window the time to do so (a slow machine can only hide such a bug, never invent one).
            tokio::time::sleep(Duration::from_millis(200)).await;
            let seen = started();
            server.stats().open_gate();
            seen
        };
        let (done, started_while_stalled) = tokio::join!(run, look);
        done.unwrap();
        drop(order);
        // Pages 0..8 may start while page 0 hangs; page 8 waits for it.
        assert_eq!(started_while_stalled, 8, "{strategy:?}");
        assert_eq!(pages, (0..40).collect::<Vec<_>>(), "{strategy:?}");
    }
}

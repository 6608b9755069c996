//! `floor reqwest|hyper URL_PREFIX PAGES CONCURRENCY`: fetches URL_PREFIX + "t0" ... "t{PAGES-1}" with
//! at most CONCURRENCY in flight on a single-threaded runtime (as pagefetch does), counts body
//! bytes, prints `PAGES BYTES`.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use tokio::task::JoinSet;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: floor reqwest|hyper URL_PREFIX PAGES CONCURRENCY";
    let [_, which, prefix, n, c] = args.as_slice() else { panic!("{usage}") };
    let (n, c): (usize, usize) = (n.parse().expect(usage), c.parse().expect(usage));
    let mut set = JoinSet::new();
    let (mut next, mut pages, mut bytes) = (0, 0u64, 0u64);
    let reqwest = reqwest::Client::builder().pool_max_idle_per_host(c).tcp_nodelay(true).build().unwrap();
    let hyper = Arc::new(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_max_idle_per_host(c)
            .build_http::<Empty<Bytes>>(),
    );
    loop {
        while set.len() < c && next < n {
            let url = format!("{prefix}t{next}");
            next += 1;
            if which == "hyper" {
                let client = hyper.clone();
                set.spawn(async move {
                    let mut resp = client.get(url.parse().unwrap()).await.unwrap();
                    let mut b = 0u64;
                    while let Some(frame) = resp.body_mut().frame().await {
                        if let Ok(d) = frame.unwrap().into_data() {
                            b += d.len() as u64;
                        }
                    }
                    b
                });
            } else {
                let client = reqwest.clone();
                set.spawn(async move {
                    let mut resp = client.get(url).send().await.unwrap();
                    let mut b = 0u64;
                    while let Some(chunk) = resp.chunk().await.unwrap() {
                        b += chunk.len() as u64;
                    }
                    b
                });
            }
        }
        match set.join_next().await {
            None => break,
            Some(r) => {
                pages += 1;
                bytes += r.unwrap();
            }
        }
    }
    println!("{pages} {bytes}");
}

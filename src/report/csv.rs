//! RFC 4180 CSV (via the `csv` crate's quoting): a header, then one row per page as it arrives in
//! input order. The human summary goes to stderr so stdout stays parseable.

use std::io::{self, Write};

use super::summary::{write_baseline, write_speedup, write_summary};
use super::{PageRecord, Reporter, RunSummary, Speedup, Verdict};
use crate::page::{PageResult, Strategy};

pub struct Csv<'a> {
    out: csv::Writer<Box<dyn Write + 'a>>,
    err: Option<Box<dyn Write + 'a>>,
}

impl<'a> Csv<'a> {
    pub fn new(out: Box<dyn Write + 'a>, err: Option<Box<dyn Write + 'a>>) -> Self {
        Csv {
            out: csv::Writer::from_writer(out),
            err,
        }
    }
}

impl Reporter for Csv<'_> {
    fn page(&mut self, mode: Strategy, page: PageResult) -> io::Result<()> {
        self.out
            .serialize(PageRecord::new(mode, &page))
            .map_err(io_error)
    }

    fn run_done(&mut self, summary: &RunSummary) -> io::Result<()> {
        self.out.flush()?;
        match self.err.as_mut() {
            Some(err) => write_summary(err, summary),
            None => Ok(()),
        }
    }

    fn finish(
        &mut self,
        runs: &[RunSummary],
        speedup: &Speedup,
        verdict: &Verdict,
    ) -> io::Result<()> {
        self.out.flush()?;
        match self.err.as_mut() {
            Some(err) => {
                write_speedup(err, runs, speedup)?;
                write_baseline(err, verdict)
            }
            None => Ok(()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The csv crate's error as the I/O error it wraps, so a closed stdout keeps its kind (`| head`
/// must still exit 0); any other csv error (there should be none for our records) as `Other`.
fn io_error(e: csv::Error) -> io::Error {
    if !e.is_io_error() {
        return io::Error::other(e.to_string());
    }
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => io::Error::other(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdata::{pages, summary};
    use super::*;

    #[test]
    fn header_and_quoted_rows_in_order_summary_on_stderr() {
        let ps = pages();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        {
            let mut c = Csv::new(Box::new(&mut out), Some(Box::new(&mut err)));
            for p in &ps {
                c.page(Strategy::Joinset, p.clone()).unwrap();
            }
            let s = [summary(Strategy::Joinset, &ps, 300)];
            c.run_done(&s[0]).unwrap();
            c.finish(&s, &Speedup::compute(&s), &Verdict::default())
                .unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "mode,index,input,url,status,bytes,elapsed_ms,truncated,error,error_kind,final_url,\
             http,reused,ttfb_ms,dns_ms,connect_ms,tls_ms,attempts,retry_wait_ms,start_ms"
        );
        assert_eq!(
            lines.next().unwrap(),
            "joinset,0,apple,http://h/?q=apple,200,12345,301.5,false,,,,1.1,false,300.1,,0.25,,1,0.0,1.25"
        );
        assert!(lines
            .next()
            .unwrap()
            .ends_with(",,0,2.0,false,connection refused,connect,,,,,,,,1,0.0,1.3"));
        assert!(lines
            .next()
            .unwrap()
            .starts_with("joinset,2,\"grape, \"\"red\"\"\","));
        assert!(String::from_utf8(err)
            .unwrap()
            .starts_with("joinset: concurrency 64, 3 pages"));
    }
}

//! A response body, counted as it streams and never held: raw bytes as received, or with
//! `--compressed` the decoded bytes (gzip, deflate, brotli, zstd), stopping at `--max-bytes` of
//! whichever is counted, so a small compressed "bomb" cannot expand without bound.

use std::io::{self, Write};

use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::pool::Pooled;
use super::words;
use crate::page::PageError;

/// What one step of reading gave.
pub enum Step {
    /// This many more bytes counted; `true` once the limit is reached (reading stops there).
    Data(u64, bool),
    /// The body ended.
    End,
}

pub struct Body {
    incoming: Incoming,
    /// Given back to the pool once the body has been read to its end.
    conn: Option<Pooled>,
    decoder: Option<Decoder>,
    /// Bytes counted so far and the most that may be counted.
    counted: u64,
    limit: u64,
}

impl Body {
    pub fn new(incoming: Incoming, conn: Pooled, encoding: Option<&str>, limit: u64) -> Body {
        let decoder = encoding.and_then(|e| Decoder::new(e, limit));
        Body {
            incoming,
            conn: Some(conn),
            decoder,
            counted: 0,
            limit,
        }
    }

    /// Reads the next piece of the body.
    pub async fn next(&mut self) -> Result<Step, PageError> {
        loop {
            let frame = match self.incoming.frame().await {
                None => return self.end(),
                Some(Ok(frame)) => frame,
                Some(Err(e)) => {
                    self.discard();
                    return Err(PageError::Body(words(&e)));
                }
            };
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            let Some(d) = &mut self.decoder else {
                let room = self.limit - self.counted;
                let n = (data.len() as u64).min(room);
                self.counted += n;
                return Ok(Step::Data(n, data.len() as u64 > room));
            };
            let before = d.counted();
            let written = d.write(&data);
            let n = d.counted() - before;
            self.counted += n;
            return match written {
                Ok(()) => Ok(Step::Data(n, false)),
                Err(_) if d.full() => Ok(Step::Data(n, true)),
                Err(e) => {
                    let why = format!("cannot decode {}: {e}", d.name());
                    self.discard();
                    Err(PageError::Body(why))
                }
            };
        }
    }

    fn end(&mut self) -> Result<Step, PageError> {
        if let Some(d) = &mut self.decoder {
            let before = d.counted();
            let finished = d.finish();
            let n = d.counted() - before;
            self.counted += n;
            let failure = match finished {
                Err(e) if !d.full() => Some(format!("cannot decode {}: {e}", d.name())),
                _ => None,
            };
            let full = d.full();
            if let Some(why) = failure {
                self.discard();
                return Err(PageError::Body(why));
            }
            if n > 0 {
                return Ok(Step::Data(n, full));
            }
        }
        if let Some(conn) = self.conn.take() {
            conn.release();
        }
        Ok(Step::End)
    }

    /// The connection broke: it goes back to no one.
    fn discard(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.discard();
        }
    }
}

/// Counts what a decoder writes, up to a limit, and keeps nothing.
struct Counter {
    n: u64,
    limit: u64,
}

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.limit - self.n;
        if room == 0 && !buf.is_empty() {
            return Err(io::Error::other("limit reached"));
        }
        let take = (buf.len() as u64).min(room);
        self.n += take;
        Ok(take as usize)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Decoder {
    Gzip(flate2::write::GzDecoder<Counter>),
    Deflate(flate2::write::ZlibDecoder<Counter>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Counter>>),
    Zstd(zstd::stream::write::Decoder<'static, Counter>),
}

impl Decoder {
    /// A decoder for a `Content-Encoding`; `None` for identity or one we do not know (the bytes
    /// are then counted as received, as reqwest and curl do).
    fn new(encoding: &str, limit: u64) -> Option<Decoder> {
        let counter = Counter { n: 0, limit };
        Some(match encoding.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Decoder::Gzip(flate2::write::GzDecoder::new(counter)),
            "deflate" => Decoder::Deflate(flate2::write::ZlibDecoder::new(counter)),
            "br" => Decoder::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(
                counter,
                16 * 1024,
            ))),
            "zstd" => Decoder::Zstd(zstd::stream::write::Decoder::new(counter).ok()?),
            _ => return None,
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Decoder::Gzip(_) => "gzip",
            Decoder::Deflate(_) => "deflate",
            Decoder::Brotli(_) => "brotli",
            Decoder::Zstd(_) => "zstd",
        }
    }

    fn counter(&self) -> &Counter {
        match self {
            Decoder::Gzip(d) => d.get_ref(),
            Decoder::Deflate(d) => d.get_ref(),
            Decoder::Brotli(d) => d.get_ref(),
            Decoder::Zstd(d) => d.get_ref(),
        }
    }

    fn counted(&self) -> u64 {
        self.counter().n
    }

    fn full(&self) -> bool {
        let c = self.counter();
        c.n >= c.limit
    }

    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Decoder::Gzip(d) => d.write_all(data),
            Decoder::Deflate(d) => d.write_all(data),
            Decoder::Brotli(d) => d.write_all(data),
            Decoder::Zstd(d) => d.write_all(data),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        match self {
            Decoder::Gzip(d) => d.try_finish(),
            Decoder::Deflate(d) => d.try_finish(),
            Decoder::Brotli(d) => d.flush(),
            Decoder::Zstd(d) => d.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn decoders_count_decoded_bytes_and_stop_at_the_limit() {
        let plain = vec![b'z'; 100_000];
        let packed = gzip(&plain);
        let mut d = Decoder::new("gzip", u64::MAX).unwrap();
        for piece in packed.chunks(1000) {
            d.write(piece).unwrap();
        }
        d.finish().unwrap();
        assert_eq!(d.counted(), 100_000);

        let mut d = Decoder::new("GZIP", 4096).unwrap();
        let err = packed.chunks(1000).find_map(|p| d.write(p).err());
        assert!(err.is_some() && d.full());
        assert_eq!(d.counted(), 4096);

        let zstd_packed = zstd::encode_all(&plain[..], 3).unwrap();
        let mut d = Decoder::new("zstd", u64::MAX).unwrap();
        d.write(&zstd_packed).unwrap();
        d.finish().unwrap();
        assert_eq!(d.counted(), 100_000);

        assert!(Decoder::new("identity", 10).is_none());
        assert!(Decoder::new("compress", 10).is_none());
    }

    #[test]
    fn corrupt_data_is_an_error_not_a_count() {
        let mut d = Decoder::new("gzip", u64::MAX).unwrap();
        let bad = d
            .write(b"this is not gzip at all")
            .and_then(|()| d.finish());
        assert!(bad.is_err());
    }
}

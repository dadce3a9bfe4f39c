//! The worker side of `benchscope compare --paired`: a bench target started
//! with [`WORKER_VAR`] set runs nothing but the named benchmark, and instead
//! of measuring it serves samples to the comparison, one at a time, kept in
//! step with the other build's worker.
//!
//! The link is a TCP connection to the comparison on the loopback address
//! in [`ADDR_VAR`] (standard output stays the benchmark's own). It is line
//! by line, in text:
//!
//! ```text
//! worker → compare   hello TOKEN      on connecting (TOKEN from TOKEN_VAR)
//! worker → compare   ready            the routine is set up
//! compare → worker   N                run the routine N times
//! worker → compare   NANOSECONDS      the time they took
//! compare → worker   end              (or the connection closed) stop
//! ```
//!
//! The comparison starts a new pair of workers for every block of samples,
//! each with an environment of random size ([`PAD_VAR`]) so that the stack
//! starts at another offset, and each process gets its own addresses: one
//! lucky or unlucky layout does not decide the verdict.
// The variables' names are known to every build's configuration; the
// link is the harness's.
#![cfg_attr(not(feature = "harness"), allow(dead_code))]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// What the names of the variables `compare --paired` sets for its
/// workers begin with (no configuration key does).
pub const PREFIX: &str = "BENCHSCOPE_PAIRED_";
/// The benchmark a worker serves.
pub const WORKER_VAR: &str = "BENCHSCOPE_PAIRED_WORKER";
/// Where the comparison listens (`127.0.0.1:PORT`).
pub const ADDR_VAR: &str = "BENCHSCOPE_PAIRED_ADDR";
/// What the worker says first, so that the comparison knows it is its own.
pub const TOKEN_VAR: &str = "BENCHSCOPE_PAIRED_TOKEN";
/// Padding of random length: moves where the stack starts.
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
pub const PAD_VAR: &str = "BENCHSCOPE_PAIRED_PAD";

/// A worker's connection to the comparison.
#[derive(Debug)]
pub(crate) struct Link {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// What ended the serving, when it was not the comparison's `end`.
    pub(crate) error: Option<String>,
}

impl Link {
    /// Connects to `addr` and says `token`.
    pub(crate) fn connect(addr: &str, token: &str) -> std::io::Result<Link> {
        let addr = addr.parse().map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{ADDR_VAR}={addr:?}: {e}"),
            )
        })?;
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        stream.set_nodelay(true)?;
        let mut writer = stream.try_clone()?;
        writeln!(writer, "hello {token}")?;
        Ok(Link {
            reader: BufReader::new(stream),
            writer,
            error: None,
        })
    }

    /// Serves samples of `time_batch` until the comparison says `end` or
    /// closes the connection.
    pub(crate) fn serve(&mut self, time_batch: &mut dyn FnMut(u64) -> Duration) {
        if let Err(e) = self.serve_until_end(time_batch) {
            self.error = Some(e.to_string());
        }
    }

    fn serve_until_end(
        &mut self,
        time_batch: &mut dyn FnMut(u64) -> Duration,
    ) -> std::io::Result<()> {
        writeln!(self.writer, "ready")?;
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let asked = line.trim();
            if asked == "end" {
                return Ok(());
            }
            let n: u64 = asked.parse().map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("the comparison asked {asked:?}, not a number of iterations"),
                )
            })?;
            let took = time_batch(n.max(1));
            writeln!(self.writer, "{}", took.as_nanos())?;
        }
    }
}

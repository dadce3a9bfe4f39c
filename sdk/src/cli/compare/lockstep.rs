//! `benchscope compare --paired`: both builds run a benchmark at once, as
//! two worker processes ([`worker`](crate::measure::worker)) kept in step
//! sample by sample, so that a burst of interference falls on both sides
//! of a pair.
//!
//! For each benchmark:
//! - a pair of workers is started (one per build), each with an
//!   environment of random size, so that its stack starts elsewhere, and
//!   with addresses of its own;
//! - the batch (iterations per sample) is sized once, so that the slower
//!   side's sample takes about [`SAMPLE`];
//! - the workers take samples in pairs, the order within a pair drawn at
//!   random; after a few pairs of warm-up, for [`BLOCK`];
//! - the pair of workers is then replaced by a new one, and so on: each
//!   block gives one figure, the median of its pairs' log ratios
//!   `ln(B / A)` (robust to the pair a preemption hit), and the blocks are
//!   the rounds of the paired t-test ([`Paired`]): the test's noise is the
//!   spread between processes, layouts included, not within one.
//!
//! Sampling stops when the interval of the ratio is narrow enough to
//! decide against the floor (inside it, or clear of it), or at the time
//! budget, and says which.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{Side, child};
use crate::analysis::noise::median;
use crate::analysis::paired::Paired;
use crate::command::Running;
use crate::error::Error;
use crate::measure::worker;

/// The time one side's sample aims at.
pub(super) const SAMPLE: Duration = Duration::from_millis(1);
/// How long a pair of workers samples before it is replaced.
pub(super) const BLOCK: Duration = Duration::from_millis(400);
/// Pairs of warm-up at the start of each block, not counted.
const WARMUP_PAIRS: usize = 5;
/// Fewest blocks before the sampling may stop.
pub(super) const MIN_BLOCKS: usize = 6;

/// What the sampling of one benchmark is allowed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    /// Time for the benchmark, both sides together.
    pub budget: Duration,
    /// The longest a worker may take to get ready, or to answer.
    pub timeout: Duration,
    /// The smallest change that counts (the policy's paired floor).
    pub floor: f64,
    /// The significance level of the verdict.
    pub alpha: f64,
}

/// Why the sampling of a benchmark stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// The interval lies inside the floor: no change that counts.
    Inside,
    /// The interval lies clear of the floor: a change that counts.
    Clear,
    /// The time budget ran out first.
    Budget,
}

impl Stop {
    fn describe(self) -> &'static str {
        match self {
            Stop::Inside => "stopped: the interval is inside the floor",
            Stop::Clear => "stopped: the interval is clear of the floor",
            Stop::Budget => "stopped at the time budget (--budget)",
        }
    }
}

/// What the lock-step sampling of one benchmark gave.
#[derive(Debug, Clone)]
pub(super) struct Lockstep {
    /// Each block's figures, ns per iteration: the baseline's median, and
    /// that times the block's median ratio.
    pub blocks: Vec<(f64, f64)>,
    /// Every counted sample's time per iteration, by side.
    pub samples: [Vec<f64>; 2],
    /// Iterations per sample.
    pub batch: u64,
    /// Why it stopped.
    pub stop: Stop,
    /// How long it took.
    pub took: Duration,
}

impl Lockstep {
    /// The sampling in words, for the table.
    pub(super) fn describe(&self) -> String {
        format!(
            "{} pairs of {} iterations in {} pairs of processes, {:.1} s, {}",
            self.samples[0].len(),
            self.batch,
            self.blocks.len(),
            self.took.as_secs_f64(),
            self.stop.describe()
        )
    }
}

/// A tiny random source (xorshift64*), seeded from the clock: the order of
/// the sides within a pair and the stack offsets need no more.
#[derive(Debug)]
pub(super) struct Coin(u64);

impl Coin {
    pub(super) fn new() -> Coin {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9_7f4a_7c15, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()).rotate_left(32);
        Coin(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// One side's worker: the process and its link.
struct Worker<'s> {
    side: &'s Side,
    /// The benchmark it serves.
    bench: &'s str,
    /// `None` once stopped.
    process: Option<Running>,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// Samples it has answered.
    answered: usize,
}

/// Samples benchmark `name` on both sides in lock step under `plan`.
pub(super) fn measure(
    sides: [&Side; 2],
    name: &str,
    plan: &Plan,
    coin: &mut Coin,
) -> Result<Lockstep, Error> {
    let started = Instant::now();
    let listener = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| Error::Paired(format!("cannot listen on the loopback address: {e}")))?;
    let mut blocks = Vec::new();
    let mut samples: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut batch = 0;
    let mut slowest = Duration::ZERO;
    loop {
        let block_started = Instant::now();
        let mut workers = start_pair(sides, name, &listener, plan.timeout, coin)?;
        if batch == 0 {
            (batch, slowest) = calibrate(&mut workers, plan.timeout)?;
        }
        // A sample takes about `slowest`: one a hundred times longer (and
        // over 10 s) is a hang.
        let answer_limit = plan
            .timeout
            .min(Duration::from_secs(10).max(slowest.saturating_mul(100)));
        for _ in 0..WARMUP_PAIRS {
            pair(&mut workers, batch, answer_limit, coin)?;
        }
        let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        let sampling = Instant::now();
        while sampling.elapsed() < BLOCK || times[0].len() < 3 {
            let [a, b] = pair(&mut workers, batch, answer_limit, coin)?;
            times[0].push(a / batch as f64);
            times[1].push(b / batch as f64);
        }
        for w in workers {
            finish(w)?;
        }
        let logs: Vec<f64> = times[0]
            .iter()
            .zip(&times[1])
            .map(|(a, b)| (b / a).ln())
            .collect();
        let a_median = median(&times[0]);
        blocks.push((a_median, a_median * median(&logs).exp()));
        for (all, block) in samples.iter_mut().zip(times) {
            all.extend(block);
        }
        let block_took = block_started.elapsed();
        let stop = if blocks.len() < MIN_BLOCKS {
            None
        } else {
            decided(&blocks, plan)
        };
        let stop = stop.or_else(|| {
            // Another block would end past the budget.
            (started.elapsed() + block_took > plan.budget && blocks.len() >= super::MIN_ROUNDS)
                .then_some(Stop::Budget)
        });
        if let Some(stop) = stop {
            return Ok(Lockstep {
                blocks,
                samples,
                batch,
                stop,
                took: started.elapsed(),
            });
        }
    }
}

/// Whether the blocks so far decide: the interval of the ratio inside the
/// floor, or clear of it.
fn decided(blocks: &[(f64, f64)], plan: &Plan) -> Option<Stop> {
    let paired = Paired::of(blocks, plan.alpha)?;
    if paired.low > 1.0 - plan.floor && paired.high < 1.0 + plan.floor {
        Some(Stop::Inside)
    } else if paired.low > 1.0 + plan.floor || paired.high < 1.0 - plan.floor {
        Some(Stop::Clear)
    } else {
        None
    }
}

/// Starts both sides' workers for `name` and waits until both are ready.
fn start_pair<'s>(
    sides: [&'s Side; 2],
    name: &'s str,
    listener: &TcpListener,
    limit: Duration,
    coin: &mut Coin,
) -> Result<[Worker<'s>; 2], Error> {
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Paired(format!("the loopback listener has no address: {e}")))?;
    let token = format!("{:016x}", coin.next());
    let mut processes: Vec<Option<Running>> = Vec::with_capacity(2);
    for (i, side) in sides.iter().enumerate() {
        let mut cmd = child(side);
        // Up to 4 KiB in steps of 16 bytes: where the stack starts.
        let pad = "x".repeat((coin.next() % 256) as usize * 16);
        cmd.arg(name)
            .arg("--exact")
            .env(worker::WORKER_VAR, name)
            .env(worker::ADDR_VAR, addr.to_string())
            .env(worker::TOKEN_VAR, format!("{token}-{i}"))
            .env(worker::PAD_VAR, pad)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let process = Running::start(&mut cmd).map_err(|e| {
            Error::Paired(format!(
                "{} ({}) could not start: {e}",
                side.version,
                side.exe.display()
            ))
        })?;
        processes.push(Some(process));
    }
    let deadline = Instant::now() + limit;
    let mut links: [Option<(BufReader<TcpStream>, TcpStream)>; 2] = [None, None];
    while links.iter().any(Option::is_none) {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Some((i, link)) = greet(stream, &token, deadline) {
                    links[i] = Some(link);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(Error::Paired(format!("accepting a worker: {e}"))),
        }
        if crate::command::interrupted() {
            return Err(Error::Interrupted);
        }
        for (i, process) in processes.iter_mut().enumerate() {
            let ended = links[i].is_none() && process.as_mut().and_then(Running::exited).is_some();
            if ended && let Some(p) = process.take() {
                let (status, words) = p.stop(Duration::ZERO);
                return Err(Error::Paired(format!(
                    "{} ended before its worker for {name} was ready ({}); its last words: {words}. (A target built with a benchscope older than `compare --paired` runs its benchmarks instead of serving them: rebuild it, or compare without --paired.)",
                    sides[i].version,
                    status.map_or_else(|| "killed".into(), |s| s.to_string()),
                )));
            }
        }
        if Instant::now() >= deadline {
            let late: Vec<&str> = (0..2)
                .filter(|i| links[*i].is_none())
                .map(|i| sides[i].version.as_str())
                .collect();
            return Err(Error::Paired(format!(
                "{} did not get ready to serve {name} within {} and was stopped (raise --timeout if its setup takes that long)",
                late.join(" and "),
                humantime::format_duration(limit)
            )));
        }
    }
    let mut workers = Vec::with_capacity(2);
    for (i, (link, process)) in links.into_iter().zip(processes).enumerate() {
        let Some((reader, writer)) = link else {
            return Err(Error::Paired(format!("{} has no link", sides[i].version)));
        };
        let mut worker = Worker {
            side: sides[i],
            bench: name,
            process,
            reader,
            writer,
            answered: 0,
        };
        let said = worker.read_line(deadline.saturating_duration_since(Instant::now()))?;
        if said != "ready" {
            return Err(worker.broke(&format!("said {said:?} instead of `ready`")));
        }
        workers.push(worker);
    }
    let [a, b]: [Worker<'s>; 2] = workers
        .try_into()
        .map_err(|_| Error::Paired("two workers expected".into()))?;
    Ok([a, b])
}

/// Reads a new connection's greeting: which side it is, if it is one of
/// this pair's.
fn greet(
    stream: TcpStream,
    token: &str,
    deadline: Instant,
) -> Option<(usize, (BufReader<TcpStream>, TcpStream))> {
    stream.set_nonblocking(false).ok()?;
    stream.set_nodelay(true).ok()?;
    stream
        .set_read_timeout(Some(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(100)),
        ))
        .ok()?;
    let writer = stream.try_clone().ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let side = line.trim().strip_prefix("hello ")?.strip_prefix(token)?;
    let i = match side {
        "-0" => 0,
        "-1" => 1,
        _ => return None,
    };
    Some((i, (reader, writer)))
}

/// Finds the iterations per sample: doubling (or more, when far off) until
/// the slower side's sample takes [`SAMPLE`]; that sample's time too.
fn calibrate(workers: &mut [Worker<'_>; 2], limit: Duration) -> Result<(u64, Duration), Error> {
    let mut n: u64 = 1;
    loop {
        let mut slowest = 0.0f64;
        for w in workers.iter_mut() {
            slowest = slowest.max(w.sample(n, limit)?);
        }
        let target = SAMPLE.as_nanos() as f64;
        if slowest >= target || n >= 1 << 40 {
            return Ok((n, Duration::from_nanos(slowest as u64)));
        }
        let factor = if slowest < target / 20.0 { 10 } else { 2 };
        n = n.saturating_mul(factor);
    }
}

/// One pair of samples of `n` iterations, the order drawn at random:
/// (baseline, candidate) in nanoseconds.
fn pair(
    workers: &mut [Worker<'_>; 2],
    n: u64,
    limit: Duration,
    coin: &mut Coin,
) -> Result<[f64; 2], Error> {
    let first = (coin.next() >> 33) as usize & 1;
    let mut times = [0.0; 2];
    for i in [first, 1 - first] {
        times[i] = workers[i].sample(n, limit)?;
    }
    Ok(times)
}

/// Tells `worker` to end, and checks that it did.
fn finish(mut worker: Worker<'_>) -> Result<(), Error> {
    let _ = writeln!(worker.writer, "end");
    let side = worker.side;
    let (status, words) = worker.stop(Duration::from_secs(10));
    match status {
        Some(s) if s.success() => Ok(()),
        other => Err(Error::Paired(format!(
            "{} failed after serving its samples ({}): {words}",
            side.version,
            other.map_or_else(
                || "did not exit within 10 s and was stopped".into(),
                |s| s.to_string()
            ),
        ))),
    }
}

impl Worker<'_> {
    /// Runs `n` iterations on this side: the time they took, ns.
    fn sample(&mut self, n: u64, limit: Duration) -> Result<f64, Error> {
        writeln!(self.writer, "{n}").map_err(|e| self.broke(&format!("took no request: {e}")))?;
        let said = self.read_line(limit)?;
        let ns: f64 = said
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite() && *t >= 0.0)
            .ok_or_else(|| self.broke(&format!("answered {said:?}, not a time")))?;
        self.answered += 1;
        // A zero (a coarse clock) would make the ratio meaningless.
        Ok(ns.max(1.0))
    }

    /// The next line the worker says, within `limit`.
    fn read_line(&mut self, limit: Duration) -> Result<String, Error> {
        let _ = self
            .reader
            .get_ref()
            .set_read_timeout(Some(limit.max(Duration::from_millis(1))));
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err(self.ended()),
            Ok(_) => Ok(line.trim().to_owned()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if crate::command::interrupted() {
                    return Err(Error::Interrupted);
                }
                Err(Error::Paired(format!(
                    "{}'s worker for {} did not answer within {} after {} samples and was stopped: hung, or its samples are longer than that (raise --timeout)",
                    self.side.version,
                    self.bench,
                    humantime::format_duration(limit),
                    self.answered
                )))
            }
            Err(_) => Err(self.ended()),
        }
    }

    /// The worker's process ended (its link closed): how.
    fn ended(&mut self) -> Error {
        if crate::command::interrupted() {
            return Error::Interrupted;
        }
        let (status, words) = self.stop(Duration::from_secs(1));
        Error::Paired(format!(
            "{}'s worker for {} ended after {} samples ({}); its last words: {words}",
            self.side.version,
            self.bench,
            self.answered,
            status.map_or_else(|| "still running; stopped".into(), |s| s.to_string()),
        ))
    }

    /// The protocol went wrong: `what` it did.
    fn broke(&mut self, what: &str) -> Error {
        let (_, words) = self.stop(Duration::ZERO);
        Error::Paired(format!(
            "{}'s worker for {} {what}; its last words: {words}",
            self.side.version, self.bench
        ))
    }

    /// Stops the process (after up to `grace` to end by itself): its exit
    /// status and last words.
    fn stop(&mut self, grace: Duration) -> (Option<std::process::ExitStatus>, String) {
        match self.process.take() {
            Some(p) => p.stop(grace),
            None => (None, String::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            budget: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            floor: 0.01,
            alpha: 0.01,
        }
    }

    /// Blocks whose ratio is `factor`, wobbling by ±`spread`.
    fn blocks(factor: f64, spread: f64, n: usize) -> Vec<(f64, f64)> {
        (0..n)
            .map(|i| {
                let wobble = 1.0 + spread * (((i * 7) % 5) as f64 - 2.0) / 2.0;
                (100.0, 100.0 * factor * wobble)
            })
            .collect()
    }

    #[test]
    fn a_narrow_interval_inside_or_clear_of_the_floor_decides() {
        assert_eq!(decided(&blocks(1.0, 0.002, 8), &plan()), Some(Stop::Inside));
        assert_eq!(decided(&blocks(1.05, 0.002, 8), &plan()), Some(Stop::Clear));
        assert_eq!(decided(&blocks(0.95, 0.002, 8), &plan()), Some(Stop::Clear));
        // ±3 % between blocks: neither yet.
        assert_eq!(decided(&blocks(1.0, 0.06, 8), &plan()), None);
        // A change at the floor itself is never clear of it.
        assert_eq!(decided(&blocks(1.01, 0.002, 8), &plan()), None);
    }

    #[test]
    fn the_coin_falls_both_ways() {
        let mut coin = Coin::new();
        let heads = (0..1000).filter(|_| (coin.next() >> 33) & 1 == 1).count();
        assert!((400..=600).contains(&heads), "{heads}");
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}

//! Side-by-side throughput in one run, without order bias: every contender measures each
//! operation once per round, and the order of the contenders alternates from round to round
//! (A B C, C B A, A B C, ...), so none always runs in the quieter moment. A sample is the
//! throughput of enough repetitions to move at least 64 MiB. Printed per operation: the median,
//! minimum and maximum of the rounds for each contender, the load average, and the floors
//! measured in the same run (single-core SHA-256, loopback TCP).
//!
//! Include it together with `throughput.rs` (for [`Contender`] and the test data).

#![allow(dead_code)] // each includer uses a different part

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use sha2::Digest as _;
use tokio::runtime::Runtime;

use super::throughput::{body, Contender};

/// Bytes each sample moves at least (repeating small objects).
const SAMPLE_BYTES: usize = 64 << 20;

/// One measured statistic: median, minimum and maximum MiB/s over the rounds.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

fn stat(mut v: Vec<f64>) -> Stat {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Stat {
        median,
        min: v[0],
        max: v[n - 1],
    }
}

fn mib_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / d.as_secs_f64()
}

/// The load average (1, 5, 15 minutes) from /proc, for the report.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Single-core SHA-256 throughput (MiB/s): what a signed PUT must hash at least once.
pub fn sha256_floor() -> f64 {
    let data = body(64 << 20);
    let t = Instant::now();
    let d = sha2::Sha256::digest(&data);
    std::hint::black_box(d);
    mib_per_s(data.len(), t.elapsed())
}

/// Loopback TCP throughput (MiB/s) of one connection, 1 GiB in 1 MiB writes.
pub fn loopback_floor() -> f64 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let total = 1usize << 30;
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0usize;
        while n < total {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k,
            }
        }
        n
    });
    let chunk = vec![7u8; 1 << 20];
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let t = Instant::now();
    for _ in 0..(total >> 20) {
        s.write_all(&chunk).expect("write");
    }
    drop(s);
    let n = reader.join().expect("reader");
    mib_per_s(n, t.elapsed())
}

/// Runs PUT and GET of every size for every contender, `rounds` times interleaved, and
/// prints one table per operation. Returns `(operation, contender, stat)` rows.
pub fn run(
    rt: &Runtime,
    server: &str,
    contenders: &[Contender],
    sizes: &[(&'static str, usize)],
    rounds: usize,
) -> Vec<(String, &'static str, Stat)> {
    let mut rows = Vec::new();
    println!(
        "\n== {server}: {rounds} rounds, order alternating; load average {} ==",
        load_average()
    );
    for (label, size) in sizes {
        let data = body(*size);
        let reps = (SAMPLE_BYTES / size).max(1);
        let key = |who: &Contender| {
            format!(
                "bench/{}/{}",
                who.name
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect::<String>(),
                label.replace(' ', "")
            )
        };
        for op in ["PUT", "GET"] {
            let active: Vec<&Contender> = contenders
                .iter()
                .filter(|c| op == "PUT" || c.get.is_some())
                .collect();
            if op == "GET" {
                for who in &active {
                    rt.block_on((who.put)(key(who), data.clone()));
                }
            }
            let mut samples: Vec<Vec<f64>> = vec![Vec::new(); active.len()];
            for round in 0..rounds {
                let order: Vec<usize> = if round % 2 == 0 {
                    (0..active.len()).collect()
                } else {
                    (0..active.len()).rev().collect()
                };
                for i in order {
                    let who = active[i];
                    let t = Instant::now();
                    for _ in 0..reps {
                        let n = match op {
                            "PUT" => rt.block_on((who.put)(key(who), data.clone())),
                            _ => rt.block_on((who.get.as_ref().expect("get"))(key(who))),
                        };
                        assert_eq!(n, *size as u64, "{} {op} {label}", who.name);
                    }
                    samples[i].push(mib_per_s(size * reps, t.elapsed()));
                }
            }
            println!("{op} {label} (MiB/s: median [min, max])");
            for (who, s) in active.iter().zip(samples) {
                let s = stat(s);
                println!(
                    "  {:<36} {:>8.1}  [{:.1}, {:.1}]",
                    who.name, s.median, s.min, s.max
                );
                rows.push((format!("{op} {label}"), who.name, s));
            }
        }
    }
    println!("load average after: {}", load_average());
    rows
}

/// The floors, measured now, printed and returned (SHA-256 MiB/s, loopback MiB/s).
pub fn floors() -> (f64, f64) {
    let sha = sha256_floor();
    let tcp = loopback_floor();
    println!("floors: SHA-256 {sha:.0} MiB/s on one core; loopback TCP {tcp:.0} MiB/s");
    (sha, tcp)
}

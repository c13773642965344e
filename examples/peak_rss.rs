//! Peak memory of a streamed upload and of reading it back: writes SIZE bytes through the S3
//! driver's writer (`chunksize` 10 MiB, so a multipart upload of 10 MiB parts) to an s3s-fs
//! server, then reads the object through the driver's reader, and reports the process's
//! resident set before each and its peak during each (`VmRSS` and `VmHWM` of
//! `/proc/self/status`; the peak is reset first through `/proc/self/clear_refs` where the
//! kernel allows it).
//!
//! ```text
//! peak_rss [--size BYTES|1GiB|64MiB] [--write BYTES] [--chunksize BYTES] [--maxconcurrentparts N] [--endpoint URL]
//! ```
//!
//! Defaults: 1 GiB in 32 KiB writes (what a registry's request-body copy hands the writer).
//! Without `--endpoint` the server runs in this process, on the same runtime, and its own
//! memory counts too; with `--endpoint http://127.0.0.1:PORT` (e.g. from the `s3s_fs_server`
//! example, bucket `peak`) only the driver's side is measured.
//!
//! Targets: for the upload, peak - baseline <= (maxconcurrentparts + 1) x chunksize + 2 MiB
//! (the parts in flight, the one filling, 2 MiB for the rest), without allocator tuning; for
//! the read, <= 4 MiB (the reader streams the response and buffers no part). Exit status 1
//! when one is missed.

#[path = "../benches/support/s3s_fs.rs"]
mod s3s_fs;
#[path = "../benches/support/s3s_serve.rs"]
mod s3s_serve;

use std::process::ExitCode;
use std::time::Instant;

use s3driver::driver::{Parameters, S3Driver, StorageDriver};

const MIB: u64 = 1 << 20;

/// Reads a `kB` field (`VmRSS`, `VmHWM`) of `/proc/self/status`, in bytes.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status")
        .expect("peak_rss needs Linux's /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Resets `VmHWM` to the current RSS (Linux 4.0+); false when not allowed.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    let n: u64 = digits.parse().ok()?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor)
}

struct Args {
    size: u64,
    write: usize,
    chunk: u64,
    parts: u64,
    endpoint: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut out = Args {
        size: 1 << 30,
        write: 32 << 10,
        chunk: 10 * MIB,
        parts: 2,
        endpoint: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let size = || parse_size(&value).ok_or_else(|| format!("{flag}: not a size: {value:?}"));
        match flag.as_str() {
            "--size" => out.size = size()?,
            "--write" => out.write = usize::try_from(size()?).map_err(|e| e.to_string())?,
            "--chunksize" => out.chunk = size()?,
            "--endpoint" => out.endpoint = Some(value),
            "--maxconcurrentparts" => {
                out.parts = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .ok_or_else(|| format!("--maxconcurrentparts: 1 to 64, not {value:?}"))?;
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    if out.write == 0 {
        return Err("--write must be at least 1 byte".into());
    }
    Ok(out)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("peak_rss: {e}");
            return ExitCode::from(2);
        }
    };
    let server = match &args.endpoint {
        Some(_) => None,
        None => {
            let server = s3s_fs::S3sFs::start(0).await;
            server.create_bucket("peak");
            Some(server)
        }
    };
    let endpoint = match &args.endpoint {
        Some(e) => e.clone(),
        None => server
            .as_ref()
            .map(s3s_fs::S3sFs::endpoint)
            .unwrap_or_default(),
    };
    let chunk = args.chunk.to_string();
    let parts = args.parts.to_string();
    let params = Parameters::from_iter([
        ("region", s3s_fs::REGION),
        ("regionendpoint", endpoint.as_str()),
        ("forcepathstyle", "true"),
        ("bucket", "peak"),
        ("accesskey", s3s_fs::ACCESS_KEY),
        ("secretkey", s3s_fs::SECRET_KEY),
        ("chunksize", chunk.as_str()),
        ("maxconcurrentparts", parts.as_str()),
    ]);
    let driver =
        s3driver::driver::Base::new(S3Driver::from_parameters(&params).expect("driver parameters"));

    // Warm up: connection pool, credentials, signing-key cache, server code paths.
    driver
        .put_content("/warmup", bytes::Bytes::from_static(b"warm"))
        .await
        .expect("warm-up PutObject");

    let mut piece = vec![0u8; args.write];
    for (i, b) in piece.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let reset = reset_peak();
    let baseline = status_kib("VmRSS");
    let hwm_before = status_kib("VmHWM");

    let started = Instant::now();
    let mut writer = driver.writer("/peak/blob", false).await.expect("writer");
    let mut left = args.size;
    let mut n = 0u64;
    while left > 0 {
        let len = usize::try_from(left.min(piece.len() as u64)).unwrap_or(piece.len());
        // Vary the content a little so no layer can dedupe it.
        piece[..8.min(len)].copy_from_slice(&n.to_le_bytes()[..8.min(len)]);
        writer.write(&piece[..len]).await.expect("writer write");
        left -= len as u64;
        n += 1;
    }
    writer.commit().await.expect("writer commit");
    writer.close().await.expect("writer close");
    let elapsed = started.elapsed();
    let peak = status_kib("VmHWM");

    let stored = driver.stat("/peak/blob").await.expect("stat").size;
    assert_eq!(stored, args.size, "the stored object has the wrong size");

    // Read it back through the driver's reader (what the registry does for a blob GET with
    // redirects off), 64 KiB at a time, and measure that peak on its own.
    reset_peak();
    let read_baseline = status_kib("VmRSS");
    let read_started = Instant::now();
    let mut reader = driver.reader("/peak/blob", 0).await.expect("reader");
    let mut buf = vec![0u8; 64 << 10];
    let mut read = 0u64;
    loop {
        let n = tokio::io::AsyncReadExt::read(&mut reader, &mut buf)
            .await
            .expect("reader read");
        if n == 0 {
            break;
        }
        read += n as u64;
    }
    drop(reader);
    let read_elapsed = read_started.elapsed();
    let read_peak = status_kib("VmHWM");
    assert_eq!(read, args.size, "the reader returned the wrong length");
    driver.delete("/peak").await.expect("delete");

    let delta = peak.saturating_sub(baseline);
    // The parts in flight, plus the one filling, plus 2 MiB.
    let budget = (args.parts + 1) * args.chunk + 2 * MIB;
    let mib = |b: u64| b as f64 / MIB as f64;
    println!(
        "server: {}",
        if server.is_some() {
            "in-process s3s-fs (its memory counts)"
        } else {
            endpoint.as_str()
        }
    );
    println!(
        "uploaded {:.0} MiB in {} B writes, chunksize {:.0} MiB, in {:.1} s ({:.0} MiB/s)",
        mib(args.size),
        args.write,
        mib(args.chunk),
        elapsed.as_secs_f64(),
        mib(args.size) / elapsed.as_secs_f64()
    );
    println!(
        "baseline RSS {:.1} MiB (peak before: {:.1} MiB, peak reset: {})",
        mib(baseline),
        mib(hwm_before),
        if reset { "yes" } else { "no" }
    );
    println!("peak RSS (VmHWM) {:.1} MiB", mib(peak));
    println!(
        "peak - baseline {:.1} MiB; target <= ({} part{} in flight + 1 filling) x chunksize + 2 MiB = {:.0} MiB: {}",
        mib(delta),
        args.parts,
        if args.parts == 1 { "" } else { "s" },
        mib(budget),
        if delta <= budget { "met" } else { "MISSED" }
    );
    let read_delta = read_peak.saturating_sub(read_baseline);
    let read_budget = 4 * MIB;
    println!(
        "read it back in {:.1} s ({:.0} MiB/s); peak - baseline {:.1} MiB; target <= 4 MiB (no part buffered): {}",
        read_elapsed.as_secs_f64(),
        mib(args.size) / read_elapsed.as_secs_f64(),
        mib(read_delta),
        if read_delta <= read_budget { "met" } else { "MISSED" }
    );
    drop(server);
    if delta <= budget && read_delta <= read_budget {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

//! The PUT/GET throughput benchmark scaffold, shared by `benches/throughput.rs` (s3driver
//! only) and `benches/peers` (s3driver and object_store side by side): every contender puts
//! and gets the same objects through the same in-process s3s-fs server, in one run.
//!
//! Sizes: 1 MiB and 64 MiB; 1 GiB too with `S3DRIVER_BENCH_BIG=1`. Criterion reports each
//! function's throughput (MiB/s).

#![allow(dead_code)] // each includer uses a different part

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput};
use tokio::runtime::Runtime;

/// A boxed future returning the number of bytes moved.
pub type BoxFut = Pin<Box<dyn Future<Output = u64> + Send>>;

/// One way of putting and getting objects.
pub struct Contender {
    /// Shown in the report (`s3driver client`, `object_store`, ...).
    pub name: &'static str,
    /// Stores the body under the key and returns its length. Panics on failure.
    pub put: Box<dyn Fn(String, Bytes) -> BoxFut>,
    /// Reads the whole key (discarding the bytes) and returns its length; `None` when this
    /// contender only differs from another one in how it writes.
    pub get: Option<Box<dyn Fn(String) -> BoxFut>>,
}

/// The object sizes to run: 1 MiB, 64 MiB, plus 1 GiB with `S3DRIVER_BENCH_BIG=1`.
pub fn sizes() -> Vec<(&'static str, usize)> {
    let mut sizes = vec![("1 MiB", 1 << 20), ("64 MiB", 64 << 20)];
    if std::env::var("S3DRIVER_BENCH_BIG").is_ok_and(|v| v == "1") {
        sizes.push(("1 GiB", 1 << 30));
    }
    sizes
}

/// A multi-threaded runtime of two workers (the server and the clients share it).
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("cannot build the Tokio runtime")
}

/// Deterministic, incompressible-looking bytes (xorshift).
pub fn body(len: usize) -> Bytes {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// Runs the PUT and GET groups of every size for every contender.
pub fn bench(c: &mut Criterion, rt: &Runtime, contenders: &[Contender]) {
    for (label, size) in sizes() {
        let data = body(size);
        let samples = 10;
        let mut group = c.benchmark_group(format!("PUT {label}"));
        group.throughput(Throughput::Bytes(size as u64));
        group.sample_size(samples);
        if size >= 64 << 20 {
            group.warm_up_time(Duration::from_millis(500));
        }
        for who in contenders {
            let key = format!(
                "bench/{}/{}",
                who.name.replace(' ', "-"),
                label.replace(' ', "")
            );
            group.bench_function(BenchmarkId::from_parameter(who.name), |b| {
                b.iter(|| {
                    let n = rt.block_on((who.put)(key.clone(), data.clone()));
                    assert_eq!(n, size as u64);
                });
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("GET {label}"));
        group.throughput(Throughput::Bytes(size as u64));
        group.sample_size(samples);
        if size >= 64 << 20 {
            group.warm_up_time(Duration::from_millis(500));
        }
        for who in contenders {
            let Some(get) = &who.get else { continue };
            let key = format!(
                "bench/{}/{}",
                who.name.replace(' ', "-"),
                label.replace(' ', "")
            );
            group.bench_function(BenchmarkId::from_parameter(who.name), |b| {
                // Only when this benchmark is selected: (re)writes the object to read.
                rt.block_on((who.put)(key.clone(), data.clone()));
                b.iter(|| {
                    let n = rt.block_on(get(key.clone()));
                    assert_eq!(n, size as u64);
                });
            });
        }
        group.finish();
    }
}

//! PUT/GET throughput of s3driver's client and S3 driver against an in-process s3s-fs server
//! (1 MiB and 64 MiB objects; 1 GiB too with `S3DRIVER_BENCH_BIG=1`). The side-by-side
//! comparison with `object_store` is `benches/peers` (a separate cargo project, so that
//! object_store never enters this crate's dependency tree).
//!
//! ```text
//! cargo bench --bench throughput -- --warm-up-time 1 --measurement-time 3
//! ```

#[path = "support/ours.rs"]
mod ours;
#[path = "support/s3s_fs.rs"]
mod s3s_fs;
#[path = "support/s3s_serve.rs"]
mod s3s_serve;
#[path = "support/throughput.rs"]
mod throughput;

use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let rt = throughput::runtime();
    let server = rt.block_on(s3s_fs::S3sFs::start(0));
    server.create_bucket("bench");
    let driver = {
        let _guard = rt.enter();
        ours::driver(
            &server.endpoint(),
            "bench",
            s3s_fs::ACCESS_KEY,
            s3s_fs::SECRET_KEY,
        )
    };
    throughput::bench(c, &rt, &ours::contenders(&driver));
    drop(server);
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! A local s3s-fs server (signature verification on) for running the examples by hand:
//! `putget` here and `putget-object-store` in `benches/peers`.
//!
//! ```text
//! s3s_fs_server [PORT] [BUCKET...] [--for SECONDS]
//! ```
//!
//! Listens on `127.0.0.1:PORT` (default 9000) over a fresh temporary directory, creates the
//! buckets (default `putget`), prints the endpoint and the credentials to export, and serves
//! until killed, or for `SECONDS`.

#[path = "../benches/support/s3s_fs.rs"]
mod s3s_fs;
#[path = "../benches/support/s3s_serve.rs"]
mod s3s_serve;

use std::time::Duration;

#[tokio::main]
async fn main() {
    let mut port = 9000u16;
    let mut buckets = Vec::new();
    let mut seconds = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--for" {
            let value = args.next().unwrap_or_default();
            seconds = Some(value.parse::<u64>().unwrap_or_else(|_| {
                eprintln!("s3s_fs_server: --for wants a number of seconds, not {value:?}");
                std::process::exit(2)
            }));
        } else if let Ok(p) = arg.parse() {
            port = p;
        } else {
            buckets.push(arg);
        }
    }
    if buckets.is_empty() {
        buckets.push("putget".to_owned());
    }
    let server = s3s_fs::S3sFs::start(port).await;
    for bucket in &buckets {
        server.create_bucket(bucket);
    }
    println!("endpoint {}", server.endpoint());
    println!("buckets {}", buckets.join(" "));
    println!(
        "export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} AWS_REGION={}",
        s3s_fs::ACCESS_KEY,
        s3s_fs::SECRET_KEY,
        s3s_fs::REGION
    );
    match seconds {
        Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
        None => std::future::pending().await,
    }
    drop(server);
}

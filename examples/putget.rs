//! A small real program on the S3 driver: put, get, list, stat, stream-write (multipart),
//! read back, delete. It is also the binary-size probe of the crate (`release-small` profile,
//! HTTPS with rustls); `benches/peers/putget` is the same program on object_store.
//!
//! ```text
//! putget [ENDPOINT_URL] [BUCKET]
//! ```
//!
//! `ENDPOINT_URL` defaults to `https://127.0.0.1:9000`, `BUCKET` to `putget` (it must exist).
//! Credentials come from the default chain (`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`,
//! shared files, container or instance metadata); the region from `AWS_REGION` (default
//! `us-east-1`). Against a local s3s-fs server:
//!
//! ```text
//! cargo run --example s3s_fs_server -- 9000 putget &        # prints the keys to export
//! AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... cargo run --example putget -- http://127.0.0.1:9000
//! ```

use std::process::ExitCode;

use bytes::Bytes;
use s3driver::driver::{DriverError, Parameters, S3Driver, StorageDriver};
use tokio::io::AsyncReadExt;

/// 6 MiB through the writer: two multipart parts of `chunksize` 5 MiB.
const STREAM_LEN: usize = 6 << 20;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let endpoint = args
        .next()
        .unwrap_or_else(|| "https://127.0.0.1:9000".to_owned());
    let bucket = args.next().unwrap_or_else(|| "putget".to_owned());
    match run(&endpoint, &bucket).await {
        Ok(()) => {
            println!("putget: all operations succeeded against {endpoint}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("putget: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(endpoint: &str, bucket: &str) -> Result<(), DriverError> {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    let params = Parameters::from_iter([
        ("region", region.as_str()),
        ("regionendpoint", endpoint),
        ("forcepathstyle", "true"),
        ("bucket", bucket),
        ("chunksize", "5242880"),
        ("rootdirectory", "/putget"),
    ]);
    let driver = s3driver::driver::Base::new(S3Driver::from_parameters(&params)?);

    let small = Bytes::from_static(b"hello from s3driver putget\n");
    driver.put_content("/dir/small.txt", small.clone()).await?;
    let got = driver.get_content("/dir/small.txt").await?;
    check(
        got == small,
        "get_content returned other bytes than were put",
    )?;
    println!("put + get {} bytes", got.len());

    let big: Vec<u8> = (0..STREAM_LEN).map(|i| (i % 251) as u8).collect();
    let mut writer = driver.writer("/dir/big.bin", false).await?;
    for piece in big.chunks(32 << 10) {
        writer.write(piece).await?;
    }
    writer.commit().await?;
    writer.close().await?;
    let mut reader = driver.reader("/dir/big.bin", 0).await?;
    let mut back = Vec::with_capacity(STREAM_LEN);
    reader.read_to_end(&mut back).await?;
    check(back == big, "the streamed object read back differs")?;
    println!("stream write + read {} bytes (multipart)", back.len());

    let info = driver.stat("/dir/big.bin").await?;
    check(info.size == STREAM_LEN as u64, "stat reports a wrong size")?;
    let mut listing = driver.list("/dir").await?;
    listing.sort();
    println!("list /dir: {listing:?}");
    check(
        listing == ["/dir/big.bin", "/dir/small.txt"],
        "list /dir returned other entries",
    )?;

    driver.delete("/dir").await?;
    match driver.stat("/dir/small.txt").await {
        Err(DriverError::PathNotFound { .. }) => {}
        Ok(_) => return Err(DriverError::msg("/dir/small.txt still exists after delete")),
        Err(e) => return Err(e),
    }
    println!("delete /dir");
    Ok(())
}

fn check(ok: bool, what: &str) -> Result<(), DriverError> {
    if ok {
        Ok(())
    } else {
        Err(DriverError::msg(what.to_owned()))
    }
}

//! s3driver's `examples/putget.rs`, written on object_store (feature `aws`): put, get,
//! stream-write (multipart, 5 MiB parts), read back, head, list, delete. Built with the same
//! `release-small` profile for the binary-size comparison.
//!
//! ```text
//! putget-object-store [ENDPOINT_URL] [BUCKET]
//! ```
//!
//! Same defaults and credentials as s3driver's example (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`; endpoint `https://127.0.0.1:9000`, bucket `putget`).

use std::process::ExitCode;
use std::sync::Arc;

use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::io::AsyncWriteExt;

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
            println!("putget-object-store: all operations succeeded against {endpoint}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("putget-object-store: {e}");
            ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error>;

async fn run(endpoint: &str, bucket: &str) -> Result<(), Error> {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    let store: Arc<dyn ObjectStore> = Arc::new(
        AmazonS3Builder::from_env()
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false)
            .with_region(region)
            .with_bucket_name(bucket)
            .build()?,
    );

    let small_path = Path::from("putget/dir/small.txt");
    let small: &'static [u8] = b"hello from object_store putget\n";
    store
        .put(&small_path, PutPayload::from_static(small))
        .await?;
    let got = store.get(&small_path).await?.bytes().await?;
    check(got == small, "get returned other bytes than were put")?;
    println!("put + get {} bytes", got.len());

    let big_path = Path::from("putget/dir/big.bin");
    let big: Vec<u8> = (0..STREAM_LEN).map(|i| (i % 251) as u8).collect();
    let mut writer = BufWriter::with_capacity(Arc::clone(&store), big_path.clone(), 5 << 20);
    for piece in big.chunks(32 << 10) {
        writer.write_all(piece).await?;
    }
    writer.shutdown().await?;
    let back = store.get(&big_path).await?.bytes().await?;
    check(back == big, "the streamed object read back differs")?;
    println!("stream write + read {} bytes (multipart)", back.len());

    let meta = store.head(&big_path).await?;
    check(meta.size == STREAM_LEN as u64, "head reports a wrong size")?;
    let dir = Path::from("putget/dir");
    let listing = store.list_with_delimiter(Some(&dir)).await?;
    let mut names: Vec<String> = listing
        .objects
        .iter()
        .map(|o| o.location.to_string())
        .collect();
    names.sort();
    println!("list putget/dir: {names:?}");
    check(
        names == ["putget/dir/big.bin", "putget/dir/small.txt"],
        "list returned other entries",
    )?;

    let all: Vec<_> = store
        .list(Some(&dir))
        .map_ok(|m| m.location)
        .try_collect()
        .await?;
    for location in &all {
        store.delete(location).await?;
    }
    match store.head(&small_path).await {
        Err(object_store::Error::NotFound { .. }) => {}
        Ok(_) => return Err("putget/dir/small.txt still exists after delete".into()),
        Err(e) => return Err(e.into()),
    }
    println!("delete putget/dir");
    Ok(())
}

fn check(ok: bool, what: &str) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(what.into())
    }
}

//! Port of every test of Distribution's
//! `registry/storage/driver/testsuites/testsuites.go`, in file order.

use bytes::Bytes;
use futures_util::future::join_all;
use s3driver::driver::{DriverError, FileWriter, RedirectRequest, StorageDriver};
use sha2::{Digest, Sha256};
use std::io::Write as _;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{
    assert_invalid_path, assert_not_found, delete_path, first_component, rand_below,
    random_contents, random_filename, random_path, read_all, write_chunked, write_read_compare,
    write_read_compare_streams, SuiteConfig, MIB,
};
/// The root always exists.
pub async fn test_root_exists(d: &dyn StorageDriver, cfg: &SuiteConfig) {
    assert_eq!(d.name(), cfg.driver_name);
    if let Err(e) = d.list("/").await {
        panic!(r#"the root path "/" should always exist: {e}"#);
    }
}

/// Put/Get on 16 valid paths.
pub async fn test_valid_paths(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let contents = random_contents(64);
    let valid = [
        "/a",
        "/2",
        "/aa",
        "/a.a",
        "/0-9/abcdefg",
        "/abcdefg/z.75",
        "/abc/1.2.3.4.5-6_zyx/123.z/4",
        "/docker/docker-registry",
        "/123.abc",
        "/abc./abc",
        "/.abc",
        "/a--b",
        "/a-.b",
        "/_.abc",
        "/Docker/docker-registry",
        "/Abc/Cba",
    ];
    for filename in valid {
        d.put_content(filename, contents.clone())
            .await
            .unwrap_or_else(|e| panic!("put {filename}: {e}"));
        let got = d.get_content(filename).await.expect("get");
        assert_eq!(got, contents, "{filename}");
    }
    for filename in valid {
        delete_path(d, first_component(filename)).await;
    }
}

/// Put/Get on invalid paths fail with InvalidPath naming the driver.
pub async fn test_invalid_paths(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let contents = random_contents(64);
    for filename in ["", "/", "abc", "123.abc", "//bcd", "/abc_123/"] {
        let err = d
            .put_content(filename, contents.clone())
            .await
            .expect_err(filename);
        assert_invalid_path(&err, d);
        let err = d.get_content(filename).await.expect_err(filename);
        assert_invalid_path(&err, d);
    }
}

/// Round trip of "a".
pub async fn test_write_read1(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    write_read_compare(d, &random_path(32), Bytes::from_static(b"a")).await;
}

/// Round trip of a two-byte UTF-8 character.
pub async fn test_write_read2(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    write_read_compare(d, &random_path(32), Bytes::from_static(b"\xc3\x9f")).await;
}

/// Round trip of 32 random bytes.
pub async fn test_write_read3(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    write_read_compare(d, &random_path(32), random_contents(32)).await;
}

/// Round trip of 1 MiB.
pub async fn test_write_read4(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    write_read_compare(d, &random_path(32), random_contents(MIB)).await;
}

/// Round trip of non-UTF-8 bytes.
pub async fn test_write_read_non_utf8(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    write_read_compare(d, &random_path(32), Bytes::from_static(&[0x80; 4])).await;
}

/// A smaller put replaces (truncates) a larger one.
pub async fn test_truncate(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let filename = random_path(32);
    write_read_compare(d, &filename, random_contents(MIB)).await;
    write_read_compare(d, &filename, random_contents(1024)).await;
}

/// GetContent of a missing path is PathNotFound.
pub async fn test_read_nonexistent(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let err = d.get_content(&random_path(32)).await.unwrap_err();
    assert_not_found(&err, d);
}

/// Stream round trip of "a".
pub async fn test_write_read_streams1(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    write_read_compare_streams(d, &random_path(32), b"a").await;
}

/// Stream round trip of a two-byte UTF-8 character.
pub async fn test_write_read_streams2(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    write_read_compare_streams(d, &random_path(32), b"\xc3\x9f").await;
}

/// Stream round trip of 32 bytes.
pub async fn test_write_read_streams3(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    write_read_compare_streams(d, &random_path(32), &random_contents(32)).await;
}

/// Stream round trip of 1 MiB.
pub async fn test_write_read_streams4(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    write_read_compare_streams(d, &random_path(32), &random_contents(MIB)).await;
}

/// Stream round trip of non-UTF-8 bytes.
pub async fn test_write_read_streams_non_utf8(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    write_read_compare_streams(d, &random_path(32), &[0x80; 4]).await;
}

/// A large stream (Go: 5 GiB) round trip compared by SHA-256; runs only with
/// `large_stream_size`.
pub async fn test_write_read_large_streams(d: &dyn StorageDriver, cfg: &SuiteConfig) {
    let Some(size) = cfg.large_stream_size else {
        println!("test_write_read_large_streams skipped: set S3DRIVER_LARGE_STREAM_BYTES=<bytes> to run it");
        return;
    };
    let filename = random_path(32);
    let source = random_contents(4 * MIB);
    let piece = 32 * 1024;
    let mut sum = Sha256::new();
    let mut w = d.writer(&filename, false).await.expect("writer");
    let mut written = 0u64;
    let mut i = 0usize;
    while written < size {
        let start = (i * 7919 * 64) % (source.len() - piece);
        let len = piece.min((size - written) as usize);
        let chunk = &source[start..start + len];
        sum.update(chunk);
        w.write(chunk).await.expect("write");
        written += len as u64;
        i += 1;
    }
    w.commit().await.expect("commit");
    w.close().await.expect("close");
    let mut r = d.reader(&filename, 0).await.expect("reader");
    let mut back = Sha256::new();
    let mut buf = vec![0u8; MIB];
    let mut read = 0u64;
    loop {
        let n = r.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        back.update(&buf[..n]);
        read += n as u64;
    }
    assert_eq!(read, size);
    assert_eq!(back.finalize(), sum.finalize());
    delete_path(d, first_component(&filename)).await;
}

/// Reads from offsets 0, 32, 64, the end and end - 1, and past `i64::MAX`.
///
/// Distribution also reads at -1 and expects `InvalidOffset`; offsets are `u64`
/// here, so a negative offset cannot be expressed and that check is gone. What `u64`
/// adds, offsets past Go's `int64`, read nothing, as any offset past the end.
pub async fn test_reader_with_offset(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let filename = random_path(32);
    let chunk = 32usize;
    let full = random_contents(3 * chunk);
    d.put_content(&filename, full.clone()).await.expect("put");

    for (offset, expected) in [
        (0, &full[..]),
        (chunk, &full[chunk..]),
        (2 * chunk, &full[2 * chunk..]),
    ] {
        let r = d.reader(&filename, offset as u64).await.expect("reader");
        assert_eq!(read_all(r).await, expected, "offset {offset}");
    }

    // At the end: a reader that gives 0 bytes (EOF).
    let mut r = d
        .reader(&filename, (3 * chunk) as u64)
        .await
        .expect("reader at end");
    let mut buf = vec![0u8; chunk];
    assert_eq!(r.read(&mut buf).await.expect("read"), 0);

    // N-1: one byte, then EOF.
    let mut r = d
        .reader(&filename, (3 * chunk - 1) as u64)
        .await
        .expect("reader at end - 1");
    assert_eq!(r.read(&mut buf).await.expect("read"), 1);
    assert_eq!(buf[0], full[3 * chunk - 1]);
    assert_eq!(r.read(&mut buf).await.expect("read"), 0);

    for offset in [i64::MAX.unsigned_abs() + 1, u64::MAX] {
        let r = d
            .reader(&filename, offset)
            .await
            .unwrap_or_else(|e| panic!("reader at {offset}: {e}"));
        assert!(read_all(r).await.is_empty(), "offset {offset}");
    }

    delete_path(d, first_component(&filename)).await;
}

async fn continue_stream_append(d: &dyn StorageDriver, chunk: usize) {
    let filename = random_path(32);
    let full = random_contents(3 * chunk);

    let mut w = d.writer(&filename, false).await.expect("writer");
    assert_eq!(write_chunked(&mut *w, &full[..chunk]).await, chunk as u64);
    w.close().await.expect("close");
    let cur = w.size();
    assert_eq!(cur, chunk as u64);

    let mut w = d.writer(&filename, true).await.expect("append writer");
    assert_eq!(w.size(), cur);
    assert_eq!(
        write_chunked(&mut *w, &full[chunk..2 * chunk]).await,
        chunk as u64
    );
    w.close().await.expect("close");
    let cur = w.size();
    assert_eq!(cur, 2 * chunk as u64);

    let mut w = d.writer(&filename, true).await.expect("append writer");
    assert_eq!(w.size(), cur);
    assert_eq!(
        write_chunked(&mut *w, &full[2 * chunk..]).await,
        chunk as u64
    );
    w.commit().await.expect("commit");
    w.close().await.expect("close after commit");

    let got = d.get_content(&filename).await.expect("get");
    assert!(
        got == full,
        "appended content differs ({} vs {} bytes)",
        got.len(),
        full.len()
    );
    delete_path(d, first_component(&filename)).await;
}

/// Write, close, resume twice, commit, with `append_chunk_size` chunks.
pub async fn test_continue_stream_append_large(d: &dyn StorageDriver, cfg: &SuiteConfig) {
    continue_stream_append(d, cfg.append_chunk_size).await;
}

/// The same with 32-byte chunks (S3's "last part < 5 MiB" path).
pub async fn test_continue_stream_append_small(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    continue_stream_append(d, 32).await;
}

/// Reader of a missing path is PathNotFound at offsets 0 and 64.
pub async fn test_read_nonexistent_stream(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let filename = random_path(32);
    for offset in [0, 64] {
        match d.reader(&filename, offset).await {
            Err(e) => assert_not_found(&e, d),
            Ok(_) => panic!("reader of a missing path at {offset}"),
        }
    }
}

async fn append_after_empty(d: &dyn StorageDriver, filename: &str) {
    let chunk = random_contents(32);
    let mut r = d
        .reader(filename, 0)
        .await
        .expect("reader of empty content");
    let mut buf = [0u8; 32];
    assert_eq!(r.read(&mut buf).await.expect("read"), 0);

    let mut w = d
        .writer(filename, true)
        .await
        .expect("append to empty content");
    assert_eq!(write_chunked(&mut *w, &chunk).await, 32);
    w.commit().await.expect("commit");
    w.close().await.expect("close");
    assert_eq!(w.size(), 32);

    let r = d.reader(filename, 0).await.expect("reader");
    assert_eq!(read_all(r).await, chunk);
}

/// A committed zero-byte stream can be appended to.
pub async fn test_write_zero_byte_stream_then_append(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let filename = random_path(32);
    let mut w = d.writer(&filename, false).await.expect("writer");
    w.commit().await.expect("commit");
    w.close().await.expect("close");
    assert_eq!(w.size(), 0);
    append_after_empty(d, &filename).await;
    delete_path(d, first_component(&filename)).await;
}

/// Zero-byte PutContent can be appended to.
pub async fn test_write_zero_byte_content_then_append(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let filename = random_path(32);
    d.put_content(&filename, Bytes::new())
        .await
        .expect("put empty");
    append_after_empty(d, &filename).await;
    delete_path(d, first_component(&filename)).await;
}

/// List of a missing dir is exactly `PathNotFound{path, driver}`; 50 files are
/// listed as direct children only.
pub async fn test_list(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let root = format!("/{}", random_filename(8 + rand_below(8) as usize));
    let missing = format!("{root}/nonexistent");
    match d.list(&missing).await {
        Err(DriverError::PathNotFound { path, driver }) => {
            assert_eq!(path, missing);
            assert_eq!(driver, d.name());
        }
        other => panic!("list of a missing directory: {other:?}"),
    }

    let parent = format!("{root}/{}", random_filename(8 + rand_below(8) as usize));
    let mut children: Vec<String> = (0..50)
        .map(|_| format!("{parent}/{}", random_filename(8 + rand_below(8) as usize)))
        .collect();
    for child in &children {
        d.put_content(child, random_contents(32))
            .await
            .expect("put");
    }
    children.sort();
    children.dedup();

    assert_eq!(
        d.list("/").await.expect("list /"),
        std::slice::from_ref(&root)
    );
    assert_eq!(
        d.list(&root).await.expect("list root"),
        std::slice::from_ref(&parent)
    );
    let mut keys = d.list(&parent).await.expect("list parent");
    keys.sort();
    assert_eq!(keys, children);

    delete_path(d, &root).await;
}

/// Move makes the source disappear and the destination hold its content.
pub async fn test_move(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let contents = random_contents(32);
    let src = random_path(32);
    let dst = random_path(32);
    d.put_content(&src, contents.clone()).await.expect("put");
    d.move_to(&src, &dst).await.expect("move");
    assert_eq!(d.get_content(&dst).await.expect("get dst"), contents);
    assert_not_found(&d.get_content(&src).await.unwrap_err(), d);
    delete_path(d, first_component(&src)).await;
    delete_path(d, first_component(&dst)).await;
}

/// Move replaces an existing destination.
pub async fn test_move_overwrite(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let src = random_path(32);
    let dst = random_path(32);
    let src_contents = random_contents(32);
    d.put_content(&src, src_contents.clone())
        .await
        .expect("put src");
    d.put_content(&dst, random_contents(64))
        .await
        .expect("put dst");
    d.move_to(&src, &dst).await.expect("move");
    assert_eq!(d.get_content(&dst).await.expect("get dst"), src_contents);
    assert_not_found(&d.get_content(&src).await.unwrap_err(), d);
    delete_path(d, first_component(&src)).await;
    delete_path(d, first_component(&dst)).await;
}

/// Moving a missing source fails with PathNotFound and leaves the destination.
pub async fn test_move_nonexistent(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let contents = random_contents(32);
    let src = random_path(32);
    let dst = random_path(32);
    d.put_content(&dst, contents.clone())
        .await
        .expect("put dst");
    assert_not_found(&d.move_to(&src, &dst).await.unwrap_err(), d);
    assert_eq!(d.get_content(&dst).await.expect("get dst"), contents);
    delete_path(d, first_component(&dst)).await;
}

/// Moving below a regular file fails.
pub async fn test_move_invalid(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    d.put_content("/notadir", random_contents(32))
        .await
        .expect("put");
    let res = d.move_to("/notadir/foo", "/notadir/bar").await;
    delete_path(d, "/notadir").await;
    assert!(res.is_err(), "move below a file succeeded");
}

/// Deleted content is gone.
pub async fn test_delete(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let filename = random_path(32);
    d.put_content(&filename, random_contents(32))
        .await
        .expect("put");
    d.delete(&filename).await.expect("delete");
    assert_not_found(&d.get_content(&filename).await.unwrap_err(), d);
    delete_path(d, first_component(&filename)).await;
}

/// If the driver redirects, the URL serves the content (GET) and its size
/// (HEAD); a driver that serves content itself passes trivially, as in Go.
pub async fn test_redirect_url(d: &dyn StorageDriver, cfg: &SuiteConfig) {
    let filename = random_path(32);
    let contents = random_contents(32);
    d.put_content(&filename, contents.clone())
        .await
        .expect("put");
    let result = check_redirect(d, cfg, &filename, &contents).await;
    delete_path(d, first_component(&filename)).await;
    if let Err(message) = result {
        panic!("{message}");
    }
}

async fn check_redirect(
    d: &dyn StorageDriver,
    cfg: &SuiteConfig,
    filename: &str,
    contents: &[u8],
) -> Result<(), String> {
    let get = d
        .redirect_url(&RedirectRequest::new("GET"), filename)
        .await
        .map_err(|e| format!("redirect_url(GET): {e}"))?;
    let Some(url) = get else {
        if cfg.expect_redirect {
            return Err("expected a redirect URL for GET, got None".into());
        }
        println!(
            "test_redirect_url: {} serves content itself; nothing to check",
            d.name()
        );
        return Ok(());
    };
    let client = reqwest::Client::new();
    let resp = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| format!("GET body: {e}"))?;
    if !status.is_success() || body.as_ref() != contents {
        return Err(format!("GET {url}: status {status}, {} bytes", body.len()));
    }
    let head = d
        .redirect_url(&RedirectRequest::new("HEAD"), filename)
        .await
        .map_err(|e| format!("redirect_url(HEAD): {e}"))?;
    let Some(url) = head else { return Ok(()) };
    let resp = client
        .head(&url)
        .send()
        .await
        .map_err(|e| format!("HEAD {url}: {e}"))?;
    let length = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if resp.status().as_u16() != 200 || length != Some(contents.len() as u64) {
        return Err(format!(
            "HEAD {url}: status {}, length {length:?}",
            resp.status()
        ));
    }
    Ok(())
}

/// Deleting a missing path is PathNotFound.
pub async fn test_delete_nonexistent(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    assert_not_found(&d.delete(&random_path(32)).await.unwrap_err(), d);
}

/// Deleting one file of a folder keeps the others; deleting the folder removes all.
pub async fn test_delete_folder(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let dirname = random_path(32);
    let files: Vec<String> = (0..3)
        .map(|_| format!("{dirname}{}", random_path(32)))
        .collect();
    let contents = random_contents(32);
    for f in &files {
        d.put_content(f, contents.clone()).await.expect("put");
    }
    d.delete(&files[0]).await.expect("delete one file");
    assert_not_found(&d.get_content(&files[0]).await.unwrap_err(), d);
    d.get_content(&files[1]).await.expect("sibling kept");
    d.get_content(&files[2]).await.expect("sibling kept");
    d.delete(&dirname).await.expect("delete folder");
    for f in &files {
        assert_not_found(&d.get_content(f).await.unwrap_err(), d);
    }
    delete_path(d, first_component(&dirname)).await;
}

/// Deleting `d/f` keeps `d/fsuffix`; deleting `d/d` keeps `d/dsuffix/f`.
pub async fn test_delete_only_deletes_subpaths(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let dirname = random_path(32);
    let filename = random_path(32);
    let contents = random_contents(32);
    let file = format!("{dirname}{filename}");
    let file_suffix = format!("{dirname}{filename}suffix");
    let nested = format!("{dirname}{dirname}{filename}");
    let nested_suffix = format!("{dirname}{dirname}suffix{filename}");
    for p in [&file, &file_suffix, &nested, &nested_suffix] {
        d.put_content(p, contents.clone()).await.expect("put");
    }
    d.delete(&file).await.expect("delete file");
    assert_not_found(&d.get_content(&file).await.unwrap_err(), d);
    d.get_content(&file_suffix)
        .await
        .expect("sibling with suffix kept");
    d.delete(&format!("{dirname}{dirname}"))
        .await
        .expect("delete dir");
    assert_not_found(&d.get_content(&nested).await.unwrap_err(), d);
    d.get_content(&nested_suffix)
        .await
        .expect("dir with suffix kept");
    delete_path(d, first_component(&dirname)).await;
}

/// Stat of missing paths, a file (size, path, later mod time after rewrite),
/// a directory, and the root.
pub async fn test_stat_call(d: &dyn StorageDriver, cfg: &SuiteConfig) {
    let dir_path = random_path(32);
    let file_path = format!("{dir_path}/{}", random_filename(32));

    for p in [&dir_path, &file_path] {
        assert_not_found(&d.stat(p).await.unwrap_err(), d);
    }

    let content = random_contents(4096);
    d.put_content(&file_path, content.clone())
        .await
        .expect("put");
    let fi = d.stat(&file_path).await.expect("stat file");
    assert_eq!(fi.path, file_path);
    assert_eq!(fi.size, content.len() as u64);
    assert!(!fi.is_dir);
    let created = fi.mod_time.expect("files have a mod time");

    tokio::time::sleep(cfg.mod_time_sleep).await;
    d.put_content(&file_path, random_contents(4096))
        .await
        .expect("rewrite");
    let fi = d.stat(&file_path).await.expect("stat file");
    tokio::time::sleep(cfg.consistency_sleep).await;
    let modified = fi.mod_time.expect("files have a mod time");
    assert!(
        modified > created,
        "modtime ({modified:?}) is not after the creation time ({created:?})"
    );

    let fi = d.stat(&dir_path).await.expect("stat dir");
    assert_eq!(fi.path, dir_path);
    assert_eq!(fi.size, 0);
    assert!(fi.is_dir);

    // The health check's call: success or PathNotFound.
    if let Err(e) = d.stat("/").await {
        assert!(e.is_path_not_found(), "stat(/): {e}");
    }
    delete_path(d, first_component(&dir_path)).await;
}

/// A second, smaller put replaces the first entirely.
pub async fn test_put_content_multiple_times(d: &dyn StorageDriver, _cfg: &SuiteConfig) {
    let filename = random_path(32);
    d.put_content(&filename, random_contents(4096))
        .await
        .expect("put");
    let contents = random_contents(2048);
    d.put_content(&filename, contents.clone())
        .await
        .expect("put again");
    assert_eq!(d.get_content(&filename).await.expect("get"), contents);
    delete_path(d, first_component(&filename)).await;
}

/// Ten concurrent readers at random offsets (128 MiB, 10 MiB in short mode).
pub async fn test_concurrent_stream_reads(d: &dyn StorageDriver, cfg: &SuiteConfig) {
    let size = if cfg.short { 10 * MIB } else { 128 * MIB };
    let filename = random_path(32);
    let contents = random_contents(size);
    d.put_content(&filename, contents.clone())
        .await
        .expect("put");
    let readers = (0..10).map(|_| {
        let offset = rand_below(size as u64) as usize;
        let (filename, contents) = (&filename, &contents);
        async move {
            let r = d.reader(filename, offset as u64).await.expect("reader");
            let got = read_all(r).await;
            assert!(
                got == contents[offset..],
                "content from offset {offset} differs"
            );
        }
    });
    join_all(readers).await;
    delete_path(d, first_component(&filename)).await;
}

async fn file_streams(d: &dyn StorageDriver, size: usize) {
    let contents = random_contents(size);
    let mut tf = tempfile::NamedTempFile::new().expect("temp file");
    tf.write_all(&contents).expect("write temp file");
    tf.as_file().sync_all().expect("sync temp file");
    let mut source = tokio::fs::File::open(tf.path())
        .await
        .expect("open temp file");

    let filename = random_path(32);
    let mut w = d.writer(&filename, false).await.expect("writer");
    let n = copy_to_writer(&mut source, &mut *w).await.expect("copy");
    assert_eq!(n, size as u64);
    w.commit().await.expect("commit");
    w.close().await.expect("close");
    let r = d.reader(&filename, 0).await.expect("reader");
    assert!(read_all(r).await == contents, "file stream content differs");
    delete_path(d, first_component(&filename)).await;
}

/// Copies `reader` to `writer` in 32 KiB pieces (Go's `io.Copy`) and returns the
/// number of bytes copied. Neither commits nor closes the writer.
///
/// # Errors
/// A read error (as [`DriverError::Other`]) or the writer's error.
async fn copy_to_writer<R>(reader: &mut R, writer: &mut dyn FileWriter) -> Result<u64, DriverError>
where
    R: AsyncRead + Unpin + ?Sized,
{
    let mut buf = vec![0u8; 32 * 1024];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        writer.write(&buf[..n]).await?;
        total += n as u64;
    }
}

/// Parallel writers fed from files (32 x 32 MiB, 8 x 8 MiB in short mode).
pub async fn test_concurrent_file_streams(d: &dyn StorageDriver, cfg: &SuiteConfig) {
    let streams = if cfg.short { 8 } else { 32 };
    join_all((0..streams).map(|_| file_streams(d, streams * MIB))).await;
}

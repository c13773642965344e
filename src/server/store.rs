//! Storage operations shared by the handlers: link files and the per-repository
//! view of the global blob store (Distribution's `blobStore`,
//! `linkedBlobStatter`).

use bytes::Bytes;

use super::digest::Digest;
use super::error::ApiError;
use super::paths;
use crate::driver::{DriverError, StorageDriver};

/// A blob as a repository sees it: the canonical digest its link points to and
/// its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobDesc {
    /// The digest the link resolves to (where the data is stored).
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
}

/// Reads a link file. `Ok(None)` if it does not exist.
///
/// # Errors
/// A storage failure, or a link whose content is not a digest.
pub async fn read_link(driver: &dyn StorageDriver, path: &str) -> Result<Option<Digest>, ApiError> {
    match driver.get_content(path).await {
        Ok(content) => {
            let text = String::from_utf8_lossy(&content);
            text.trim()
                .parse::<Digest>()
                .map(Some)
                .map_err(|e| ApiError::internal(&format!("corrupt link file {path}: {e}")))
        }
        Err(e) if e.is_path_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Writes a link file containing `target`'s digest string.
///
/// # Errors
/// A storage failure.
pub async fn write_link(
    driver: &dyn StorageDriver,
    path: &str,
    target: &Digest,
) -> Result<(), ApiError> {
    driver
        .put_content(path, Bytes::from(target.to_string()))
        .await
        .map_err(ApiError::from)
}

/// Size of the blob stored under `digest`, `None` if there is none (or a
/// directory is in its place).
///
/// # Errors
/// A storage failure.
pub async fn stat_blob(
    driver: &dyn StorageDriver,
    digest: &Digest,
) -> Result<Option<u64>, ApiError> {
    Ok(driver
        .stat_file(&paths::blob_data(digest))
        .await?
        .map(|fi| fi.size))
}

/// Resolves `link_path` and checks the blob it points to exists.
///
/// # Errors
/// A storage failure or a corrupt link.
pub async fn resolve(
    driver: &dyn StorageDriver,
    link_path: &str,
) -> Result<Option<BlobDesc>, ApiError> {
    let Some(target) = read_link(driver, link_path).await? else {
        return Ok(None);
    };
    Ok(stat_blob(driver, &target).await?.map(|size| BlobDesc {
        digest: target,
        size,
    }))
}

/// A blob of repository `name` (its `_layers` link and the data).
///
/// # Errors
/// A storage failure or a corrupt link.
pub async fn repo_blob(
    driver: &dyn StorageDriver,
    name: &str,
    digest: &Digest,
) -> Result<Option<BlobDesc>, ApiError> {
    resolve(driver, &paths::layer_link(name, digest)).await
}

/// A manifest revision of repository `name`.
///
/// # Errors
/// A storage failure or a corrupt link.
pub async fn repo_manifest(
    driver: &dyn StorageDriver,
    name: &str,
    digest: &Digest,
) -> Result<Option<BlobDesc>, ApiError> {
    resolve(driver, &paths::manifest_revision_link(name, digest)).await
}

/// Links `canonical` into repository `name` under its own digest and under
/// `alias` (e.g. the sha512 digest a client used), Distribution's `linkBlob`.
///
/// # Errors
/// A storage failure.
pub async fn link_layer(
    driver: &dyn StorageDriver,
    name: &str,
    canonical: &Digest,
    alias: Option<&Digest>,
) -> Result<(), ApiError> {
    write_link(driver, &paths::layer_link(name, canonical), canonical).await?;
    if let Some(a) = alias.filter(|a| *a != canonical) {
        write_link(driver, &paths::layer_link(name, a), canonical).await?;
    }
    Ok(())
}

/// Deletes `path`, treating "already gone" as success.
///
/// # Errors
/// Any other storage failure.
pub async fn delete_if_exists(driver: &dyn StorageDriver, path: &str) -> Result<(), DriverError> {
    match driver.delete(path).await {
        Err(e) if !e.is_path_not_found() => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::InMemoryDriver;
    use crate::server::error::ErrorCode;

    #[tokio::test]
    async fn links_resolve_to_blobs() {
        let d = crate::driver::Base::new(InMemoryDriver::new());
        let data = Bytes::from_static(b"hello");
        let dg = Digest::sha256_of(&data);
        assert_eq!(repo_blob(&d, "r", &dg).await.unwrap(), None);
        d.put_content(&paths::blob_data(&dg), data).await.unwrap();
        let s512 = super::super::digest::Algorithm::Sha512.digest(b"hello");
        link_layer(&d, "r", &dg, Some(&s512)).await.unwrap();
        let want = Some(BlobDesc {
            digest: dg.clone(),
            size: 5,
        });
        assert_eq!(repo_blob(&d, "r", &dg).await.unwrap(), want);
        assert_eq!(repo_blob(&d, "r", &s512).await.unwrap(), want);
        assert_eq!(
            d.get_content(&paths::layer_link("r", &s512)).await.unwrap(),
            dg.to_string()
        );
        d.put_content(&paths::layer_link("x", &dg), Bytes::from_static(b"junk"))
            .await
            .unwrap();
        let e = repo_blob(&d, "x", &dg).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Unknown);
        delete_if_exists(&d, "/nothing/here").await.unwrap();
    }
}

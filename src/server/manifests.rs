//! `/v2/<name>/manifests/<reference>` (Distribution's `manifests.go`,
//! `manifeststore.go`, `ocimanifesthandler.go`, `schema2manifesthandler.go`,
//! `manifestlisthandler.go`, `tagstore.go`).
//!
//! A manifest is stored as a blob (`blobs/sha256/...`), linked as a revision
//! (`_manifests/revisions/sha256/<hex>/link`) and, when put by tag, indexed
//! under the tag (`_manifests/tags/<tag>/index/...` and `current/link`). Its
//! media type is not stored separately: it is the `mediaType` field, which
//! must agree with the `Content-Type` of the PUT, so GET answers with the
//! content type the manifest was put with.

use bytes::Bytes;
use futures_util::TryStreamExt;
use hyper::body::Incoming;
use hyper::header::{HeaderName, ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, ETAG, LOCATION};
use hyper::{Method, Request, StatusCode};
use serde_json::Value;

use super::blobs::{if_none_match, parse_digest, DOCKER_CONTENT_DIGEST};
use super::digest::{Algorithm, Digest};
use super::error::{ApiError, ApiErrors, ErrorCode};
use super::names::is_valid_tag;
use super::notifications::{Action, Event};
use super::reply::Reply;
use super::{body, paths, store, Ctx, HandlerResult};

/// OCI image manifest.
pub(super) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub(super) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest, schema 2.
pub(super) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub(super) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Largest accepted manifest (Distribution's `maxManifestBodySize`).
const MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;

/// Most distinct descriptors a manifest may reference (an image has one per
/// layer, at most 128 on overlay file systems; an index one per platform).
const MAX_REFERENCES: usize = 4096;

/// Reference lookups in flight at once while verifying a manifest.
const VERIFY_CONCURRENCY: usize = 16;

const OCI_SUBJECT: HeaderName = HeaderName::from_static("oci-subject");

/// Layer media types whose blobs may live elsewhere (`urls`) and need not be
/// in the registry.
const FOREIGN_LAYERS: &[&str] = &[
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
];

/// What a manifest references and what it is.
#[derive(Debug)]
pub(super) struct Parsed {
    /// One of the four supported media types.
    pub media_type: &'static str,
    /// Everything the manifest points at (config, layers, or child manifests).
    references: Vec<Reference>,
    /// The `subject` digest, if any.
    pub subject: Option<String>,
}

#[derive(Debug)]
struct Reference {
    digest: String,
    media_type: String,
    foreign: bool,
    manifest: bool,
}

/// The media type of a request's `Content-Type` (Go's `mime.ParseMediaType`:
/// parameters dropped, lower-cased).
fn media_type_of(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn invalid(detail: impl Into<String>) -> ApiErrors {
    ErrorCode::ManifestInvalid.with_detail(detail.into()).into()
}

/// Validates a manifest put with `content_type` (Distribution's
/// `UnmarshalManifest` plus the schema checks of each handler).
pub(super) fn parse_put(content_type: &str, payload: &[u8]) -> Result<Parsed, ApiErrors> {
    let v: Value =
        serde_json::from_slice(payload).map_err(|e| invalid(format!("invalid JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| invalid("a manifest must be a JSON object"))?;
    let field_type = match obj.get("mediaType") {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(invalid("mediaType must be a string")),
    };
    let ct = media_type_of(content_type);
    let kind: &'static str = match ct.as_str() {
        OCI_MANIFEST => OCI_MANIFEST,
        OCI_INDEX => OCI_INDEX,
        DOCKER_MANIFEST => DOCKER_MANIFEST,
        DOCKER_LIST => DOCKER_LIST,
        "" | "application/json" | "application/octet-stream" => match field_type {
            Some(OCI_MANIFEST) => OCI_MANIFEST,
            Some(OCI_INDEX) => OCI_INDEX,
            Some(DOCKER_MANIFEST) => DOCKER_MANIFEST,
            Some(DOCKER_LIST) => DOCKER_LIST,
            _ => {
                return Err(invalid(format!(
                    "unsupported manifest media type {ct:?}; set Content-Type to one of {OCI_MANIFEST}, {OCI_INDEX}, {DOCKER_MANIFEST}, {DOCKER_LIST}"
                )))
            }
        },
        other => {
            return Err(invalid(format!(
                "unsupported manifest media type {other:?}; supported: {OCI_MANIFEST}, {OCI_INDEX}, {DOCKER_MANIFEST}, {DOCKER_LIST}"
            )))
        }
    };
    // Docker types require their mediaType field; OCI ones allow it to be absent.
    let oci = kind == OCI_MANIFEST || kind == OCI_INDEX;
    match field_type {
        Some(f) if f != kind => {
            return Err(invalid(format!(
                "mediaType in manifest should be '{kind}' not '{f}'"
            )))
        }
        None if !oci => {
            return Err(invalid(format!(
                "mediaType in manifest should be '{kind}' not ''"
            )))
        }
        _ => {}
    }
    if obj.get("schemaVersion").and_then(Value::as_i64) != Some(2) {
        return Err(invalid(
            "unrecognized manifest schema version; expected schemaVersion 2",
        ));
    }
    let index = kind == OCI_INDEX || kind == DOCKER_LIST;
    let mut references = Vec::new();
    if index {
        if obj.contains_key("config") || obj.contains_key("layers") {
            return Err(invalid("an index must not have config or layers"));
        }
        for d in descriptors(obj.get("manifests"), "manifests", true)? {
            references.push(reference(d, "manifests")?);
        }
        for r in &mut references {
            r.manifest = true;
        }
    } else {
        if obj.contains_key("manifests") {
            return Err(invalid("an image manifest must not have manifests"));
        }
        let config = obj
            .get("config")
            .ok_or_else(|| invalid("config is missing"))?;
        references.push(reference(config, "config")?);
        for d in descriptors(obj.get("layers"), "layers", false)? {
            references.push(reference(d, "layers")?);
        }
    }
    let subject = match obj.get("subject") {
        None | Some(Value::Null) => None,
        Some(s) => Some(reference(s, "subject")?.digest),
    };
    Ok(Parsed {
        media_type: kind,
        references,
        subject,
    })
}

fn descriptors<'a>(
    v: Option<&'a Value>,
    field: &str,
    required: bool,
) -> Result<&'a [Value], ApiErrors> {
    match v {
        Some(Value::Array(a)) => Ok(a),
        None | Some(Value::Null) if !required => Ok(&[]),
        _ => Err(invalid(format!("{field} must be a list of descriptors"))),
    }
}

fn reference(d: &Value, field: &str) -> Result<Reference, ApiErrors> {
    let o = d
        .as_object()
        .ok_or_else(|| invalid(format!("{field}: a descriptor must be an object")))?;
    let digest = o
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{field}: descriptor digest is missing")))?
        .to_owned();
    if let Some(size) = o.get("size") {
        if size.as_i64().is_none_or(|s| s < 0) {
            return Err(invalid(format!(
                "{field}: descriptor size must be a non-negative integer"
            )));
        }
    }
    let media_type = o
        .get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let foreign = FOREIGN_LAYERS.contains(&media_type.as_str())
        && o.get("urls")
            .and_then(Value::as_array)
            .is_some_and(|u| !u.is_empty());
    let manifest = matches!(
        media_type.as_str(),
        OCI_MANIFEST | OCI_INDEX | DOCKER_MANIFEST | DOCKER_LIST
    );
    Ok(Reference {
        digest,
        media_type,
        foreign,
        manifest,
    })
}

/// The media type to serve stored `payload` with: its `mediaType` field, or
/// for OCI content without one, index vs manifest by shape.
pub(super) fn stored_media_type(payload: &[u8]) -> (String, Option<Value>) {
    let v: Option<Value> = serde_json::from_slice(payload).ok();
    let mt = match v
        .as_ref()
        .and_then(|v| v.get("mediaType"))
        .and_then(Value::as_str)
    {
        Some(m) => m.to_owned(),
        None => match &v {
            Some(v) if v.get("schemaVersion").and_then(Value::as_i64) == Some(1) => {
                "application/vnd.docker.distribution.manifest.v1+prettyjws".to_owned()
            }
            Some(v) if v.get("manifests").is_some() => OCI_INDEX.to_owned(),
            _ => OCI_MANIFEST.to_owned(),
        },
    };
    (mt, v)
}

/// Checks that everything `parsed` references exists in repository `name`.
/// Checks that everything the manifest references is in the repository. The
/// cost is bounded whatever the manifest says: references are deduplicated,
/// capped at [`MAX_REFERENCES`], looked up [`VERIFY_CONCURRENCY`] at a time,
/// and the check stops at the first one missing.
async fn verify(ctx: &Ctx<'_>, name: &str, parsed: &Parsed) -> Result<(), ApiErrors> {
    let driver = ctx.driver();
    let mut seen = std::collections::HashSet::new();
    let mut errors = Vec::new();
    let mut lookups = Vec::new();
    for r in &parsed.references {
        if !seen.insert(r.digest.as_str()) {
            continue;
        }
        let Ok(d) = r.digest.parse::<Digest>() else {
            errors.push(ErrorCode::DigestInvalid.with_detail(r.digest.clone()));
            errors.push(ErrorCode::ManifestBlobUnknown.with_detail(r.digest.clone()));
            continue;
        };
        if !r.foreign {
            lookups.push((d, r));
        }
    }
    if seen.len() > MAX_REFERENCES {
        return Err(invalid(format!(
            "the manifest references {} distinct descriptors; at most {MAX_REFERENCES} are accepted",
            seen.len()
        )));
    }
    if !errors.is_empty() {
        return Err(ApiErrors(errors));
    }
    futures_util::stream::iter(lookups.into_iter().map(Ok::<_, ApiErrors>))
        .try_for_each_concurrent(VERIFY_CONCURRENCY, |(d, r)| async move {
            let present = if r.manifest {
                store::repo_manifest(driver, name, &d).await?.is_some()
                    || (parsed.media_type == OCI_MANIFEST
                        && store::repo_blob(driver, name, &d).await?.is_some())
            } else {
                store::repo_blob(driver, name, &d).await?.is_some()
            };
            if present {
                Ok(())
            } else {
                tracing::debug!(digest = %d, media_type = %r.media_type, "manifest references an unknown blob");
                Err(ApiErrors::from(
                    ErrorCode::ManifestBlobUnknown.with_detail(d.to_string()),
                ))
            }
        })
        .await
}

/// A reference: a tag or a digest.
enum Ref {
    Tag(String),
    Digest(Digest),
}

fn parse_reference(reference: &str) -> Result<Ref, ApiErrors> {
    if reference.contains(':') {
        parse_digest(reference).map(Ref::Digest)
    } else if is_valid_tag(reference) {
        Ok(Ref::Tag(reference.to_owned()))
    } else {
        Err(ErrorCode::TagInvalid
            .with_detail(format!("invalid tag {reference:?}"))
            .into())
    }
}

/// `PUT`.
pub(super) async fn put(
    ctx: &Ctx<'_>,
    req: Request<Incoming>,
    name: &str,
    reference: &str,
) -> HandlerResult {
    let reference = parse_reference(reference)?;
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let payload = body::read_to_limit(
        req.into_body(),
        MAX_MANIFEST_SIZE,
        ctx.state.settings.body_idle_timeout,
    )
    .await
    .map_err(|e| match e {
        body::ReadError::TooLarge(limit) => ApiErrors::from(
            ErrorCode::ManifestInvalid
                .with_detail(format!("the manifest is larger than {limit} bytes"))
                .with_status(StatusCode::PAYLOAD_TOO_LARGE),
        ),
        other => other.into(),
    })?;
    let parsed = parse_put(&ct, &payload)?;
    let canonical = Digest::sha256_of(&payload);
    let digest = match &reference {
        Ref::Digest(d) => {
            let computed = if d.algorithm() == Algorithm::Sha256 {
                canonical.clone()
            } else {
                d.algorithm().digest(&payload)
            };
            if computed != *d {
                return Err(ErrorCode::DigestInvalid
                    .with_detail(format!("payload digest {computed} does not match {d}"))
                    .into());
            }
            d.clone()
        }
        Ref::Tag(_) => canonical.clone(),
    };
    verify(ctx, name, &parsed).await?;
    let driver = ctx.driver();
    if store::stat_blob(driver, &canonical).await?.is_none() {
        driver
            .put_content(&paths::blob_data(&canonical), payload.clone())
            .await
            .map_err(ApiError::from)?;
    }
    store::write_link(
        driver,
        &paths::manifest_revision_link(name, &canonical),
        &canonical,
    )
    .await?;
    if digest != canonical {
        store::write_link(
            driver,
            &paths::manifest_revision_link(name, &digest),
            &canonical,
        )
        .await?;
    }
    if let Ref::Tag(tag) = &reference {
        store::write_link(
            driver,
            &paths::tag_index_link(name, tag, &canonical),
            &canonical,
        )
        .await?;
        store::write_link(driver, &paths::tag_current_link(name, tag), &canonical).await?;
    }
    tracing::debug!(repository = name, %digest, media_type = parsed.media_type, "manifest stored");
    let tag = match &reference {
        Ref::Tag(t) => Some(t.as_str()),
        Ref::Digest(_) => None,
    };
    ctx.notify(Event::manifest(
        Action::Push,
        name,
        parsed.media_type,
        &canonical.to_string(),
        &payload,
        tag,
    ));
    let mut reply = Reply::new(StatusCode::CREATED)
        .header(LOCATION, ctx.url(&format!("/v2/{name}/manifests/{digest}")))
        .header(DOCKER_CONTENT_DIGEST, digest.to_string());
    if let Some(subject) = &parsed.subject {
        reply = reply.header(OCI_SUBJECT, subject);
    }
    Ok(reply.empty())
}

/// The media types an `Accept` header lists.
fn accepted(req: &Request<Incoming>) -> Vec<String> {
    req.headers()
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(media_type_of)
        .filter(|m| !m.is_empty())
        .collect()
}

/// Loads a revision of repository `name`: its canonical digest and content.
async fn load(ctx: &Ctx<'_>, name: &str, digest: &Digest) -> Result<(Digest, Bytes), ApiErrors> {
    let unknown = || {
        ApiErrors::from(
            ErrorCode::ManifestUnknown.with_detail(format!("unknown manifest revision {digest}")),
        )
    };
    let Some(desc) = store::repo_manifest(ctx.driver(), name, digest).await? else {
        return Err(unknown());
    };
    match ctx
        .driver()
        .get_content(&paths::blob_data(&desc.digest))
        .await
    {
        Ok(c) => Ok((desc.digest, c)),
        Err(e) if e.is_path_not_found() => Err(unknown()),
        Err(e) => Err(ApiError::from(e).into()),
    }
}

/// `GET`/`HEAD`.
pub(super) async fn get(
    ctx: &Ctx<'_>,
    req: &Request<Incoming>,
    name: &str,
    reference: &str,
) -> HandlerResult {
    super::proxy::ensure_manifest(ctx, name, reference).await?;
    let reference = parse_reference(reference).map_err(|e| {
        if e.0[0].code == ErrorCode::TagInvalid {
            ApiErrors::from(
                ErrorCode::ManifestUnknown.with_detail(format!("unknown tag {reference:?}")),
            )
        } else {
            e
        }
    })?;
    let (mut digest, by_tag) = match &reference {
        Ref::Digest(d) => (d.clone(), false),
        Ref::Tag(tag) => {
            let target =
                store::read_link(ctx.driver(), &paths::tag_current_link(name, tag)).await?;
            let d = target.ok_or_else(|| {
                ErrorCode::ManifestUnknown.with_detail(serde_json::json!({ "Tag": tag }))
            })?;
            (d, true)
        }
    };
    if if_none_match(req, &digest.to_string()) {
        return Ok(Reply::new(StatusCode::NOT_MODIFIED)
            .header(ETAG, format!("\"{digest}\""))
            .header(DOCKER_CONTENT_DIGEST, digest.to_string())
            .with_body(body::empty()));
    }
    let (_, mut content) = load(ctx, name, &digest).await?;
    let (mut media_type, json) = stored_media_type(&content);
    let accept = accepted(req);
    let supports = |m: &str| accept.iter().any(|a| a == m);
    if media_type == OCI_MANIFEST && !supports(OCI_MANIFEST) {
        return Err(ErrorCode::ManifestUnknown
            .with_message("OCI manifest found, but accept header does not support OCI manifests")
            .into());
    }
    if media_type == OCI_INDEX && !supports(OCI_INDEX) {
        return Err(ErrorCode::ManifestUnknown
            .with_message("OCI index found, but accept header does not support OCI indexes")
            .into());
    }
    if by_tag && media_type == DOCKER_LIST && !supports(DOCKER_LIST) {
        // An old client: answer with the linux/amd64 image of the list.
        let child = json
            .as_ref()
            .and_then(|v| v.get("manifests"))
            .and_then(Value::as_array)
            .and_then(|ms| {
                ms.iter().find(|m| {
                    m.pointer("/platform/architecture").and_then(Value::as_str) == Some("amd64")
                        && m.pointer("/platform/os").and_then(Value::as_str) == Some("linux")
                })
            })
            .and_then(|m| m.get("digest")?.as_str()?.parse::<Digest>().ok())
            .ok_or_else(|| ApiErrors::from(ErrorCode::ManifestUnknown))?;
        super::proxy::ensure_manifest(ctx, name, &child.to_string()).await?;
        let (_, c) = load(ctx, name, &child).await?;
        let (mt, _) = stored_media_type(&c);
        if mt == DOCKER_MANIFEST && !supports(DOCKER_MANIFEST) {
            return Err(ErrorCode::ManifestInvalid
                .with_message("Schema 2 manifest not supported by client")
                .into());
        }
        digest = child;
        content = c;
        media_type = mt;
    }
    let tag = match &reference {
        Ref::Tag(t) => Some(t.as_str()),
        Ref::Digest(_) => None,
    };
    ctx.notify(Event::manifest(
        Action::Pull,
        name,
        &media_type,
        &digest.to_string(),
        &content,
        tag,
    ));
    let reply = Reply::new(StatusCode::OK)
        .header(CONTENT_TYPE, &media_type)
        .header(CONTENT_LENGTH, content.len().to_string())
        .header(DOCKER_CONTENT_DIGEST, digest.to_string())
        .header(ETAG, format!("\"{digest}\""));
    if req.method() == Method::HEAD {
        return Ok(reply.with_body(body::empty()));
    }
    Ok(reply.with_body(body::full(content)))
}

/// `DELETE` by tag (removes the tag) or by digest (removes the revision link
/// and every tag currently pointing at it).
pub(super) async fn delete(ctx: &Ctx<'_>, name: &str, reference: &str) -> HandlerResult {
    if !ctx.state.settings.delete_enabled {
        return Err(ErrorCode::Unsupported.into());
    }
    let driver = ctx.driver();
    match parse_reference(reference)? {
        Ref::Tag(tag) => match driver.delete(&paths::tag(name, &tag)).await {
            Ok(()) => {
                ctx.notify(Event::tag_deleted(name, &tag));
                Ok(Reply::new(StatusCode::ACCEPTED).empty())
            }
            Err(e) if e.is_path_not_found() => Err(ErrorCode::ManifestUnknown
                .with_detail(serde_json::json!({ "Tag": tag }))
                .into()),
            Err(e) => Err(ApiError::from(e).into()),
        },
        Ref::Digest(d) => {
            if store::repo_manifest(driver, name, &d).await?.is_none() {
                return Err(ErrorCode::ManifestUnknown.into());
            }
            match driver
                .delete(&paths::manifest_revision_link(name, &d))
                .await
            {
                Ok(()) => {}
                Err(e) if e.is_path_not_found() => return Err(ErrorCode::ManifestUnknown.into()),
                Err(e) => return Err(ApiError::from(e).into()),
            }
            ctx.notify(Event::deleted(name, &d.to_string()));
            let tags = match driver.list(&paths::tags(name)).await {
                Ok(t) => t,
                Err(e) if e.is_path_not_found() => Vec::new(),
                Err(e) => return Err(ApiError::from(e).into()),
            };
            for tag_dir in tags {
                let tag = tag_dir.rsplit('/').next().unwrap_or_default();
                if store::read_link(driver, &paths::tag_current_link(name, tag)).await?
                    == Some(d.clone())
                {
                    store::delete_if_exists(driver, &paths::tag(name, tag))
                        .await
                        .map_err(ApiError::from)?;
                    ctx.notify(Event::tag_deleted(name, tag));
                }
            }
            Ok(Reply::new(StatusCode::ACCEPTED).empty())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn oci(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{D}","size":0}},"layers":[]{extra}}}"#
        )
    }

    #[test]
    fn accepts_the_four_types() {
        let p = parse_put(OCI_MANIFEST, oci("").as_bytes()).unwrap();
        assert_eq!(p.media_type, OCI_MANIFEST);
        assert_eq!(p.references.len(), 1);
        let p = parse_put(
            "application/vnd.oci.image.index.v1+json; charset=utf-8",
            br#"{"schemaVersion":2,"manifests":[]}"#,
        )
        .unwrap();
        assert_eq!(p.media_type, OCI_INDEX);
        let docker = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"digest":"{D}"}},"layers":[{{"digest":"{D}"}}]}}"#
        );
        assert_eq!(
            parse_put(DOCKER_MANIFEST, docker.as_bytes())
                .unwrap()
                .references
                .len(),
            2
        );
        let list = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[{{"digest":"{D}"}}]}}"#
        );
        let p = parse_put("", list.as_bytes()).unwrap();
        assert_eq!(p.media_type, DOCKER_LIST);
        assert!(p.references[0].manifest);
    }

    #[test]
    fn rejects_mismatches_and_confusion() {
        let code = |ct: &str, body: &str| parse_put(ct, body.as_bytes()).unwrap_err().0[0].code;
        assert_eq!(code(OCI_MANIFEST, "{"), ErrorCode::ManifestInvalid);
        assert_eq!(code(OCI_INDEX, &oci("")), ErrorCode::ManifestInvalid);
        assert_eq!(
            code(OCI_MANIFEST, &oci(r#","manifests":[]"#)),
            ErrorCode::ManifestInvalid
        );
        assert_eq!(code(DOCKER_MANIFEST, &oci("")), ErrorCode::ManifestInvalid);
        assert_eq!(code("text/plain", &oci("")), ErrorCode::ManifestInvalid);
        assert_eq!(
            code(OCI_MANIFEST, &oci(r#","mediaType":"x""#)),
            ErrorCode::ManifestInvalid
        );
        assert_eq!(
            code(OCI_MANIFEST, r#"{"schemaVersion":1}"#),
            ErrorCode::ManifestInvalid
        );
        let e = parse_put("", oci("").as_bytes()).unwrap_err();
        assert!(e.to_json().to_string().contains("Content-Type"));
    }

    #[test]
    fn subject_and_media_type_of_stored_content() {
        let p = parse_put(
            OCI_MANIFEST,
            oci(&format!(r#","subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{D}","size":1}},"artifactType":"application/x-sig""#)).as_bytes(),
        )
        .unwrap();
        assert_eq!(p.subject.as_deref(), Some(D));
        assert_eq!(stored_media_type(oci("").as_bytes()).0, OCI_MANIFEST);
        assert_eq!(stored_media_type(br#"{"manifests":[]}"#).0, OCI_INDEX);
        assert_eq!(
            stored_media_type(format!(r#"{{"mediaType":"{DOCKER_LIST}"}}"#).as_bytes()).0,
            DOCKER_LIST
        );
    }
}

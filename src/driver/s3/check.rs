use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::S3Driver;
use crate::client::{ByteRange, Error as ClientError, ListObjectsV2Request, ProvideCredentials};

/// An S3 action of the driver's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `s3:ListBucket` (bucket resource).
    ListBucket,
    /// `s3:GetBucketLocation` (bucket resource).
    GetBucketLocation,
    /// `s3:ListBucketMultipartUploads` (bucket resource).
    ListBucketMultipartUploads,
    /// `s3:PutObject` (object resource).
    PutObject,
    /// `s3:GetObject` (object resource).
    GetObject,
    /// `s3:DeleteObject` (object resource).
    DeleteObject,
    /// `s3:ListMultipartUploadParts` (object resource).
    ListMultipartUploadParts,
    /// `s3:AbortMultipartUpload` (object resource).
    AbortMultipartUpload,
}

impl Action {
    /// What a registry that only pulls needs: list, locate and read.
    pub const PULL: [Action; 3] = [
        Action::ListBucket,
        Action::GetBucketLocation,
        Action::GetObject,
    ];

    /// What pushing (and deleting, upload purging) needs besides [`Action::PULL`].
    pub const PUSH: [Action; 5] = [
        Action::ListBucketMultipartUploads,
        Action::PutObject,
        Action::DeleteObject,
        Action::ListMultipartUploadParts,
        Action::AbortMultipartUpload,
    ];

    /// All actions, in the order they are checked.
    pub const ALL: [Action; 8] = [
        Action::ListBucket,
        Action::GetBucketLocation,
        Action::ListBucketMultipartUploads,
        Action::PutObject,
        Action::GetObject,
        Action::DeleteObject,
        Action::ListMultipartUploadParts,
        Action::AbortMultipartUpload,
    ];

    /// The IAM action name (`s3:PutObject`).
    pub fn iam_name(self) -> &'static str {
        match self {
            Action::ListBucket => "s3:ListBucket",
            Action::GetBucketLocation => "s3:GetBucketLocation",
            Action::ListBucketMultipartUploads => "s3:ListBucketMultipartUploads",
            Action::PutObject => "s3:PutObject",
            Action::GetObject => "s3:GetObject",
            Action::DeleteObject => "s3:DeleteObject",
            Action::ListMultipartUploadParts => "s3:ListMultipartUploadParts",
            Action::AbortMultipartUpload => "s3:AbortMultipartUpload",
        }
    }

    /// Whether the action applies to the bucket (else to objects).
    pub fn on_bucket(self) -> bool {
        matches!(
            self,
            Action::ListBucket | Action::GetBucketLocation | Action::ListBucketMultipartUploads
        )
    }
}

/// Which actions [`S3Driver::check_permissions_for`] probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// [`Action::PULL`] only, writing nothing: for pull-only (read-only) registries.
    Pull,
    /// Every action ([`Action::ALL`]).
    Full,
}

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The request succeeded.
    Granted,
    /// S3 answered `AccessDenied` (or 403): the policy lacks the action.
    Denied,
    /// The server does not implement the operation (501); not a permission problem.
    NotImplemented,
    /// Not tried because a probe it depends on failed (e.g. GetObject needs the probe object).
    Skipped(&'static str),
    /// Another error (credentials, network, region): the message says which.
    Error(String),
}

impl Outcome {
    fn from_result<T>(r: &Result<T, ClientError>) -> Self {
        match r {
            Ok(_) => Outcome::Granted,
            Err(e) if e.code() == Some("AccessDenied") => Outcome::Denied,
            Err(e) if e.status() == Some(501) => Outcome::NotImplemented,
            Err(e) if e.status() == Some(403) && e.code().is_none() => Outcome::Denied,
            Err(e) => Outcome::Error(e.to_string()),
        }
    }

    fn label(&self) -> &str {
        match self {
            Outcome::Granted => "granted",
            Outcome::Denied => "MISSING",
            Outcome::NotImplemented => "not implemented by the server",
            Outcome::Skipped(why) => why,
            Outcome::Error(_) => "ERROR",
        }
    }
}

/// The result of [`S3Driver::check_permissions`].
///
/// A bucket permission check: tries each S3 action the driver needs, with harmless probes
/// under the root directory, and reports what is granted and the policy that grants the rest.
///
/// The actions are those of Distribution's documented S3 policy, in two groups: what pulling
/// needs ([`Action::PULL`]: ListBucket, GetBucketLocation, GetObject) and what pushing needs
/// besides ([`Action::PUSH`]). A host that only pulls (a registry with
/// `storage.maintenance.readonly.enabled`) is checked for the first group only, without
/// writing anything: [`Scope::Pull`].
///
/// Probes: a listing of the root prefix (ListBucket), GetBucketLocation, and then
/// * [`Scope::Pull`]: GetObject of the first object the listing found (one byte of it), or of a
///   key that cannot exist (404 NoSuchKey means granted, 403 AccessDenied denied);
/// * [`Scope::Full`]: a ListMultipartUploads of the probe key, a small object written, read and
///   deleted (PutObject, GetObject, DeleteObject), and a multipart upload started, listed and
///   aborted (ListMultipartUploadParts, AbortMultipartUpload). Everything the check creates is
///   removed again.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PermissionReport {
    /// Bucket checked.
    pub bucket: String,
    /// Key prefix the probes used (root directory).
    pub prefix: String,
    /// The configured region.
    pub configured_region: String,
    /// The bucket's region from GetBucketLocation, when granted.
    pub bucket_region: Option<String>,
    /// Each action checked with its outcome, in [`Action::ALL`] order.
    pub results: Vec<(Action, Outcome)>,
    /// What was checked: with [`Scope::Pull`] the write actions were not.
    pub scope: Scope,
    /// ARN partition for the policy (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: &'static str,
    /// Which source supplied the credentials ([`Credentials::source`]), or why none could be
    /// loaded.
    ///
    /// [`Credentials::source`]: crate::client::Credentials::source
    pub credentials: Result<String, String>,
}

impl PermissionReport {
    /// True when every action is granted (or not implemented by an S3-compatible server).
    pub fn all_granted(&self) -> bool {
        self.results
            .iter()
            .all(|(_, o)| matches!(o, Outcome::Granted | Outcome::NotImplemented))
    }

    /// Actions that were denied.
    pub fn missing(&self) -> Vec<Action> {
        self.results
            .iter()
            .filter(|(_, o)| *o == Outcome::Denied)
            .map(|(a, _)| *a)
            .collect()
    }

    /// Whether the bucket's region differs from the configured one (requests would then be
    /// redirected or refused on AWS).
    pub fn region_mismatch(&self) -> bool {
        self.bucket_region
            .as_deref()
            .is_some_and(|r| !self.configured_region.is_empty() && r != self.configured_region)
    }

    /// The IAM policy JSON that grants `actions` on this bucket and prefix. See also
    /// [`PermissionReport::policies`], which splits it into what pulling and pushing need.
    pub fn policy_json(&self, actions: &[Action]) -> String {
        let bucket_arn = format!("arn:{}:s3:::{}", self.partition, self.bucket);
        let object_arn = format!("{bucket_arn}/{}*", self.prefix);
        let mut statements = Vec::new();
        for (on_bucket, resource) in [(true, &bucket_arn), (false, &object_arn)] {
            let names: Vec<String> = actions
                .iter()
                .filter(|a| a.on_bucket() == on_bucket)
                .map(|a| format!("\"{}\"", a.iam_name()))
                .collect();
            if !names.is_empty() {
                statements.push(format!(
                    "    {{\n      \"Effect\": \"Allow\",\n      \"Action\": [{}],\n      \"Resource\": \"{resource}\"\n    }}",
                    names.join(", ")
                ));
            }
        }
        format!(
            "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n{}\n  ]\n}}\n",
            statements.join(",\n")
        )
    }
}

impl PermissionReport {
    /// The policies that grant the missing actions, split so that an operator can grant each
    /// host only what it needs: `(label, actions, policy JSON)` for the pull part (every
    /// registry host) and the push part (hosts that push), each only when something in it is
    /// missing.
    pub fn policies(&self) -> Vec<(&'static str, Vec<Action>, String)> {
        let missing = self.missing();
        let mut out = Vec::new();
        for (label, group) in [
            ("pull (every registry host)", &Action::PULL[..]),
            (
                "push (hosts that push; in addition to the pull part)",
                &Action::PUSH[..],
            ),
        ] {
            let part: Vec<Action> = missing
                .iter()
                .copied()
                .filter(|a| group.contains(a))
                .collect();
            if !part.is_empty() {
                let json = self.policy_json(&part);
                out.push((label, part, json));
            }
        }
        out
    }
}

/// `s3:A, s3:B and s3:C`.
fn names(actions: &[Action]) -> String {
    let names: Vec<&str> = actions.iter().map(|a| a.iam_name()).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

impl fmt::Display for PermissionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "bucket: {}   prefix: /{}", self.bucket, self.prefix)?;
        match &self.credentials {
            Ok(source) => writeln!(f, "credentials: {source}")?,
            Err(e) => writeln!(f, "credentials: NONE: {e}")?,
        }
        match &self.bucket_region {
            Some(r) if self.region_mismatch() => writeln!(
                f,
                "region: bucket is in {r}, configuration says {}: set `region: {r}`",
                self.configured_region
            )?,
            Some(r) => writeln!(f, "region: {r}")?,
            None => writeln!(f, "region: unknown (GetBucketLocation not granted)")?,
        }
        writeln!(f)?;
        writeln!(f, "{:<32} result", "action")?;
        for (action, outcome) in &self.results {
            writeln!(f, "{:<32} {}", action.iam_name(), outcome.label())?;
            if let Outcome::Error(msg) = outcome {
                writeln!(f, "{:<32}   {msg}", "")?;
            }
        }
        let missing = self.missing();
        match self.scope {
            Scope::Pull => writeln!(
                f,
                "\nwrite actions ({}) were not checked: the registry is read-only \
                 (storage.maintenance.readonly.enabled); `s3driver check --writes` checks them too",
                names(&Action::PUSH)
            )?,
            Scope::Full => writeln!(
                f,
                "\npulling needs {} on the bucket and s3:GetObject on its objects; pushing also \
                 needs {} on its objects and s3:ListBucketMultipartUploads on the bucket",
                names(&[Action::ListBucket, Action::GetBucketLocation]),
                names(&[
                    Action::PutObject,
                    Action::DeleteObject,
                    Action::ListMultipartUploadParts,
                    Action::AbortMultipartUpload
                ])
            )?,
        }
        if missing.is_empty() {
            if self.all_granted() {
                match self.scope {
                    Scope::Pull => writeln!(
                        f,
                        "\nall permissions a pull-only registry needs are granted"
                    )?,
                    Scope::Full => writeln!(f, "\nall permissions the driver needs are granted")?,
                }
            }
        } else {
            writeln!(f, "\nmissing permissions; these policies grant them:")?;
            for (label, _, json) in self.policies() {
                writeln!(f, "\n{label}:")?;
                f.write_str(&json)?;
            }
        }
        Ok(())
    }
}

impl S3Driver {
    /// Tries every S3 action the driver needs (see [`PermissionReport`]). Never fails:
    /// each problem is an outcome in the report.
    pub async fn check_permissions(&self) -> PermissionReport {
        self.check_permissions_for(Scope::Full).await
    }

    /// Tries the S3 actions of `scope` (see [`PermissionReport`]). Never fails: each problem
    /// is an outcome in the report. [`Scope::Pull`] writes nothing.
    pub async fn check_permissions_for(&self, scope: Scope) -> PermissionReport {
        let client = self.client();
        let credentials = match client.credentials_provider().provide_credentials().await {
            Ok(c) => Ok(c.source()),
            Err(e) => Err(e.to_string()),
        };
        let nonce = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let probe_key = format!(
            "{}s3driver-permission-check-{nonce:x}",
            self.inner.root_prefix
        );
        let mut results = Vec::new();

        let list = client
            .list_objects_v2(&ListObjectsV2Request {
                prefix: Some(self.inner.root_prefix.clone()),
                max_keys: Some(1),
                ..ListObjectsV2Request::default()
            })
            .await;
        results.push((Action::ListBucket, Outcome::from_result(&list)));

        let location = client.get_bucket_location().await;
        results.push((Action::GetBucketLocation, Outcome::from_result(&location)));

        let existing = list
            .as_ref()
            .ok()
            .and_then(|page| page.contents.first())
            .map(|o| o.key.clone());
        if scope == Scope::Pull {
            results.push((
                Action::GetObject,
                self.probe_read(existing, &probe_key, list.is_ok()).await,
            ));
            return self.report(scope, location.ok(), results, credentials);
        }

        let uploads = client.list_multipart_uploads(&probe_key, None, None).await;
        results.push((
            Action::ListBucketMultipartUploads,
            Outcome::from_result(&uploads),
        ));

        let put = client
            .put_object(
                &probe_key,
                Bytes::from_static(b"s3driver permission check"),
                &self.inner.write_opts,
            )
            .await;
        let put_outcome = Outcome::from_result(&put);
        results.push((Action::PutObject, put_outcome.clone()));
        if put_outcome == Outcome::Granted {
            let get = match client.get_object(&probe_key, None).await {
                Ok(out) => out.bytes().await,
                Err(e) => Err(e),
            };
            results.push((Action::GetObject, Outcome::from_result(&get)));
            let delete = client.delete_object(&probe_key).await;
            results.push((Action::DeleteObject, Outcome::from_result(&delete)));
        } else {
            // Without a probe object: read one that exists (or one that cannot), delete one
            // that cannot exist (S3 answers 204 when allowed, 403 when not).
            results.push((
                Action::GetObject,
                self.probe_read(existing, &probe_key, list.is_ok()).await,
            ));
            let delete = client.delete_object(&probe_key).await;
            results.push((Action::DeleteObject, Outcome::from_result(&delete)));
        }

        match client
            .create_multipart_upload(&probe_key, &self.inner.write_opts)
            .await
        {
            Ok(upload_id) => {
                let parts = client.list_parts(&probe_key, &upload_id, None, None).await;
                results.push((
                    Action::ListMultipartUploadParts,
                    Outcome::from_result(&parts),
                ));
                let abort = client.abort_multipart_upload(&probe_key, &upload_id).await;
                results.push((Action::AbortMultipartUpload, Outcome::from_result(&abort)));
            }
            Err(_) => {
                // No upload to probe with: ask about one that does not exist. 403 means denied;
                // 404 NoSuchUpload decides nothing (AWS checks the permission first, Ceph RGW
                // the upload).
                let bogus = "s3driver-permission-check";
                let no_such_upload = |r: Result<(), ClientError>| match r {
                    Err(e) if e.is_not_found() => Outcome::Skipped(
                        "undecided: no multipart upload to check with (PutObject is missing)",
                    ),
                    r => Outcome::from_result(&r),
                };
                let parts = client
                    .list_parts(&probe_key, bogus, None, None)
                    .await
                    .map(drop);
                results.push((Action::ListMultipartUploadParts, no_such_upload(parts)));
                let abort = client.abort_multipart_upload(&probe_key, bogus).await;
                results.push((Action::AbortMultipartUpload, no_such_upload(abort)));
            }
        }

        self.report(scope, location.ok(), results, credentials)
    }

    /// GetObject without writing: one byte of `existing` (an object the listing found), else
    /// a key that cannot exist, where 404 means granted. Without ListBucket, S3 answers 403
    /// for a missing key whatever GetObject says, so that case stays undecided.
    async fn probe_read(&self, existing: Option<String>, probe_key: &str, listed: bool) -> Outcome {
        let client = self.client();
        let (key, range) = match &existing {
            Some(k) => (
                k.as_str(),
                Some(ByteRange {
                    start: 0,
                    end: Some(0),
                }),
            ),
            None => (probe_key, None),
        };
        match client.get_object(key, range).await {
            Ok(_) => Outcome::Granted,
            Err(e) if existing.is_none() && e.is_not_found() => Outcome::Granted,
            Err(e) if existing.is_none() && !listed && e.status() == Some(403) => Outcome::Skipped(
                "undecided: without s3:ListBucket a missing key is answered 403 (grant ListBucket \
                 and check again)",
            ),
            Err(e) if e.status() == Some(416) => Outcome::Granted,
            e => Outcome::from_result(&e),
        }
    }

    fn report(
        &self,
        scope: Scope,
        bucket_region: Option<String>,
        results: Vec<(Action, Outcome)>,
        credentials: Result<String, String>,
    ) -> PermissionReport {
        let params = &self.inner.params;
        let region = &params.endpoint.region;
        let partition = if region.starts_with("cn-") {
            "aws-cn"
        } else if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        PermissionReport {
            bucket: params.bucket.clone(),
            prefix: self.inner.root_prefix.clone(),
            configured_region: region.clone(),
            bucket_region,
            results,
            scope,
            partition,
            credentials,
        }
    }
}

//! The AWS IP-range filter: `ip-ranges.json` parsed into CIDR tables (all of AWS or some
//! regions), refreshed over HTTP, and the "send this client straight to S3?" test.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

use super::cidr::{Cidr, RangeTable};
use super::error::Error;
use super::options::IpFilter;
use crate::client::json::{self, Value};

/// Time limit for one download of the IP ranges (connect + body).
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest accepted document (AWS's is a few MiB).
pub const MAX_DOCUMENT_BYTES: usize = 32 << 20;

/// Sizes of a table that was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateStats {
    /// IPv4 blocks kept by the filter.
    pub ipv4_blocks: usize,
    /// IPv6 blocks kept by the filter.
    pub ipv6_blocks: usize,
}

fn prefixes<'a>(
    doc: &'a Value,
    list: &'static str,
    field: &'static str,
) -> Result<Vec<(&'a str, &'a str)>, String> {
    let items = match doc.get(list) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(format!("`{list}` is {}, not an array", other.type_name())),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let Value::Object(_) = item else {
                return Err(format!(
                    "`{list}[{i}]` is {}, not an object",
                    item.type_name()
                ));
            };
            let prefix = match item.get(field) {
                Some(Value::String(s)) => s.as_str(),
                _ => return Err(format!("`{list}[{i}].{field}` is missing or not a string")),
            };
            let region = match item.get("region") {
                Some(Value::String(s)) => s.as_str(),
                None | Some(Value::Null) => "",
                Some(_) => return Err(format!("`{list}[{i}].region` is not a string")),
            };
            Ok((prefix, region))
        })
        .collect()
}

/// Parses an `ip-ranges.json` document (`prefixes[].ip_prefix/region`,
/// `ipv6_prefixes[].ipv6_prefix/region`) into a table of the blocks `filter` selects: all of
/// them for [`IpFilter::Aws`], those whose region is listed for [`IpFilter::AwsRegions`]
/// (case-insensitive), none for [`IpFilter::None`].
///
/// # Errors
/// A message saying what is wrong: not JSON, wrong shapes, or any prefix that is not a CIDR
/// block (the whole document is then refused, as Distribution does).
pub fn parse_ip_ranges(body: &[u8], filter: &IpFilter) -> Result<RangeTable, String> {
    let doc = json::parse(body).map_err(|e| e.to_string())?;
    if !matches!(doc, Value::Object(_)) {
        return Err(format!(
            "the document is {}, not a JSON object",
            doc.type_name()
        ));
    }
    let mut blocks = Vec::new();
    for (list, field) in [("prefixes", "ip_prefix"), ("ipv6_prefixes", "ipv6_prefix")] {
        for (prefix, region) in prefixes(&doc, list, field)? {
            let cidr = Cidr::parse(prefix).map_err(|e| format!("`{list}`: {e}"))?;
            let wanted = match filter {
                IpFilter::None => false,
                IpFilter::Aws => true,
                IpFilter::AwsRegions(regions) => {
                    regions.iter().any(|r| r.eq_ignore_ascii_case(region))
                }
            };
            if wanted {
                blocks.push(cidr);
            }
        }
    }
    Ok(RangeTable::new(blocks))
}

#[derive(Default)]
struct State {
    table: Option<Arc<RangeTable>>,
    last_success: Option<SystemTime>,
    last_error: Option<String>,
}

/// The AWS IP ranges for one filter, loaded from a URL and replaced atomically on each
/// successful update (a failed update keeps the previous table).
pub struct IpRanges {
    url: String,
    filter: IpFilter,
    client: reqwest::Client,
    state: RwLock<State>,
}

impl fmt::Debug for IpRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.read();
        f.debug_struct("IpRanges")
            .field("url", &self.url)
            .field("filter", &self.filter)
            .field("blocks", &state.table.as_ref().map(|t| t.block_counts()))
            .field("last_success", &state.last_success)
            .field("last_error", &state.last_error)
            .finish_non_exhaustive()
    }
}

impl IpRanges {
    /// Ranges fetched from `url` with a client using `DEFAULT_FETCH_TIMEOUT` (30 s) (system proxy
    /// settings apply). Nothing is fetched yet: call [`IpRanges::try_update`].
    ///
    /// # Errors
    /// [`Error::IpRanges`] when the HTTP client cannot be built.
    pub fn new(url: &str, filter: IpFilter) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .timeout(DEFAULT_FETCH_TIMEOUT)
            .build()
            .map_err(|e| Error::ip_ranges(url, "cannot build an HTTP client", Some(Box::new(e))))?;
        Ok(Self::with_client(url, filter, client))
    }

    /// Ranges fetched from `url` with the given client (set its timeout).
    pub fn with_client(url: &str, filter: IpFilter, client: reqwest::Client) -> Self {
        Self {
            url: url.to_owned(),
            filter,
            client,
            state: RwLock::new(State::default()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` inconsistent (plain assignments).
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The URL the ranges are fetched from.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The filter the table is built with.
    pub fn filter(&self) -> &IpFilter {
        &self.filter
    }

    /// `true` once an update has succeeded (Distribution's `initialized`).
    pub fn is_initialized(&self) -> bool {
        self.read().table.is_some()
    }

    /// The current table, if one was loaded.
    pub fn table(&self) -> Option<Arc<RangeTable>> {
        self.read().table.clone()
    }

    /// When the last successful update happened.
    pub fn last_success(&self) -> Option<SystemTime> {
        self.read().last_success
    }

    /// The message of the last failed update, cleared by a successful one.
    pub fn last_error(&self) -> Option<String> {
        self.read().last_error.clone()
    }

    /// Whether a client at `ip` should get the S3 URL: the filter is on, a table is loaded and
    /// `ip` is inside it. `None` (unknown client address) is never eligible.
    pub fn eligible_for_s3(&self, ip: Option<IpAddr>) -> bool {
        let Some(ip) = ip else { return false };
        if !self.filter.is_enabled() {
            return false;
        }
        self.read().table.as_ref().is_some_and(|t| t.contains(ip))
    }

    fn fail(&self, e: Error) -> Error {
        self.write().last_error = Some(e.to_string());
        e
    }

    /// Replaces the table with one parsed from `body` (what [`IpRanges::try_update`] does after
    /// downloading), stamped with `now`.
    ///
    /// # Errors
    /// [`Error::IpRanges`] when the document does not parse; the previous table is kept.
    pub fn load_document(&self, body: &[u8], now: SystemTime) -> Result<UpdateStats, Error> {
        let table = parse_ip_ranges(body, &self.filter)
            .map_err(|m| self.fail(Error::ip_ranges(&self.url, m, None)))?;
        let (ipv4_blocks, ipv6_blocks) = table.block_counts();
        let mut state = self.write();
        state.table = Some(Arc::new(table));
        state.last_success = Some(now);
        state.last_error = None;
        Ok(UpdateStats {
            ipv4_blocks,
            ipv6_blocks,
        })
    }

    async fn fetch(&self) -> Result<Vec<u8>, Error> {
        let err = |m: &str, e: reqwest::Error| Error::ip_ranges(&self.url, m, Some(Box::new(e)));
        let mut resp = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| err("request failed", e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(Error::ip_ranges(
                &self.url,
                format!("the server answered HTTP {status}"),
                None,
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| err("reading the body failed", e))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(Error::ip_ranges(
                    &self.url,
                    format!("the document is larger than {MAX_DOCUMENT_BYTES} bytes"),
                    None,
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Downloads the document and replaces the table (Distribution's `tryUpdate`).
    ///
    /// # Errors
    /// [`Error::IpRanges`] on a transport error, a timeout, a non-2xx status, an oversized or
    /// unparsable document. The previous table is kept and the error is also remembered
    /// ([`IpRanges::last_error`]).
    pub async fn try_update(&self) -> Result<UpdateStats, Error> {
        let body = self.fetch().await.map_err(|e| self.fail(e))?;
        self.load_document(&body, SystemTime::now())
    }

    /// Starts a task that calls [`IpRanges::try_update`] every `every` (first after one period)
    /// and passes each result to `report`. The task holds only a weak reference: it ends when
    /// the `IpRanges` is dropped, and it is aborted when the returned [`Refresher`] is dropped.
    ///
    /// # Panics
    /// Outside a Tokio runtime, or when `every` is zero.
    pub fn spawn_refresher<F>(self: &Arc<Self>, every: Duration, mut report: F) -> Refresher
    where
        F: FnMut(&Result<UpdateStats, Error>) + Send + 'static,
    {
        assert!(
            !every.is_zero(),
            "the refresh period must be longer than zero"
        );
        let weak: Weak<Self> = Arc::downgrade(self);
        let task = tokio::spawn(async move {
            let start = tokio::time::Instant::now() + every;
            let mut ticker = tokio::time::interval_at(start, every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let Some(ranges) = weak.upgrade() else { return };
                let result = ranges.try_update().await;
                drop(ranges);
                report(&result);
            }
        });
        Refresher { task }
    }
}

/// The background refresh task; dropping it (or [`Refresher::stop`]) aborts the task.
#[derive(Debug)]
pub struct Refresher {
    task: tokio::task::JoinHandle<()>,
}

impl Refresher {
    /// Stops the task now.
    pub fn stop(self) {
        drop(self);
    }

    /// `true` once the task has ended (stopped, or its `IpRanges` was dropped).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
      "syncToken": "1700000000", "createDate": "2024-01-01-00-00-00",
      "prefixes": [
        {"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2", "service": "AMAZON", "network_border_group": "ap-northeast-2"},
        {"ip_prefix": "52.95.245.0/24", "region": "us-east-1", "service": "S3", "network_border_group": "us-east-1"},
        {"ip_prefix": "15.230.39.0/24", "region": "US-EAST-2", "service": "AMAZON"}
      ],
      "ipv6_prefixes": [
        {"ipv6_prefix": "2600:1f18::/33", "region": "us-east-1", "service": "EC2"},
        {"ipv6_prefix": "2a05:d07a:a000::/40", "region": "eu-south-1", "service": "S3"}
      ]
    }"#;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn parses_all_and_by_region() {
        let all = parse_ip_ranges(DOC.as_bytes(), &IpFilter::Aws).unwrap();
        assert_eq!(all.block_counts(), (3, 2));
        assert!(all.contains("3.5.141.1".parse().unwrap()));
        let some = parse_ip_ranges(
            DOC.as_bytes(),
            &IpFilter::AwsRegions(vec!["us-east-1".into(), "us-east-2".into()]),
        )
        .unwrap();
        assert_eq!(some.block_counts(), (2, 1));
        assert!(!some.contains("3.5.141.1".parse().unwrap()));
        assert!(some.contains("15.230.39.9".parse().unwrap()));
        assert!(some.contains("2600:1f18::1".parse().unwrap()));
        assert!(parse_ip_ranges(DOC.as_bytes(), &IpFilter::None)
            .unwrap()
            .is_empty());
        assert!(parse_ip_ranges(b"{}", &IpFilter::Aws).unwrap().is_empty());
    }

    #[test]
    fn refuses_bad_documents() {
        for (doc, needle) in [
            (&b"not json"[..], "invalid JSON"),
            (b"[]", "not a JSON object"),
            (br#"{"prefixes": {}}"#, "not an array"),
            (br#"{"prefixes": [1]}"#, "not an object"),
            (
                br#"{"prefixes": [{"region": "x"}]}"#,
                "ip_prefix` is missing",
            ),
            (
                br#"{"prefixes": [{"ip_prefix": "3.5.140.0/33"}]}"#,
                "not a CIDR",
            ),
            (
                br#"{"prefixes": [{"ip_prefix": "3.5.140.0/22", "region": 1}]}"#,
                "region` is not",
            ),
            (
                br#"{"ipv6_prefixes": [{"ip_prefix": "2600::/8"}]}"#,
                "ipv6_prefix` is missing",
            ),
        ] {
            let e = parse_ip_ranges(doc, &IpFilter::Aws).unwrap_err();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn holder_keeps_old_table_on_bad_input() {
        let client = reqwest::Client::new();
        let r = IpRanges::with_client("http://127.0.0.1:9/r.json", IpFilter::Aws, client);
        assert!(!r.is_initialized());
        assert!(!r.eligible_for_s3(ip("52.95.245.1")));
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(7);
        assert_eq!(
            r.load_document(DOC.as_bytes(), t).unwrap(),
            UpdateStats {
                ipv4_blocks: 3,
                ipv6_blocks: 2
            }
        );
        assert!(r.is_initialized());
        assert!(r.eligible_for_s3(ip("52.95.245.1")));
        assert!(r.eligible_for_s3(ip("::ffff:52.95.245.1")));
        assert!(!r.eligible_for_s3(ip("8.8.8.8")));
        assert!(!r.eligible_for_s3(None));
        let e = r.load_document(b"{", SystemTime::now()).unwrap_err();
        assert!(matches!(e, Error::IpRanges { .. }));
        assert!(r.eligible_for_s3(ip("52.95.245.1")), "old table kept");
        assert_eq!(r.last_success(), Some(t));
        assert!(r.last_error().unwrap().contains("invalid JSON"));
        assert!(format!("{r:?}").contains("(3, 2)"));
    }

    #[test]
    fn filter_none_is_never_eligible() {
        let r = IpRanges::with_client(
            "http://127.0.0.1:9/",
            IpFilter::None,
            reqwest::Client::new(),
        );
        r.load_document(DOC.as_bytes(), SystemTime::now()).unwrap();
        assert!(r.is_initialized());
        assert!(!r.eligible_for_s3(ip("52.95.245.1")));
    }
}

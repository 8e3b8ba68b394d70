//! An object store with Amazon S3's semantics (sans-IO): buckets of keyed objects, optional
//! versioning, multipart upload, listing, and a latency per request drawn by the caller's random
//! stream. Objects carry a size and a content fingerprint, not bytes.
//!
//! - **Consistency.** S3 has been strongly consistent since December 2020: a read that starts
//!   after a write's response sees the write, and a list sees every completed write. Here each
//!   request takes effect at the instant it is made, which lies inside its
//!   [request, response] interval, so every history is linearizable and read-after-write holds
//!   for any read made after the write's response (and may hold earlier, which S3 allows too).
//!   Concurrent writes to one key: the last one made wins, as S3's last-writer-wins does.
//! - **Versioning.** In a versioned bucket every put adds a version; a delete without a version
//!   adds a delete marker (the key then reads as absent and is not listed, but its versions stay
//!   readable by id); a delete with a version id removes that version for good. Unversioned
//!   buckets keep one object per key (S3's version "null": `version` None here).
//! - **Listing** is in UTF-8 byte order of the keys (S3's order, which is Rust's `String`
//!   order), up to `max_keys` (1 to 1000) entries per page, with an optional delimiter that rolls
//!   keys up into common prefixes (each counts as one entry, as in S3), and a continuation key.
//! - **Multipart upload**: initiate, upload parts numbered 1 to 10 000 (each at most 5 GiB;
//!   re-uploading a number replaces the part), complete with the part list in ascending order,
//!   or abort. Completing checks what S3 checks, in this order: the list is not empty
//!   (MalformedXML), the numbers ascend strictly (InvalidPartOrder), every listed part was
//!   uploaded with that ETag (InvalidPart), every part but the last is at least 5 MiB
//!   (EntityTooSmall); unlisted parts are discarded.
//! - **ETags** are deterministic hashes, not MD5: a simple object's ETag is the hex of
//!   XXH3-128 over its content fingerprint and size; a multipart object's is the hex of XXH3-128
//!   over the parts' 16-byte digests in order, then `-N` for N parts: the shape of S3's
//!   md5-of-md5s ETag, with another hash. Equal content gives equal ETags, as in S3.
//! - **Latency**: each request's response comes after a latency drawn from the distribution of
//!   its kind ([`Latency`]), plus the bytes moved over the per-request bandwidth when one is
//!   given.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use simcore::{Dist, RngStream, SimDuration, SimTime};
use xxhash_rust::xxh3::xxh3_128;

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;
/// The largest single put and the largest part.
pub const MAX_PUT: u64 = 5 * GIB;
/// The smallest part but the last.
pub const MIN_PART: u64 = 5 * MIB;
pub const MAX_PARTS: u32 = 10_000;
/// The largest object.
pub const MAX_OBJECT: u64 = 5 << 40;
pub const MAX_KEYS: usize = 1000;

/// A request kind, for its latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Get,
    Put,
    Delete,
    List,
    /// Initiate, upload part, complete, abort.
    Multipart,
}

/// Latency distributions (nanoseconds) per request kind, and an optional bandwidth each request
/// moves its bytes at.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    pub get: Dist,
    pub put: Dist,
    pub delete: Dist,
    pub list: Dist,
    pub multipart: Dist,
    pub bytes_per_sec: Option<f64>,
}

impl Latency {
    /// The same distribution for every kind, no bandwidth term.
    pub fn same(dist: Dist) -> Self {
        Latency {
            get: dist.clone(),
            put: dist.clone(),
            delete: dist.clone(),
            list: dist.clone(),
            multipart: dist,
            bytes_per_sec: None,
        }
    }

    fn dist(&self, kind: OpKind) -> &Dist {
        match kind {
            OpKind::Get => &self.get,
            OpKind::Put => &self.put,
            OpKind::Delete => &self.delete,
            OpKind::List => &self.list,
            OpKind::Multipart => &self.multipart,
        }
    }

    /// One request's latency: a draw of its kind's distribution plus `bytes` at the bandwidth.
    pub fn sample(&self, kind: OpKind, bytes: u64, rng: &mut RngStream) -> SimDuration {
        let base = SimDuration::from_nanos_f64(self.dist(kind).sample(rng));
        let transfer = match self.bytes_per_sec {
            Some(bw) if bw > 0.0 => SimDuration::from_nanos_f64(bytes as f64 / bw * 1e9),
            _ => SimDuration::ZERO,
        };
        base.saturating_add(transfer)
    }
}

/// An error S3 would answer with (its error code in the name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3Error {
    #[error("NoSuchBucket: {0}")]
    NoSuchBucket(String),
    #[error("BucketAlreadyExists: {0}")]
    BucketAlreadyExists(String),
    #[error("BucketNotEmpty: {0}")]
    BucketNotEmpty(String),
    #[error("NoSuchKey: {0}")]
    NoSuchKey(String),
    #[error("NoSuchVersion: {key} version {version}")]
    NoSuchVersion { key: String, version: u64 },
    #[error("NoSuchUpload: {0}")]
    NoSuchUpload(u64),
    #[error("InvalidPart: part {0} was not uploaded, or its ETag does not match")]
    InvalidPart(u32),
    #[error("InvalidPartOrder: part {0} does not follow the one before in ascending order")]
    InvalidPartOrder(u32),
    #[error("EntityTooSmall: part {part} is {size} bytes, under 5 MiB, and not the last")]
    EntityTooSmall { part: u32, size: u64 },
    #[error("EntityTooLarge: {0} bytes")]
    EntityTooLarge(u64),
    #[error("InvalidArgument: part number {0} is outside 1 to 10000")]
    InvalidPartNumber(u32),
    #[error("InvalidArgument: max-keys {0} is outside 1 to 1000")]
    InvalidMaxKeys(usize),
    #[error("MalformedXML: the part list is empty")]
    MalformedXml,
}

/// A request's outcome and when its response arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed<T> {
    pub done_at: SimTime,
    pub result: Result<T, S3Error>,
}

/// An object version's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub size: u64,
    pub etag: String,
    pub last_modified: SimTime,
    /// None in an unversioned bucket (S3's "null" version).
    pub version: Option<u64>,
    /// 0 for a simple put, else the number of parts.
    pub parts: u32,
}

/// A page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListPage {
    /// Keys and sizes, in order.
    pub keys: Vec<(String, u64)>,
    /// With a delimiter: the prefixes keys were rolled up into, in order.
    pub common_prefixes: Vec<String>,
    /// When truncated: pass as `start_after` for the next page.
    pub next_start_after: Option<String>,
}

#[derive(Debug, Clone)]
struct Version {
    /// None in an unversioned bucket.
    id: Option<u64>,
    /// None: a delete marker.
    meta: Option<ObjectMeta>,
}

#[derive(Debug, Clone, Default)]
struct Bucket {
    versioned: bool,
    /// Each key's versions, oldest first.
    objects: BTreeMap<String, Vec<Version>>,
}

impl Bucket {
    fn latest(&self, key: &str) -> Option<&ObjectMeta> {
        self.objects.get(key)?.last()?.meta.as_ref()
    }
}

#[derive(Debug, Clone)]
struct Part {
    size: u64,
    digest: u128,
}

#[derive(Debug, Clone)]
struct Upload {
    bucket: String,
    key: String,
    parts: BTreeMap<u32, Part>,
}

/// The store: buckets, uploads in progress and the latency model.
#[derive(Debug, Clone)]
pub struct ObjectStore {
    latency: Latency,
    buckets: BTreeMap<String, Bucket>,
    uploads: BTreeMap<u64, Upload>,
    next_upload: u64,
    next_version: u64,
}

fn digest(content: u64, size: u64) -> u128 {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&content.to_le_bytes());
    bytes[8..].copy_from_slice(&size.to_le_bytes());
    xxh3_128(&bytes)
}

fn hex(d: u128) -> String {
    format!("{d:032x}")
}

/// A multipart object's ETag: the hash of the parts' digests, then `-N`.
fn multipart_etag(digests: &[u128]) -> String {
    let bytes: Vec<u8> = digests.iter().flat_map(|d| d.to_be_bytes()).collect();
    let mut s = hex(xxh3_128(&bytes));
    let _ = write!(s, "-{}", digests.len());
    s
}

impl ObjectStore {
    pub fn new(latency: Latency) -> Self {
        ObjectStore {
            latency,
            buckets: BTreeMap::new(),
            uploads: BTreeMap::new(),
            next_upload: 1,
            next_version: 1,
        }
    }

    /// Creates a bucket (setup: no latency).
    /// The latency model its requests take.
    pub fn latency(&self) -> &Latency {
        &self.latency
    }

    pub fn create_bucket(&mut self, name: &str, versioned: bool) -> Result<(), S3Error> {
        if self.buckets.contains_key(name) {
            return Err(S3Error::BucketAlreadyExists(name.to_string()));
        }
        self.buckets.insert(
            name.to_string(),
            Bucket {
                versioned,
                objects: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// Deletes an empty bucket (no keys and no versions left).
    pub fn delete_bucket(&mut self, name: &str) -> Result<(), S3Error> {
        let b = self.bucket(name)?;
        if !b.objects.is_empty() {
            return Err(S3Error::BucketNotEmpty(name.to_string()));
        }
        self.buckets.remove(name);
        Ok(())
    }

    fn bucket(&self, name: &str) -> Result<&Bucket, S3Error> {
        self.buckets
            .get(name)
            .ok_or_else(|| S3Error::NoSuchBucket(name.to_string()))
    }

    fn bucket_mut(&mut self, name: &str) -> Result<&mut Bucket, S3Error> {
        self.buckets
            .get_mut(name)
            .ok_or_else(|| S3Error::NoSuchBucket(name.to_string()))
    }

    fn timed<T>(
        &self,
        now: SimTime,
        kind: OpKind,
        bytes: u64,
        rng: &mut RngStream,
        result: Result<T, S3Error>,
    ) -> Timed<T> {
        Timed {
            done_at: now.saturating_add(self.latency.sample(kind, bytes, rng)),
            result,
        }
    }

    /// PutObject: `size` bytes whose content has fingerprint `content`.
    pub fn put(
        &mut self,
        now: SimTime,
        rng: &mut RngStream,
        bucket: &str,
        key: &str,
        size: u64,
        content: u64,
    ) -> Timed<ObjectMeta> {
        let result = if size > MAX_PUT {
            Err(S3Error::EntityTooLarge(size))
        } else {
            let etag = hex(digest(content, size));
            self.store(now, bucket, key, size, etag, 0)
        };
        self.timed(now, OpKind::Put, size, rng, result)
    }

    /// Writes a new current version of `key` (or overwrites it when unversioned).
    fn store(
        &mut self,
        now: SimTime,
        bucket: &str,
        key: &str,
        size: u64,
        etag: String,
        parts: u32,
    ) -> Result<ObjectMeta, S3Error> {
        let version = self.next_version;
        let b = self.bucket_mut(bucket)?;
        let meta = ObjectMeta {
            size,
            etag,
            last_modified: now,
            version: b.versioned.then_some(version),
            parts,
        };
        let versions = b.objects.entry(key.to_string()).or_default();
        if !b.versioned {
            versions.clear();
        }
        versions.push(Version {
            id: meta.version,
            meta: Some(meta.clone()),
        });
        if meta.version.is_some() {
            self.next_version += 1;
        }
        Ok(meta)
    }

    /// GetObject: the current version, or the version given. The latency includes the object's
    /// bytes at the bandwidth.
    pub fn get(
        &mut self,
        now: SimTime,
        rng: &mut RngStream,
        bucket: &str,
        key: &str,
        version: Option<u64>,
    ) -> Timed<ObjectMeta> {
        let result = self.lookup(bucket, key, version);
        let bytes = result.as_ref().map_or(0, |m| m.size);
        self.timed(now, OpKind::Get, bytes, rng, result)
    }

    fn lookup(&self, bucket: &str, key: &str, version: Option<u64>) -> Result<ObjectMeta, S3Error> {
        let b = self.bucket(bucket)?;
        let found = match version {
            None => b.latest(key),
            Some(v) => {
                return b
                    .objects
                    .get(key)
                    .and_then(|vs| {
                        vs.iter()
                            .filter_map(|x| x.meta.as_ref())
                            .find(|m| m.version == Some(v))
                    })
                    .cloned()
                    .ok_or_else(|| S3Error::NoSuchVersion {
                        key: key.to_string(),
                        version: v,
                    });
            }
        };
        found
            .cloned()
            .ok_or_else(|| S3Error::NoSuchKey(key.to_string()))
    }

    /// DeleteObject. Without a version: removes the object (unversioned bucket) or adds a delete
    /// marker (versioned). With one: removes that version. Deleting an absent key succeeds, as in
    /// S3. Returns the delete marker's version, if one was added.
    pub fn delete(
        &mut self,
        now: SimTime,
        rng: &mut RngStream,
        bucket: &str,
        key: &str,
        version: Option<u64>,
    ) -> Timed<Option<u64>> {
        let result = self.remove(bucket, key, version);
        self.timed(now, OpKind::Delete, 0, rng, result)
    }

    fn remove(
        &mut self,
        bucket: &str,
        key: &str,
        version: Option<u64>,
    ) -> Result<Option<u64>, S3Error> {
        let marker = self.next_version;
        let b = self.bucket_mut(bucket)?;
        let added = match (version, b.versioned) {
            (Some(v), _) => {
                if let Some(vs) = b.objects.get_mut(key) {
                    vs.retain(|x| x.id != Some(v));
                    if vs.is_empty() {
                        b.objects.remove(key);
                    }
                }
                None
            }
            (None, false) => {
                b.objects.remove(key);
                None
            }
            (None, true) => {
                b.objects.entry(key.to_string()).or_default().push(Version {
                    id: Some(marker),
                    meta: None,
                });
                Some(marker)
            }
        };
        if added.is_some() {
            self.next_version += 1;
        }
        Ok(added)
    }

    /// ListObjectsV2: keys under `prefix` after `start_after`, up to `max_keys` entries, rolled up
    /// at `delimiter` when given.
    #[allow(clippy::too_many_arguments)]
    pub fn list(
        &self,
        now: SimTime,
        rng: &mut RngStream,
        bucket: &str,
        prefix: &str,
        delimiter: Option<char>,
        start_after: Option<&str>,
        max_keys: usize,
    ) -> Timed<ListPage> {
        let result = self.list_page(bucket, prefix, delimiter, start_after, max_keys);
        self.timed(now, OpKind::List, 0, rng, result)
    }

    fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<char>,
        start_after: Option<&str>,
        max_keys: usize,
    ) -> Result<ListPage, S3Error> {
        if !(1..=MAX_KEYS).contains(&max_keys) {
            return Err(S3Error::InvalidMaxKeys(max_keys));
        }
        let b = self.bucket(bucket)?;
        let mut page = ListPage::default();
        let mut last: Option<&str> = None;
        let from = match start_after {
            Some(s) if s >= prefix => std::ops::Bound::Excluded(s),
            _ => std::ops::Bound::Included(prefix),
        };
        let range = b
            .objects
            .range::<str, _>((from, std::ops::Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix));
        for (key, versions) in range {
            let Some(meta) = versions.last().and_then(|v| v.meta.as_ref()) else {
                continue;
            };
            let rolled = delimiter.and_then(|d| {
                let rest = &key[prefix.len()..];
                rest.find(d)
                    .map(|i| &key[..prefix.len() + i + d.len_utf8()])
            });
            if rolled.is_some() && page.common_prefixes.last().map(String::as_str) == rolled {
                last = Some(key);
                continue;
            }
            if page.keys.len() + page.common_prefixes.len() == max_keys {
                page.next_start_after = last.map(str::to_string);
                break;
            }
            match rolled {
                Some(p) => page.common_prefixes.push(p.to_string()),
                None => page.keys.push((key.clone(), meta.size)),
            }
            last = Some(key);
        }
        Ok(page)
    }

    /// CreateMultipartUpload.
    pub fn initiate(
        &mut self,
        now: SimTime,
        rng: &mut RngStream,
        bucket: &str,
        key: &str,
    ) -> Timed<u64> {
        let exists = self.bucket(bucket).map(|_| ());
        let result = exists.map(|()| {
            let id = self.next_upload;
            self.next_upload += 1;
            self.uploads.insert(
                id,
                Upload {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                    parts: BTreeMap::new(),
                },
            );
            id
        });
        self.timed(now, OpKind::Multipart, 0, rng, result)
    }

    /// UploadPart: part `number` of `size` bytes with content fingerprint `content`; returns
    /// its ETag.
    pub fn upload_part(
        &mut self,
        now: SimTime,
        rng: &mut RngStream,
        upload: u64,
        number: u32,
        size: u64,
        content: u64,
    ) -> Timed<String> {
        let result = self.add_part(upload, number, size, content);
        self.timed(now, OpKind::Multipart, size, rng, result)
    }

    fn add_part(
        &mut self,
        upload: u64,
        number: u32,
        size: u64,
        content: u64,
    ) -> Result<String, S3Error> {
        let u = self
            .uploads
            .get_mut(&upload)
            .ok_or(S3Error::NoSuchUpload(upload))?;
        if !(1..=MAX_PARTS).contains(&number) {
            return Err(S3Error::InvalidPartNumber(number));
        }
        if size > MAX_PUT {
            return Err(S3Error::EntityTooLarge(size));
        }
        let d = digest(content, size);
        u.parts.insert(number, Part { size, digest: d });
        Ok(hex(d))
    }

    /// CompleteMultipartUpload with `(part number, ETag)` pairs in ascending order.
    pub fn complete(
        &mut self,
        now: SimTime,
        rng: &mut RngStream,
        upload: u64,
        parts: &[(u32, String)],
    ) -> Timed<ObjectMeta> {
        let result = self.assemble(now, upload, parts);
        self.timed(now, OpKind::Multipart, 0, rng, result)
    }

    fn assemble(
        &mut self,
        now: SimTime,
        upload: u64,
        parts: &[(u32, String)],
    ) -> Result<ObjectMeta, S3Error> {
        let u = self
            .uploads
            .get(&upload)
            .ok_or(S3Error::NoSuchUpload(upload))?;
        if parts.is_empty() {
            return Err(S3Error::MalformedXml);
        }
        let mut digests = Vec::with_capacity(parts.len());
        let mut total = 0u64;
        if let Some(w) = parts.windows(2).find(|w| w[1].0 <= w[0].0) {
            return Err(S3Error::InvalidPartOrder(w[1].0));
        }
        for (i, (number, etag)) in parts.iter().enumerate() {
            let part = u
                .parts
                .get(number)
                .filter(|p| hex(p.digest) == *etag)
                .ok_or(S3Error::InvalidPart(*number))?;
            if i + 1 < parts.len() && part.size < MIN_PART {
                return Err(S3Error::EntityTooSmall {
                    part: *number,
                    size: part.size,
                });
            }
            digests.push(part.digest);
            total += part.size;
        }
        if total > MAX_OBJECT {
            return Err(S3Error::EntityTooLarge(total));
        }
        let (bucket, key) = (u.bucket.clone(), u.key.clone());
        let meta = self.store(
            now,
            &bucket,
            &key,
            total,
            multipart_etag(&digests),
            parts.len() as u32,
        )?;
        self.uploads.remove(&upload);
        Ok(meta)
    }

    /// AbortMultipartUpload: the parts are discarded.
    pub fn abort(&mut self, now: SimTime, rng: &mut RngStream, upload: u64) -> Timed<()> {
        let result = self
            .uploads
            .remove(&upload)
            .map(|_| ())
            .ok_or(S3Error::NoSuchUpload(upload));
        self.timed(now, OpKind::Multipart, 0, rng, result)
    }

    /// Uploads in progress.
    pub fn uploads_in_progress(&self) -> usize {
        self.uploads.len()
    }

    /// Bytes stored in a bucket, every version counted (what S3 bills).
    pub fn stored_bytes(&self, bucket: &str) -> Result<u64, S3Error> {
        Ok(self
            .bucket(bucket)?
            .objects
            .values()
            .flatten()
            .filter_map(|v| v.meta.as_ref().map(|m| m.size))
            .sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (ObjectStore, RngStream) {
        let latency = Latency {
            get: Dist::constant(10e6).unwrap(),
            put: Dist::constant(20e6).unwrap(),
            ..Latency::same(Dist::constant(5e6).unwrap())
        };
        let mut s = ObjectStore::new(latency);
        s.create_bucket("b", false).unwrap();
        s.create_bucket("v", true).unwrap();
        (s, RngStream::derive(1, "s3"))
    }

    fn ms(t: u64) -> SimTime {
        SimTime::from_nanos(t * 1_000_000)
    }

    /// A get made after a put's response (or even before it, the put having taken effect when
    /// made) sees the put; an overwrite is seen at once; a delete too; the latency is the
    /// kind's.
    #[test]
    fn reads_see_the_latest_completed_write() {
        let (mut s, mut rng) = store();
        let p = s.put(ms(0), &mut rng, "b", "k", 100, 1);
        assert_eq!(p.done_at, ms(20));
        let etag1 = p.result.unwrap().etag;
        let g = s.get(p.done_at, &mut rng, "b", "k", None);
        assert_eq!(g.done_at, ms(30));
        assert_eq!(g.result.unwrap().etag, etag1);
        let p2 = s.put(ms(40), &mut rng, "b", "k", 200, 2).result.unwrap();
        assert_ne!(p2.etag, etag1);
        assert_eq!(p2.version, None);
        assert_eq!(
            s.get(ms(60), &mut rng, "b", "k", None).result.unwrap().size,
            200
        );
        assert_eq!(s.delete(ms(70), &mut rng, "b", "k", None).result, Ok(None));
        assert_eq!(
            s.get(ms(75), &mut rng, "b", "k", None).result,
            Err(S3Error::NoSuchKey("k".into()))
        );
        assert_eq!(
            s.get(ms(75), &mut rng, "nope", "k", None).result,
            Err(S3Error::NoSuchBucket("nope".into()))
        );
        // Equal content, equal ETag, in any bucket.
        let again = s.put(ms(80), &mut rng, "v", "x", 100, 1).result.unwrap();
        assert_eq!(again.etag, etag1);
        assert_eq!(s.delete_bucket("b"), Ok(()));
    }

    /// The bandwidth term: 1 MiB at 1 MiB/s adds a second to the get.
    #[test]
    fn transfer_time_adds_to_latency() {
        let (mut s, mut rng) = store();
        s.latency.bytes_per_sec = Some(MIB as f64);
        s.put(ms(0), &mut rng, "b", "k", MIB, 1);
        assert_eq!(s.get(ms(0), &mut rng, "b", "k", None).done_at, ms(1010));
    }

    /// Versioned: puts stack versions, a delete adds a marker that hides the key from get and
    /// list but not from a get by version; deleting the marker's version brings the key back.
    #[test]
    fn versions_and_delete_markers() {
        let (mut s, mut rng) = store();
        let v1 = s
            .put(ms(0), &mut rng, "v", "k", 1, 1)
            .result
            .unwrap()
            .version
            .unwrap();
        let v2 = s
            .put(ms(1), &mut rng, "v", "k", 2, 2)
            .result
            .unwrap()
            .version
            .unwrap();
        assert!(v2 > v1);
        let marker = s
            .delete(ms(2), &mut rng, "v", "k", None)
            .result
            .unwrap()
            .unwrap();
        assert_eq!(
            s.get(ms(3), &mut rng, "v", "k", None).result,
            Err(S3Error::NoSuchKey("k".into()))
        );
        assert_eq!(
            s.get(ms(3), &mut rng, "v", "k", Some(v1))
                .result
                .unwrap()
                .size,
            1
        );
        let page = s
            .list(ms(3), &mut rng, "v", "", None, None, 1000)
            .result
            .unwrap();
        assert!(page.keys.is_empty());
        assert_eq!(s.stored_bytes("v"), Ok(3));
        // Deleting the marker by its version id makes v2 current again; deleting v2 leaves v1.
        s.delete(ms(4), &mut rng, "v", "k", Some(marker))
            .result
            .unwrap();
        assert_eq!(
            s.get(ms(5), &mut rng, "v", "k", None).result.unwrap().size,
            2
        );
        s.delete(ms(6), &mut rng, "v", "k", Some(v2))
            .result
            .unwrap();
        assert_eq!(
            s.get(ms(7), &mut rng, "v", "k", Some(v2)).result,
            Err(S3Error::NoSuchVersion {
                key: "k".into(),
                version: v2
            })
        );
        assert_eq!(
            s.get(ms(7), &mut rng, "v", "k", None).result.unwrap().size,
            1
        );
        assert_eq!(
            s.delete_bucket("v"),
            Err(S3Error::BucketNotEmpty("v".into()))
        );
        s.delete(ms(8), &mut rng, "v", "k", Some(v1))
            .result
            .unwrap();
        assert_eq!(s.delete_bucket("v"), Ok(()));
    }

    /// Keys in byte order, pages with continuation, prefixes and delimiter roll-up.
    #[test]
    fn list_order_pages_and_common_prefixes() {
        let (mut s, mut rng) = store();
        for key in ["b/2", "a", "b/1", "B", "b/sub/x", "c", "b/sub/y", "é"] {
            s.put(ms(0), &mut rng, "b", key, key.len() as u64, 0);
        }
        let mut list = |prefix: &str, delim: Option<char>, after: Option<&str>, max| {
            s.list(ms(1), &mut rng, "b", prefix, delim, after, max)
                .result
                .unwrap()
        };
        let all = list("", None, None, 1000);
        let keys: Vec<&str> = all.keys.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["B", "a", "b/1", "b/2", "b/sub/x", "b/sub/y", "c", "é"]
        );
        assert_eq!(all.next_start_after, None);
        // Pages of 3.
        let p1 = list("", None, None, 3);
        assert_eq!(p1.next_start_after.as_deref(), Some("b/1"));
        let p2 = list("", None, p1.next_start_after.as_deref(), 3);
        let keys: Vec<&str> = p2.keys.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b/2", "b/sub/x", "b/sub/y"]);
        // A prefix and a delimiter: b/sub/ is one entry.
        let d = list("b/", Some('/'), None, 1000);
        let keys: Vec<&str> = d.keys.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b/1", "b/2"]);
        assert_eq!(d.common_prefixes, ["b/sub/"]);
        // At the top level: B, a, b/ (a prefix), c, é; two per page.
        let t1 = list("", Some('/'), None, 2);
        assert_eq!(
            (t1.keys.len(), t1.next_start_after.as_deref()),
            (2, Some("a"))
        );
        let t2 = list("", Some('/'), Some("a"), 2);
        assert_eq!(t2.common_prefixes, ["b/"]);
        assert_eq!(t2.keys, [("c".to_string(), 1)]);
        assert_eq!(t2.next_start_after.as_deref(), Some("c"));
        let t3 = list("", Some('/'), Some("c"), 2);
        assert_eq!(t3.keys, [("é".to_string(), 2)]);
        assert_eq!(t3.next_start_after, None);
        assert_eq!(
            s.list(ms(1), &mut rng, "b", "", None, None, 0).result,
            Err(S3Error::InvalidMaxKeys(0))
        );
    }

    /// A multipart upload of 5 MiB + 5 MiB + 1 byte completes into one object of the sum of
    /// the parts, with an ETag ending in -3 that depends on the parts' content.
    #[test]
    fn multipart_upload_completes() {
        let (mut s, mut rng) = store();
        let u = s.initiate(ms(0), &mut rng, "b", "big").result.unwrap();
        let mut list = Vec::new();
        for (n, size) in [(1, MIN_PART), (2, MIN_PART), (3, 1)] {
            let etag = s
                .upload_part(ms(1), &mut rng, u, n, size, n as u64)
                .result
                .unwrap();
            list.push((n, etag));
        }
        // Re-uploading part 2 replaces it (and its ETag).
        let old2 = list[1].1.clone();
        list[1].1 = s
            .upload_part(ms(2), &mut rng, u, 2, MIN_PART, 99)
            .result
            .unwrap();
        assert_ne!(old2, list[1].1);
        let meta = s.complete(ms(3), &mut rng, u, &list).result.unwrap();
        assert_eq!((meta.size, meta.parts), (2 * MIN_PART + 1, 3));
        assert!(meta.etag.ends_with("-3"), "{}", meta.etag);
        assert_eq!(
            s.get(ms(4), &mut rng, "b", "big", None).result.unwrap(),
            meta
        );
        assert_eq!(s.uploads_in_progress(), 0);
        // Same parts elsewhere, same ETag; different content, different ETag.
        let u2 = s.initiate(ms(5), &mut rng, "b", "copy").result.unwrap();
        for (n, c) in [(1, 1), (2, 99), (3, 3)] {
            let size = if n == 3 { 1 } else { MIN_PART };
            s.upload_part(ms(5), &mut rng, u2, n, size, c);
        }
        let copy = s.complete(ms(6), &mut rng, u2, &list).result.unwrap();
        assert_eq!(copy.etag, meta.etag);
    }

    /// Each error of CompleteMultipartUpload, UploadPart and AbortMultipartUpload.
    #[test]
    fn multipart_errors_are_s3s() {
        let (mut s, mut rng) = store();
        let u = s.initiate(ms(0), &mut rng, "b", "k").result.unwrap();
        let e1 = s
            .upload_part(ms(0), &mut rng, u, 1, MIN_PART, 1)
            .result
            .unwrap();
        let e2 = s
            .upload_part(ms(0), &mut rng, u, 2, MIN_PART - 1, 2)
            .result
            .unwrap();
        let e3 = s.upload_part(ms(0), &mut rng, u, 3, 10, 3).result.unwrap();
        let mut complete = |parts: &[(u32, String)]| s.complete(ms(1), &mut rng, u, parts).result;
        assert_eq!(complete(&[]), Err(S3Error::MalformedXml));
        assert_eq!(complete(&[(4, e1.clone())]), Err(S3Error::InvalidPart(4)));
        assert_eq!(complete(&[(1, e2.clone())]), Err(S3Error::InvalidPart(1)));
        assert_eq!(
            complete(&[(2, e2.clone()), (1, e1.clone())]),
            Err(S3Error::InvalidPartOrder(1))
        );
        assert_eq!(
            complete(&[(1, e1.clone()), (1, e1.clone())]),
            Err(S3Error::InvalidPartOrder(1))
        );
        assert_eq!(
            complete(&[(1, e1.clone()), (2, e2.clone()), (3, e3.clone())]),
            Err(S3Error::EntityTooSmall {
                part: 2,
                size: MIN_PART - 1
            })
        );
        // A small part is fine last; unlisted parts are dropped.
        let meta = complete(&[(1, e1.clone()), (2, e2.clone())]).unwrap();
        assert_eq!(meta.size, 2 * MIN_PART - 1);
        assert_eq!(complete(&[(1, e1)]), Err(S3Error::NoSuchUpload(u)));
        let u = s.initiate(ms(2), &mut rng, "b", "k").result.unwrap();
        assert_eq!(
            s.upload_part(ms(2), &mut rng, u, 0, 1, 1).result,
            Err(S3Error::InvalidPartNumber(0))
        );
        assert_eq!(
            s.upload_part(ms(2), &mut rng, u, 10_001, 1, 1).result,
            Err(S3Error::InvalidPartNumber(10_001))
        );
        assert_eq!(
            s.upload_part(ms(2), &mut rng, u, 1, MAX_PUT + 1, 1).result,
            Err(S3Error::EntityTooLarge(MAX_PUT + 1))
        );
        assert_eq!(
            s.put(ms(2), &mut rng, "b", "k", MAX_PUT + 1, 1).result,
            Err(S3Error::EntityTooLarge(MAX_PUT + 1))
        );
        assert_eq!(s.abort(ms(3), &mut rng, u).result, Ok(()));
        assert_eq!(
            s.abort(ms(3), &mut rng, u).result,
            Err(S3Error::NoSuchUpload(u))
        );
        assert_eq!(
            s.initiate(ms(3), &mut rng, "none", "k").result,
            Err(S3Error::NoSuchBucket("none".into()))
        );
        assert_eq!(
            s.create_bucket("b", false),
            Err(S3Error::BucketAlreadyExists("b".into()))
        );
    }
}

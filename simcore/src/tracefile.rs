//! Trace files: every record of a run, with a human label, so a replay can be read event by event.
//!
//! # Layout (format version 2)
//! ```text
//! b"SIMTRACE"                     8 bytes, magic
//! format version                  u32 little-endian (currently 2)
//! frames, bincode 2 (standard config: little-endian, variable-length integers):
//!   Frame::Header { scenario, seed, producer }
//!   Frame::Record { kind, time_ns, payload, label }   one per record, in order
//!   Frame::End    { records, trace_hash }
//! checksum                        u64 little-endian: XXH3-64 of every byte before it
//! ```
//! A reader checks the magic, the version, the checksum, that the record count matches, and that the
//! trace hash recomputed from the payloads equals the one stored: a corrupt or truncated file is
//! refused with a reason, never half-read. A writer writes to a temporary file beside the target and
//! renames it into place only when complete, so a crash never leaves a half-written trace.
//!
//! Version 2 changed only how the trace hash is computed (a chain of per-record folds, see
//! [`crate::trace`]); a version 1 file is refused, since its stored hash could not be checked.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use bincode::{Decode, Encode};
use xxhash_rust::xxh3::Xxh3;

use crate::time::SimTime;
use crate::trace::{HashCheck, RecordKind};

pub const MAGIC: &[u8; 8] = b"SIMTRACE";
pub const FORMAT_VERSION: u32 = 2;
/// No single frame may claim more than this many bytes (a corrupt length cannot exhaust memory).
const FRAME_LIMIT: usize = 16 << 20;

#[derive(Encode, Decode, Debug, Clone, PartialEq)]
enum Frame {
    Header {
        scenario: String,
        seed: u64,
        producer: String,
    },
    Record {
        kind: u8,
        time_ns: u64,
        payload: Vec<u8>,
        label: String,
    },
    End {
        records: u64,
        trace_hash: u64,
    },
}

/// One record as read back from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRecord {
    pub index: u64,
    pub kind: RecordKind,
    pub time: SimTime,
    pub payload: Vec<u8>,
    pub label: String,
}

/// What a trace file says about its run.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSummary {
    pub scenario: String,
    pub seed: u64,
    pub producer: String,
    pub records: u64,
    pub trace_hash: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TraceFileError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: not a sim trace file (bad magic bytes); was it written by `sim run --trace`?")]
    BadMagic { path: PathBuf },
    #[error(
        "{path}: trace format version {found} is not supported (this sim reads version {FORMAT_VERSION})"
    )]
    Version { path: PathBuf, found: u32 },
    #[error("{path}: truncated: the file ends after {records} records, before the end marker")]
    Truncated { path: PathBuf, records: u64 },
    #[error("{path}: corrupt at record {records}: {detail}")]
    Corrupt {
        path: PathBuf,
        records: u64,
        detail: String,
    },
    #[error(
        "{path}: checksum mismatch: stored {stored:016x}, computed {computed:016x}; the file is corrupt"
    )]
    Checksum {
        path: PathBuf,
        stored: u64,
        computed: u64,
    },
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<FRAME_LIMIT>()
}

/// A writer that hashes every byte that passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Xxh3,
}
impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes every byte that passes through it.
struct HashingReader<R> {
    inner: R,
    hasher: Xxh3,
}
impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Streams records to a temporary file; [`TraceWriter::finish`] seals it and renames it into place.
pub struct TraceWriter {
    out: HashingWriter<BufWriter<File>>,
    tmp: PathBuf,
    path: PathBuf,
    /// The first write error, reported by `finish` (recording itself cannot fail mid-run).
    error: Option<io::Error>,
}

impl TraceWriter {
    pub fn create(path: &Path, scenario: &str, seed: u64) -> Result<Self, TraceFileError> {
        let io_err = |source| TraceFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let tmp = temp_path_for(path);
        let file = File::create(&tmp).map_err(io_err)?;
        let mut out = HashingWriter {
            inner: BufWriter::with_capacity(1 << 16, file),
            hasher: Xxh3::new(),
        };
        let header = Frame::Header {
            scenario: scenario.to_string(),
            seed,
            producer: format!("simcore {}", env!("CARGO_PKG_VERSION")),
        };
        let result = out
            .write_all(MAGIC)
            .and_then(|_| out.write_all(&FORMAT_VERSION.to_le_bytes()))
            .and_then(|_| encode(&header, &mut out));
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err(e));
        }
        Ok(TraceWriter {
            out,
            tmp,
            path: path.to_path_buf(),
            error: None,
        })
    }

    pub(crate) fn record(
        &mut self,
        kind: RecordKind,
        time: SimTime,
        payload: &[u8],
        label: String,
    ) {
        if self.error.is_some() {
            return;
        }
        let frame = Frame::Record {
            kind: kind as u8,
            time_ns: time.as_nanos(),
            payload: payload.to_vec(),
            label,
        };
        if let Err(e) = encode(&frame, &mut self.out) {
            self.error = Some(e);
        }
    }

    /// Writes the end marker and checksum, flushes, and renames the file into place.
    pub(crate) fn finish(mut self, records: u64, trace_hash: u64) -> Result<(), TraceFileError> {
        let path = self.path.clone();
        let result = match self.error.take() {
            Some(e) => Err(e),
            None => encode(
                &Frame::End {
                    records,
                    trace_hash,
                },
                &mut self.out,
            )
            .and_then(|_| {
                let checksum = self.out.hasher.digest();
                self.out.inner.write_all(&checksum.to_le_bytes())?;
                self.out.inner.flush()?;
                self.out.inner.get_ref().sync_all()?;
                std::fs::rename(&self.tmp, &self.path)
            }),
        };
        result.map_err(|source| {
            let _ = std::fs::remove_file(&self.tmp);
            TraceFileError::Io { path, source }
        })
    }
}

impl Drop for TraceWriter {
    /// An unfinished writer (a failed run) leaves nothing behind, not even its temporary file.
    fn drop(&mut self) {
        if self.tmp.exists() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn encode(frame: &Frame, out: &mut impl Write) -> io::Result<()> {
    bincode::encode_into_std_write(frame, out, config())
        .map(|_| ())
        .map_err(|e| io::Error::other(e.to_string()))
}

/// `dir/.name.<pid>.tmp` beside the target, so the final rename stays on one filesystem.
pub fn temp_path_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trace".into());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Reads and fully validates a trace file, then hands its records to `visit` in order.
///
/// Validation is a first pass over the whole file, so `visit` never sees a record from a file
/// that turns out to be corrupt. `visit` returns false to stop early.
pub fn read_trace(
    path: &Path,
    mut visit: impl FnMut(&TraceRecord) -> bool,
) -> Result<TraceSummary, TraceFileError> {
    let summary = scan(path, &mut |_| true)?;
    scan(path, &mut visit)?;
    Ok(summary)
}

fn scan(
    path: &Path,
    visit: &mut dyn FnMut(&TraceRecord) -> bool,
) -> Result<TraceSummary, TraceFileError> {
    let p = || path.to_path_buf();
    let file = File::open(path).map_err(|source| TraceFileError::Io { path: p(), source })?;
    let mut r = HashingReader {
        inner: BufReader::with_capacity(1 << 16, file),
        hasher: Xxh3::new(),
    };

    let mut head = [0u8; 12];
    if let Err(e) = r.read_exact(&mut head) {
        return Err(if e.kind() == io::ErrorKind::UnexpectedEof {
            TraceFileError::BadMagic { path: p() }
        } else {
            TraceFileError::Io {
                path: p(),
                source: e,
            }
        });
    }
    if &head[..8] != MAGIC {
        return Err(TraceFileError::BadMagic { path: p() });
    }
    let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    if version != FORMAT_VERSION {
        return Err(TraceFileError::Version {
            path: p(),
            found: version,
        });
    }

    let mut count = 0u64;
    let next = |r: &mut HashingReader<_>, count: u64| -> Result<Frame, TraceFileError> {
        bincode::decode_from_std_read::<Frame, _, _>(r, config()).map_err(|e| match e {
            bincode::error::DecodeError::UnexpectedEnd { .. } => TraceFileError::Truncated {
                path: p(),
                records: count,
            },
            bincode::error::DecodeError::Io { inner, .. }
                if inner.kind() == io::ErrorKind::UnexpectedEof =>
            {
                TraceFileError::Truncated {
                    path: p(),
                    records: count,
                }
            }
            other => TraceFileError::Corrupt {
                path: p(),
                records: count,
                detail: other.to_string(),
            },
        })
    };
    let corrupt = |count, detail: &str| TraceFileError::Corrupt {
        path: p(),
        records: count,
        detail: detail.to_string(),
    };

    let (scenario, seed, producer) = match next(&mut r, 0)? {
        Frame::Header {
            scenario,
            seed,
            producer,
        } => (scenario, seed, producer),
        _ => return Err(corrupt(0, "the first frame is not a header")),
    };
    let mut check = HashCheck::default();
    let mut visiting = true;
    let (records, trace_hash) = loop {
        match next(&mut r, count)? {
            Frame::Record {
                kind,
                time_ns,
                payload,
                label,
            } => {
                let kind = RecordKind::from_u8(kind)
                    .ok_or_else(|| corrupt(count, "unknown record kind"))?;
                check.add(kind as u8, time_ns, &payload);
                if visiting {
                    let rec = TraceRecord {
                        index: count,
                        kind,
                        time: SimTime::from_nanos(time_ns),
                        payload,
                        label,
                    };
                    visiting = visit(&rec);
                }
                count += 1;
            }
            Frame::End {
                records,
                trace_hash,
            } => break (records, trace_hash),
            Frame::Header { .. } => return Err(corrupt(count, "a second header inside the file")),
        }
    };
    let computed = r.hasher.digest();
    let mut stored = [0u8; 8];
    r.inner
        .read_exact(&mut stored)
        .map_err(|_| TraceFileError::Truncated {
            path: p(),
            records: count,
        })?;
    let stored = u64::from_le_bytes(stored);
    if stored != computed {
        return Err(TraceFileError::Checksum {
            path: p(),
            stored,
            computed,
        });
    }
    let mut rest = [0u8; 1];
    if r.inner
        .read(&mut rest)
        .map_err(|source| TraceFileError::Io { path: p(), source })?
        != 0
    {
        return Err(corrupt(count, "bytes after the checksum"));
    }
    if records != count {
        return Err(corrupt(
            count,
            &format!("the end marker counts {records} records"),
        ));
    }
    if check.hash() != trace_hash {
        return Err(corrupt(
            count,
            "the stored trace hash does not match the records",
        ));
    }
    Ok(TraceSummary {
        scenario,
        seed,
        producer,
        records,
        trace_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{Encoder, Trace, TraceEvent};

    #[derive(Debug)]
    struct Tick(u64);
    impl TraceEvent for Tick {
        fn encode(&self, enc: &mut Encoder<'_>) {
            enc.u8(1).u64(self.0);
        }
    }

    fn write_sample(dir: &Path, n: u64) -> (PathBuf, u64) {
        let path = dir.join("t.simtrace");
        let mut t = Trace::with_file(&path, "sample", 9).unwrap();
        for i in 0..n {
            t.record(RecordKind::Event, SimTime::from_nanos(i * 10), &Tick(i));
        }
        let hash = t.finish().unwrap();
        (path, hash)
    }

    fn tempdir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("simcore-tracefile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn round_trips_and_leaves_no_temp_file() {
        let dir = tempdir("rt");
        let (path, hash) = write_sample(&dir, 100);
        let mut seen = Vec::new();
        let s = read_trace(&path, |r| {
            seen.push((r.index, r.time.as_nanos(), r.label.clone()));
            true
        })
        .unwrap();
        assert_eq!(
            (s.records, s.trace_hash, s.seed, s.scenario.as_str()),
            (100, hash, 9, "sample")
        );
        assert_eq!(seen.len(), 100);
        assert_eq!(seen[3], (3, 30, "Tick(3)".to_string()));
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_refused() {
        let dir = tempdir("bad");
        let (path, _) = write_sample(&dir, 20);
        let good = std::fs::read(&path).unwrap();
        let bad = dir.join("bad.simtrace");
        for cut in 0..good.len() {
            std::fs::write(&bad, &good[..cut]).unwrap();
            assert!(
                read_trace(&bad, |_| true).is_err(),
                "truncated at {cut} accepted"
            );
        }
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0x40;
            std::fs::write(&bad, &b).unwrap();
            let mut visited = 0;
            assert!(
                read_trace(&bad, |_| {
                    visited += 1;
                    true
                })
                .is_err(),
                "flip at {i} accepted"
            );
            assert_eq!(visited, 0, "records of a corrupt file were shown");
        }
        let mut longer = good.clone();
        longer.push(0);
        std::fs::write(&bad, &longer).unwrap();
        assert!(read_trace(&bad, |_| true).is_err());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let dir = tempdir("msg");
        let (path, _) = write_sample(&dir, 5);
        let good = std::fs::read(&path).unwrap();
        let bad = dir.join("x");
        std::fs::write(&bad, b"hello world, not a trace").unwrap();
        assert!(matches!(
            read_trace(&bad, |_| true),
            Err(TraceFileError::BadMagic { .. })
        ));
        std::fs::write(&bad, &good[..good.len() / 2]).unwrap();
        assert!(matches!(
            read_trace(&bad, |_| true),
            Err(TraceFileError::Truncated { .. })
        ));
        let mut v = good.clone();
        v[8] = 99;
        std::fs::write(&bad, &v).unwrap();
        assert!(matches!(
            read_trace(&bad, |_| true),
            Err(TraceFileError::Version { found: 99, .. })
        ));
        assert!(matches!(
            read_trace(&dir.join("missing"), |_| true),
            Err(TraceFileError::Io { .. })
        ));
    }
}

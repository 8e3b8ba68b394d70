//! Cache trace files, read as streams (one record at a time, never the whole file) and written
//! from requests in memory. Three formats:
//!
//! - [`Format::Csv`], libCacheSim's CSV: a header naming the columns (`time`, `obj_id`,
//!   `obj_size`, in any order; `obj_id` required, the others default to 0 and 1), then one
//!   request per line: time in whole seconds, the object's id as an unsigned integer, its size in
//!   bytes. libCacheSim reads it with `-t csv -t "time-col=1, obj-id-col=2, obj-size-col=3,
//!   header=true"`.
//! - [`Format::Oracle`], libCacheSim's oracleGeneral binary: 24-byte little-endian records,
//!   `u32` time in seconds, `u64` obj_id, `u32` obj_size, `i64` next_access_vtime (the index
//!   from 0 of the next request for the same object; -1, or `i64::MAX`, when there is none).
//! - [`Format::Twitter`], the Twitter cache-trace (github.com/twitter/cache-trace): CSV without
//!   a header, `timestamp,anonymized key,key size,value size,client id,operation,TTL`. The key
//!   string is hashed to a `u64` (XXH3-64); an object's size is key size + value size.
//!
//! Times in a [`Request`] are nanoseconds; all three formats keep whole seconds, so writing
//! truncates to the second. A bad record is an error naming the line (text formats) or the
//! record number and byte offset (binary), and what is wrong.

use std::collections::HashMap;
use std::io::{self, BufRead, Read, Write};

use super::Request;
use super::list::FixedState;

const NANOS: u64 = 1_000_000_000;
/// Bytes of one oracleGeneral record.
pub const ORACLE_RECORD: usize = 24;

/// A trace file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Oracle,
    Twitter,
}

impl Format {
    pub const NAMES: &'static [&'static str] = &["csv", "oracle", "twitter"];

    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "csv" => Format::Csv,
            "oracle" | "oracleGeneral" => Format::Oracle,
            "twitter" => Format::Twitter,
            _ => return None,
        })
    }
}

/// A memcached-style operation (the Twitter format's `operation` column); the other formats'
/// requests are all [`Op::Get`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Op {
    #[default]
    Get,
    Gets,
    Set,
    Add,
    Replace,
    Cas,
    Append,
    Prepend,
    Delete,
    Incr,
    Decr,
}

impl Op {
    const ALL: [(&'static str, Op); 11] = [
        ("get", Op::Get),
        ("gets", Op::Gets),
        ("set", Op::Set),
        ("add", Op::Add),
        ("replace", Op::Replace),
        ("cas", Op::Cas),
        ("append", Op::Append),
        ("prepend", Op::Prepend),
        ("delete", Op::Delete),
        ("incr", Op::Incr),
        ("decr", Op::Decr),
    ];

    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.iter().find(|(n, _)| *n == name).map(|&(_, op)| op)
    }

    pub fn name(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(_, op)| *op == self)
            .map(|(n, _)| *n)
            .unwrap_or("get")
    }
}

/// One record of a trace: the request and what else the format carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Record {
    pub request: Request,
    pub op: Op,
    /// Time to live in seconds (Twitter format; 0: none).
    pub ttl: u64,
    /// The index of the next request for the same object (oracleGeneral; `None`: never, or not
    /// in the format).
    pub next_access: Option<u64>,
}

/// What is wrong with a trace.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("line 1: the header has no `{column}` column (it has: {header})")]
    NoColumn {
        column: &'static str,
        header: String,
    },
    #[error("line {line}: missing column `{column}` (the line has {found} column(s))")]
    MissingColumn {
        line: u64,
        column: &'static str,
        found: usize,
    },
    #[error("line {line}, column `{column}`: `{value}` is not {expected}")]
    BadField {
        line: u64,
        column: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error(
        "record {record} (byte {offset}): truncated, {got} of {ORACLE_RECORD} bytes before the end of the file"
    )]
    Truncated {
        record: u64,
        offset: u64,
        got: usize,
    },
    #[error(
        "record {record} (byte {offset}): next_access_vtime {value} is neither -1 nor an index"
    )]
    BadNextAccess {
        record: u64,
        offset: u64,
        value: i64,
    },
    #[error("request {index}: {what} does not fit the format's {bits}-bit field")]
    TooLarge {
        index: u64,
        what: &'static str,
        bits: u32,
    },
}

/// Reads `input` as a stream of records in `format`.
pub fn reader<'a, R: BufRead + 'a>(
    format: Format,
    input: R,
) -> Result<Box<dyn Iterator<Item = Result<Record, TraceError>> + 'a>, TraceError> {
    Ok(match format {
        Format::Csv => Box::new(CsvReader::new(input)?),
        Format::Oracle => Box::new(OracleReader::new(input)),
        Format::Twitter => Box::new(TwitterReader::new(input)),
    })
}

/// Writes `requests` in `format`.
pub fn write<W: Write>(format: Format, out: W, requests: &[Request]) -> Result<(), TraceError> {
    match format {
        Format::Csv => {
            let mut w = CsvWriter::new(out)?;
            requests.iter().try_for_each(|r| w.write(r))?;
            w.finish()
        }
        Format::Oracle => write_oracle(out, requests),
        Format::Twitter => {
            let mut w = TwitterWriter::new(out);
            requests.iter().try_for_each(|r| w.write(r))?;
            w.finish()
        }
    }
}

// ---- Text lines, shared by the two CSV formats.

/// Lines of a text trace, numbered from 1, blank lines skipped.
struct Lines<R> {
    input: R,
    buf: String,
    line: u64,
}

impl<R: BufRead> Lines<R> {
    fn new(input: R) -> Self {
        Lines {
            input,
            buf: String::new(),
            line: 0,
        }
    }

    /// The next non-blank line, without its line ending, and its number.
    fn next_line(&mut self) -> Option<Result<(u64, &str), TraceError>> {
        loop {
            self.buf.clear();
            match self.input.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => self.line += 1,
                Err(e) => return Some(Err(e.into())),
            }
            if !self.buf.trim().is_empty() {
                return Some(Ok((self.line, self.buf.trim_end_matches(['\n', '\r']))));
            }
        }
    }
}

fn field<'a>(
    fields: &[&'a str],
    i: usize,
    column: &'static str,
    line: u64,
) -> Result<&'a str, TraceError> {
    fields
        .get(i)
        .map(|s| s.trim())
        .ok_or(TraceError::MissingColumn {
            line,
            column,
            found: fields.len(),
        })
}

fn number(s: &str, column: &'static str, line: u64) -> Result<u64, TraceError> {
    s.parse().map_err(|_| TraceError::BadField {
        line,
        column,
        value: s.to_string(),
        expected: "an unsigned integer",
    })
}

// ---- libCacheSim's CSV.

/// Where each field is on a line.
#[derive(Debug, Clone, Copy)]
struct Columns {
    time: Option<usize>,
    id: usize,
    size: Option<usize>,
}

/// Reads libCacheSim's CSV.
pub struct CsvReader<R> {
    lines: Lines<R>,
    cols: Columns,
}

impl<R: BufRead> CsvReader<R> {
    /// Reads the header.
    pub fn new(input: R) -> Result<Self, TraceError> {
        let mut lines = Lines::new(input);
        let header = match lines.next_line() {
            Some(h) => h?.1.to_string(),
            None => String::new(),
        };
        let names: Vec<&str> = header.split(',').map(str::trim).collect();
        let find = |aliases: &[&str]| names.iter().position(|n| aliases.contains(n));
        let id = find(&["obj_id", "id", "key"]).ok_or_else(|| TraceError::NoColumn {
            column: "obj_id",
            header: header.clone(),
        })?;
        let cols = Columns {
            time: find(&["time", "timestamp", "clock_time"]),
            id,
            size: find(&["obj_size", "size"]),
        };
        Ok(CsvReader { lines, cols })
    }

    fn parse(&mut self) -> Option<Result<Record, TraceError>> {
        let cols = self.cols;
        let (line_no, line) = match self.lines.next_line()? {
            Ok(l) => l,
            Err(e) => return Some(Err(e)),
        };
        let fields: Vec<&str> = line.split(',').collect();
        let get = |i: Option<usize>, column, default| -> Result<u64, TraceError> {
            match i {
                Some(i) => number(field(&fields, i, column, line_no)?, column, line_no),
                None => Ok(default),
            }
        };
        let record = (|| {
            Ok(Record {
                request: Request {
                    time: get(cols.time, "time", 0)?.saturating_mul(NANOS),
                    key: get(Some(cols.id), "obj_id", 0)?,
                    size: get(cols.size, "obj_size", 1)?,
                },
                ..Record::default()
            })
        })();
        Some(record)
    }
}

impl<R: BufRead> Iterator for CsvReader<R> {
    type Item = Result<Record, TraceError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.parse()
    }
}

/// Writes libCacheSim's CSV.
pub struct CsvWriter<W: Write> {
    out: io::BufWriter<W>,
}

impl<W: Write> CsvWriter<W> {
    /// Writes the header.
    pub fn new(out: W) -> Result<Self, TraceError> {
        let mut out = io::BufWriter::new(out);
        writeln!(out, "time,obj_id,obj_size")?;
        Ok(CsvWriter { out })
    }

    pub fn write(&mut self, r: &Request) -> Result<(), TraceError> {
        writeln!(self.out, "{},{},{}", r.time / NANOS, r.key, r.size)?;
        Ok(())
    }

    pub fn finish(mut self) -> Result<(), TraceError> {
        Ok(self.out.flush()?)
    }
}

// ---- libCacheSim's oracleGeneral.

/// Reads oracleGeneral records.
pub struct OracleReader<R> {
    input: R,
    record: u64,
    /// Bytes read ahead, `buf[pos..len]` not yet parsed: records are parsed straight from it,
    /// a whole chunk read at a time (a read call per 24-byte record cost a third of a fast
    /// policy's time per request).
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    eof: bool,
}

/// Bytes an [`OracleReader`] reads at a time: a whole number of records.
const ORACLE_CHUNK: usize = ORACLE_RECORD * 8192;

impl<R: Read> OracleReader<R> {
    /// Reads `input` in chunks of its own (it need not be buffered).
    pub fn new(input: R) -> Self {
        OracleReader {
            input,
            record: 0,
            buf: vec![0; ORACLE_CHUNK],
            pos: 0,
            len: 0,
            eof: false,
        }
    }

    /// Moves what is left to the front and reads until the buffer is full or the input ends.
    fn refill(&mut self) -> io::Result<()> {
        self.buf.copy_within(self.pos..self.len, 0);
        self.len -= self.pos;
        self.pos = 0;
        while self.len < self.buf.len() && !self.eof {
            match self.input.read(&mut self.buf[self.len..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<R: Read> Iterator for OracleReader<R> {
    type Item = Result<Record, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.len - self.pos < ORACLE_RECORD && !self.eof {
            if let Err(e) = self.refill() {
                return Some(Err(e.into()));
            }
        }
        let (record, offset) = (self.record, self.record * ORACLE_RECORD as u64);
        match self.len - self.pos {
            0 => return None,
            got if got < ORACLE_RECORD => {
                // Reported once: the rest of the input is dropped with it.
                self.pos = self.len;
                return Some(Err(TraceError::Truncated {
                    record,
                    offset,
                    got,
                }));
            }
            _ => {}
        }
        let b = &self.buf[self.pos..self.pos + ORACLE_RECORD];
        self.pos += ORACLE_RECORD;
        self.record += 1;
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| {
            u64::from_le_bytes([
                b[i],
                b[i + 1],
                b[i + 2],
                b[i + 3],
                b[i + 4],
                b[i + 5],
                b[i + 6],
                b[i + 7],
            ])
        };
        let next = u64_at(16) as i64;
        let next_access = match next {
            -1 | i64::MAX => None,
            n if n >= 0 => Some(n as u64),
            value => {
                return Some(Err(TraceError::BadNextAccess {
                    record,
                    offset,
                    value,
                }));
            }
        };
        Some(Ok(Record {
            request: Request {
                time: u32_at(0) as u64 * NANOS,
                key: u64_at(4),
                size: u32_at(12) as u64,
            },
            next_access,
            ..Record::default()
        }))
    }
}

/// For each request, the index of the next request for the same object (a pass backwards).
pub fn next_accesses(requests: &[Request]) -> Vec<Option<u64>> {
    let mut next = vec![None; requests.len()];
    let mut seen: HashMap<u64, u64, FixedState> = HashMap::default();
    for (i, r) in requests.iter().enumerate().rev() {
        next[i] = seen.insert(r.key, i as u64);
    }
    next
}

/// Writes `requests` as oracleGeneral records, with each one's next access.
pub fn write_oracle<W: Write>(out: W, requests: &[Request]) -> Result<(), TraceError> {
    let mut out = io::BufWriter::new(out);
    for (i, (r, next)) in requests.iter().zip(next_accesses(requests)).enumerate() {
        let index = i as u64;
        let field = |v: u64, what| {
            u32::try_from(v).map_err(|_| TraceError::TooLarge {
                index,
                what,
                bits: 32,
            })
        };
        let mut b = [0u8; ORACLE_RECORD];
        b[0..4].copy_from_slice(&field(r.time / NANOS, "the time in seconds")?.to_le_bytes());
        b[4..12].copy_from_slice(&r.key.to_le_bytes());
        b[12..16].copy_from_slice(&field(r.size, "the size")?.to_le_bytes());
        b[16..24].copy_from_slice(&next.map_or(-1, |n| n as i64).to_le_bytes());
        out.write_all(&b)?;
    }
    Ok(out.flush()?)
}

// ---- Twitter's cache-trace.

/// Reads the Twitter cache-trace format.
pub struct TwitterReader<R> {
    lines: Lines<R>,
}

impl<R: BufRead> TwitterReader<R> {
    pub fn new(input: R) -> Self {
        TwitterReader {
            lines: Lines::new(input),
        }
    }
}

/// The key string's `u64`.
pub fn hash_key(key: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key.as_bytes())
}

const TWITTER_COLUMNS: [&str; 7] = [
    "timestamp",
    "key",
    "key size",
    "value size",
    "client id",
    "operation",
    "TTL",
];

/// The seven fields of a line; the key may hold commas, so it is what lies between the first
/// field and the last five.
fn twitter_fields(line: &str, line_no: u64) -> Result<[&str; 7], TraceError> {
    let missing = |found: usize| TraceError::MissingColumn {
        line: line_no,
        column: TWITTER_COLUMNS[found.min(6)],
        found,
    };
    let (time, rest) = line.split_once(',').ok_or(missing(1))?;
    let mut tail: Vec<&str> = rest.rsplitn(6, ',').collect();
    if tail.len() < 6 {
        return Err(missing(tail.len() + 1));
    }
    tail.reverse();
    Ok([time, tail[0], tail[1], tail[2], tail[3], tail[4], tail[5]])
}

impl<R: BufRead> Iterator for TwitterReader<R> {
    type Item = Result<Record, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (n, line) = match self.lines.next_line()? {
            Ok(l) => l,
            Err(e) => return Some(Err(e)),
        };
        let parse = || -> Result<Record, TraceError> {
            let f = twitter_fields(line, n)?;
            let num = |i: usize| number(f[i].trim(), TWITTER_COLUMNS[i], n);
            let op = f[5].trim();
            let op = Op::from_name(op).ok_or_else(|| TraceError::BadField {
                line: n,
                column: "operation",
                value: op.to_string(),
                expected: "one of get, gets, set, add, replace, cas, append, prepend, delete, incr, decr",
            })?;
            Ok(Record {
                request: Request {
                    time: num(0)?.saturating_mul(NANOS),
                    key: hash_key(f[1]),
                    size: num(2)?.saturating_add(num(3)?),
                },
                op,
                ttl: num(6)?,
                next_access: None,
            })
        };
        Some(parse())
    }
}

/// Writes requests in the Twitter format: the key as 16 hex digits (a reader sees its hash),
/// a key size of at most 16 bytes and the rest of the size as the value's, client 0, `get`, no TTL.
pub struct TwitterWriter<W: Write> {
    out: io::BufWriter<W>,
}

/// The key size written for an object (the rest of its size is the value's).
const TWITTER_KEY_BYTES: u64 = 16;

impl<W: Write> TwitterWriter<W> {
    pub fn new(out: W) -> Self {
        TwitterWriter {
            out: io::BufWriter::new(out),
        }
    }

    pub fn write(&mut self, r: &Request) -> Result<(), TraceError> {
        let t = r.time / NANOS;
        let key_size = r.size.min(TWITTER_KEY_BYTES);
        writeln!(
            self.out,
            "{t},{:016x},{key_size},{},0,get,0",
            r.key,
            r.size - key_size
        )?;
        Ok(())
    }

    pub fn finish(mut self) -> Result<(), TraceError> {
        Ok(self.out.flush()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::workload::{Generator, Spec};

    fn requests(n: usize) -> Vec<Request> {
        let mut spec = Spec::new("zipf(300, 1.0)".parse().unwrap());
        spec.sizes = "loguniform(1, 100000)".parse().unwrap();
        spec.arrivals.rate = 50.0;
        Generator::new(spec, 4).unwrap().take(n).collect()
    }

    fn read_all(format: Format, bytes: &[u8]) -> Result<Vec<Record>, TraceError> {
        reader(format, bytes)?.collect()
    }

    fn whole_seconds(reqs: &[Request]) -> Vec<Request> {
        reqs.iter()
            .map(|r| Request {
                time: r.time / NANOS * NANOS,
                ..*r
            })
            .collect()
    }

    #[test]
    fn csv_and_oracle_round_trip() {
        let reqs = requests(5_000);
        for format in [Format::Csv, Format::Oracle] {
            let mut bytes = Vec::new();
            write(format, &mut bytes, &reqs).unwrap();
            let back = read_all(format, &bytes).unwrap();
            let got: Vec<Request> = back.iter().map(|r| r.request).collect();
            assert_eq!(got, whole_seconds(&reqs), "{format:?}");
        }
    }

    /// next_access_vtime is the index of the next request for the object, -1 if none: checked
    /// against a quadratic search forwards.
    #[test]
    fn oracle_next_access_is_the_next_index_of_the_same_key() {
        let reqs = requests(2_000);
        let mut bytes = Vec::new();
        write_oracle(&mut bytes, &reqs).unwrap();
        assert_eq!(bytes.len(), reqs.len() * ORACLE_RECORD);
        for (i, rec) in read_all(Format::Oracle, &bytes).unwrap().iter().enumerate() {
            let expected = (i + 1..reqs.len()).find(|&j| reqs[j].key == reqs[i].key);
            assert_eq!(rec.next_access, expected.map(|j| j as u64), "request {i}");
            let raw = i64::from_le_bytes(bytes[i * 24 + 16..i * 24 + 24].try_into().unwrap());
            assert_eq!(raw, expected.map_or(-1, |j| j as i64));
        }
    }

    #[test]
    fn twitter_round_trips_sizes_and_times_and_hashes_keys() {
        let reqs = requests(3_000);
        let mut bytes = Vec::new();
        write(Format::Twitter, &mut bytes, &reqs).unwrap();
        let back = read_all(Format::Twitter, &bytes).unwrap();
        for (r, b) in whole_seconds(&reqs).iter().zip(&back) {
            assert_eq!((b.request.time, b.request.size), (r.time, r.size));
            assert_eq!(b.request.key, hash_key(&format!("{:016x}", r.key)));
            assert_eq!((b.op, b.ttl), (Op::Get, 0));
        }
    }

    /// A line from the published Twitter traces (cluster 52's README), and a key with commas.
    #[test]
    fn twitter_reads_ops_ttls_and_odd_keys() {
        let text = "0,q:q:1:8WTfjZU,32,2,1,gets,0\n\n5,a,b,,c,10,300,7,set,3600\n";
        let recs = read_all(Format::Twitter, text.as_bytes()).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].request.key, hash_key("q:q:1:8WTfjZU"));
        assert_eq!(
            (recs[0].request.size, recs[0].op, recs[0].ttl),
            (34, Op::Gets, 0)
        );
        assert_eq!(recs[1].request.key, hash_key("a,b,,c"));
        assert_eq!(
            (
                recs[1].request.time,
                recs[1].request.size,
                recs[1].op,
                recs[1].ttl
            ),
            (5 * NANOS, 310, Op::Set, 3600)
        );
    }

    #[test]
    fn csv_header_names_the_columns_in_any_order() {
        let text = "obj_size,obj_id,time\n10,5,2\n\n20,6,3\n";
        let got: Vec<Request> = read_all(Format::Csv, text.as_bytes())
            .unwrap()
            .iter()
            .map(|r| r.request)
            .collect();
        assert_eq!(
            got,
            [
                Request {
                    time: 2 * NANOS,
                    key: 5,
                    size: 10
                },
                Request {
                    time: 3 * NANOS,
                    key: 6,
                    size: 20
                }
            ]
        );
        // Without size or time columns: size 1, time 0.
        let got = read_all(Format::Csv, b"obj_id\n7\n").unwrap();
        assert_eq!(
            got[0].request,
            Request {
                time: 0,
                key: 7,
                size: 1
            }
        );
    }

    fn error(format: Format, bytes: &[u8]) -> String {
        match read_all(format, bytes) {
            Err(e) => e.to_string(),
            Ok(r) => panic!("{format:?} read {} records from a bad trace", r.len()),
        }
    }

    #[test]
    fn bad_text_traces_name_the_line_and_the_problem() {
        for (format, text, expected) in [
            (
                Format::Csv,
                "time,size\n1,2\n",
                "line 1: the header has no `obj_id` column",
            ),
            (
                Format::Csv,
                "time,obj_id,obj_size\n1,2,3\n4,5\n",
                "line 3: missing column `obj_size`",
            ),
            (
                Format::Csv,
                "time,obj_id,obj_size\n1,2,3\n\n4,x5,6\n",
                "line 4, column `obj_id`: `x5` is not an unsigned integer",
            ),
            (
                Format::Csv,
                "time,obj_id,obj_size\n1,2,-3\n",
                "line 2, column `obj_size`: `-3`",
            ),
            (
                Format::Twitter,
                "0,k,1,2,0,get,0\n1,k,1\n",
                "line 2: missing column",
            ),
            (
                Format::Twitter,
                "0,k,1,2,0,fetch,0\n",
                "line 1, column `operation`: `fetch`",
            ),
            (
                Format::Twitter,
                "0,k,1,2,0,get,soon\n",
                "line 1, column `TTL`: `soon`",
            ),
            (
                Format::Twitter,
                "t0,k,1,2,0,get,0\n",
                "line 1, column `timestamp`: `t0`",
            ),
        ] {
            let e = error(format, text.as_bytes());
            assert!(e.starts_with(expected), "{format:?} {text:?}: {e}");
        }
    }

    #[test]
    fn bad_binary_traces_name_the_record_and_offset() {
        let reqs = requests(3);
        let mut bytes = Vec::new();
        write_oracle(&mut bytes, &reqs).unwrap();
        let e = error(Format::Oracle, &bytes[..24 * 2 + 5]);
        assert_eq!(
            e,
            "record 2 (byte 48): truncated, 5 of 24 bytes before the end of the file"
        );
        bytes[24 + 16..24 + 24].copy_from_slice(&(-7i64).to_le_bytes());
        let e = error(Format::Oracle, &bytes);
        assert!(
            e.starts_with("record 1 (byte 24): next_access_vtime -7"),
            "{e}"
        );
        // i64::MAX is libCacheSim's other "never".
        bytes[24 + 16..24 + 24].copy_from_slice(&i64::MAX.to_le_bytes());
        assert_eq!(
            read_all(Format::Oracle, &bytes).unwrap()[1].next_access,
            None
        );
    }

    #[test]
    fn oracle_fields_that_do_not_fit_are_errors() {
        let big = [Request {
            time: 0,
            key: 1,
            size: 1 << 32,
        }];
        let e = write_oracle(Vec::new(), &big).unwrap_err().to_string();
        assert_eq!(
            e,
            "request 0: the size does not fit the format's 32-bit field"
        );
        let late = [Request {
            time: (1 << 32) * NANOS,
            key: 1,
            size: 1,
        }];
        assert!(write_oracle(Vec::new(), &late).is_err());
    }
}

//! The inference service: one process per server that holds each model once and serves every
//! backend over a Unix socket in the data directory (see [`server`] and [`client`]).
//!
//! Wire format, both ways: one frame per message,
//! `u32 header length | header (JSON) | u32 payload length | payload (little-endian f32)`.
//! A request's header names the operation, the model (directory, id and the model file's pinned
//! sha256 as the caller's registry knows it) and the batch limits; texts travel in the header,
//! matrices (embeddings, feature rows) in the payload. A response carries either a matrix
//! (`rows` × `cols` f32 in the payload) and/or JSON values, or an error that the caller rebuilds
//! into the same [`Error`] it would have got in its own process.

pub mod client;
pub mod recent;
pub mod server;

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::PathBuf;

/// The socket's file name, relative to the data directory (every backend's working directory).
pub const SOCKET_NAME: &str = "songmatch_inference.sock";
/// Protocol version: a request of another version is refused.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest frame part accepted (header or payload): 1 GiB.
const MAX_PART: usize = 1 << 30;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Embeddings of (already formatted) texts → matrix.
    Embed,
    /// Sequence-classification logits of texts → matrix.
    Classify,
    /// Embedding-head logits of the payload's embeddings → matrix.
    Head,
    /// Learned-ranker scores of the payload's feature rows → matrix [n, 1].
    Ranker,
    /// Reranker scores of `docs` against `query` → `scores`.
    Rerank,
    /// Token ids of one text → `ids`.
    Tokenize,
    /// Counters, loaded models and queue → `status`.
    Status,
    /// Forget every loaded model and registry (after models were reinstalled).
    Reload,
}

impl Op {
    /// Requests of these operations for the same model are run together in one batch.
    pub fn batchable(self) -> bool {
        matches!(self, Op::Embed | Op::Classify | Op::Head | Op::Ranker)
    }
}

/// Engine settings a request is computed under (the caller's session settings).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct RequestConfig {
    pub library: PathBuf,
    pub max_batch_texts: usize,
    pub max_batch_tokens: usize,
    pub graph_optimization: String,
    pub verify_cache: Option<PathBuf>,
    /// Run the model for every text, not answering any from the service's recent results
    /// ([`recent`]): a benchmark of the model's throughput sets it.
    #[serde(default)]
    pub no_reuse: bool,
}

/// A request header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Request {
    pub v: u32,
    pub op: Option<Op>,
    #[serde(default)]
    pub dir: PathBuf,
    #[serde(default)]
    pub model: String,
    /// The model file's sha256 in the caller's registry: a service whose registry says otherwise
    /// rescans the directory first.
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub cfg: RequestConfig,
    #[serde(default)]
    pub texts: Vec<String>,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub instruction: Option<String>,
    /// Payload shape (rows × cols f32) for Head and Ranker.
    #[serde(default)]
    pub rows: usize,
    #[serde(default)]
    pub cols: usize,
    /// How long the service may wait for other sessions' requests to batch with (µs).
    #[serde(default)]
    pub batch_wait_us: u64,
    /// Background work (a refresher's): it yields to interactive requests between model runs.
    #[serde(default)]
    pub background: bool,
}

impl Request {
    pub fn new(op: Op) -> Self {
        Request { v: PROTOCOL_VERSION, op: Some(op), ..Default::default() }
    }

    /// The number of items (texts or rows) this request brings to a batch.
    pub fn items(&self) -> usize {
        match self.op {
            Some(Op::Head) | Some(Op::Ranker) => self.rows,
            _ => self.texts.len(),
        }
    }
}

/// A response header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Response {
    pub ok: bool,
    #[serde(default)]
    pub rows: usize,
    #[serde(default)]
    pub cols: usize,
    #[serde(default)]
    pub scores: Vec<f64>,
    #[serde(default)]
    pub ids: Vec<i64>,
    #[serde(default)]
    pub status: Value,
    #[serde(default)]
    pub error: Value,
    /// How many of the rows were not computed for this request: answered from the service's
    /// recent results, or the same text as another request of its batch ([`recent`]).
    #[serde(default)]
    pub shared: usize,
}

impl Response {
    pub fn matrix(rows: usize, cols: usize) -> Self {
        Response { ok: true, rows, cols, ..Default::default() }
    }

    pub fn failed(e: &Error) -> Self {
        Response { ok: false, error: encode_error(e), ..Default::default() }
    }
}

/// An error as it travels: its kind and fields, so that the caller rebuilds the same variant
/// (same message, same SQLSTATE).
pub fn encode_error(e: &Error) -> Value {
    match e {
        Error::InvalidParameter(m) => json!({"kind": "invalid", "message": m}),
        Error::Data(m) => json!({"kind": "data", "message": m}),
        Error::NullValue(m) => json!({"kind": "null", "message": m}),
        Error::PermissionDenied(m) => json!({"kind": "permission", "message": m}),
        Error::LimitExceeded(m) => json!({"kind": "limit", "message": m}),
        Error::UnknownModel { name, available } => json!({"kind": "unknown_model", "name": name, "available": available}),
        Error::DimensionMismatch { expected, actual } => json!({"kind": "dimension", "expected": expected, "actual": actual}),
        Error::MissingFile { path } => json!({"kind": "missing", "path": path}),
        Error::ChecksumMismatch { path, expected, actual } => {
            json!({"kind": "checksum", "path": path, "expected": expected, "actual": actual})
        }
        Error::Unsupported(m) => json!({"kind": "unsupported", "message": m}),
        Error::Config(m) => json!({"kind": "config", "message": m}),
        Error::Runtime(m) => json!({"kind": "runtime", "message": m}),
        Error::Unavailable(m) => json!({"kind": "unavailable", "message": m}),
        Error::Io { path, source } => json!({"kind": "io", "path": path, "message": source.to_string()}),
    }
}

/// The inverse of [`encode_error`]; anything unrecognisable is a runtime error.
pub fn decode_error(v: &Value) -> Error {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let p = |k: &str| PathBuf::from(v[k].as_str().unwrap_or_default());
    let n = |k: &str| v[k].as_u64().unwrap_or_default() as usize;
    match v["kind"].as_str().unwrap_or_default() {
        "invalid" => Error::InvalidParameter(s("message")),
        "data" => Error::Data(s("message")),
        "null" => Error::NullValue(s("message")),
        "permission" => Error::PermissionDenied(s("message")),
        "limit" => Error::LimitExceeded(s("message")),
        "unknown_model" => Error::UnknownModel {
            name: s("name"),
            available: v["available"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
                .unwrap_or_default(),
        },
        "dimension" => Error::DimensionMismatch { expected: n("expected"), actual: n("actual") },
        "missing" => Error::MissingFile { path: p("path") },
        "checksum" => Error::ChecksumMismatch { path: p("path"), expected: s("expected"), actual: s("actual") },
        "unsupported" => Error::Unsupported(s("message")),
        "config" => Error::Config(s("message")),
        "unavailable" => Error::Unavailable(s("message")),
        "io" => Error::Io { path: p("path"), source: std::io::Error::other(s("message")) },
        "runtime" => Error::Runtime(s("message")),
        _ => Error::Runtime(format!("the inference service answered with an unreadable error: {v}")),
    }
}

/// f32s as little-endian bytes.
pub fn f32_bytes(rows: &[Vec<f32>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.iter().map(|r| r.len() * 4).sum());
    for r in rows {
        for x in r {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out
}

/// Little-endian bytes as `rows` rows of `cols` f32s.
pub fn f32_rows(bytes: &[u8], rows: usize, cols: usize) -> Result<Vec<Vec<f32>>> {
    if rows.checked_mul(cols).and_then(|n| n.checked_mul(4)) != Some(bytes.len()) {
        return Err(Error::Runtime(format!("inference payload of {} bytes is not {rows} x {cols} f32", bytes.len())));
    }
    Ok(bytes
        .chunks_exact(4 * cols.max(1))
        .take(rows)
        .map(|row| row.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
        .chain(std::iter::repeat_with(Vec::new))
        .take(rows)
        .collect())
}

/// Write one frame.
pub fn write_frame(w: &mut impl Write, header: &impl Serialize, payload: &[u8]) -> std::io::Result<()> {
    let h = serde_json::to_vec(header).map_err(std::io::Error::other)?;
    let mut buf = Vec::with_capacity(8 + h.len() + payload.len());
    buf.extend_from_slice(&(h.len() as u32).to_le_bytes());
    buf.extend_from_slice(&h);
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(payload);
    w.write_all(&buf)?;
    w.flush()
}

/// Read one frame (blocking); `Ok(None)` at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let header = read_part(r, u32::from_le_bytes(len) as usize)?;
    r.read_exact(&mut len)?;
    let payload = read_part(r, u32::from_le_bytes(len) as usize)?;
    Ok(Some((header, payload)))
}

fn read_part(r: &mut impl Read, n: usize) -> std::io::Result<Vec<u8>> {
    if n > MAX_PART {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("frame part of {n} bytes")));
    }
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

/// A frame found in a buffer: header, payload, and the bytes it used.
pub type Frame<'a> = (&'a [u8], &'a [u8], usize);

/// A complete frame at the start of `buf`, if there is one.
pub fn parse_frame(buf: &[u8]) -> std::io::Result<Option<Frame<'_>>> {
    let part = |at: usize| -> std::io::Result<Option<(usize, usize)>> {
        if buf.len() < at + 4 {
            return Ok(None);
        }
        let n = u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
        if n > MAX_PART {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("frame part of {n} bytes")));
        }
        Ok((buf.len() >= at + 4 + n).then_some((at + 4, n)))
    };
    let Some((h0, hn)) = part(0)? else { return Ok(None) };
    let Some((p0, pn)) = part(h0 + hn)? else { return Ok(None) };
    Ok(Some((&buf[h0..h0 + hn], &buf[p0..p0 + pn], p0 + pn)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_travel_unchanged() {
        let cases = vec![
            Error::invalid("kind must be 'document' or 'query', got 'x'"),
            Error::UnknownModel { name: "nope".into(), available: vec!["a".into(), "b".into()] },
            Error::DimensionMismatch { expected: 32, actual: 64 },
            Error::MissingFile { path: "/m/x/model.onnx".into() },
            Error::ChecksumMismatch { path: "/m/x".into(), expected: "ab".into(), actual: "cd".into() },
            Error::Config("c".into()),
            Error::Runtime("r".into()),
            Error::Unavailable("u".into()),
            Error::Io { path: "/p".into(), source: std::io::Error::other("boom") },
        ];
        for e in cases {
            let back = decode_error(&encode_error(&e));
            assert_eq!(back.to_string(), e.to_string());
            assert_eq!(back.sqlstate(), e.sqlstate());
        }
        assert_eq!(decode_error(&json!({"kind": "?"})).sqlstate(), "58000");
    }

    #[test]
    fn frames_round_trip_and_parse_incrementally() {
        let mut req = Request::new(Op::Embed);
        req.texts = vec!["a".into(), "bé".into()];
        let payload = f32_bytes(&[vec![1.0, -2.5], vec![3.25, 0.0]]);
        let mut buf = Vec::new();
        write_frame(&mut buf, &req, &payload).unwrap();
        for cut in 0..buf.len() {
            assert!(parse_frame(&buf[..cut]).unwrap().is_none(), "incomplete at {cut}");
        }
        let (h, p, used) = parse_frame(&buf).unwrap().unwrap();
        assert_eq!(used, buf.len());
        let back: Request = serde_json::from_slice(h).unwrap();
        assert_eq!(back, req);
        assert_eq!(f32_rows(p, 2, 2).unwrap(), vec![vec![1.0, -2.5], vec![3.25, 0.0]]);
        assert!(f32_rows(p, 3, 2).is_err());
        let (h2, p2) = read_frame(&mut &buf[..]).unwrap().unwrap();
        assert_eq!((h2.as_slice(), p2.as_slice()), (h, p));
        assert!(read_frame(&mut &buf[..0]).unwrap().is_none());
        // zero columns: rows of nothing
        assert_eq!(f32_rows(&[], 2, 0).unwrap(), vec![Vec::<f32>::new(), Vec::new()]);
    }
}

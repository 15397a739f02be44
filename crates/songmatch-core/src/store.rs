//! The feature store: a packed, read-only snapshot of what a match reads of every catalogue track
//! (its content hash, its stored stage-1 signals and its embedding under one model), taken at one
//! value of the catalogue's generation counter and mapped by every backend that matches.
//!
//! A match over N candidates otherwise reads each of them from two tables (an index probe each,
//! 2–3 µs apiece). Read from the store, a candidate is a binary search over a sorted array of ids
//! and a copy of its vector. The store answers only for the generation it was taken at, which a
//! caller compares with the counter it reads; anything the store lacks (a track added since, an
//! embedding computed since) the caller reads from the tables as before, so the answers are the
//! same either way.
//!
//! Layout (little-endian):
//! * `[0, 4096)`: [`MAGIC`], then the header as JSON ([`StoreHeader`]): its length (u32) and text;
//! * at `HEADER_SIZE`: the embeddings, `n` × `dims` × f32 (zeros where a track has none);
//! * the ids, `n` × i64, ascending (8-byte aligned);
//! * per track, 24 bytes: offset of its bytes in the blob (u64), length of its content hash (u32),
//!   length of its signals (u32, `u32::MAX`: none stored), whether it has an embedding (u32), 0 (u32);
//! * the blob: each track's content hash, then its signals.
//!
//! A file shorter than its header says, or whose sections do not fit, is refused as a whole.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::io::{Seek, SeekFrom, Write};

pub const MAGIC: &[u8; 8] = b"SMSTORE1";
pub const HEADER_SIZE: u64 = 4096;
const META_SIZE: u64 = 24;
const NO_SIGNALS: u32 = u32::MAX;

/// What a store is a snapshot of, and where its sections lie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreHeader {
    /// The install's epoch and the catalogue's generation the snapshot was taken at.
    pub epoch: String,
    pub generation: i64,
    /// The embedding model (name, version) of its vectors.
    pub model: String,
    pub version: String,
    pub dims: u32,
    pub tracks: u64,
    pub with_embedding: u64,
    pub embeddings_at: u64,
    pub ids_at: u64,
    pub meta_at: u64,
    pub blob_at: u64,
    pub len: u64,
}

impl StoreHeader {
    /// Whether the store was taken at this generation of this install.
    pub fn taken_at(&self, epoch: &str, generation: i64) -> bool {
        self.epoch == epoch && self.generation == generation
    }

    /// Whether its vectors are of this embedding model (name, version).
    pub fn of_model(&self, model: &(String, String)) -> bool {
        self.model == model.0 && self.version == model.1
    }

    pub fn megabytes(&self) -> f64 {
        (self.len as f64 / 1048576.0 * 10.0).round() / 10.0
    }
}

/// Streams a store to a file: tracks in ascending id order, then [`StoreWriter::finish`].
pub struct StoreWriter<W: Write + Seek> {
    out: W,
    dims: usize,
    ids: Vec<i64>,
    meta: Vec<u8>,
    blob: Vec<u8>,
    with_embedding: u64,
    zeros: Vec<u8>,
    row: Vec<u8>,
}

impl<W: Write + Seek> StoreWriter<W> {
    pub fn new(mut out: W, dims: usize) -> Result<Self> {
        out.seek(SeekFrom::Start(HEADER_SIZE)).map_err(io("cannot write the feature store"))?;
        Ok(StoreWriter {
            out,
            dims,
            ids: Vec::new(),
            meta: Vec::new(),
            blob: Vec::new(),
            with_embedding: 0,
            zeros: vec![0u8; dims * 4],
            row: Vec::with_capacity(dims * 4),
        })
    }

    /// One track. An embedding of another length than the store's is not stored (the caller
    /// reads it from the table).
    pub fn push(&mut self, id: i64, content_hash: &str, signals: Option<&[u8]>, embedding: Option<&[f32]>) -> Result<()> {
        if self.ids.last().is_some_and(|last| *last >= id) {
            return Err(Error::data(format!("feature store: track {id} out of order")));
        }
        let embedding = embedding.filter(|e| e.len() == self.dims && self.dims > 0);
        match embedding {
            Some(e) => {
                self.row.clear();
                for x in e {
                    self.row.extend_from_slice(&x.to_le_bytes());
                }
                self.out.write_all(&self.row).map_err(io("cannot write the feature store"))?;
                self.with_embedding += 1;
            }
            None => self.out.write_all(&self.zeros).map_err(io("cannot write the feature store"))?,
        }
        let sig_len = match signals {
            Some(s) if s.len() < NO_SIGNALS as usize => s.len() as u32,
            _ => NO_SIGNALS,
        };
        self.meta.extend_from_slice(&(self.blob.len() as u64).to_le_bytes());
        self.meta.extend_from_slice(&(content_hash.len() as u32).to_le_bytes());
        self.meta.extend_from_slice(&sig_len.to_le_bytes());
        self.meta.extend_from_slice(&(embedding.is_some() as u32).to_le_bytes());
        self.meta.extend_from_slice(&0u32.to_le_bytes());
        self.blob.extend_from_slice(content_hash.as_bytes());
        if sig_len != NO_SIGNALS {
            self.blob.extend_from_slice(signals.unwrap_or_default());
        }
        self.ids.push(id);
        Ok(())
    }

    /// Writes the ids, the per-track entries, the blob and the header; returns the header.
    pub fn finish(mut self, epoch: &str, generation: i64, model: &str, version: &str) -> Result<(W, StoreHeader)> {
        let n = self.ids.len() as u64;
        let embeddings_at = HEADER_SIZE;
        let end = embeddings_at + n * self.dims as u64 * 4;
        let ids_at = end.div_ceil(8) * 8;
        let w = io("cannot write the feature store");
        self.out.write_all(&vec![0u8; (ids_at - end) as usize]).map_err(&w)?;
        let mut ids = Vec::with_capacity(self.ids.len() * 8);
        for id in &self.ids {
            ids.extend_from_slice(&id.to_le_bytes());
        }
        self.out.write_all(&ids).map_err(&w)?;
        let meta_at = ids_at + n * 8;
        self.out.write_all(&self.meta).map_err(&w)?;
        let blob_at = meta_at + n * META_SIZE;
        self.out.write_all(&self.blob).map_err(&w)?;
        let header = StoreHeader {
            epoch: epoch.to_string(),
            generation,
            model: model.to_string(),
            version: version.to_string(),
            dims: self.dims as u32,
            tracks: n,
            with_embedding: self.with_embedding,
            embeddings_at,
            ids_at,
            meta_at,
            blob_at,
            len: blob_at + self.blob.len() as u64,
        };
        let text = serde_json::to_vec(&header).map_err(|e| Error::data(format!("feature store header: {e}")))?;
        if MAGIC.len() + 4 + text.len() > HEADER_SIZE as usize {
            return Err(Error::data("feature store: the header does not fit (model name too long)"));
        }
        self.out.seek(SeekFrom::Start(0)).map_err(&w)?;
        self.out.write_all(MAGIC).map_err(&w)?;
        self.out.write_all(&(text.len() as u32).to_le_bytes()).map_err(&w)?;
        self.out.write_all(&text).map_err(&w)?;
        self.out.flush().map_err(&w)?;
        Ok((self.out, header))
    }
}

fn io(what: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::data(format!("{what}: {e}"))
}

/// A track as the store has it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTrack<'a> {
    pub content_hash: &'a str,
    /// Its stored signals (None: none were stored).
    pub signals: Option<&'a [u8]>,
    /// Its embedding (None: none was stored).
    pub embedding: Option<Vec<f32>>,
}

/// A store read from bytes (a mapped file).
pub struct Store<'a> {
    bytes: &'a [u8],
    pub header: StoreHeader,
}

/// The header of a store's bytes, if they are a complete store.
pub fn read_header(bytes: &[u8]) -> Result<StoreHeader> {
    let bad = |why: &str| Error::data(format!("not a complete feature store: {why}"));
    if bytes.len() < HEADER_SIZE as usize || &bytes[..8] != MAGIC {
        return Err(bad("no header"));
    }
    let len = u32::from_le_bytes(bytes[8..12].try_into().map_err(|_| bad("no header"))?) as usize;
    let text = bytes.get(12..12 + len).filter(|_| 12 + len <= HEADER_SIZE as usize).ok_or_else(|| bad("header length"))?;
    let h: StoreHeader = serde_json::from_slice(text).map_err(|e| bad(&format!("header: {e}")))?;
    let n = h.tracks;
    let fits = h.embeddings_at == HEADER_SIZE
        && n.checked_mul(h.dims as u64 * 4).and_then(|e| e.checked_add(h.embeddings_at)).is_some_and(|end| end <= h.ids_at)
        && h.ids_at.is_multiple_of(8)
        && n.checked_mul(8).and_then(|x| x.checked_add(h.ids_at)) == Some(h.meta_at)
        && n.checked_mul(META_SIZE).and_then(|x| x.checked_add(h.meta_at)) == Some(h.blob_at)
        && h.blob_at <= h.len
        && h.len == bytes.len() as u64;
    if !fits {
        return Err(bad("its sections do not fit its length"));
    }
    Ok(h)
}

impl<'a> Store<'a> {
    pub fn open(bytes: &'a [u8]) -> Result<Self> {
        let header = read_header(bytes)?;
        Ok(Store { bytes, header })
    }

    /// The id of the track at a position (positions follow ids, ascending).
    pub fn id_at(&self, i: usize) -> i64 {
        let at = self.header.ids_at as usize + i * 8;
        i64::from_le_bytes(self.bytes[at..at + 8].try_into().unwrap_or([0; 8]))
    }

    fn u32_at(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.bytes[at..at + 4].try_into().unwrap_or([0; 4]))
    }

    /// The position of a track among the store's, if it has it.
    pub fn position(&self, id: i64) -> Option<usize> {
        let (mut lo, mut hi) = (0usize, self.header.tracks as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.id_at(mid).cmp(&id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// A track's entry, if the store has it (None also for an entry whose bytes lie outside the
    /// file or are not text, which a complete store never has).
    pub fn entry(&self, id: i64) -> Option<Entry<'a>> {
        self.entry_at(self.position(id)?)
    }

    /// The entry at a position (as [`Store::entry`]; None also past the last).
    pub fn entry_at(&self, at: usize) -> Option<Entry<'a>> {
        let (m, off, hash_len, signals) = self.meta(at)?;
        let blob: &'a [u8] = &self.bytes[self.header.blob_at as usize..];
        let content_hash = std::str::from_utf8(blob.get(off..off.checked_add(hash_len)?)?).ok()?;
        let signals_at = signals.map(|_| self.header.blob_at as usize + off + hash_len);
        Some(Entry { at, content_hash, signals, signals_at, has_embedding: self.u32_at(m + 16) == 1 })
    }

    /// The stored signals (None: none stored) at a position and whether it has an embedding,
    /// without its content hash (None past the last, or for bytes outside the file).
    pub fn stored_at(&self, at: usize) -> Option<(Option<&'a [u8]>, bool)> {
        let (m, _, _, signals) = self.meta(at)?;
        Some((signals, self.u32_at(m + 16) == 1))
    }

    /// The metadata of the track at a position: where its 24 bytes are, where its bytes begin in
    /// the blob, its content hash's length, and its signals (None: none stored); None past the
    /// last, or for signals outside the file.
    fn meta(&self, at: usize) -> Option<(usize, usize, usize, Option<&'a [u8]>)> {
        if at >= self.header.tracks as usize {
            return None;
        }
        let m = self.header.meta_at as usize + at * META_SIZE as usize;
        let off = u64::from_le_bytes(self.bytes[m..m + 8].try_into().ok()?) as usize;
        let hash_len = self.u32_at(m + 8) as usize;
        let blob: &'a [u8] = &self.bytes[self.header.blob_at as usize..];
        let signals = match self.u32_at(m + 12) {
            NO_SIGNALS => None,
            l => {
                let from = off.checked_add(hash_len)?;
                Some(blob.get(from..from.checked_add(l as usize)?)?)
            }
        };
        Some((m, off, hash_len, signals))
    }

    /// The embedding stored at a position (zeros where the track has none).
    pub fn embedding_at(&self, at: usize) -> Vec<f32> {
        let dims = self.header.dims as usize;
        let from = self.header.embeddings_at as usize + at * dims * 4;
        self.bytes[from..from + dims * 4].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    }

    /// A track, if the store has it.
    pub fn get(&self, id: i64) -> Option<StoredTrack<'a>> {
        let e = self.entry(id)?;
        let embedding = e.has_embedding.then(|| self.embedding_at(e.at));
        Some(StoredTrack { content_hash: e.content_hash, signals: e.signals, embedding })
    }

    /// The content hash, where the signals are (read them in place) and the embedding's position
    /// of each of these tracks, in their order (None: not in the store); on the worker pool for
    /// many.
    pub fn contents(&self, ids: &[i64]) -> Vec<Option<Content>> {
        each(ids.len(), |i| {
            self.entry(ids[i]).map(|e| Content {
                content_hash: e.content_hash.to_string(),
                signals: e.signals_at.zip(e.signals.map(<[u8]>::len)),
                embedding: e.has_embedding.then_some(e.at),
            })
        })
    }

    /// The position of each of these tracks' embedding where the store has one of the content
    /// `hashes` gives (a vector is the same for the same content and model), in their order; read
    /// them in place with [`Store::floats`].
    pub fn embedding_positions(&self, ids: &[i64], hashes: &[String]) -> Vec<Option<usize>> {
        each(ids.len(), |i| self.entry(ids[i]).filter(|e| e.has_embedding && e.content_hash == hashes[i]).map(|e| e.at))
    }

    /// Every embedding as one slice of f32 (the embedding at position `at` is
    /// `[at * dims, (at + 1) * dims)`), read in place: None where the bytes cannot be (a
    /// big-endian machine, or bytes not aligned to 4, which a mapped file never is).
    pub fn floats(&self) -> Option<&'a [f32]> {
        if cfg!(target_endian = "big") {
            return None;
        }
        let from = self.header.embeddings_at as usize;
        let bytes: &'a [u8] = &self.bytes[from..from + self.header.tracks as usize * self.header.dims as usize * 4];
        // SAFETY: every bit pattern is an f32; align_to only takes the aligned middle
        let (head, floats, tail) = unsafe { bytes.align_to::<f32>() };
        (head.is_empty() && tail.is_empty()).then_some(floats)
    }
}

/// `one(i)` for each i below n, in order; on the worker pool for many.
fn each<T: Send>(n: usize, one: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    if n >= crate::scoring::PARALLEL_THRESHOLD {
        use rayon::prelude::*;
        crate::scoring::pool().install(|| (0..n).into_par_iter().with_min_len(512).map(one).collect())
    } else {
        (0..n).map(one).collect()
    }
}

/// (offset, length) of bytes in a store.
pub type Span = (usize, usize);

/// What [`Store::contents`] finds of a track.
#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    pub content_hash: String,
    /// where its signals are in the store's bytes
    pub signals: Option<Span>,
    /// the position of its embedding (of this content), if it has one
    pub embedding: Option<usize>,
}

/// Where a track lies in a store.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<'a> {
    pub at: usize,
    pub content_hash: &'a str,
    pub signals: Option<&'a [u8]>,
    /// where `signals` begin in the store's bytes
    pub signals_at: Option<usize>,
    pub has_embedding: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn build(rows: &[(i64, &str, Option<&[u8]>, Option<Vec<f32>>)], dims: usize) -> (Vec<u8>, StoreHeader) {
        let mut w = StoreWriter::new(Cursor::new(Vec::new()), dims).unwrap();
        for (id, h, s, e) in rows {
            w.push(*id, h, *s, e.as_deref()).unwrap();
        }
        let (c, h) = w.finish("epoch-1", 42, "m", "v1").unwrap();
        (c.into_inner(), h)
    }

    #[test]
    fn tracks_read_back_as_written() {
        let rows = vec![
            (3, "track:v1:aa", Some(&[1u8, 2, 3][..]), Some(vec![0.5f32, -1.25, 3.0])),
            (7, "track:v1:bb", None, None),
            (11, "track:v1:cc", Some(&[][..]), Some(vec![1e-30f32, f32::MAX, -0.0])),
            (12, "track:v1:dd", Some(&[9u8][..]), Some(vec![1.0, 2.0])), // another length: not stored
        ];
        let (bytes, h) = build(&rows, 3);
        assert_eq!(h.tracks, 4);
        assert_eq!(h.with_embedding, 2);
        assert_eq!(h.len, bytes.len() as u64);
        let s = Store::open(&bytes).unwrap();
        assert_eq!(s.header, h);
        assert_eq!(s.header.generation, 42);
        let t = s.get(3).unwrap();
        assert_eq!(t.content_hash, "track:v1:aa");
        assert_eq!(t.signals, Some(&[1u8, 2, 3][..]));
        assert_eq!(t.embedding, Some(vec![0.5, -1.25, 3.0]));
        assert_eq!(s.get(7).unwrap(), StoredTrack { content_hash: "track:v1:bb", signals: None, embedding: None });
        let t = s.get(11).unwrap();
        assert_eq!(t.signals, Some(&[][..]));
        assert_eq!(t.embedding.unwrap().iter().map(|x| x.to_bits()).collect::<Vec<_>>(), [1e-30f32, f32::MAX, -0.0].map(f32::to_bits));
        assert_eq!(s.get(12).unwrap().embedding, None);
        assert_eq!(s.get(12).unwrap().signals, Some(&[9u8][..]));
        for missing in [i64::MIN, 0, 4, 8, 13, i64::MAX] {
            assert!(s.get(missing).is_none(), "{missing}");
        }
    }

    #[test]
    fn many_tracks_and_odd_dimensions() {
        let rows: Vec<(i64, String, Vec<u8>, Vec<f32>)> = (0..1000)
            .map(|i| (i * 3 - 1500, format!("h{i}"), vec![i as u8; (i % 7) as usize], vec![i as f32, -(i as f32), 0.25, 7.0, 1.0]))
            .collect();
        let mut w = StoreWriter::new(Cursor::new(Vec::new()), 5).unwrap();
        for (id, h, s, e) in &rows {
            w.push(*id, h, Some(s), Some(e)).unwrap();
        }
        let (c, _) = w.finish("e", 1, "m", "v").unwrap();
        let bytes = c.into_inner();
        let s = Store::open(&bytes).unwrap();
        for (id, h, sig, e) in &rows {
            let t = s.get(*id).unwrap();
            assert_eq!((t.content_hash, t.signals, t.embedding.as_ref()), (h.as_str(), Some(&sig[..]), Some(e)));
            assert!(s.get(id + 1).is_none());
        }
    }

    #[test]
    fn batch_reads_equal_single_reads_in_order() {
        let n = crate::scoring::PARALLEL_THRESHOLD as i64 + 100;
        let mut w = StoreWriter::new(Cursor::new(Vec::new()), 3).unwrap();
        for id in 0..n {
            let e = [id as f32, 1.0, -2.0];
            w.push(id * 2, &format!("h{id}"), (id % 3 != 0).then_some(&[id as u8][..]), (id % 5 != 0).then_some(&e[..])).unwrap();
        }
        let (c, _) = w.finish("e", 1, "m", "v").unwrap();
        let bytes = c.into_inner();
        // (a Vec<u8>'s bytes need not be aligned for f32: read from an aligned copy)
        let aligned: Vec<u32> = bytes
            .chunks(4)
            .map(|b| u32::from_ne_bytes([b[0], *b.get(1).unwrap_or(&0), *b.get(2).unwrap_or(&0), *b.get(3).unwrap_or(&0)]))
            .collect();
        // SAFETY: the u32s' bytes, as many as the store has
        let bytes: &[u8] = unsafe { std::slice::from_raw_parts(aligned.as_ptr() as *const u8, bytes.len()) };
        let s = Store::open(bytes).unwrap();
        let floats = s.floats().unwrap();
        assert_eq!(floats.len(), n as usize * 3);
        for size in [10usize, 3 * n as usize] {
            // every id, odd ones (not in the store) among them, backwards
            let ids: Vec<i64> = (0..size as i64).rev().collect();
            let hashes: Vec<String> = ids.iter().map(|i| if i % 4 == 0 { format!("h{}", i / 2) } else { "other".into() }).collect();
            let contents = s.contents(&ids);
            let positions = s.embedding_positions(&ids, &hashes);
            for (k, id) in ids.iter().enumerate() {
                let one = s.get(*id);
                let read = contents[k].as_ref().map(|c| (c.content_hash.as_str(), c.signals.map(|(at, len)| &bytes[at..at + len])));
                assert_eq!(read, one.as_ref().map(|t| (t.content_hash, t.signals)));
                let at = contents[k].as_ref().and_then(|c| c.embedding).map(|at| floats[at * 3..at * 3 + 3].to_vec());
                assert_eq!(at, one.as_ref().and_then(|t| t.embedding.clone()), "{id}");
                let want = one.filter(|t| t.content_hash == hashes[k]).and_then(|t| t.embedding);
                let at = positions[k].map(|at| floats[at * 3..at * 3 + 3].to_vec());
                assert_eq!(at, want, "{id}");
                assert_eq!(positions[k].map(|at| s.embedding_at(at)), want, "{id}");
            }
            assert!(positions.iter().any(Option::is_some));
        }
    }

    #[test]
    fn empty_out_of_order_and_damaged_stores() {
        let (bytes, h) = build(&[], 384);
        assert_eq!(h.tracks, 0);
        assert!(Store::open(&bytes).unwrap().get(1).is_none());

        let mut w = StoreWriter::new(Cursor::new(Vec::new()), 2).unwrap();
        w.push(5, "a", None, None).unwrap();
        assert!(w.push(5, "b", None, None).is_err());
        assert!(w.push(4, "b", None, None).is_err());

        let (bytes, _) = build(&[(1, "a", None, Some(vec![1.0, 2.0]))], 2);
        // truncated, extended, not a store
        assert!(Store::open(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Store::open(&longer).is_err());
        assert!(Store::open(&bytes[..100]).is_err());
        let mut other = bytes.clone();
        other[0] = b'X';
        assert!(Store::open(&other).is_err());
        let mut zeroed = bytes.clone();
        zeroed[12..4096].fill(0);
        assert!(Store::open(&zeroed).is_err());
    }
}

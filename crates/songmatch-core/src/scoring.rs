//! Stage-1 scoring (weighted signals) and the stage-2 blend.
//!
//! Signals of a candidate against a playlist, each in [−1, 1] (cosines) or [0, 1]:
//! * `members`  — mean of the top-k cosines to the playlist's member tracks (a playlist is
//!   rarely one point in embedding space);
//! * `centroid` — cosine to the normalised centroid of the members;
//! * `query`    — cosine to the playlist's own query-text embedding;
//! * `audio`    — audio-feature similarity to the members' distribution (see profile.rs);
//! * `genre`    — genre overlap with the members' genre distribution;
//! * `emotion`  — cosine between emotion-bucket distributions;
//! * `artist`, `album`, `year`, `popularity` — catalogue signals (catalogue.rs): the share of
//!   members sharing an artist / the album, closeness of the release year and of the popularity
//!   to the members' median, scaled by their spread.
//!
//! Formula: stage1 = Σ wᵢ·sᵢ / Σ wᵢ over the signals available for that candidate; each
//! component's `contribution` is wᵢ·sᵢ / Σ wᵢ, so the contributions sum to stage1. With a
//! learned ranker (ranker.rs) in the bundle: score = (1 − β)·stage1 + β·σ(ranker) for the top
//! `ranker_top_n` by stage 1, β = `ranker_weight` (the rest keep (1 − β)·stage1, below them);
//! then, with a text reranker: score = (1 − α)·score + α·rerank for the top `rerank_top_n`,
//! α = `rerank_weight`. Without either, score = stage1.

use crate::catalogue::{self, CatalogueProfile, CatalogueTrack};
use crate::error::{Error, Result};
use crate::hash::{content_hash, ContentKind};
use crate::profile::{self, AudioStats};
use crate::signals::{Signals, SignalsView, TrackSignals};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const SIGNALS: [&str; 10] = ["members", "centroid", "query", "audio", "genre", "emotion", "artist", "album", "year", "popularity"];

/// The matching configuration. Unknown keys are an error; absent keys take defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub weights: BTreeMap<String, f64>,
    pub members_top_k: usize,
    pub rerank_top_n: usize,
    pub rerank_weight: f64,
    pub ranker_top_n: usize,
    pub ranker_weight: f64,
    /// How `recommend_for_playlist` finds candidates in the catalogue.
    pub discovery: Discovery,
    /// Whether each row's `components.ranker` lists the learned ranker's input features by name
    /// (30 numbers, most of a row's size: off by default, so that a served row stays small; the
    /// same numbers come from `songmatch.ranker_features`).
    pub explain: bool,
}

/// Discovery: candidates are the nearest neighbours, through the bundle's vector index, of the
/// playlist's centroid and query vector (`profile_k` each) and of up to `max_members` members
/// (`per_member` each), with the index searched at pgvector's `hnsw.ef_search` = max(`ef_search`,
/// the k of the search); plus up to `catalogue_k` tracks by the members' artists or on their
/// albums (0: none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Discovery {
    pub profile_k: usize,
    pub per_member: usize,
    pub max_members: usize,
    pub ef_search: usize,
    pub catalogue_k: usize,
}

impl Default for Discovery {
    fn default() -> Self {
        Discovery { profile_k: 300, per_member: 40, max_members: 16, ef_search: 64, catalogue_k: 1000 }
    }
}

impl Discovery {
    pub const KEYS: [&'static str; 5] = ["profile_k", "per_member", "max_members", "ef_search", "catalogue_k"];

    pub fn to_json(&self) -> Value {
        json!({"profile_k": self.profile_k, "per_member": self.per_member, "max_members": self.max_members, "ef_search": self.ef_search,
               "catalogue_k": self.catalogue_k})
    }

    fn from_json(v: &Value) -> Result<Self> {
        let o = v.as_object().ok_or_else(|| Error::invalid("config.discovery must be an object"))?;
        let mut d = Discovery::default();
        for (k, x) in o {
            // pgvector's hnsw.ef_search is at most 1000
            let (min, max) = match k.as_str() {
                "ef_search" | "profile_k" => (1, 1000),
                "catalogue_k" => (0, 10_000),
                _ => (1, 10_000),
            };
            let n = x
                .as_u64()
                .filter(|n| *n >= min && *n <= max)
                .ok_or_else(|| Error::invalid(format!("config.discovery.{k} must be an integer between {min} and {max}")))?
                as usize;
            match k.as_str() {
                "profile_k" => d.profile_k = n,
                "per_member" => d.per_member = n,
                "max_members" => d.max_members = n,
                "ef_search" => d.ef_search = n,
                "catalogue_k" => d.catalogue_k = n,
                other => {
                    return Err(Error::invalid(format!(
                        "unknown key \"{other}\" in config.discovery; expected some of: {}",
                        Self::KEYS.join(", ")
                    )))
                }
            }
        }
        Ok(d)
    }
}

impl Default for Config {
    fn default() -> Self {
        // Tuned with the evaluation harness (eval/README.md) on half of the dev playlists and
        // reported on the other half.
        let weights = [
            ("members", 0.6),
            ("centroid", 0.0),
            ("query", 0.2),
            ("audio", 0.3),
            ("genre", 0.1),
            ("emotion", 0.0),
            ("artist", 0.5),
            ("album", 0.2),
            ("year", 0.3),
            ("popularity", 0.1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Config {
            weights,
            members_top_k: 1,
            rerank_top_n: 30,
            rerank_weight: 0.5,
            ranker_top_n: 1000,
            ranker_weight: 0.8,
            discovery: Discovery::default(),
            explain: false,
        }
    }
}

impl Config {
    pub fn from_json(v: Option<&Value>) -> Result<Self> {
        let mut c = Config::default();
        let Some(v) = v else { return Ok(c) };
        if v.is_null() {
            return Ok(c);
        }
        let o = v.as_object().ok_or_else(|| Error::invalid("config must be a JSON object"))?;
        for (k, val) in o {
            match k.as_str() {
                "weights" => {
                    let w = val.as_object().ok_or_else(|| Error::invalid("config.weights must be an object"))?;
                    for (s, x) in w {
                        if !SIGNALS.contains(&s.as_str()) {
                            return Err(Error::invalid(format!(
                                "unknown signal \"{s}\" in config.weights; expected some of: {}",
                                SIGNALS.join(", ")
                            )));
                        }
                        let x = x.as_f64().filter(|x| x.is_finite() && *x >= 0.0).ok_or_else(|| {
                            Error::invalid(format!("config.weights.{s} must be a non-negative number"))
                        })?;
                        c.weights.insert(s.clone(), x);
                    }
                }
                "members_top_k" | "rerank_top_n" | "ranker_top_n" => {
                    let n = val.as_u64().filter(|n| *n >= 1 && *n <= 10_000).ok_or_else(|| {
                        Error::invalid(format!("config.{k} must be an integer between 1 and 10000"))
                    })? as usize;
                    match k.as_str() {
                        "members_top_k" => c.members_top_k = n,
                        "rerank_top_n" => c.rerank_top_n = n,
                        _ => c.ranker_top_n = n,
                    }
                }
                "rerank_weight" | "ranker_weight" => {
                    let w = val.as_f64().filter(|x| (0.0..=1.0).contains(x)).ok_or_else(|| {
                        Error::invalid(format!("config.{k} must be a number between 0 and 1"))
                    })?;
                    if k == "rerank_weight" {
                        c.rerank_weight = w
                    } else {
                        c.ranker_weight = w
                    }
                }
                "discovery" => c.discovery = Discovery::from_json(val)?,
                "explain" => c.explain = val.as_bool().ok_or_else(|| Error::invalid("config.explain must be true or false"))?,
                other => {
                    return Err(Error::invalid(format!(
                        "unknown config key \"{other}\"; expected some of: weights, members_top_k, rerank_top_n, rerank_weight, ranker_top_n, ranker_weight, discovery, explain"
                    )))
                }
            }
        }
        if c.weights.values().sum::<f64>() <= 0.0 {
            return Err(Error::invalid("config.weights must not all be zero"));
        }
        Ok(c)
    }

    /// The fully resolved configuration (defaults filled in): what the config hash covers.
    /// `discovery` appears only when it differs from the default, so that configs (and match
    /// contexts) of 0.2.0 keep their hashes; a recommendation's context covers the discovery
    /// settings it used anyway. `explain` appears only when true, for the same reason (its rows
    /// differ from the others' in their components only).
    pub fn to_json(&self) -> Value {
        let mut v = json!({"weights": self.weights, "members_top_k": self.members_top_k,
               "rerank_top_n": self.rerank_top_n, "rerank_weight": self.rerank_weight,
               "ranker_top_n": self.ranker_top_n, "ranker_weight": self.ranker_weight});
        if self.discovery != Discovery::default() {
            v["discovery"] = self.discovery.to_json();
        }
        if self.explain {
            v["explain"] = json!(true);
        }
        v
    }

    pub fn hash(&self) -> String {
        content_hash(ContentKind::MatchingConfig, &self.to_json())
    }
}

/// What stage 1 knows about a playlist.
#[derive(Debug, Clone, Default)]
pub struct PlaylistSignals {
    pub members: Vec<Vec<f32>>,
    pub centroid: Option<Vec<f32>>,
    pub query: Option<Vec<f32>>,
    pub audio: AudioStats,
    pub genres: BTreeMap<String, f64>,
    pub emotions: BTreeMap<String, f64>,
    pub catalogue: CatalogueProfile,
}

impl PlaylistSignals {
    /// A playlist's stage-1 signals from its members: their embeddings (of those that have one)
    /// and their track signals, and the embedding of its query text. The one builder: a match's
    /// stored profile and the offline calls (score_tracks, ranker_features, the evaluation) both
    /// build with it, so evaluation sees what users get. Emotions are added by the caller when
    /// the config weighs them.
    pub fn of_members(members: Vec<Vec<f32>>, tracks: &[crate::signals::TrackSignals], query: Option<Vec<f32>>) -> Self {
        let centroid = profile::centroid(&members.iter().map(|v| v.as_slice()).collect::<Vec<_>>());
        PlaylistSignals {
            centroid,
            audio: profile::audio_stats(&tracks.iter().map(|t| t.audio).collect::<Vec<_>>()),
            genres: profile::genre_distribution(&tracks.iter().map(|t| t.genres.clone()).collect::<Vec<_>>()),
            catalogue: catalogue::profile(&tracks.iter().map(|t| t.catalogue.clone()).collect::<Vec<_>>()),
            members,
            query,
            emotions: BTreeMap::new(),
        }
    }
}

/// Floats held by something else that candidates share (the feature store's mapping), read in
/// place; and its bytes, where candidates' signals are read in place too.
///
/// # Safety
/// `floats` and `bytes` must return the same memory, unchanged, for as long as the value lives:
/// signals are checked once when read from it ([`SignalsView::parse`]) and trusted after.
pub unsafe trait FloatSource: Send + Sync {
    fn floats(&self) -> &[f32];
    fn bytes(&self) -> &[u8] {
        &[]
    }
}

/// A candidate's embedding: its own vector, or `len` floats from `from` of a shared source.
#[derive(Clone)]
pub enum Embedding {
    Owned(Vec<f32>),
    Shared { source: std::sync::Arc<dyn FloatSource>, from: usize, len: usize },
}

impl Embedding {
    /// A view of `len` floats from `from` of `source` (None where the source has fewer).
    pub fn shared(source: &std::sync::Arc<dyn FloatSource>, from: usize, len: usize) -> Option<Self> {
        (from.checked_add(len)? <= source.floats().len()).then(|| Embedding::Shared { source: source.clone(), from, len })
    }
}

impl std::ops::Deref for Embedding {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        match self {
            Embedding::Owned(v) => v,
            Embedding::Shared { source, from, len } => &source.floats()[*from..*from + *len],
        }
    }
}

impl std::fmt::Debug for Embedding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl From<Vec<f32>> for Embedding {
    fn from(v: Vec<f32>) -> Self {
        Embedding::Owned(v)
    }
}

/// What stage 1 knows about a candidate track: its embedding, its signals (audio, genres,
/// catalogue fields; read in place from their encoding) and its emotions where they count.
#[derive(Debug, Clone)]
pub struct CandidateSignals {
    pub track_id: i64,
    pub embedding: Option<Embedding>,
    pub signals: SignalsView,
    pub emotions: BTreeMap<String, f64>,
}

impl CandidateSignals {
    /// A candidate of these signals (encoded once: the view reads the encoding).
    pub fn new(track_id: i64, embedding: Option<Embedding>, signals: &TrackSignals, emotions: BTreeMap<String, f64>) -> Self {
        CandidateSignals { track_id, embedding, signals: SignalsView::of(signals), emotions }
    }

    /// The candidate as stage 1 reads it.
    pub(crate) fn borrowed(&self) -> Cand<'_> {
        Cand { track_id: self.track_id, embedding: self.embedding.as_deref(), signals: self.signals.view(), emotions: &self.emotions }
    }
}

/// A candidate as stage 1 reads it, borrowed: from a [`CandidateSignals`], or in place from the
/// feature store (discovery's screen, [`crate::screen`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cand<'a> {
    pub track_id: i64,
    pub embedding: Option<&'a [f32]>,
    pub signals: Signals<'a>,
    pub emotions: &'a BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub track_id: i64,
    pub stage1: f64,
    /// (signal, value, weight, contribution) for the signals available.
    pub components: Vec<(&'static str, f64, f64, f64)>,
}

fn emotion_cosine(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let dot: f64 = a.iter().map(|(k, v)| v * b.get(k).copied().unwrap_or(0.0)).sum();
    let na: f64 = a.values().map(|v| v * v).sum::<f64>().sqrt();
    let nb: f64 = b.values().map(|v| v * v).sum::<f64>().sqrt();
    (na > 0.0 && nb > 0.0).then(|| dot / (na * nb))
}

/// Norms of a playlist's vectors, computed once per ranking rather than once per candidate, and
/// the vectors themselves widened to f64 in one block (members, then the centroid and the query
/// where there are), for [`sys::dots_wide`](crate::sys::dots_wide).
#[derive(Debug, Clone, Default)]
pub struct PlaylistNorms {
    pub(crate) members: Vec<f64>,
    pub(crate) centroid: f64,
    pub(crate) query: f64,
    /// (dimensions, widened vectors); None when the vectors differ in length (then every cosine
    /// takes [`profile::dot`]'s path, which gives the same values).
    wide: Option<(usize, Vec<f64>)>,
}

impl PlaylistNorms {
    pub fn of(p: &PlaylistSignals) -> Self {
        let all: Vec<&Vec<f32>> = p.members.iter().chain(p.centroid.as_ref()).chain(p.query.as_ref()).collect();
        let dims = all.first().map(|v| v.len()).unwrap_or(0);
        let wide = (dims > 0 && all.iter().all(|v| v.len() == dims))
            .then(|| (dims, all.iter().flat_map(|v| v.iter().map(|x| *x as f64)).collect()));
        PlaylistNorms {
            members: p.members.iter().map(|m| profile::norm(m)).collect(),
            centroid: p.centroid.as_deref().map(profile::norm).unwrap_or(0.0),
            query: p.query.as_deref().map(profile::norm).unwrap_or(0.0),
            wide,
        }
    }
}

/// A candidate embedding's cosines: to its `top` closest members (best first), to the centroid,
/// to the query.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingCosines {
    pub members: Vec<f64>,
    pub centroid: Option<f64>,
    pub query: Option<f64>,
}

pub fn embedding_cosines(p: &PlaylistSignals, n: &PlaylistNorms, e: &[f32], top: usize) -> EmbeddingCosines {
    // every dot product in one pass where the vectors allow it (the same values as one by one)
    let count = p.members.len() + p.centroid.is_some() as usize + p.query.is_some() as usize;
    // (on the stack for playlists of up to 62 members)
    let mut stack = [0f64; 64];
    let mut heap = Vec::new();
    let dots: &mut [f64] = if count <= stack.len() {
        &mut stack[..count]
    } else {
        heap.resize(count, 0f64);
        &mut heap
    };
    let all = match &n.wide {
        Some((dims, wide)) if *dims == e.len() => crate::sys::dots_wide(e, wide, dots),
        _ => false,
    };
    cosines_of(p, n, e, top, all.then_some(&*dots))
}

/// [`embedding_cosines`] from the dot products of `e` with the members, centroid and query when
/// they are already computed (`dots`, in [`PlaylistNorms`]' order), else pair by pair.
fn cosines_of(p: &PlaylistSignals, n: &PlaylistNorms, e: &[f32], top: usize, dots: Option<&[f64]>) -> EmbeddingCosines {
    let mut members = Vec::with_capacity(top + 1);
    let (centroid, query) = cosines_into(p, n, e, top, dots, &mut members);
    EmbeddingCosines { members, centroid, query }
}

/// [`cosines_of`] with the best `top` member cosines written into `members` (cleared first; the
/// scoring of a block of candidates reuses one).
fn cosines_into(
    p: &PlaylistSignals,
    n: &PlaylistNorms,
    e: &[f32],
    top: usize,
    dots: Option<&[f64]>,
    members: &mut Vec<f64>,
) -> (Option<f64>, Option<f64>) {
    let ne = profile::norm(e);
    let cos = |d: f64, nv: f64| if ne == 0.0 || nv == 0.0 { 0.0 } else { d / (ne * nv) };
    // the best `top` cosines, kept sorted (top is small: members_top_k, or 3 for the ranker)
    members.clear();
    for (j, (m, nm)) in p.members.iter().zip(&n.members).enumerate() {
        let c = match dots {
            Some(d) => cos(d[j], *nm),
            None => profile::cosine_normed(e, ne, m, *nm),
        };
        if members.len() < top || members.last().is_some_and(|l| c > *l) {
            let at = members.partition_point(|x| *x >= c);
            members.insert(at, c);
            members.truncate(top);
        }
    }
    let k = p.members.len();
    let centroid = p.centroid.as_deref().map(|c| match dots {
        Some(d) => cos(d[k], n.centroid),
        None => profile::cosine_normed(e, ne, c, n.centroid),
    });
    let q = k + p.centroid.is_some() as usize;
    let query = p.query.as_deref().map(|v| match dots {
        Some(d) => cos(d[q], n.query),
        None => profile::cosine_normed(e, ne, v, n.query),
    });
    (centroid, query)
}

/// How well a catalogue track fits a playlist on the catalogue signals alone (the share of members
/// sharing its artist, its album, the closeness of its year and popularity), each weighted as
/// stage 1 weighs it. Discovery keeps the `catalogue_k` best of the members' artists' and albums'
/// tracks by it (stage 1 then ranks them with every signal).
pub fn catalogue_fit(p: &CatalogueProfile, c: &CatalogueTrack, cfg: &Config) -> f64 {
    if p.members == 0 {
        return 0.0;
    }
    let w = |s: &str| cfg.weights.get(s).copied().unwrap_or(0.0);
    let cat = catalogue::signals(p, c);
    w("artist") * cat.artist_share
        + w("album") * cat.album_share
        + w("year") * cat.year.unwrap_or(0.0)
        + w("popularity") * cat.popularity.unwrap_or(0.0)
}

/// The weight of each of [`SIGNALS`], in its order (0 for one the config does not weigh).
pub(crate) fn signal_weights(cfg: &Config) -> [f64; SIGNALS.len()] {
    SIGNALS.map(|s| cfg.weights.get(s).copied().unwrap_or(0.0))
}

/// A candidate's stage 1 as computed for every candidate: the value of each signal it has (by
/// its index in [`SIGNALS`]) and the sum; no allocation. [`Scored`] (named components, weights
/// and contributions) is made of it only for the candidates kept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stage1Values {
    pub track_id: i64,
    pub stage1: f64,
    /// bit i: the candidate has signal i
    pub present: u16,
    pub values: [f64; SIGNALS.len()],
    pub wsum: f64,
}

impl Stage1Values {
    /// The contribution of signal `i` (the same expression the sum took).
    fn contribution(&self, i: usize, w: &[f64; SIGNALS.len()]) -> f64 {
        if self.wsum > 0.0 {
            w[i] * self.values[i] / self.wsum
        } else {
            0.0
        }
    }

    fn scored(&self, w: &[f64; SIGNALS.len()]) -> Scored {
        let components = (0..SIGNALS.len())
            .filter(|i| self.present & (1 << i) != 0)
            .map(|i| (SIGNALS[i], self.values[i], w[i], self.contribution(i, w)))
            .collect();
        Scored { track_id: self.track_id, stage1: self.stage1, components }
    }
}

/// One candidate's stage 1; `dots`: its embedding's dot products with the playlist's vectors when
/// computed with its block's (else computed here); `members`: scratch space.
pub(crate) fn score_one(
    p: &PlaylistSignals,
    n: &PlaylistNorms,
    c: Cand<'_>,
    cfg: &Config,
    w: &[f64; SIGNALS.len()],
    dots: Option<&[f64]>,
    members: &mut Vec<f64>,
) -> Stage1Values {
    let embedding = c.embedding.map(|e| {
        let (centroid, query) = match dots {
            Some(_) => cosines_into(p, n, e, cfg.members_top_k, dots, members),
            None => {
                let cos = embedding_cosines(p, n, e, cfg.members_top_k);
                *members = cos.members;
                (cos.centroid, cos.query)
            }
        };
        let m = members.len();
        EmbeddingSignals { members: (m > 0).then(|| members[..m].iter().sum::<f64>() / m as f64), centroid, query }
    });
    score_with(p, c, w, embedding)
}

/// A candidate embedding's signals: the mean of its best member cosines, its cosines to the
/// centroid and to the query (None: the playlist has none).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmbeddingSignals {
    pub members: Option<f64>,
    pub centroid: Option<f64>,
    pub query: Option<f64>,
}

/// [`score_one`] with the embedding's signals computed (None: the candidate has no embedding).
pub(crate) fn score_with(p: &PlaylistSignals, c: Cand<'_>, w: &[f64; SIGNALS.len()], embedding: Option<EmbeddingSignals>) -> Stage1Values {
    let mut l = numbers(p, c, embedding);
    strings(p, &mut l, c.signals);
    l.finish(w);
    l
}

/// A candidate's signals but those its strings give (genres, shared artists and album: those two
/// present at 0, when the playlist has members), unsummed: [`score_with`]'s first part.
pub(crate) fn numbers(p: &PlaylistSignals, c: Cand<'_>, embedding: Option<EmbeddingSignals>) -> Stage1Values {
    let mut l = Stage1Values { track_id: c.track_id, stage1: 0.0, present: 0, values: [0.0; SIGNALS.len()], wsum: 0.0 };
    // (signals in SIGNALS' order)
    let mut push = |i: usize, v: f64| {
        l.values[i] = v;
        l.present |= 1 << i;
    };
    if let Some(e) = embedding {
        for (i, x) in [e.members, e.centroid, e.query].into_iter().enumerate() {
            if let Some(x) = x {
                push(i, x);
            }
        }
    }
    let cs = c.signals;
    if let Some(a) = p.audio.similarity(&cs.audio()) {
        push(3, a);
    }
    if let Some(em) = emotion_cosine(&p.emotions, c.emotions) {
        push(5, em);
    }
    if p.catalogue.members > 0 {
        // (the year's and popularity's closeness need no strings)
        let cat = catalogue::signals_of(&p.catalogue, std::iter::empty(), None, cs.year(), cs.popularity());
        push(6, 0.0);
        push(7, 0.0);
        if let Some(y) = cat.year {
            push(8, y);
        }
        if let Some(pop) = cat.popularity {
            push(9, pop);
        }
    }
    l
}

/// [`score_with`]'s second part: the signals a candidate's strings give, into `l`.
pub(crate) fn strings(p: &PlaylistSignals, l: &mut Stage1Values, cs: Signals<'_>) {
    if let Some(g) = profile::genre_overlap_of(&p.genres, cs.genres()) {
        l.values[4] = g;
        l.present |= 1 << 4;
    }
    if p.catalogue.members > 0 {
        let cat = catalogue::signals_of(&p.catalogue, cs.artists(), cs.album(), None, None);
        l.values[6] = cat.artist_share;
        l.values[7] = cat.album_share;
    }
}

impl Stage1Values {
    /// The weights of the signals present summed, and stage 1 (the contributions summed).
    pub(crate) fn finish(&mut self, w: &[f64; SIGNALS.len()]) {
        let present = self.present;
        let has = |i: &usize| present & (1 << i) != 0;
        self.wsum = (0..SIGNALS.len()).filter(has).map(|i| w[i]).sum();
        self.stage1 = (0..SIGNALS.len()).filter(has).map(|i| self.contribution(i, w)).fold(0.0, |s, c| s + c);
    }
}

/// How many of stage 1's best a ranking orders and passes on to stage 2: `keep` (top_k), the
/// learned ranker's window where the bundle has a ranker, the reranker's where it has one.
pub fn stage2_window(keep: usize, cfg: &Config, ranker: bool, reranker: bool) -> usize {
    keep.max(if ranker { cfg.ranker_top_n } else { 0 }).max(if reranker { cfg.rerank_top_n } else { 0 })
}

/// Stage 1 over all candidates, best first (ties by track id). Uses a thread pool for large
/// candidate sets; the workers only compute.
pub fn stage1(p: &PlaylistSignals, cands: &[CandidateSignals], cfg: &Config) -> Vec<Scored> {
    stage1_best(p, cands, cfg, cands.len())
}

/// The `keep` best of [`stage1`] (the same values and order): every candidate is scored, only
/// the best are ordered and given their components.
pub fn stage1_best(p: &PlaylistSignals, cands: &[CandidateSignals], cfg: &Config, keep: usize) -> Vec<Scored> {
    let n = PlaylistNorms::of(p);
    let w = signal_weights(cfg);
    let block = |b: &[CandidateSignals]| score_block(p, &n, b, cfg, &w);
    let lights: Vec<Stage1Values> = if cands.len() >= PARALLEL_THRESHOLD {
        use rayon::prelude::*;
        pool().install(|| cands.par_chunks(BLOCK).flat_map_iter(block).collect())
    } else {
        cands.chunks(BLOCK).flat_map(block).collect()
    };
    let mut order: Vec<(i64, f64, u32)> = lights.iter().enumerate().map(|(i, l)| (l.track_id, l.stage1, i as u32)).collect();
    let by = |a: &(i64, f64, u32), b: &(i64, f64, u32)| best_first((a.0, a.1), (b.0, b.1));
    let keep = keep.min(order.len());
    if keep == 0 {
        return Vec::new();
    }
    if keep < order.len() {
        order.select_nth_unstable_by(keep - 1, by);
        order.truncate(keep);
    }
    order.sort_by(by);
    order.iter().map(|&(_, _, i)| lights[i as usize].scored(&w)).collect()
}

/// Candidates scored a block at a time: the dot products of the block's embeddings with the
/// playlist's vectors first, in one pass ([`sys::dots_block`](crate::sys::dots_block)), then
/// each candidate.
const BLOCK: usize = 64;

fn score_block(
    p: &PlaylistSignals,
    n: &PlaylistNorms,
    cands: &[CandidateSignals],
    cfg: &Config,
    w: &[f64; SIGNALS.len()],
) -> Vec<Stage1Values> {
    let (dots, at) = block_dots(n, cands.iter());
    let mut members = Vec::with_capacity(cfg.members_top_k + 1);
    cands.iter().zip(&at).map(|(c, a)| score_one(p, n, c.borrowed(), cfg, w, a.map(|a| &dots[a..]), &mut members)).collect()
}

/// The dot products of a block of candidates' embeddings with the playlist's vectors, in one pass
/// ([`sys::dots_block`](crate::sys::dots_block)): the products, and where each candidate's begin
/// (None: no embedding of the playlist's length, or no such pass on this CPU).
pub(crate) fn block_dots<'a>(n: &PlaylistNorms, cands: impl Iterator<Item = &'a CandidateSignals>) -> (Vec<f64>, Vec<Option<usize>>) {
    let mut dots: Vec<f64> = Vec::new();
    let mut es: Vec<&[f32]> = Vec::new();
    let at: Vec<Option<usize>> = match &n.wide {
        Some((dims, wide)) => {
            let count = wide.len() / dims;
            let at = cands
                .map(|c| {
                    let e = c.embedding.as_deref().filter(|e| e.len() == *dims)?;
                    es.push(e);
                    Some((es.len() - 1) * count)
                })
                .collect();
            dots.resize(es.len() * count, 0.0);
            if crate::sys::dots_block(&es, wide, count, &mut dots) {
                at
            } else {
                vec![None; at.len()]
            }
        }
        None => cands.map(|_| None).collect(),
    };
    (dots, at)
}

/// [`embedding_cosines`] with the dot products computed by [`block_dots`] (or pair by pair).
pub(crate) fn embedding_cosines_with(
    p: &PlaylistSignals,
    n: &PlaylistNorms,
    e: &[f32],
    top: usize,
    dots: Option<&[f64]>,
) -> EmbeddingCosines {
    match dots {
        Some(_) => cosines_of(p, n, e, top, dots),
        None => embedding_cosines(p, n, e, top),
    }
}

/// Candidate count from which stage 1 runs on the worker pool.
pub const PARALLEL_THRESHOLD: usize = 512;

/// A small rayon pool whose threads block every signal, so that PostgreSQL's signal handlers
/// only ever run on the backend's own thread.
pub(crate) fn pool() -> &'static rayon::ThreadPool {
    static POOL: once_cell::sync::OnceCell<rayon::ThreadPool> = once_cell::sync::OnceCell::new();
    POOL.get_or_init(|| {
        let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("songmatch-score-{i}"))
            .start_handler(|_| crate::sys::block_signals())
            .build()
            .unwrap_or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a one-thread pool"))
    })
}

/// Stage 2's blend (module doc): a candidate inside the stage-2 window, with stage-2 score `s`
/// in [0, 1], gets (1 − w)·score + w·s; one outside it (None) gets (1 − w)·score, which keeps it
/// below the window's candidates of equal stage-1 score.
pub fn blend(score: f64, stage2: Option<f64>, w: f64) -> f64 {
    (1.0 - w) * score + stage2.map(|s| w * s).unwrap_or(0.0)
}

/// The order of every ranking: best score first, ties by track id.
pub fn best_first(a: (i64, f64), b: (i64, f64)) -> std::cmp::Ordering {
    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
}

/// The components JSON of a scored candidate.
pub fn components_json(s: &Scored) -> Map<String, Value> {
    let mut m = Map::new();
    for (name, v, w, c) in &s.components {
        m.insert(name.to_string(), json!({"value": profile::round6(*v), "weight": w, "contribution": profile::round6(*c)}));
    }
    m.insert("stage1".into(), json!(profile::round6(s.stage1)));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn playlist() -> PlaylistSignals {
        let members = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let refs: Vec<&[f32]> = members.iter().map(|v| v.as_slice()).collect();
        PlaylistSignals {
            centroid: profile::centroid(&refs),
            members,
            query: Some(vec![1.0, 0.0]),
            audio: profile::audio_stats(&[profile::audio_of(&json!({"audio": {"energy": 0.8}}))]),
            genres: BTreeMap::from([("rock".to_string(), 1.0)]),
            emotions: BTreeMap::new(),
            catalogue: CatalogueProfile::default(),
        }
    }

    fn cand(id: i64, e: [f32; 2], energy: f64, genre: &str) -> CandidateSignals {
        let signals = TrackSignals {
            audio: profile::audio_of(&json!({"audio": {"energy": energy}})),
            genres: BTreeMap::from([(genre.to_string(), 1.0)]),
            catalogue: CatalogueTrack::default(),
        };
        CandidateSignals::new(id, Some(e.to_vec().into()), &signals, BTreeMap::new())
    }

    #[test]
    fn contributions_sum_to_stage1_and_order_is_deterministic() {
        let cfg =
            Config::from_json(Some(&json!({"weights": {"members": 0.45, "centroid": 0.05, "query": 0.1, "audio": 0.3, "genre": 0.1},
                                                  "members_top_k": 5})))
            .unwrap();
        let cands = vec![cand(2, [1.0, 0.0], 0.8, "rock"), cand(1, [-1.0, 0.0], 0.1, "jazz"), cand(3, [1.0, 0.0], 0.8, "rock")];
        let s = stage1(&playlist(), &cands, &cfg);
        assert_eq!(s.iter().map(|x| x.track_id).collect::<Vec<_>>(), vec![2, 3, 1]);
        for x in &s {
            let sum: f64 = x.components.iter().map(|c| c.3).sum();
            assert!((sum - x.stage1).abs() < 1e-12);
        }
        // candidate 2: members top-5 over 2 members = (1 + 0)/2, centroid 0.7071, query 1, audio 1, genre 1
        let c = &s[0];
        let val = |n: &str| c.components.iter().find(|x| x.0 == n).unwrap().1;
        assert!((val("members") - 0.5).abs() < 1e-9);
        assert!((val("centroid") - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert_eq!((val("query"), val("audio"), val("genre")), (1.0, 1.0, 1.0));
        let expected = (0.45 * 0.5 + 0.05 * std::f64::consts::FRAC_1_SQRT_2 + 0.1 + 0.3 + 0.1) / 1.0;
        assert!((c.stage1 - expected).abs() < 1e-6, "{} vs {expected}", c.stage1);
    }

    #[test]
    fn top_member_cosines_equal_a_full_sort() {
        let members: Vec<Vec<f32>> = (0..17).map(|i| vec![(i % 5) as f32 - 2.0, (i % 3) as f32, 1.0, (i * 7 % 11) as f32]).collect();
        let p = PlaylistSignals { members: members.clone(), ..Default::default() };
        let n = PlaylistNorms::of(&p);
        let e = [0.3f32, -1.0, 0.5, 2.0];
        let mut all: Vec<f64> = members.iter().map(|m| profile::cosine(&e, m)).collect();
        all.sort_by(|a, b| b.total_cmp(a));
        for top in [1, 3, 17, 40] {
            let got = embedding_cosines(&p, &n, &e, top).members;
            assert_eq!(got.len(), top.min(17));
            for (g, w) in got.iter().zip(&all) {
                assert!((g - w).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn a_profile_from_rows_equals_one_from_stored_signals() {
        // the offline calls build from rows (TrackSignals::of), a match from the stored
        // encodings (the triggers' track_signals, decoded): the same playlist signals
        let rows = [
            (
                json!({"name": "A", "artist": "X", "album": "L", "release_date": "2001-02-03", "popularity": 40}),
                json!({"audio": {"energy": 0.5, "valence": 0.25, "tempo": 120.0}, "genres": ["rock"]}),
            ),
            (
                json!({"name": "B", "artist": "X, Y", "release_date": "1999", "popularity": 70}),
                json!({"audio": {"energy": 0.75, "danceability": 0.125}, "genres": {"rock": 0.5, "pop": 0.5}}),
            ),
            (json!({"name": "C", "artist": "Z"}), json!({})),
        ];
        let from_rows: Vec<crate::signals::TrackSignals> = rows.iter().map(|(t, a)| crate::signals::TrackSignals::of(t, a)).collect();
        let stored: Vec<crate::signals::TrackSignals> =
            from_rows.iter().map(|t| crate::signals::TrackSignals::decode(&t.encode()).expect("decodes")).collect();
        let v = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let a = PlaylistSignals::of_members(v.clone(), &from_rows, Some(vec![0.5, 0.5]));
        let b = PlaylistSignals::of_members(v, &stored, Some(vec![0.5, 0.5]));
        assert_eq!(
            (&a.members, &a.centroid, &a.query, &a.audio, &a.genres, &a.catalogue),
            (&b.members, &b.centroid, &b.query, &b.audio, &b.genres, &b.catalogue)
        );
        assert_eq!(a.catalogue.members, 3);
        assert!(a.centroid.is_some());
        assert!(!a.genres.is_empty());
    }

    #[test]
    fn stage2_window_is_the_largest_window_the_bundle_uses() {
        let cfg = Config { ranker_top_n: 1000, rerank_top_n: 30, ..Config::default() };
        assert_eq!(stage2_window(20, &cfg, true, false), 1000);
        assert_eq!(stage2_window(20, &cfg, false, true), 30);
        assert_eq!(stage2_window(20, &cfg, false, false), 20);
        assert_eq!(stage2_window(2000, &cfg, true, true), 2000);
    }

    #[test]
    fn parallel_path_agrees() {
        let cfg = Config::default();
        let cands: Vec<CandidateSignals> =
            (0..PARALLEL_THRESHOLD as i64 + 10).map(|i| cand(i, [(i % 7) as f32, 1.0], (i % 10) as f64 / 10.0, "rock")).collect();
        let par = stage1(&playlist(), &cands, &cfg);
        let seq: Vec<Scored> = {
            let (p, n) = (playlist(), PlaylistNorms::of(&playlist()));
            let w = signal_weights(&cfg);
            let mut v: Vec<Scored> =
                cands.iter().map(|c| score_one(&p, &n, c.borrowed(), &cfg, &w, None, &mut Vec::new()).scored(&w)).collect();
            v.sort_by(|a, b| b.stage1.total_cmp(&a.stage1).then(a.track_id.cmp(&b.track_id)));
            v
        };
        assert_eq!(par, seq);
        // the best few: the same as the first few of all (ties broken by id alike)
        for keep in [1, 5, 100, cands.len(), cands.len() + 5] {
            assert_eq!(stage1_best(&playlist(), &cands, &cfg, keep), par[..keep.min(par.len())], "keep {keep}");
        }
        assert!(stage1_best(&playlist(), &cands, &cfg, 0).is_empty());
    }

    /// Pseudo-random vectors (a fixed LCG): values of every sign and size, some exactly zero.
    fn vectors(count: usize, dims: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut x = seed;
        (0..count)
            .map(|_| {
                (0..dims)
                    .map(|_| {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        let u = ((x >> 33) as f64 / (1u64 << 31) as f64) as f32 - 0.5;
                        if (x >> 20) % 17 == 0 {
                            0.0
                        } else {
                            u * 3.0
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn widened_dot_products_equal_the_pairwise_ones_bit_for_bit() {
        // 384 dimensions (the default model), and lengths with a tail past the last 8 values;
        // 30 members (groups of four and a remainder), with and without centroid and query
        for (dims, with_extra) in [(384, true), (13, true), (7, false), (1024, true)] {
            let members = vectors(30, dims, dims as u64);
            let extra = vectors(2, dims, 99);
            let p = PlaylistSignals {
                members,
                centroid: with_extra.then(|| extra[0].clone()),
                query: with_extra.then(|| extra[1].clone()),
                ..Default::default()
            };
            let n = PlaylistNorms::of(&p);
            assert!(n.wide.is_some());
            let pairwise = PlaylistNorms { wide: None, ..n.clone() };
            let mut cands = vectors(50, dims, 7);
            cands.push(vec![0.0; dims]); // a zero vector: every cosine 0
                                         // blocks of candidates at a time (four, and the rest one by one): the same values
            let (_, wide) = n.wide.as_ref().unwrap();
            let count = wide.len() / dims;
            for take in [1usize, 3, 4, 5, 9, cands.len()] {
                let es: Vec<&[f32]> = cands[..take].iter().map(Vec::as_slice).collect();
                let mut block = vec![f64::NAN; take * count];
                if crate::sys::dots_block(&es, wide, count, &mut block) {
                    for (e, row) in es.iter().zip(block.chunks(count)) {
                        let mut one = vec![0f64; count];
                        assert!(crate::sys::dots_wide(e, wide, &mut one));
                        assert_eq!(
                            row.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                            one.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                        );
                    }
                }
            }
            assert!(!crate::sys::dots_block(&[&cands[0][..dims - 1]], wide, count, &mut vec![0f64; count]), "lengths that do not fit");
            for e in &cands {
                let fast = embedding_cosines(&p, &n, e, 30);
                let slow = embedding_cosines(&p, &pairwise, e, 30);
                let bits =
                    |c: &EmbeddingCosines| c.members.iter().chain(&c.centroid).chain(&c.query).map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&fast), bits(&slow), "dims {dims}");
                // and each equals profile::cosine of the pair
                for (j, m) in p.members.iter().enumerate() {
                    let mut d = [0f64];
                    if crate::sys::dots_wide(e, &m.iter().map(|x| *x as f64).collect::<Vec<_>>(), &mut d) {
                        assert_eq!(d[0].to_bits(), profile::dot(e, m).to_bits(), "member {j}, dims {dims}");
                    }
                }
            }
        }
        // vectors of different lengths: no widened block, the pairwise path
        let p = PlaylistSignals { members: vec![vec![1.0, 0.0], vec![1.0, 0.0, 0.0]], ..Default::default() };
        assert!(PlaylistNorms::of(&p).wide.is_none());
        assert_eq!(embedding_cosines(&p, &PlaylistNorms::of(&p), &[1.0, 0.0], 2).members, vec![1.0, 1.0]);
    }

    #[test]
    fn stage2_blend_and_order() {
        // inside the window: (1 − w)·score + w·s; outside: (1 − w)·score
        assert!((blend(0.6, Some(0.9), 0.8) - (0.2 * 0.6 + 0.8 * 0.9)).abs() < 1e-15);
        assert!((blend(0.6, None, 0.8) - 0.12).abs() < 1e-15);
        assert_eq!(blend(0.6, Some(0.1), 0.0), 0.6);
        assert_eq!(blend(0.6, Some(0.1), 1.0), 0.1);
        let mut v = [(3, 0.5), (1, 0.5), (2, 0.9), (4, f64::NAN)];
        v.sort_by(|a, b| best_first(*a, *b));
        assert_eq!(v.iter().map(|x| x.0).collect::<Vec<_>>(), vec![4, 2, 1, 3]);
    }

    #[test]
    fn config_validation_and_hash() {
        let d = Config::from_json(None).unwrap();
        assert_eq!(d, Config::default());
        let c = Config::from_json(Some(&json!({"weights": {"audio": 1.0}}))).unwrap();
        assert_eq!(c.weights["audio"], 1.0);
        assert_ne!(c.hash(), d.hash());
        assert!(d.hash().starts_with("cfg_v1_"));
        // an explicit default equals the implicit one
        assert_eq!(Config::from_json(Some(&json!({"members_top_k": 1}))).unwrap().hash(), d.hash());
        // discovery: the default is not in the hash (0.2.0's hashes stay), another value is
        assert_eq!(Config::from_json(Some(&json!({"discovery": {"profile_k": 300}}))).unwrap().hash(), d.hash());
        let disc = Config::from_json(Some(&json!({"discovery": {"per_member": 10}}))).unwrap();
        assert_eq!(disc.discovery.per_member, 10);
        assert_ne!(disc.hash(), d.hash());
        // the 0.2.0 default config's hash, pinned: cached matches survive the upgrade
        assert_eq!(d.to_json().as_object().unwrap().len(), 6);
        // explain: off by default and then not in the hash; on, a context of its own
        assert!(!d.explain);
        assert_eq!(Config::from_json(Some(&json!({"explain": false}))).unwrap().hash(), d.hash());
        let ex = Config::from_json(Some(&json!({"explain": true}))).unwrap();
        assert!(ex.explain);
        assert_ne!(ex.hash(), d.hash());
        assert_eq!(ex.to_json()["explain"], json!(true));
        for bad in [
            json!({"weights": {"tempo": 1}}),
            json!({"bogus": 1}),
            json!({"weights": {"audio": -1}}),
            json!([1]),
            json!({"rerank_weight": 2}),
            json!({"members_top_k": 0}),
            json!({"discovery": {"ef_search": 1001}}),
            json!({"discovery": {"bogus": 1}}),
            json!({"discovery": []}),
            json!({"explain": 1}),
            json!({"explain": "yes"}),
        ] {
            assert_eq!(Config::from_json(Some(&bad)).unwrap_err().sqlstate(), "22023", "{bad}");
        }
        let zero = json!({"weights": {"members": 0, "centroid": 0, "query": 0, "audio": 0, "genre": 0, "emotion": 0,
                                      "artist": 0, "album": 0, "year": 0, "popularity": 0}});
        assert_eq!(Config::from_json(Some(&zero)).unwrap_err().to_string(), "config.weights must not all be zero");
    }

    #[test]
    fn catalogue_fit_weighs_shared_artists_albums_and_closeness_as_stage_one() {
        let row = |artist: &str, album: &str, year: &str, pop: f64| {
            catalogue::track_of(&json!({"artist": artist, "album": album, "release_date": year, "popularity": pop}))
        };
        let members = [row("A", "X", "2000", 50.0), row("A", "X", "2001", 52.0), row("B", "Y", "2002", 48.0)];
        let p = catalogue::profile(&members);
        let cfg = Config::default();
        let w = |s: &str| cfg.weights[s];
        // an A track on X from 2001 with popularity 50: artist 2/3, album 2/3, year and popularity at the median
        let same = row("A", "X", "2001", 50.0);
        let expect = w("artist") * 2.0 / 3.0 + w("album") * 2.0 / 3.0 + w("year") + w("popularity");
        assert!((catalogue_fit(&p, &same, &cfg) - expect).abs() < 1e-12);
        // another artist, far in time: only the (small) closeness terms
        let far = row("C", "Z", "1960", 5.0);
        assert!(catalogue_fit(&p, &far, &cfg) < 0.01);
        assert!(catalogue_fit(&p, &row("B", "W", "2001", 50.0), &cfg) < catalogue_fit(&p, &same, &cfg));
        // no members: nothing fits
        assert_eq!(catalogue_fit(&catalogue::profile(&[]), &same, &cfg), 0.0);
    }
}

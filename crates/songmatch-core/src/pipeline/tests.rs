//! The whole pipeline through an in-memory port: the cache, the blend, the window's "not
//! ranked" rows, `explain`, the context's identity, and the screen's exactness.

use super::*;
use crate::hash::{id_set_hash, match_context_hash, IdSetKind, MatchContextInputs};
use crate::ranker::{squash, FEATURES};
use crate::scoring::{stage1_best, CandidateSignals, Config, Embedding, PlaylistSignals};
use crate::signals::TrackSignals;
use crate::store::{Store, StoreWriter};
use serde_json::json;
use std::io::Cursor;

const DIMS: usize = 8;

/// A track of the in-memory catalogue: its embedding, signals, document and content hash.
#[derive(Clone)]
struct Track {
    embedding: Option<Vec<f32>>,
    signals: TrackSignals,
    document: String,
    hash: String,
}

/// The in-memory catalogue: `n` tracks with ids 100.. (pseudo-random vectors and fields), every
/// 9th without an embedding.
fn catalogue(n: usize) -> BTreeMap<i64, Track> {
    let mut x: u64 = 42;
    let mut next = move || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let genres = ["pop", "rock", "jazz", "folk"];
    (0..n)
        .map(|i| {
            let id = 100 + i as i64;
            let embedding = (i % 9 != 4).then(|| (0..DIMS).map(|_| next() as f32 - 0.5).collect());
            let track = json!({"name": format!("Song {id}"), "artist": format!("artist {}", (next() * 12.0) as usize),
                               "album": format!("album {}", (next() * 30.0) as usize),
                               "release_date": format!("{}-01-01", 1970 + (next() * 50.0) as usize), "popularity": (next() * 100.0) as i64});
            let analysis = json!({"genres": [genres[(next() * 4.0) as usize % 4]],
                                  "audio": {"energy": next(), "valence": next(), "tempo": 60.0 + 120.0 * next()}});
            let document = format!("Song {id} {}", "la ".repeat((next() * 9.0) as usize));
            (id, Track { embedding, signals: TrackSignals::of(&track, &analysis), document, hash: format!("ch_{id}") })
        })
        .collect()
}

struct Cands {
    ids: Vec<i64>,
    hashes: Vec<String>,
}

impl CandidateKeys for Cands {
    fn ids(&self) -> &[i64] {
        &self.ids
    }
    fn hashes(&self) -> &[String] {
        &self.hashes
    }
}

/// The port: the catalogue, the playlist's members, the stored contexts, the feature store's
/// bytes when it screens, and what each model was asked.
struct Memory {
    tracks: BTreeMap<i64, Track>,
    members: Vec<i64>,
    contexts: Vec<(String, Vec<MatchRow>, Value)>,
    store: Option<Vec<u8>>,
    ranker_rows: usize,
    reranked: usize,
    profiles: usize,
}

impl Memory {
    fn new(n: usize, members: &[i64]) -> Self {
        Memory {
            tracks: catalogue(n),
            members: members.to_vec(),
            contexts: Vec::new(),
            store: None,
            ranker_rows: 0,
            reranked: 0,
            profiles: 0,
        }
    }

    /// The feature store of every track (the screen then goes over their places in it).
    fn with_store(mut self) -> Self {
        let mut w = StoreWriter::new(Cursor::new(Vec::new()), DIMS).unwrap();
        for (id, t) in &self.tracks {
            w.push(*id, &t.hash, Some(&t.signals.encode()), t.embedding.as_deref()).unwrap();
        }
        self.store = Some(w.finish("epoch", 1, "m", "v").unwrap().0.into_inner());
        self
    }

    fn candidates(&self) -> Cands {
        let ids: Vec<i64> = self.tracks.keys().copied().filter(|id| !self.members.contains(id)).collect();
        let hashes = ids.iter().map(|id| self.tracks[id].hash.clone()).collect();
        Cands { ids, hashes }
    }

    fn member_hashes(&self) -> Vec<String> {
        self.members.iter().map(|id| self.tracks[id].hash.clone()).collect()
    }
}

impl RankPort for Memory {
    /// A fixed linear model of the first features.
    fn ranker(&mut self, _model: &str, features: &[Vec<f32>]) -> Result<Vec<f32>> {
        self.ranker_rows += features.len();
        Ok(features.iter().map(|f| 3.0 * f[0] + f[1] - f[2] - 1.0).collect())
    }
    /// The share of the document's words that are "la".
    fn rerank(&mut self, _model: &str, _query: &str, documents: &[String]) -> Result<Vec<f64>> {
        self.reranked += documents.len();
        Ok(documents.iter().map(|d| d.matches("la").count() as f64 / d.split(' ').count() as f64).collect())
    }
    fn documents(&mut self, ids: &[i64]) -> Result<Vec<String>> {
        Ok(ids.iter().map(|id| self.tracks.get(id).map(|t| t.document.clone()).unwrap_or_default()).collect())
    }
    fn emotions(&mut self, _ids: &[i64], _counters: &mut Counters) -> Result<Vec<(i64, BTreeMap<String, f64>)>> {
        Ok(Vec::new())
    }
}

impl MatchPort for Memory {
    type Candidates = Cands;

    fn stored_context(&mut self, context_hash: &str, _counters: &mut Counters) -> Result<Option<i64>> {
        Ok(self.contexts.iter().position(|(h, _, _)| h == context_hash).map(|i| i as i64 + 1))
    }
    fn stored_results(&mut self, context: i64) -> Result<Vec<MatchRow>> {
        Ok(self.contexts[context as usize - 1].1.clone())
    }
    fn profile(&mut self, _counters: &mut Counters) -> Result<Profile> {
        self.profiles += 1;
        let vectors = self.members.iter().filter_map(|id| self.tracks[id].embedding.clone()).collect();
        let signals: Vec<TrackSignals> = self.members.iter().map(|id| self.tracks[id].signals.clone()).collect();
        let query = Some((0..DIMS).map(|i| (i as f32 - 3.5) / 8.0).collect());
        Ok(Profile { content_hash: "pp_test".into(), signals: PlaylistSignals::of_members(vectors, &signals, query) })
    }
    fn screen(&mut self, cands: Cands, signals: &PlaylistSignals, cfg: &Config, window: usize, counters: &mut Counters) -> Cands {
        let Some(bytes) = &self.store else { return cands };
        let st = Store::open(bytes).unwrap();
        let positions: Vec<Option<usize>> = cands.ids.iter().map(|id| st.position(*id)).collect();
        let Some((kept, _)) = crate::screen::kept(signals, cfg, &st, st.floats().unwrap(), DIMS, &positions, window) else { return cands };
        counters.add("screened_out", kept.iter().filter(|k| !**k).count() as f64);
        let (ids, hashes) = cands.ids.into_iter().zip(cands.hashes).zip(kept).filter(|(_, k)| *k).map(|(c, _)| c).unzip();
        Cands { ids, hashes }
    }
    fn read(&mut self, cands: Cands, _counters: &mut Counters) -> Result<Vec<CandidateSignals>> {
        Ok(cands
            .ids
            .iter()
            .filter_map(|id| {
                self.tracks
                    .get(id)
                    .map(|t| CandidateSignals::new(*id, t.embedding.clone().map(Embedding::from), &t.signals, BTreeMap::new()))
            })
            .collect())
    }
    fn store(&mut self, context: &NewContext<'_>, rows: &[MatchRow]) -> Result<i64> {
        self.contexts.push((context.identity.context_hash.clone(), rows.to_vec(), context.inputs.clone()));
        Ok(self.contexts.len() as i64)
    }
}

const BUNDLE: Models<'static> =
    Models { bundle_name: "test", bundle_hash: "bh_test", ranker: Some("ranker-1"), reranker: Some("reranker-1"), emotion: false };

fn playlist_json() -> (Value, Value) {
    (json!({"name": "Rainy days", "description": "songs for rain"}), json!({"summary": "calm"}))
}

/// A match of the playlist of `members` over every other track of `port`'s catalogue.
fn run(port: &mut Memory, models: Models<'_>, cfg: &Config, top_k: i32, counters: &mut Counters) -> Matched {
    let (row, analysis) = playlist_json();
    let hashes = port.member_hashes();
    let members = port.members.clone();
    let playlist = Playlist {
        id: 7,
        owner: "00000000-0000-4000-8000-000000000001",
        row: &row,
        analysis: &analysis,
        members: &members,
        member_hashes: &hashes,
    };
    let cands = port.candidates();
    match_candidates(port, MatchRequest { playlist, models, cfg, cands, top_k, want_rows: true, extra: None }, counters).unwrap()
}

const MEMBERS: [i64; 4] = [101, 105, 111, 130];

fn ranker_of(row: &MatchRow) -> &Value {
    &row.components["ranker"]
}

#[test]
fn a_miss_is_ranked_and_stored_under_its_hash_and_a_repeat_is_served_from_it() {
    let mut port = Memory::new(60, &MEMBERS);
    let cfg = Config::default();
    let mut counters = Counters::default();
    let first = run(&mut port, BUNDLE, &cfg, 10, &mut counters);
    assert!(!first.hit);
    assert_eq!(first.rows.len(), 10);
    assert_eq!(first.rows.iter().map(|r| r.rank).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
    assert!(first.rows.windows(2).all(|w| w[0].score >= w[1].score), "best first");
    assert_eq!(counters.get("context_misses"), 1.0);
    assert_eq!(counters.get("inferences:ranker-1"), 56.0, "every candidate is in the ranker's window");
    assert_eq!(counters.get("inferences:reranker-1"), 30.0, "the reranker's window");
    // the stored context: its hash is the one the inputs give, and its inputs name the profile
    let (stored_hash, stored_rows, inputs) = port.contexts[0].clone();
    let (row, analysis) = playlist_json();
    let cands = port.candidates();
    let ids: Vec<Option<i64>> = cands.ids.iter().map(|i| Some(*i)).collect();
    let mh = port.member_hashes();
    let mr: Vec<(i64, &str)> = MEMBERS.iter().zip(&mh).map(|(i, h)| (*i, h.as_str())).collect();
    let cr: Vec<(i64, &str)> = cands.ids.iter().zip(&cands.hashes).map(|(i, h)| (*i, h.as_str())).collect();
    let expected = match_context_hash(&MatchContextInputs {
        user: "00000000-0000-4000-8000-000000000001",
        bundle: "bh_test",
        algorithm_version: crate::versions::MATCHING_ALGO_VERSION,
        config: &cfg.hash(),
        playlist_set: &id_set_hash(IdSetKind::PlaylistSet, &[Some(7)]).unwrap(),
        candidate_set: &id_set_hash(IdSetKind::CandidateSet, &ids).unwrap(),
        top_k: 10,
        playlist_row: &row,
        playlist_analysis: &analysis,
        members: &mr,
        candidates: &cr,
    });
    assert_eq!(stored_hash, expected);
    assert_eq!(first.context_hash, expected);
    assert!(expected.starts_with("mc_v1_"), "{expected}");
    assert_eq!(inputs, json!({"profile": "pp_test", "config": cfg.to_json(), "top_k": 10, "candidates": 56}));
    assert_eq!(stored_rows, first.rows);

    // a repeat: found by its hash, no model runs, the stored rows come back
    let (ranked, profiles) = (port.ranker_rows, port.profiles);
    let mut again = Counters::default();
    let second = run(&mut port, BUNDLE, &cfg, 10, &mut again);
    assert!(second.hit);
    assert_eq!((second.context, second.context_hash.as_str()), (first.context, expected.as_str()));
    assert_eq!(second.rows, first.rows);
    assert_eq!((port.ranker_rows, port.profiles), (ranked, profiles));
    assert_eq!(again.get("context_hits"), 1.0);
    assert_eq!(again.get("context_misses"), 0.0);

    // a candidate's content changes: another context
    port.tracks.get_mut(&150).unwrap().hash = "ch_changed".into();
    let third = run(&mut port, BUNDLE, &cfg, 10, &mut Counters::default());
    assert!(!third.hit);
    assert_ne!(third.context_hash, expected);
    // another top_k: another context
    assert_ne!(run(&mut port, BUNDLE, &cfg, 11, &mut Counters::default()).context_hash, third.context_hash);
}

#[test]
fn the_blend_of_stage_1_and_the_ranker_and_the_reranker() {
    let mut port = Memory::new(60, &MEMBERS);
    let cfg = Config::default();
    let stage1 = {
        let prof = port.profile(&mut Counters::default()).unwrap();
        let cands = port.candidates();
        let read = port.read(cands, &mut Counters::default()).unwrap();
        stage1_best(&prof.signals, &read, &cfg, usize::MAX).into_iter().map(|s| (s.track_id, s.stage1)).collect::<BTreeMap<_, _>>()
    };
    let only_ranker = Models { reranker: None, ..BUNDLE };
    let m = run(&mut port, only_ranker, &cfg, 20, &mut Counters::default());
    for r in &m.rows {
        let raw = ranker_of(r)["score"].as_f64().unwrap();
        let squashed = ranker_of(r)["squashed"].as_f64().unwrap();
        assert!((squashed - squash(raw as f32)).abs() < 1e-5, "{r:?}");
        assert_eq!(r.components["stage1"], json!(round6(stage1[&r.track_id])));
        assert_eq!(ranker_of(r)["weight"], json!(0.8));
        assert_eq!(ranker_of(r)["model"], json!("ranker-1"));
        // (raw is rounded in the components: the blend is checked to the rounding)
        let blended = 0.2 * stage1[&r.track_id] + 0.8 * squash(raw as f32);
        assert!((r.score - round6(blended)).abs() < 1e-5, "{} vs {blended}", r.score);
        assert_eq!(r.components["score"], json!(r.score));
        assert_eq!(r.components["stage2"], json!({"ranker": "ranker-1"}));
    }
    // both: the reranked top 30, each blended again with its rerank score, ahead of the rest
    let both = run(&mut port, BUNDLE, &cfg, 40, &mut Counters::default());
    for r in &both.rows[..30] {
        let s = r.components["stage2"]["rerank"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&s));
        assert_eq!(r.components["stage2"]["weight"], json!(0.5));
    }
    for r in &both.rows[30..] {
        assert_eq!(r.components["stage2"], json!("not reranked: below the top 30"), "{r:?}");
    }
    // neither model: stage 1's order and scores, and why
    let none = Models { ranker: None, reranker: None, ..BUNDLE };
    let plain = run(&mut port, none, &cfg, 5, &mut Counters::default());
    let mut best: Vec<(i64, f64)> = stage1.iter().map(|(i, s)| (*i, *s)).collect();
    best.sort_by(|a, b| crate::scoring::best_first(*a, *b));
    assert_eq!(plain.rows.iter().map(|r| r.track_id).collect::<Vec<_>>(), best[..5].iter().map(|b| b.0).collect::<Vec<_>>());
    for (r, b) in plain.rows.iter().zip(&best) {
        assert_eq!(r.score, round6(b.1));
        assert_eq!(r.components["stage2"], json!("skipped: bundle \"test\" has no ranker or reranker"));
        assert!(r.components.get("ranker").is_none());
    }
}

#[test]
fn rows_below_the_rankers_window_say_so_and_explain_names_the_features() {
    let mut port = Memory::new(40, &MEMBERS);
    let cfg = Config { ranker_top_n: 3, rerank_top_n: 2, ..Config::default() };
    let mut counters = Counters::default();
    let m = run(&mut port, BUNDLE, &cfg, 8, &mut counters);
    assert_eq!(m.rows.len(), 8);
    assert_eq!(counters.get("inferences:ranker-1"), 3.0);
    assert_eq!(counters.get("inferences:reranker-1"), 2.0);
    let ranked = m.rows.iter().filter(|r| ranker_of(r).is_object()).count();
    assert_eq!(ranked, 3);
    for r in m.rows.iter().filter(|r| !ranker_of(r).is_object()) {
        assert_eq!(ranker_of(r), &json!("not ranked: below the top 3 of stage 1"));
    }
    assert!(m.rows.iter().all(|r| ranker_of(r).get("features").is_none()), "features only when explained");
    assert_eq!(m.rows.iter().filter(|r| r.components["stage2"].is_object()).count(), 2);

    let explained = Config { explain: true, ..cfg };
    let e = run(&mut port, BUNDLE, &explained, 8, &mut Counters::default());
    assert_ne!(e.context_hash, m.context_hash, "explain is part of the config's hash");
    for r in e.rows.iter().filter(|r| ranker_of(r).is_object()) {
        let f = ranker_of(r)["features"].as_object().unwrap();
        assert_eq!(f.len(), FEATURES.len());
        assert!(FEATURES.iter().all(|n| f[*n].is_number()), "{f:?}");
        // the ranker's score is the model's over the named features
        let raw = 3.0 * f[FEATURES[0]].as_f64().unwrap() + f[FEATURES[1]].as_f64().unwrap() - f[FEATURES[2]].as_f64().unwrap() - 1.0;
        assert!((ranker_of(r)["score"].as_f64().unwrap() - raw).abs() < 1e-5);
    }
    // the same ranking with and without explain
    let ids = |m: &Matched| m.rows.iter().map(|r| (r.track_id, r.score)).collect::<Vec<_>>();
    assert_eq!(ids(&e), ids(&m));
}

#[test]
fn the_screen_keeps_the_ranking_exact() {
    let cfg = Config { ranker_top_n: 20, rerank_top_n: 5, ..Config::default() };
    for models in [BUNDLE, Models { ranker: None, reranker: None, ..BUNDLE }] {
        for top_k in [1, 10, 25] {
            let mut all = Memory::new(400, &MEMBERS);
            let mut screened = Memory::new(400, &MEMBERS).with_store();
            let full = run(&mut all, models.clone(), &cfg, top_k, &mut Counters::default());
            let mut counters = Counters::default();
            let fast = run(&mut screened, models.clone(), &cfg, top_k, &mut counters);
            assert!(counters.get("screened_out") > 100.0, "{top_k}: the screen left out {}", counters.get("screened_out"));
            assert_eq!(fast.rows, full.rows, "top_k {top_k}, ranker {:?}", models.ranker);
            assert_eq!(fast.context_hash, full.context_hash, "the identity is of the candidates before the screen");
        }
    }
}

#[test]
fn a_top_k_below_one_is_refused_before_any_read() {
    let mut port = Memory::new(40, &MEMBERS);
    let (row, analysis) = playlist_json();
    let hashes = port.member_hashes();
    let playlist = Playlist { id: 7, owner: "u", row: &row, analysis: &analysis, members: &MEMBERS, member_hashes: &hashes };
    let cands = port.candidates();
    let cfg = Config::default();
    let req = MatchRequest { playlist, models: BUNDLE, cfg: &cfg, cands, top_k: 0, want_rows: true, extra: None };
    let err = match_candidates(&mut port, req, &mut Counters::default()).unwrap_err();
    assert!(err.to_string().contains("top_k must be at least 1, got 0"), "{err}");
    assert_eq!(port.profiles, 0);
}

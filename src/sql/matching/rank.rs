//! Ranking: stage 1 over the candidates, stage 2 (the bundle's learned ranker, then its text
//! reranker) on the best of them, the blend, and each result's `components`.

use super::artifacts::{ensure_emotions, Need};
use super::counters::Counters;
use super::reads::{load_tracks, PlaylistInfo, TrackRow};
use crate::core::profile::round6;
use crate::core::ranker as ranker_features;
use crate::core::ranker::FEATURES;
use crate::core::scoring::{CandidateSignals, Config, PlaylistNorms, PlaylistSignals};
use crate::core::{profile, scoring, text, Error, Result};
use crate::sql::bundle::Bundle;
use crate::sql::infer;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// (track id, score, components), best first.
pub(super) type Ranked = Vec<(i64, f64, serde_json::Map<String, Value>)>;

/// What a ranking is about: the bundle, the playlist and its signals, the config.
pub(super) struct Scoring<'a> {
    pub(super) bundle: &'a Bundle,
    pub(super) signals: &'a PlaylistSignals,
    pub(super) p: &'a PlaylistInfo,
    pub(super) cfg: &'a Config,
}

/// Stage 1 over the candidates, then stage 2 (the bundle's learned ranker, then its text
/// reranker) on the top candidates.
pub(super) fn rank_candidates(
    scoring: Scoring<'_>,
    mut cands: Vec<CandidateSignals>,
    keep: usize,
    counters: &mut Counters,
) -> Result<Ranked> {
    let signals = signals_with_emotions(&scoring, &mut cands, counters)?;
    let Scoring { bundle, p, cfg, .. } = scoring;
    let signals = &signals;

    // stage 1, of which stage 2 takes a window of the best (the ranker's or reranker's window, or
    // `keep`): only those are ordered; the components JSON is built only for the `keep` returned
    let ranked = if bundle.ranker.is_some() { cfg.ranker_top_n.min(cands.len()) } else { 0 };
    // (stage1_best keeps at most every candidate)
    let window = scoring::stage2_window(keep, cfg, bundle.ranker.is_some(), bundle.reranker.is_some());
    let t0 = Instant::now();
    let scored = scoring::stage1_best(signals, &cands, cfg, window);
    pgrx::debug1!("songmatch: stage 1 scored {} candidates in {:?}", cands.len(), t0.elapsed());

    let mut finals: Vec<Final> = scored
        .iter()
        .take(window)
        .enumerate()
        .map(|(at, s)| Final { id: s.track_id, score: s.stage1, at, ranker: None, rerank: None })
        .collect();
    let mut feats: Vec<Vec<f32>> = Vec::new();
    if let Some((kid, _)) = &bundle.ranker {
        feats = apply_ranker(kid, &cands, &mut finals, ranked, signals, cfg, counters)?;
    }
    let mut reranked: Option<usize> = None;
    if let Some((rid, _)) = bundle.reranker.as_ref().filter(|_| !finals.is_empty()) {
        reranked = Some(apply_reranker(rid, p, cfg, &mut finals, counters)?);
    }
    // (the candidates are not needed any more; dropped here: they own next to nothing, and
    // dropping their references to the store from both cores would contend for its counter)
    drop(cands);
    let no_reranker = match &bundle.ranker {
        Some((kid, _)) => json!({"ranker": kid}),
        None => json!(format!("skipped: bundle \"{}\" has no ranker or reranker", bundle.name)),
    };
    let out = finals
        .into_iter()
        .take(keep)
        .map(|f| {
            let mut m = scoring::components_json(&scored[f.at]);
            if let Some((kid, _)) = &bundle.ranker {
                let v = match f.ranker {
                    Some((raw, j)) => {
                        let mut r = json!({"score": round6(raw as f64), "squashed": round6(ranker_features::squash(raw)),
                                           "weight": cfg.ranker_weight, "model": kid});
                        if cfg.explain {
                            let named: serde_json::Map<String, Value> =
                                FEATURES.iter().zip(&feats[j]).map(|(n, v)| (n.to_string(), json!(round6(*v as f64)))).collect();
                            r["features"] = Value::Object(named);
                        }
                        r
                    }
                    None => json!(format!("not ranked: below the top {ranked} of stage 1")),
                };
                m.insert("ranker".into(), v);
            }
            match (&bundle.reranker, reranked) {
                (None, _) => {
                    m.insert("stage2".into(), no_reranker.clone());
                }
                (Some((rid, _)), Some(n)) => {
                    let v = match f.rerank {
                        Some(s) => json!({"rerank": round6(s), "weight": cfg.rerank_weight, "model": rid}),
                        None => json!(format!("not reranked: below the top {n}")),
                    };
                    m.insert("stage2".into(), v);
                }
                _ => {}
            }
            (f.id, f.score, m)
        })
        .collect();
    Ok(out)
}

/// A result of the ranking: its stage-1 position (`at`), its score so far, and the learned
/// ranker's raw score and feature row and the reranker's score, when they ran on it.
struct Final {
    id: i64,
    score: f64,
    at: usize,
    ranker: Option<(f32, usize)>,
    rerank: Option<f64>,
}

/// The playlist's signals, with the emotions of the playlist and of the candidates (written
/// into `cands`) when they count and the bundle has a model for them.
fn signals_with_emotions(scoring: &Scoring<'_>, cands: &mut [CandidateSignals], counters: &mut Counters) -> Result<PlaylistSignals> {
    let Scoring { bundle, signals, p, cfg } = *scoring;
    // emotions only when they count and the bundle has a model for them
    let use_emotions = bundle.emotion.is_some() && cfg.weights.get("emotion").copied().unwrap_or(0.0) > 0.0;
    let mut signals = signals.clone();
    if use_emotions {
        let member_rows = load_tracks(&p.members)?;
        let me = ensure_emotions(&member_rows, bundle, Need::Values, counters)?;
        signals.emotions = profile::mean_buckets(&me.iter().filter_map(|(_, a)| a.value().map(profile::ekman_of)).collect::<Vec<_>>());
        let cand_rows = load_tracks(&cands.iter().map(|c| c.track_id).collect::<Vec<_>>())?;
        let mut cand_emotions: HashMap<i64, BTreeMap<String, f64>> = HashMap::new();
        for (id, a) in ensure_emotions(&cand_rows, bundle, Need::Values, counters)? {
            if let Some(v) = a.value() {
                cand_emotions.insert(id, profile::ekman_of(v));
            }
        }
        for c in cands.iter_mut() {
            c.emotions = cand_emotions.remove(&c.track_id).unwrap_or_default();
        }
    }
    Ok(signals)
}

/// Stage 2's learned ranker (`kid`) over the best `ranked` of stage 1 (`finals`, in stage 1's
/// order): each one's score blended with the ranker's, the rest blended without, then all sorted
/// best first. Returns the ranked candidates' feature rows.
fn apply_ranker(
    kid: &str,
    cands: &[CandidateSignals],
    finals: &mut [Final],
    ranked: usize,
    signals: &PlaylistSignals,
    cfg: &Config,
    counters: &mut Counters,
) -> Result<Vec<Vec<f32>>> {
    // (candidates come by id, ascending: found by a binary search, else through a map)
    let at: Vec<Option<usize>> = if cands.is_sorted_by_key(|c| c.track_id) {
        finals[..ranked].iter().map(|f| cands.binary_search_by_key(&f.id, |c| c.track_id).ok()).collect()
    } else {
        let at: HashMap<i64, usize> = cands.iter().enumerate().map(|(i, c)| (c.track_id, i)).collect();
        finals[..ranked].iter().map(|f| at.get(&f.id).copied()).collect()
    };
    let of: Vec<&CandidateSignals> = at
        .into_iter()
        .map(|i| i.map(|i| &cands[i]).ok_or_else(|| Error::Runtime("a ranked candidate is missing".into())))
        .collect::<Result<_>>()?;
    let norms = PlaylistNorms::of(signals);
    let feats = ranker_features::features_of(signals, &norms, &of);
    let t0 = Instant::now();
    let scores = infer::ranker(kid, &feats)?;
    counters.add("ranker_calls", 1.0);
    counters.add("ranker_ms", t0.elapsed().as_secs_f64() * 1000.0);
    pgrx::debug1!("songmatch: the learned ranker scored {ranked} candidates in {:?}", t0.elapsed());
    counters.add(&format!("inferences:{kid}"), ranked as f64);
    let b = cfg.ranker_weight;
    for (j, (f, s)) in finals[..ranked].iter_mut().zip(&scores).enumerate() {
        f.ranker = Some((*s, j));
        f.score = scoring::blend(f.score, Some(ranker_features::squash(*s)), b);
    }
    for f in finals[ranked..].iter_mut() {
        f.score = scoring::blend(f.score, None, b);
    }
    finals.sort_by(|x, y| scoring::best_first((x.id, x.score), (y.id, y.score)));
    Ok(feats)
}

/// Stage 2's text reranker (`rid`) over the best `rerank_top_n` of `finals`: their scores
/// blended with the reranker's, the rest kept behind them, then all sorted best first. Returns
/// how many it reranked.
fn apply_reranker(rid: &str, p: &PlaylistInfo, cfg: &Config, finals: &mut [Final], counters: &mut Counters) -> Result<usize> {
    let n = cfg.rerank_top_n.min(finals.len());
    let query = text::playlist_query(&p.playlist, &p.analysis)?;
    let top_rows = load_tracks(&finals[..n].iter().map(|f| f.id).collect::<Vec<_>>())?;
    let by_id: HashMap<i64, &TrackRow> = top_rows.iter().map(|r| (r.id, r)).collect();
    let docs: Vec<String> = finals[..n].iter().map(|f| by_id.get(&f.id).and_then(|r| r.document().ok()).unwrap_or_default()).collect();
    let t0 = Instant::now();
    let scores = infer::rerank(rid, &query, &docs, None)?;
    counters.add("rerank_calls", 1.0);
    counters.add("rerank_ms", t0.elapsed().as_secs_f64() * 1000.0);
    counters.add(&format!("inferences:{rid}"), n as f64);
    let a = cfg.rerank_weight;
    for (f, s) in finals[..n].iter_mut().zip(scores) {
        f.rerank = Some(s);
        f.score = scoring::blend(f.score, Some(s), a);
    }
    for f in finals[n..].iter_mut() {
        // keep reranked candidates ahead of the rest
        f.score = scoring::blend(f.score, None, a);
    }
    finals.sort_by(|x, y| scoring::best_first((x.id, x.score), (y.id, y.score)));
    Ok(n)
}

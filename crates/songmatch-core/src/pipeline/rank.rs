//! Ranking: stage 1 over the candidates, stage 2 (the bundle's learned ranker, then its text
//! reranker) on the best of them, the blend, and each result's `components`.

use super::{Counters, Models, Playlist, RankPort};
use crate::profile::{self, round6};
use crate::ranker::{self as ranker_features, FEATURES};
use crate::scoring::{self, CandidateSignals, Config, PlaylistNorms, PlaylistSignals};
use crate::{text, Error, Result};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// (track id, score, components), best first.
pub type Ranked = Vec<(i64, f64, Map<String, Value>)>;

/// What a ranking is about: the bundle's models, the playlist and its signals, the config.
pub struct Scoring<'a> {
    pub models: &'a Models<'a>,
    pub signals: &'a PlaylistSignals,
    pub playlist: &'a Playlist<'a>,
    pub cfg: &'a Config,
}

/// A candidate as stage 2 goes over it: its stage-1 position (`at`), its score so far, and the
/// learned ranker's raw score and feature row and the reranker's score, when they ran on it.
struct Candidate {
    id: i64,
    score: f64,
    at: usize,
    ranker: Option<(f32, usize)>,
    rerank: Option<f64>,
}

/// Stage 1 over the candidates, then stage 2 (the learned ranker, then the text reranker) on the
/// best of them; the best `keep`, with their components.
pub fn rank<P: RankPort + ?Sized>(
    port: &mut P,
    scoring: &Scoring<'_>,
    mut cands: Vec<CandidateSignals>,
    keep: usize,
    counters: &mut Counters,
) -> Result<Ranked> {
    let signals = &signals_with_emotions(port, scoring, &mut cands, counters)?;
    let Scoring { models, playlist, cfg, .. } = *scoring;

    // stage 1, of which stage 2 takes a window of the best (the ranker's or reranker's window, or
    // `keep`): only those are ordered; the components JSON is built only for the `keep` returned
    let ranked = if models.ranker.is_some() { cfg.ranker_top_n.min(cands.len()) } else { 0 };
    let window = scoring::stage2_window(keep, cfg, models.ranker.is_some(), models.reranker.is_some());
    let t0 = Instant::now();
    let scored = scoring::stage1_best(signals, &cands, cfg, window);
    port.debug(format_args!("songmatch: stage 1 scored {} candidates in {:?}", cands.len(), t0.elapsed()));

    let mut finals: Vec<Candidate> = scored
        .iter()
        .take(window)
        .enumerate()
        .map(|(at, s)| Candidate { id: s.track_id, score: s.stage1, at, ranker: None, rerank: None })
        .collect();
    let mut feats: Vec<Vec<f32>> = Vec::new();
    if let Some(kid) = models.ranker {
        feats = apply_ranker(port, kid, &cands, &mut finals, ranked, signals, cfg, counters)?;
    }
    let mut reranked: Option<usize> = None;
    if let Some(rid) = models.reranker.filter(|_| !finals.is_empty()) {
        reranked = Some(apply_reranker(port, rid, playlist, cfg, &mut finals, counters)?);
    }
    // (the candidates are not needed any more; dropped here: they own next to nothing, and
    // dropping their references to the store from both cores would contend for its counter)
    drop(cands);
    let explain = |j: usize| -> Value {
        Value::Object(FEATURES.iter().zip(&feats[j]).map(|(n, v)| (n.to_string(), json!(round6(*v as f64)))).collect())
    };
    let out = finals
        .into_iter()
        .take(keep)
        .map(|f| {
            let mut m = scoring::components_json(&scored[f.at]);
            if let Some(kid) = models.ranker {
                m.insert("ranker".into(), ranker_component(kid, cfg, f.ranker, ranked, &explain));
            }
            if let Some(v) = stage2_component(models, cfg, f.rerank, reranked) {
                m.insert("stage2".into(), v);
            }
            (f.id, f.score, m)
        })
        .collect();
    Ok(out)
}

/// A result's `components.ranker`: the learned ranker's raw and squashed score, its weight and
/// model (and its features by name when the config explains), or why it did not run on it.
fn ranker_component(kid: &str, cfg: &Config, ran: Option<(f32, usize)>, ranked: usize, explain: &dyn Fn(usize) -> Value) -> Value {
    match ran {
        Some((raw, j)) => {
            let mut r = json!({"score": round6(raw as f64), "squashed": round6(ranker_features::squash(raw)),
                               "weight": cfg.ranker_weight, "model": kid});
            if cfg.explain {
                r["features"] = explain(j);
            }
            r
        }
        None => json!(format!("not ranked: below the top {ranked} of stage 1")),
    }
}

/// A result's `components.stage2`: the reranker's score, weight and model, or why it did not
/// run on it (None: the bundle has a reranker that did not run, there being no candidates).
fn stage2_component(models: &Models<'_>, cfg: &Config, rerank: Option<f64>, reranked: Option<usize>) -> Option<Value> {
    match (models.reranker, reranked) {
        (None, _) => Some(match models.ranker {
            Some(kid) => json!({"ranker": kid}),
            None => json!(format!("skipped: bundle \"{}\" has no ranker or reranker", models.bundle_name)),
        }),
        (Some(rid), Some(n)) => Some(match rerank {
            Some(s) => json!({"rerank": round6(s), "weight": cfg.rerank_weight, "model": rid}),
            None => json!(format!("not reranked: below the top {n}")),
        }),
        _ => None,
    }
}

/// The playlist's signals, with the emotions of the playlist and of the candidates (written
/// into `cands`) when they count and the bundle has a model for them.
fn signals_with_emotions<P: RankPort + ?Sized>(
    port: &mut P,
    scoring: &Scoring<'_>,
    cands: &mut [CandidateSignals],
    counters: &mut Counters,
) -> Result<PlaylistSignals> {
    let Scoring { models, signals, playlist, cfg } = *scoring;
    let use_emotions = models.emotion && cfg.weights.get("emotion").copied().unwrap_or(0.0) > 0.0;
    let mut signals = signals.clone();
    if use_emotions {
        let members = port.emotions(playlist.members, counters)?;
        signals.emotions = profile::mean_buckets(&members.into_iter().map(|(_, e)| e).collect::<Vec<_>>());
        let ids: Vec<i64> = cands.iter().map(|c| c.track_id).collect();
        let mut of: HashMap<i64, BTreeMap<String, f64>> = port.emotions(&ids, counters)?.into_iter().collect();
        for c in cands.iter_mut() {
            c.emotions = of.remove(&c.track_id).unwrap_or_default();
        }
    }
    Ok(signals)
}

/// Stage 2's learned ranker (`kid`) over the best `ranked` of stage 1 (`finals`, in stage 1's
/// order): each one's score blended with the ranker's, the rest blended without, then all sorted
/// best first. Returns the ranked candidates' feature rows.
#[allow(clippy::too_many_arguments)]
fn apply_ranker<P: RankPort + ?Sized>(
    port: &mut P,
    kid: &str,
    cands: &[CandidateSignals],
    finals: &mut [Candidate],
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
    let scores = port.ranker(kid, &feats)?;
    if scores.len() != ranked {
        return Err(Error::Runtime(format!("the ranker {kid} returned {} scores for {ranked} candidates", scores.len())));
    }
    counters.add("ranker_calls", 1.0);
    counters.add("ranker_ms", t0.elapsed().as_secs_f64() * 1000.0);
    port.debug(format_args!("songmatch: the learned ranker scored {ranked} candidates in {:?}", t0.elapsed()));
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
fn apply_reranker<P: RankPort + ?Sized>(
    port: &mut P,
    rid: &str,
    p: &Playlist<'_>,
    cfg: &Config,
    finals: &mut [Candidate],
    counters: &mut Counters,
) -> Result<usize> {
    let n = cfg.rerank_top_n.min(finals.len());
    let query = text::playlist_query(p.row, p.analysis)?;
    let docs = port.documents(&finals[..n].iter().map(|f| f.id).collect::<Vec<_>>())?;
    let t0 = Instant::now();
    let scores = port.rerank(rid, &query, &docs)?;
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

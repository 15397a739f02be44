//! A match's candidates: chosen (the given ids or the owner's liked tracks), narrowed by stage 1's
//! screen over the feature store, and read as stage 1 sees them (signals and embeddings).

use super::artifacts::{ensure_embeddings, Artifact};
use super::counters::Counters;
use super::reads::{self, content_rows, load_tracks, ContentRows, FeatureStore, PlaylistInfo, StoredSignals, TrackRow};
use super::schema_facts::SchemaFacts;
use super::GENERIC_PLAN;
use crate::core::scoring::{CandidateSignals, Config, Embedding, FloatSource, PlaylistSignals};
use crate::core::signals::{SignalsView, TrackSignals};
use crate::core::{Error, Result};
use crate::sql::spi_err;
use crate::sql::vector::Vector;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

/// The candidates of a match, distinct: their ids, content hashes and stored stage-1 signals,
/// read together.
pub struct Candidates {
    pub ids: Vec<i64>,
    pub hashes: Vec<String>,
    pub signals: Vec<StoredSignals>,
    /// The feature store (src/sql/store.rs): the embeddings of the candidates it has are read
    /// from it; when it was built before the catalogue's last change, only of those whose
    /// content hash it has (then `positions` is empty and the screen does not run).
    pub store: Option<FeatureStore>,
    /// Where the store has each candidate's embedding, when the hashes came from it (then a
    /// candidate without a position has none there); empty: to be looked up.
    pub positions: Vec<Option<usize>>,
}

/// Stage 1's view of the candidates, in their order. Their hashes and signals came with them
/// (from `track_content`); this reads their current embeddings (of their current document) in
/// one query. A candidate without current stored signals (no `track_content` row, bytes of another
/// version) gets them from its row; one without a current embedding goes through
/// [`ensure_embeddings`] (inference on a miss). No per-row JSON on the common path.
pub fn read_candidates(
    cands: Candidates,
    model: &(String, String),
    facts: SchemaFacts,
    counters: &mut Counters,
) -> Result<Vec<CandidateSignals>> {
    let Candidates { ids, hashes, signals, store, positions } = cands;
    let t0 = Instant::now();
    let at: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let (mut embeddings, from_store) = store_embeddings(store, positions, &ids, &hashes, model);
    counters.add("feature_store_embeddings", from_store as f64);
    let rest: Vec<i64> =
        if from_store == 0 { ids.clone() } else { (0..ids.len()).filter(|&i| embeddings[i].is_none()).map(|i| ids[i]).collect() };
    read_table_embeddings(rest, model, &at, &mut embeddings, facts)?;
    let mut decoded: Vec<Option<SignalsView>> = crate::core::signals::parse_all(signals);
    pgrx::debug1!(
        "songmatch: read {} candidates' embeddings ({from_store} from the feature store) and signals in {:?}",
        ids.len(),
        t0.elapsed()
    );
    // the rest from their rows: signals derived, embeddings DB-first (computed on a miss)
    let gone = complete_from_rows(&ids, &at, model, &mut decoded, &mut embeddings, facts, counters)?;
    Ok(ids
        .into_iter()
        .zip(embeddings)
        .zip(decoded)
        .zip(gone)
        .filter(|(_, gone)| !gone)
        .map(|(((id, embedding), s), _)| CandidateSignals {
            track_id: id,
            embedding,
            signals: s.unwrap_or_default(),
            emotions: BTreeMap::new(),
        })
        .collect())
}

/// The candidates' embeddings from the feature store, where it has the candidate's current
/// content under this model (a vector is the same for the same content and model), read in place
/// (`positions`: found with the hashes, else looked up by id and hash); and how many it had.
fn store_embeddings(
    store: Option<FeatureStore>,
    positions: Vec<Option<usize>>,
    ids: &[i64],
    hashes: &[String],
    model: &(String, String),
) -> (Vec<Option<Embedding>>, usize) {
    let mut embeddings: Vec<Option<Embedding>> = vec![None; ids.len()];
    let mut from_store = 0usize;
    if let Some(m) = store.filter(|m| m.header.of_model(model)) {
        if let Some(st) = m.store() {
            let dims = m.header.dims as usize;
            let source: Arc<dyn FloatSource> = m.clone();
            // (the positions found with the hashes, else looked up by id and hash)
            let positions = if positions.len() == ids.len() { positions } else { st.embedding_positions(ids, hashes) };
            embeddings = if source.floats().is_empty() {
                positions.into_iter().map(|at| Some(st.embedding_at(at?).into())).collect()
            } else {
                positions.into_iter().map(|at| Embedding::shared(&source, at? * dims, dims)).collect()
            };
            from_store = embeddings.iter().filter(|e| e.is_some()).count();
        }
    }
    (embeddings, from_store)
}

/// The embeddings of the candidates `rest` from the table (only an embedding of the track's
/// current document), into `embeddings` at their places (`at`).
fn read_table_embeddings(
    rest: Vec<i64>,
    model: &(String, String),
    at: &HashMap<i64, usize>,
    embeddings: &mut [Option<Embedding>],
    facts: SchemaFacts,
) -> Result<()> {
    crate::sql::plans::with_settings(GENERIC_PLAN, spi_err("cannot change a setting for the match"), || {
        if rest.is_empty() {
            return Ok(());
        }
        // (only an embedding of the track's current document; of its content in a schema before 0.8.0)
        crate::sql::plans::select_batches(
            if facts.document_keys { reads::CANDIDATE_EMBEDDINGS_BY_DOCUMENT } else { reads::CANDIDATE_EMBEDDINGS_BY_CONTENT },
            &[rest.into(), model.0.as_str().into(), model.1.as_str().into()],
            4096,
            |t| {
                for r in t {
                    let Some(&i) = r.get::<i64>(1)?.and_then(|id| at.get(&id)) else { continue };
                    embeddings[i] = match r.get::<Vector>(2)? {
                        Some(v) => Some(v.0.into()),
                        None => {
                            r.get::<crate::sql::vector::HalfVec>(3)?.map(|h| h.0.iter().map(|x| x.to_f32()).collect::<Vec<f32>>().into())
                        }
                    };
                }
                Ok(())
            },
        )
        .map_err(spi_err("cannot read the candidates' embeddings"))
    })
}

/// The candidates without current stored signals or embedding, from their rows: signals
/// derived, embeddings DB-first (computed on a miss), written into `decoded` and `embeddings`.
/// Returns which candidates' rows are gone by now (left out).
fn complete_from_rows(
    ids: &[i64],
    at: &HashMap<i64, usize>,
    model: &(String, String),
    decoded: &mut [Option<SignalsView>],
    embeddings: &mut [Option<Embedding>],
    facts: SchemaFacts,
    counters: &mut Counters,
) -> Result<Vec<bool>> {
    let slow: Vec<usize> = (0..ids.len()).filter(|&i| decoded[i].is_none() || embeddings[i].is_none()).collect();
    counters.add("embedding_hits", (ids.len() - slow.len()) as f64);
    // (a candidate whose row is gone by now is left out)
    let mut gone = vec![false; ids.len()];
    if !slow.is_empty() {
        let slow_ids: Vec<i64> = slow.iter().map(|&i| ids[i]).collect();
        let rows = load_tracks(&slow_ids)?;
        for &i in &slow {
            gone[i] = rows.binary_search_by_key(&ids[i], |r| r.id).is_err();
        }
        let embs = ensure_embeddings(&rows, model, facts, counters)?;
        for (r, (_, a)) in rows.iter().zip(embs) {
            let Some(&i) = at.get(&r.id) else { continue };
            if decoded[i].is_none() {
                decoded[i] = Some(SignalsView::of(&TrackSignals::of(&r.track, &r.analysis)));
            }
            embeddings[i] = match a {
                Artifact::Hit(v) | Artifact::Computed(v) => Some(v.into()),
                Artifact::Failed(_) | Artifact::Deferred => None,
            };
        }
    }
    Ok(gone)
}

/// The candidates of a playlist with their content hashes and stored signals, by id: the given
/// ids (which must exist), or the owner's liked tracks that are not in the playlist. One read of
/// `track_content` (a track without a row there, restored with triggers disabled, is hashed from
/// its row).
pub(super) fn candidates_of(p: &PlaylistInfo, given: Option<Vec<Option<i64>>>) -> Result<Candidates> {
    let (ids, rows) = match given {
        Some(list) => {
            let mut ids = Vec::with_capacity(list.len());
            for (i, x) in list.iter().enumerate() {
                ids.push(
                    x.ok_or_else(|| Error::NullValue(format!("candidate_track_ids must not contain NULL (element {} is NULL)", i + 1)))?,
                );
            }
            ids.sort_unstable();
            ids.dedup();
            let rows = content_rows(&ids, p.facts)?;
            // a track has a track_content row (its triggers keep it); one without is looked up
            let unknown: Vec<i64> = ids.iter().zip(&rows.hashes).filter(|(_, h)| h.is_none()).map(|(i, _)| *i).collect();
            if !unknown.is_empty() {
                let existing: Vec<i64> = crate::sql::plans::select(reads::EXISTING_TRACKS, &[unknown.clone().into()], |mut t| {
                    Ok(t.next().map(|r| r.get::<Vec<i64>>(1)).transpose()?.flatten().unwrap_or_default())
                })
                .map_err(spi_err("cannot read the candidates"))?;
                let missing: Vec<String> =
                    unknown.iter().filter(|i| existing.binary_search(i).is_err()).take(10).map(|i| i.to_string()).collect();
                if !missing.is_empty() {
                    return Err(Error::invalid(format!("candidate track ids do not exist: {}", missing.join(", "))));
                }
            }
            (ids, rows)
        }
        None if p.facts.owner_columns => {
            // (the user's rows, then the catalogue's: see load_playlist)
            // (the liked tracks minus the members, which load_playlist read: one table per read)
            let liked: Vec<i64> = crate::sql::plans::select(reads::LIKED_TRACKS, &[p.owner.into()], |mut t| {
                Ok(t.next().map(|r| r.get::<Vec<i64>>(1)).transpose()?.flatten().unwrap_or_default())
            })
            .map_err(spi_err("cannot read the candidates"))?;
            let ids: Vec<i64> = liked.into_iter().filter(|t| p.members.binary_search(t).is_err()).collect();
            let rows = content_rows(&ids, p.facts)?;
            (ids, rows)
        }
        None => {
            let ids: Vec<i64> = crate::sql::plans::select(reads::LIKED_NOT_MEMBERS, &[p.owner.into(), p.id.into()], |mut t| {
                Ok(t.next().map(|r| r.get::<Vec<i64>>(1)).transpose()?.flatten().unwrap_or_default())
            })
            .map_err(spi_err("cannot read the candidates"))?;
            let rows = content_rows(&ids, p.facts)?;
            (ids, rows)
        }
    };
    let ContentRows { hashes, signals, store, positions } = rows;
    let hashes = fill_hashes(&ids, hashes)?;
    Ok(Candidates { ids, hashes, signals, store, positions })
}

/// Content hashes where `track_content` had none, from the tracks' rows.
pub(super) fn fill_hashes(ids: &[i64], hashes: Vec<Option<String>>) -> Result<Vec<String>> {
    let missing: Vec<i64> = ids.iter().zip(&hashes).filter(|(_, h)| h.is_none()).map(|(i, _)| *i).collect();
    let computed: HashMap<i64, String> =
        if missing.is_empty() { HashMap::new() } else { load_tracks(&missing)?.iter().map(|r| (r.id, r.content_hash())).collect() };
    Ok(ids.iter().zip(hashes).map(|(i, h)| h.or_else(|| computed.get(i).cloned()).unwrap_or_default()).collect())
}

/// What stage 1 and the ranker know of each candidate (rows and embeddings in the same order).
pub(super) fn candidate_signals(
    cand_rows: &[TrackRow],
    embs: Vec<(i64, Artifact<Vec<f32>>)>,
    mut emotions: HashMap<i64, BTreeMap<String, f64>>,
) -> Vec<CandidateSignals> {
    cand_rows
        .iter()
        .zip(embs)
        .map(|(r, (_, a))| {
            CandidateSignals::new(
                r.id,
                a.value().cloned().map(Embedding::from),
                &TrackSignals::of(&r.track, &r.analysis),
                emotions.remove(&r.id).unwrap_or_default(),
            )
        })
        .collect()
}

/// A match's candidates narrowed by stage 1's screen (crate::core::screen, over their places in
/// the feature store) to those that may rank in stage 2's `window`: when the store holds their
/// vectors and they are more than twice the window, only the kept ones are read and ranked
/// exactly, with the results of ranking them all (the module's proof; the regress tests compare
/// both). The others count as the store's embedding hits, as when they were read. Anything the
/// screen cannot stand for (another model's store, emotions weighed) leaves the candidates as
/// they are.
pub(super) fn screen_candidates(
    cands: Candidates,
    sig: &PlaylistSignals,
    cfg: &Config,
    model: &(String, String),
    window: usize,
    counters: &mut Counters,
) -> Candidates {
    let n = cands.ids.len();
    let Some(m) = cands.store.as_ref().filter(|m| m.header.of_model(model)) else { return cands };
    if cands.positions.len() != n {
        return cands;
    }
    let Some(st) = m.store() else { return cands };
    let t0 = Instant::now();
    let dims = m.header.dims as usize;
    let Some((kept, s)) = crate::core::screen::kept(sig, cfg, &st, m.floats(), dims, &cands.positions, window) else { return cands };
    let left_out = kept.iter().filter(|k| !**k).count();
    counters.add("embedding_hits", left_out as f64);
    counters.add("feature_store_embeddings", left_out as f64);
    counters.add("screened_out", left_out as f64);
    pgrx::debug1!(
        "songmatch: stage 1 screened {} of {n} candidates ({} left out by their bound) in {:?}, kept {}",
        s.scored + s.bounded,
        s.bounded,
        t0.elapsed(),
        n - left_out
    );
    let Candidates { ids, hashes, signals, store, positions } = cands;
    let mut out = Candidates {
        ids: Vec::with_capacity(n - left_out),
        hashes: Vec::with_capacity(n - left_out),
        signals: Vec::with_capacity(n - left_out),
        store,
        positions: Vec::with_capacity(n - left_out),
    };
    for ((((id, h), sg), p), k) in ids.into_iter().zip(hashes).zip(signals).zip(positions).zip(kept) {
        if k {
            out.ids.push(id);
            out.hashes.push(h);
            out.signals.push(sg);
            out.positions.push(p);
        }
    }
    out
}

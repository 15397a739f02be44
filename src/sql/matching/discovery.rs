//! Discovery (`recommend_for_playlist`): candidates from the whole catalogue, through the feature
//! store (stage 1's screen, or an exact scan) or pgvector's HNSW index over the model's vectors,
//! and the catalogue's neighbours (the members' artists and albums).

use super::cache::Resolved;
use super::candidates::{fill_hashes, Candidates};
use super::counters::Counters;
use super::pipeline::{match_candidates, CandidateMatch};
use super::profile::playlist_profile;
use super::reads::{self, load_playlist, resolve_config, FeatureStore, PlaylistInfo};
use super::schema_facts::SchemaFacts;
use super::{CUSTOM_PLAN, MATCH_SETTINGS};
use crate::core::models::manifest::Storage;
use crate::core::scoring::{Config, FloatSource, PlaylistSignals};
use crate::core::screen::Over;
use crate::core::signals::Encoded;
use crate::core::{catalogue, scoring, Error, Result};
use crate::sql::bundle::{active_bundle, Bundle};
use crate::sql::models::with_cache;
use crate::sql::{guc, spi_err};
use pgrx::prelude::*;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

/// pgvector's schema, quoted for SQL text (the functions run with search_path pg_catalog only).
pub(super) fn vector_schema() -> Result<String> {
    let s = Spi::get_one::<String>(reads::VECTOR_SCHEMA)
        .map_err(spi_err("cannot find pgvector's schema"))?
        .ok_or_else(|| Error::Runtime("pgvector is not installed".into()))?;
    Ok(format!("\"{}\"", s.replace('"', "\"\"")))
}

/// Recommend for one playlist: nearest neighbours of its profile and members through the
/// bundle's vector index, minus its members (and the owner's liked tracks when asked), then
/// stage 1 + stage 2 and the match cache as for `match_playlist`. Returns the context id.
pub(super) fn recommend_one(
    playlist_id: i64,
    top_k: i32,
    config: Option<&Value>,
    exclude_liked: bool,
    facts: SchemaFacts,
    counters: &mut Counters,
) -> Result<i64> {
    if top_k < 1 {
        return Err(Error::invalid(format!("top_k must be at least 1, got {top_k}")));
    }
    // (and the index's search parameters, which the searches below set)
    let settings = [MATCH_SETTINGS, &[("hnsw.ef_search", None), ("hnsw.iterative_scan", None)]].concat();
    crate::sql::plans::with_settings(&settings, spi_err("cannot change a setting for the match"), || {
        recommend_searched(playlist_id, top_k, config, exclude_liked, facts, counters)
    })
}

/// Discovery's neighbours through pgvector's HNSW index over the model's vectors (appended to
/// `found`): the index's name (None: there is none, and the searches scanned).
pub(super) fn search_index(
    bundle: &Bundle,
    d: &scoring::Discovery,
    members: usize,
    queries: &[(&[f32], usize)],
    dims: usize,
    found: &mut Vec<i64>,
) -> Result<Option<String>> {
    let vs = vector_schema()?;
    let index = Spi::get_one_with_args::<String>(
        reads::HNSW_INDEX,
        &[format!("'{}'", bundle.embedding.0.replace('\'', "''")).into(), (dims as i32).to_string().into()],
    )
    .or_else(|e| match e {
        pgrx::spi::SpiError::InvalidPosition => Ok(None),
        e => Err(e),
    })
    .map_err(spi_err("cannot find the vector index"))?;
    // a nearest-neighbour search per query vector, in one query per group (the index's
    // expression and predicate, so that pgvector's HNSW index answers each): the profile's
    // vectors searched at ef_search = max(ef_search, profile_k), the members' at
    // max(ef_search, per_member); the settings hold for this call only
    let sql = reads::index_search(&vs, dims);
    let profile_n = queries.len() - members.min(d.max_members);
    for (group, ef) in [(&queries[..profile_n], d.ef_search.max(d.profile_k)), (&queries[profile_n..], d.ef_search.max(d.per_member))] {
        if group.is_empty() {
            continue;
        }
        // the vectors as pgvector's text form (f32 Display is the shortest form that round-trips)
        let texts: Vec<String> = group
            .iter()
            .map(|(v, _)| {
                let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                format!("[{}]", parts.join(","))
            })
            .collect();
        let ks: Vec<i32> = group.iter().map(|(_, k)| *k as i32).collect();
        Spi::run(&reads::ef_search_setting(ef.clamp(1, 1000))).map_err(spi_err("cannot set the index search parameters"))?;
        let tg = Instant::now();
        found.extend(
            Spi::get_one_with_args::<Vec<i64>>(
                &sql,
                &[texts.into(), ks.into(), bundle.embedding.0.as_str().into(), bundle.embedding.1.as_str().into()],
            )
            .map_err(spi_err("cannot search the vector index"))?
            .unwrap_or_default(),
        );
        pgrx::debug1!("songmatch: discovery: {} index searches at ef_search {ef} in {:?}", group.len(), tg.elapsed());
    }
    Ok(index)
}

/// [`recommend_one`] with its settings in place.
pub(super) fn recommend_searched(
    playlist_id: i64,
    top_k: i32,
    config: Option<&Value>,
    exclude_liked: bool,
    facts: SchemaFacts,
    counters: &mut Counters,
) -> Result<i64> {
    let started = Instant::now();
    let p = load_playlist(playlist_id, None, facts)?;
    let bundle = active_bundle()?;
    let cfg = resolve_config(config, &bundle)?;
    let d = cfg.discovery;
    // the feature store, when it is current, has this model's vectors and is small enough to scan
    let store = crate::sql::store::current(p.facts)?;
    let scan_max = guc::DISCOVERY_SCAN_MAX.get().max(0) as u64;
    let scan = store.clone().filter(|m| m.header.of_model(&bundle.embedding) && m.header.tracks <= scan_max && !m.floats().is_empty());
    let dir = guc::model_dir();
    let storage = with_cache(|c| Ok(c.registry(&dir)?.model(&bundle.embedding.0)?.manifest.storage()))?;
    if scan.is_none() && storage == Storage::HalfVec {
        return Err(Error::Unsupported(format!(
            "recommend_for_playlist needs float32 vectors with an HNSW index; the model \"{}\" stores halfvec",
            bundle.embedding.0
        )));
    }
    let prof = playlist_profile(&p, &bundle, counters)?;
    let sig = &prof.signals;
    let queries = query_vectors(sig, &d);
    let dims = queries.first().map(|(v, _)| v.len()).unwrap_or(0);
    if dims == 0 {
        return Err(Error::invalid(format!("playlist {playlist_id} has no embedded members and no query text to recommend from")));
    }
    let t_profile = started.elapsed();
    // over the store: stage 1 itself screens every track (module crate::core::screen), unless
    // emotions are weighed (the store has none), when the playlist's vectors' exact neighbours
    // are the candidates
    // (the candidates the screen kept, and how many tracks it scored)
    let mut screened: Option<(Candidates, usize)> = None;
    if let Some(m) = &scan {
        let call = DiscoveryCall { p: &p, bundle: &bundle, cfg: &cfg, top_k, exclude_liked };
        screened = screen_store(m, &store, &call, sig)?;
    }
    let mut found: Vec<i64> = Vec::new();
    let (index, index_type) = match &scan {
        Some(_) if screened.is_some() => (json!("feature store"), "stage 1 screen"),
        Some(m) => {
            exact_neighbours(m, &queries, &mut found)?;
            (json!("feature store"), "exact scan")
        }
        None => (json!(search_index(&bundle, &d, sig.members.len(), &queries, dims, &mut found)?), "hnsw"),
    };
    // and the catalogue's neighbours (the members' artists and albums)
    if d.catalogue_k > 0 && !p.members.is_empty() && screened.is_none() {
        found.extend(catalogue_neighbours(&p, &d, sig, &cfg)?);
    }
    found.sort_unstable();
    found.dedup();
    let t_search = started.elapsed();
    let (cands, screened) = match screened {
        Some((c, scored)) => (c, Some(scored)),
        None => {
            // minus the playlist's members (and the owner's liked tracks), with content hashes
            (read_discovered(&p, found, exclude_liked, store)?, None)
        }
    };
    counters.add("discovery_calls", 1.0);
    counters.add("discovery_candidates", cands.ids.len() as f64);
    let mut info = d.to_json();
    info["index"] = index;
    info["index_type"] = json!(index_type);
    info["exclude_liked"] = json!(exclude_liked);
    info["query_vectors"] = json!(queries.len());
    if let Some(n) = screened {
        info["screened"] = json!(n);
    }
    info["candidates"] = json!(cands.ids.len());
    pgrx::debug1!(
        "songmatch: recommend_for_playlist({playlist_id}): profile {t_profile:?}, index search {:?} ({} vectors, {} candidates)",
        t_search - t_profile,
        queries.len(),
        cands.ids.len()
    );
    let resolved = Resolved::All(Box::new((bundle, cfg, prof)));
    // (their embeddings from the feature store where it has their content)
    let over = CandidateMatch { p: &p, cands, top_k, resolved, want_rows: false, extra: Some(("discovery", info)) };
    let (ctx, _) = match_candidates(over, counters, Instant::now())?;
    Ok(ctx)
}

/// What a discovery call is about: the playlist, the bundle, the config, how many results, and
/// whether the owner's liked tracks are left out.
struct DiscoveryCall<'a> {
    p: &'a PlaylistInfo,
    bundle: &'a Bundle,
    cfg: &'a Config,
    top_k: i32,
    exclude_liked: bool,
}

/// The query vectors of a playlist's signals, flattened: (vector, k): its centroid and query
/// embedding (`profile_k` neighbours each), then its first `max_members` members (`per_member`).
fn query_vectors<'s>(sig: &'s PlaylistSignals, d: &scoring::Discovery) -> Vec<(&'s [f32], usize)> {
    let mut queries: Vec<(&[f32], usize)> = Vec::new();
    if let Some(c) = &sig.centroid {
        queries.push((c, d.profile_k));
    }
    if let Some(q) = &sig.query {
        queries.push((q, d.profile_k));
    }
    for m in sig.members.iter().take(d.max_members) {
        queries.push((m, d.per_member));
    }
    queries
}

/// Stage 1's screen over every track of the feature store `m` (`store`: the current store, which
/// the candidates keep), minus the playlist's members (and the owner's liked tracks): the
/// candidates it kept, read in place, and how many tracks it scored; None: no screen (emotions
/// are weighed).
fn screen_store(
    m: &FeatureStore,
    store: &Option<FeatureStore>,
    call: &DiscoveryCall<'_>,
    sig: &PlaylistSignals,
) -> Result<Option<(Candidates, usize)>> {
    let DiscoveryCall { p, bundle, cfg, top_k, exclude_liked } = *call;
    let st = m.store().ok_or_else(|| Error::Runtime("the feature store cannot be read".into()))?;
    // every track a recommendation may hold: stage 2's window, and the one after it
    let window = scoring::stage2_window(top_k as usize, cfg, bundle.ranker.is_some(), bundle.reranker.is_some());
    let mut skip: Vec<i64> = p.members.clone();
    if exclude_liked {
        skip.extend(
            crate::sql::plans::select(reads::LIKED_TRACK_IDS, &[p.owner.into()], |mut t| {
                Ok(t.next().map(|r| r.get::<Vec<i64>>(1)).transpose()?.flatten().unwrap_or_default())
            })
            .map_err(spi_err("cannot read the liked tracks"))?,
        );
    }
    skip.sort_unstable();
    let tg = Instant::now();
    let dims = m.header.dims as usize;
    if let Some(s) =
        crate::core::screen::screen(sig, cfg, &st, m.floats(), dims, Over::AllBut(&|id| skip.binary_search(&id).is_ok()), window + 1)
    {
        pgrx::debug1!(
            "songmatch: discovery: stage 1 screened {} of the feature store's {} tracks ({} left out by their bound) in {:?}, kept {}",
            s.scored + s.bounded,
            m.header.tracks,
            s.bounded,
            tg.elapsed(),
            s.positions.len()
        );
        // the kept tracks as the store has them (their signals read in place)
        let source: Arc<dyn FloatSource> = m.clone();
        let n = s.positions.len();
        let mut c = Candidates {
            ids: Vec::with_capacity(n),
            hashes: Vec::with_capacity(n),
            signals: Vec::with_capacity(n),
            store: store.clone(),
            positions: Vec::with_capacity(n),
        };
        for at in s.positions {
            let e = st.entry_at(at).ok_or_else(|| Error::Runtime("the feature store cannot be read".into()))?;
            c.ids.push(st.id_at(at));
            c.hashes.push(e.content_hash.to_string());
            c.signals.push(e.signals_at.zip(e.signals.map(<[u8]>::len)).and_then(|(at, len)| Encoded::shared(&source, at, len)));
            c.positions.push(e.has_embedding.then_some(at));
        }
        return Ok(Some((c, s.scored + s.bounded)));
    }
    Ok(None)
}

/// Every vector of the feature store compared with each query: the exact neighbours (appended
/// to `found`).
fn exact_neighbours(m: &FeatureStore, queries: &[(&[f32], usize)], found: &mut Vec<i64>) -> Result<()> {
    let st = m.store().ok_or_else(|| Error::Runtime("the feature store cannot be read".into()))?;
    let tg = Instant::now();
    for positions in crate::core::nearest::nearest(m.floats(), m.header.dims as usize, queries) {
        found.extend(positions.into_iter().map(|at| st.id_at(at)));
    }
    pgrx::debug1!(
        "songmatch: discovery: {} exact searches over the feature store's {} tracks in {:?}",
        queries.len(),
        m.header.tracks,
        tg.elapsed()
    );
    Ok(())
}

/// The catalogue's neighbours: tracks by the members' artists or on their albums (btree indexes
/// on tracks.artist and tracks.album), the `catalogue_k` that fit the playlist best on the
/// catalogue signals (shared artists and albums, year, popularity; weighted as stage 1 weighs
/// them; ties by id), of at most CATALOGUE_SCAN times as many read.
fn catalogue_neighbours(p: &PlaylistInfo, d: &scoring::Discovery, sig: &PlaylistSignals, cfg: &Config) -> Result<Vec<i64>> {
    const CATALOGUE_SCAN: usize = 20;
    let rows: Vec<(i64, catalogue::CatalogueTrack)> =
        crate::sql::plans::with_settings(CUSTOM_PLAN, spi_err("cannot change a setting for the match"), || {
            crate::sql::plans::select(
                reads::CATALOGUE_NEIGHBOURS,
                &[p.members.clone().into(), ((d.catalogue_k * CATALOGUE_SCAN) as i64).into()],
                |t| {
                    let mut out = Vec::with_capacity(t.len());
                    for r in t {
                        let track =
                            catalogue::track_from(r.get::<&str>(2)?, r.get::<&str>(3)?, r.get::<&str>(4)?, r.get::<i32>(5)?.map(f64::from));
                        out.push((r.get::<i64>(1)?.unwrap_or_default(), track));
                    }
                    Ok(out)
                },
            )
            .map_err(spi_err("cannot read the members' artists and albums"))
        })?;
    let mut fit: Vec<(f64, i64)> = rows.iter().map(|(id, track)| (scoring::catalogue_fit(&sig.catalogue, track, cfg), *id)).collect();
    fit.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(fit.into_iter().take(d.catalogue_k).map(|(_, id)| id).collect())
}

/// The discovered tracks (`found`) minus the playlist's members (and the owner's liked tracks),
/// with their content hashes and stored signals, as candidates (`store`: the current feature
/// store).
fn read_discovered(p: &PlaylistInfo, found: Vec<i64>, exclude_liked: bool, store: Option<FeatureStore>) -> Result<Candidates> {
    let sql = if p.facts.owner_columns { reads::DISCOVERED_BY_OWNER } else { reads::DISCOVERED };
    let (ids, hashes, signals) = Spi::connect(|c| {
        let t = c.select(sql, None, &[found.into(), p.id.into(), exclude_liked.into(), p.owner.into()])?;
        let mut ids = Vec::with_capacity(t.len());
        let mut hs = Vec::with_capacity(t.len());
        let mut ss = Vec::with_capacity(t.len());
        for r in t {
            ids.push(r.get::<i64>(1)?.unwrap_or_default());
            hs.push(r.get::<String>(2)?);
            ss.push(r.get::<Vec<u8>>(3)?.map(Encoded::Owned));
        }
        Ok::<_, pgrx::spi::SpiError>((ids, hs, ss))
    })
    .map_err(spi_err("cannot read the discovered tracks"))?;
    let hashes = fill_hashes(&ids, hashes)?;
    Ok(Candidates { ids, hashes, signals, store, positions: Vec::new() })
}

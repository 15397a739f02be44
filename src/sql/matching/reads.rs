//! The rows a match reads: tracks, playlists with their members, the tracks' content hashes and
//! stored signals, the active config, a context's stored results, a user's playlists.
//!
//! And the texts of the match path's other reads (artifacts, the match cache, candidates,
//! discovery, profiles, `match_songs_to_playlists`), one documented const each, by concern, at
//! the end: the modules that run them name them here, so that the match path's SQL is all in this
//! file and in writes.rs.

use super::schema_facts::SchemaFacts;
use super::GENERIC_PLAN;
use crate::core::hash::{content_hash, ContentKind};
use crate::core::scoring::{Config, FloatSource};
use crate::core::signals::Encoded;
use crate::core::{text, Error, Result};
use crate::sql::bundle::Bundle;
use crate::sql::spi_err;
use pgrx::prelude::*;
use pgrx::{JsonB, Uuid};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The content of a row of `songmatch.tracks` or `songmatch.playlists` in SQL: the row as JSON
/// without its id and timestamps (`row_content!("t")` for the row of alias `t`), what content
/// hashes, documents and signals are computed from. The schema's definition is the SQL function
/// `songmatch.row_content` (sql/schema.sql, 0.9.2); the library writes its expression out because
/// it also reads the schemas of earlier releases, which lack the function, and a pg_test
/// (`row_content_is_the_schemas`) keeps the two equal.
macro_rules! row_content {
    ($row:literal) => {
        concat!("to_jsonb(", $row, ") - array['id', 'created_at', 'updated_at']")
    };
}
#[cfg(any(test, feature = "pg_test"))]
pub(in crate::sql) use row_content;
#[derive(Debug, Clone)]
pub struct TrackRow {
    pub id: i64,
    pub track: Value,
    pub analysis: Value,
}

impl TrackRow {
    /// `te_v1_` hash of the track's content: its row (without id and timestamps) and analysis.
    pub fn content_hash(&self) -> String {
        content_hash(ContentKind::TrackContent, &json!({"track": self.track, "analysis": self.analysis}))
    }
    pub fn document(&self) -> Result<String> {
        text::track_document(&self.track, &self.analysis, &Value::Null)
    }
    /// `td_v1_` hash of the track's document: what its embedding and emotions are computed from
    /// (empty where the analysis cannot be read as a document: no stored artifact matches it).
    pub fn document_hash(&self) -> String {
        text::track_document_hash(&self.track, &self.analysis).unwrap_or_default()
    }
}

/// The tracks with these ids (missing ids are simply absent), ordered by id.
pub fn load_tracks(ids: &[i64]) -> Result<Vec<TrackRow>> {
    Spi::connect(|c| {
        let rows = c.select(
            concat!(
                "select t.id, ",
                row_content!("t"),
                ", a.analysis
               from songmatch.tracks t left join songmatch.track_analyses a on a.track_id = t.id
              where t.id = any($1) order by t.id"
            ),
            None,
            &[ids.to_vec().into()],
        )?;
        let mut out = Vec::new();
        for r in rows {
            out.push(TrackRow {
                id: r.get::<i64>(1)?.unwrap_or_default(),
                track: r.get::<JsonB>(2)?.map(|j| j.0).unwrap_or(Value::Null),
                analysis: r.get::<JsonB>(3)?.map(|j| j.0).unwrap_or(Value::Null),
            });
        }
        Ok(out)
    })
    .map_err(spi_err("cannot read tracks"))
}

/// A track's stored stage-1 signals: the bytes of `track_content.signals`, or where the feature
/// store holds them (None: none there).
pub(super) type StoredSignals = Option<Encoded>;

/// The database's feature store, mapped (src/sql/store.rs).
pub(super) type FeatureStore = Arc<crate::sql::store::Mapped>;

/// Candidates' content hashes and stored signals, in their order, and the store they came from
/// with where it holds each one's embedding.
pub(super) struct ContentRows {
    /// `track_content.content_hash` (None: the track has no row there).
    pub(super) hashes: Vec<Option<String>>,
    pub(super) signals: Vec<StoredSignals>,
    pub(super) store: Option<FeatureStore>,
    /// Where the store has each one's embedding (empty: to be looked up).
    pub(super) positions: Vec<Option<usize>>,
}

pub struct PlaylistInfo {
    pub id: i64,
    pub owner: Uuid,
    pub playlist: Value,
    pub analysis: Value,
    pub members: Vec<i64>,
    /// The members' content hashes from `track_content` (None: no row there), as `members`.
    pub member_hashes: Vec<Option<String>>,
    /// What the schema supports, read at the start of the call.
    pub facts: SchemaFacts,
}

/// The playlist `id` with its analysis and members. With `user`, only a playlist of that user
/// is found (the call is routed by its user: every read names it).
pub fn load_playlist(id: i64, user: Option<Uuid>, facts: SchemaFacts) -> Result<PlaylistInfo> {
    if !facts.owner_columns {
        // (a database not yet updated to 0.6.0; no call names its user there)
        let row = crate::sql::plans::select(
            concat!(
                "select p.owner_id, ",
                row_content!("p"),
                ", a.analysis,
                    array(select pt.track_id from songmatch.playlist_tracks pt where pt.playlist_id = p.id order by pt.track_id),
                    array(select tc.content_hash from songmatch.playlist_tracks pt
                            left join songmatch.track_content tc on tc.track_id = pt.track_id
                           where pt.playlist_id = p.id order by pt.track_id)
               from songmatch.playlists p left join songmatch.playlist_analyses a on a.playlist_id = p.id
              where p.id = $1"
            ),
            &[id.into()],
            |mut t| {
                Ok(match t.next() {
                    None => None,
                    Some(r) => Some((
                        r.get::<Uuid>(1)?,
                        r.get::<JsonB>(2)?.map(|j| j.0).unwrap_or(Value::Null),
                        r.get::<JsonB>(3)?.map(|j| j.0).unwrap_or(Value::Null),
                        r.get::<Vec<i64>>(4)?.unwrap_or_default(),
                        r.get::<Vec<Option<String>>>(5)?.unwrap_or_default(),
                    )),
                })
            },
        )
        .map_err(spi_err("cannot read the playlist"))?;
        let (owner, playlist, analysis, members, member_hashes) =
            row.ok_or_else(|| Error::invalid(format!("playlist {id} does not exist")))?;
        let owner = owner.ok_or_else(|| Error::data(format!("playlist {id} has no owner")))?;
        return Ok(PlaylistInfo { id, owner, playlist, analysis, members, member_hashes, facts });
    }
    // One table per read, each naming the user: on Citus every read of a call routed to its
    // user's node then goes to that node's shard (a read that joins or nests the users' tables,
    // or joins them with the catalogue, is planned across every shard, or refused).
    let (sql, args): (&'static str, Vec<pgrx::datum::DatumWithOid<'_>>) = match user {
        Some(u) => (
            concat!(
                "select p.owner_id, ",
                row_content!("p"),
                " from songmatch.playlists p
              where p.owner_id = $2 and p.id = $1"
            ),
            vec![id.into(), u.into()],
        ),
        None => (concat!("select p.owner_id, ", row_content!("p"), " from songmatch.playlists p where p.id = $1"), vec![id.into()]),
    };
    let row = crate::sql::plans::select(sql, &args, |mut t| {
        Ok(match t.next() {
            None => None,
            Some(r) => Some((r.get::<Uuid>(1)?, r.get::<JsonB>(2)?.map(|j| j.0).unwrap_or(Value::Null))),
        })
    })
    .map_err(spi_err("cannot read the playlist"))?;
    let (owner, playlist) = row.ok_or_else(|| Error::invalid(format!("playlist {id} does not exist")))?;
    let owner = owner.ok_or_else(|| Error::data(format!("playlist {id} has no owner")))?;
    let analysis = crate::sql::plans::select(
        "select a.analysis from songmatch.playlist_analyses a where a.owner_id = $2 and a.playlist_id = $1",
        &[id.into(), owner.into()],
        |mut t| Ok(t.next().map(|r| r.get::<JsonB>(1)).transpose()?.flatten().map(|j| j.0).unwrap_or(Value::Null)),
    )
    .map_err(spi_err("cannot read the playlist's analysis"))?;
    let members = crate::sql::plans::select(
        "select coalesce(array_agg(pt.track_id order by pt.track_id), '{}') from songmatch.playlist_tracks pt
          where pt.owner_id = $2 and pt.playlist_id = $1",
        &[id.into(), owner.into()],
        |mut t| Ok(t.next().map(|r| r.get::<Vec<i64>>(1)).transpose()?.flatten().unwrap_or_default()),
    )
    .map_err(spi_err("cannot read the playlist's members"))?;
    let member_hashes = content_hashes(&members)?;
    Ok(PlaylistInfo { id, owner, playlist, analysis, members, member_hashes, facts })
}

pub use crate::core::pipeline::MatchRow;

/// The content hashes of these tracks from `track_content`, in their order (None: no row there).
pub(super) fn content_hashes(ids: &[i64]) -> Result<Vec<Option<String>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    crate::sql::plans::select(
        "select tc.content_hash from unnest($1::bigint[]) with ordinality m(id, n)
           left join songmatch.track_content tc on tc.track_id = m.id order by m.n",
        &[ids.to_vec().into()],
        |t| {
            let mut out = Vec::with_capacity(t.len());
            for r in t {
                out.push(r.get::<String>(1)?);
            }
            Ok(out)
        },
    )
    .map_err(spi_err("cannot read the tracks' content hashes"))
}

/// From here on, each query of this transaction reads what has committed by then (READ
/// COMMITTED), not the snapshot of the statement that called songmatch. SPI runs a transaction's
/// queries read-only, in that statement's snapshot, until the transaction has an id, which its
/// first write assigns; this assigns it now, as a write would. What a writer checks just before
/// it writes (is what it computed from still current?) must be read this way: its earlier reads
/// may be older than a row another session stored meanwhile.
pub(super) fn read_committed_now() -> Result<()> {
    Spi::connect_mut(|c| c.update("select 1", None, &[]).map(|_| ())).map_err(spi_err("cannot start a read of what has committed"))
}

/// The artifact keys of these tracks as committed now ([`read_committed_now`]): their document
/// hashes, or their content hashes in a schema that keys artifacts by content (tracks without a
/// `track_content` row are absent).
pub(super) fn committed_artifact_keys(ids: &[i64], document_keys: bool) -> Result<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    read_committed_now()?;
    crate::sql::plans::select(
        if document_keys {
            "select tc.track_id, tc.document_hash from songmatch.track_content tc where tc.track_id = any ($1)"
        } else {
            "select tc.track_id, tc.content_hash from songmatch.track_content tc where tc.track_id = any ($1)"
        },
        &[ids.to_vec().into()],
        |t| {
            let mut out = HashMap::with_capacity(t.len());
            for r in t {
                if let (Some(id), Some(h)) = (r.get::<i64>(1)?, r.get::<String>(2)?) {
                    out.insert(id, h);
                }
            }
            Ok(out)
        },
    )
    .map_err(spi_err("cannot read the tracks' current documents"))
}

/// Whether the playlist's inputs of a profile (its row, analysis, members and their content
/// hashes) as committed now ([`read_committed_now`]) are still those of `p`.
pub(super) fn playlist_unchanged(p: &PlaylistInfo) -> Result<bool> {
    read_committed_now()?;
    let now = match load_playlist(p.id, Some(p.owner), p.facts) {
        Ok(now) => now,
        // (deleted meanwhile)
        Err(Error::InvalidParameter(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(now.playlist == p.playlist && now.analysis == p.analysis && now.members == p.members && now.member_hashes == p.member_hashes)
}

/// The content hashes and stored signals of these tracks, in their order (None: no row in
/// `track_content`, or no signals stored), and the feature store: when it is current, read from
/// it for the tracks it has, from `track_content` (one read) for the others; when the catalogue
/// changed since it was built, all from `track_content`, and the store comes along without
/// positions (its embeddings of the tracks whose content hash it has are read from it).
pub(super) fn content_rows(ids: &[i64], facts: SchemaFacts) -> Result<ContentRows> {
    let mut hashes = vec![None; ids.len()];
    let mut signals = vec![None; ids.len()];
    let mut positions = Vec::new();
    if ids.is_empty() {
        return Ok(ContentRows { hashes, signals, store: None, positions });
    }
    let store = crate::sql::store::current(facts)?;
    let mut rest: Vec<i64> = Vec::new();
    match store.as_ref().and_then(|m| Some((m, m.store()?))) {
        Some((m, st)) => {
            // (the signals read in place, from the mapping)
            let source: Arc<dyn FloatSource> = m.clone();
            positions = vec![None; ids.len()];
            for (i, c) in st.contents(ids).into_iter().enumerate() {
                match c {
                    Some(c) => {
                        hashes[i] = Some(c.content_hash);
                        signals[i] = c.signals.and_then(|(at, len)| Encoded::shared(&source, at, len));
                        positions[i] = c.embedding;
                    }
                    None => rest.push(ids[i]),
                }
            }
        }
        None => rest = ids.to_vec(),
    }
    if rest.is_empty() {
        return Ok(ContentRows { hashes, signals, store, positions });
    }
    let sql = if facts.stored_signals {
        "select tc.track_id, tc.content_hash, tc.signals from songmatch.track_content tc where tc.track_id = any($1)"
    } else {
        "select tc.track_id, tc.content_hash, null::bytea from songmatch.track_content tc where tc.track_id = any($1)"
    };
    // (unordered: placed by id, which is cheaper than ordering them in the query)
    let at: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    crate::sql::plans::with_settings(GENERIC_PLAN, spi_err("cannot change a setting for the match"), || {
        crate::sql::plans::select_batches(sql, &[rest.into()], 16384, |t| {
            for r in t {
                if let Some(&i) = r.get::<i64>(1)?.and_then(|id| at.get(&id)) {
                    hashes[i] = r.get::<String>(2)?;
                    signals[i] = r.get::<Vec<u8>>(3)?.map(Encoded::Owned);
                }
            }
            Ok(())
        })
        .map_err(spi_err("cannot read the candidates"))
    })?;
    // (a store built before the catalogue's last change still holds the embeddings of the
    // candidates whose content is what it was then: looked up by id and content hash)
    let store = store.or_else(|| crate::sql::store::last_built(facts));
    Ok(ContentRows { hashes, signals, store, positions })
}

/// The configuration of a call: the one passed, else the one made active by
/// `songmatch.activate` for the active bundle, else the built-in default.
pub fn resolve_config(config: Option<&Value>, bundle: &Bundle) -> Result<Config> {
    if config.is_some_and(|c| !c.is_null()) {
        return Config::from_json(config);
    }
    let active: Option<JsonB> = crate::sql::plans::select(
        "select config from songmatch.active_config where bundle_hash = $1",
        &[bundle.hash.as_str().into()],
        |mut t| match t.next() {
            Some(r) => r.get::<JsonB>(1),
            None => Ok(None),
        },
    )
    .map_err(spi_err("cannot read the active config"))?;
    Config::from_json(active.as_ref().map(|j| &j.0))
}

/// The stored results of a context of `owner` for a playlist, best first.
pub(super) fn read_results(ctx: i64, playlist_id: i64, owner: Uuid, facts: SchemaFacts) -> Result<Vec<MatchRow>> {
    crate::sql::plans::select(
        if facts.owner_columns {
            "select track_id, score, rank, components from songmatch.match_results
              where user_id = $3 and context_id = $1 and playlist_id = $2 order by rank"
        } else {
            "select track_id, score, rank, components from songmatch.match_results
              where context_id = $1 and playlist_id = $2 and $3::uuid is not null order by rank"
        },
        &[ctx.into(), playlist_id.into(), owner.into()],
        |t| {
            let mut out = Vec::new();
            for r in t {
                out.push(MatchRow {
                    track_id: r.get::<i64>(1)?.unwrap_or_default(),
                    score: r.get::<f64>(2)?.unwrap_or_default(),
                    rank: r.get::<i32>(3)?.unwrap_or_default(),
                    components: r.get::<JsonB>(4)?.map(|j| j.0).unwrap_or(Value::Null),
                });
            }
            Ok(out)
        },
    )
    .map_err(spi_err("cannot read cached results"))
}

/// `user`'s playlists (that the caller can read) with their members, by id: two reads of one
/// table each, naming the user (see load_playlist).
pub(super) fn user_playlists(user: Uuid) -> Result<Vec<(i64, Vec<i64>)>> {
    let ids: Vec<i64> = crate::sql::plans::select(
        "select coalesce(array_agg(p.id order by p.id), '{}') from songmatch.playlists p where p.owner_id = $1",
        &[user.into()],
        |mut t| Ok(t.next().map(|r| r.get::<Vec<i64>>(1)).transpose()?.flatten().unwrap_or_default()),
    )
    .map_err(spi_err("cannot read playlists"))?;
    let mut members: BTreeMap<i64, Vec<i64>> = ids.iter().map(|id| (*id, Vec::new())).collect();
    crate::sql::plans::select(
        "select pt.playlist_id, pt.track_id from songmatch.playlist_tracks pt where pt.owner_id = $1 order by 1, 2",
        &[user.into()],
        |t| {
            for r in t {
                let (pid, tid) = (r.get::<i64>(1)?.unwrap_or_default(), r.get::<i64>(2)?.unwrap_or_default());
                // (members of a playlist the caller cannot read are left out with it)
                if let Some(m) = members.get_mut(&pid) {
                    m.push(tid);
                }
            }
            Ok(())
        },
    )
    .map_err(spi_err("cannot read the playlists' members"))?;
    Ok(members.into_iter().collect())
}

// The statements of the other modules of the match path, by concern.

// artifacts
/// The stored document embeddings of model `$1` version `$2` for the tracks `$3`: track id,
/// the hash they were computed from, the vector (or its halfvec).
pub(super) const STORED_EMBEDDINGS: &str = "select track_id, content_hash, embedding, embedding_half
               from songmatch.track_embeddings
              where embedding_kind = 'document' and model_name = $1 and model_version = $2 and track_id = any($3)";
/// The stored emotions of model `$1` version `$2` for the tracks `$3`: track id, the hash they
/// were computed from, and the emotions as the match reads them (one jsonb).
pub(super) const STORED_EMOTIONS: &str =
    "select track_id, content_hash, jsonb_build_object('model', model_name, 'model_version', model_version,
                    'labels', labels, 'predicted', to_jsonb(predicted), 'ekman', ekman, 'sentiment', sentiment)
               from songmatch.track_emotions where model_name = $1 and model_version = $2 and track_id = any($3)";

// the match cache
/// The context of owner `$2` stamped `$1` (the fast path): its id, whether its use was last
/// refreshed more than a minute ago, and its number of candidates.
pub(super) const CONTEXT_BY_STAMP: &str =
    "select id, last_used_at < pg_catalog.now() - interval '1 minute', coalesce((inputs ->> 'candidates')::bigint, 0)
           from songmatch.match_contexts where user_id = $2 and fast_key = $1 limit 1";
/// The owner of playlist `$1` when it is user `$2`'s.
pub(super) const STAMP_OWNER_OF_USER: &str = "select owner_id from songmatch.playlists where owner_id = $2 and id = $1";
/// The owner of playlist `$1` (as [`STAMP_OWNER_OF_USER`], any owner the caller may read).
pub(super) const STAMP_OWNER: &str = "select owner_id from songmatch.playlists where id = $1";
/// User `$1`'s generation counter, the catalogue's (the sum of its rows) and its epoch, in one
/// read (a single node).
pub(super) const GENERATIONS: &str = "select coalesce((select gen from songmatch.user_generations where user_id = $1), 0)::bigint,
                            sum(gen)::bigint, min(epoch::text)
                       from songmatch.catalogue_generation";
/// User `$1`'s generation counter (0: none yet).
pub(super) const USER_GENERATION: &str = "select coalesce((select gen from songmatch.user_generations where user_id = $1), 0)::bigint";
/// The catalogue's generation counter (the sum of its rows) and its epoch.
pub(super) const CATALOGUE_GENERATION: &str = "select sum(gen)::bigint, min(epoch::text) from songmatch.catalogue_generation";
/// The context of owner `$2` with content hash `$1`: its id, and whether its use was last
/// refreshed more than a minute ago.
pub(super) const CONTEXT_BY_HASH: &str = "select id, last_used_at < pg_catalog.now() - interval '1 minute' from songmatch.match_contexts
          where user_id = $2 and context_hash = $1";

// candidates
/// The document embeddings of model `$2` version `$3` of the candidates `$1` that embed the
/// track's current document (`track_content.document_hash`): track id, vector, halfvec.
pub(super) const CANDIDATE_EMBEDDINGS_BY_DOCUMENT: &str =
    "select e.track_id, e.embedding, e.embedding_half from songmatch.track_embeddings e
                   join songmatch.track_content tc on tc.track_id = e.track_id and tc.document_hash = e.content_hash
                  where e.embedding_kind = 'document' and e.model_name = $2 and e.model_version = $3 and e.track_id = any($1)";
/// As [`CANDIDATE_EMBEDDINGS_BY_DOCUMENT`], in a schema that keys artifacts by content (before
/// 0.8.0): the embeddings of the track's current content hash.
pub(super) const CANDIDATE_EMBEDDINGS_BY_CONTENT: &str =
    "select e.track_id, e.embedding, e.embedding_half from songmatch.track_embeddings e
                   join songmatch.track_content tc on tc.track_id = e.track_id and tc.content_hash = e.content_hash
                  where e.embedding_kind = 'document' and e.model_name = $2 and e.model_version = $3 and e.track_id = any($1)";
/// Which of the tracks `$1` exist, ascending.
pub(super) const EXISTING_TRACKS: &str =
    "select coalesce(array_agg(t.id order by t.id), '{}') from songmatch.tracks t where t.id = any($1)";
/// User `$1`'s liked tracks, ascending.
pub(super) const LIKED_TRACKS: &str =
    "select coalesce(array_agg(l.track_id order by l.track_id), '{}') from songmatch.liked_tracks l where l.user_id = $1";
/// User `$1`'s liked tracks that are not members of playlist `$2`, ascending (a database not yet
/// updated to 0.6.0).
pub(super) const LIKED_NOT_MEMBERS: &str = "select coalesce(array_agg(l.track_id order by l.track_id), '{}') from songmatch.liked_tracks l
                  where l.user_id = $1
                    and not exists (select 1 from songmatch.playlist_tracks pt where pt.playlist_id = $2 and pt.track_id = l.track_id)";

// discovery
/// The schema pgvector is installed in.
pub(super) const VECTOR_SCHEMA: &str =
    "select n.nspname::text from pg_catalog.pg_extension e join pg_catalog.pg_namespace n on n.oid = e.extnamespace
          where e.extname = 'vector'";
/// The HNSW index on `track_embeddings` whose predicate names the model `$1` (quoted as in the
/// predicate) and whose expression casts to `$2` dimensions.
pub(super) const HNSW_INDEX: &str = "select indexrelid::regclass::text from pg_catalog.pg_index i
          where i.indrelid = 'songmatch.track_embeddings'::regclass
            and pg_catalog.pg_get_indexdef(i.indexrelid) like '%USING hnsw%'
            and pg_catalog.pg_get_expr(i.indpred, i.indrelid) like '%' || $1 || '%'
            and pg_catalog.pg_get_indexdef(i.indexrelid) like '%(' || $2 || ')%'";
/// The nearest neighbours of each query vector `$1` (pgvector's text form), `$2` each, among
/// the document embeddings of model `$3` version `$4`, ordered by the HNSW index's expression
/// (`vs`: pgvector's schema, quoted; `dims`: the vectors' dimensions) so that the index answers
/// each search: their distinct track ids.
pub(super) fn index_search(vs: &str, dims: usize) -> String {
    format!(
        "select coalesce(array_agg(distinct n.track_id), '{{}}')
           from unnest($1::text[], $2::int[]) as q(v, k)
          cross join lateral (
                select e.track_id from songmatch.track_embeddings e
                 where e.model_name = $3 and e.embedding is not null
                   and e.model_version = $4 and e.embedding_kind = 'document'
                 order by e.embedding::{vs}.vector({dims}) OPERATOR({vs}.<=>) q.v::{vs}.vector({dims})
                 limit q.k) n"
    )
}
/// The HNSW index's search parameters, set locally (`is_local`): `ef_search` = `ef`, and the
/// iterative scan (relaxed order).
pub(super) fn ef_search_setting(ef: usize) -> String {
    format!(
        "select pg_catalog.set_config('hnsw.ef_search', '{}', true), pg_catalog.set_config('hnsw.iterative_scan', 'relaxed_order', true)",
        ef
    )
}
/// User `$1`'s liked tracks (unordered).
pub(super) const LIKED_TRACK_IDS: &str = "select coalesce(array_agg(l.track_id), '{}') from songmatch.liked_tracks l where l.user_id = $1";
/// The catalogue's neighbours of the members `$1`: the tracks by their artists or on their albums
/// (at most `$2`, by id), with their artist, album, release date and popularity.
pub(super) const CATALOGUE_NEIGHBOURS: &str =
    "with m as (select array_agg(artist) as artists, array_agg(album) filter (where album is not null) as albums
                              from songmatch.tracks where id = any($1))
                 select s.id, s.artist, s.album, s.release_date, s.popularity from (
                    select t.id, t.artist, t.album, t.release_date, t.popularity from songmatch.tracks t, m
                     where t.artist = any(m.artists) or t.album = any(m.albums)) s
                  order by s.id limit $2";
/// The discovered tracks `$1` with their content hashes and stored signals, by id, minus the members
/// of playlist `$2` of owner `$4` and, when `$3`, the owner's liked tracks.
pub(super) const DISCOVERED_BY_OWNER: &str =
    "select t.id, tc.content_hash, tc.signals from songmatch.tracks t left join songmatch.track_content tc on tc.track_id = t.id
                  where t.id = any($1)
                    and not exists (select 1 from songmatch.playlist_tracks pt
                                     where pt.owner_id = $4 and pt.playlist_id = $2 and pt.track_id = t.id)
                    and not ($3 and exists (select 1 from songmatch.liked_tracks l where l.user_id = $4 and l.track_id = t.id))
                  order by t.id";
/// As [`DISCOVERED_BY_OWNER`] in a database not yet updated to 0.6.0 (no owner on the members).
pub(super) const DISCOVERED: &str =
    "select t.id, tc.content_hash, tc.signals from songmatch.tracks t left join songmatch.track_content tc on tc.track_id = t.id
                  where t.id = any($1)
                    and not exists (select 1 from songmatch.playlist_tracks pt where pt.playlist_id = $2 and pt.track_id = t.id)
                    and not ($3 and exists (select 1 from songmatch.liked_tracks l where l.user_id = $4 and l.track_id = t.id))
                  order by t.id";

// playlist profiles
/// The stored profile of playlist `$1` of owner `$4`, kind `$2`, bundle `$3`: its content hash,
/// query embedding, the hash of its query text and the members it was computed with.
pub(super) const STORED_PROFILE_BY_OWNER: &str =
    "select content_hash, query_embedding, details ->> 'query_hash', details -> 'members' from songmatch.playlist_profiles
                  where owner_id = $4 and playlist_id = $1 and profile_kind = $2 and model_bundle_hash = $3";
/// As [`STORED_PROFILE_BY_OWNER`] in a database not yet updated to 0.6.0 (`$4` only checked).
pub(super) const STORED_PROFILE: &str =
    "select content_hash, query_embedding, details ->> 'query_hash', details -> 'members' from songmatch.playlist_profiles
                  where playlist_id = $1 and profile_kind = $2 and model_bundle_hash = $3 and $4::uuid is not null";

// match_songs_to_playlists
/// User `$1`'s playlists with their members (ascending), by id, in one read (a database not yet
/// updated to 0.6.0).
pub(super) const PLAYLISTS_WITH_MEMBERS: &str =
    "select p.id, array(select pt.track_id from songmatch.playlist_tracks pt where pt.playlist_id = p.id order by pt.track_id)
               from songmatch.playlists p where p.owner_id = $1 order by p.id";
/// User `$1`'s liked tracks, ascending (the songs to match when none are given).
pub(super) const LIKED_SONGS: &str =
    "select coalesce(array_agg(track_id order by track_id), '{}') from songmatch.liked_tracks where user_id = $1";
/// Which of the tracks `$1` lack a document embedding of model `$2` version `$3` of their current
/// document (none stored, or a stale one).
pub(super) const STALE_EMBEDDINGS_BY_DOCUMENT: &str = "select coalesce(array_agg(t.id), '{}') from songmatch.tracks t
                   left join songmatch.track_content tc on tc.track_id = t.id
                   left join songmatch.track_embeddings te on te.track_id = t.id and te.embedding_kind = 'document'
                         and te.model_name = $2 and te.model_version = $3
                  where t.id = any($1) and (tc.document_hash is null or te.content_hash is distinct from tc.document_hash)";
/// As [`STALE_EMBEDDINGS_BY_DOCUMENT`] in a schema that keys artifacts by content (before 0.8.0).
pub(super) const STALE_EMBEDDINGS_BY_CONTENT: &str = "select coalesce(array_agg(t.id), '{}') from songmatch.tracks t
                   left join songmatch.track_content tc on tc.track_id = t.id
                   left join songmatch.track_embeddings te on te.track_id = t.id and te.embedding_kind = 'document'
                         and te.model_name = $2 and te.model_version = $3
                  where t.id = any($1) and (tc.content_hash is null or te.content_hash is distinct from tc.content_hash)";

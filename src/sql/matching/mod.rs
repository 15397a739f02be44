//! DB-first artifacts, playlist profiles, match_playlist and the match cache.
//!
//! Every artifact is read from its table first, keyed by track/playlist id, model id and version
//! and the content hash of what it was computed from; only a miss runs a model, and the result
//! is upserted. Counters go to `songmatch.stats`.
//!
//! One concern per file:
//! * [`api`]: the `#[pg_extern]` functions only: arguments checked and converted, the work
//!   called, errors mapped to SQLSTATEs.
//! * [`counters`]: the counter deltas of a call (`songmatch.stats`).
//! * [`schema_facts`]: what the installed schema and deployment support (columns added by an
//!   update, Citus), asked once per backend.
//! * [`reads`] / [`writes`]: every SQL text of the match path (named constants), the rows a
//!   match reads (tracks, playlists, content hashes, stored results, the active config) and the
//!   statements that write.
//! * [`artifacts`]: the DB-first loop of track artifacts (embeddings, emotions).
//! * [`profile`]: persisted playlist profiles.
//! * [`candidates`]: a match's candidates: chosen, screened by stage 1's bound, their signals
//!   and embeddings read.
//! * [`rank`]: stage 2's side of the core's data port (crate::core::pipeline::RankPort): the
//!   learned ranker and text reranker through the inference layer, the rows they read.
//! * [`cache`]: the match cache's fast path (a call's stamp) and the full path on a miss.
//! * [`pipeline`]: the match path's side of the port (crate::core::pipeline::MatchPort): one
//!   playlist's match over chosen candidates, run by the core's pipeline (the context identity,
//!   then the cache or the ranking, and the stored results).
//! * [`discovery`]: `recommend_for_playlist`'s candidates from the whole catalogue (the feature
//!   store's screen or scan, or pgvector's HNSW index).
//! * [`songs`]: `match_songs_to_playlists`: the best of a user's playlists for each song.
//! * [`offline`]: the evaluation's read-only scoring (`score_tracks`, `ranker_features`).

#[cfg(any(test, feature = "pg_test"))]
use pgrx::prelude::*;

pub mod api;
pub mod artifacts;
pub mod cache;
pub mod candidates;
pub mod counters;
pub mod discovery;
pub mod offline;
pub mod pipeline;
pub mod profile;
pub mod rank;
pub mod reads;
pub mod schema_facts;
pub mod songs;
pub mod writes;

pub use counters::Counters;

/// The settings of a match's queries (restored after it, see plans::with_settings): no JIT (it
/// would compile songmatch's queries for ~150 ms, which run in a few).
const MATCH_SETTINGS: &[(&str, Option<&str>)] = &[("jit", Some("off"))];

/// The setting of the reads of the candidates by their ids: a generic plan (a custom plan for an
/// array of 100k ids spends ~50 ms estimating each id, and comes to the same index scan). Only
/// there (see CUSTOM_PLAN).
const GENERIC_PLAN: &[(&str, Option<&str>)] = &[("plan_cache_mode", Some("force_generic_plan"))];

/// The setting of a query whose generic plan is a trap: the catalogue neighbours' (`order by id
/// limit $2` over the members' artists and albums) walks every track in id order once PostgreSQL's
/// plan cache switches to it after five calls: 200 ms instead of 3.
const CUSTOM_PLAN: &[(&str, Option<&str>)] = &[("plan_cache_mode", Some("force_custom_plan"))];

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use super::schema_facts::SchemaFacts;
    use pgrx::prelude::*;

    fn stat(name: &str) -> f64 {
        Spi::get_one_with_args::<f64>("select songmatch.stat($1)", &[name.into()]).unwrap().unwrap_or(0.0)
    }

    /// A writer stores only what it computed from the committed document: a track row read
    /// before a document change (here: an analysis that differs from the committed one), as a
    /// match or a refresher may hold while another session commits the change and stores its
    /// artifacts, is not stored over them. A refresher's item is then deferred (its stale mark
    /// stays), a match uses the value; the same for a playlist profile computed from members
    /// that changed since they were read.
    #[pg_test]
    fn an_artifact_of_an_outdated_read_is_not_stored() {
        use super::artifacts::{ensure_embeddings_for, Artifact, Need};
        use super::reads::{load_playlist, load_tracks};
        use super::Counters;
        Spi::run(
            "insert into songmatch.tracks (external_id, name, artist, album, release_date, popularity)
             select 'o' || g, 'Outdated song ' || g, 'Artist ' || g, 'Album', '2001', 40 from generate_series(1, 3) g;
             insert into songmatch.track_analyses (track_id, analysis)
             select id, jsonb_build_object('summary', 'A song about rain, number ' || id) from songmatch.tracks;
             insert into songmatch.playlists (external_id, owner_id, name)
             values ('outdated', '00000000-0000-4000-8000-0000000000cc', 'Outdated test');
             insert into songmatch.playlist_tracks (playlist_id, track_id)
             select (select id from songmatch.playlists where external_id = 'outdated'), id from songmatch.tracks;
             select songmatch.register_bundle('default', activate => true);",
        )
        .unwrap();
        let bundle = crate::sql::bundle::active_bundle().unwrap();
        let id = Spi::get_one::<i64>("select id from songmatch.tracks where external_id = 'o1'").unwrap().unwrap();
        let stored = || {
            Spi::get_one_with_args::<i64>("select count(*) from songmatch.track_embeddings where track_id = $1", &[id.into()])
                .unwrap()
                .unwrap()
        };
        let mut old = load_tracks(&[id]).unwrap();
        old[0].analysis = serde_json::json!({"summary": "What the track said before its analysis was rewritten"});
        for (need, deferred) in [(Need::Stored, true), (Need::Values, false)] {
            let mut counters = Counters::default();
            let got = ensure_embeddings_for(&old, &bundle.embedding, need, SchemaFacts::read().unwrap(), &mut counters).unwrap();
            assert_eq!(matches!(got[0].1, Artifact::Deferred), deferred, "{need:?}: {:?}", got[0].1);
            assert_eq!(matches!(got[0].1, Artifact::Computed(_)), !deferred, "{need:?}");
            assert_eq!(counters.get("artifact_writes_outdated"), 1.0, "{need:?}");
            assert_eq!(stored(), 0, "{need:?}: an embedding of an outdated document was stored");
        }
        let mut counters = Counters::default();
        let got = ensure_embeddings_for(
            &load_tracks(&[id]).unwrap(),
            &bundle.embedding,
            Need::Stored,
            SchemaFacts::read().unwrap(),
            &mut counters,
        )
        .unwrap();
        assert!(matches!(got[0].1, Artifact::Computed(_)), "{:?}", got[0].1);
        assert_eq!(counters.get("artifact_writes_outdated"), 0.0);
        let current = Spi::get_one_with_args::<bool>(
            "select e.content_hash = tc.document_hash from songmatch.track_embeddings e
               join songmatch.track_content tc using (track_id) where e.track_id = $1",
            &[id.into()],
        )
        .unwrap();
        assert_eq!(current, Some(true), "the committed document's embedding is stored");

        // a profile computed from a member list read before a member was removed
        let pid = Spi::get_one::<i64>("select id from songmatch.playlists where external_id = 'outdated'").unwrap().unwrap();
        let profiles = || {
            Spi::get_one_with_args::<i64>("select count(*) from songmatch.playlist_profiles where playlist_id = $1", &[pid.into()])
                .unwrap()
                .unwrap()
        };
        let mut p = load_playlist(pid, None, SchemaFacts::read().unwrap()).unwrap();
        p.members.push(id + 100);
        p.member_hashes.push(Some("te_v1_gone".into()));
        let mut counters = Counters::default();
        let prof = super::profile::playlist_profile(&p, &bundle, &mut counters).unwrap();
        assert!(prof.recomputed && prof.deferred, "computed from outdated members: not stored");
        assert_eq!(counters.get("artifact_writes_outdated"), 1.0);
        assert_eq!(profiles(), 0);
        let prof =
            super::profile::playlist_profile(&load_playlist(pid, None, SchemaFacts::read().unwrap()).unwrap(), &bundle, &mut counters)
                .unwrap();
        assert!(prof.recomputed && !prof.deferred);
        assert_eq!(profiles(), 1);
        let info = Spi::get_one_with_args::<pgrx::JsonB>("select songmatch.playlist_profile($1)", &[pid.into()]).unwrap().unwrap().0;
        assert_eq!(info["recomputed"], false, "{info}");
    }

    /// The fixture bundle has an emotion model and a reranker: stage 2 runs and blends by the
    /// documented formula, emotions are persisted once, and changing the active bundle makes a
    /// new context.
    /// No signal reads the scored playlist's stored membership beyond the members it is given:
    /// adding a held-out candidate to the playlist's stored tracks changes nothing of its
    /// score_tracks score (the evaluation holds tracks out exactly there); the default bundle runs
    /// its learned ranker and shows its features.
    #[pg_test]
    fn score_tracks_does_not_leak_stored_membership() {
        Spi::run(
            "insert into songmatch.tracks (external_id, name, artist, album, release_date, popularity)
             select 'l' || g, 'Leak song ' || g, 'Artist ' || (g % 4), 'Album ' || (g % 5), (1990 + g)::text, 10 + g
               from generate_series(1, 16) g;
             insert into songmatch.track_analyses (track_id, analysis)
             select id, jsonb_build_object('audio', jsonb_build_object('energy', (id % 7) / 7.0, 'tempo', 80 + id % 40))
               from songmatch.tracks;
             insert into songmatch.playlists (external_id, owner_id, name)
             values ('leak', '00000000-0000-4000-8000-0000000000bb', 'Leak test');
             insert into songmatch.playlist_tracks (playlist_id, track_id)
             select (select id from songmatch.playlists where external_id = 'leak'), id from songmatch.tracks
              where external_id in ('l1', 'l2', 'l3', 'l4', 'l5', 'l6');",
        )
        .unwrap();
        Spi::run("select songmatch.register_bundle('default', activate => true)").unwrap();
        let q = "select string_agg(s.track_id || ':' || s.score, ',' order by s.track_id)
                   from songmatch.score_tracks(
                        array(select id from songmatch.tracks where external_id in ('l1', 'l2', 'l3', 'l4', 'l5', 'l6')),
                        array(select id from songmatch.tracks where external_id in ('l7', 'l8', 'l9', 'l10', 'l11', 'l12')),
                        (select id from songmatch.playlists where external_id = 'leak')) s";
        let before = Spi::get_one::<String>(q).unwrap().unwrap();
        Spi::run(
            "insert into songmatch.playlist_tracks (playlist_id, track_id)
             select (select id from songmatch.playlists where external_id = 'leak'), id from songmatch.tracks
              where external_id in ('l7', 'l8')",
        )
        .unwrap();
        assert_eq!(Spi::get_one::<String>(q).unwrap().unwrap(), before);
        // the default bundle's stage 2: the ranker scored every candidate; its features are in
        // components when config.explain asks for them, and equal songmatch.ranker_features
        let ranked = Spi::get_one::<bool>(
            "select bool_and(s.components -> 'ranker' ? 'score' and not s.components -> 'ranker' ? 'features'
                             and s.components -> 'stage2' ->> 'ranker' is not null)
               from songmatch.score_tracks(array(select id from songmatch.tracks where external_id in ('l1', 'l2')),
                                          array(select id from songmatch.tracks where external_id in ('l3', 'l4'))) s",
        )
        .unwrap()
        .unwrap();
        assert!(ranked, "the ranker's contribution is in components, without its features");
        let explained = Spi::get_one::<bool>(
            "with m as (select array(select id from songmatch.tracks where external_id in ('l1', 'l2')) ids),
                  c as (select array(select id from songmatch.tracks where external_id in ('l3', 'l4')) ids)
             select bool_and(s.score = p.score
                             and abs((s.components -> 'ranker' -> 'features' ->> 'artist_share')::float8
                                     - f.features[array_position(songmatch.ranker_feature_names(), 'artist_share')]) < 1e-5)
               from m, c,
                    songmatch.score_tracks(m.ids, c.ids, config => '{\"explain\": true}') s
               join songmatch.score_tracks(m.ids, c.ids) p using (track_id)
               join songmatch.ranker_features(m.ids, c.ids) f using (track_id)",
        )
        .unwrap()
        .unwrap();
        assert!(explained, "config.explain adds the ranker's features (those of ranker_features) and changes no score");
    }

    /// A fresh install has every fact of this release, read in one catalogue query.
    #[pg_test]
    fn a_fresh_schema_has_every_fact() {
        assert_eq!(SchemaFacts::read().unwrap(), SchemaFacts::CURRENT);
    }

    /// The library's row-content expression (`reads::row_content!`, for schemas of every release)
    /// is the schema's `songmatch.row_content` function, on tracks and on playlists.
    #[pg_test]
    fn row_content_is_the_schemas() {
        Spi::run(
            "insert into songmatch.tracks (external_id, name, artist, album, release_date, popularity, duration_ms)
             values ('rc1', 'Song \"one\"', 'Artist', null, '1999-02', 40, 1000), ('rc2', 'Two', 'B', 'Album', null, null, null);
             insert into songmatch.playlists (external_id, owner_id, name, description)
             values ('rc', '00000000-0000-4000-8000-0000000000cd', 'Row content', null);",
        )
        .unwrap();
        let (t, p) = (super::reads::row_content!("t"), super::reads::row_content!("p"));
        let same = Spi::get_one::<String>(&format!(
            "select (select count(*) filter (where songmatch.row_content(t) = {t}) || '/' || count(*)
                       from songmatch.tracks t where t.external_id like 'rc%')
                    || ' ' || (select count(*) filter (where songmatch.row_content(p) = {p}) || '/' || count(*)
                                 from songmatch.playlists p where p.external_id = 'rc')
                    || ' ' || (select songmatch.row_content(t) ? 'popularity' and not songmatch.row_content(t) ?| array['id', 'created_at', 'updated_at']
                                 from songmatch.tracks t where t.external_id = 'rc1')"
        ))
        .unwrap();
        assert_eq!(same.as_deref(), Some("2/2 1/1 true"));
    }

    /// Stage 1 reads the compact signals the trigger stores; a track whose stored signals are
    /// missing or of another version is read from its row, with the same results.
    #[pg_test]
    fn stored_signals_equal_the_rows_and_recommend_uses_the_index() {
        Spi::run(
            "insert into songmatch.tracks (external_id, name, artist, album, release_date, popularity)
             select 's' || g, 'Signal song ' || g, case when g % 3 = 0 then 'Artist A feat. Artist B' else 'Artist ' || (g % 4) end,
                    'Album ' || (g % 5), (1990 + g)::text, 10 + g
               from generate_series(1, 24) g;
             insert into songmatch.track_analyses (track_id, analysis)
             select id, jsonb_build_object('audio', jsonb_build_object('energy', (id % 7) / 7.0, 'tempo', 80 + id % 40),
                                           'genres', jsonb_build_object('primary', case when id % 2 = 0 then 'Rock' else 'Jazz' end))
               from songmatch.tracks where external_id like 's%';
             insert into songmatch.playlists (external_id, owner_id, name, description)
             values ('sig', '00000000-0000-4000-8000-0000000000cc', 'Signals', 'Rock songs by artist A');
             insert into songmatch.playlist_tracks (playlist_id, track_id)
             select (select id from songmatch.playlists where external_id = 'sig'), id from songmatch.tracks
              where external_id in ('s2', 's3', 's4', 's6');
             insert into songmatch.liked_tracks (user_id, track_id)
             select '00000000-0000-4000-8000-0000000000cc', id from songmatch.tracks where external_id in ('s8', 's9', 's10', 's12');",
        )
        .unwrap();
        Spi::run("select songmatch.register_bundle('default', activate => true)").unwrap();
        // the trigger stored signals equal to the row's
        let t = super::reads::row_content!("t");
        let same = Spi::get_one::<bool>(&format!(
            "select bool_and(tc.signals = songmatch.track_signals({t}, a.analysis)) and count(*) = 24
               from songmatch.track_content tc join songmatch.tracks t on t.id = tc.track_id
               left join songmatch.track_analyses a on a.track_id = t.id where t.external_id like 's%'"
        ))
        .unwrap();
        assert_eq!(same, Some(true));
        let q = "select string_agg(m.track_id || ':' || m.score || ':' || (m.components ->> 'stage1') || ':' || (m.components -> 'artist' ->> 'value')
                                   || ':' || (m.components -> 'genre' ->> 'value') || ':' || (m.components -> 'audio' ->> 'value'), ',' order by m.rank)
                   from songmatch.match_playlist((select id from songmatch.playlists where external_id = 'sig'),
                        array(select id from songmatch.tracks where external_id like 's%' and external_id not in ('s2', 's3', 's4', 's6')),
                        top_k => 10, config => $1::jsonb) m";
        let with_signals = Spi::get_one_with_args::<String>(q, &[r#"{"weights": {"centroid": 0.01}}"#.into()]).unwrap().unwrap();
        // missing and foreign-version signals: read from the rows (another config: a cache miss)
        Spi::run(
            "update songmatch.track_content set signals = null where track_id % 2 = 0;
             update songmatch.track_content set signals = '\\x00' where track_id % 2 = 1;",
        )
        .unwrap();
        let from_rows = Spi::get_one_with_args::<String>(q, &[r#"{"weights": {"centroid": 0.010000001}}"#.into()]).unwrap().unwrap();
        assert_eq!(with_signals, from_rows);
        assert_eq!(with_signals.split(',').count(), 10);
        // an edit of the analysis re-derives the signals
        Spi::run("update songmatch.track_analyses set analysis = '{\"genres\": \"Metal\"}' where track_id = (select id from songmatch.tracks where external_id = 's1')").unwrap();
        let ok = Spi::get_one::<bool>(&format!(
            "select tc.signals = songmatch.track_signals({t}, '{{\"genres\": \"Metal\"}}')
               from songmatch.track_content tc join songmatch.tracks t on t.id = tc.track_id where t.external_id = 's1'"
        ))
        .unwrap();
        assert_eq!(ok, Some(true));

        // discovery: every embedded track but the members is a candidate; the index is named
        let pid = "(select id from songmatch.playlists where external_id = 'sig')";
        let rec = Spi::get_one::<pgrx::JsonB>(&format!(
            "select jsonb_build_object('n', count(*), 'members', count(*) filter (where track_id in (select track_id from songmatch.playlist_tracks where playlist_id = {pid})),
                    'index', min(components -> 'discovery' ->> 'index'), 'candidates', min((components -> 'discovery' ->> 'candidates')::int),
                    'ordered', bool_and(rank between 1 and 8))
               from songmatch.recommend_for_playlist({pid}, top_k => 8)"
        ))
        .unwrap()
        .unwrap()
        .0;
        assert_eq!(rec["n"], 8, "{rec}");
        assert_eq!(rec["members"], 0, "{rec}");
        assert_eq!(rec["candidates"], 20, "{rec}");
        assert!(rec["index"].as_str().is_some_and(|i| i.starts_with("songmatch.track_embeddings_hnsw_")), "{rec}");
        // the same call again: the cache, no inference
        Spi::run("select songmatch.stats_reset()").unwrap();
        Spi::run(&format!("select count(*) from songmatch.recommend_for_playlist({pid}, top_k => 8)")).unwrap();
        assert_eq!(stat("context_hits"), 1.0);
        assert_eq!(
            Spi::get_one::<f64>(
                "select coalesce(sum(value), 0) from songmatch.stats where name like 'inferences:%' and name not like '%ranker%'"
            )
            .unwrap(),
            Some(0.0)
        );
        // exclude_liked drops the owner's liked tracks
        let liked = Spi::get_one::<i64>(&format!(
            "select count(*) from songmatch.recommend_for_playlist({pid}, top_k => 30, exclude_liked => true)
              where track_id in (select track_id from songmatch.liked_tracks)"
        ))
        .unwrap();
        assert_eq!(liked, Some(0));
    }

    #[pg_test]
    fn fixture_bundle_two_stages_emotions_and_bundle_change() {
        crate::sql::testing::use_fixtures();
        Spi::run(
            "insert into songmatch.tracks (external_id, name, artist)
             select 't' || g, 'Song ' || g, 'Artist ' || (g % 3) from generate_series(1, 12) g;
             insert into songmatch.track_analyses (track_id, analysis)
             select id, jsonb_build_object('moods', jsonb_build_array(case when id % 2 = 0 then 'happy' else 'sad' end),
                                           'audio', jsonb_build_object('energy', (id % 5) / 5.0, 'tempo', 90 + id))
               from songmatch.tracks;
             insert into songmatch.playlists (external_id, owner_id, name, description)
             values ('p', '00000000-0000-4000-8000-0000000000aa', 'Happy songs', 'Only the happiest');
             insert into songmatch.playlist_tracks (playlist_id, track_id)
             select (select id from songmatch.playlists), id from songmatch.tracks where external_id in ('t2', 't4', 't6');
             insert into songmatch.liked_tracks (user_id, track_id)
             select '00000000-0000-4000-8000-0000000000aa', id from songmatch.tracks where external_id not in ('t2', 't4', 't6');",
        )
        .unwrap();
        let h = Spi::get_one::<String>("select songmatch.register_bundle('fixture', activate => true)").unwrap().unwrap();
        assert!(h.starts_with("mb_v1_"));
        Spi::run("select songmatch.stats_reset()").unwrap();
        let cfg = r#"{"weights": {"emotion": 0.2}, "rerank_top_n": 4, "rerank_weight": 0.5}"#;
        let q = format!(
            "select count(*)::int from songmatch.match_playlist((select id from songmatch.playlists), top_k => 9, config => '{cfg}')"
        );
        assert_eq!(Spi::get_one::<i32>(&q).unwrap(), Some(9));
        // stage 2: the top 4 carry a rerank score and score = 0.5 stage1 + 0.5 rerank; the rest 0.5 stage1
        let ok = Spi::get_one_with_args::<bool>(
            "select bool_and(case when jsonb_typeof(m.components -> 'stage2') = 'object'
                                  then abs(m.score - (0.5 * (m.components ->> 'stage1')::float8
                                                      + 0.5 * (m.components -> 'stage2' ->> 'rerank')::float8)) < 1e-5
                                  else abs(m.score - 0.5 * (m.components ->> 'stage1')::float8) < 1e-5 end)
                      and count(*) filter (where jsonb_typeof(m.components -> 'stage2') = 'object') = 4
                      and bool_and(m.components ? 'emotion')
               from songmatch.match_playlist((select id from songmatch.playlists), top_k => 9, config => $1::jsonb) m",
            &[cfg.into()],
        )
        .unwrap()
        .unwrap();
        assert!(ok, "stage-2 blend and emotion components");
        assert_eq!(stat("rerank_calls"), 1.0);
        assert_eq!(stat("inferences:fixture-qwen3-reranker"), 4.0);
        // emotions persisted once per track: 3 members + 9 candidates
        assert_eq!(Spi::get_one::<i64>("select count(*) from songmatch.track_emotions").unwrap(), Some(12));
        assert_eq!(stat("inferences:fixture-roberta-goemotions"), 12.0);
        // a second identical call: cache hit, no inference of any model
        let before: f64 =
            Spi::get_one::<f64>("select coalesce(sum(value), 0) from songmatch.stats where name like 'inferences:%'").unwrap().unwrap();
        assert_eq!(Spi::get_one::<i32>(&q).unwrap(), Some(9));
        let after: f64 =
            Spi::get_one::<f64>("select coalesce(sum(value), 0) from songmatch.stats where name like 'inferences:%'").unwrap().unwrap();
        assert_eq!(before, after);
        assert!(stat("context_hits") >= 1.0);
        // another active bundle (same models, registered under another name) is a new context
        let contexts = Spi::get_one::<i64>("select count(*) from songmatch.match_contexts").unwrap().unwrap();
        Spi::run(
            "update songmatch.model_bundles set is_active = false;
             insert into songmatch.model_bundles (bundle_hash, name, embedding_model, embedding_model_version,
                 emotion_model, emotion_model_version, reranker_model, reranker_model_version, algorithm_version, is_active)
             select 'mb_v1_' || repeat('f', 64), 'fixture-copy', embedding_model, embedding_model_version, emotion_model,
                    emotion_model_version, null, null, algorithm_version, true
               from songmatch.model_bundles where name = 'fixture'",
        )
        .unwrap();
        assert_eq!(Spi::get_one::<i32>(&q).unwrap(), Some(9));
        assert_eq!(Spi::get_one::<i64>("select count(*) from songmatch.match_contexts").unwrap(), Some(contexts + 1));
        // no reranker in that bundle: stage 2 is skipped and says so
        let s = Spi::get_one::<String>(&format!(
            "select min(components ->> 'stage2') from songmatch.match_playlist((select id from songmatch.playlists), top_k => 9, config => '{cfg}')"
        ))
        .unwrap()
        .unwrap();
        assert_eq!(s, "skipped: bundle \"fixture-copy\" has no ranker or reranker");
        Spi::run("reset songmatch.model_dir").unwrap();
        Spi::run("select songmatch.reload_models()").unwrap();
    }

    /// The evaluation scores as users are served: `score_tracks` over a playlist's members and
    /// candidates gives `match_playlist`'s rows, components included (one `PlaylistSignals`
    /// builder and one ranking, the core's, for both).
    #[pg_test]
    fn score_tracks_ranks_as_match_playlist() {
        Spi::run(
            "insert into songmatch.tracks (external_id, name, artist, album, release_date, popularity)
             select 's' || g, 'Same song ' || g, 'Artist ' || (g % 5), 'Album ' || (g % 7), (1980 + g)::text, 5 + 3 * g
               from generate_series(1, 30) g;
             insert into songmatch.track_analyses (track_id, analysis)
             select id, jsonb_build_object('summary', 'A song about ' || (array['rain', 'roads', 'summer'])[1 + id % 3],
                                           'genres', jsonb_build_array((array['Rock', 'Jazz', 'Pop', 'Folk'])[1 + id % 4]),
                                           'audio', jsonb_build_object('energy', (id % 9) / 9.0, 'valence', (id % 5) / 5.0,
                                                                       'tempo', 70 + id % 60))
               from songmatch.tracks;
             insert into songmatch.playlists (external_id, owner_id, name, description)
             values ('same', '00000000-0000-4000-8000-0000000000dd', 'Same test', 'songs for long roads');
             insert into songmatch.playlist_tracks (playlist_id, track_id)
             select (select id from songmatch.playlists where external_id = 'same'), id from songmatch.tracks
              where external_id in ('s1', 's4', 's9', 's12', 's20', 's27');
             select songmatch.register_bundle('default', activate => true);",
        )
        .unwrap();
        let rows = |f: &str| {
            Spi::get_one::<pgrx::JsonB>(&format!(
                "with p as (select id from songmatch.playlists where external_id = 'same'),
                      m as (select array(select track_id from songmatch.playlist_tracks, p where playlist_id = p.id order by track_id) ids),
                      c as (select array(select t.id from songmatch.tracks t, m where t.id <> all (m.ids) order by t.id) ids)
                 select jsonb_agg(jsonb_build_array(r.track_id, r.score, r.rank, r.components) order by r.rank)
                   from p, m, c, {f} r"
            ))
            .unwrap()
            .unwrap()
            .0
        };
        let served = rows("songmatch.match_playlist(p.id, c.ids, 10)");
        let scored = rows("songmatch.score_tracks(m.ids, c.ids, p.id, 10)");
        assert_eq!(served.as_array().map(Vec::len), Some(10), "{served}");
        assert_eq!(served, scored);
        // and with stage 1 alone (the weights of the production config, no ranker)
        let cfg = "'{\"ranker_weight\": 0}'";
        let served = rows(&format!("songmatch.match_playlist(p.id, c.ids, 24, {cfg})"));
        assert_eq!(served.as_array().map(Vec::len), Some(24));
        assert_eq!(served, rows(&format!("songmatch.score_tracks(m.ids, c.ids, p.id, 24, {cfg})")));
    }
}

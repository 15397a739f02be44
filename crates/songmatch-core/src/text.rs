//! Canonical texts (EXTRACTOR_VERSION 1): a track is a *document*, a playlist is a *query*.
//!
//! A track document has three sections, each line present only when its data is:
//!
//! ```text
//! {name} by {artist}                      ┐
//! Album: {album} ({year})                 │ metadata
//! Genres: {primary}, {secondary…}         ┐
//! Moods: {moods…}                         │
//! Themes: {themes…}                       │ analysis
//! Sound: {tempo word} ({tempo} BPM), …    │
//! {summary}                               ┘
//! Context: {key}: {value}; …              ] context
//! ```
//!
//! A playlist query is `{name}`, `{description}`, then Genres / Moods / Themes / summary lines
//! from the playlist analysis. Unknown fields are ignored; known fields of the wrong type are
//! a data error naming the field, so a malformed analysis never yields a silently wrong text.

use crate::error::{Error, Result};
use crate::hash::{content_hash, ContentKind};
use serde_json::{json, Map, Value};

fn as_object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| Error::data(format!("{what} must be a JSON object, got {}", type_name(v))))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// An optional string field; numbers are accepted and written as JSON writes them.
fn opt_str(obj: &Map<String, Value>, key: &str, what: &str) -> Result<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let t = collapse_ws(s);
            Ok(if t.is_empty() { None } else { Some(t) })
        }
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(Error::data(format!("{what}.{key} must be a string, got {}", type_name(other)))),
    }
}

/// An optional list of strings; a single string counts as a list of one.
fn opt_list(obj: &Map<String, Value>, key: &str, what: &str) -> Result<Vec<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::String(s)) => Ok(non_empty(vec![collapse_ws(s)])),
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => out.push(collapse_ws(s)),
                    other => return Err(Error::data(format!("{what}.{key}[{i}] must be a string, got {}", type_name(other)))),
                }
            }
            Ok(non_empty(out))
        }
        Some(other) => Err(Error::data(format!("{what}.{key} must be an array of strings, got {}", type_name(other)))),
    }
}

fn opt_num(obj: &Map<String, Value>, key: &str, what: &str) -> Result<Option<f64>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(Error::data(format!("{what}.{key} must be a number, got {}", type_name(other)))),
    }
}

fn non_empty(v: Vec<String>) -> Vec<String> {
    v.into_iter().filter(|s| !s.is_empty()).collect()
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Genres as `primary, secondary…` from `{"primary": …, "secondary": […]}`, a list, or a string.
fn genres(analysis: &Map<String, Value>, what: &str) -> Result<Vec<String>> {
    match analysis.get("genres") {
        Some(Value::Object(g)) => {
            let what = format!("{what}.genres");
            let mut out = Vec::new();
            if let Some(p) = opt_str(g, "primary", &what)? {
                out.push(p);
            }
            for s in opt_list(g, "secondary", &what)? {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
            Ok(out)
        }
        _ => opt_list(analysis, "genres", what),
    }
}

fn year_of(release_date: &str) -> Option<&str> {
    let y = release_date.get(0..4)?;
    y.chars().all(|c| c.is_ascii_digit()).then_some(y)
}

/// Words for Spotify-style audio features, so that a text model can read them.
fn sound_line(audio: &Map<String, Value>) -> Result<Option<String>> {
    let what = "analysis.audio";
    let mut parts: Vec<String> = Vec::new();
    if let Some(t) = opt_num(audio, "tempo", what)? {
        let word = if t < 90.0 {
            "slow"
        } else if t < 120.0 {
            "mid-tempo"
        } else {
            "fast"
        };
        parts.push(format!("{word} ({} BPM)", t.round() as i64));
    }
    if let Some(e) = opt_num(audio, "energy", what)? {
        parts.push(
            (if e < 0.35 {
                "low energy"
            } else if e < 0.65 {
                "medium energy"
            } else {
                "high energy"
            })
            .into(),
        );
    }
    if let Some(v) = opt_num(audio, "valence", what)? {
        parts.push(
            (if v < 0.35 {
                "dark, sad"
            } else if v < 0.65 {
                "bittersweet"
            } else {
                "bright, happy"
            })
            .into(),
        );
    }
    if let Some(d) = opt_num(audio, "danceability", what)? {
        if d >= 0.7 {
            parts.push("danceable".into());
        }
    }
    if let Some(a) = opt_num(audio, "acousticness", what)? {
        if a >= 0.6 {
            parts.push("acoustic".into());
        } else if a < 0.1 {
            parts.push("electronic production".into());
        }
    }
    if let Some(i) = opt_num(audio, "instrumentalness", what)? {
        if i >= 0.5 {
            parts.push("instrumental".into());
        }
    }
    if let Some(s) = opt_num(audio, "speechiness", what)? {
        if s >= 0.33 {
            parts.push("spoken or rapped vocals".into());
        }
    }
    if let Some(l) = opt_num(audio, "liveness", what)? {
        if l >= 0.8 {
            parts.push("live recording".into());
        }
    }
    Ok(if parts.is_empty() { None } else { Some(format!("Sound: {}", parts.join(", "))) })
}

fn analysis_lines(analysis: &Value, what: &str, with_sound: bool, out: &mut Vec<String>) -> Result<()> {
    if analysis.is_null() {
        return Ok(());
    }
    let a = as_object(analysis, what)?;
    let g = genres(a, what)?;
    if !g.is_empty() {
        out.push(format!("Genres: {}", g.join(", ")));
    }
    let moods = opt_list(a, "moods", what)?;
    if !moods.is_empty() {
        out.push(format!("Moods: {}", moods.join(", ")));
    }
    let themes = opt_list(a, "themes", what)?;
    if !themes.is_empty() {
        out.push(format!("Themes: {}", themes.join(", ")));
    }
    if with_sound {
        match a.get("audio") {
            None | Some(Value::Null) => {}
            Some(audio) => {
                if let Some(line) = sound_line(as_object(audio, "analysis.audio")?)? {
                    out.push(line);
                }
            }
        }
    }
    if let Some(s) = opt_str(a, "summary", what)? {
        out.push(s);
    }
    Ok(())
}

/// The canonical document text of a track.
pub fn track_document(track: &Value, analysis: &Value, context: &Value) -> Result<String> {
    let t = as_object(track, "track")?;
    let name = opt_str(t, "name", "track")?.ok_or_else(|| Error::data("track.name is required and must be a non-empty string"))?;
    let mut lines = Vec::new();
    match opt_str(t, "artist", "track")? {
        Some(artist) => lines.push(format!("{name} by {artist}")),
        None => lines.push(name),
    }
    let album = opt_str(t, "album", "track")?;
    let year = opt_str(t, "release_date", "track")?.and_then(|d| year_of(&d).map(str::to_string));
    match (album, year) {
        (Some(a), Some(y)) => lines.push(format!("Album: {a} ({y})")),
        (Some(a), None) => lines.push(format!("Album: {a}")),
        (None, Some(y)) => lines.push(format!("Released: {y}")),
        (None, None) => {}
    }
    analysis_lines(analysis, "analysis", true, &mut lines)?;
    context_line(context, &mut lines)?;
    Ok(lines.join("\n"))
}

fn context_line(context: &Value, out: &mut Vec<String>) -> Result<()> {
    if context.is_null() {
        return Ok(());
    }
    let c = as_object(context, "context")?;
    let mut keys: Vec<&String> = c.keys().collect();
    keys.sort();
    let mut parts = Vec::new();
    for k in keys {
        let v = match &c[k] {
            Value::Null => continue,
            Value::String(s) => collapse_ws(s),
            Value::Array(_) => opt_list(c, k, "context")?.join(", "),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Object(_) => return Err(Error::data(format!("context.{k} must be a string, number or list, got object"))),
        };
        if !v.is_empty() {
            parts.push(format!("{k}: {v}"));
        }
    }
    if !parts.is_empty() {
        out.push(format!("Context: {}", parts.join("; ")));
    }
    Ok(())
}

/// The canonical query text of a playlist.
pub fn playlist_query(playlist: &Value, analysis: &Value) -> Result<String> {
    let p = as_object(playlist, "playlist")?;
    let name = opt_str(p, "name", "playlist")?.ok_or_else(|| Error::data("playlist.name is required and must be a non-empty string"))?;
    let mut lines = vec![name];
    if let Some(d) = opt_str(p, "description", "playlist")? {
        lines.push(d);
    }
    analysis_lines(analysis, "playlist_analysis", false, &mut lines)?;
    Ok(lines.join("\n"))
}

/// The identity of what a model reads of a track: the `td_v1_` hash of its document text (and
/// so of the extractor version). An embedding, emotion or genre artifact computed from a document
/// stays current while this hash does: a change of a column the document does not show
/// (popularity, duration, a release date within the same year) changes the track's content hash
/// (stage 1 reads those) but not this one, and so costs no inference.
pub fn document_hash(document: &str) -> String {
    content_hash(ContentKind::Document, &json!({"document": document}))
}

/// [`document_hash`] of a track's document (an error where the document cannot be written).
pub fn track_document_hash(track: &Value, analysis: &Value) -> Result<String> {
    track_document(track, analysis, &Value::Null).map(|d| document_hash(&d))
}

/// The identity of a playlist's query text (what its profile's query embedding is computed from).
pub fn query_hash(query: &str) -> String {
    content_hash(ContentKind::Document, &json!({"query": query}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn track() -> Value {
        json!({"name": "Rain on Tin", "artist": "The Paper Boats", "album": "Gutters",
               "release_date": "2014-03-02", "popularity": 41})
    }

    fn analysis() -> Value {
        json!({"summary": "Soft fingerpicked guitar and a hushed voice.",
               "moods": ["melancholic", "calm"], "themes": ["rain", "memories"],
               "genres": {"primary": "indie folk", "secondary": ["acoustic", "indie folk"]},
               "language": "en",
               "audio": {"danceability": 0.41, "energy": 0.22, "valence": 0.30, "tempo": 92.4,
                         "acousticness": 0.88, "instrumentalness": 0.02, "speechiness": 0.04,
                         "liveness": 0.11, "loudness": -11.2, "key": 2, "mode": 1}})
    }

    #[test]
    fn document_hash_follows_the_text_only() {
        let h = track_document_hash(&track(), &analysis()).unwrap();
        assert!(h.starts_with("td_v1_") && h.len() == 6 + 64, "{h}");
        assert_eq!(h, document_hash(&track_document(&track(), &analysis(), &Value::Null).unwrap()));
        // columns the document does not show: the same identity
        let mut t = track();
        t["popularity"] = json!(97);
        t["duration_ms"] = json!(123_456);
        t["release_date"] = json!("2014-11-30");
        assert_eq!(track_document_hash(&t, &analysis()).unwrap(), h);
        // what the model reads: another identity
        t["name"] = json!("Rain on Tin (Live)");
        assert_ne!(track_document_hash(&t, &analysis()).unwrap(), h);
        let mut a = analysis();
        a["moods"] = json!(["calm"]);
        assert_ne!(track_document_hash(&track(), &a).unwrap(), h);
        // a document and a query of the same text are different inputs
        assert_ne!(document_hash("x"), query_hash("x"));
        // a malformed analysis has no document, so no identity
        assert!(track_document_hash(&track(), &json!({"moods": 3})).is_err());
    }

    #[test]
    fn full_track_document() {
        let doc = track_document(&track(), &analysis(), &json!({"liked": "2024"})).unwrap();
        assert_eq!(
            doc,
            "Rain on Tin by The Paper Boats\n\
             Album: Gutters (2014)\n\
             Genres: indie folk, acoustic\n\
             Moods: melancholic, calm\n\
             Themes: rain, memories\n\
             Sound: mid-tempo (92 BPM), low energy, dark, sad, acoustic\n\
             Soft fingerpicked guitar and a hushed voice.\n\
             Context: liked: 2024"
        );
    }

    #[test]
    fn metadata_only() {
        let doc = track_document(&json!({"name": "  Solo  ", "release_date": "1999"}), &Value::Null, &Value::Null).unwrap();
        assert_eq!(doc, "Solo\nReleased: 1999");
    }

    #[test]
    fn key_order_of_input_does_not_matter() {
        let a: Value = serde_json::from_str(&analysis().to_string()).unwrap();
        let mut m: Vec<(String, Value)> = a.as_object().unwrap().clone().into_iter().collect();
        m.reverse();
        let b = Value::Object(m.into_iter().collect());
        assert_eq!(track_document(&track(), &a, &Value::Null).unwrap(), track_document(&track(), &b, &Value::Null).unwrap());
    }

    #[test]
    fn bad_types_are_data_errors_naming_the_field() {
        let e = track_document(&track(), &json!({"moods": [1]}), &Value::Null).unwrap_err();
        assert_eq!(e.to_string(), "analysis.moods[0] must be a string, got number");
        assert_eq!(e.sqlstate(), "22000");
        let e = track_document(&track(), &json!({"audio": {"tempo": "fast"}}), &Value::Null).unwrap_err();
        assert_eq!(e.to_string(), "analysis.audio.tempo must be a number, got string");
        let e = track_document(&json!({"artist": "x"}), &Value::Null, &Value::Null).unwrap_err();
        assert_eq!(e.to_string(), "track.name is required and must be a non-empty string");
        let e = track_document(&json!([1]), &Value::Null, &Value::Null).unwrap_err();
        assert_eq!(e.to_string(), "track must be a JSON object, got array");
    }

    #[test]
    fn playlist_query_text() {
        let q = playlist_query(
            &json!({"name": "Rainy Day Acoustic", "description": "Quiet songs for grey afternoons"}),
            &json!({"moods": ["calm"], "genres": {"primary": "folk"}, "summary": "Gentle.", "audio": {"tempo": "ignored"}}),
        )
        .unwrap();
        assert_eq!(q, "Rainy Day Acoustic\nQuiet songs for grey afternoons\nGenres: folk\nMoods: calm\nGentle.");
    }
}

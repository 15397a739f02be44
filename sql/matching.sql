-- match_playlist, recommend_for_playlist and match_songs_to_playlists: the match contexts' stored rows.
--
-- songmatch.match_context / songmatch.recommend_context (Rust) find the context of a call in the
-- match cache, or compute and store its results on a miss, and return its id; these functions
-- return that context's rows of songmatch.match_results as stored (no conversion of the
-- components on the way out). They run with the caller's rights: the context functions read the
-- playlist under the caller's row-level security, and match_results is readable by API roles
-- under the same policies.

create function songmatch.match_playlist(
    playlist_id bigint,
    candidate_track_ids bigint[] default null,
    top_k integer default 20,
    config jsonb default null)
returns table (track_id bigint, score double precision, rank integer, components jsonb)
language plpgsql volatile
as $$
#variable_conflict use_column
declare
    ctx bigint := songmatch.match_context(playlist_id, candidate_track_ids, top_k, config);
begin
    return query
        select r.track_id, r.score, r.rank, r.components
          from songmatch.match_results r
         where r.context_id = ctx and r.playlist_id = match_playlist.playlist_id
         order by r.rank;
end
$$;
comment on function songmatch.match_playlist(bigint, bigint[], integer, jsonb) is
    'The best candidate tracks for a playlist (default: the owner''s liked tracks not in it), best first, with every signal in components; served from the match cache when the inputs are unchanged.';

-- The same for a playlist of user_id (another user's playlist does not exist for the call). It
-- names its user in every read, so a distributed deployment runs it on the node that holds the
-- user (songmatch.distribute(), README "Scaling out"); on one node it is match_playlist.
create function songmatch.match_playlist(
    user_id uuid,
    playlist_id bigint,
    candidate_track_ids bigint[] default null,
    top_k integer default 20,
    config jsonb default null)
returns table (track_id bigint, score double precision, rank integer, components jsonb)
language plpgsql volatile
as $$
#variable_conflict use_column
declare
    ctx bigint := songmatch.match_context(user_id, playlist_id, candidate_track_ids, top_k, config);
begin
    return query
        select r.track_id, r.score, r.rank, r.components
          from songmatch.match_results r
         where r.user_id = match_playlist.user_id and r.context_id = ctx and r.playlist_id = match_playlist.playlist_id
         order by r.rank;
end
$$;
comment on function songmatch.match_playlist(uuid, bigint, bigint[], integer, jsonb) is
    'match_playlist for a playlist of user_id, routed by the user on a distributed deployment.';

create function songmatch.recommend_for_playlist(
    playlist_id bigint,
    top_k integer default 20,
    config jsonb default null,
    exclude_liked boolean default false)
returns table (track_id bigint, score double precision, rank integer, components jsonb)
language plpgsql volatile
as $$
#variable_conflict use_column
declare
    ctx bigint := songmatch.recommend_context(playlist_id, top_k, config, exclude_liked);
begin
    return query
        select r.track_id, r.score, r.rank, r.components
          from songmatch.match_results r
         where r.context_id = ctx and r.playlist_id = recommend_for_playlist.playlist_id
         order by r.rank;
end
$$;
comment on function songmatch.recommend_for_playlist(bigint, integer, jsonb, boolean) is
    'Tracks of the whole catalogue that fit a playlist: nearest neighbours of its profile and members through the bundle''s vector index, ranked by stage 1 and stage 2 like match_playlist, cached the same way.';

create function songmatch.match_songs_to_playlists(
    user_id uuid,
    track_ids bigint[] default null,
    top_k integer default 3,
    config jsonb default null)
returns table (track_id bigint, playlist_id bigint, score double precision, rank integer, components jsonb)
language plpgsql volatile
as $$
#variable_conflict use_column
declare
    ctxs bigint[];
    pids bigint[];
begin
    -- (the contexts first, in a statement of their own: the rows a miss stores are visible to the next)
    select coalesce(array_agg(c.context_id order by c.playlist_id), '{}'), coalesce(array_agg(c.playlist_id order by c.playlist_id), '{}')
      into ctxs, pids
      from songmatch.match_songs_contexts(match_songs_to_playlists.user_id, match_songs_to_playlists.track_ids,
                                          match_songs_to_playlists.top_k, match_songs_to_playlists.config) c;
    return query
        select s.track_id, s.playlist_id, s.score, s.rank::integer, s.components
          from (select r.track_id, r.playlist_id, r.score, r.components,
                       pg_catalog.row_number() over (partition by r.track_id order by r.score desc, r.playlist_id) as rank
                  from unnest(ctxs, pids) as c(context_id, playlist_id)
                  join songmatch.match_results r
                    on r.user_id = match_songs_to_playlists.user_id and r.context_id = c.context_id
                   and r.playlist_id = c.playlist_id) s
         where s.rank <= match_songs_to_playlists.top_k
         order by s.track_id, s.rank;
end
$$;
comment on function songmatch.match_songs_to_playlists(uuid, bigint[], integer, jsonb) is
    'For each song (default: the user''s liked songs), its best playlists among the user''s own, best first; a playlist that already contains a song is not proposed for it. Served from the match cache when the inputs are unchanged.';

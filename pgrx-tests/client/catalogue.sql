-- A generated test catalogue (never real data): bf_generate_catalogue(n_tracks, n_playlists).
--   tracks 1..n with one analysis each (summary, moods, themes, genres, language, audio);
--   playlists 1..m (owners alternate between two users), one analysis each; playlist p holds
--   tracks (p-1)*20+1 .. (p-1)*20+10, and track 7 is also in playlists 5 and 9 (so track 7 is
--   in playlists 1, 5 and 9); user ...0001 likes every third track.
create or replace function public.bf_generate_catalogue(n_tracks integer default 300, n_playlists integer default 12)
returns void
language plpgsql
as $$
begin
    insert into songmatch.tracks (id, external_id, name, artist, album, release_date, popularity, duration_ms)
    select g, 'test:t' || g, 'Test Song ' || g, 'Test Artist ' || (g % 23), 'Test Album ' || (g % 41),
           (1970 + g % 50)::text, g % 101, 120000 + (g * 997) % 180000
      from generate_series(1, n_tracks) g;
    insert into songmatch.track_analyses (track_id, analysis)
    select g, jsonb_build_object(
               'summary', format('A generated test song number %s about %s.', g,
                                 (array['rain', 'roads', 'night', 'summer', 'the sea'])[1 + g % 5]),
               'moods', jsonb_build_array((array['calm', 'happy', 'melancholic', 'energetic', 'dreamy'])[1 + g % 5],
                                          (array['warm', 'dark', 'bright'])[1 + g % 3]),
               'themes', jsonb_build_array((array['love', 'travel', 'memories', 'city'])[1 + g % 4]),
               'genres', jsonb_build_object(
                   'primary', (array['folk', 'rock', 'jazz', 'electronic', 'pop', 'hip hop'])[1 + g % 6],
                   'secondary', jsonb_build_array((array['acoustic', 'indie', 'ambient', 'soul'])[1 + g % 4])),
               'language', 'en',
               'audio', jsonb_build_object('tempo', 70 + g % 90, 'energy', round((g % 10) / 10.0, 2),
                                           'valence', round(((g * 7) % 10) / 10.0, 2),
                                           'acousticness', round(((g * 3) % 10) / 10.0, 2)))
      from generate_series(1, n_tracks) g;
    insert into songmatch.playlists (id, external_id, owner_id, name, description)
    select p, 'test:p' || p, ('00000000-0000-4000-8000-00000000000' || (1 + p % 2))::uuid,
           'Test Playlist ' || p, 'Generated playlist number ' || p
      from generate_series(1, n_playlists) p;
    insert into songmatch.playlist_analyses (playlist_id, analysis)
    select p, jsonb_build_object(
               'summary', 'Songs for generated mood ' || p,
               'moods', jsonb_build_array((array['calm', 'happy', 'melancholic', 'energetic', 'dreamy'])[1 + p % 5]),
               'genres', jsonb_build_object('primary', (array['folk', 'rock', 'jazz', 'electronic', 'pop', 'hip hop'])[1 + p % 6]))
      from generate_series(1, n_playlists) p;
    insert into songmatch.playlist_tracks (playlist_id, track_id, position)
    select p, (p - 1) * 20 + k, k
      from generate_series(1, n_playlists) p, generate_series(1, 10) k
     where (p - 1) * 20 + k <= n_tracks
    union all
    select p, 7, 11 from unnest(array[5, 9]) p where p <= n_playlists and n_tracks >= 7;
    insert into songmatch.liked_tracks (user_id, track_id)
    select '00000000-0000-4000-8000-000000000001', g from generate_series(1, n_tracks, 3) g;
end
$$;

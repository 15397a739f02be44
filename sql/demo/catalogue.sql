-- songmatch demo catalogue
--
-- All content in this file (artists, titles, albums, descriptions, analyses and
-- audio features) is FICTIONAL and was authored for songmatch as demo / test data.
-- Any resemblance to real artists or recordings is coincidental. Nothing here was
-- copied from Spotify or any other catalogue.
--
-- Contents: 106 tracks, 8 playlists of one user (owner 00000000-0000-4000-8000-000000000001),
-- 76 playlist memberships, 36 liked tracks, one analysis per track (analysis_version '1')
-- and one analysis per playlist. Track external ids 'demo:tNNN', playlist external ids 'demo:pN'.
-- Instrumental tracks use language 'zxx' (ISO 639-2: no linguistic content).
--
-- Load once into a catalogue (schema songmatch):  psql -v ON_ERROR_STOP=1 -f sql/demo/catalogue.sql
-- Every insert is 'on conflict do nothing', so re-loading it is a no-op; the check at the end
-- aborts the transaction if any demo row is missing (e.g. a mistyped external id).
-- The expected matches are listed in the comment block at the end of this file.

begin;

-- Tracks ------------------------------------------------------------------------
insert into songmatch.tracks (external_id, name, artist, album, release_date, popularity, duration_ms) values
  ('demo:t001', 'Windowpane Hymn', 'The Alder Lanterns', 'Kettle Weather', '2019-10-18', 15, 241631),
  ('demo:t002', 'Paper Boats', 'Maren Oakhollow', 'Small Harbours', '2021', 56, 236306),
  ('demo:t003', 'Grey Wool Sweater', 'Tobias Fenwright', 'Low Light Recordings', '2017-11-03', 32, 225324),
  ('demo:t004', 'Drizzle on Juniper Street', 'Hollis & the Quiet Hours', 'Porch Songs', '2020', 17, 233663),
  ('demo:t005', 'The Kettle Sings First', 'Ingrid Sallow', 'Morning Things', '2022-02-11', 70, 258561),
  ('demo:t006', 'Moss and Mile Markers', 'Juniper Vane', 'Northbound Slowly', '2018', 49, 258305),
  ('demo:t007', 'Letters I Never Sent', 'Clara Wendeburg', 'Inkwell', '2016-03-25', 65, 233918),
  ('demo:t008', 'Umbrella for Two', 'The Pale Orchard', 'Soft Weather', '2023', 65, 196376),
  ('demo:t009', 'Attic Radio', 'Felix Marrowby', 'Dust & Daylight', '2015-09-09', 49, 256454),
  ('demo:t010', 'Cloudbreak Lullaby', 'Sunniva Rook', 'Weatherglass', '2020-05-01', 16, 237096),
  ('demo:t011', 'Steam on the Glass', 'Wren Halloway', 'Lamplit', '2024-01-19', 75, 239367),
  ('demo:t012', 'Slow Gutter Rivers', 'The Alder Lanterns', 'Slow Gutter Rivers', '2023', 24, 178039),
  ('demo:t013', 'Tin Roof Evensong', 'Ottilie Brask', 'Shelter Songs', '2022-10-07', 27, 193774),
  ('demo:t014', 'Iron Lungs', 'VOLTCRANE', 'Redline Protocol', '2022-03-04', 72, 181518),
  ('demo:t015', 'Last Rep Riot', 'Mace Delacroix', 'Plate Weight', '2021', 55, 198034),
  ('demo:t016', 'Kinetic', 'Hexa Sprint', 'Kinetic', '2023-06-16', 24, 175194),
  ('demo:t017', 'No Off Season', 'Steel Jaw', 'No Off Season', '2019', 56, 165709),
  ('demo:t018', 'Heartbeat Overdrive', 'Nova Quell', 'Pulse Zone', '2020-08-21', 37, 212870),
  ('demo:t019', 'Chalk on My Hands', 'Dray Kettleman', 'Deadlift Diaries', '2022', 14, 176161),
  ('demo:t020', 'Sprint Interval', 'KRONOMAX', 'Interval Training', '2024-01-12', 28, 176580),
  ('demo:t021', 'Unbreakable Engine', 'Lioness Protocol', 'Unbreakable', '2021-04-30', 25, 191139),
  ('demo:t022', 'Sweat Equity', 'Tank & the Throttle', 'Sweat Equity', '2018', 71, 229286),
  ('demo:t023', 'Beast Mode Activated', 'VOLTCRANE', 'Beast Mode Activated', '2024-05-10', 64, 218230),
  ('demo:t024', 'Ten More Seconds', 'Ryla Stone', 'Pressure Plates', '2023-09-22', 66, 174885),
  ('demo:t025', '3 AM Ramen', 'nightowl kazu', 'convenience store glow', '2021-07-09', 78, 173441),
  ('demo:t026', 'Tape Hiss Daydream', 'mellowmoth', 'cassette weather', '2020', 17, 179228),
  ('demo:t027', 'Study Lamp', 'Lumen Loops', 'desk sessions vol. 2', '2022-09-02', 70, 177840),
  ('demo:t028', 'Rooftop Static', 'sleepy.cartographer', 'maps of nowhere', '2019', 26, 136846),
  ('demo:t029', 'Neon Puddles', 'Ushio Drift', 'afterhours', '2023-03-17', 65, 180011),
  ('demo:t030', 'Cat on the Keyboard', 'purrlogic', 'purrlogic', '2021', 34, 180107),
  ('demo:t031', 'Slow Orbit', 'Halcyon Hum', 'low gravity', '2022-11-25', 50, 167832),
  ('demo:t032', 'Vending Machine Glow', 'nightowl kazu', 'convenience store glow', '2021-07-09', 69, 142799),
  ('demo:t033', 'Margins', 'Pencil & Eraser', 'notebook beats', '2020-10-02', 35, 119229),
  ('demo:t034', 'Window Seat, Last Train', 'Ren Osaragi', 'last train home', '2024-02-09', 71, 176781),
  ('demo:t035', 'Midnight Homework', 'mellowmoth', 'Midnight Homework', '2023-10-13', 73, 119961),
  ('demo:t036', 'Ceiling Fan Loop', 'sleepy.cartographer', 'Ceiling Fan Loop', '2024-04-26', 50, 175516),
  ('demo:t037', 'Soft Reboot', 'Lumen Loops', 'desk sessions vol. 3', '2024-06-21', 48, 123838),
  ('demo:t038', 'Maple Syrup Waltz', 'The Benedict Trio', 'Late Breakfast', '2018-04-13', 69, 295012),
  ('demo:t039', 'Croissant Blues', 'Lou Farrow Quartet', 'Side Table Sessions', '2016', 53, 316080),
  ('demo:t040', 'Varanda ao Meio-Dia', 'Iara Menezes', 'Varanda', '2019-01-25', 33, 262720),
  ('demo:t041', 'French Press Shuffle', 'Otis Bellweather', 'Brewed Slowly', '2021-05-07', 45, 264119),
  ('demo:t042', 'Second Cup', 'Della Marchetti', 'Second Cup', '2020', 32, 262328),
  ('demo:t043', 'Sunlight on the Tablecloth', 'The Benedict Trio', 'Late Breakfast', '2018-04-13', 48, 262784),
  ('demo:t044', 'Brushes & Butter', 'Ezra Kimble Sextet', 'Brushes & Butter', '2017-08-18', 43, 336325),
  ('demo:t045', 'Twelve Across', 'Marguerite Lyle Trio', 'Twelve Across', '2022', 57, 349519),
  ('demo:t046', 'Mimosa Samba', 'Quarteto Girassol', 'Tarde Clara', '2019-11-08', 37, 342594),
  ('demo:t047', 'Eggs Over Easy', 'Lou Farrow Quartet', 'Eggs Over Easy', '2023-03-03', 52, 381133),
  ('demo:t048', 'Pancake Stack Swing', 'Della Marchetti', 'Pancake Stack Swing', '2024-04-05', 58, 347766),
  ('demo:t049', 'Highway Halo', 'The Mile Marker Saints', 'Open Road Gospel', '2019-06-07', 23, 230058),
  ('demo:t050', 'Gas Station Sunrise', 'Dakota Rell', 'Interstate Hearts', '2021', 46, 210350),
  ('demo:t051', 'Westbound & Loud', 'Copper Canyon Radio', 'Westbound & Loud', '2017-07-14', 60, 253217),
  ('demo:t052', 'Sing It Like You Mean It', 'Bright Forty', 'Bright Forty', '2022-05-20', 19, 253372),
  ('demo:t053', 'Rearview Confetti', 'Paloma Hart', 'Rearview Confetti', '2020', 23, 224341),
  ('demo:t054', 'Cruise Control Heart', 'The Velvet Odometers', 'Mileage', '2018-08-31', 48, 261556),
  ('demo:t055', 'Desert Billboard', 'Copper Canyon Radio', 'Westbound & Loud', '2017-07-14', 44, 219417),
  ('demo:t056', 'Out of State Plates', 'Jonah Birchfield', 'Out of State Plates', '2023-07-28', 43, 218326),
  ('demo:t057', 'Thunder in the Tailgate', 'Rusty Meridian', 'Tailgate Choir', '2016', 34, 243233),
  ('demo:t058', 'Keep the Engine Running', 'The Mile Marker Saints', 'Open Road Gospel', '2019-06-07', 60, 265567),
  ('demo:t059', 'Mile 300 Singalong', 'Bright Forty', 'Mile 300 Singalong', '2024-07-05', 69, 261740),
  ('demo:t060', 'Open Sky Overdrive', 'Dakota Rell', 'Open Sky Overdrive', '2024-06-14', 44, 229815),
  ('demo:t061', 'Sunroof Symphony', 'Wilder Coast', 'Sunroof Symphony', '2023-05-26', 47, 233013),
  ('demo:t062', 'Your Side of the Bed', 'Elena Marsh', 'Quiet Rooms', '2020-02-14', 52, 234710),
  ('demo:t063', 'Ashes of the Polaroids', 'Theo Vance', 'After You', '2019', 53, 272604),
  ('demo:t064', 'I Kept the Key', 'Marisol Ashdown', 'Unsent', '2021-10-22', 67, 276374),
  ('demo:t065', 'Ne reviens pas', 'Aurélie Fontvieille', 'Chambre vide', '2018-11-09', 65, 288726),
  ('demo:t066', 'Hollow Anniversary', 'Jasper Quill', 'Hollow Anniversary', '2022', 67, 276572),
  ('demo:t067', 'Everything We Didn''t Say', 'Elena Marsh', 'Quiet Rooms', '2020-02-14', 63, 226899),
  ('demo:t068', 'Static on the Line', 'Noor Whitlaw', 'Long Distance', '2023-04-21', 55, 287939),
  ('demo:t069', 'Goodbye in Pencil', 'Callum Reyne', 'Erasable', '2017', 31, 246852),
  ('demo:t070', 'Cold Coffee, Empty Chair', 'Ivy Lindqvist', 'Empty Chair', '2022-01-28', 36, 243135),
  ('demo:t071', 'The Last Voicemail', 'Theo Vance', 'The Last Voicemail', '2024-02-09', 68, 287106),
  ('demo:t072', 'Half a Wardrobe', 'Noor Whitlaw', 'Half a Wardrobe', '2024-09-13', 56, 252451),
  ('demo:t073', 'Chrome Horizon', 'NEON VESPER', 'Gridline 1986', '2019-08-16', 67, 262713),
  ('demo:t074', 'Midnight Arcade', 'Kassette Kid', 'High Score', '2020', 75, 242636),
  ('demo:t075', 'Laser Boulevard', 'Vectorhawk', 'Laser Boulevard', '2018-10-26', 15, 233772),
  ('demo:t076', 'Palm Tree Static', 'Coral Mirage', 'Sunset Protocol', '2021-06-25', 61, 243613),
  ('demo:t077', 'Holo Heart', 'Lyra Dusk', 'Holo Heart', '2022-02-18', 45, 214735),
  ('demo:t078', 'Turbo Memory', 'Vectorhawk', 'Laser Boulevard', '2018-10-26', 51, 219381),
  ('demo:t079', 'Cyber Rain', 'DataGhost 87', 'Mainframe Dreams', '2020-11-13', 33, 247560),
  ('demo:t080', 'Pastel Skyline', 'Coral Mirage', 'Sunset Protocol', '2021-06-25', 54, 246141),
  ('demo:t081', 'Night Drive to Nowhere', 'NEON VESPER', 'Gridline 1986', '2019-08-16', 32, 228404),
  ('demo:t082', 'VHS Romance', 'Lyra Dusk', 'Holo Heart', '2022-02-18', 28, 224108),
  ('demo:t083', 'Grid Runner 2099', 'Kassette Kid', 'Grid Runner 2099', '2024-03-22', 17, 247252),
  ('demo:t084', 'Magenta Overdrive', 'NEON VESPER', 'Magenta Overdrive', '2023-11-17', 17, 289498),
  ('demo:t085', 'Analog Afterglow', 'Sable Motorik', 'Afterglow Tapes', '2024-08-02', 56, 275529),
  ('demo:t086', 'Bailando en la Azotea', 'Lunamar', 'Calor de Verano', '2022-07-01', 41, 207363),
  ('demo:t087', 'Corazón de Mango', 'Los Primos del Malecón', 'Brisa Tropical', '2019', 55, 188569),
  ('demo:t088', 'Sabor a Medianoche', 'Orquesta Candela Viva', 'Salsa de Barrio', '2018-09-14', 23, 186547),
  ('demo:t089', 'Mueve la Cintura', 'DJ Tamarindo', 'Perreo Solar', '2023-05-19', 58, 224536),
  ('demo:t090', 'Noche de Tambores', 'Orquesta Candela Viva', 'Salsa de Barrio', '2018-09-14', 27, 189912),
  ('demo:t091', 'Chispa', 'Lunamar & Rayo Cruz', 'Chispa', '2022-10-21', 37, 200654),
  ('demo:t092', 'La Vecina Baila Mejor', 'Los Primos del Malecón', 'Brisa Tropical', '2019', 21, 186573),
  ('demo:t093', 'Fuego Lento', 'Rayo Cruz', 'Fuego Lento', '2021-02-12', 29, 225200),
  ('demo:t094', 'Carnaval en la Cuadra', 'Nico Ventura', 'Carnaval en la Cuadra', '2024', 48, 230601),
  ('demo:t095', 'Tiki Taka Tumbao', 'DJ Tamarindo', 'Tiki Taka Tumbao', '2024-06-28', 66, 197542),
  ('demo:t096', 'Cumbia del Farolito', 'Los Primos del Malecón', 'Cumbia del Farolito', '2024-08-16', 74, 241498),
  ('demo:t097', 'Rain Won''t Wash You Out', 'Lise Carrow', 'Driftwood Heart', '2023-11-03', 35, 216038),
  ('demo:t098', 'Neon Interstate', 'Highline Static', 'Neon Interstate', '2023-08-11', 25, 249988),
  ('demo:t099', 'Saxophone Screensaver', 'mellowmoth & Lou Farrow', 'Saxophone Screensaver', '2024-03-08', 22, 195792),
  ('demo:t100', 'Sudor y Ritmo', 'DJ Tamarindo x VOLTCRANE', 'Sudor y Ritmo', '2024-05-24', 16, 197681),
  ('demo:t101', 'The Wiggly Worm Parade', 'Auntie Pumpernickel & the Sprouts', 'Backyard Sing-Along', '2021-04-16', 39, 241488),
  ('demo:t102', 'Field Notes, Episode 12: The Quiet Economics of Bees', 'The Meandering Naturalist', 'Field Notes', '2023-09-04', 39, 1482000),
  ('demo:t103', 'Cathedral of Teeth', 'Gravewyrm', 'Ossuary Engines', '2020-10-30', 50, 206644),
  ('demo:t104', 'Partita for a Sleeping Cat', 'Henrike Albrecht', 'Small Chamber Works', '2019', 5, 402000),
  ('demo:t105', 'Porch Light Breakdown', 'The Hollow Creek Pickers', 'Porch Light Breakdown', '2018-06-22', 56, 243807),
  ('demo:t106', '별빛 신호 (Starlight Signal)', 'LUMINA9', 'Signal', '2023-02-06', 39, 206304)
on conflict (external_id) do nothing;

-- Playlists ---------------------------------------------------------------------
insert into songmatch.playlists (external_id, owner_id, name, description) values
  ('demo:p1', '00000000-0000-4000-8000-000000000001'::uuid, 'Rainy Day Acoustic', 'Soft guitars, quiet voices and the sound of rain on the window. For grey afternoons, a blanket and a pot of tea.'),
  ('demo:p2', '00000000-0000-4000-8000-000000000001'::uuid, 'Gym Power Hour', 'Max-effort bangers for lifting, sprinting and the last rep. No ballads allowed.'),
  ('demo:p3', '00000000-0000-4000-8000-000000000001'::uuid, 'Late Night Lo-fi', 'Dusty beats and mellow keys for studying, coding, or staring at the ceiling at 2 a.m.'),
  ('demo:p4', '00000000-0000-4000-8000-000000000001'::uuid, 'Sunday Brunch Jazz', 'Easy-swinging piano trios, brushed drums and a little bossa nova. Pour another coffee.'),
  ('demo:p5', '00000000-0000-4000-8000-000000000001'::uuid, 'Road Trip Anthems', 'Windows down, volume up. Big choruses for long highways and singing along badly.'),
  ('demo:p6', '00000000-0000-4000-8000-000000000001'::uuid, 'Heartbreak Ballads', 'Piano, strings and every feeling you''re pretending not to have. Tissues recommended.'),
  ('demo:p7', '00000000-0000-4000-8000-000000000001'::uuid, 'Synthwave Nights', 'Neon grids, analog synths and chrome sunsets. Retro-futurist drives through a city that never existed.'),
  ('demo:p8', '00000000-0000-4000-8000-000000000001'::uuid, 'Fiesta Latina', 'Reguetón, salsa y cumbia para bailar hasta que salga el sol. ¡Que no pare la fiesta!')
on conflict (external_id) do nothing;

-- Playlist membership -----------------------------------------------------------
insert into songmatch.playlist_tracks (playlist_id, track_id, position)
select p.id, t.id, v.position
from (values
  ('demo:p1', 'demo:t001', 1),
  ('demo:p1', 'demo:t002', 2),
  ('demo:p1', 'demo:t003', 3),
  ('demo:p1', 'demo:t004', 4),
  ('demo:p1', 'demo:t005', 5),
  ('demo:p1', 'demo:t006', 6),
  ('demo:p1', 'demo:t007', 7),
  ('demo:p1', 'demo:t008', 8),
  ('demo:p1', 'demo:t009', 9),
  ('demo:p1', 'demo:t010', 10),
  ('demo:p2', 'demo:t014', 1),
  ('demo:p2', 'demo:t015', 2),
  ('demo:p2', 'demo:t016', 3),
  ('demo:p2', 'demo:t017', 4),
  ('demo:p2', 'demo:t018', 5),
  ('demo:p2', 'demo:t019', 6),
  ('demo:p2', 'demo:t020', 7),
  ('demo:p2', 'demo:t021', 8),
  ('demo:p2', 'demo:t022', 9),
  ('demo:p3', 'demo:t025', 1),
  ('demo:p3', 'demo:t026', 2),
  ('demo:p3', 'demo:t027', 3),
  ('demo:p3', 'demo:t028', 4),
  ('demo:p3', 'demo:t029', 5),
  ('demo:p3', 'demo:t030', 6),
  ('demo:p3', 'demo:t031', 7),
  ('demo:p3', 'demo:t032', 8),
  ('demo:p3', 'demo:t033', 9),
  ('demo:p3', 'demo:t034', 10),
  ('demo:p4', 'demo:t038', 1),
  ('demo:p4', 'demo:t039', 2),
  ('demo:p4', 'demo:t040', 3),
  ('demo:p4', 'demo:t041', 4),
  ('demo:p4', 'demo:t042', 5),
  ('demo:p4', 'demo:t043', 6),
  ('demo:p4', 'demo:t044', 7),
  ('demo:p4', 'demo:t045', 8),
  ('demo:p4', 'demo:t046', 9),
  ('demo:p5', 'demo:t049', 1),
  ('demo:p5', 'demo:t050', 2),
  ('demo:p5', 'demo:t051', 3),
  ('demo:p5', 'demo:t052', 4),
  ('demo:p5', 'demo:t053', 5),
  ('demo:p5', 'demo:t054', 6),
  ('demo:p5', 'demo:t055', 7),
  ('demo:p5', 'demo:t056', 8),
  ('demo:p5', 'demo:t057', 9),
  ('demo:p5', 'demo:t058', 10),
  ('demo:p6', 'demo:t062', 1),
  ('demo:p6', 'demo:t063', 2),
  ('demo:p6', 'demo:t064', 3),
  ('demo:p6', 'demo:t065', 4),
  ('demo:p6', 'demo:t066', 5),
  ('demo:p6', 'demo:t067', 6),
  ('demo:p6', 'demo:t068', 7),
  ('demo:p6', 'demo:t069', 8),
  ('demo:p6', 'demo:t070', 9),
  ('demo:p7', 'demo:t073', 1),
  ('demo:p7', 'demo:t074', 2),
  ('demo:p7', 'demo:t075', 3),
  ('demo:p7', 'demo:t076', 4),
  ('demo:p7', 'demo:t077', 5),
  ('demo:p7', 'demo:t078', 6),
  ('demo:p7', 'demo:t079', 7),
  ('demo:p7', 'demo:t080', 8),
  ('demo:p7', 'demo:t081', 9),
  ('demo:p7', 'demo:t082', 10),
  ('demo:p8', 'demo:t086', 1),
  ('demo:p8', 'demo:t087', 2),
  ('demo:p8', 'demo:t088', 3),
  ('demo:p8', 'demo:t089', 4),
  ('demo:p8', 'demo:t090', 5),
  ('demo:p8', 'demo:t091', 6),
  ('demo:p8', 'demo:t092', 7),
  ('demo:p8', 'demo:t093', 8),
  ('demo:p8', 'demo:t094', 9)
) as v(playlist_external_id, track_external_id, position)
join songmatch.playlists p on p.external_id = v.playlist_external_id
join songmatch.tracks t on t.external_id = v.track_external_id
on conflict do nothing;

-- Liked tracks -------------------------------------------------------------------
insert into songmatch.liked_tracks (user_id, track_id, liked_at)
select '00000000-0000-4000-8000-000000000001'::uuid, t.id, v.liked_at::timestamptz
from (values
  ('demo:t099', '2024-10-01 19:12:00+00'),
  ('demo:t049', '2024-10-05 12:27:00+00'),
  ('demo:t013', '2024-10-09 21:47:00+00'),
  ('demo:t048', '2024-10-10 22:57:00+00'),
  ('demo:t083', '2024-10-12 20:50:00+00'),
  ('demo:t073', '2024-10-15 15:23:00+00'),
  ('demo:t096', '2024-10-17 08:57:00+00'),
  ('demo:t061', '2024-10-21 19:45:00+00'),
  ('demo:t098', '2024-10-25 00:06:00+00'),
  ('demo:t035', '2024-10-28 05:18:00+00'),
  ('demo:t059', '2024-11-01 11:19:00+00'),
  ('demo:t062', '2024-11-05 12:15:00+00'),
  ('demo:t100', '2024-11-08 05:41:00+00'),
  ('demo:t071', '2024-11-09 04:10:00+00'),
  ('demo:t060', '2024-11-11 15:01:00+00'),
  ('demo:t001', '2024-11-16 00:27:00+00'),
  ('demo:t047', '2024-11-17 18:15:00+00'),
  ('demo:t024', '2024-11-22 07:42:00+00'),
  ('demo:t101', '2024-11-23 17:25:00+00'),
  ('demo:t084', '2024-11-27 14:58:00+00'),
  ('demo:t102', '2024-11-28 15:03:00+00'),
  ('demo:t042', '2024-12-03 00:25:00+00'),
  ('demo:t097', '2024-12-05 02:00:00+00'),
  ('demo:t072', '2024-12-09 16:59:00+00'),
  ('demo:t091', '2024-12-11 04:56:00+00'),
  ('demo:t085', '2024-12-15 18:45:00+00'),
  ('demo:t029', '2024-12-18 19:20:00+00'),
  ('demo:t036', '2024-12-20 13:02:00+00'),
  ('demo:t023', '2024-12-23 23:55:00+00'),
  ('demo:t025', '2024-12-27 23:08:00+00'),
  ('demo:t011', '2025-01-01 10:47:00+00'),
  ('demo:t037', '2025-01-02 07:05:00+00'),
  ('demo:t095', '2025-01-03 08:28:00+00'),
  ('demo:t012', '2025-01-05 17:35:00+00'),
  ('demo:t014', '2025-01-06 23:11:00+00'),
  ('demo:t053', '2025-01-09 23:08:00+00')
) as v(track_external_id, liked_at)
join songmatch.tracks t on t.external_id = v.track_external_id
on conflict do nothing;

-- Track analyses ----------------------------------------------------------------
insert into songmatch.track_analyses (track_id, analysis, analysis_version)
select t.id, v.analysis::jsonb, '1'
from (values
  ('demo:t001', '{"summary": "Fingerpicked steel-string guitar and a hushed close-miked voice; the singer watches rain streak down a window and remembers the house they grew up in.", "moods": ["melancholic", "calm"], "themes": ["rain", "memories", "home"], "genres": {"primary": "indie folk", "secondary": ["acoustic", "singer-songwriter"]}, "language": "en", "audio": {"danceability": 0.43, "energy": 0.26, "valence": 0.25, "tempo": 76.3, "acousticness": 0.8, "instrumentalness": 0.006, "speechiness": 0.037, "liveness": 0.086, "loudness": -10.7, "key": 9, "mode": 1}}'),
  ('demo:t002', '{"summary": "A gentle ukulele-and-voice song about children racing paper boats down flooded gutters, sung with wistful warmth.", "moods": ["wistful", "tender"], "themes": ["rain", "childhood", "nostalgia"], "genres": {"primary": "folk", "secondary": ["acoustic", "indie folk"]}, "language": "en", "audio": {"danceability": 0.42, "energy": 0.13, "valence": 0.45, "tempo": 90.7, "acousticness": 0.89, "instrumentalness": 0.025, "speechiness": 0.025, "liveness": 0.11, "loudness": -9.4, "key": 5, "mode": 0}}'),
  ('demo:t003', '{"summary": "Warm baritone over nylon-string guitar, a song about staying in on a cold wet day and the comfort of small things.", "moods": ["cozy", "calm"], "themes": ["comfort", "autumn", "solitude"], "genres": {"primary": "singer-songwriter", "secondary": ["acoustic", "folk"]}, "language": "en", "audio": {"danceability": 0.35, "energy": 0.13, "valence": 0.32, "tempo": 82.8, "acousticness": 0.82, "instrumentalness": 0.039, "speechiness": 0.029, "liveness": 0.064, "loudness": -13.8, "key": 1, "mode": 1}}'),
  ('demo:t004', '{"summary": "Brushed acoustic guitar and a slow cello line follow a lonely evening walk through wet, lamp-lit city streets.", "moods": ["reflective", "melancholic"], "themes": ["rain", "city", "walking"], "genres": {"primary": "indie folk", "secondary": ["chamber folk", "acoustic"]}, "language": "en", "audio": {"danceability": 0.44, "energy": 0.2, "valence": 0.36, "tempo": 86.8, "acousticness": 0.86, "instrumentalness": 0.047, "speechiness": 0.028, "liveness": 0.098, "loudness": -10.9, "key": 2, "mode": 1}}'),
  ('demo:t005', '{"summary": "A soft, sparse folk song built on two guitars, about the small rituals of a rainy morning: the kettle, the window, the first cup.", "moods": ["peaceful", "cozy"], "themes": ["morning", "tea", "routine"], "genres": {"primary": "folk", "secondary": ["acoustic", "singer-songwriter"]}, "language": "en", "audio": {"danceability": 0.39, "energy": 0.17, "valence": 0.35, "tempo": 104.5, "acousticness": 0.91, "instrumentalness": 0.042, "speechiness": 0.035, "liveness": 0.098, "loudness": -9.8, "key": 6, "mode": 1}}'),
  ('demo:t006', '{"summary": "Banjo-tinged acoustic folk about walking a long country road in steady drizzle, finding quiet hope along the way.", "moods": ["reflective", "hopeful"], "themes": ["journey", "nature", "rain"], "genres": {"primary": "indie folk", "secondary": ["americana", "acoustic"]}, "language": "en", "audio": {"danceability": 0.38, "energy": 0.33, "valence": 0.42, "tempo": 100.6, "acousticness": 0.96, "instrumentalness": 0.03, "speechiness": 0.035, "liveness": 0.11, "loudness": -12.6, "key": 9, "mode": 1}}'),
  ('demo:t007', '{"summary": "Piano and fingerpicked guitar frame a confessional lyric about a drawer full of unsent letters and old regrets.", "moods": ["melancholic", "introspective"], "themes": ["regret", "memories", "letters"], "genres": {"primary": "singer-songwriter", "secondary": ["chamber folk", "acoustic"]}, "language": "en", "audio": {"danceability": 0.5, "energy": 0.2, "valence": 0.22, "tempo": 74.7, "acousticness": 0.84, "instrumentalness": 0.007, "speechiness": 0.041, "liveness": 0.093, "loudness": -13.7, "key": 8, "mode": 0}}'),
  ('demo:t008', '{"summary": "A hushed boy-girl duet over acoustic guitar about sharing one umbrella on the walk home; shy and tender.", "moods": ["tender", "warm"], "themes": ["love", "rain", "companionship"], "genres": {"primary": "indie folk", "secondary": ["acoustic pop", "singer-songwriter"]}, "language": "en", "audio": {"danceability": 0.47, "energy": 0.29, "valence": 0.48, "tempo": 100.7, "acousticness": 0.96, "instrumentalness": 0.046, "speechiness": 0.052, "liveness": 0.056, "loudness": -12.4, "key": 8, "mode": 1}}'),
  ('demo:t009', '{"summary": "Lo-fi bedroom folk with tape warble and soft vocals, remembering a grandfather''s attic radio on rainy afternoons.", "moods": ["nostalgic", "calm"], "themes": ["memories", "family", "home"], "genres": {"primary": "indie folk", "secondary": ["bedroom folk", "acoustic"]}, "language": "en", "audio": {"danceability": 0.45, "energy": 0.28, "valence": 0.34, "tempo": 93.1, "acousticness": 0.78, "instrumentalness": 0.048, "speechiness": 0.052, "liveness": 0.12, "loudness": -12.9, "key": 2, "mode": 1}}'),
  ('demo:t010', '{"summary": "Airy female vocals, harp-like guitar harmonics and a gentle lift at the end as the rain stops and the sun breaks through.", "moods": ["hopeful", "calm"], "themes": ["rain", "renewal", "morning"], "genres": {"primary": "folk", "secondary": ["acoustic", "dream folk"]}, "language": "en", "audio": {"danceability": 0.37, "energy": 0.2, "valence": 0.44, "tempo": 93.5, "acousticness": 0.86, "instrumentalness": 0.011, "speechiness": 0.037, "liveness": 0.085, "loudness": -11.3, "key": 6, "mode": 0}}'),
  ('demo:t011', '{"summary": "Fingerpicked acoustic guitar and a whispered vocal about writing names in a fogged-up window while the rain keeps falling.", "moods": ["melancholic", "calm"], "themes": ["rain", "memories", "solitude"], "genres": {"primary": "indie folk", "secondary": ["acoustic", "singer-songwriter"]}, "language": "en", "audio": {"danceability": 0.58, "energy": 0.26, "valence": 0.25, "tempo": 100.6, "acousticness": 0.95, "instrumentalness": 0.048, "speechiness": 0.027, "liveness": 0.092, "loudness": -10.0, "key": 2, "mode": 0}}'),
  ('demo:t012', '{"summary": "Soft acoustic guitar, brushed percussion and harmonium; a quiet song about listening to rain run down the gutters at night.", "moods": ["calm", "reflective"], "themes": ["rain", "night", "home"], "genres": {"primary": "indie folk", "secondary": ["acoustic", "chamber folk"]}, "language": "en", "audio": {"danceability": 0.53, "energy": 0.25, "valence": 0.32, "tempo": 90.3, "acousticness": 0.83, "instrumentalness": 0.016, "speechiness": 0.037, "liveness": 0.15, "loudness": -13.5, "key": 9, "mode": 1}}'),
  ('demo:t013', '{"summary": "Nylon-string guitar and a low harmonium drone under a gentle alto voice, describing rain drumming on a tin roof at dusk.", "moods": ["peaceful", "melancholic"], "themes": ["rain", "dusk", "shelter"], "genres": {"primary": "folk", "secondary": ["acoustic", "singer-songwriter"]}, "language": "en", "audio": {"danceability": 0.55, "energy": 0.33, "valence": 0.43, "tempo": 101.2, "acousticness": 0.9, "instrumentalness": 0, "speechiness": 0.033, "liveness": 0.082, "loudness": -12.3, "key": 5, "mode": 1}}'),
  ('demo:t014', '{"summary": "Pounding four-on-the-floor EDM with a distorted bass drop and a shouted hook about breathing through the pain and pushing past your limits.", "moods": ["energetic", "aggressive", "hype"], "themes": ["motivation", "strength", "endurance"], "genres": {"primary": "edm", "secondary": ["electro house", "hardstyle"]}, "language": "en", "audio": {"danceability": 0.75, "energy": 0.95, "valence": 0.63, "tempo": 140.0, "acousticness": 0.029, "instrumentalness": 0.11, "speechiness": 0.034, "liveness": 0.13, "loudness": -4.3, "key": 2, "mode": 0}}'),
  ('demo:t015', '{"summary": "Hard-hitting trap beat with booming 808s and aggressive rapid-fire verses about grinding out the final rep.", "moods": ["aggressive", "determined", "hype"], "themes": ["motivation", "grind", "strength"], "genres": {"primary": "trap", "secondary": ["hip hop", "workout"]}, "language": "en", "audio": {"danceability": 0.66, "energy": 0.93, "valence": 0.52, "tempo": 145.0, "acousticness": 0.028, "instrumentalness": 0.037, "speechiness": 0.29, "liveness": 0.13, "loudness": -3.9, "key": 8, "mode": 0}}'),
  ('demo:t016', '{"summary": "Euphoric big-room house with soaring synth leads and a build-up made for sprinting; minimal chanted vocals.", "moods": ["euphoric", "energetic"], "themes": ["movement", "power", "speed"], "genres": {"primary": "edm", "secondary": ["big room house", "electro house"]}, "language": "en", "audio": {"danceability": 0.68, "energy": 0.91, "valence": 0.63, "tempo": 128.0, "acousticness": 0.045, "instrumentalness": 0.42, "speechiness": 0.076, "liveness": 0.071, "loudness": -3.4, "key": 0, "mode": 0}}'),
  ('demo:t017', '{"summary": "Chugging down-tuned guitar riffs, pounding drums and gang vocals about training through every season.", "moods": ["aggressive", "determined"], "themes": ["discipline", "strength", "competition"], "genres": {"primary": "hard rock", "secondary": ["metalcore", "alternative metal"]}, "language": "en", "audio": {"danceability": 0.76, "energy": 0.91, "valence": 0.45, "tempo": 150.0, "acousticness": 0.011, "instrumentalness": 0, "speechiness": 0.16, "liveness": 0.17, "loudness": -4.1, "key": 8, "mode": 1}}'),
  ('demo:t018', '{"summary": "Breakneck drum and bass with rolling breakbeats, a reese bassline and a breathy vocal about a racing heart on the treadmill.", "moods": ["intense", "energetic"], "themes": ["speed", "running", "endurance"], "genres": {"primary": "drum and bass", "secondary": ["liquid funk", "edm"]}, "language": "en", "audio": {"danceability": 0.68, "energy": 0.91, "valence": 0.64, "tempo": 174.0, "acousticness": 0, "instrumentalness": 0.058, "speechiness": 0.15, "liveness": 0.29, "loudness": -4.2, "key": 6, "mode": 0}}'),
  ('demo:t019', '{"summary": "Punchy boom-bap beat with a gritty horn sample and confident bars about chalking up for a heavy deadlift.", "moods": ["confident", "determined", "hype"], "themes": ["strength", "grind", "self-belief"], "genres": {"primary": "hip hop", "secondary": ["boom bap", "workout"]}, "language": "en", "audio": {"danceability": 0.72, "energy": 0.86, "valence": 0.58, "tempo": 94.0, "acousticness": 0.045, "instrumentalness": 0.066, "speechiness": 0.33, "liveness": 0.14, "loudness": -4.5, "key": 7, "mode": 0}}'),
  ('demo:t020', '{"summary": "Driving electro-house with a ticking countdown sample and a massive drop timed for interval sprints.", "moods": ["energetic", "hype"], "themes": ["running", "speed", "competition"], "genres": {"primary": "edm", "secondary": ["electro house", "workout"]}, "language": "en", "audio": {"danceability": 0.72, "energy": 0.97, "valence": 0.6, "tempo": 130.0, "acousticness": 0.023, "instrumentalness": 0.55, "speechiness": 0.16, "liveness": 0.31, "loudness": -4.6, "key": 7, "mode": 1}}'),
  ('demo:t021', '{"summary": "Empowering pop-EDM anthem with a powerhouse female vocal about being unstoppable, over stadium kicks and supersaw chords.", "moods": ["empowering", "energetic", "euphoric"], "themes": ["strength", "self-belief", "motivation"], "genres": {"primary": "edm", "secondary": ["dance pop", "electropop"]}, "language": "en", "audio": {"danceability": 0.73, "energy": 0.92, "valence": 0.72, "tempo": 118.0, "acousticness": 0.023, "instrumentalness": 0.12, "speechiness": 0.079, "liveness": 0.21, "loudness": -4.2, "key": 10, "mode": 1}}'),
  ('demo:t022', '{"summary": "Rap-rock with crunchy guitars, a stomping beat and a shouted chorus about earning every muscle.", "moods": ["aggressive", "energetic"], "themes": ["grind", "strength", "hard work"], "genres": {"primary": "rap rock", "secondary": ["nu metal", "hard rock"]}, "language": "en", "audio": {"danceability": 0.73, "energy": 0.93, "valence": 0.55, "tempo": 120.0, "acousticness": 0.056, "instrumentalness": 0.14, "speechiness": 0.18, "liveness": 0.29, "loudness": -3.9, "key": 0, "mode": 0}}'),
  ('demo:t023', '{"summary": "Savage EDM banger with a siren lead, crushing sidechained bass and a chanted ''beast mode'' hook built for max-effort lifts.", "moods": ["aggressive", "hype", "energetic"], "themes": ["motivation", "strength", "power"], "genres": {"primary": "edm", "secondary": ["hardstyle", "electro house"]}, "language": "en", "audio": {"danceability": 0.74, "energy": 0.96, "valence": 0.64, "tempo": 142.0, "acousticness": 0.043, "instrumentalness": 0.066, "speechiness": 0.072, "liveness": 0.17, "loudness": -3.6, "key": 8, "mode": 0}}'),
  ('demo:t024', '{"summary": "Trap-EDM hybrid with a drill hi-hat pattern and a fierce female rap counting down the last ten seconds of a workout set.", "moods": ["intense", "determined", "hype"], "themes": ["endurance", "motivation", "grind"], "genres": {"primary": "trap", "secondary": ["edm", "hip hop"]}, "language": "en", "audio": {"danceability": 0.74, "energy": 0.94, "valence": 0.51, "tempo": 146.0, "acousticness": 0.002, "instrumentalness": 0.14, "speechiness": 0.24, "liveness": 0.27, "loudness": -4.0, "key": 9, "mode": 0}}'),
  ('demo:t025', '{"summary": "Dusty swung drums, a jazzy Rhodes loop and vinyl crackle; an instrumental sketch of slurping noodles alone in a bright late-night shop.", "moods": ["chill", "nostalgic"], "themes": ["night", "city", "solitude"], "genres": {"primary": "lo-fi hip hop", "secondary": ["chillhop", "instrumental hip hop"]}, "language": "zxx", "audio": {"danceability": 0.71, "energy": 0.24, "valence": 0.37, "tempo": 80.8, "acousticness": 0.65, "instrumentalness": 0.79, "speechiness": 0.046, "liveness": 0.066, "loudness": -11.5, "key": 7, "mode": 0}}'),
  ('demo:t026', '{"summary": "Warbly cassette-saturated keys over a lazy boom-bap beat, drifting and unhurried.", "moods": ["dreamy", "mellow"], "themes": ["daydreaming", "nostalgia", "night"], "genres": {"primary": "lo-fi hip hop", "secondary": ["chillhop", "tape music"]}, "language": "zxx", "audio": {"danceability": 0.67, "energy": 0.35, "valence": 0.54, "tempo": 81.3, "acousticness": 0.67, "instrumentalness": 0.89, "speechiness": 0.081, "liveness": 0.074, "loudness": -12.8, "key": 9, "mode": 1}}'),
  ('demo:t027', '{"summary": "Soft piano chords, muted kick and snare and a faint rain texture designed for long focused study sessions.", "moods": ["focused", "calm"], "themes": ["studying", "night", "focus"], "genres": {"primary": "lo-fi hip hop", "secondary": ["study beats", "chillhop"]}, "language": "zxx", "audio": {"danceability": 0.65, "energy": 0.2, "valence": 0.45, "tempo": 76.7, "acousticness": 0.68, "instrumentalness": 0.82, "speechiness": 0.075, "liveness": 0.1, "loudness": -10.2, "key": 11, "mode": 1}}'),
  ('demo:t028', '{"summary": "Mellow guitar loop, crunchy drums and distant city ambience recorded on a rooftop after midnight.", "moods": ["mellow", "lonely"], "themes": ["city", "night", "solitude"], "genres": {"primary": "lo-fi hip hop", "secondary": ["instrumental hip hop", "ambient"]}, "language": "zxx", "audio": {"danceability": 0.72, "energy": 0.26, "valence": 0.59, "tempo": 87.5, "acousticness": 0.63, "instrumentalness": 0.96, "speechiness": 0.083, "liveness": 0.098, "loudness": -11.6, "key": 10, "mode": 1}}'),
  ('demo:t029', '{"summary": "Rainy-night lo-fi beat with reflective electric piano, chopped vocal sighs and the hiss of tyres on wet asphalt.", "moods": ["melancholic", "chill"], "themes": ["rain", "city", "night"], "genres": {"primary": "lo-fi hip hop", "secondary": ["chillhop", "jazzhop"]}, "language": "zxx", "audio": {"danceability": 0.67, "energy": 0.24, "valence": 0.48, "tempo": 73.5, "acousticness": 0.48, "instrumentalness": 0.82, "speechiness": 0.046, "liveness": 0.076, "loudness": -13.3, "key": 11, "mode": 1}}'),
  ('demo:t030', '{"summary": "Playful lo-fi beat with plinky keys, a sampled purr and bouncy swung drums.", "moods": ["playful", "chill"], "themes": ["pets", "home", "night"], "genres": {"primary": "lo-fi hip hop", "secondary": ["chillhop"]}, "language": "zxx", "audio": {"danceability": 0.67, "energy": 0.28, "valence": 0.62, "tempo": 78.3, "acousticness": 0.44, "instrumentalness": 0.87, "speechiness": 0.052, "liveness": 0.11, "loudness": -14.8, "key": 11, "mode": 1}}'),
  ('demo:t031', '{"summary": "Dreamy half-time lo-fi with spacey pads, a gentle bass line and slow-motion drums.", "moods": ["dreamy", "calm"], "themes": ["space", "night", "daydreaming"], "genres": {"primary": "lo-fi hip hop", "secondary": ["ambient", "chillhop"]}, "language": "zxx", "audio": {"danceability": 0.58, "energy": 0.3, "valence": 0.61, "tempo": 72.0, "acousticness": 0.66, "instrumentalness": 0.91, "speechiness": 0.038, "liveness": 0.081, "loudness": -12.4, "key": 9, "mode": 0}}'),
  ('demo:t032', '{"summary": "Humming fluorescent ambience, a chopped jazz guitar sample and lazy drums; quiet and nocturnal.", "moods": ["chill", "lonely"], "themes": ["night", "city", "solitude"], "genres": {"primary": "lo-fi hip hop", "secondary": ["instrumental hip hop", "jazzhop"]}, "language": "zxx", "audio": {"danceability": 0.61, "energy": 0.41, "valence": 0.45, "tempo": 77.4, "acousticness": 0.64, "instrumentalness": 0.85, "speechiness": 0.055, "liveness": 0.068, "loudness": -10.6, "key": 0, "mode": 1}}'),
  ('demo:t033', '{"summary": "Sparse lo-fi study beat with pencil-scratch percussion and soft muted piano.", "moods": ["focused", "mellow"], "themes": ["studying", "focus", "notebooks"], "genres": {"primary": "lo-fi hip hop", "secondary": ["study beats"]}, "language": "zxx", "audio": {"danceability": 0.69, "energy": 0.34, "valence": 0.37, "tempo": 78.1, "acousticness": 0.65, "instrumentalness": 0.92, "speechiness": 0.068, "liveness": 0.087, "loudness": -12.3, "key": 7, "mode": 1}}'),
  ('demo:t034', '{"summary": "Warm Rhodes chords and a train-rhythm hi-hat over dusty drums, capturing the last ride home through the sleeping city.", "moods": ["nostalgic", "calm"], "themes": ["night", "travel", "city"], "genres": {"primary": "lo-fi hip hop", "secondary": ["chillhop", "jazzhop"]}, "language": "zxx", "audio": {"danceability": 0.66, "energy": 0.23, "valence": 0.47, "tempo": 74.6, "acousticness": 0.69, "instrumentalness": 0.9, "speechiness": 0.047, "liveness": 0.15, "loudness": -11.8, "key": 2, "mode": 1}}'),
  ('demo:t035', '{"summary": "Tape-warped piano loop, soft boom-bap drums and vinyl crackle for a late-night study session.", "moods": ["focused", "chill"], "themes": ["studying", "night", "focus"], "genres": {"primary": "lo-fi hip hop", "secondary": ["chillhop", "study beats"]}, "language": "zxx", "audio": {"danceability": 0.69, "energy": 0.33, "valence": 0.31, "tempo": 88.7, "acousticness": 0.58, "instrumentalness": 0.87, "speechiness": 0.057, "liveness": 0.12, "loudness": -12.9, "key": 7, "mode": 1}}'),
  ('demo:t036', '{"summary": "A lazy instrumental beat built on a creaky ceiling-fan rhythm, muted guitar and mellow bass for sleepless nights.", "moods": ["mellow", "lonely"], "themes": ["night", "insomnia", "solitude"], "genres": {"primary": "lo-fi hip hop", "secondary": ["instrumental hip hop"]}, "language": "zxx", "audio": {"danceability": 0.69, "energy": 0.25, "valence": 0.34, "tempo": 83.2, "acousticness": 0.62, "instrumentalness": 0.88, "speechiness": 0.057, "liveness": 0.046, "loudness": -12.9, "key": 6, "mode": 1}}'),
  ('demo:t037', '{"summary": "Gentle Rhodes chords, dusty swung drums and a quiet keyboard-typing texture; instrumental and calm for coding at night.", "moods": ["calm", "focused"], "themes": ["coding", "night", "focus"], "genres": {"primary": "lo-fi hip hop", "secondary": ["chillhop", "study beats"]}, "language": "zxx", "audio": {"danceability": 0.63, "energy": 0.32, "valence": 0.31, "tempo": 81.2, "acousticness": 0.6, "instrumentalness": 0.87, "speechiness": 0.035, "liveness": 0.09, "loudness": -13.1, "key": 8, "mode": 1}}'),
  ('demo:t038', '{"summary": "A sunny piano-trio jazz waltz with brushed drums and a walking upright bass; lyrical and unhurried.", "moods": ["relaxed", "warm"], "themes": ["breakfast", "weekend", "leisure"], "genres": {"primary": "jazz", "secondary": ["piano trio", "waltz"]}, "language": "zxx", "audio": {"danceability": 0.63, "energy": 0.34, "valence": 0.74, "tempo": 138.0, "acousticness": 0.91, "instrumentalness": 0.82, "speechiness": 0.032, "liveness": 0.14, "loudness": -12.2, "key": 8, "mode": 1}}'),
  ('demo:t039', '{"summary": "Mid-tempo blues with a muted trumpet lead, comping piano and soft brushes; easygoing and a little sly.", "moods": ["relaxed", "playful"], "themes": ["breakfast", "leisure", "cafe"], "genres": {"primary": "jazz", "secondary": ["blues", "cool jazz"]}, "language": "zxx", "audio": {"danceability": 0.55, "energy": 0.32, "valence": 0.69, "tempo": 107.5, "acousticness": 0.81, "instrumentalness": 0.5, "speechiness": 0.076, "liveness": 0.24, "loudness": -12.3, "key": 8, "mode": 1}}'),
  ('demo:t040', '{"summary": "Gentle bossa nova sung in Portuguese with nylon guitar and light percussion, about a lazy Sunday on a sunny veranda by the sea.", "moods": ["relaxed", "warm", "cheerful"], "themes": ["weekend", "sunshine", "sea"], "genres": {"primary": "bossa nova", "secondary": ["mpb", "jazz"]}, "language": "pt", "audio": {"danceability": 0.66, "energy": 0.34, "valence": 0.57, "tempo": 140.8, "acousticness": 0.85, "instrumentalness": 0.01, "speechiness": 0.058, "liveness": 0.29, "loudness": -14.6, "key": 8, "mode": 1}}'),
  ('demo:t041', '{"summary": "Swinging guitar-led jazz combo with a shuffling ride cymbal and a warm hollow-body solo.", "moods": ["cheerful", "relaxed"], "themes": ["coffee", "weekend", "leisure"], "genres": {"primary": "jazz", "secondary": ["swing", "jazz guitar"]}, "language": "zxx", "audio": {"danceability": 0.49, "energy": 0.42, "valence": 0.65, "tempo": 136.6, "acousticness": 0.72, "instrumentalness": 0.77, "speechiness": 0.05, "liveness": 0.21, "loudness": -15.1, "key": 2, "mode": 0}}'),
  ('demo:t042', '{"summary": "Smoky vocal jazz in the style of an old standard, flirting over a second cup of coffee with piano, bass and brushes.", "moods": ["warm", "romantic", "playful"], "themes": ["coffee", "romance", "morning"], "genres": {"primary": "vocal jazz", "secondary": ["jazz", "swing"]}, "language": "en", "audio": {"danceability": 0.55, "energy": 0.34, "valence": 0.62, "tempo": 126.1, "acousticness": 0.85, "instrumentalness": 0, "speechiness": 0.06, "liveness": 0.24, "loudness": -14.6, "key": 8, "mode": 1}}'),
  ('demo:t043', '{"summary": "A gentle piano-trio ballad with soft brushwork and a bowed bass outro; bright and peaceful.", "moods": ["peaceful", "warm"], "themes": ["morning", "sunshine", "home"], "genres": {"primary": "jazz", "secondary": ["piano trio"]}, "language": "zxx", "audio": {"danceability": 0.56, "energy": 0.24, "valence": 0.65, "tempo": 84.0, "acousticness": 0.89, "instrumentalness": 0.59, "speechiness": 0.05, "liveness": 0.11, "loudness": -12.6, "key": 8, "mode": 1}}'),
  ('demo:t044', '{"summary": "Laid-back cool jazz with alto sax and flugelhorn harmonies over a light medium swing.", "moods": ["relaxed", "elegant"], "themes": ["leisure", "weekend", "cafe"], "genres": {"primary": "jazz", "secondary": ["cool jazz", "swing"]}, "language": "zxx", "audio": {"danceability": 0.55, "energy": 0.28, "valence": 0.63, "tempo": 106.0, "acousticness": 0.94, "instrumentalness": 0.9, "speechiness": 0.049, "liveness": 0.22, "loudness": -14.1, "key": 2, "mode": 1}}'),
  ('demo:t045', '{"summary": "Playful piano trio tune with quirky stop-time breaks, like puzzling over a Sunday crossword.", "moods": ["playful", "cheerful"], "themes": ["weekend", "leisure", "puzzles"], "genres": {"primary": "jazz", "secondary": ["piano trio", "post-bop"]}, "language": "zxx", "audio": {"danceability": 0.58, "energy": 0.33, "valence": 0.74, "tempo": 116.6, "acousticness": 0.82, "instrumentalness": 0.6, "speechiness": 0.056, "liveness": 0.094, "loudness": -10.7, "key": 9, "mode": 1}}'),
  ('demo:t046', '{"summary": "Bright instrumental samba-jazz with flute, nylon guitar and light pandeiro; sunny and breezy.", "moods": ["cheerful", "breezy"], "themes": ["sunshine", "brunch", "leisure"], "genres": {"primary": "samba jazz", "secondary": ["bossa nova", "latin jazz"]}, "language": "zxx", "audio": {"danceability": 0.68, "energy": 0.45, "valence": 0.82, "tempo": 118.9, "acousticness": 0.86, "instrumentalness": 0.94, "speechiness": 0.054, "liveness": 0.25, "loudness": -10.9, "key": 11, "mode": 0}}'),
  ('demo:t047', '{"summary": "Easy medium-swing quartet jazz with muted trumpet, warm piano comping and brushed snare; relaxed and sunny.", "moods": ["relaxed", "cheerful"], "themes": ["breakfast", "weekend", "leisure"], "genres": {"primary": "jazz", "secondary": ["swing", "cool jazz"]}, "language": "zxx", "audio": {"danceability": 0.58, "energy": 0.36, "valence": 0.7, "tempo": 132.0, "acousticness": 0.88, "instrumentalness": 0.8, "speechiness": 0.024, "liveness": 0.26, "loudness": -13.1, "key": 9, "mode": 0}}'),
  ('demo:t048', '{"summary": "Sweet vocal jazz with a bouncy swing feel, piano trio backing and a lyric about lazy Sunday pancakes for two.", "moods": ["warm", "playful", "cheerful"], "themes": ["breakfast", "romance", "weekend"], "genres": {"primary": "vocal jazz", "secondary": ["swing", "jazz"]}, "language": "en", "audio": {"danceability": 0.64, "energy": 0.4, "valence": 0.8, "tempo": 148.0, "acousticness": 0.84, "instrumentalness": 0, "speechiness": 0.06, "liveness": 0.27, "loudness": -11.6, "key": 9, "mode": 1}}'),
  ('demo:t049', '{"summary": "Big heartland rock with chiming guitars, organ and a soaring chorus about chasing the sunset down an empty highway.", "moods": ["euphoric", "upbeat"], "themes": ["road trip", "freedom", "sunset"], "genres": {"primary": "rock", "secondary": ["heartland rock", "americana"]}, "language": "en", "audio": {"danceability": 0.52, "energy": 0.8, "valence": 0.77, "tempo": 129.9, "acousticness": 0.057, "instrumentalness": 0.012, "speechiness": 0.023, "liveness": 0.17, "loudness": -5.5, "key": 10, "mode": 1}}'),
  ('demo:t050', '{"summary": "Sunny pop rock with handclaps and jangly guitars about grabbing coffee at a roadside station at dawn with your best friends.", "moods": ["upbeat", "carefree"], "themes": ["road trip", "friendship", "morning"], "genres": {"primary": "pop rock", "secondary": ["rock", "power pop"]}, "language": "en", "audio": {"danceability": 0.58, "energy": 0.78, "valence": 0.59, "tempo": 126.4, "acousticness": 0.06, "instrumentalness": 0.014, "speechiness": 0.05, "liveness": 0.33, "loudness": -4.8, "key": 4, "mode": 1}}'),
  ('demo:t051', '{"summary": "Crunchy guitars and a stomping beat, a shout-along anthem about driving west with the windows down.", "moods": ["energetic", "carefree"], "themes": ["road trip", "freedom", "summer"], "genres": {"primary": "rock", "secondary": ["southern rock", "heartland rock"]}, "language": "en", "audio": {"danceability": 0.58, "energy": 0.86, "valence": 0.87, "tempo": 120.6, "acousticness": 0.017, "instrumentalness": 0.01, "speechiness": 0.035, "liveness": 0.21, "loudness": -4.9, "key": 7, "mode": 1}}'),
  ('demo:t052', '{"summary": "Fast pop-punk guitars and a gang-vocal chorus that begs to be screamed along to in a packed car.", "moods": ["euphoric", "energetic"], "themes": ["friendship", "singing", "summer"], "genres": {"primary": "pop punk", "secondary": ["rock", "pop rock"]}, "language": "en", "audio": {"danceability": 0.6, "energy": 0.91, "valence": 0.87, "tempo": 168.0, "acousticness": 0.14, "instrumentalness": 0.014, "speechiness": 0.035, "liveness": 0.22, "loudness": -4.4, "key": 3, "mode": 1}}'),
  ('demo:t053', '{"summary": "Shimmering indie pop rock with a big chorus about leaving a small town behind and watching it shrink in the mirror.", "moods": ["hopeful", "upbeat", "nostalgic"], "themes": ["road trip", "leaving home", "freedom"], "genres": {"primary": "pop rock", "secondary": ["indie rock"]}, "language": "en", "audio": {"danceability": 0.45, "energy": 0.85, "valence": 0.78, "tempo": 138.2, "acousticness": 0.04, "instrumentalness": 0.008, "speechiness": 0.048, "liveness": 0.26, "loudness": -4.8, "key": 5, "mode": 1}}'),
  ('demo:t054', '{"summary": "Mid-tempo classic-rock groove with slide guitar and easy harmonies, about relaxing into a long drive with someone you love.", "moods": ["carefree", "warm"], "themes": ["road trip", "love", "summer"], "genres": {"primary": "rock", "secondary": ["classic rock", "soft rock"]}, "language": "en", "audio": {"danceability": 0.61, "energy": 0.72, "valence": 0.73, "tempo": 127.9, "acousticness": 0.084, "instrumentalness": 0.016, "speechiness": 0.038, "liveness": 0.16, "loudness": -4.8, "key": 10, "mode": 1}}'),
  ('demo:t055', '{"summary": "Dusty riff rock with a galloping beat about fading billboards and endless desert miles.", "moods": ["energetic", "adventurous"], "themes": ["road trip", "desert", "freedom"], "genres": {"primary": "rock", "secondary": ["southern rock", "desert rock"]}, "language": "en", "audio": {"danceability": 0.57, "energy": 0.82, "valence": 0.6, "tempo": 127.9, "acousticness": 0.05, "instrumentalness": 0, "speechiness": 0.067, "liveness": 0.3, "loudness": -4.7, "key": 8, "mode": 0}}'),
  ('demo:t056', '{"summary": "Anthemic acoustic-electric pop rock with a whistled hook, celebrating a summer road trip through unfamiliar towns.", "moods": ["upbeat", "joyful"], "themes": ["road trip", "summer", "adventure"], "genres": {"primary": "pop rock", "secondary": ["folk rock", "heartland rock"]}, "language": "en", "audio": {"danceability": 0.56, "energy": 0.76, "valence": 0.8, "tempo": 137.2, "acousticness": 0.22, "instrumentalness": 0.004, "speechiness": 0.029, "liveness": 0.25, "loudness": -6.1, "key": 6, "mode": 1}}'),
  ('demo:t057', '{"summary": "Rowdy southern rock with twin guitar leads and a barroom chorus about a truck full of friends headed to the coast.", "moods": ["rowdy", "energetic"], "themes": ["road trip", "friendship", "summer"], "genres": {"primary": "southern rock", "secondary": ["rock", "country rock"]}, "language": "en", "audio": {"danceability": 0.62, "energy": 0.78, "valence": 0.6, "tempo": 130.9, "acousticness": 0.088, "instrumentalness": 0.024, "speechiness": 0.055, "liveness": 0.31, "loudness": -5.4, "key": 6, "mode": 1}}'),
  ('demo:t058', '{"summary": "Driving four-on-the-floor rock with ringing guitars and a stadium chorus about never going back.", "moods": ["determined", "euphoric"], "themes": ["freedom", "road trip", "escape"], "genres": {"primary": "rock", "secondary": ["heartland rock"]}, "language": "en", "audio": {"danceability": 0.49, "energy": 0.78, "valence": 0.76, "tempo": 118.6, "acousticness": 0.091, "instrumentalness": 0.022, "speechiness": 0.029, "liveness": 0.22, "loudness": -5.0, "key": 0, "mode": 1}}'),
  ('demo:t059', '{"summary": "Bright pop-punk guitars, a clap-along bridge and a massive chorus about singing off-key with friends three hundred miles into a road trip.", "moods": ["euphoric", "carefree"], "themes": ["road trip", "friendship", "singing"], "genres": {"primary": "pop punk", "secondary": ["pop rock", "rock"]}, "language": "en", "audio": {"danceability": 0.61, "energy": 0.84, "valence": 0.59, "tempo": 160.0, "acousticness": 0.068, "instrumentalness": 0.011, "speechiness": 0.067, "liveness": 0.16, "loudness": -4.4, "key": 9, "mode": 1}}'),
  ('demo:t060', '{"summary": "Windows-down pop rock with jangly guitars, a driving beat and a soaring chorus about open skies and an empty interstate.", "moods": ["upbeat", "euphoric"], "themes": ["road trip", "freedom", "summer"], "genres": {"primary": "pop rock", "secondary": ["rock", "power pop"]}, "language": "en", "audio": {"danceability": 0.54, "energy": 0.75, "valence": 0.67, "tempo": 131.9, "acousticness": 0.066, "instrumentalness": 0.003, "speechiness": 0.065, "liveness": 0.13, "loudness": -4.3, "key": 5, "mode": 1}}'),
  ('demo:t061', '{"summary": "Heartland rock with chiming guitars, organ swells and a shout-along chorus about a coastal highway drive in summer.", "moods": ["euphoric", "nostalgic"], "themes": ["road trip", "summer", "friendship"], "genres": {"primary": "rock", "secondary": ["heartland rock", "pop rock"]}, "language": "en", "audio": {"danceability": 0.47, "energy": 0.92, "valence": 0.66, "tempo": 123.2, "acousticness": 0.1, "instrumentalness": 0.006, "speechiness": 0.051, "liveness": 0.14, "loudness": -6.0, "key": 11, "mode": 1}}'),
  ('demo:t062', '{"summary": "Sparse piano ballad with a trembling voice, about waking up next to the empty side of the bed after a breakup.", "moods": ["sad", "heartbroken"], "themes": ["breakup", "loss", "loneliness"], "genres": {"primary": "pop ballad", "secondary": ["piano ballad"]}, "language": "en", "audio": {"danceability": 0.34, "energy": 0.26, "valence": 0.17, "tempo": 69.1, "acousticness": 0.52, "instrumentalness": 0.005, "speechiness": 0.031, "liveness": 0.14, "loudness": -10.8, "key": 6, "mode": 1}}'),
  ('demo:t063', '{"summary": "Slow piano and string-quartet ballad about burning old photographs and failing to forget.", "moods": ["heartbroken", "melancholic"], "themes": ["breakup", "memories", "regret"], "genres": {"primary": "pop ballad", "secondary": ["piano ballad", "chamber pop"]}, "language": "en", "audio": {"danceability": 0.42, "energy": 0.25, "valence": 0.11, "tempo": 72.7, "acousticness": 0.77, "instrumentalness": 0, "speechiness": 0.026, "liveness": 0.15, "loudness": -11.3, "key": 6, "mode": 0}}'),
  ('demo:t064', '{"summary": "A soulful, aching ballad over electric piano and soft strings; she still keeps the key to an apartment that isn''t hers anymore.", "moods": ["longing", "sad"], "themes": ["breakup", "longing", "home"], "genres": {"primary": "soul", "secondary": ["pop ballad", "r&b"]}, "language": "en", "audio": {"danceability": 0.38, "energy": 0.23, "valence": 0.11, "tempo": 82.5, "acousticness": 0.45, "instrumentalness": 0.001, "speechiness": 0.025, "liveness": 0.11, "loudness": -9.5, "key": 8, "mode": 0}}'),
  ('demo:t065', '{"summary": "A French-language chanson ballad with piano and cello; she asks a former lover not to come back, though her voice says otherwise.", "moods": ["sad", "bittersweet"], "themes": ["breakup", "pride", "longing"], "genres": {"primary": "chanson", "secondary": ["pop ballad", "french pop"]}, "language": "fr", "audio": {"danceability": 0.37, "energy": 0.2, "valence": 0.17, "tempo": 78.1, "acousticness": 0.68, "instrumentalness": 0.007, "speechiness": 0.032, "liveness": 0.14, "loudness": -8.1, "key": 3, "mode": 0}}'),
  ('demo:t066', '{"summary": "Minimal piano and voice marking the first anniversary spent alone, swelling into a wounded string-backed final chorus.", "moods": ["heartbroken", "sad"], "themes": ["loss", "anniversary", "loneliness"], "genres": {"primary": "pop ballad", "secondary": ["piano ballad"]}, "language": "en", "audio": {"danceability": 0.44, "energy": 0.22, "valence": 0.14, "tempo": 60.0, "acousticness": 0.72, "instrumentalness": 0.008, "speechiness": 0.038, "liveness": 0.12, "loudness": -9.2, "key": 6, "mode": 0}}'),
  ('demo:t067', '{"summary": "Tender piano ballad about the words left unspoken at the end of a relationship.", "moods": ["regretful", "tender"], "themes": ["regret", "breakup", "communication"], "genres": {"primary": "pop ballad", "secondary": ["piano ballad"]}, "language": "en", "audio": {"danceability": 0.38, "energy": 0.23, "valence": 0.16, "tempo": 77.9, "acousticness": 0.52, "instrumentalness": 0.006, "speechiness": 0.026, "liveness": 0.12, "loudness": -11.8, "key": 11, "mode": 0}}'),
  ('demo:t068', '{"summary": "Hushed ballad over muted guitar and strings about a long-distance love fading into crackling phone calls.", "moods": ["lonely", "melancholic"], "themes": ["long distance", "longing", "breakup"], "genres": {"primary": "pop ballad", "secondary": ["acoustic", "indie pop"]}, "language": "en", "audio": {"danceability": 0.36, "energy": 0.29, "valence": 0.16, "tempo": 64.2, "acousticness": 0.8, "instrumentalness": 0.01, "speechiness": 0.028, "liveness": 0.072, "loudness": -9.4, "key": 6, "mode": 1}}'),
  ('demo:t069', '{"summary": "A gentle, wrenching piano ballad with a soaring falsetto chorus about a love that was never written in ink.", "moods": ["heartbroken", "tender"], "themes": ["breakup", "impermanence", "regret"], "genres": {"primary": "pop ballad", "secondary": ["soul", "piano ballad"]}, "language": "en", "audio": {"danceability": 0.32, "energy": 0.3, "valence": 0.15, "tempo": 63.7, "acousticness": 0.78, "instrumentalness": 0.013, "speechiness": 0.046, "liveness": 0.16, "loudness": -7.8, "key": 0, "mode": 0}}'),
  ('demo:t070', '{"summary": "Spare piano and swelling strings; a morning routine collapses around an empty chair at the kitchen table.", "moods": ["sad", "lonely"], "themes": ["loss", "loneliness", "routine"], "genres": {"primary": "pop ballad", "secondary": ["piano ballad", "chamber pop"]}, "language": "en", "audio": {"danceability": 0.37, "energy": 0.21, "valence": 0.12, "tempo": 75.2, "acousticness": 0.66, "instrumentalness": 0.003, "speechiness": 0.03, "liveness": 0.15, "loudness": -9.7, "key": 4, "mode": 1}}'),
  ('demo:t071', '{"summary": "Heartbroken piano and string ballad; he replays an ex''s last voicemail over and over, his voice cracking on the chorus.", "moods": ["heartbroken", "sad"], "themes": ["breakup", "loss", "longing"], "genres": {"primary": "pop ballad", "secondary": ["piano ballad"]}, "language": "en", "audio": {"danceability": 0.34, "energy": 0.26, "valence": 0.13, "tempo": 65.3, "acousticness": 0.59, "instrumentalness": 0.003, "speechiness": 0.034, "liveness": 0.11, "loudness": -9.4, "key": 0, "mode": 0}}'),
  ('demo:t072', '{"summary": "Slow piano and strings ballad about packing up a partner''s clothes after a breakup and the silence of a half-empty wardrobe.", "moods": ["sad", "lonely"], "themes": ["breakup", "loneliness", "loss"], "genres": {"primary": "pop ballad", "secondary": ["piano ballad", "chamber pop"]}, "language": "en", "audio": {"danceability": 0.29, "energy": 0.22, "valence": 0.1, "tempo": 79.7, "acousticness": 0.68, "instrumentalness": 0.011, "speechiness": 0.036, "liveness": 0.1, "loudness": -7.2, "key": 10, "mode": 1}}'),
  ('demo:t073', '{"summary": "Instrumental synthwave with shimmering arpeggios, gated snares and a soaring lead that evokes a neon sunset over a wireframe grid.", "moods": ["nostalgic", "dreamy"], "themes": ["retro future", "night drive", "sunset"], "genres": {"primary": "synthwave", "secondary": ["outrun", "retrowave"]}, "language": "zxx", "audio": {"danceability": 0.65, "energy": 0.59, "valence": 0.52, "tempo": 112.2, "acousticness": 0.017, "instrumentalness": 0.72, "speechiness": 0.048, "liveness": 0.12, "loudness": -5.9, "key": 8, "mode": 0}}'),
  ('demo:t074', '{"summary": "Bright chiptune-tinged synthwave with punchy drum machines and 8-bit bleeps, like a night in a glowing arcade.", "moods": ["playful", "nostalgic"], "themes": ["arcade", "retro future", "night"], "genres": {"primary": "synthwave", "secondary": ["chipwave", "retrowave"]}, "language": "zxx", "audio": {"danceability": 0.57, "energy": 0.83, "valence": 0.62, "tempo": 110.5, "acousticness": 0.012, "instrumentalness": 0.79, "speechiness": 0.046, "liveness": 0.09, "loudness": -6.7, "key": 3, "mode": 0}}'),
  ('demo:t075', '{"summary": "Fast outrun with a pulsing bass arpeggio, gated tom fills and a screaming synth lead for a neon-lit highway chase.", "moods": ["driving", "intense"], "themes": ["night drive", "speed", "neon city"], "genres": {"primary": "outrun", "secondary": ["synthwave"]}, "language": "zxx", "audio": {"danceability": 0.73, "energy": 0.84, "valence": 0.51, "tempo": 118.0, "acousticness": 0.042, "instrumentalness": 0.63, "speechiness": 0.037, "liveness": 0.088, "loudness": -7.9, "key": 3, "mode": 0}}'),
  ('demo:t076', '{"summary": "Warm, hazy retrowave with detuned pads, a slow funk bass and a VHS-warped lead; palm trees on a pixelated beach.", "moods": ["dreamy", "nostalgic"], "themes": ["summer", "retro future", "beach"], "genres": {"primary": "retrowave", "secondary": ["synthwave", "chillwave"]}, "language": "zxx", "audio": {"danceability": 0.66, "energy": 0.55, "valence": 0.42, "tempo": 105.1, "acousticness": 0.018, "instrumentalness": 0.85, "speechiness": 0.032, "liveness": 0.083, "loudness": -5.9, "key": 0, "mode": 0}}'),
  ('demo:t077', '{"summary": "Vocal synthwave with a breathy female lead and big 1980s drums, about falling for a hologram in a city of neon.", "moods": ["romantic", "dreamy"], "themes": ["love", "neon city", "technology"], "genres": {"primary": "synthwave", "secondary": ["synthpop", "retrowave"]}, "language": "en", "audio": {"danceability": 0.64, "energy": 0.74, "valence": 0.5, "tempo": 120.6, "acousticness": 0.027, "instrumentalness": 0.02, "speechiness": 0.057, "liveness": 0.082, "loudness": -7.8, "key": 6, "mode": 1}}'),
  ('demo:t078', '{"summary": "Driving outrun with a turbo-charged bassline, electric guitar-style synth solo and a relentless drum machine.", "moods": ["driving", "energetic"], "themes": ["speed", "night drive", "nostalgia"], "genres": {"primary": "outrun", "secondary": ["synthwave"]}, "language": "zxx", "audio": {"danceability": 0.63, "energy": 0.82, "valence": 0.41, "tempo": 119.9, "acousticness": 0, "instrumentalness": 0.68, "speechiness": 0.036, "liveness": 0.12, "loudness": -8.0, "key": 3, "mode": 0}}'),
  ('demo:t079', '{"summary": "Dark, brooding darksynth with distorted bass, cold arpeggios and a rainy cyberpunk atmosphere.", "moods": ["dark", "mysterious"], "themes": ["cyberpunk", "rain", "neon city"], "genres": {"primary": "darksynth", "secondary": ["synthwave", "cyberpunk"]}, "language": "zxx", "audio": {"danceability": 0.51, "energy": 0.78, "valence": 0.22, "tempo": 103.7, "acousticness": 0.04, "instrumentalness": 0.62, "speechiness": 0.055, "liveness": 0.13, "loudness": -7.9, "key": 8, "mode": 0}}'),
  ('demo:t080', '{"summary": "Lush, mid-tempo synthwave with glassy pads and a melancholic lead over a pastel city skyline at dusk.", "moods": ["dreamy", "melancholic"], "themes": ["city", "dusk", "nostalgia"], "genres": {"primary": "synthwave", "secondary": ["retrowave", "chillwave"]}, "language": "zxx", "audio": {"danceability": 0.56, "energy": 0.75, "valence": 0.42, "tempo": 109.0, "acousticness": 0.019, "instrumentalness": 0.89, "speechiness": 0.026, "liveness": 0.11, "loudness": -6.4, "key": 1, "mode": 1}}'),
  ('demo:t081', '{"summary": "Steady motorik synthwave groove with a lonely lead synth, made for driving empty neon streets after midnight.", "moods": ["nostalgic", "lonely", "driving"], "themes": ["night drive", "neon city", "solitude"], "genres": {"primary": "synthwave", "secondary": ["outrun"]}, "language": "zxx", "audio": {"danceability": 0.66, "energy": 0.75, "valence": 0.56, "tempo": 110.6, "acousticness": 0, "instrumentalness": 0.55, "speechiness": 0.038, "liveness": 0.1, "loudness": -5.1, "key": 4, "mode": 0}}'),
  ('demo:t082', '{"summary": "Sung synthpop-synthwave with warm analog chords and a gated-reverb snare, a nostalgic love song recorded to tape.", "moods": ["romantic", "nostalgic"], "themes": ["love", "nostalgia", "retro future"], "genres": {"primary": "synthpop", "secondary": ["synthwave", "retrowave"]}, "language": "en", "audio": {"danceability": 0.59, "energy": 0.59, "valence": 0.55, "tempo": 98.5, "acousticness": 0, "instrumentalness": 0.01, "speechiness": 0.033, "liveness": 0.12, "loudness": -8.1, "key": 11, "mode": 0}}'),
  ('demo:t083', '{"summary": "Instrumental outrun with racing arpeggios, gated drums and a neon lead line, like speeding across a glowing wireframe grid at night.", "moods": ["driving", "nostalgic"], "themes": ["night drive", "retro future", "speed"], "genres": {"primary": "synthwave", "secondary": ["outrun", "retrowave"]}, "language": "zxx", "audio": {"danceability": 0.56, "energy": 0.71, "valence": 0.44, "tempo": 114.6, "acousticness": 0, "instrumentalness": 0.86, "speechiness": 0.04, "liveness": 0.13, "loudness": -7.4, "key": 11, "mode": 1}}'),
  ('demo:t084', '{"summary": "Analog synth arpeggios, a pulsing bassline and a soaring lead over 1980s drum machines; a neon-soaked midnight cruise.", "moods": ["dreamy", "driving"], "themes": ["neon city", "night drive", "nostalgia"], "genres": {"primary": "synthwave", "secondary": ["retrowave", "outrun"]}, "language": "zxx", "audio": {"danceability": 0.54, "energy": 0.73, "valence": 0.38, "tempo": 101.5, "acousticness": 0.032, "instrumentalness": 0.76, "speechiness": 0.022, "liveness": 0.046, "loudness": -6.6, "key": 2, "mode": 0}}'),
  ('demo:t085', '{"summary": "Warm retro-futurist synthwave with detuned pads, gated snares and a wistful lead synth under a chrome sunset.", "moods": ["nostalgic", "dreamy"], "themes": ["retro future", "sunset", "nostalgia"], "genres": {"primary": "synthwave", "secondary": ["retrowave", "chillwave"]}, "language": "zxx", "audio": {"danceability": 0.64, "energy": 0.8, "valence": 0.39, "tempo": 104.5, "acousticness": 0.011, "instrumentalness": 0.7, "speechiness": 0.052, "liveness": 0.11, "loudness": -7.3, "key": 7, "mode": 1}}'),
  ('demo:t086', '{"summary": "Sun-soaked reggaeton pop sung in Spanish, with a dembow beat and breezy synths, about dancing on a rooftop until sunrise.", "moods": ["festive", "joyful", "sensual"], "themes": ["dancing", "summer", "party"], "genres": {"primary": "reggaeton", "secondary": ["latin pop", "dembow"]}, "language": "es", "audio": {"danceability": 0.83, "energy": 0.91, "valence": 0.83, "tempo": 94.5, "acousticness": 0.19, "instrumentalness": 0.004, "speechiness": 0.11, "liveness": 0.13, "loudness": -3.7, "key": 1, "mode": 0}}'),
  ('demo:t087', '{"summary": "Cheerful accordion cumbia with güiro and a sing-along Spanish chorus comparing a sweet love to a ripe mango.", "moods": ["joyful", "playful"], "themes": ["romance", "summer", "dancing"], "genres": {"primary": "cumbia", "secondary": ["tropical", "latin"]}, "language": "es", "audio": {"danceability": 0.85, "energy": 0.8, "valence": 0.79, "tempo": 96.0, "acousticness": 0.35, "instrumentalness": 0.009, "speechiness": 0.1, "liveness": 0.089, "loudness": -4.9, "key": 6, "mode": 1}}'),
  ('demo:t088', '{"summary": "Brassy salsa dura with a blazing trombone section, congas and timbales; a Spanish-language tale of a midnight dance hall.", "moods": ["festive", "energetic"], "themes": ["dancing", "night", "party"], "genres": {"primary": "salsa", "secondary": ["salsa dura", "tropical"]}, "language": "es", "audio": {"danceability": 0.79, "energy": 0.85, "valence": 0.84, "tempo": 104.0, "acousticness": 0.3, "instrumentalness": 0.004, "speechiness": 0.12, "liveness": 0.32, "loudness": -5.6, "key": 1, "mode": 1}}'),
  ('demo:t089', '{"summary": "Hard-hitting reggaeton with a heavy dembow, chopped vocal chants in Spanish and a call to move your hips.", "moods": ["energetic", "sensual", "festive"], "themes": ["dancing", "party", "nightlife"], "genres": {"primary": "reggaeton", "secondary": ["dembow", "urbano"]}, "language": "es", "audio": {"danceability": 0.79, "energy": 0.85, "valence": 0.97, "tempo": 95.0, "acousticness": 0.11, "instrumentalness": 0.007, "speechiness": 0.14, "liveness": 0.06, "loudness": -5.4, "key": 2, "mode": 1}}'),
  ('demo:t090', '{"summary": "Percussion-driven salsa with a rumba breakdown, piano montuno and call-and-response Spanish vocals celebrating a neighbourhood festival.", "moods": ["festive", "joyful"], "themes": ["dancing", "community", "celebration"], "genres": {"primary": "salsa", "secondary": ["rumba", "tropical"]}, "language": "es", "audio": {"danceability": 0.78, "energy": 0.81, "valence": 0.8, "tempo": 89.0, "acousticness": 0.34, "instrumentalness": 0.004, "speechiness": 0.062, "liveness": 0.4, "loudness": -3.4, "key": 5, "mode": 0}}'),
  ('demo:t091', '{"summary": "Glossy Latin pop duet over a reggaeton beat with flirty Spanish verses about the spark of a first dance.", "moods": ["flirty", "joyful"], "themes": ["romance", "dancing", "summer"], "genres": {"primary": "latin pop", "secondary": ["reggaeton"]}, "language": "es", "audio": {"danceability": 0.79, "energy": 0.82, "valence": 0.81, "tempo": 93.3, "acousticness": 0.2, "instrumentalness": 0.011, "speechiness": 0.094, "liveness": 0.11, "loudness": -4.1, "key": 11, "mode": 0}}'),
  ('demo:t092', '{"summary": "Humorous accordion-led cumbia in Spanish about a neighbour who out-dances everyone at the block party.", "moods": ["playful", "festive"], "themes": ["dancing", "party", "community"], "genres": {"primary": "cumbia", "secondary": ["tropical", "latin"]}, "language": "es", "audio": {"danceability": 0.73, "energy": 0.8, "valence": 0.72, "tempo": 97.0, "acousticness": 0.32, "instrumentalness": 0.011, "speechiness": 0.061, "liveness": 0.21, "loudness": -3.9, "key": 7, "mode": 1}}'),
  ('demo:t093', '{"summary": "A sensual modern bachata with requinto guitar and bongos, sung in Spanish about a slow-burning romance.", "moods": ["sensual", "romantic"], "themes": ["romance", "desire", "night"], "genres": {"primary": "bachata", "secondary": ["latin pop", "tropical"]}, "language": "es", "audio": {"danceability": 0.91, "energy": 0.62, "valence": 0.62, "tempo": 126.0, "acousticness": 0.42, "instrumentalness": 0.006, "speechiness": 0.081, "liveness": 0.23, "loudness": -4.7, "key": 0, "mode": 1}}'),
  ('demo:t094', '{"summary": "Explosive party anthem mixing reggaeton, brass stabs and carnival whistles, with a shouted Spanish hook about a street carnival.", "moods": ["euphoric", "festive", "energetic"], "themes": ["celebration", "party", "dancing"], "genres": {"primary": "reggaeton", "secondary": ["latin pop", "dembow"]}, "language": "es", "audio": {"danceability": 0.89, "energy": 0.88, "valence": 0.89, "tempo": 98.3, "acousticness": 0.18, "instrumentalness": 0.012, "speechiness": 0.045, "liveness": 0.12, "loudness": -4.7, "key": 2, "mode": 1}}'),
  ('demo:t095', '{"summary": "Bouncy reggaeton with a rolling dembow, tropical marimba and Spanish party chants inviting everyone to the dance floor.", "moods": ["festive", "energetic", "joyful"], "themes": ["dancing", "party", "summer"], "genres": {"primary": "reggaeton", "secondary": ["dembow", "latin pop"]}, "language": "es", "audio": {"danceability": 0.85, "energy": 0.74, "valence": 0.76, "tempo": 93.3, "acousticness": 0.29, "instrumentalness": 0, "speechiness": 0.046, "liveness": 0.14, "loudness": -5.8, "key": 5, "mode": 1}}'),
  ('demo:t096', '{"summary": "Joyful accordion cumbia with güiro and a sing-along Spanish chorus about dancing under a street lantern all night.", "moods": ["joyful", "festive"], "themes": ["dancing", "summer", "community"], "genres": {"primary": "cumbia", "secondary": ["tropical", "latin"]}, "language": "es", "audio": {"danceability": 0.76, "energy": 0.79, "valence": 0.76, "tempo": 97.0, "acousticness": 0.33, "instrumentalness": 0, "speechiness": 0.11, "liveness": 0.16, "loudness": -4.4, "key": 0, "mode": 1}}'),
  ('demo:t097', '{"summary": "A fingerpicked acoustic breakup song sung softly against the sound of rain; she hoped the storm would wash away the memory of him.", "moods": ["heartbroken", "melancholic", "calm"], "themes": ["breakup", "rain", "longing"], "genres": {"primary": "singer-songwriter", "secondary": ["acoustic", "pop ballad"]}, "language": "en", "audio": {"danceability": 0.38, "energy": 0.21, "valence": 0.16, "tempo": 78.0, "acousticness": 0.91, "instrumentalness": 0.01, "speechiness": 0.035, "liveness": 0.1, "loudness": -11.0, "key": 5, "mode": 0}}'),
  ('demo:t098', '{"summary": "Synth-driven arena rock: pulsing analog arpeggios and gated drums under big guitars and a huge sung chorus about driving all night on a neon-lit interstate.", "moods": ["euphoric", "nostalgic", "driving"], "themes": ["road trip", "night drive", "freedom"], "genres": {"primary": "synth rock", "secondary": ["synthwave", "rock", "synthpop"]}, "language": "en", "audio": {"danceability": 0.57, "energy": 0.76, "valence": 0.64, "tempo": 114.0, "acousticness": 0.03, "instrumentalness": 0.22, "speechiness": 0.035, "liveness": 0.12, "loudness": -5.8, "key": 9, "mode": 1}}'),
  ('demo:t099', '{"summary": "Chillhop beat with dusty swung drums and vinyl crackle under a live tenor saxophone, upright bass and jazz piano chords; half late-night lo-fi, half lazy jazz club.", "moods": ["chill", "relaxed", "warm"], "themes": ["night", "leisure", "cafe"], "genres": {"primary": "jazzhop", "secondary": ["lo-fi hip hop", "jazz"]}, "language": "zxx", "audio": {"danceability": 0.6, "energy": 0.32, "valence": 0.6, "tempo": 92.0, "acousticness": 0.78, "instrumentalness": 0.74, "speechiness": 0.05, "liveness": 0.16, "loudness": -12.2, "key": 9, "mode": 1}}'),
  ('demo:t100', '{"summary": "A high-octane reggaeton-EDM crossover: a dembow beat that explodes into a festival drop, with Spanish chants about sweating it out on the dance floor and in the gym.", "moods": ["energetic", "hype", "festive"], "themes": ["dancing", "motivation", "endurance"], "genres": {"primary": "reggaeton", "secondary": ["edm", "moombahton", "latin"]}, "language": "es", "audio": {"danceability": 0.8, "energy": 0.92, "valence": 0.74, "tempo": 108.0, "acousticness": 0.05, "instrumentalness": 0.02, "speechiness": 0.1, "liveness": 0.17, "loudness": -3.9, "key": 7, "mode": 0}}'),
  ('demo:t101', '{"summary": "A silly children''s sing-along with kazoo, ukulele and hand claps, counting worms marching through the garden; cheerful, simple and repetitive.", "moods": ["playful", "silly", "cheerful"], "themes": ["animals", "counting", "playtime"], "genres": {"primary": "children''s music", "secondary": ["novelty", "sing-along"]}, "language": "en", "audio": {"danceability": 0.74, "energy": 0.55, "valence": 0.96, "tempo": 116.0, "acousticness": 0.62, "instrumentalness": 0, "speechiness": 0.22, "liveness": 0.24, "loudness": -8.2, "key": 7, "mode": 1}}'),
  ('demo:t102', '{"summary": "A spoken-word, podcast-style monologue about how bee colonies decide where to forage, with a short acoustic jingle at the start and end; almost entirely talk.", "moods": ["curious", "calm", "informative"], "themes": ["nature", "science", "bees"], "genres": {"primary": "spoken word", "secondary": ["podcast", "educational"]}, "language": "en", "audio": {"danceability": 0.58, "energy": 0.18, "valence": 0.52, "tempo": 104.0, "acousticness": 0.81, "instrumentalness": 0, "speechiness": 0.93, "liveness": 0.3, "loudness": -16.5, "key": 0, "mode": 1}}'),
  ('demo:t103', '{"summary": "Blast-beat death metal with guttural growls, tremolo-picked riffs and horror lyrics about a crumbling bone cathedral.", "moods": ["aggressive", "dark", "menacing"], "themes": ["death", "horror", "decay"], "genres": {"primary": "death metal", "secondary": ["extreme metal"]}, "language": "en", "audio": {"danceability": 0.21, "energy": 0.98, "valence": 0.08, "tempo": 196.0, "acousticness": 0, "instrumentalness": 0.35, "speechiness": 0.12, "liveness": 0.21, "loudness": -3.1, "key": 4, "mode": 0}}'),
  ('demo:t104', '{"summary": "A baroque-style solo harpsichord partita in four short movements, delicate and ornamented.", "moods": ["delicate", "elegant", "calm"], "themes": ["baroque", "domestic life", "contemplation"], "genres": {"primary": "classical", "secondary": ["baroque", "harpsichord"]}, "language": "zxx", "audio": {"danceability": 0.3, "energy": 0.15, "valence": 0.48, "tempo": 100.0, "acousticness": 0.99, "instrumentalness": 0.93, "speechiness": 0.04, "liveness": 0.09, "loudness": -19.5, "key": 9, "mode": 1}}'),
  ('demo:t105', '{"summary": "Fast, joyful bluegrass breakdown with banjo rolls, fiddle and upright bass trading solos on a summer porch.", "moods": ["joyful", "lively"], "themes": ["rural life", "summer", "community"], "genres": {"primary": "bluegrass", "secondary": ["americana", "country"]}, "language": "zxx", "audio": {"danceability": 0.55, "energy": 0.74, "valence": 0.88, "tempo": 152.0, "acousticness": 0.93, "instrumentalness": 0.82, "speechiness": 0.04, "liveness": 0.35, "loudness": -8.0, "key": 7, "mode": 1}}'),
  ('demo:t106', '{"summary": "Glossy K-pop dance track sung in Korean with a rap break, stuttering synth hook and a key-change final chorus about sending a signal to a crush.", "moods": ["upbeat", "bright", "flirty"], "themes": ["crush", "youth", "stars"], "genres": {"primary": "k-pop", "secondary": ["dance pop", "electropop"]}, "language": "ko", "audio": {"danceability": 0.78, "energy": 0.86, "valence": 0.76, "tempo": 124.0, "acousticness": 0.06, "instrumentalness": 0, "speechiness": 0.09, "liveness": 0.13, "loudness": -3.6, "key": 1, "mode": 1}}')
) as v(track_external_id, analysis)
join songmatch.tracks t on t.external_id = v.track_external_id
on conflict (track_id) do nothing;

-- Playlist analyses -------------------------------------------------------------
insert into songmatch.playlist_analyses (playlist_id, analysis, analysis_version)
select p.id, v.analysis::jsonb, '1'
from (values
  ('demo:p1', '{"summary": "Hushed, fingerpicked acoustic folk for wet grey days: gentle voices, nylon and steel-string guitars, cello and harmonium, with lyrics about rain, home and quiet memories.", "moods": ["melancholic", "calm", "cozy", "reflective"], "themes": ["rain", "memories", "home", "solitude"], "genres": {"primary": "indie folk", "secondary": ["acoustic", "singer-songwriter", "chamber folk"]}}'),
  ('demo:p2', '{"summary": "Relentless high-tempo workout fuel: EDM drops, trap and rap-rock with shouted hooks about strength, grinding and pushing past the limit.", "moods": ["energetic", "aggressive", "hype", "determined"], "themes": ["motivation", "strength", "endurance", "competition"], "genres": {"primary": "edm", "secondary": ["trap", "hard rock", "drum and bass", "hip hop"]}}'),
  ('demo:p3', '{"summary": "Mellow instrumental lo-fi hip hop: dusty swung drums, jazzy Rhodes chords, tape hiss and vinyl crackle for late-night focus and quiet city solitude.", "moods": ["chill", "mellow", "nostalgic", "focused"], "themes": ["night", "studying", "city", "solitude"], "genres": {"primary": "lo-fi hip hop", "secondary": ["chillhop", "instrumental hip hop", "jazzhop"]}}'),
  ('demo:p4', '{"summary": "Warm, unhurried acoustic jazz for a slow weekend morning: piano trios, brushed snares, muted trumpet, a few vocal standards-style tunes and sunny bossa nova.", "moods": ["relaxed", "warm", "cheerful", "elegant"], "themes": ["weekend", "breakfast", "leisure", "sunshine"], "genres": {"primary": "jazz", "secondary": ["piano trio", "bossa nova", "vocal jazz", "swing"]}}'),
  ('demo:p5', '{"summary": "Upbeat guitar-driven rock and pop rock with huge sing-along choruses about highways, freedom, friends and summer horizons.", "moods": ["upbeat", "euphoric", "carefree", "nostalgic"], "themes": ["road trip", "freedom", "friendship", "summer"], "genres": {"primary": "rock", "secondary": ["pop rock", "heartland rock", "pop punk", "southern rock"]}}'),
  ('demo:p6', '{"summary": "Slow, aching piano and string ballads about breakups, loss and the empty spaces someone leaves behind, sung close to the microphone.", "moods": ["sad", "heartbroken", "melancholic", "tender"], "themes": ["breakup", "loss", "longing", "regret"], "genres": {"primary": "pop ballad", "secondary": ["piano ballad", "soul", "chanson"]}}'),
  ('demo:p7', '{"summary": "Retro-futurist 1980s-inspired synthwave and outrun: arpeggiated analog synths, gated drums and neon-soaked night-drive atmospheres, mostly instrumental.", "moods": ["nostalgic", "dreamy", "driving", "mysterious"], "themes": ["night drive", "neon city", "retro future", "nostalgia"], "genres": {"primary": "synthwave", "secondary": ["outrun", "retrowave", "synthpop", "darksynth"]}}'),
  ('demo:p8', '{"summary": "Sun-drenched Latin party music sung in Spanish: reggaeton dembow grooves, brassy salsa, accordion cumbia and a bachata or two, all about dancing, summer nights and flirting.", "moods": ["festive", "joyful", "sensual", "energetic"], "themes": ["dancing", "party", "summer", "romance"], "genres": {"primary": "latin", "secondary": ["reggaeton", "salsa", "cumbia", "latin pop", "bachata"]}}')
) as v(playlist_external_id, analysis)
join songmatch.playlists p on p.external_id = v.playlist_external_id
on conflict (playlist_id) do nothing;

-- Sanity check: abort if any demo row did not make it in -------------------------
do $$
declare
  n_tracks int; n_playlists int; n_members int; n_liked int; n_ta int; n_pa int;
begin
  select count(*) into n_tracks from songmatch.tracks where external_id like 'demo:t%';
  select count(*) into n_playlists from songmatch.playlists where external_id like 'demo:p%';
  select count(*) into n_members from songmatch.playlist_tracks pt
    join songmatch.playlists p on p.id = pt.playlist_id where p.external_id like 'demo:p%';
  select count(*) into n_liked from songmatch.liked_tracks lt
    join songmatch.tracks t on t.id = lt.track_id
    where lt.user_id = '00000000-0000-4000-8000-000000000001' and t.external_id like 'demo:t%';
  select count(*) into n_ta from songmatch.track_analyses ta
    join songmatch.tracks t on t.id = ta.track_id where t.external_id like 'demo:t%';
  select count(*) into n_pa from songmatch.playlist_analyses pa
    join songmatch.playlists p on p.id = pa.playlist_id where p.external_id like 'demo:p%';
  if (n_tracks, n_playlists, n_members, n_liked, n_ta, n_pa) <> (106, 8, 76, 36, 106, 8) then
    raise exception 'songmatch demo catalogue incomplete: tracks=%, playlists=%, memberships=%, liked=%, track_analyses=%, playlist_analyses=%',
      n_tracks, n_playlists, n_members, n_liked, n_ta, n_pa;
  end if;
end
$$;

commit;

-- Expected matches (ground truth for demos and tests) -----------------------------
--
-- Liked tracks NOT in any playlist that clearly belong to one playlist:
--   demo:p1 Rainy Day Acoustic:  demo:t011, demo:t012, demo:t013
--       demo:t011  Wren Halloway - Steam on the Glass
--       demo:t012  The Alder Lanterns - Slow Gutter Rivers
--       demo:t013  Ottilie Brask - Tin Roof Evensong
--   demo:p2 Gym Power Hour:      demo:t023, demo:t024
--       demo:t023  VOLTCRANE - Beast Mode Activated
--       demo:t024  Ryla Stone - Ten More Seconds
--   demo:p3 Late Night Lo-fi:    demo:t035, demo:t036, demo:t037
--       demo:t035  mellowmoth - Midnight Homework
--       demo:t036  sleepy.cartographer - Ceiling Fan Loop
--       demo:t037  Lumen Loops - Soft Reboot
--   demo:p4 Sunday Brunch Jazz:  demo:t047, demo:t048
--       demo:t047  Lou Farrow Quartet - Eggs Over Easy
--       demo:t048  Della Marchetti - Pancake Stack Swing
--   demo:p5 Road Trip Anthems:   demo:t059, demo:t060, demo:t061
--       demo:t059  Bright Forty - Mile 300 Singalong
--       demo:t060  Dakota Rell - Open Sky Overdrive
--       demo:t061  Wilder Coast - Sunroof Symphony
--   demo:p6 Heartbreak Ballads:  demo:t071, demo:t072
--       demo:t071  Theo Vance - The Last Voicemail
--       demo:t072  Noor Whitlaw - Half a Wardrobe
--   demo:p7 Synthwave Nights:    demo:t083, demo:t084, demo:t085
--       demo:t083  Kassette Kid - Grid Runner 2099
--       demo:t084  NEON VESPER - Magenta Overdrive
--       demo:t085  Sable Motorik - Analog Afterglow
--   demo:p8 Fiesta Latina:       demo:t095, demo:t096
--       demo:t095  DJ Tamarindo - Tiki Taka Tumbao
--       demo:t096  Los Primos del Malecón - Cumbia del Farolito
--
-- Ambiguous liked tracks (not in any playlist; fit two playlists about equally):
--   demo:t097  Lise Carrow - Rain Won't Wash You Out  ->  demo:p1 (Rainy Day Acoustic) or demo:p6 (Heartbreak Ballads)
--   demo:t098  Highline Static - Neon Interstate  ->  demo:p5 (Road Trip Anthems) or demo:p7 (Synthwave Nights)
--   demo:t099  mellowmoth & Lou Farrow - Saxophone Screensaver  ->  demo:p3 (Late Night Lo-fi) or demo:p4 (Sunday Brunch Jazz)
--   demo:t100  DJ Tamarindo x VOLTCRANE - Sudor y Ritmo  ->  demo:p2 (Gym Power Hour) or demo:p8 (Fiesta Latina)
--
-- Liked tracks that fit NO playlist (matching should return nothing confident):
--   demo:t101  Auntie Pumpernickel & the Sprouts - The Wiggly Worm Parade
--   demo:t102  The Meandering Naturalist - Field Notes, Episode 12: The Quiet Economics of Bees
--
-- Liked tracks that are already members of a playlist (nothing to suggest):
--   demo:t001  in demo:p1 (Rainy Day Acoustic)  The Alder Lanterns - Windowpane Hymn
--   demo:t014  in demo:p2 (Gym Power Hour)  VOLTCRANE - Iron Lungs
--   demo:t025  in demo:p3 (Late Night Lo-fi)  nightowl kazu - 3 AM Ramen
--   demo:t029  in demo:p3 (Late Night Lo-fi)  Ushio Drift - Neon Puddles
--   demo:t042  in demo:p4 (Sunday Brunch Jazz)  Della Marchetti - Second Cup
--   demo:t049  in demo:p5 (Road Trip Anthems)  The Mile Marker Saints - Highway Halo
--   demo:t053  in demo:p5 (Road Trip Anthems)  Paloma Hart - Rearview Confetti
--   demo:t062  in demo:p6 (Heartbreak Ballads)  Elena Marsh - Your Side of the Bed
--   demo:t073  in demo:p7 (Synthwave Nights)  NEON VESPER - Chrome Horizon
--   demo:t091  in demo:p8 (Fiesta Latina)  Lunamar & Rayo Cruz - Chispa
--
-- Tracks in no playlist and not liked (distractors): demo:t103, demo:t104, demo:t105, demo:t106
-- Playlist members: demo:p1 t001-t010; demo:p2 t014-t022; demo:p3 t025-t034; demo:p4 t038-t046; demo:p5 t049-t058; demo:p6 t062-t070; demo:p7 t073-t082; demo:p8 t086-t094

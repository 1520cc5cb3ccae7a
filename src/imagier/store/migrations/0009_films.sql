-- Films imported as frames. A film is a file on disk that is never an image itself: each frame taken from
-- it is a file of the project (files.path is the film's path and the frame's time as a media fragment,
-- "film.mp4#t=12.480") whose content is the frame's pixels, so that thumbnails, vectors and values work
-- as for any image. The frame's original is decoded again from the film when asked for (its pixels hash
-- to the content's hash), so nothing but the film needs to stay on disk.
CREATE TABLE films (
    id        INTEGER PRIMARY KEY,
    path      TEXT NOT NULL UNIQUE,          -- absolute POSIX path of the video file
    hash      TEXT NOT NULL,                 -- hex SHA-256 of its bytes, to tell a changed film from a touched one
    size      INTEGER NOT NULL,              -- bytes
    mtime_ns  INTEGER NOT NULL,
    duration  REAL NOT NULL,                 -- seconds
    fps       REAL NOT NULL,
    width     INTEGER NOT NULL,
    height    INTEGER NOT NULL,
    codec     TEXT NOT NULL,                 -- FFmpeg's name, upper case: H264, VP9, ...
    sampling  TEXT NOT NULL,                 -- JSON: {"every": seconds, "shots": bool}, what its import took
    shots     INTEGER                        -- the number of shots found; NULL when shots were not detected
);

CREATE TABLE frames (
    file_id    INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    film_id    INTEGER NOT NULL REFERENCES films(id) ON DELETE CASCADE,
    time       REAL NOT NULL,                -- seconds from the film's start
    shot       INTEGER,                      -- 1, 2, ...; NULL when shots were not detected
    shot_start REAL,                         -- seconds
    shot_end   REAL
);
CREATE INDEX frames_film_time ON frames(film_id, time);

-- The frames' built-in properties (film, time, timecode, shot, shot start, shot end) take names a project may
-- already give its own properties: those are renamed, keeping their values, rather than hidden behind them.
UPDATE properties SET name = name || ' (own)'
WHERE lower(name) IN ('film', 'time', 'timecode', 'shot', 'shot start', 'shot end');

-- What herald saw of the tag lists of watchRepo repositories. A tag that is in a listing but not in
-- the one before is a tag that appeared: its `new` event is notified. Tags present at a
-- repository's first listing are not (unless watch.firstCheckNotify).

CREATE TABLE repositories (
  repository            TEXT PRIMARY KEY,        -- registry/repository: docker.io/library/nginx
  first_listed          TEXT NOT NULL,
  last_listed           TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE repository_tags (
  repository            TEXT NOT NULL REFERENCES repositories (repository) ON DELETE CASCADE,
  tag                   TEXT NOT NULL,
  first_seen            TEXT NOT NULL,           -- the listing it first appeared in
  PRIMARY KEY (repository, tag)
) WITHOUT ROWID;

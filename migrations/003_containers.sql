-- What the engine and cluster sources saw running: one row per container, replaced per source by
-- each run whose listing of that source succeeded (a failed listing leaves its rows as they were).
CREATE TABLE containers (
  source                TEXT NOT NULL,           -- sources[].name
  id                    TEXT NOT NULL,           -- Docker: container id; Kubernetes: pod uid
  name                  TEXT NOT NULL,           -- Docker: container name; Kubernetes: pod/container
  namespace             TEXT,                    -- Kubernetes only
  image                 TEXT NOT NULL,           -- normalized reference it follows: docker.io/library/nginx:1.27
  platform              TEXT NOT NULL,
  running_digest        TEXT,                    -- the digest it runs, as its engine reports it; NULL when unknown
  last_seen             TEXT NOT NULL,
  PRIMARY KEY (source, id, name)
) WITHOUT ROWID;
CREATE INDEX containers_image ON containers (image, platform);

-- The registry digest last reported as one that running containers are behind: an outdated
-- container is reported once per (image, platform, registry digest).
ALTER TABLE image_state ADD COLUMN outdated_digest TEXT;
-- Which sources list the image, comma-separated: 'config' for images: and include files, else sources[].name.
ALTER TABLE image_state ADD COLUMN sources TEXT;

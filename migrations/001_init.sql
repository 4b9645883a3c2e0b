-- herald's first schema. State per (image, platform); events; the delivery outbox.
-- Timestamps are ISO-8601 UTC strings except *_at_ms columns (epoch ms) used for scheduling.

CREATE TABLE image_state (
  image                 TEXT NOT NULL,          -- normalized reference: docker.io/library/nginx:1.27
  platform              TEXT NOT NULL,          -- os/arch[/variant]
  digest                TEXT,                   -- digest the tag resolved to (index digest for multi-platform); NULL until a first successful check
  media_type            TEXT,
  platform_digest       TEXT,                   -- the selected platform's manifest digest (= digest for single-platform)
  created               TEXT,                   -- image config 'created', when fetched
  labels                TEXT,                   -- JSON object of config labels, when fetched
  first_seen            TEXT NOT NULL,
  last_checked          TEXT,
  last_changed          TEXT,
  error                 TEXT,                   -- last error message while failing, else NULL
  error_since           TEXT,                   -- when the current failure streak started
  PRIMARY KEY (image, platform)
) WITHOUT ROWID;

CREATE TABLE events (
  seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
  id                    TEXT NOT NULL UNIQUE,
  status                TEXT NOT NULL CHECK (status IN ('new', 'update', 'error')),
  image                 TEXT NOT NULL,
  platform              TEXT NOT NULL,
  detected_at           TEXT NOT NULL,
  payload               TEXT NOT NULL            -- the whole event as JSON (the contract's event shape)
);
CREATE INDEX events_image ON events (image, platform);

-- The outbox. One delivery = one message to one notifier, carrying one event (or, with batch, all of a
-- run's events for that notifier). Written in the same transaction as the events it carries.
CREATE TABLE deliveries (
  id                    TEXT PRIMARY KEY,        -- stable across retries: X-Herald-Delivery
  notifier              TEXT NOT NULL,
  status                TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
  attempts              INTEGER NOT NULL DEFAULT 0,
  created_at_ms         INTEGER NOT NULL,
  next_attempt_at_ms    INTEGER NOT NULL,
  sent_at_ms            INTEGER,
  last_error            TEXT
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at_ms);

CREATE TABLE delivery_events (
  delivery_id           TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  event_id              TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  PRIMARY KEY (delivery_id, event_id)
) WITHOUT ROWID;
CREATE INDEX delivery_events_event ON delivery_events (event_id);

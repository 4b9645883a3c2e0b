-- What each registry's GET /v2/ last said about auth: the challenge herald answers (scheme and
-- parameters: Bearer realm and service, or Basic), or none when /v2/ asked for no auth. A `check`
-- that finds a fresh one here skips the ping; one that turns out wrong is dropped and the registry
-- pinged again. A cache only: losing it costs one ping per registry.

CREATE TABLE registry_challenges (
  endpoint              TEXT PRIMARY KEY,        -- origin and CA file: "https://ghcr.io|"
  challenge             TEXT,                    -- JSON {scheme, params, token68?}; NULL: no auth asked
  pinged_at             INTEGER NOT NULL         -- epoch ms of the ping that gave it
) WITHOUT ROWID;

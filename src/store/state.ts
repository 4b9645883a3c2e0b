import type { DB } from './db.js';

/** What herald remembers of one (image, platform). */
export interface ImageState {
  image: string;
  platform: string;
  digest: string | null;
  mediaType: string | null;
  platformDigest: string | null;
  created: string | null;
  labels: Record<string, string> | null;
  firstSeen: string;
  lastChecked: string | null;
  lastChanged: string | null;
  error: string | null;
  errorSince: string | null;
}

interface Row {
  image: string;
  platform: string;
  digest: string | null;
  media_type: string | null;
  platform_digest: string | null;
  created: string | null;
  labels: string | null;
  first_seen: string;
  last_checked: string | null;
  last_changed: string | null;
  error: string | null;
  error_since: string | null;
}

function fromRow(r: Row): ImageState {
  return {
    image: r.image,
    platform: r.platform,
    digest: r.digest,
    mediaType: r.media_type,
    platformDigest: r.platform_digest,
    created: r.created,
    labels: r.labels === null ? null : (JSON.parse(r.labels) as Record<string, string>),
    firstSeen: r.first_seen,
    lastChecked: r.last_checked,
    lastChanged: r.last_changed,
    error: r.error,
    errorSince: r.error_since,
  };
}

type RawRow = [
  image: string, platform: string, digest: string | null, mediaType: string | null, platformDigest: string | null,
  created: string | null, labels: string | null, firstSeen: string, lastChecked: string | null,
  lastChanged: string | null, error: string | null, errorSince: string | null,
];

export function stateKey(image: string, platform: string): string {
  return `${image}\u0000${platform}`;
}

export class StateStore {
  private readonly upsertStmt;
  private readonly allStmt;
  private readonly oneStmt;
  private readonly byImageStmt;
  private readonly deleteOneStmt;
  private readonly deleteImageStmt;
  private readonly touchStmt;
  private readonly mapStmt;

  constructor(private readonly db: DB) {
    this.upsertStmt = db.prepare(`INSERT INTO image_state
      (image, platform, digest, media_type, platform_digest, created, labels, first_seen, last_checked, last_changed, error, error_since)
      VALUES (@image, @platform, @digest, @mediaType, @platformDigest, @created, @labels, @firstSeen, @lastChecked, @lastChanged, @error, @errorSince)
      ON CONFLICT (image, platform) DO UPDATE SET
        digest = excluded.digest, media_type = excluded.media_type, platform_digest = excluded.platform_digest,
        created = excluded.created, labels = excluded.labels, last_checked = excluded.last_checked,
        last_changed = excluded.last_changed, error = excluded.error, error_since = excluded.error_since`);
    this.allStmt = db.prepare('SELECT * FROM image_state ORDER BY image, platform');
    this.oneStmt = db.prepare('SELECT * FROM image_state WHERE image = ? AND platform = ?');
    this.byImageStmt = db.prepare('SELECT * FROM image_state WHERE image = ? ORDER BY platform');
    this.deleteOneStmt = db.prepare('DELETE FROM image_state WHERE image = ? AND platform = ?');
    this.deleteImageStmt = db.prepare('DELETE FROM image_state WHERE image = ?');
    this.touchStmt = db.prepare(
      `UPDATE image_state SET last_checked = ? WHERE (image, platform) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`,
    );
    this.mapStmt = db
      .prepare(
        `SELECT image, platform, digest, media_type, platform_digest, created, labels, first_seen, last_checked, last_changed, error, error_since FROM image_state`,
      )
      .raw(true);
  }

  all(): ImageState[] {
    return (this.allStmt.all() as Row[]).map(fromRow);
  }

  /**
   * Every state keyed by stateKey(image, platform): one query per run instead of one per image.
   * Rows come back as arrays (no intermediate objects): this runs at the start of every run.
   */
  map(): Map<string, ImageState> {
    const m = new Map<string, ImageState>();
    for (const r of this.mapStmt.all() as RawRow[]) {
      const labels = r[6];
      m.set(stateKey(r[0], r[1]), {
        image: r[0],
        platform: r[1],
        digest: r[2],
        mediaType: r[3],
        platformDigest: r[4],
        created: r[5],
        labels: labels === null ? null : labels === '{}' ? {} : (JSON.parse(labels) as Record<string, string>),
        firstSeen: r[7],
        lastChecked: r[8],
        lastChanged: r[9],
        error: r[10],
        errorSince: r[11],
      });
    }
    return m;
  }

  /** Sets last_checked of these states, in one statement (they must exist; others are ignored). */
  touch(at: string, keys: ReadonlyArray<readonly [string, string]>): void {
    this.touchStmt.run(at, JSON.stringify(keys));
  }

  get(image: string, platform: string): ImageState | undefined {
    const row = this.oneStmt.get(image, platform) as Row | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  byImage(image: string): ImageState[] {
    return (this.byImageStmt.all(image) as Row[]).map(fromRow);
  }

  upsert(s: ImageState): void {
    this.upsertStmt.run({ ...s, labels: s.labels === null ? null : JSON.stringify(s.labels) });
  }

  /** Removes one platform's state, or every platform of the image. Returns the number removed. */
  remove(image: string, platform?: string): number {
    return platform === undefined ? this.deleteImageStmt.run(image).changes : this.deleteOneStmt.run(image, platform).changes;
  }
}

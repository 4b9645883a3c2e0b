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
  }

  all(): ImageState[] {
    return (this.allStmt.all() as Row[]).map(fromRow);
  }

  /** Every state keyed by stateKey(image, platform): one query per run instead of one per image. */
  map(): Map<string, ImageState> {
    const m = new Map<string, ImageState>();
    for (const s of this.all()) m.set(stateKey(s.image, s.platform), s);
    return m;
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

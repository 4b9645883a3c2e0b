/**
 * WWW-Authenticate parsing (RFC 7235 §4.1 with the habits of real registries).
 *
 * One header may hold several challenges ("Bearer realm=…,service=…, Basic realm=…"); the scheme is
 * case-insensitive (Nexus sends "BASIC"); parameter values are tokens or quoted strings with
 * backslash escapes, and commas inside quotes belong to the value. A challenge may instead carry a
 * token68 blob. The parser is lenient: it never throws, it skips what it cannot read and returns
 * whatever challenges it recognised, because a registry that sends one odd byte should still be
 * usable when the rest of its header makes sense.
 */

export interface Challenge {
  /** Lower-cased auth scheme: 'bearer', 'basic', … */
  scheme: string;
  /** Parameters with lower-cased names. Later duplicates are ignored. */
  params: Record<string, string>;
  /** The token68 form, when the challenge has one instead of parameters. */
  token68?: string;
}

const TCHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;
const TOKEN68 = /^[A-Za-z0-9._~+/-]+=*/;

class Scanner {
  pos = 0;
  constructor(readonly s: string) {}
  get done(): boolean {
    return this.pos >= this.s.length;
  }
  peek(): string {
    return this.s[this.pos] ?? '';
  }
  skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }
  /** Skips whitespace and list separators (the '#' rule allows empty list elements). */
  skipSeparators(): void {
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === ',') this.pos++;
  }
  token(): string {
    const start = this.pos;
    while (!this.done && TCHAR.test(this.peek())) this.pos++;
    return this.s.slice(start, this.pos);
  }
  /** Reads a quoted string starting at '"'; an unterminated one runs to the end of the header. */
  quoted(): string {
    this.pos++; // opening quote
    let out = '';
    while (!this.done) {
      const c = this.peek();
      this.pos++;
      if (c === '"') return out;
      if (c === '\\' && !this.done) {
        out += this.peek();
        this.pos++;
      } else {
        out += c;
      }
    }
    return out;
  }
  /** True when the text at the cursor is `token BWS "="` but not a token68 followed by the list end. */
  atParam(): boolean {
    const save = this.pos;
    const name = this.token();
    this.skipSpaces();
    const isParam = name.length > 0 && this.peek() === '=';
    this.pos = save;
    if (!isParam) return false;
    // "abc==" or "abc=" followed by the end of the challenge is a token68, not a parameter.
    const m = TOKEN68.exec(this.s.slice(this.pos));
    if (m && m[0].endsWith('=')) {
      const after = this.s.slice(this.pos + m[0].length).replace(/^[ \t]*/, '');
      if (after === '' || after.startsWith(',')) return false;
    }
    return true;
  }
}

export function parseWwwAuthenticate(header: string | string[] | undefined | null): Challenge[] {
  if (header === undefined || header === null) return [];
  // Several header lines are one comma-separated list.
  const text = Array.isArray(header) ? header.filter((h) => typeof h === 'string').join(', ') : String(header);
  const sc = new Scanner(text);
  const out: Challenge[] = [];

  while (true) {
    sc.skipSeparators();
    if (sc.done) break;
    const scheme = sc.token();
    if (scheme.length === 0) {
      sc.pos++; // garbage byte: skip it and look for the next challenge
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    sc.skipSpaces();

    // token68 form: "Basic dXNlcjpwYXNz" or "Negotiate abc=="
    if (!sc.atParam()) {
      const m = TOKEN68.exec(text.slice(sc.pos));
      if (m && m[0].length > 0) {
        const after = text.slice(sc.pos + m[0].length).replace(/^[ \t]*/, '');
        if (after === '' || after.startsWith(',')) {
          challenge.token68 = m[0];
          sc.pos += m[0].length;
        }
      }
      continue;
    }

    // auth-param list; it ends where the next element is not `name=` (that is a new scheme).
    while (true) {
      const name = sc.token().toLowerCase();
      sc.skipSpaces();
      sc.pos++; // '=' (atParam checked it)
      sc.skipSpaces();
      let value: string;
      if (sc.peek() === '"') {
        value = sc.quoted();
      } else {
        // Lenient: accept a bare value up to the next comma or space, even with non-token bytes.
        const start = sc.pos;
        while (!sc.done && sc.peek() !== ',' && sc.peek() !== ' ' && sc.peek() !== '\t') sc.pos++;
        value = text.slice(start, sc.pos);
      }
      if (!Object.prototype.hasOwnProperty.call(challenge.params, name)) {
        Object.defineProperty(challenge.params, name, { value, enumerable: true, writable: true, configurable: true });
      }
      sc.skipSpaces();
      // Skip anything up to the next separator (e.g. a stray byte after a quoted string).
      while (!sc.done && sc.peek() !== ',') sc.pos++;
      sc.skipSeparators();
      if (sc.done || !sc.atParam()) break;
    }
  }
  return out;
}

/** The challenge herald answers: Bearer with a realm first, else Basic; undefined when neither is offered. */
export function chooseChallenge(challenges: Challenge[]): Challenge | undefined {
  return (
    challenges.find((c) => c.scheme === 'bearer' && typeof c.params.realm === 'string' && c.params.realm.length > 0) ??
    challenges.find((c) => c.scheme === 'basic')
  );
}

/** Scopes named by a challenge's `scope` parameter (space separated, as in the Docker token spec). */
export function challengeScopes(challenge: Challenge): string[] {
  const raw = challenge.params.scope;
  if (raw === undefined) return [];
  return raw.split(' ').filter((s) => s.length > 0);
}

/** `repository:<path>:pull` — `/v2/` gives no scope, so herald builds the one it needs. */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

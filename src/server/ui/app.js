// herald's dashboard: reads the JSON API (with the bearer token when herald has one) and builds the
// page with DOM calls only. Every text that comes from a registry, a label, a source or an engine is
// set with textContent or as an attribute value, never parsed as HTML.
'use strict';

(() => {
  const TOKEN_KEY = 'herald.token';
  const PAGE_SIZE = 100;
  const EVENTS_FETCHED = 500;
  const EVENTS_SHOWN = 50;
  const RUN_WAIT_MS = 10 * 60_000;

  /** Most urgent first; the icon and the text carry the meaning, the colour only repeats it. */
  const STATUSES = {
    error: { label: 'Error', icon: '✖' },
    outdated: { label: 'Containers outdated', icon: '▲' },
    update: { label: 'Update available', icon: '↑' },
    unchecked: { label: 'Not checked yet', icon: '…' },
    ok: { label: 'Up to date', icon: '✓' },
  };
  const ORDER = Object.keys(STATUSES);

  const $ = (id) => document.getElementById(id);
  const tokenRequired = document.querySelector('meta[name="herald-token"]')?.getAttribute('content') === 'required';
  let token = sessionStorage.getItem(TOKEN_KEY) ?? '';
  let rows = [];
  let page = 0;

  class AuthError extends Error {}

  /** Builds an element; strings among the children become text nodes. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'class') node.className = value;
      else if (name === 'text') node.textContent = value;
      else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  async function api(path, method = 'GET') {
    const headers = { accept: 'application/json' };
    if (token !== '') headers.authorization = `Bearer ${token}`;
    const res = await fetch(path, { method, headers, cache: 'no-store', credentials: 'omit' });
    const body = await res.json().catch(() => null);
    if (res.status === 401) throw new AuthError(body?.error ?? 'missing or invalid token');
    return { status: res.status, body };
  }

  function say(text, kind = 'info') {
    const box = $('message');
    box.textContent = text;
    box.className = `message ${kind}`;
    box.hidden = text === '';
  }

  // ---- status of one image -------------------------------------------------------------------
  function statusOf(image) {
    if (image.error !== null && image.error !== undefined) return 'error';
    if (!image.lastChecked) return 'unchecked';
    if ((image.containers ?? []).some((c) => c.outdated)) return 'outdated';
    // As herald_image_update_available: the digest changed after herald first saw it.
    if (image.lastChanged && image.lastChanged !== image.firstSeen) return 'update';
    return 'ok';
  }

  /** `registry/repo:tag` → registry/repo and tag (a digest reference has no tag). */
  function splitImage(name) {
    const bare = name.split('@')[0];
    const colon = bare.lastIndexOf(':');
    return colon > bare.lastIndexOf('/') ? { repository: bare.slice(0, colon), tag: bare.slice(colon + 1) } : { repository: bare, tag: null };
  }

  /** Version-aware order of tags: numbers compare as numbers ("1.10" after "1.9"). */
  function compareTags(a, b) {
    const pa = a.split(/(\d+)/);
    const pb = b.split(/(\d+)/);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
      const x = pa[i] ?? '';
      const y = pb[i] ?? '';
      if (x === y) continue;
      const nx = /^\d+$/.test(x) ? Number(x) : NaN;
      const ny = /^\d+$/.test(y) ? Number(y) : NaN;
      if (!Number.isNaN(nx) && !Number.isNaN(ny)) return nx - ny;
      return x < y ? -1 : 1;
    }
    return 0;
  }

  function enrich(images, events, watchedRepositories) {
    const deliveries = new Map();
    for (const event of events) {
      for (const d of event.deliveries ?? []) {
        if (d.status === 'sent') continue;
        const key = `${event.image}\u0000${event.platform}`;
        const entry = deliveries.get(key) ?? { pending: 0, failed: 0, errors: [] };
        entry[d.status === 'failed' ? 'failed' : 'pending']++;
        if (d.lastError) entry.errors.push(`${d.notifier}: ${d.lastError}`);
        deliveries.set(key, entry);
      }
    }
    const repos = new Set(watchedRepositories);
    const newest = new Map();
    // The server says which tag the last run's selection put first (newestTag on a watchRepo image);
    // before a run says, the highest stored tag of the repository stands in.
    for (const image of images) {
      if (typeof image.newestTag === 'string') newest.set(splitImage(image.image).repository, image.newestTag);
    }
    const guessed = new Map();
    for (const image of images) {
      const { repository, tag } = splitImage(image.image);
      if (!repos.has(repository) || tag === null || newest.has(repository)) continue;
      const best = guessed.get(repository);
      if (best === undefined || compareTags(tag, best) > 0) guessed.set(repository, tag);
    }
    for (const [repository, tag] of guessed) newest.set(repository, tag);
    return images.map((image) => {
      const status = statusOf(image);
      const { repository } = splitImage(image.image);
      const labels = Object.entries(image.labels ?? {});
      const containers = image.containers ?? [];
      const haystack = [image.image, image.platform, image.error ?? '', ...(image.sources ?? []), ...containers.map((c) => `${c.source} ${c.namespace ?? ''} ${c.name}`), ...labels.flat()]
        .join('\n')
        .toLowerCase();
      // Counts from the server (every delivery of the image); the recent events add their errors as a tooltip.
      const recent = deliveries.get(`${image.image}\u0000${image.platform}`);
      const counts = image.deliveries ?? recent;
      const waiting = counts !== undefined && counts.pending + counts.failed > 0 ? { pending: counts.pending, failed: counts.failed, errors: recent?.errors ?? [] } : undefined;
      return { image, status, rank: ORDER.indexOf(status), newestTag: newest.get(repository) ?? null, deliveries: waiting, labels, haystack };
    }).sort((a, b) => a.rank - b.rank || (a.image.image < b.image.image ? -1 : a.image.image > b.image.image ? 1 : 0));
  }

  // ---- rendering -------------------------------------------------------------------------------
  function when(iso) {
    if (!iso) return el('span', { class: 'muted', text: 'never' });
    const at = new Date(iso);
    const s = Math.round((Date.now() - at.getTime()) / 1000);
    const ago = s < 60 ? 'just now' : s < 3600 ? `${Math.floor(s / 60)} min ago` : s < 86400 ? `${Math.floor(s / 3600)} h ago` : `${Math.floor(s / 86400)} d ago`;
    return el('time', { datetime: iso, title: at.toLocaleString(), text: ago });
  }

  const short = (digest) => (digest ? digest.replace(/^sha256:/, '').slice(0, 12) : '—');

  function badge(status) {
    const { label, icon } = STATUSES[status];
    return el('span', { class: `badge s-${status}` }, el('span', { 'aria-hidden': 'true', text: icon }), ` ${label}`);
  }

  function imageRow(row) {
    const { image } = row;
    const name = el('td', { class: 'name' }, el('strong', { text: image.image }), el('br'), el('span', { class: 'muted', text: `${image.platform} · ${short(image.digest)}` }));
    if (image.error) name.append(el('p', { class: 'error', text: image.error }));
    if (image.lastChanged && image.lastChanged !== image.firstSeen) name.append(el('p', { class: 'muted' }, 'changed ', when(image.lastChanged)));
    if (row.labels.length > 0) {
      const list = el('dl', { class: 'labels' });
      for (const [k, v] of row.labels) list.append(el('dt', { text: k }), el('dd', { text: v }));
      name.append(el('details', {}, el('summary', { text: `Labels (${row.labels.length})` }), list));
    }
    const where = el('td');
    where.append(el('span', { text: (image.sources ?? ['config']).join(', ') }));
    const containers = image.containers ?? [];
    if (containers.length > 0) {
      const list = el('ul', { class: 'containers' });
      for (const c of containers) {
        list.append(el('li', { class: c.outdated ? 'behind' : '' }, c.outdated ? el('span', { 'aria-hidden': 'true', text: '▲ ' }) : null,
          `${c.namespace ? `${c.namespace}/` : ''}${c.name} (${c.source})${c.outdated ? ' — outdated, runs ' + short(c.runningDigest) : ''}`));
      }
      where.append(list);
    }
    const newest = el('td');
    if (row.newestTag !== null) newest.append(row.newestTag === splitImage(image.image).tag ? el('span', { text: `${row.newestTag} (this tag)` }) : el('span', { text: row.newestTag }));
    else newest.append(el('span', { class: 'muted', text: '—' }));
    const sends = el('td');
    const d = row.deliveries;
    if (d === undefined) sends.append(el('span', { class: 'muted', text: 'none waiting' }));
    else {
      const parts = [];
      if (d.pending > 0) parts.push(`${d.pending} pending`);
      if (d.failed > 0) parts.push(`${d.failed} failed`);
      sends.append(el('span', { class: d.failed > 0 ? 'error' : '', text: parts.join(', '), title: d.errors.join('\n') || undefined }));
    }
    const action = el('td', {}, el('button', { type: 'button', class: 'quiet', 'aria-label': `Re-check ${image.image} (${image.platform})`, onclick: () => startRun(image.image) }, 'Re-check'));
    return el('tr', { 'data-status': row.status }, el('td', {}, badge(row.status)), name, where, newest, el('td', {}, when(image.lastChecked)), sends, action);
  }

  function filtered() {
    const wanted = $('status-filter').value;
    const words = $('search').value.toLowerCase().split(/\s+/).filter((w) => w !== '');
    return rows.filter((r) => {
      if (wanted === 'attention' ? !['error', 'outdated', 'update'].includes(r.status) : wanted !== '' && r.status !== wanted) return false;
      return words.every((w) => r.haystack.includes(w));
    });
  }

  function renderImages() {
    const list = filtered();
    const pages = Math.max(1, Math.ceil(list.length / PAGE_SIZE));
    page = Math.min(page, pages - 1);
    const from = page * PAGE_SIZE;
    const shown = list.slice(from, from + PAGE_SIZE);
    const body = $('image-rows');
    body.replaceChildren(...shown.map(imageRow));
    if (shown.length === 0) body.append(el('tr', {}, el('td', { colspan: 7, class: 'muted', text: rows.length === 0 ? 'No images stored yet: herald has not checked any.' : 'No image matches the search and filter.' })));
    $('count').textContent = `${list.length.toLocaleString()} of ${rows.length.toLocaleString()} images`;
    $('page-info').textContent = list.length === 0 ? '' : `Showing ${(from + 1).toLocaleString()}–${(from + shown.length).toLocaleString()}, page ${page + 1} of ${pages}`;
    $('prev-page').disabled = page === 0;
    $('next-page').disabled = page >= pages - 1;
  }

  function renderSummary() {
    const counts = Object.fromEntries(ORDER.map((s) => [s, 0]));
    for (const r of rows) counts[r.status]++;
    $('summary').replaceChildren(...ORDER.map((s) => el('li', {}, el('button', { type: 'button', class: `badge s-${s}`, 'aria-label': `Show ${counts[s]} ${STATUSES[s].label.toLowerCase()}`, onclick: () => setFilter(s) },
      el('span', { 'aria-hidden': 'true', text: STATUSES[s].icon }), ` ${counts[s]} ${STATUSES[s].label}`))));
  }

  function setFilter(status) {
    $('status-filter').value = status;
    page = 0;
    renderImages();
  }

  function renderEvents(events) {
    const body = $('event-rows');
    body.replaceChildren(...events.slice(0, EVENTS_SHOWN).map((e) => {
      const waiting = (e.deliveries ?? []).map((d) => `${d.notifier}: ${d.status}${d.lastError ? ` (${d.lastError})` : ''}`).join('; ');
      return el('tr', {}, el('td', {}, when(e.detectedAt)), el('td', { text: e.status === 'error' ? `error: ${e.error ?? ''}` : e.status }),
        el('td', { text: `${e.image} (${e.platform})` }), el('td', { text: e.previousDigest ? `${short(e.previousDigest)} → ${short(e.digest)}` : short(e.digest) }),
        el('td', { text: waiting || 'not notified' }));
    }));
    if (events.length === 0) body.append(el('tr', {}, el('td', { colspan: 5, class: 'muted', text: 'No events yet.' })));
  }

  // ---- loading ---------------------------------------------------------------------------------
  async function health() {
    const res = await fetch('/healthz', { cache: 'no-store', credentials: 'omit' });
    return res.json();
  }

  function showRunState(h) {
    const last = h.lastRunFinishedAt ? `last run finished ${new Date(h.lastRunFinishedAt).toLocaleString()} (${h.checks.lastRun})` : `no run finished yet (${h.checks.lastRun})`;
    $('run-state').textContent = `${last}${h.nextRunAt ? `; next ${new Date(h.nextRunAt).toLocaleString()}` : ''}`;
  }

  async function load() {
    const t0 = performance.now();
    const [images, events, repos, h] = await Promise.all([api('/api/images'), api(`/api/events?limit=${EVENTS_FETCHED}`), api('/api/repositories'), health()]);
    for (const r of [images, events, repos]) if (r.status !== 200) throw new Error(r.body?.error ?? `HTTP ${r.status}`);
    const t1 = performance.now();
    rows = enrich(images.body, events.body, repos.body);
    showRunState(h);
    renderSummary();
    renderImages();
    renderEvents(events.body);
    $('login').hidden = true;
    $('app').hidden = false;
    $('check-all').hidden = false;
    $('sign-out').hidden = !tokenRequired;
    // When the page was last drawn, in ms since navigation (fetched, then drawn): for tests and the bench.
    document.documentElement.dataset.loaded = `${Math.round(performance.now())} ${Math.round(t1 - t0)} ${Math.round(performance.now() - t1)}`;
    return h;
  }

  function askToken(error) {
    $('app').hidden = true;
    $('check-all').hidden = true;
    rows = [];
    $('image-rows').replaceChildren();
    $('event-rows').replaceChildren();
    $('login').hidden = false;
    const box = $('login-error');
    box.textContent = error ?? '';
    box.hidden = !error;
    $('token').focus();
  }

  async function open() {
    try {
      await load();
      say('');
    } catch (err) {
      if (err instanceof AuthError) {
        sessionStorage.removeItem(TOKEN_KEY);
        const hadToken = token !== '';
        token = '';
        askToken(hadToken ? `That token was refused (401: ${err.message}). Nothing is shown without the right one.` : undefined);
      } else say(`Cannot load: ${err.message}`, 'error');
    }
  }

  // ---- runs --------------------------------------------------------------------------------------
  let waiting = false;
  async function startRun(image) {
    if (waiting) return say('A run is going; the page refreshes when it ends.');
    try {
      const before = (await health()).lastRunFinishedAt;
      const res = await api(image === undefined ? '/api/check' : `/api/check?image=${encodeURIComponent(image)}`, 'POST');
      if (res.status === 202) say(image === undefined ? 'Run started: checking every image…' : `Checking ${image}…`);
      else if (res.status === 409) say('A run is already going; the page refreshes when it ends.');
      else return say(`Not started: ${res.body?.error ?? `HTTP ${res.status}`}`, 'error');
      waiting = true;
      $('check-all').disabled = true;
      const end = Date.now() + RUN_WAIT_MS;
      let h = await health();
      while (h.lastRunFinishedAt === before && Date.now() < end) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        h = await health();
      }
      await load();
      const attention = rows.filter((r) => r.rank <= 2).length;
      say(h.lastRunFinishedAt === before ? 'The run is still going; reload later.' : `Run finished at ${new Date(h.lastRunFinishedAt).toLocaleTimeString()}: ${attention} image(s) need attention.`);
    } catch (err) {
      if (err instanceof AuthError) return open();
      say(`Check failed: ${err.message}`, 'error');
    } finally {
      waiting = false;
      $('check-all').disabled = false;
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login-form').addEventListener('submit', (e) => {
      e.preventDefault();
      token = $('token').value.trim();
      $('token').value = '';
      if (token !== '') sessionStorage.setItem(TOKEN_KEY, token);
      void open();
    });
    $('sign-out').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      token = '';
      askToken();
    });
    $('check-all').addEventListener('click', () => void startRun());
    $('filters').addEventListener('submit', (e) => e.preventDefault());
    $('search').addEventListener('input', () => { page = 0; renderImages(); });
    $('status-filter').addEventListener('change', () => { page = 0; renderImages(); });
    $('prev-page').addEventListener('click', () => { page--; renderImages(); });
    $('next-page').addEventListener('click', () => { page++; renderImages(); });
    if (tokenRequired && token === '') askToken();
    else void open();
  });
})();

/**
 * The Candor explorer (docs/explorer.md): an auditor's console that shows a log only after
 * verifying it in the browser against keys the user pinned. Hash routes:
 *
 *   #/             overview: the verified checkpoint, witnesses, growth
 *   #/events       newest events (from the tiles), or search results (with an auditor token)
 *   #/event/N      one event, every field, its proof
 *   #/review/ID    a review's timeline          #/session/ID  a session's events
 *   #/verify       verify a dropped proof bundle, offline       #/trust  pinned keys
 *
 * The auditor token lives in this module's memory only, never in the browser's storage.
 */
import { fromBase64, toBase64 } from '@candor/core/bytes';
import { h, link, svg, type Child } from './dom.js';
import { eventJson, isEventLeaf, leafTime, parseEventLeaf, verifyOpening, AuthMethod } from './schema.js';
import { CHECK, CheckFailed, VerifiedLog, verifyFile, type Seen, type Trust, type VerifiedCheckpoint, type VerifiedEntry } from './verify.js';

const PAGE = 20;
/** Bound on each request to the log's API (the tiles have their own, in TileClient). */
const API_TIMEOUT_MS = 10_000;
const TRUST_KEY = 'candor.explorer.trust';
let token = '';
let log: VerifiedLog | undefined;
let trust: Trust | undefined;

// ---- storage: pinned keys, the last verified checkpoint and the sizes seen (never the token) ----

function loadTrust(): Trust | undefined {
  try {
    const t = JSON.parse(localStorage.getItem(TRUST_KEY) ?? 'null') as Trust | null;
    return t && typeof t.vkey === 'string' && typeof t.url === 'string' ? t : undefined;
  } catch {
    return undefined;
  }
}
const seenKey = (t: Trust) => `candor.explorer.seen:${t.url}:${t.vkey.trim()}`;
const historyKey = (t: Trust) => `candor.explorer.history:${t.url}:${t.vkey.trim()}`;
function loadJson<T>(key: string, fallback: T): T {
  try {
    return (JSON.parse(localStorage.getItem(key) ?? 'null') as T | null) ?? fallback;
  } catch {
    return fallback;
  }
}

// ---- page frame and the status banner ----

const statusEl = h('div', { id: 'status', role: 'status', 'aria-live': 'polite', class: 'pending' }, 'Not verified yet.');
const main = h('main', { id: 'view', tabindex: '-1' });

function setStatus(kind: 'ok' | 'failed' | 'pending', text: string): void {
  statusEl.className = kind;
  statusEl.setAttribute('role', kind === 'failed' ? 'alert' : 'status');
  statusEl.textContent = text;
}

function failure(err: unknown): { check: string; message: string } {
  if (err instanceof CheckFailed) return { check: err.check, message: err.message };
  return { check: CHECK.fetch, message: err instanceof Error ? err.message : String(err) };
}

/** Turns the view red and names the failed check; nothing of the view stays marked verified. */
function showFailure(err: unknown): void {
  const f = failure(err);
  setStatus('failed', `Verification failed — ${f.check}: ${f.message}`);
  main.classList.add('failed');
}

function header(): HTMLElement {
  const tokenInput = h('input', { id: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', placeholder: 'kept in memory only' });
  tokenInput.addEventListener('input', () => (token = tokenInput.value.trim()));
  return h(
    'header',
    {},
    h('h1', {}, 'Candor explorer'),
    h('nav', { 'aria-label': 'Views' }, link('/', 'Overview'), link('/events', 'Events'), link('/verify', 'Verify a file'), link('/trust', 'Pinned keys')),
    h('label', { for: 'token' }, 'Auditor token ', tokenInput),
    statusEl,
  );
}

// ---- the checkpoint, verified once per visit and on demand ----

async function verifiedCheckpoint(force = false): Promise<VerifiedCheckpoint> {
  if (!trust) throw new CheckFailed(CHECK.keys, 'no log key is pinned');
  if (!log) log = new VerifiedLog(trust, () => token);
  if (log.checkpoint && !force) return log.checkpoint;
  setStatus('pending', 'Verifying the checkpoint…');
  const cp = await log.refresh(loadJson<Seen | undefined>(seenKey(trust), undefined));
  localStorage.setItem(seenKey(trust), JSON.stringify({ size: cp.size, root: toBase64(cp.root), at: Date.now() } satisfies Seen));
  const history = loadJson<{ size: number; at: number }[]>(historyKey(trust), []);
  if (history.at(-1)?.size !== cp.size) history.push({ size: cp.size, at: Date.now() });
  localStorage.setItem(historyKey(trust), JSON.stringify(history.slice(-500)));
  const grew = cp.grewFrom
    ? cp.grewFrom.size === cp.size
      ? ` Unchanged since this browser last looked (${cp.size} entries, the same root).`
      : ` The log only grew since this browser last looked (${cp.grewFrom.size} → ${cp.size} entries, proved consistent).`
    : ' First visit from this browser: later visits prove the log only grew from here.';
  setStatus('ok', `Checkpoint verified: ${cp.origin}, ${cp.size} entries, signed by the pinned log key${cp.cosignatures.length ? ` and cosigned by ${cp.cosignatures.length} witness(es)` : ''}.${grew}`);
  return cp;
}

// ---- views ----

function trustView(): Child[] {
  const t = trust ?? { url: new URL('.', location.href).href.replace(/\/$/, ''), vkey: '', witnesses: [], quorum: 0 };
  const url = h('input', { id: 'trust-url', type: 'url', required: true, value: t.url });
  const vkey = h('textarea', { id: 'trust-vkey', rows: 2, required: true, spellcheck: 'false' });
  vkey.value = t.vkey;
  const witnesses = h('textarea', { id: 'trust-witnesses', rows: 3, spellcheck: 'false' });
  witnesses.value = t.witnesses.join('\n');
  const quorum = h('input', { id: 'trust-quorum', type: 'number', min: 0, value: t.quorum });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    { 'aria-label': 'Pinned keys' },
    h('label', { for: 'trust-url' }, 'Log URL (its tlog-tiles root)'),
    url,
    h('label', { for: 'trust-vkey' }, "The log's verifier key (from whoever runs the log, not from this page)"),
    vkey,
    h('label', { for: 'trust-witnesses' }, 'Witness verifier keys, one a line (optional)'),
    witnesses,
    h('label', { for: 'trust-quorum' }, 'Witnesses that must cosign'),
    quorum,
    h('button', { type: 'submit', id: 'trust-save' }, 'Pin these keys'),
    error,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next: Trust = {
      url: url.value.trim().replace(/\/+$/, ''),
      vkey: vkey.value.trim(),
      witnesses: witnesses.value.split('\n').map((w) => w.trim()).filter(Boolean),
      quorum: Number(quorum.value) || 0,
    };
    try {
      new VerifiedLog(next);
    } catch (err) {
      error.textContent = `These keys cannot be used: ${err instanceof Error ? err.message : String(err)}`;
      return;
    }
    localStorage.setItem(TRUST_KEY, JSON.stringify(next));
    trust = next;
    log = undefined;
    location.hash = '#/';
    void route();
  });
  return [
    h('h2', {}, 'Pinned keys'),
    h('p', {}, 'Everything this page shows is checked against these keys, in this browser. They, and the last checkpoint verified with them, are kept in this browser’s storage; the auditor token never is.'),
    form,
    modeNote(),
  ];
}

function modeNote(): HTMLElement {
  const served = trust && new URL(trust.url, location.href).origin === location.origin;
  return h(
    'aside',
    { class: 'mode' },
    h('h3', {}, served ? 'Served by the log' : 'Static build'),
    served
      ? h('p', {}, 'This page came from the log it checks. It catches tampering in transit and in storage, but the log’s operator also serves the script that verifies. If you do not trust the operator, open the static build hosted elsewhere (reproducible; its hash is in the README) and point it at this log.')
      : h('p', {}, 'This page is not served by the log it checks: the log’s operator cannot change the script that verifies. Check that its files hash to the value published in the README.'),
  );
}

async function overview(): Promise<Child[]> {
  const cp = await verifiedCheckpoint(true);
  const history = loadJson<{ size: number; at: number }[]>(historyKey(trust!), []);
  return [
    h('h2', {}, 'Overview'),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Origin'),
      h('dd', { id: 'origin' }, cp.origin),
      h('dt', {}, 'Tree size'),
      h('dd', { id: 'size' }, cp.size),
      h('dt', {}, 'Root hash'),
      h('dd', { class: 'hash' }, toBase64(cp.root)),
      h('dt', {}, 'Since your last visit'),
      h(
        'dd',
        { id: 'grew' },
        !cp.grewFrom
          ? 'first visit from this browser'
          : cp.grewFrom.size === cp.size
            ? `unchanged: the same ${cp.size} entries and root as this browser saw (${new Date(cp.grewFrom.at).toISOString()})`
            : `proved consistent: the log only grew, from ${cp.grewFrom.size} to ${cp.size} entries (last seen ${new Date(cp.grewFrom.at).toISOString()})`,
      ),
    ),
    h('h3', {}, 'Witnesses'),
    cp.cosignatures.length === 0
      ? h('p', {}, trust!.witnesses.length ? 'No pinned witness cosigned this checkpoint.' : 'No witness keys are pinned.')
      : h(
          'table',
          { id: 'witnesses' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Witness'), h('th', { scope: 'col' }, 'Cosigned size'), h('th', { scope: 'col' }, 'Cosigned at (cosignature/v1 time)'))),
          h('tbody', {}, ...cp.cosignatures.map((c) => h('tr', {}, h('td', {}, c.witness), h('td', {}, c.size), h('td', {}, c.time.toISOString())))),
        ),
    h('h3', {}, 'Growth seen from this browser'),
    growthChart(history),
    modeNote(),
  ];
}

function growthChart(points: { size: number; at: number }[]): Element {
  if (points.length < 2) return h('p', {}, 'The chart fills in as this browser sees the log grow over visits.');
  const W = 600, H = 160, PAD = 20;
  const t0 = points[0]!.at, t1 = points.at(-1)!.at;
  const lo = Math.min(...points.map((p) => p.size)), hi = Math.max(...points.map((p) => p.size));
  const x = (at: number) => PAD + ((at - t0) / Math.max(1, t1 - t0)) * (W - 2 * PAD);
  const y = (size: number) => H - PAD - ((size - lo) / Math.max(1, hi - lo)) * (H - 2 * PAD);
  const label = (tx: number, ty: number, anchor: string, text: string) => {
    const t = svg('text', { x: tx, y: ty, 'text-anchor': anchor, class: 'label' });
    t.textContent = text;
    return t;
  };
  return h(
    'figure',
    {},
    svg(
      'svg',
      { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Tree size from ${lo} to ${hi} entries over ${points.length} visits` },
      svg('polyline', { points: points.map((p) => `${x(p.at)},${y(p.size)}`).join(' '), class: 'line' }),
      label(PAD, H - 4, 'start', `${lo} entries, ${new Date(t0).toISOString().slice(0, 16)}Z`),
      label(W - PAD, 14, 'end', `${hi} entries, ${new Date(t1).toISOString().slice(0, 16)}Z`),
    ),
    h('figcaption', {}, `${points.length} checkpoints verified from this browser.`),
  );
}

/** The event's type-specific body (the one field of the protobuf JSON that is an object named after the type). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the protobuf JSON of an event (or an API answer), untyped by nature
function bodyOf(ev: Record<string, any>): Record<string, any> | undefined {
  const ENVELOPE = new Set(['occurredAt', 'producer', 'actor', 'source', 'resource', 'object', 'error', 'correlation', 'payload', 'corrects']);
  const k = Object.keys(ev).find((key) => !ENVELOPE.has(key) && ev[key] !== null && typeof ev[key] === 'object' && !Array.isArray(ev[key]));
  return k ? ev[k] : undefined;
}

/** An event in people's terms, from verified leaf bytes. */
function decode(v: VerifiedEntry) {
  if (!isEventLeaf(v.entry)) return { opaque: true as const };
  const leaf = parseEventLeaf(v.entry);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the protobuf JSON of an event (or an API answer), untyped by nature
  const ev = eventJson(leaf.event) as Record<string, any>;
  return {
    opaque: false as const,
    leaf,
    ev,
    // Display names are committed (docs/privacy.md): the actor ID is what is logged in clear.
    who: String(ev.actor?.id ?? ''),
    what: String(ev.type ?? ''),
    resource: String(ev.resource?.name ?? ev.resource?.id ?? ''),
    tenant: String(ev.tenantId ?? ''),
    when: String(ev.occurredAt ?? ''),
    review: String(ev.correlation?.reviewId ?? bodyOf(ev)?.reviewId ?? ''),
    session: String(ev.sessionId ?? ''),
  };
}

/** Verifies and renders entries as table rows; a failed one is red with the check named. */
async function eventRows(indexes: number[]): Promise<{ rows: HTMLElement[]; failed: number }> {
  const results = await Promise.allSettled(indexes.map((i) => log!.entry(i)));
  let failed = 0;
  const rows = results.map((r, k) => {
    const index = indexes[k]!;
    if (r.status === 'rejected') {
      failed++;
      const f = failure(r.reason);
      return h('tr', { class: 'failed' }, h('td', {}, link(`/event/${index}`, index)), h('td', { colspan: 6 }, `NOT VERIFIED — ${f.check}: ${f.message}`), h('td', {}, '✗'));
    }
    const d = decode(r.value);
    if (d.opaque) return h('tr', {}, h('td', {}, link(`/event/${index}`, index)), h('td', { colspan: 6 }, 'opaque entry (not an event)'), h('td', { class: 'ok' }, '✓ in log'));
    return h(
      'tr',
      {},
      h('td', {}, link(`/event/${index}`, index)),
      h('td', {}, d.who),
      h('td', {}, d.what),
      h('td', {}, d.resource),
      h('td', {}, d.tenant),
      h('td', {}, d.when),
      h('td', {}, d.review ? link(`/review/${encodeURIComponent(d.review)}`, d.review) : ''),
      h('td', { class: 'ok', title: 'leaf hash recomputed, inclusion proved' }, '✓ in log'),
    );
  });
  return { rows, failed };
}

function eventTable(rows: HTMLElement[]): HTMLElement {
  const cols = ['Index', 'Who', 'What', 'Resource', 'Tenant', 'When', 'Review', 'Verified'];
  return h('table', { id: 'events' }, h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, ...rows));
}

const FILTERS = ['actor', 'resource', 'type', 'tenant', 'session', 'review'] as const;

async function events(params: URLSearchParams): Promise<Child[]> {
  const cp = await verifiedCheckpoint();
  const form = h('form', { id: 'filters', 'aria-label': 'Search' });
  for (const f of FILTERS) form.append(h('label', { for: `f-${f}` }, f, h('input', { id: `f-${f}`, name: f, value: params.get(f) ?? '' })));
  form.append(
    h('label', { for: 'f-from' }, 'from', h('input', { id: 'f-from', name: 'occurred_from', placeholder: '2026-01-01T00:00:00Z', value: params.get('occurred_from') ?? '' })),
    h('label', { for: 'f-to' }, 'to', h('input', { id: 'f-to', name: 'occurred_to', placeholder: '2026-12-31T00:00:00Z', value: params.get('occurred_to') ?? '' })),
    h('button', { type: 'submit' }, 'Search'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (typeof v === 'string' && v.trim()) q.set(k, v.trim());
    location.hash = `#/events?${q}`;
  });
  const searching = [...params.keys()].some((k) => k !== 'before');
  let indexes: number[];
  let note: Child;
  let more: Child = null;
  if (searching) {
    if (!token) return [h('h2', {}, 'Events'), form, h('p', { class: 'error', role: 'alert' }, 'Searching needs an auditor token (top right).')];
    const q = new URLSearchParams(params);
    q.delete('before');
    q.set('order', 'newest');
    q.set('limit', String(PAGE));
    const { res, body } = await api<{ results?: { index: number; leaf?: string }[]; error?: { message: string } }>(`/v1/search?${q}`, 'the search');
    if (!res.ok) return [h('h2', {}, 'Events'), form, h('p', { class: 'error', role: 'alert' }, `The search was refused: ${body.error?.message ?? res.status}`)];
    offerLeaves(body.results ?? []);
    const found = (body.results ?? []).map((r) => r.index);
    // Results past the verified tree need a newer checkpoint (also proved consistent).
    if (found.some((i) => i >= cp.size)) await verifiedCheckpoint(true);
    indexes = found;
    note = h('p', { class: 'note' }, `${found.length} result(s). Each is proved to be in the log; the server chose them, so this is not proof that they are every match.`);
  } else {
    const before = Math.min(cp.size, Number(params.get('before') ?? cp.size) || cp.size);
    indexes = [];
    for (let i = before - 1; i >= 0 && indexes.length < PAGE; i--) indexes.push(i);
    note = h('p', { class: 'note' }, `Entries ${indexes.at(-1) ?? 0}–${before - 1} of ${cp.size}, newest first, read from the log’s tiles.`);
    if ((indexes.at(-1) ?? 0) > 0) more = link(`/events?before=${indexes.at(-1)}`, 'Older →');
  }
  const { rows, failed } = await eventRows(indexes);
  if (failed) showFailure(new CheckFailed(firstCheck(rows), `${failed} of ${indexes.length} event(s) failed verification`));
  return [h('h2', {}, 'Events'), form, note, eventTable(rows), more];
}

function firstCheck(rows: HTMLElement[]): string {
  const t = rows.find((r) => r.classList.contains('failed'))?.textContent ?? '';
  return /NOT VERIFIED — ([^:]+):/.exec(t)?.[1] ?? CHECK.inclusion;
}

function flatten(value: unknown, path: string, out: [string, string][]): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, path ? `${path}.${k}` : k, out);
  } else out.push([path, Array.isArray(value) ? value.map(String).join(', ') : String(value)]);
}

async function eventDetail(index: number): Promise<Child[]> {
  const cp = await verifiedCheckpoint();
  let v: VerifiedEntry;
  try {
    v = await log!.entry(index);
  } catch (err) {
    showFailure(err);
    const f = failure(err);
    return [h('h2', {}, `Event ${index}`), h('p', { class: 'error' }, `NOT VERIFIED — ${f.check}: ${f.message}`)];
  }
  const d = decode(v);
  const fields: [string, string][] = [];
  if (!d.opaque) {
    flatten({ integratedAt: leafTime(d.leaf.receivedAt).toISOString(), producer: d.leaf.producer, authMethod: AuthMethod[d.leaf.authMethod], producerSigned: d.leaf.signature !== undefined }, '', fields);
    flatten(d.ev, '', fields);
  }
  const disclose = h('section', { id: 'disclose' });
  if (!d.opaque && fields.some(([k]) => /commitment$/i.test(k))) {
    const button = h('button', { type: 'button', id: 'disclose-button' }, 'Disclose committed values (logged as a disclosure)');
    const commitments = new Set(fields.filter(([k]) => /commitment$/i.test(k)).map(([, v]) => v));
    button.addEventListener('click', () => void discloseOpenings(String(d.ev.eventId), String(d.ev.tenantId ?? ''), commitments, disclose));
    disclose.append(button);
  }
  return [
    h('h2', {}, `Event ${index}`),
    d.opaque ? h('p', {}, 'An opaque entry: not a Candor event.') : null,
    h(
      'table',
      { id: 'fields' },
      h('tbody', {}, ...fields.map(([k, val]) => h('tr', { class: /commitment$/i.test(k) ? 'commitment' : undefined }, h('th', { scope: 'row' }, k), h('td', {}, /commitment$/i.test(k) ? `commitment ${val}` : val)))),
    ),
    disclose,
    h(
      'section',
      { id: 'proof', class: 'ok' },
      h('h3', {}, 'Verification'),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Leaf hash (recomputed from the entry bytes)'),
        h('dd', { class: 'hash' }, toBase64(v.leafHash)),
        h('dt', {}, `Inclusion proof in the tree of ${v.size} (${v.proof.length} hashes)`),
        h('dd', {}, h('ol', { class: 'hash' }, ...v.proof.map((p) => h('li', {}, toBase64(p))))),
        h('dt', {}, 'Checkpoint'),
        h('dd', {}, h('pre', {}, cp.note)),
        h('dt', {}, 'Signatures'),
        h('dd', {}, `log key ✓${cp.cosignatures.map((c) => `, ${c.witness} ✓`).join('')}`),
      ),
    ),
  ];
}

/**
 * Asks the log for the openings of an event's commitments (the log records the disclosure) and
 * shows each value only with its check: it must open a commitment that the verified event carries.
 */
async function discloseOpenings(eventId: string, tenant: string, commitments: Set<string>, into: HTMLElement): Promise<void> {
  if (!token) {
    into.append(h('p', { class: 'error', role: 'alert' }, 'Disclosure needs an auditor token (top right).'));
    return;
  }
  type Openings = { openings?: { field: string; digest: string; salt: string; value: string }[]; disclosure_index?: number; error?: { message: string } };
  let res: Response, body: Openings;
  try {
    ({ res, body } = await api<Openings>(`/v1/openings/${encodeURIComponent(eventId)}${tenant ? `?tenant=${encodeURIComponent(tenant)}` : ''}`, 'the disclosure'));
  } catch (err) {
    into.append(h('p', { class: 'error', role: 'alert' }, failure(err).message));
    return;
  }
  if (!res.ok) {
    into.append(h('p', { class: 'error', role: 'alert' }, `Refused: ${body.error?.message ?? res.status}`));
    return;
  }
  const dec = new TextDecoder();
  const rows = (body.openings ?? []).map((o) => {
    const opening = { field: o.field, salt: fromBase64(o.salt, 'salt'), value: fromBase64(o.value, 'value') };
    const ok = commitments.has(o.digest) && verifyOpening(fromBase64(o.digest, 'digest'), opening);
    return h(
      'tr',
      { class: ok ? undefined : 'failed' },
      h('th', { scope: 'row' }, o.field),
      h('td', {}, ok ? dec.decode(opening.value) : 'NOT SHOWN'),
      h('td', { class: ok ? 'ok' : 'failed' }, ok ? '✓ opens the commitment in this verified event' : '✗ does not open a commitment of this event'),
    );
  });
  into.append(h('p', {}, `Disclosed; the log recorded the disclosure at index ${body.disclosure_index ?? '?'}.`), h('table', { id: 'openings' }, h('tbody', {}, ...rows)));
}

/**
 * GET from the log's API with the auditor token, bounded by API_TIMEOUT_MS: a log that does not
 * answer fails the view with "reading the log" naming the request, instead of leaving it pending.
 */
async function api<T>(path: string, what: string): Promise<{ res: Response; body: T }> {
  const url = `${trust!.url}${path}`;
  try {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(API_TIMEOUT_MS) });
    return { res, body: (await res.json()) as T };
  } catch (err) {
    const why = err instanceof DOMException && err.name === 'TimeoutError' ? `no answer within ${API_TIMEOUT_MS} ms` : err instanceof Error ? err.message : String(err);
    throw new CheckFailed(CHECK.fetch, `${what} (GET ${url.split('?')[0]}): ${why}`);
  }
}

/** Hands the leaves search hits carry to the verifier, which checks them as it checks bundles. */
function offerLeaves(hits: { index: number; leaf?: string }[]): void {
  for (const r of hits) if (typeof r.leaf === 'string') log!.offer(r.index, fromBase64(r.leaf));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the protobuf JSON of an event (or an API answer), untyped by nature
async function indexesFromApi(path: string): Promise<{ indexes: number[]; body: any }> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the protobuf JSON of an event (or an API answer), untyped by nature
  const { res, body } = await api<any>(path, 'the log\'s API');
  if (!res.ok) throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
  offerLeaves(body.results ?? []);
  return { indexes: (body.events ?? body.results ?? []).map((e: { index: number }) => e.index), body };
}

async function reviewView(id: string): Promise<Child[]> {
  await verifiedCheckpoint();
  if (!token) return [h('h2', {}, `Review ${id}`), h('p', { class: 'error', role: 'alert' }, 'A review timeline needs an auditor token (top right).')];
  const { indexes, body } = await indexesFromApi(`/v1/reviews/${encodeURIComponent(id)}/timeline`);
  if (indexes.some((i) => i >= log!.checkpoint!.size)) await verifiedCheckpoint(true);
  const { rows, failed } = await eventRows(indexes);
  if (failed) showFailure(new CheckFailed(firstCheck(rows), `${failed} of ${indexes.length} event(s) of the review failed verification`));
  const checks = (body.checks ?? []) as { name?: string; ok: boolean; message?: string; detail?: string }[];
  const executed = checks.find((c) => c.name === 'executed_statement_matches_approved');
  return [
    h('h2', {}, `Review ${id}`),
    h('p', { id: 'review-state' }, `State: ${String(body.state ?? '')}`),
    executed
      ? h('p', { id: 'executed-approved', class: executed.ok ? 'ok' : 'failed' }, executed.ok ? `Executed what was approved: yes — ${executed.detail ?? executed.message ?? ''}.` : `Executed what was approved: NO — ${executed.detail ?? executed.message ?? ''}.`)
      : h('p', { id: 'executed-approved' }, 'Nothing was executed under this review (yet).'),
    h('h3', {}, 'Checks'),
    h('p', { class: 'note' }, 'The log computed these checks over the events below, each of which this browser verified is in the log.'),
    h('ul', { id: 'review-checks' }, ...checks.map((c) => h('li', { class: c.ok ? 'ok' : 'failed' }, `${c.ok ? '✓' : '✗'} ${c.name ?? ''} ${c.message ?? c.detail ?? ''}`))),
    h('h3', {}, 'Timeline'),
    eventTable(rows),
  ];
}

async function sessionView(id: string): Promise<Child[]> {
  await verifiedCheckpoint();
  if (!token) return [h('h2', {}, `Session ${id}`), h('p', { class: 'error', role: 'alert' }, 'A session needs an auditor token (top right).')];
  const { indexes } = await indexesFromApi(`/v1/search?session=${encodeURIComponent(id)}&order=oldest&limit=500`);
  if (indexes.some((i) => i >= log!.checkpoint!.size)) await verifiedCheckpoint(true);
  const { rows, failed } = await eventRows(indexes);
  if (failed) showFailure(new CheckFailed(firstCheck(rows), `${failed} of ${indexes.length} event(s) of the session failed verification`));
  return [
    h('h2', {}, `Session ${id}`),
    h('p', { class: 'note' }, `${indexes.length} event(s), each proved to be in the log; the server chose them, so this is not proof that they are all of the session’s events.`),
    eventTable(rows),
  ];
}

function verifyView(): Child[] {
  const verdict = h('div', { id: 'verdict', role: 'status' });
  const input = h('input', { id: 'bundle-file', type: 'file', accept: '.tlog-proof,.candor-export,text/plain,application/x-ndjson' });
  const drop = h('div', { id: 'drop', tabindex: 0, role: 'button', 'aria-label': 'Drop a proof bundle or a signed export here, or press Enter to choose a file' }, 'Drop a .tlog-proof bundle or a signed .candor-export here');
  const judge = async (file: File) => {
    verdict.replaceChildren();
    try {
      const v = verifyFile(await file.text(), trust!);
      verdict.className = 'ok';
      verdict.append(
        v.kind === 'proof'
          ? `✓ Verified, offline: entry ${v.index} is in the tree of ${v.size} entries of ${v.origin} (log signature and inclusion proof checked; leaf hash ${toBase64(v.leafHash)}).`
          : `✓ Verified, offline: an export of ${v.count} event(s)${v.first !== undefined ? ` (entries ${v.first}–${v.last})` : ''} from the tree of ${v.size} entries of ${v.origin}: every event's inclusion proof, the manifest's signature, count and digest checked.`,
      );
    } catch (err) {
      const f = failure(err);
      verdict.className = 'failed';
      verdict.append(`✗ Rejected — ${f.check}: ${f.message}`);
    }
  };
  input.addEventListener('change', () => input.files?.[0] && void judge(input.files[0]));
  drop.addEventListener('click', () => input.click());
  drop.addEventListener('keydown', (e) => (e.key === 'Enter' || e.key === ' ') && input.click());
  drop.addEventListener('dragover', (e) => e.preventDefault());
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    const f = e.dataTransfer?.files[0];
    if (f) void judge(f);
  });
  return [
    h('h2', {}, 'Verify a file'),
    h('p', {}, 'The verdict is computed in this browser with the pinned keys and no network.'),
    drop,
    h('label', { for: 'bundle-file' }, 'Or choose a file ', input),
    verdict,
  ];
}

// ---- routing ----

async function route(): Promise<void> {
  const [path = '/', query = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  main.classList.remove('failed');
  main.replaceChildren(h('p', {}, 'Verifying…'));
  let view: Child[];
  try {
    if (!trust || path === '/trust') view = trustView();
    else if (path === '/events') view = await events(params);
    else if (path.startsWith('/event/')) view = await eventDetail(Number(path.slice(7)));
    else if (path.startsWith('/review/')) view = await reviewView(decodeURIComponent(path.slice(8)));
    else if (path.startsWith('/session/')) view = await sessionView(decodeURIComponent(path.slice(9)));
    else if (path === '/verify') view = verifyView();
    else view = await overview();
  } catch (err) {
    showFailure(err);
    const f = failure(err);
    view = [h('h2', {}, 'Not verified'), h('p', { class: 'error' }, `${f.check}: ${f.message}`)];
  }
  main.replaceChildren(...view.filter((c): c is Node | string => c !== null && c !== undefined && c !== false).map((c) => (typeof c === 'number' ? String(c) : c)));
}

trust = loadTrust();
document.body.append(header(), main);
// After a navigation, keyboard and screen-reader focus moves to the new view.
window.addEventListener('hashchange', () => void route().then(() => main.focus({ preventScroll: true })));
void route();

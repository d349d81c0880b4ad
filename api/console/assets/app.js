// Gust's web console. It reads the namespace through the API (/api/v1) with
// the key the user signed in with, kept in sessionStorage. Everything it
// shows from the server is set as text (textContent, attributes), never as
// markup.

const KEY = 'gust.key';
const NS = '/api/v1/namespaces/_';
const PAGE = 50; // activations per page
const MAX_EVENTS = 300; // event cards kept on the page

const state = {
  view: '',
  namespace: '',
  stream: null, // AbortController of the event stream
  page: 0,
  name: '',
  selected: '', // activation id shown in the detail pane
  detailCalls: 0, // calls of showActivation so far: the latest one shows
  rows: [], // the activations of the page shown
  total: 0, // how many activations match in all
  timers: [],
  refreshSoon: 0,
};

// el builds an element: attrs are attributes ("on…" ones are listeners),
// children are nodes or strings (as text).
function el(tag, attrs = {}, ...children) {
  const svg = ['svg', 'g', 'rect', 'text', 'path', 'title', 'line'].includes(tag);
  const e = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const $ = (id) => document.getElementById(id);
const key = () => sessionStorage.getItem(KEY) || '';
const authHeader = () => 'Basic ' + btoa(key());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function fmtTime(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) + ' ' +
    d.toLocaleTimeString(undefined, { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

function fmtMs(ms) {
  if (ms === undefined || ms === null) return '';
  return ms >= 1000 ? (ms / 1000).toFixed(2) + ' s' : ms + ' ms';
}

// APIError is an answer of the API other than 2xx.
class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// api calls path of the API (under the namespace unless it starts with
// /api/) and returns its JSON.
async function api(path, opts = {}) {
  const url = path.startsWith('/api/') ? path : NS + path;
  const headers = { Authorization: authHeader(), Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, { method: opts.method || 'GET', headers, body: opts.body, signal: opts.signal });
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (res.status === 401) {
    signOut('The key was refused: sign in again.');
    throw new APIError(401, 'not signed in');
  }
  if (!res.ok) {
    throw new APIError(res.status, (body && body.error) || `${res.status} ${res.statusText}`);
  }
  return body;
}

function showError(id, err) {
  $(id).textContent = err ? String(err.message || err) : '';
}

// ---- sign in ----

async function signIn(k) {
  sessionStorage.setItem(KEY, k);
  try {
    const names = await api('/api/v1/namespaces');
    state.namespace = Array.isArray(names) && names.length ? names[0] : '_';
  } catch (err) {
    sessionStorage.removeItem(KEY);
    if (err.status !== 401) $('signin-error').textContent = 'Cannot sign in: ' + err.message;
    return false;
  }
  return true;
}

function signOut(message) {
  sessionStorage.removeItem(KEY);
  stopStream();
  state.namespace = '';
  state.rows = [];
  state.total = 0;
  $('events').replaceChildren();
  $('signin-error').textContent = message || '';
  if (location.hash !== '') history.replaceState(null, '', location.pathname);
  route();
}

// ---- views ----

const views = ['signin', 'events', 'graph', 'activations', 'feeds', 'pool'];

function route() {
  for (const t of state.timers) clearInterval(t);
  state.timers = [];
  const signedIn = key() !== '' && state.namespace !== '';
  let [view, arg] = location.hash.replace(/^#/, '').split('/');
  if (!signedIn) view = 'signin';
  else if (!views.includes(view) || view === 'signin') view = 'events';
  const wasActivations = state.view === 'activations';
  state.view = view;
  for (const v of views) $('view-' + v).hidden = v !== view;
  $('nav').hidden = !signedIn;
  $('who').hidden = !signedIn;
  $('namespace').textContent = state.namespace;
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('current', a.dataset.view === view);
  }
  if (!signedIn) {
    $('key').focus();
    return;
  }
  if (!state.stream) startStream();
  switch (view) {
    case 'graph':
      loadGraph();
      break;
    case 'activations':
      state.selected = arg || '';
      if (wasActivations && state.rows.length > 0) renderActivations(); // opening one keeps the page
      else loadActivations();
      if (state.selected) showActivation(state.selected);
      else $('activation-detail').hidden = true;
      state.timers.push(setInterval(refreshActivations, 3000));
      break;
    case 'feeds':
      loadFeeds();
      break;
    case 'pool':
      loadPool();
      state.timers.push(setInterval(loadPool, 3000));
      break;
  }
}

// ---- live events (server-sent events over fetch, which can send the key) ----

function setLive(on) {
  const l = $('live');
  l.textContent = on ? 'live' : 'reconnecting';
  l.classList.toggle('off', !on);
}

function stopStream() {
  if (state.stream) state.stream.abort();
  state.stream = null;
}

async function startStream() {
  const ctrl = new AbortController();
  state.stream = ctrl;
  let backoff = 500;
  while (!ctrl.signal.aborted) {
    try {
      const res = await fetch(NS + '/events', {
        headers: { Authorization: authHeader(), Accept: 'text/event-stream' },
        signal: ctrl.signal,
      });
      if (res.status === 401) {
        signOut('The key was refused: sign in again.');
        return;
      }
      if (!res.ok) throw new Error(`event stream: ${res.status} ${res.statusText}`);
      setLive(true);
      showError('events-error', null);
      backoff = 500;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          onServerEvent(buf.slice(0, i));
          buf = buf.slice(i + 2);
        }
      }
    } catch (err) {
      if (ctrl.signal.aborted) return;
      showError('events-error', err);
    }
    setLive(false);
    await sleep(backoff);
    backoff = Math.min(backoff * 2, 10000);
  }
}

// onServerEvent takes one server-sent event: an outcome, or a notice.
function onServerEvent(block) {
  let name = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const [field, ...rest] = line.split(':');
    const value = rest.join(':').replace(/^ /, '');
    if (field === 'event') name = value;
    if (field === 'data') data.push(value);
  }
  if (data.length === 0) return;
  let msg;
  try {
    msg = JSON.parse(data.join('\n'));
  } catch {
    return;
  }
  if (name === 'dropped') {
    addNotice(`${msg.dropped} events not shown: the console fell behind.`);
    return;
  }
  if (msg.result) return; // how an activation ended: its verdict follows it itself
  addEvent(msg);
  if (state.view === 'activations' && state.page === 0) {
    clearTimeout(state.refreshSoon);
    state.refreshSoon = setTimeout(refreshActivations, 700);
  }
}

function addNotice(text) {
  $('events').prepend(el('li', { class: 'notice' }, text));
}

function activationLink(id) {
  return el('a', { class: 'activation', href: '#activations/' + encodeURIComponent(id), 'data-id': id }, id);
}

function addEvent(o) {
  $('events-empty').hidden = true;
  const ev = o.event || {};
  const rules = Array.isArray(o.rules) ? o.rules : [];
  const card = el('li', { class: 'event', 'data-trigger': o.trigger, 'data-id': ev.id },
    el('div', { class: 'head' },
      el('time', {}, fmtTime(Date.parse(o.time))),
      el('strong', { class: 'trigger' }, o.trigger),
      el('span', { class: 'type' }, ev.type),
      el('span', { class: 'source' }, 'from ', ev.source),
      ev.subject ? el('span', { class: 'subject' }, ev.subject) : null),
    el('div', { class: 'meta' }, 'event ', el('code', {}, ev.id),
      o.triggerActivationId ? [' · trigger activation ', activationLink(o.triggerActivationId)] : null),
    el('ul', { class: 'verdicts' },
      rules.length === 0 ? el('li', { class: 'hint' }, 'no rules') : rules.map(verdict)));
  $('events').prepend(card);
  const cards = $('events').children;
  while (cards.length > MAX_EVENTS) cards[cards.length - 1].remove();
}

function verdict(v) {
  const li = el('li', { class: 'verdict ' + v.outcome, 'data-rule': v.rule },
    el('span', { class: 'badge ' + v.outcome }, v.outcome),
    ' ', el('span', { class: 'rule' }, v.rule), ' → ', el('span', { class: 'action' }, v.action));
  if (v.activationId) {
    const status = el('span', { class: 'status pending' }, 'running…');
    li.append(' ', activationLink(v.activationId), ' ', status);
    followActivation(v.activationId, status);
  }
  if (v.error) li.append(' ', el('span', { class: 'error' }, v.error));
  return li;
}

// followActivation shows the outcome of activation id in status once its
// record is stored.
async function followActivation(id, status) {
  for (let wait = 300; wait < 60000; wait = Math.min(wait * 1.5, 5000)) {
    await sleep(wait);
    if (!status.isConnected) return;
    try {
      const a = await api('/activations/' + encodeURIComponent(id));
      const s = (a.response && a.response.status) || 'unknown';
      status.textContent = `${s} · ${fmtMs(a.duration)}`;
      status.className = 'status ' + s.replaceAll(' ', '-');
      return;
    } catch (err) {
      if (err.status !== 404) {
        status.textContent = err.message;
        return;
      }
    }
  }
  status.textContent = 'no record yet';
}

// ---- graph ----

async function listAll(collection) {
  return (await api(`/${collection}?limit=200`)) || [];
}

const refName = (r) => (r && typeof r === 'object' ? `/${r.path}/${r.name}` : String(r || ''));

async function loadGraph() {
  showError('graph-error', null);
  let triggers, rules, acts;
  try {
    [triggers, rules, acts] = await Promise.all([listAll('triggers'), listAll('rules'), listAll('actions')]);
  } catch (err) {
    showError('graph-error', err);
    return;
  }
  const ns = state.namespace;
  const tName = (t) => `/${t.namespace}/${t.name}`;
  const aName = (a) => `/${a.namespace}/${a.name}`;
  const tList = triggers.map(tName);
  const aList = acts.map(aName);
  for (const r of rules) {
    for (const [list, n] of [[tList, refName(r.trigger)], [aList, refName(r.action)]]) {
      if (!list.includes(n)) list.push(n);
    }
  }
  const row = 34, top = 40, width = 220, gap = 90;
  const rowsOf = Math.max(tList.length, rules.length, aList.length, 1);
  const x = [10, 10 + width + gap, 10 + 2 * (width + gap)];
  const svg = el('svg', {
    id: 'graph-svg', role: 'img', 'aria-label': `graph of namespace ${ns}`,
    width: x[2] + width + 10, height: top + rowsOf * row + 10,
    viewBox: `0 0 ${x[2] + width + 10} ${top + rowsOf * row + 10}`,
  });
  ['Triggers', 'Rules', 'Actions'].forEach((h, i) => svg.append(el('text', { x: x[i], y: 20, class: 'col' }, h)));
  const pos = new Map();
  const feedOf = new Map(triggers.map((t) => [tName(t), annotation(t, 'feed')]));
  const node = (col, i, label, cls, sub, tip) => {
    const y = top + i * row;
    const g = el('g', { class: 'node ' + cls, 'data-name': label },
      el('title', {}, tip || label),
      el('rect', { x: x[col], y, width, height: row - 8, rx: 5 }),
      el('text', { x: x[col] + 8, y: y + (sub ? 12 : 17) }, short(label, ns)));
    if (sub) g.append(el('text', { x: x[col] + 8, y: y + 23, class: 'sub' }, sub));
    svg.append(g);
    return { y: y + (row - 8) / 2 };
  };
  tList.forEach((n, i) => pos.set('t' + n, node(0, i, n, 'trigger', feedOf.get(n) ? 'feed ' + feedOf.get(n) : '')));
  aList.forEach((n, i) => pos.set('a' + n, node(2, i, n, 'action')));
  rules.forEach((r, i) => {
    const n = `/${r.namespace}/${r.name}`;
    const p = node(1, i, n, 'rule ' + (r.status === 'active' ? 'active' : 'inactive'), r.status, `${n} (${r.status})`);
    const from = pos.get('t' + refName(r.trigger));
    const to = pos.get('a' + refName(r.action));
    const cls = 'edge ' + (r.status === 'active' ? 'active' : 'inactive');
    if (from) svg.prepend(edge(x[0] + width, from.y, x[1], p.y, cls));
    if (to) svg.prepend(edge(x[1] + width, p.y, x[2], to.y, cls));
  });
  if (tList.length + rules.length + aList.length === 0) {
    svg.append(el('text', { x: 10, y: top + 17, class: 'sub' }, 'No triggers, rules or actions yet.'));
  }
  $('graph').replaceChildren(svg);
}

function edge(x1, y1, x2, y2, cls) {
  const mx = (x1 + x2) / 2;
  return el('path', { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, class: cls });
}

function short(name, ns) {
  const own = `/${ns}/`;
  return name.startsWith(own) ? name.slice(own.length) : name;
}

function annotation(entity, k) {
  const a = (entity.annotations || []).find((x) => x.key === k);
  return a ? a.value : undefined;
}

// ---- activations ----

// A page of activations costs the page, not the namespace's records, and
// the count is the server's; still the view asks for one page (and the
// count) when it opens or pages, and while it shows the newest page it only
// asks for what started since the newest it has.

function activationQuery(extra) {
  const q = new URLSearchParams(extra);
  if (state.name) q.set('name', state.name);
  return '/activations?' + q;
}

async function loadActivations() {
  let list, count;
  try {
    [list, count] = await Promise.all([
      api(activationQuery({ limit: PAGE, skip: state.page * PAGE })),
      api(activationQuery({ count: 'true' })),
    ]);
  } catch (err) {
    showError('activations-error', err);
    return;
  }
  showError('activations-error', null);
  state.rows = list || [];
  state.total = (count && count.activations) || 0;
  renderActivations();
}

// refreshActivations adds the activations that started since the newest
// on the first page.
async function refreshActivations() {
  if (state.view !== 'activations' || state.page !== 0) return;
  if (!state.rows || state.rows.length === 0) {
    loadActivations();
    return;
  }
  // A record is stored when its activation ends: look a minute (the
  // default time limit) before the newest start for those still running.
  const starts = state.rows.map((a) => a.start);
  const oldest = Math.min(...starts);
  let fresh;
  try {
    fresh = await api(activationQuery({ since: Math.max(1, Math.max(...starts) - 60000), limit: PAGE }));
  } catch (err) {
    showError('activations-error', err);
    return;
  }
  const known = new Set(state.rows.map((a) => a.activationId));
  const added = (fresh || []).filter((a) => !known.has(a.activationId) && a.start >= oldest);
  if (added.length === 0) return;
  state.total += added.length;
  state.rows = added.concat(state.rows).sort((a, b) => b.start - a.start).slice(0, PAGE);
  renderActivations();
}

function renderActivations() {
  const list = state.rows;
  $('activations-total').textContent = `${state.total} in all`;
  const pages = Math.max(1, Math.ceil(state.total / PAGE));
  $('activations-page').textContent = `page ${state.page + 1} of ${pages}`;
  $('activations-newer').disabled = state.page === 0;
  $('activations-older').disabled = state.page + 1 >= pages;
  const longest = Math.max(1, ...list.map((a) => timing(a).total));
  const rows = list.map((a) => {
    const t = timing(a);
    const s = statusOf(a.statusCode);
    return el('tr', {
      'data-id': a.activationId, class: a.activationId === state.selected ? 'selected' : null,
      onclick: () => { location.hash = 'activations/' + encodeURIComponent(a.activationId); },
    },
    el('td', {}, a.name),
    el('td', {}, activationLink(a.activationId)),
    el('td', {}, fmtTime(a.start)),
    el('td', {}, el('span', { class: 'status ' + s.replaceAll(' ', '-') }, s)),
    el('td', {}, t.kind),
    el('td', { class: 'num' }, a.duration !== undefined ? fmtMs(a.duration) : ''),
    el('td', { class: 'timing' }, timingBar(t, longest)));
  });
  $('activations').tBodies[0].replaceChildren(...rows);
  if (list.length === 0) {
    $('activations').tBodies[0].append(el('tr', {}, el('td', { colspan: 7, class: 'hint' }, 'No activations.')));
  }
}

const statusNames = ['success', 'application error', 'developer error', 'whisk internal error'];
const statusOf = (code) => statusNames[code] || 'unknown';

// timing reads an activation's wait, init and run times (ms).
function timing(a) {
  const wait = Number(annotation(a, 'waitTime')) || 0;
  const initRaw = annotation(a, 'initTime');
  const init = Number(initRaw) || 0;
  const total = wait + (a.duration || 0);
  const run = Math.max(0, (a.duration || 0) - init);
  const isTrigger = a.end === undefined && a.duration === undefined;
  return { wait, init, run, total, kind: isTrigger ? 'trigger' : initRaw !== undefined ? 'cold' : 'warm' };
}

function timingBar(t, longest) {
  const pct = (v) => `${Math.max(0, (100 * v) / longest)}%`;
  const bar = el('div', { class: 'bar', title: `wait ${t.wait} ms · init ${t.init} ms · run ${t.run} ms` });
  for (const [k, v] of [['wait', t.wait], ['init', t.init], ['run', t.run]]) {
    if (v > 0) {
      const seg = el('span', { class: k });
      seg.style.width = pct(v);
      bar.append(seg);
    }
  }
  return bar;
}

async function showActivation(id) {
  const pane = $('activation-detail');
  pane.hidden = false;
  pane.replaceChildren(el('p', { class: 'hint' }, 'Loading ', id, '…'));
  // Only the latest call shows, and only while its activation is open.
  const call = ++state.detailCalls;
  const current = () => call === state.detailCalls && state.view === 'activations' && state.selected === id;
  let a;
  for (let i = 0; ; i++) {
    try {
      a = await api('/activations/' + encodeURIComponent(id));
      break;
    } catch (err) {
      // A run this console started has no record until it ends.
      if (err.status === 404 && startedHere.has(id)) {
        if (i >= MAX_RUN_POLLS) {
          startedHere.delete(id);
          if (current()) pane.replaceChildren(el('p', { class: 'error' }, id, ' has no record yet: it may still be waiting to run. Open it again later.'));
          return;
        }
        if (i === 0 && current()) pane.replaceChildren(el('p', { class: 'hint' }, 'Running ', id, '…'));
        await sleep(250);
        if (!current()) return; // opening it again polls anew
        continue;
      }
      if (current()) pane.replaceChildren(el('p', { class: 'error' }, err.message));
      return;
    }
  }
  startedHere.delete(id);
  if (!current()) return;
  const t = timing(a);
  const resp = a.response || {};
  const logs = Array.isArray(a.logs) ? a.logs : [];
  pane.replaceChildren(
    el('h3', {}, a.name, ' ', el('code', {}, a.activationId)),
    el('button', { type: 'button', class: 'close', onclick: () => { location.hash = 'activations'; } }, 'Close'),
    t.kind !== 'trigger'
      ? el('button', { type: 'button', class: 'rerun', onclick: (e) => rerun(a, e.target) }, 'Rerun')
      : el('button', { type: 'button', class: 'replay', onclick: (e) => replay(a, e.target) }, 'Replay'),
    el('dl', {},
      el('dt', {}, 'Status'), el('dd', {}, el('span', { class: 'status ' + String(resp.status).replaceAll(' ', '-') }, resp.status || '')),
      el('dt', {}, 'Start'), el('dd', {}, fmtTime(a.start)),
      el('dt', {}, 'Duration'), el('dd', {}, fmtMs(a.duration)),
      el('dt', {}, 'Kind'), el('dd', {}, t.kind, annotation(a, 'kind') ? ' · ' + annotation(a, 'kind') : ''),
      a.cause ? [el('dt', {}, 'Cause'), el('dd', {}, activationLink(a.cause))] : null),
    el('h4', {}, 'Timing'),
    timingBar(t, Math.max(1, t.total)),
    el('p', { class: 'legend' },
      el('span', { class: 'wait' }, 'wait ', fmtMs(t.wait)), ' ',
      el('span', { class: 'init' }, 'init ', fmtMs(t.init)), ' ',
      el('span', { class: 'run' }, 'run ', fmtMs(t.run))),
    el('h4', {}, 'Result'),
    el('pre', { class: 'result' }, resp.result === undefined ? '' : JSON.stringify(resp.result, null, 2)),
    el('h4', {}, 'Tree'),
    el('div', { id: 'activation-tree', class: 'tree' }, el('p', { class: 'hint' }, 'Loading…')),
    el('h4', {}, 'Logs'),
    el('pre', { class: 'logs' }, logs.length ? logs.join('\n') : '(no logs)'),
    el('h4', {}, 'Annotations'),
    el('pre', { class: 'annotations' }, JSON.stringify(a.annotations || [], null, 2)));
  for (const tr of $('activations').tBodies[0].rows) tr.classList.toggle('selected', tr.dataset.id === id);
  showTree(a, id);
}

// startedHere holds the activations this console started (reruns) whose
// record it has not read yet; MAX_RUN_POLLS bounds the wait for one
// (quarter seconds: 5 minutes, the longest action time limit; a rerun
// still queued then says so).
const startedHere = new Set();
const MAX_RUN_POLLS = 4 * 300;

// rerun invokes a's action again with a's parameters (POST
// .../activations/{id}/rerun) and opens the new activation, which shows
// as running until its record is stored.
async function rerun(a, button) {
  button.disabled = true;
  try {
    const r = await api('/activations/' + encodeURIComponent(a.activationId) + '/rerun', { method: 'POST', body: '{}' });
    startedHere.add(r.activationId);
    location.hash = 'activations/' + encodeURIComponent(r.activationId);
  } catch (err) {
    button.replaceWith(el('p', { class: 'error rerun-error' }, 'Rerun: ' + err.message));
  }
}

// replay puts the event of trigger activation a on its trigger again
// (POST .../triggers/{name}/replay with its activationId) and opens the
// new trigger activation once the rule engine has recorded it.
async function replay(a, button) {
  button.disabled = true;
  try {
    const r = await api('/triggers/' + encodeURIComponent(a.name) + '/replay',
      { method: 'POST', body: JSON.stringify({ activationId: a.activationId }) });
    const done = (r.replayed || [])[0] || {};
    if (!done.activationId) throw new Error(done.skipped || 'nothing was replayed');
    await recorded(done.activationId);
    location.hash = 'activations/' + encodeURIComponent(done.activationId);
  } catch (err) {
    button.replaceWith(el('p', { class: 'error replay-error' }, 'Replay: ' + err.message));
  }
}

// recorded waits, a few seconds at most, until activation id has a record.
async function recorded(id) {
  for (let i = 0; ; i++) {
    try {
      return await api('/activations/' + encodeURIComponent(id));
    } catch (err) {
      if (err.status !== 404 || i >= 40) throw err;
    }
    await sleep(250);
  }
}

// ---- one event, end to end ----

// MAX_CAUSES bounds how far up the tree view follows causes.
const MAX_CAUSES = 8;

// showTree shows, under the activation a, the tree it is part of: from
// the activation at the top of its causes (the trigger activation of its
// event, or its topmost sequence) down to every rule, action and sequence
// component it caused (GET .../activations/{id}/tree), a marked.
async function showTree(a, id) {
  // A rerun or a replay names its original as cause, but is not in the
  // original's tree: its own tree starts at it.
  const startsTree = (x) => annotation(x, 'rerunOf') !== undefined || annotation(x, 'replayOf') !== undefined;
  let root = a.activationId;
  let cause = startsTree(a) ? '' : a.cause;
  let tree;
  try {
    for (let i = 0; cause && i < MAX_CAUSES; i++) {
      let up;
      try {
        up = await api('/activations/' + encodeURIComponent(cause));
      } catch (err) {
        if (err.status === 404) break; // a cause whose record expired: start below it
        throw err;
      }
      root = up.activationId;
      cause = startsTree(up) ? '' : up.cause;
    }
    tree = await api('/activations/' + encodeURIComponent(root) + '/tree');
  } catch (err) {
    if (state.selected === id) $('activation-tree').replaceChildren(el('p', { class: 'error' }, err.message));
    return;
  }
  if (state.selected !== id || !$('activation-tree')) return;
  $('activation-tree').replaceChildren(el('ul', {}, treeNode(tree, id)));
}

function treeNode(n, selected) {
  const ok = !!n.success;
  const cls = ['node', ok ? 'ok' : 'failed', n.activationId === selected ? 'selected' : ''].join(' ').trim();
  const line = el('div', { class: 'line' },
    el('span', { class: 'mark' }, ok ? '✓' : '✗'), ' ',
    el('span', { class: 'kind' }, n.kind), ' ',
    el('span', { class: 'name' }, n.name),
    n.kind === 'rule' && n.action ? [' → ', el('span', { class: 'action' }, n.action)] : null,
    n.attempt ? [' ', el('span', { class: 'attempt' }, 'attempt ' + n.attempt)] : null,
    n.activationId ? [' ', activationLink(n.activationId)] : null,
    n.end ? [' ', el('span', { class: 'dur' }, fmtMs(n.duration))] : null,
    n.kind === 'action' && !n.missing ? [' ', el('span', { class: 'start ' + (n.cold ? 'cold' : 'warm') }, n.cold ? 'cold' : 'warm')] : null,
    !ok && n.status ? [' ', el('span', { class: 'status ' + n.status.replaceAll(' ', '-') }, n.status)] : null);
  const logs = Array.isArray(n.logs) ? n.logs : [];
  return el('li', { class: cls, 'data-kind': n.kind, 'data-id': n.activationId || null, 'data-name': n.name },
    line,
    n.error ? el('p', { class: 'error' }, n.error) : null,
    logs.length ? el('pre', { class: 'node-logs' }, logs.join('\n')) : null,
    Array.isArray(n.children) && n.children.length ? el('ul', {}, n.children.map((c) => treeNode(c, selected))) : null);
}

// ---- feeds ----

async function loadFeeds() {
  showError('feeds-error', null);
  const body = $('feeds').tBodies[0];
  let triggers;
  try {
    triggers = (await listAll('triggers')).filter((t) => annotation(t, 'feed'));
  } catch (err) {
    showError('feeds-error', err);
    return;
  }
  if (triggers.length === 0) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: 6, class: 'hint' }, 'No trigger has a feed.')));
    return;
  }
  body.replaceChildren(...triggers.map((t) => {
    const feed = String(annotation(t, 'feed'));
    const cells = [el('td', {}, t.name), el('td', {}, feed), el('td', { colspan: 4, class: 'hint' }, 'reading…')];
    const tr = el('tr', { 'data-trigger': t.name }, cells);
    readFeed(t, feed).then((st) => {
      const s = st.status || {};
      const active = s.active ? (s.running === false ? 'active, not running' : 'active') : 'paused';
      tr.replaceChildren(cells[0], cells[1],
        el('td', {}, el('span', { class: 'status ' + (s.active ? 'success' : 'paused') }, active),
          s.reason && s.reason.message ? ' (' + s.reason.message + ')' : ''),
        el('td', { class: 'num' }, s.events || 0),
        el('td', {}, s.lastEvent ? fmtTime(s.lastEvent) : ''),
        el('td', { class: 'error' }, s.lastError ? `${s.lastError} (${fmtTime(Date.parse(s.lastErrorISO))})` : ''));
    }).catch((err) => {
      tr.replaceChildren(cells[0], cells[1], el('td', { colspan: 4, class: 'error' }, err.message));
    });
    return tr;
  }));
}

// readFeed asks the feed action of trigger t for its status (OpenWhisk's
// READ lifecycle event).
async function readFeed(t, feed) {
  const parts = feed.replace(/^\//, '').split('/');
  const path = `/api/v1/namespaces/${encodeURIComponent(parts[0])}/actions/${parts.slice(1).map(encodeURIComponent).join('/')}`;
  return api(path + '?blocking=true&result=true', {
    method: 'POST',
    body: JSON.stringify({ lifecycleEvent: 'READ', triggerName: `/${t.namespace}/${t.name}`, authKey: key() }),
  });
}

// ---- warm pool ----

async function loadPool() {
  let p;
  try {
    p = await api('/pool');
  } catch (err) {
    showError('pool-error', err);
    return;
  }
  showError('pool-error', null);
  const cs = p.containers || [];
  const by = (s) => cs.filter((c) => c.state === s).length;
  $('pool-summary').textContent =
    `${cs.length} container${cs.length === 1 ? '' : 's'}: ${by('busy')} busy, ${by('idle')} idle, ${by('paused')} paused, ${by('starting')} starting; ` +
    `${cs.reduce((m, c) => m + c.memoryMB, 0)} MB`;
  const body = $('pool').tBodies[0];
  body.replaceChildren(...cs.map((c) => el('tr', { 'data-action': c.action },
    el('td', {}, c.action), el('td', {}, c.version), el('td', {}, c.kind), el('td', { class: 'num' }, c.memoryMB + ' MB'),
    el('td', {}, el('span', { class: 'state ' + c.state }, c.state)), el('td', { class: 'num' }, c.active),
    el('td', {}, fmtTime(Date.parse(c.lastUsed))))));
  if (cs.length === 0) body.append(el('tr', {}, el('td', { colspan: 7, class: 'hint' }, 'No warm containers for this namespace.')));
}

// ---- wiring ----

function init() {
  $('signin').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('signin-error').textContent = '';
    const k = $('key').value.trim();
    if (!/^[^:\s]+:[^\s]+$/.test(k)) {
      $('signin-error').textContent = 'A key looks like uuid:key.';
      return;
    }
    if (await signIn(k)) {
      $('key').value = '';
      if (!location.hash || location.hash === '#signin') location.hash = 'events';
      else route();
    }
  });
  $('signout').addEventListener('click', () => signOut(''));
  $('graph-refresh').addEventListener('click', loadGraph);
  $('feeds-refresh').addEventListener('click', loadFeeds);
  $('activations-filter').addEventListener('submit', (e) => {
    e.preventDefault();
    state.name = $('activations-name').value.trim();
    state.page = 0;
    loadActivations();
  });
  $('activations-newer').addEventListener('click', () => { state.page = Math.max(0, state.page - 1); loadActivations(); });
  $('activations-older').addEventListener('click', () => { state.page++; loadActivations(); });
  window.addEventListener('hashchange', route);
  if (key()) {
    signIn(key()).then(route);
  } else {
    route();
  }
}

init();

// Ripple's web page: the live streams (from the HTTP API, kept current by its
// Server-Sent Events), a player for HTTP-FLV and WebSocket-FLV (mpegts.js) and
// HLS (hls.js, or the browser's own HLS where there is no Media Source
// Extensions), the play URLs, and kick buttons when an API token is entered.
// No framework and no build step: the server embeds this file as it is.
'use strict';

const $ = (id) => document.getElementById(id);
const config = JSON.parse($('ripple-config').textContent || '{}');
const rtmpPort = document.querySelector('meta[name="ripple-rtmp-port"]')?.content || '1935';
const tokenKey = 'ripple.apiToken';

// window.ripple is what the browser tests (pkg/internal/e2e) read: every
// player or media element error lands in errors.
const ripple = (window.ripple = { errors: [], protocol: '', url: '', engine: '' });

// ---------------------------------------------------------------- helpers

function streamPath(app, stream) {
  return app.split('/').map(encodeURIComponent).join('/') + '/' + encodeURIComponent(stream);
}

// playURLs derives every URL from the page's own location, so the page works
// behind any host name; RTMP uses the server's configured port.
function playURLs(app, stream) {
  const p = streamPath(app, stream);
  const rtmpHost = rtmpPort === '1935' ? location.hostname : location.hostname + ':' + rtmpPort;
  const ws = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const base = location.protocol + '//' + location.host + '/';
  return {
    rtmp: 'rtmp://' + rtmpHost + '/' + p,
    rtmpApp: 'rtmp://' + rtmpHost + '/' + app.split('/').map(encodeURIComponent).join('/'),
    http: base + p + '.flv',
    ws: ws + '//' + location.host + '/' + p + '.flv',
    hls: base + p + '.m3u8',
  };
}

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  const { dataset, ...rest } = props || {};
  Object.assign(e, rest);
  Object.assign(e.dataset, dataset);
  e.append(...children);
  return e;
}

function formatBitrate(bps) {
  if (!(bps > 0)) return '–';
  return bps >= 1e6 ? (bps / 1e6).toFixed(2) + ' Mb/s' : Math.round(bps / 1e3) + ' kb/s';
}

function formatDuration(sec) {
  if (!(sec >= 0)) return '–';
  sec = Math.floor(sec);
  const h = Math.floor(sec / 3600), m = Math.floor(sec / 60) % 60, s = sec % 60;
  return (h ? h + ':' + String(m).padStart(2, '0') : String(m)) + ':' + String(s).padStart(2, '0');
}

function sinceSeconds(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? NaN : (Date.now() - t) / 1000;
}

// ---------------------------------------------------------------- API

let token = sessionStorage.getItem(tokenKey) || '';

class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function authHeaders() {
  return token ? { Authorization: 'Bearer ' + token } : {};
}

async function api(method, path) {
  const res = await fetch('/api/v1' + path, { method, headers: authHeaders(), cache: 'no-store' });
  if (!res.ok) {
    let msg = res.status + ' ' + res.statusText;
    try {
      const body = await res.json();
      if (body && body.error) msg = body.error;
    } catch { /* not JSON: keep the status line */ }
    throw new APIError(res.status, msg);
  }
  return res.status === 204 ? null : res.json();
}

function apiProblem(e) {
  if (e.status === 401) return token ? 'The API token was refused.' : 'The API needs a token: enter it above.';
  if (e.status === 403) return 'The API is closed on this address (set api.token in the server config).';
  if (e.status === 404) return 'This server has no HTTP API.';
  return 'API unreachable: ' + e.message;
}

// ---------------------------------------------------------------- streams

// streams maps "app/name" to the API's stream object; rows keeps one table
// row per stream so updates change cells in place instead of redrawing.
const streams = new Map();
const rows = new Map();

function streamKey(s) {
  return s.key;
}

function videoText(s) {
  const v = s.video;
  if (!v) return '–';
  let t = v.codec || '';
  if (v.width && v.height) t += ' ' + v.width + '×' + v.height;
  if (v.fps) t += ' ' + Math.round(v.fps) + ' fps';
  return t.trim() || '–';
}

function audioText(s) {
  const a = s.audio;
  if (!a) return '–';
  let t = a.codec || '';
  if (a.sample_rate) t += ' ' + a.sample_rate / 1000 + ' kHz';
  return t.trim() || '–';
}

// The API's players counts every hub reader, and HLS has exactly one: the
// segmenter, whatever the number of HLS viewers (they are plain HTTP requests
// for the same files). Viewers are therefore the readers of every other
// protocol; the cell's title shows the split.
function viewerCount(s) {
  const by = s.players_by_protocol;
  if (!by) return s.players || 0;
  return Object.entries(by).reduce((n, [p, c]) => (p === 'hls' ? n : n + c), 0);
}

function viewerTitle(s) {
  const parts = Object.entries(s.players_by_protocol || {}).filter(([p, n]) => n > 0 && p !== 'hls').map(([p, n]) => p + ': ' + n);
  if ((s.players_by_protocol || {}).hls) parts.push('HLS segmenter on (HLS viewers are not counted)');
  return parts.join(', ');
}

function renderStream(s) {
  const key = streamKey(s);
  let row = rows.get(key);
  if (!row) {
    row = el('tr');
    row.dataset.stream = key;
    const watch = el('button', { type: 'button', textContent: 'Watch' });
    watch.setAttribute('aria-label', 'Watch ' + key);
    watch.addEventListener('click', () => {
      const i = key.lastIndexOf('/');
      $('app').value = key.slice(0, i);
      $('stream').value = key.slice(i + 1);
      startFromForm();
    });
    const kick = el('button', { type: 'button', textContent: 'Kick', className: 'danger kick' });
    kick.setAttribute('aria-label', 'Kick the publisher of ' + key);
    kick.addEventListener('click', () => kickStream(key));
    // data-label names a cell where phones show rows as cards (style.css).
    const cell = (cls, label) => el('td', { className: cls, dataset: { label } });
    row.append(
      el('th', { scope: 'row', className: 'name' }, key),
      cell('video', 'Video'), cell('audio', 'Audio'), cell('num bitrate', 'Bitrate'),
      cell('num viewers', 'Viewers'), cell('num uptime', 'Uptime'),
      el('td', { className: 'actions' }, watch, ' ', kick));
    rows.set(key, row);
    // Keep the table sorted by key.
    const after = [...rows.keys()].sort().find((k) => k > key);
    $('streams').tBodies[0].insertBefore(row, after ? rows.get(after) : null);
  }
  const set = (cls, text) => {
    const c = row.querySelector('.' + cls);
    if (c.textContent !== text) c.textContent = text;
  };
  set('video', videoText(s));
  set('audio', audioText(s));
  set('bitrate', formatBitrate(s.ingest_bitrate));
  set('viewers', String(viewerCount(s)));
  row.querySelector('.viewers').title = viewerTitle(s);
  set('uptime', formatDuration(sinceSeconds(s.since)));
  row.classList.toggle('playing', key === playingKey);
  // Inside its reconnect grace a stream has no publisher for a while.
  row.classList.toggle('waiting', s.publishing === false);
  row.title = s.publishing === false ? 'publisher gone: waiting for it to reconnect' : '';
}

function removeStream(key) {
  streamsGen++;
  streams.delete(key);
  const row = rows.get(key);
  if (row) row.remove();
  rows.delete(key);
  updateEmpty();
}

function updateEmpty() {
  $('streams-empty').hidden = streams.size > 0;
}

function setStreams(list) {
  const seen = new Set();
  for (const s of list) {
    const key = streamKey(s);
    seen.add(key);
    streams.set(key, s);
    renderStream(s);
  }
  for (const key of [...streams.keys()]) if (!seen.has(key)) removeStream(key);
  updateEmpty();
}

function mergeStream(key, patch) {
  const s = Object.assign(streams.get(key) || { key }, patch);
  streams.set(key, s);
  renderStream(s);
  updateEmpty();
}

// Responses can overtake each other and events: a list fetched before the
// latest change (a newer fetch, a stream_ended event) is dropped.
let streamsGen = 0;

async function refreshStreams() {
  const gen = ++streamsGen;
  try {
    const list = await api('GET', '/streams');
    if (gen === streamsGen) setStreams(list);
    return true;
  } catch (e) {
    liveState(apiProblem(e), true);
    return false;
  }
}

// Uptime moves every second even without events.
setInterval(() => {
  for (const s of streams.values()) renderStream(s);
}, 1000);

// ---------------------------------------------------------------- clients

let clientsGen = 0;

async function refreshClients() {
  const section = $('clients-section');
  const gen = ++clientsGen;
  if (!token) {
    section.hidden = true;
    return;
  }
  let list;
  try {
    list = await api('GET', '/clients');
    if (gen !== clientsGen) return; // a newer fetch is on its way
  } catch (e) {
    section.hidden = true;
    liveState(apiProblem(e), true);
    return;
  }
  const tbody = $('clients').tBodies[0];
  tbody.replaceChildren(...list.map((c) => {
    const kick = el('button', { type: 'button', textContent: 'Kick', className: 'danger' });
    kick.setAttribute('aria-label', 'Kick client ' + c.id);
    kick.addEventListener('click', () => kickClient(c.id));
    const tr = el('tr', {},
      el('td', { dataset: { label: 'ID' } }, String(c.id)), el('td', { className: 'proto' }, c.protocol || ''),
      el('td', { dataset: { label: 'Stream' } }, c.stream || ''), el('td', { dataset: { label: 'Address' } }, c.remote_addr || '–'),
      el('td', { className: 'num', dataset: { label: 'Connected' } }, formatDuration(c.connected_seconds)),
      el('td', { className: 'actions' }, kick));
    tr.dataset.client = String(c.id);
    return tr;
  }));
  section.hidden = list.length === 0;
}

async function kickClient(id) {
  try {
    await api('DELETE', '/clients/' + encodeURIComponent(id));
    status('Kicked client ' + id + '.');
  } catch (e) {
    status('Kick failed: ' + apiProblem(e), true);
  }
  refreshClients();
}

async function kickStream(key) {
  if (!confirm('Disconnect the publisher of ' + key + '?')) return;
  try {
    await api('DELETE', '/streams/' + key.split('/').map(encodeURIComponent).join('/'));
    status('Kicked the publisher of ' + key + '.');
  } catch (e) {
    status('Kick failed: ' + apiProblem(e), true);
  }
  refreshStreams();
}

// ---------------------------------------------------------------- live updates

function liveState(text, isError) {
  $('live-state').textContent = text;
  $('live-state').classList.toggle('error', !!isError);
}

// Live updates come from /api/v1/events. It is read with fetch rather than
// EventSource so the token travels in the Authorization header, not the URL
// (proxies log URLs). The parser follows the HTML "server-sent events"
// interpretation rules: fields per line, an event per blank line, the last id
// resent as Last-Event-ID when reconnecting. While it is down the list is
// polled instead.
let lastEventID = '';
let events = null; // AbortController of the running connection
let pollTimer = 0;
const pollInterval = 5000;

function startPolling() {
  if (!pollTimer) pollTimer = setInterval(() => { refreshStreams(); refreshClients(); }, pollInterval);
}

function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = 0;
}

async function connectEvents() {
  if (events) events.abort();
  const ctl = (events = new AbortController());
  let backoff = 1000;
  while (!ctl.signal.aborted) {
    let opened = false;
    try {
      const headers = Object.assign({ Accept: 'text/event-stream' }, authHeaders());
      if (lastEventID) headers['Last-Event-ID'] = lastEventID;
      const res = await fetch('/api/v1/events', { headers, cache: 'no-store', signal: ctl.signal });
      if (!res.ok) throw new APIError(res.status, res.status + ' ' + res.statusText);
      opened = true;
      backoff = 1000;
      // The list may have changed while we were away: start from a snapshot.
      if (await refreshStreams()) {
        stopPolling();
        liveState('Live updates on.');
      }
      refreshClients();
      await readEvents(res.body, handleEvent);
      if (!ctl.signal.aborted) liveState('Live updates ended; reconnecting…');
    } catch (e) {
      if (ctl.signal.aborted) return;
      liveState(e instanceof APIError ? apiProblem(e) : 'Live updates lost; reconnecting…', e instanceof APIError);
      // A server without events (404) or a refused token will not change by
      // retrying soon: poll and retry slowly.
      if (e instanceof APIError && !opened) backoff = 30000;
    }
    startPolling();
    await new Promise((r) => setTimeout(r, backoff));
    backoff = Math.min(backoff * 2, 30000);
  }
}

async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let ev = { type: '', data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    // Lines end in CRLF, LF or CR; keep a trailing CR until we know whether
    // an LF follows in the next chunk.
    let m;
    while ((m = /\r\n|\n|\r(?!$)/.exec(buf))) {
      const line = buf.slice(0, m.index);
      buf = buf.slice(m.index + m[0].length);
      if (line === '') {
        if (ev.data.length) onEvent(ev.type || 'message', ev.data.join('\n'));
        ev = { type: '', data: [] };
        continue;
      }
      if (line.startsWith(':')) continue; // keep-alive comment
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      let val = i < 0 ? '' : line.slice(i + 1);
      if (val.startsWith(' ')) val = val.slice(1);
      if (field === 'event') ev.type = val;
      else if (field === 'data') ev.data.push(val);
      else if (field === 'id' && !val.includes('\0')) lastEventID = val;
    }
  }
}

// handleEvent applies one event of pkg/api (events.go) to the list.
function handleEvent(type, data) {
  let d;
  try {
    d = JSON.parse(data);
  } catch {
    return;
  }
  switch (type) {
    case 'stream_published':
      // The event names the stream; codecs and size come with the list.
      mergeStream(d.key, { key: d.key, app: d.app, name: d.name, publishing: true, publisher: d.publisher });
      refreshStreams();
      break;
    case 'stream_unpublished':
      if (streams.has(d.key)) mergeStream(d.key, { publishing: false });
      break;
    case 'stream_ended':
      removeStream(d.key);
      break;
    case 'player_joined':
    case 'player_left':
      if (streams.has(d.key)) {
        const by = Object.assign({}, streams.get(d.key).players_by_protocol);
        by[d.protocol] = Math.max(0, (by[d.protocol] || 0) + (type === 'player_joined' ? 1 : -1));
        mergeStream(d.key, { players: d.players, players_by_protocol: by });
      }
      refreshClients();
      break;
    case 'stats': {
      // Codecs and size are not in stats: fetch the list again while a
      // stream has not shown its tracks yet (right after it was published).
      let incomplete = false;
      for (const st of d.streams || []) {
        if (!streams.has(st.key)) continue;
        if (!streams.get(st.key).video && !streams.get(st.key).audio) incomplete = true;
        const s = streams.get(st.key);
        const patch = { ingest_bitrate: st.ingest_bitrate, players: st.players, players_by_protocol: st.players_by_protocol };
        if (s.video && st.fps) patch.video = Object.assign({}, s.video, { measured_fps: st.fps });
        mergeStream(st.key, patch);
      }
      if (incomplete) refreshStreams();
      break;
    }
    case 'resync':
      refreshStreams();
      refreshClients();
      break;
  }
}

// ---------------------------------------------------------------- libraries

// The server decides where each library comes from (web.Handler): the local
// build under /vendor/ when scripts/web.sh has run, else the CDN at the exact
// version pinned in web/package.json, with its Subresource Integrity hash.
const libLoads = new Map();

function loadLib(name) {
  if (!libLoads.has(name)) {
    libLoads.set(name, new Promise((resolve, reject) => {
      const lib = (config.libs || {})[name];
      if (!lib) {
        reject(new Error(name + ' is not configured'));
        return;
      }
      const s = el('script', { src: lib.url, async: true });
      if (lib.integrity) {
        s.integrity = lib.integrity;
        s.crossOrigin = 'anonymous';
      }
      s.onload = () => resolve();
      s.onerror = () => {
        libLoads.delete(name); // let a later attempt retry
        reject(new Error(name + ' did not load from ' + lib.url + ' (offline?): copy a URL below into a player such as ffplay or VLC'));
      };
      document.head.append(s);
    }));
  }
  return libLoads.get(name);
}

// ---------------------------------------------------------------- player

const video = $('video');
let player = null; // mpegts.js or hls.js instance
let playingKey = '';

function status(text, isError) {
  $('status').textContent = text;
  $('status').classList.toggle('error', !!isError);
}

function reportError(source, detail, fatal) {
  ripple.errors.push({ source, detail, fatal, time: video.currentTime });
  if (fatal) status('Error (' + source + '): ' + detail, true);
}

video.addEventListener('error', () => {
  // A src reset by stop() is not an error worth reporting.
  if (!video.error || !ripple.url) return;
  reportError('video', video.error.code + ' ' + (video.error.message || ''), true);
});

function updateURLs() {
  const app = $('app').value.trim(), stream = $('stream').value.trim();
  const u = playURLs(app, stream);
  $('url-rtmp').value = u.rtmp;
  $('url-http').value = u.http;
  $('url-ws').value = u.ws;
  $('url-hls').value = u.hls;
  $('ffmpeg-url').textContent = u.rtmp;
  $('obs-server').textContent = u.rtmpApp;
  $('obs-key').textContent = stream || 'STREAM';
  return u;
}

function stop() {
  ripple.url = '';
  ripple.engine = '';
  if (player) {
    player.destroy();
    player = null;
  }
  video.removeAttribute('src');
  video.load();
  setPlaying('');
  $('stop').disabled = true;
}

function setPlaying(key) {
  playingKey = key;
  for (const [k, row] of rows) row.classList.toggle('playing', k === key);
}

// Safari's ManagedMediaSource (iOS 17.1+, which has no MediaSource) only
// plays into an element that opts out of AirPlay or offers an AirPlay source.
if (!('MediaSource' in window) && 'ManagedMediaSource' in window) video.disableRemotePlayback = true;

async function play(protocol, url, key) {
  stop();
  ripple.protocol = protocol;
  ripple.url = url;
  setPlaying(key);
  $('stop').disabled = false;
  status('Loading ' + url + '…');
  try {
    if (protocol === 'hls') await playHLS(url);
    else await playFLV(url);
  } catch (e) {
    reportError('page', e.message, true);
    return;
  }
  const started = video.play();
  if (started && started.catch) {
    started.catch((e) => {
      if (e.name === 'NotAllowedError') status('Autoplay blocked: press play.', true);
    });
  }
  status('Playing ' + url);
}

async function playFLV(url) {
  await loadLib('mpegts');
  const mpegts = window.mpegts;
  if (!mpegts.getFeatureList().mseLivePlayback) {
    throw new Error('this browser cannot play live FLV (no Media Source Extensions); try HLS');
  }
  const p = mpegts.createPlayer({ type: 'flv', isLive: true, url },
    { enableStashBuffer: false, liveBufferLatencyChasing: true });
  p.on(mpegts.Events.ERROR, (type, detail, info) => {
    reportError('mpegts', type + ' ' + detail + (info && info.msg ? ': ' + info.msg : ''), true);
  });
  p.on(mpegts.Events.LOADING_COMPLETE, () => status('Stream ended.'));
  p.attachMediaElement(video);
  p.load();
  player = p;
  ripple.engine = 'mpegts.js';
}

async function playHLS(url) {
  // hls.js needs Media Source Extensions (or Safari's ManagedMediaSource);
  // without them (older iPhones) the browser's own HLS plays the playlist.
  const mse = 'MediaSource' in window || 'ManagedMediaSource' in window;
  if (!mse && video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = url;
    ripple.engine = 'native';
    return;
  }
  await loadLib('hls');
  const Hls = window.Hls;
  if (!Hls.isSupported()) throw new Error('this browser cannot play HLS');
  const h = new Hls({ lowLatencyMode: true, backBufferLength: 30 });
  h.on(Hls.Events.ERROR, (_, data) => {
    // hls.js recovers from non-fatal errors itself (a stalled buffer, a
    // retried fragment); they are recorded but not shown.
    reportError('hls', data.type + ' ' + data.details + (data.error ? ': ' + data.error.message : ''), !!data.fatal);
  });
  h.loadSource(url);
  h.attachMedia(video);
  player = h;
  ripple.engine = 'hls.js';
}

function startFromForm() {
  if (!$('stream-form').reportValidity()) return;
  const app = $('app').value.trim(), stream = $('stream').value.trim();
  const u = updateURLs();
  const protocol = $('proto').value;
  history.replaceState(null, '', '#' + streamPath(app, stream) + '?' + protocol);
  play(protocol, u[protocol], app + '/' + stream);
}

// ---------------------------------------------------------------- wiring

$('stream-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  startFromForm();
});
$('stop').addEventListener('click', () => {
  stop();
  status('Stopped.');
});
for (const id of ['app', 'stream']) $(id).addEventListener('input', updateURLs);
for (const btn of document.querySelectorAll('[data-copy]')) {
  btn.addEventListener('click', async () => {
    const input = $(btn.dataset.copy);
    try {
      await navigator.clipboard.writeText(input.value);
      status('Copied ' + input.value);
    } catch {
      input.select(); // no clipboard API outside secure contexts: let the user copy
      status('Press Ctrl+C to copy.');
    }
  });
}

function setToken(t) {
  token = t;
  if (t) sessionStorage.setItem(tokenKey, t);
  else sessionStorage.removeItem(tokenKey);
  document.body.classList.toggle('has-token', !!t);
  $('token-forget').hidden = !t;
  $('token').value = '';
  $('token').placeholder = t ? 'token set' : 'for kick buttons';
  connectEvents();
}

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  setToken($('token').value.trim());
});
$('token-forget').addEventListener('click', () => setToken(''));

// #app/stream?protocol in the page URL preselects a stream.
const [hashPath, hashProto] = decodeURIComponent(location.hash.slice(1)).split('?');
if (hashPath.includes('/')) {
  $('app').value = hashPath.slice(0, hashPath.lastIndexOf('/'));
  $('stream').value = hashPath.slice(hashPath.lastIndexOf('/') + 1);
}
if (['ws', 'http', 'hls'].includes(hashProto)) $('proto').value = hashProto;
updateURLs();
updateEmpty();
setToken(token);

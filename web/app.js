// Ripple's web page: the live streams with their thumbnails (from the HTTP
// API, kept current by its Server-Sent Events), a player for HTTP-FLV and
// WebSocket-FLV (mpegts.js) and HLS (hls.js, or the browser's own HLS where
// there is no Media Source Extensions), the recordings (played in the same
// player, or downloaded), the play URLs, record buttons, and kick buttons when
// an API token is entered, with each stream's restream targets (added and
// removed with the token), and, when the server is in an origin cluster, its
// nodes and the streams of every node.
// No framework and no build step: the server embeds this file as it is.
'use strict';

const $ = (id) => document.getElementById(id);
const config = JSON.parse($('ripple-config').textContent || '{}');
const rtmpPort = document.querySelector('meta[name="ripple-rtmp-port"]')?.content || '1935';
// The RTMPS port, when the server has an RTMPS listener (0: none).
const rtmpsPort = config.rtmps_port || 0;
const tokenKey = 'ripple.apiToken';

// window.ripple is what the browser tests (pkg/internal/e2e) read: every
// player or media element error lands in errors; protocol is ws, http, hls or
// recording (then recording names the file played); thumbnails maps a stream
// key to { loads, width, height, status } (successful loads, the last image's
// natural size, the last HTTP status); thumbnailsOff says why the page gave up
// on thumbnails ('' while it has not); recordings is the last list loaded from
// the API and recordingsLoads counts those loads; targets maps a live stream's
// key to its restream targets (the stream's forward relays as the API lists
// them: id, target (redacted), state, bitrate, last_error, source, ...);
// cluster is the last answer of GET /api/v1/cluster (null before the first),
// clusterChecks counts the answers (failed ones included) and clusterPolling
// says whether the page asks for it again on a timer. rendition is the
// player's choice of rendition (see "renditions" below): kind is '' while
// none is offered, 'hls' for hls.js's levels (options: { level, width,
// height, bitrate } in hls.js's order, lowest first; choice: the level asked
// for, -1 for hls.js's own choice; playing: the level of the last
// LEVEL_SWITCHED, -1 before; switches counts them; auto: whether hls.js
// chooses), 'flv' for an FLV player of a source with renditions (options:
// { key, name, width, height }, the source first; choice and playing: the
// key played). player is the mpegts.js or hls.js instance playing (null
// when none).
const ripple = (window.ripple = {
  errors: [], protocol: '', url: '', engine: '', recording: '',
  thumbnails: {}, thumbnailsOff: '', recordings: [], recordingsLoads: 0,
  targets: {}, cluster: null, clusterChecks: 0, clusterPolling: false,
  rendition: { kind: '', options: [], choice: null, playing: null, switches: 0, auto: false },
  get player() {
    return player;
  },
});

// ---------------------------------------------------------------- helpers

function streamPath(app, stream) {
  return app.split('/').map(encodeURIComponent).join('/') + '/' + encodeURIComponent(stream);
}

// keyPath is streamPath of a stream key ("live/cam"): the app is everything
// before the last slash.
function keyPath(key) {
  const i = key.lastIndexOf('/');
  return streamPath(key.slice(0, i), key.slice(i + 1));
}

// The page's own query string (http://host/?token=…#live/cam) is the play
// query: every media URL the page plays or fetches (FLV, HLS, thumbnails,
// recordings) carries it, for servers that check who plays (a hook given
// the query, or a signed query for one stream).
const playQuery = location.search.slice(1);

function withPlayQuery(url) {
  if (!playQuery) return url;
  return url + (url.includes('?') ? '&' : '?') + playQuery;
}

// playURLs derives every URL from the page's own location, so the page works
// behind any host name; RTMP uses the server's configured port.
function playURLs(app, stream) {
  const p = streamPath(app, stream);
  const rtmpHost = rtmpPort === '1935' ? location.hostname : location.hostname + ':' + rtmpPort;
  const rtmpOff = rtmpPort === '0'; // plain RTMP off (rtmp.listen ""): RTMPS only
  const ws = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const base = location.protocol + '//' + location.host + '/';
  return {
    rtmp: rtmpOff ? '' : 'rtmp://' + rtmpHost + '/' + p,
    rtmpApp: rtmpOff ? '' : 'rtmp://' + rtmpHost + '/' + app.split('/').map(encodeURIComponent).join('/'),
    rtmps: rtmpsPort ? 'rtmps://' + location.hostname + ':' + rtmpsPort + '/' + p : '',
    rtmpsApp: rtmpsPort ? 'rtmps://' + location.hostname + ':' + rtmpsPort + '/' + app.split('/').map(encodeURIComponent).join('/') : '',
    http: withPlayQuery(base + p + '.flv'),
    ws: withPlayQuery(ws + '//' + location.host + '/' + p + '.flv'),
    hls: withPlayQuery(base + p + '.m3u8'),
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

function formatBytes(n) {
  if (!(n >= 0)) return '–';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return (i === 0 || n >= 100 ? Math.round(n) : n.toFixed(1)) + ' ' + units[i];
}

// formatAgo says how long ago something was, sec seconds back.
function formatAgo(sec) {
  if (!(sec >= 0)) return '–';
  if (sec < 1) return 'just now';
  return (sec < 60 ? Math.round(sec) + ' s' : formatDuration(sec)) + ' ago';
}

function sinceSeconds(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? NaN : (Date.now() - t) / 1000;
}

// ---------------------------------------------------------------- API

let token = sessionStorage.getItem(tokenKey) || '';

class APIError extends Error {
  constructor(status, message, explained) {
    super(message);
    this.status = status;
    this.explained = !!explained; // message is the server's own words
  }
}

function authHeaders() {
  return token ? { Authorization: 'Bearer ' + token } : {};
}

// api calls the API; body, when given, is sent as JSON.
async function api(method, path, body) {
  const init = { method, headers: authHeaders(), cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch('/api/v1' + path, init);
  if (!res.ok) {
    let msg = res.status + ' ' + res.statusText, explained = false;
    try {
      const body = await res.json();
      if (body && body.error) {
        msg = body.error;
        explained = true;
      }
    } catch { /* not JSON: keep the status line */ }
    throw new APIError(res.status, msg, explained);
  }
  return res.status === 204 ? null : res.json();
}

// apiProblem explains a failed read. Without a token the server answers
// reads from this machine only (loopback), so a 403 means the page is
// opened from elsewhere.
function apiProblem(e) {
  if (e.status === 401) return token ? 'The API token was refused.' : 'The API needs a token: enter it above.';
  if (e.status === 403) return 'The API answers only local requests without a token: set api.token in the server config and enter it above.';
  if (e.status === 404) return 'This server has no HTTP API.';
  if (e instanceof APIError) return 'API error: ' + e.message;
  return 'API unreachable: ' + e.message;
}

// writeProblem explains a failed change (kick, record): those always need
// the token when the server has one.
function writeProblem(e) {
  if (e.status === 401 && token) return 'The API token was refused: enter the right one above.';
  if (e.status === 401 || e.status === 403) return 'This needs the API token: enter it above.';
  return apiProblem(e);
}

// ---------------------------------------------------------------- streams

// streams maps "app/name" to the API's stream object; rows keeps one table
// row per stream so updates change cells in place instead of redrawing, and
// targetRows the row under it that lists its restream targets (both rows
// carry data-stream; the stream's own row comes first).
const streams = new Map();
const rows = new Map();
const targetRows = new Map();

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

// The API's players are the viewers of every protocol: the readers of RTMP,
// HTTP-FLV and WS-FLV players and relays, plus the HLS viewers the server
// counts from their requests (the HLS muxer, the recorder and the thumbnailer
// are not viewers). The cell's title shows the split.
function viewerCount(s) {
  return s.players || 0;
}

function viewerTitle(s) {
  return Object.entries(s.players_by_protocol || {}).filter(([, n]) => n > 0).map(([p, n]) => p + ': ' + n).join(', ');
}

function selectStream(key) {
  const i = key.lastIndexOf('/');
  $('app').value = key.slice(0, i);
  $('stream').value = key.slice(i + 1);
  updateURLs();
}

function watch(key) {
  selectStream(key);
  startFromForm();
}

function renderStream(s) {
  const key = streamKey(s);
  let row = rows.get(key);
  if (!row) {
    row = el('tr');
    row.dataset.stream = key;
    // Watch stays the row's first button (the browser tests press it so).
    const watchBtn = el('button', { type: 'button', textContent: 'Watch' });
    watchBtn.setAttribute('aria-label', 'Watch ' + key);
    watchBtn.addEventListener('click', () => watch(key));
    const record = el('button', { type: 'button', textContent: 'Record', className: 'record' });
    record.setAttribute('aria-label', 'Record ' + key);
    record.addEventListener('click', () => toggleRecord(key));
    const kick = el('button', { type: 'button', textContent: 'Kick', className: 'danger kick' });
    kick.setAttribute('aria-label', 'Kick the publisher of ' + key);
    kick.addEventListener('click', () => kickStream(key));
    const rec = el('span', { className: 'rec-badge', textContent: 'REC', title: 'recording', hidden: true });
    // In a cluster: the node the stream lives on, when it is not this one.
    const node = el('span', { className: 'on-node muted', hidden: true });
    // data-label names a cell where phones show rows as cards (style.css).
    const cell = (cls, label) => el('td', { className: cls, dataset: { label } });
    // A rendition shows its name ("720p", "t1"); a source counts its own.
    const rname = el('span', { className: 'rendition-name', hidden: true });
    const rcount = el('span', { className: 'renditions-count muted', hidden: true });
    const name = el('th', { scope: 'row', className: 'name' },
      rname, ' ', el('span', { className: 'key' }, key), ' ', rcount, ' ', node, ' ', rec);
    if (thumbs.shown) name.prepend(thumbBox(key));
    row.append(
      name,
      cell('video', 'Video'), cell('audio', 'Audio'), cell('num bitrate', 'Bitrate'),
      cell('num viewers', 'Viewers'), cell('num uptime', 'Uptime'),
      el('td', { className: 'actions' }, watchBtn, ' ', record, ' ', kick));
    row.classList.add('stream-row');
    rows.set(key, row);
    const trow = targetsRow(key, row.cells.length);
    targetRows.set(key, trow);
    placeRow(key, s);
    if (thumbs.shown) thumbs.observe(row);
  } else if (row.dataset.order !== rowOrder(s)) {
    placeRow(key, s); // it turned out to be a rendition (the list came after the event)
  }
  renderRendition(row, s);
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
  const owner = clusterOwner(key);
  const node = row.querySelector('.on-node');
  const nodeText = owner ? 'on node ' + owner : '';
  if (node.textContent !== nodeText) {
    node.textContent = nodeText;
    node.title = owner ? 'Published on node ' + owner + ': this node plays it from there.' : '';
  }
  node.hidden = !owner;
  row.classList.toggle('playing', key === playingKey);
  // Inside its reconnect grace a stream has no publisher for a while.
  row.classList.toggle('waiting', s.publishing === false);
  const title = s.publishing === false ? 'publisher gone: waiting for it to reconnect' : '';
  if (row.title !== title) row.title = title;
  const trow = targetRows.get(key);
  renderTargets(trow, key, s);
  trow.classList.toggle('playing', key === playingKey);
  trow.classList.toggle('waiting', s.publishing === false);
  const recording = !!s.recording;
  row.classList.toggle('recording', recording);
  row.querySelector('.rec-badge').hidden = !recording;
  const record = row.querySelector('button.record');
  const label = recording ? 'Stop recording' : 'Record';
  if (record.textContent !== label) {
    record.textContent = label;
    record.setAttribute('aria-label', label + ' ' + key);
  }
}

// rowOrder sorts the table by key, with each rendition right under its
// source (and its source's other renditions): "live/cam" + NUL, then
// "live/cam" + U+0001 + "live/cam_720p", before any other key that starts
// with "live/cam".
function rowOrder(s) {
  return s.source ? s.source + '\u0001' + s.key : s.key + '\u0000';
}

// placeRow puts a stream's row, and its targets row after it, in order.
function placeRow(key, s) {
  const row = rows.get(key), trow = targetRows.get(key);
  const order = rowOrder(s);
  row.dataset.order = order;
  let next = null;
  for (const [k, r] of rows) {
    if (k !== key && r.dataset.order > order && (!next || r.dataset.order < next.dataset.order)) next = r;
  }
  $('streams').tBodies[0].insertBefore(row, next);
  row.after(trow);
}

// renditionName is a rendition's name as the API gives it ("720p", "t1"),
// else what its key adds to its source's ("live/cam_720p").
function renditionName(s) {
  if (s.rendition) return s.rendition;
  return s.key.startsWith(s.source + '_') ? s.key.slice(s.source.length + 1) : s.key;
}

// renderRendition marks a rendition's row with its name, and a source's
// with how many renditions it has.
function renderRendition(row, s) {
  const isRendition = !!s.source;
  row.classList.toggle('rendition-row', isRendition);
  targetRows.get(s.key)?.classList.toggle('rendition-row', isRendition);
  const rname = row.querySelector('.rendition-name');
  const label = isRendition ? renditionName(s) : '';
  if (rname.textContent !== label) {
    rname.textContent = label;
    rname.title = isRendition ? 'Rendition ' + label + ' of ' + s.source : '';
  }
  rname.hidden = !isRendition;
  const n = (s.renditions || []).length;
  const rcount = row.querySelector('.renditions-count');
  const count = n ? n + (n === 1 ? ' rendition' : ' renditions') : '';
  if (rcount.textContent !== count) {
    rcount.textContent = count;
    rcount.title = n ? 'Also played as ' + s.renditions.join(', ') : '';
  }
  rcount.hidden = !n;
}

function removeStream(key) {
  streamsGen++;
  streams.delete(key);
  delete ripple.targets[key];
  const row = rows.get(key);
  if (row) {
    row.remove();
    thumbs.forget(key, row);
  }
  rows.delete(key);
  targetRows.get(key)?.remove();
  targetRows.delete(key);
  updateEmpty();
  updateFLVChoice();
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
  updateFLVChoice();
}

function mergeStream(key, patch) {
  const s = Object.assign(streams.get(key) || { key }, patch);
  streams.set(key, s);
  renderStream(s);
  updateEmpty();
  updateFLVChoice();
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

// ---------------------------------------------------------------- thumbnails

// Each live row shows GET /{app}/{stream}.jpg, fetched again every
// thumbnail_interval_seconds (the page config) while the row is on screen
// and the page is visible. A new image is fetched and decoded off-screen and
// only then swapped in, so the old one stays until the new one is ready: no
// flicker, and no broken image while a stream has no picture yet (404). A
// 501 means the server has no ffmpeg: the page stops asking. fetch (not an
// <img> URL) is what tells those statuses apart.
const thumbs = {
  shown: config.thumbnails !== false, // rows have a thumbnail box
  on: config.thumbnails !== false, // and the page fetches images for them (until a 501)
  intervalMS: Math.max(0.5, Number(config.thumbnail_interval_seconds) || 5) * 1000,
  state: new Map(), // key -> { busy, stopped, visible, objectURL }
  timer: 0,
  io: null,

  get(key) {
    let st = this.state.get(key);
    if (!st) {
      st = { busy: false, stopped: false, visible: !this.io, objectURL: '' };
      this.state.set(key, st);
    }
    return st;
  },

  start() {
    if (!this.shown) return;
    if ('IntersectionObserver' in window) {
      this.io = new IntersectionObserver((entries) => {
        for (const e of entries) {
          const key = e.target.dataset.stream;
          const st = this.get(key);
          st.visible = e.isIntersecting;
          if (st.visible && !st.objectURL) this.load(key);
        }
      });
    }
    this.timer = setInterval(() => this.refresh(), this.intervalMS);
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) this.refresh();
    });
  },

  observe(row) {
    if (this.io) this.io.observe(row);
    else this.load(row.dataset.stream);
  },

  forget(key, row) {
    if (this.io) this.io.unobserve(row);
    const st = this.state.get(key);
    if (st && st.objectURL) URL.revokeObjectURL(st.objectURL);
    this.state.delete(key);
  },

  refresh() {
    if (!this.on || document.hidden) return;
    for (const key of rows.keys()) {
      if (this.get(key).visible) this.load(key);
    }
  },

  // stop gives up on every thumbnail: the placeholders stay.
  stop(reason) {
    this.on = false;
    ripple.thumbnailsOff = reason;
    clearInterval(this.timer);
    for (const row of rows.values()) {
      const box = row.querySelector('.thumb-box');
      if (box) box.title = reason;
    }
  },

  async load(key) {
    const st = this.get(key);
    const s = streams.get(key);
    // A rendition's picture is its source's: its row shows none.
    if (!this.on || st.busy || st.stopped || !s || s.publishing === false || s.source) return;
    st.busy = true;
    const info = (ripple.thumbnails[key] ||= { loads: 0, width: 0, height: 0, status: 0 });
    let objectURL = '';
    try {
      const res = await fetch(withPlayQuery('/' + keyPath(key) + '.jpg'), { cache: 'no-store' });
      info.status = res.status;
      if (res.status === 501) {
        this.stop('No thumbnails: the server cannot make them (no ffmpeg).');
        return;
      }
      if (res.status === 401 || res.status === 403) {
        st.stopped = true; // playing this stream needs a query the page does not have
        return;
      }
      if (!res.ok) return; // 404: not live, or no picture yet; try again next time
      objectURL = URL.createObjectURL(await res.blob());
      const img = new Image();
      img.src = objectURL;
      await img.decode();
      const row = rows.get(key);
      if (this.state.get(key) !== st || !row) return; // the stream went meanwhile
      row.querySelector('img.thumb').src = objectURL;
      if (st.objectURL) URL.revokeObjectURL(st.objectURL);
      st.objectURL = objectURL;
      objectURL = '';
      info.loads++;
      info.width = img.naturalWidth;
      info.height = img.naturalHeight;
    } catch {
      // Offline, or not an image: keep what is shown, try again next time.
    } finally {
      if (objectURL) URL.revokeObjectURL(objectURL);
      st.busy = false;
    }
  },
};

// thumbBox is the row's thumbnail, above the stream's name: an empty 16:9
// box until the first image arrives. Clicking it is Watch; for keyboards and
// screen readers the Watch button does the same, so the image itself is
// decorative.
function thumbBox(key) {
  const img = el('img', { className: 'thumb', alt: '', loading: 'lazy', decoding: 'async', width: 160, height: 90 });
  const box = el('span', { className: 'thumb-box', title: ripple.thumbnailsOff }, img);
  box.addEventListener('click', () => watch(key));
  return box;
}

// ---------------------------------------------------------------- recording

// recordPath is the API path that starts (POST) and stops (DELETE) recording
// a live stream.
function recordPath(key) {
  return '/streams/' + keyPath(key) + '/record';
}

async function toggleRecord(key) {
  const row = rows.get(key);
  const btn = row && row.querySelector('button.record');
  const start = !(streams.get(key) || {}).recording;
  if (btn) btn.disabled = true;
  try {
    await api(start ? 'POST' : 'DELETE', recordPath(key));
    if (streams.has(key)) mergeStream(key, { recording: start });
    status(start ? 'Recording ' + key + '.' : 'Stopped recording ' + key + '.');
  } catch (e) {
    if (e.status === 409 && start) {
      if (streams.has(key)) mergeStream(key, { recording: true });
      status(key + ' is already being recorded.');
    } else if (e.status === 404) {
      if (!start && streams.has(key)) mergeStream(key, { recording: false });
      const why = start ? key + ' is not live' : key + ' is not being recorded';
      status((start ? 'Record failed: ' : 'Stop recording failed: ') + why + (e.explained ? ' (' + e.message + ').' : '.'), true);
    } else {
      status((start ? 'Record failed: ' : 'Stop recording failed: ') + writeProblem(e), true);
    }
  } finally {
    if (btn) btn.disabled = false;
  }
  refreshStreams();
  scheduleRecordings();
}

// ---------------------------------------------------------------- restream targets

// A live stream's restream targets are its forward relays (those of the
// config, of the on_publish hook's answer and of the API), listed in a row
// under the stream's (a row of its own spans the table's width; after the
// stream's row, so Watch stays the first button of tr[data-stream]) with
// their state, bitrate and last error. With the API token entered each has
// a remove button, and the row a URL field to add one (POST
// /streams/{app}/{stream}/forwards). The server shows targets with their
// stream key redacted and never echoes a submitted URL.
const targetStates = { live: 'live', connecting: 'connecting', backoff: 'retrying', stopped: 'stopped' };

// targetsUntil keeps the list fetched on every stats tick for a while after
// a change, so that a new target's state shows up within a tick.
let targetsUntil = 0;

function targetsPath(key) {
  return '/streams/' + keyPath(key) + '/forwards';
}

function targetsRow(key, columns) {
  const list = el('ul', { className: 'targets' });
  list.setAttribute('aria-label', 'Restream targets of ' + key);
  const none = el('span', { className: 'targets-none muted', textContent: 'none' });
  const input = el('input', {
    className: 'target-url', type: 'text', placeholder: 'rtmps://host/app/KEY', spellcheck: false,
    autocomplete: 'off', inputMode: 'url',
  });
  input.setAttribute('aria-label', 'Restream target URL for ' + key);
  const add = el('button', { type: 'submit', textContent: 'Add target', className: 'add-target' });
  add.setAttribute('aria-label', 'Add a restream target to ' + key);
  const form = el('form', { className: 'target-add', autocomplete: 'off' }, input, add);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    addTarget(key, input, add);
  });
  const box = el('div', { className: 'targets-box' },
    el('span', { className: 'targets-label muted', textContent: 'Restream' }), el('div', {}, list, none, form));
  const row = el('tr', { className: 'targets-row' }, el('td', { className: 'targets-cell', colSpan: columns }, box));
  row.dataset.stream = key;
  return row;
}

function renderTargets(row, key, s) {
  const targets = (s.relays || []).filter((r) => r.kind === 'forward');
  ripple.targets[key] = targets;
  const list = row.querySelector('ul.targets');
  const items = new Map([...list.children].map((li) => [li.dataset.targetId, li]));
  let prev = null;
  for (const r of targets) {
    const id = String(r.id);
    let li = items.get(id);
    if (!li) li = targetItem(key, r);
    items.delete(id);
    updateTargetItem(li, r);
    // Keep the API's order (oldest first) without moving nodes needlessly.
    const want = prev ? prev.nextSibling : list.firstChild;
    if (want !== li) list.insertBefore(li, want);
    prev = li;
  }
  for (const li of items.values()) li.remove();
  row.querySelector('.targets-none').hidden = targets.length > 0;
  // Without targets the row shows only with the token (to add one).
  row.classList.toggle('empty', targets.length === 0);
}

function targetItem(key, r) {
  const remove = el('button', { type: 'button', textContent: '×', className: 'danger remove-target' });
  remove.setAttribute('aria-label', 'Stop restreaming ' + key + ' to ' + r.target);
  remove.addEventListener('click', () => removeTarget(key, r.id, r.target, remove));
  const li = el('li', { className: 'target' },
    el('span', { className: 'target-state' }), ' ',
    el('span', { className: 'target-dest' }), ' ',
    el('span', { className: 'target-rate' }), ' ',
    el('span', { className: 'target-source muted' }), ' ',
    remove,
    el('span', { className: 'target-error error' }));
  li.dataset.targetId = String(r.id);
  return li;
}

function updateTargetItem(li, r) {
  const set = (cls, text) => {
    const c = li.querySelector('.' + cls);
    if (c.textContent !== text) c.textContent = text;
    return c;
  };
  const state = r.state || 'connecting';
  li.dataset.state = state;
  set('target-state', targetStates[state] || state).title = 'since ' + (r.since || '?') +
    (r.reconnects ? ', ' + r.reconnects + (r.reconnects === 1 ? ' reconnect' : ' reconnects') : '');
  set('target-dest', r.target || '');
  set('target-rate', state === 'live' ? formatBitrate(r.bitrate) : '');
  set('target-source', r.source ? 'via ' + r.source : '');
  // The last error stays shown while the target is not live: it says why.
  let err = state === 'live' ? '' : (r.last_error || '');
  if (err.length > 160) err = err.slice(0, 159) + '…';
  const e = set('target-error', err);
  e.hidden = !err;
  e.title = r.last_error || '';
}

function targetProblem(e) {
  // The server's own words say what is wrong with the URL (400), that the
  // stream has as many targets as allowed (409), is gone (404), or that
  // this server does not restream (501); they never quote the key.
  if (e.explained && [400, 404, 409, 413, 501].includes(e.status)) return e.message + '.';
  return writeProblem(e);
}

async function addTarget(key, input, btn) {
  const url = input.value.trim();
  if (!/^rtmps?:\/\/./i.test(url)) {
    status('Add target failed: enter an rtmp:// or rtmps:// URL with its stream key.', true);
    input.focus();
    return;
  }
  btn.disabled = true;
  try {
    const r = await api('POST', targetsPath(key), { url });
    input.value = '';
    status('Restreaming ' + key + ' to ' + r.target + '.');
  } catch (e) {
    status('Add target failed: ' + targetProblem(e), true);
  } finally {
    btn.disabled = false;
  }
  targetsUntil = Date.now() + 30000;
  refreshStreams();
}

async function removeTarget(key, id, target, btn) {
  if (!confirm('Stop restreaming ' + key + ' to ' + target + '?')) return;
  btn.disabled = true;
  try {
    await api('DELETE', targetsPath(key) + '/' + encodeURIComponent(id));
    status('Stopped restreaming ' + key + ' to ' + target + '.');
  } catch (e) {
    status('Remove target failed: ' + targetProblem(e), true);
    btn.disabled = false;
  }
  targetsUntil = Date.now() + 30000;
  refreshStreams();
}

// targetsMoving reports whether the stream list is worth fetching on a
// stats tick for the targets' sake: some stream restreams (states and
// bitrates change), or one was just published or changed (its targets may
// start a moment later).
function targetsMoving() {
  if (Date.now() < targetsUntil) return true;
  for (const s of streams.values()) {
    if ((s.relays || []).some((r) => r.kind === 'forward')) return true;
  }
  return false;
}

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
    status('Kick failed: ' + writeProblem(e), true);
  }
  refreshClients();
}

async function kickStream(key) {
  if (!confirm('Disconnect the publisher of ' + key + '?')) return;
  try {
    await api('DELETE', '/streams/' + keyPath(key));
    status('Kicked the publisher of ' + key + '.');
  } catch (e) {
    status('Kick failed: ' + writeProblem(e), true);
  }
  refreshStreams();
}

// ---------------------------------------------------------------- cluster

// In an origin cluster (docs/cluster.md) each stream lives on the node its
// publisher reached, and every node plays every stream: this one pulls a
// stream from its owner while it has players for it. GET /api/v1/cluster says
// whether the server is in a cluster. It is asked when the page loads, when
// the token changes and when the server restarted (a resync event); only in
// a cluster is it asked again every clusterInterval, and only while the page
// is visible. The section then lists the nodes and every stream of the
// cluster with its owner, and the live list marks the streams of other nodes.
const clusterInterval = 5000;
const cluster = {
  enabled: false,
  self: '', // this node's id
  owners: new Map(), // stream key -> the node it lives on
  nodeRows: new Map(), // node id -> row
  streamRows: new Map(), // stream key -> row
  readAt: null, // when the lists were last read
  timer: 0,
  gen: 0,
};

// clusterOwner is the node key lives on when that is another node, else ''.
function clusterOwner(key) {
  if (!cluster.enabled) return '';
  const owner = cluster.owners.get(key) || '';
  return owner !== cluster.self ? owner : '';
}

async function refreshCluster() {
  const gen = ++cluster.gen;
  let view;
  try {
    view = await api('GET', '/cluster');
  } catch (e) {
    if (gen !== cluster.gen) return;
    ripple.clusterChecks++;
    // Outside a cluster (or before the page knows) nothing shows: the live
    // list already explains an API that refuses the page.
    if (cluster.enabled) clusterWarning('Cannot read the cluster: ' + apiProblem(e) + ' ' + clusterListsAge());
    return;
  }
  if (gen !== cluster.gen) return; // a newer fetch is on its way
  ripple.cluster = view;
  ripple.clusterChecks++;
  const on = !!(view && view.enabled && view.cluster);
  if (on !== cluster.enabled) {
    cluster.enabled = on;
    $('cluster-section').hidden = !on;
    if (!on) {
      cluster.owners.clear();
      cluster.self = '';
    }
    clusterPolling();
  }
  if (on) renderCluster(view);
  for (const s of streams.values()) renderStream(s); // the "on node" marks
}

// clusterPolling runs the refresh timer while the page is in a cluster and
// visible.
function clusterPolling() {
  const want = cluster.enabled && !document.hidden;
  if (want && !cluster.timer) {
    cluster.timer = setInterval(refreshCluster, clusterInterval);
  } else if (!want && cluster.timer) {
    clearInterval(cluster.timer);
    cluster.timer = 0;
  }
  ripple.clusterPolling = !!cluster.timer;
}

document.addEventListener('visibilitychange', () => {
  if (cluster.enabled && !document.hidden) refreshCluster();
  clusterPolling();
});

function clusterWarning(text) {
  const w = $('cluster-warning');
  if (w.textContent !== text) w.textContent = text;
  w.hidden = !text;
}

// clusterListsAge says how old the lists shown are, for a warning that
// they could not be read again.
function clusterListsAge() {
  return cluster.readAt ? 'The lists below are from ' + cluster.readAt.toLocaleTimeString() + '.' : '';
}

function renderCluster(view) {
  const c = view.cluster;
  cluster.self = c.node || '';
  const up = c.registry_up !== false && !view.error;
  const state = 'This node: ' + (c.node || '?') + '. Registry ' + (up ? 'up.' : 'down.');
  if ($('cluster-state').textContent !== state) $('cluster-state').textContent = state;
  $('cluster-state').classList.toggle('error', !up);
  if (view.error) {
    // Nothing was read: keep the last lists rather than show none.
    clusterWarning('The cluster registry could not be read (' + view.error + '). ' + clusterListsAge());
    return;
  }
  clusterWarning(c.registry_up === false
    ? 'The cluster registry (Redis) is unreachable: this node keeps serving the streams published on it, ' +
      'but cannot play streams of other nodes until it is back.'
    : '');
  cluster.readAt = new Date();
  const nodes = [...(c.nodes || [])].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  syncRows($('cluster-nodes').tBodies[0], cluster.nodeRows, nodes, (n) => n.id, clusterNodeRow, updateClusterNodeRow);
  const list = c.streams || [];
  cluster.owners = new Map(list.map((k) => [k.key, k.node]));
  syncRows($('cluster-streams').tBodies[0], cluster.streamRows, list, (k) => k.key, clusterStreamRow, updateClusterStreamRow);
  $('cluster-streams-empty').hidden = list.length > 0;
}

// syncRows keeps tbody's rows in the order of items, one per id: made by
// make when new, brought up to date by update in place, moved only when out
// of place (a moved row loses focus), removed when gone.
function syncRows(tbody, rowMap, items, idOf, make, update) {
  const seen = new Set();
  items.forEach((item, i) => {
    const id = idOf(item);
    seen.add(id);
    let row = rowMap.get(id);
    if (!row) {
      row = make(item);
      rowMap.set(id, row);
    }
    update(row, item);
    if (tbody.children[i] !== row) tbody.insertBefore(row, tbody.children[i] || null);
  });
  for (const [id, row] of rowMap) {
    if (!seen.has(id)) {
      row.remove();
      rowMap.delete(id);
    }
  }
}

function setText(row, sel, text) {
  const c = row.querySelector(sel);
  if (c.textContent !== text) c.textContent = text;
  return c;
}

function selfMarker() {
  return el('span', { className: 'self-marker muted', textContent: '(this node)', hidden: true });
}

function clusterNodeRow(n) {
  const cell = (cls, label) => el('td', { className: cls, dataset: { label } });
  const row = el('tr', {},
    el('th', { scope: 'row', className: 'name' }, el('span', { className: 'id' }), ' ', selfMarker()),
    cell('url', 'URL'), cell('num streams', 'Streams'), cell('num players', 'Players'), cell('num sent', 'Sent'),
    cell('num age', 'Up'), cell('num seen', 'Last seen'));
  row.dataset.node = n.id;
  return row;
}

function updateClusterNodeRow(row, n) {
  setText(row, '.id', n.id);
  row.querySelector('.self-marker').hidden = !n.self;
  row.classList.toggle('self', !!n.self);
  setText(row, '.url', n.url || '–');
  setText(row, '.streams', String(n.streams || 0));
  setText(row, '.players', String(n.players || 0));
  setText(row, '.sent', formatBytes(n.bytes_out));
  setText(row, '.age', formatDuration(n.age_seconds));
  setText(row, '.seen', formatAgo(n.seen_seconds_ago));
  const pulls = n.pulls || [];
  row.title = pulls.length ? 'Pulls ' + pulls.join(', ') + ' from other nodes' : '';
}

function clusterStreamRow(k) {
  const key = k.key;
  const cell = (cls, label) => el('td', { className: cls, dataset: { label } });
  const watchBtn = el('button', { type: 'button', textContent: 'Watch' });
  watchBtn.setAttribute('aria-label', 'Watch ' + key + ' on this node');
  watchBtn.addEventListener('click', () => {
    watch(key);
    video.scrollIntoView({ block: 'nearest' });
  });
  const row = el('tr', {},
    el('th', { scope: 'row', className: 'name' }, key),
    el('td', { className: 'owner', dataset: { label: 'Node' } }, el('span', { className: 'id' }), ' ', selfMarker()),
    cell('state', 'State'), cell('pulled', 'Pulled by'),
    el('td', { className: 'actions' }, watchBtn));
  // Not data-stream: that names the live list's rows.
  row.dataset.clusterStream = key;
  return row;
}

function updateClusterStreamRow(row, k) {
  setText(row, '.owner .id', k.node || '?');
  row.querySelector('.owner .self-marker').hidden = k.node !== cluster.self;
  setText(row, '.state', k.idle ? 'publisher reconnecting' : 'live');
  row.classList.toggle('waiting', !!k.idle);
  const by = k.pulled_by || [];
  setText(row, '.pulled', by.length ? by.length + ' (' + by.join(', ') + ')' : '–');
  row.title = 'Owned by ' + (k.node || '?') + ' since ' + (k.since || '?') + ' (epoch ' + k.epoch + ')';
}

// ---------------------------------------------------------------- recordings

// The recordings list (GET /api/v1/recordings, newest first) is loaded again
// when a recording starts or ends (events), every recordingsInterval, and
// when the filter changes. "Only" narrows it to the stream in the player
// form (the API's ?app=&stream=); rows of that stream are highlighted
// either way. Rows are kept per file name and updated in place.
const recordingsInterval = 30000;
const maxRecordingRows = 500;
const recordingRows = new Map();
let recordingsGen = 0;
let recordingsTimer = 0;
let recordingsFilter = ''; // the stream key of the last list asked for, '' for all

// selectionChanged follows the stream in the player form (typed, or set by
// Watch or by playing a recording).
function selectionChanged() {
  highlightRecordings();
  const key = $('recordings-only').checked ? selectedKey() : '';
  if (key !== recordingsFilter) {
    clearTimeout(recordingsTimer);
    recordingsTimer = setTimeout(refreshRecordings, 400);
  }
}

function selectedKey() {
  const app = $('app').value.trim(), stream = $('stream').value.trim();
  return app && stream ? app + '/' + stream : '';
}

// scheduleRecordings coalesces bursts (a file ending and the next starting).
function scheduleRecordings() {
  clearTimeout(recordingsTimer);
  recordingsTimer = setTimeout(refreshRecordings, 300);
}

async function refreshRecordings() {
  clearTimeout(recordingsTimer);
  const gen = ++recordingsGen;
  const key = selectedKey();
  const only = $('recordings-only').checked && key;
  recordingsFilter = only || '';
  let path = '/recordings';
  if (only) {
    const i = key.lastIndexOf('/');
    path += '?app=' + encodeURIComponent(key.slice(0, i)) + '&stream=' + encodeURIComponent(key.slice(i + 1));
  }
  let list;
  try {
    list = await api('GET', path);
  } catch (e) {
    if (gen !== recordingsGen) return;
    recordingsState(e.status === 404 ? 'This server lists no recordings.' : apiProblem(e), e.status !== 404);
    return;
  }
  if (gen !== recordingsGen) return; // a newer fetch is on its way
  list = Array.isArray(list) ? list : [];
  ripple.recordings = list;
  ripple.recordingsLoads++;
  renderRecordings(list);
}

function recordingsState(text, isError) {
  $('recordings-state').textContent = text;
  $('recordings-state').classList.toggle('error', !!isError);
}

function renderRecordings(list) {
  const tbody = $('recordings').tBodies[0];
  const shown = list.slice(0, maxRecordingRows);
  const seen = new Set();
  shown.forEach((r, i) => {
    seen.add(r.name);
    let row = recordingRows.get(r.name);
    if (!row) {
      row = recordingRow(r);
      recordingRows.set(r.name, row);
    }
    updateRecordingRow(row, r);
    // Move a row only when it is out of place: a moved row loses focus.
    if (tbody.children[i] !== row) tbody.insertBefore(row, tbody.children[i] || null);
  });
  for (const [name, row] of recordingRows) {
    if (!seen.has(name)) {
      row.remove();
      recordingRows.delete(name);
    }
  }
  highlightRecordings();
  $('recordings-empty').hidden = list.length > 0;
  const only = $('recordings-only').checked && selectedKey();
  let text = list.length + (list.length === 1 ? ' recording' : ' recordings') + (only ? ' of ' + only : '');
  if (list.length > shown.length) text += ', the newest ' + shown.length + ' shown';
  recordingsState(list.length ? text + '.' : '');
}

function recordingRow(r) {
  const row = el('tr');
  row.dataset.recording = r.name;
  const play = el('button', { type: 'button', textContent: 'Play', className: 'play-recording' });
  play.setAttribute('aria-label', 'Play the recording ' + r.name);
  play.addEventListener('click', () => playRecording(row.rec));
  const dl = el('a', { className: 'button download', textContent: 'Download' });
  dl.setAttribute('aria-label', 'Download the recording ' + r.name);
  const badge = el('span', { className: 'badge in-progress', textContent: 'recording…', hidden: true });
  const cell = (cls, label) => el('td', { className: cls, dataset: { label } });
  row.append(
    el('th', { scope: 'row', className: 'name' }, el('span', { className: 'key' }), ' ', badge),
    cell('start', 'Start'), cell('num duration', 'Duration'), cell('num size', 'Size'), cell('format', 'Format'),
    el('td', { className: 'actions' }, play, ' ', dl));
  return row;
}

function updateRecordingRow(row, r) {
  row.rec = r;
  const set = (sel, text) => {
    const c = row.querySelector(sel);
    if (c.textContent !== text) c.textContent = text;
  };
  set('.key', r.key || '');
  const start = new Date(r.start);
  set('.start', Number.isNaN(start.getTime()) ? '–' : start.toLocaleString());
  row.querySelector('.start').title = r.start || '';
  set('.duration', formatDuration(r.duration_seconds));
  set('.size', formatBytes(r.size_bytes));
  set('.format', r.format === 'flv' ? 'FLV' : r.format === 'fmp4' ? 'MP4' : r.format || '–');
  row.querySelector('.in-progress').hidden = !r.in_progress;
  row.classList.toggle('in-progress', !!r.in_progress);
  const dl = row.querySelector('a.download');
  const href = withPlayQuery(r.url || '');
  if (dl.getAttribute('href') !== href) dl.setAttribute('href', href);
  dl.download = (r.name || '').split('/').pop();
}

// highlightRecordings marks the recording playing and those of the stream
// in the player form.
function highlightRecordings() {
  const key = selectedKey();
  for (const [name, row] of recordingRows) {
    row.classList.toggle('selected', !!key && row.rec && row.rec.key === key);
    row.classList.toggle('playing', name === ripple.recording);
  }
  $('recordings-only-key').textContent = key || 'the selected stream';
}

setInterval(refreshRecordings, recordingsInterval);

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
  let first = true;
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
      refreshRecordings();
      await readEvents(res.body, handleEvent);
      if (!ctl.signal.aborted) liveState('Live updates ended; reconnecting…');
    } catch (e) {
      if (ctl.signal.aborted) return;
      liveState(e instanceof APIError ? apiProblem(e) : 'Live updates lost; reconnecting…', e instanceof APIError);
      // A server without events (404) or a refused token will not change by
      // retrying soon: poll and retry slowly.
      if (e instanceof APIError && !opened) backoff = 30000;
      // Without events the recordings still load once now (then on their
      // own timer), whatever the events endpoint said.
      if (first) refreshRecordings();
    }
    first = false;
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
      // Its restream targets start with it: follow them for a while.
      targetsUntil = Date.now() + 15000;
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
      // Restream targets are not in stats either: their states and
      // bitrates come with the list, fetched again while they move.
      if (incomplete || targetsMoving()) refreshStreams();
      break;
    }
    case 'recording_started':
      if (streams.has(d.key)) mergeStream(d.key, { recording: true });
      scheduleRecordings();
      break;
    case 'recording_done':
      // A file also ends when the next one starts (segments): the list says
      // whether the stream is still being recorded.
      refreshStreams();
      scheduleRecordings();
      break;
    case 'recording_error':
      status('Recording ' + (d.key || '') + ' failed: ' + (d.error || 'unknown error'), true);
      refreshStreams();
      scheduleRecordings();
      break;
    case 'resync':
      // Also sent when the server restarted: it may have joined or left a
      // cluster.
      refreshStreams();
      refreshClients();
      scheduleRecordings();
      refreshCluster();
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
  selectionChanged();
  const u = playURLs(app, stream);
  $('url-rtmp').value = u.rtmp;
  $('url-rtmp').closest('tr').hidden = !u.rtmp;
  $('url-http').value = u.http;
  $('url-ws').value = u.ws;
  $('url-hls').value = u.hls;
  $('ffmpeg-url').textContent = u.rtmp || u.rtmps;
  $('obs-server').textContent = u.rtmpApp || u.rtmpsApp;
  if (u.rtmps) {
    rtmpsRow();
    $('url-rtmps').value = u.rtmps;
    $('obs-server-tls').textContent = u.rtmpsApp;
  }
  $('obs-key').textContent = stream || 'STREAM';
  return u;
}

// rtmpsRow adds, once, the RTMPS URL row after the RTMP one and the
// rtmps:// server to the OBS hint (only when the server has RTMPS).
function rtmpsRow() {
  if ($('url-rtmps')) return;
  const input = el('input', { id: 'url-rtmps', readOnly: true });
  input.setAttribute('aria-label', 'RTMPS URL');
  const copy = el('button', { type: 'button', textContent: 'Copy', dataset: { copy: 'url-rtmps' } });
  copy.setAttribute('aria-label', 'Copy the RTMPS URL');
  copyButton(copy);
  const th = el('th', { scope: 'row', textContent: 'RTMPS' });
  $('url-rtmp').closest('tr').after(el('tr', {}, th, el('td', {}, input), el('td', {}, copy)));
  $('obs-server').after(' or ', el('code', { id: 'obs-server-tls' }));
}

function stop() {
  ripple.url = '';
  ripple.engine = '';
  ripple.recording = '';
  flvPlaying = null;
  clearRenditionChoice();
  if (player) {
    player.destroy();
    player = null;
  }
  video.removeAttribute('src');
  video.load();
  setPlaying('');
  highlightRecordings();
  $('stop').disabled = true;
}

function setPlaying(key) {
  playingKey = key;
  for (const [k, row] of rows) row.classList.toggle('playing', k === key);
  for (const [k, row] of targetRows) row.classList.toggle('playing', k === key);
}

// Safari's ManagedMediaSource (iOS 17.1+, which has no MediaSource) only
// plays into an element that opts out of AirPlay or offers an AirPlay source.
if (!('MediaSource' in window) && 'ManagedMediaSource' in window) video.disableRemotePlayback = true;

async function play(protocol, url, key) {
  stop();
  ripple.protocol = protocol;
  ripple.url = url;
  setPlaying(key);
  if (protocol !== 'hls') {
    // At once, not after the library loaded: a choice of rendition that
    // replays keeps its place (and its focus).
    flvPlaying = { protocol, key };
    updateFLVChoice();
  }
  $('stop').disabled = false;
  status('Loading ' + url + '…');
  try {
    if (protocol === 'hls') await playHLS(url);
    else await playFLV(url, true);
  } catch (e) {
    reportError('page', e.message, true);
    return;
  }
  startVideo('Playing ' + url);
}

function startVideo(playing) {
  const started = video.play();
  if (started && started.catch) {
    started.catch((e) => {
      if (e.name === 'NotAllowedError') status('Autoplay blocked: press play.', true);
    });
  }
  status(playing);
}

// playRecording plays a recorded file in the player: an fMP4 file as the
// video element's own source (seekable through HTTP ranges), an FLV file
// with mpegts.js as a whole file rather than a live stream.
async function playRecording(r) {
  stop();
  const url = new URL(withPlayQuery(r.url), location.href).href;
  ripple.protocol = 'recording';
  ripple.url = url;
  ripple.recording = r.name;
  if (r.key) selectStream(r.key);
  highlightRecordings();
  $('stop').disabled = false;
  status('Loading the recording ' + r.name + '…');
  try {
    if (r.format === 'flv' || (!r.format && /\.flv$/i.test(r.name))) {
      await playFLV(url, false);
    } else {
      video.src = url;
      ripple.engine = 'native';
    }
  } catch (e) {
    reportError('page', e.message, true);
    return;
  }
  startVideo('Playing the recording ' + r.name + (r.in_progress ? ' (still being recorded: up to now)' : ''));
}

async function playFLV(url, live) {
  await loadLib('mpegts');
  const mpegts = window.mpegts;
  const features = mpegts.getFeatureList();
  if (live && !features.mseLivePlayback) {
    throw new Error('this browser cannot play live FLV (no Media Source Extensions); try HLS');
  }
  if (!live && !features.msePlayback) {
    throw new Error('this browser cannot play FLV files (no Media Source Extensions): download the file instead');
  }
  const p = live
    ? mpegts.createPlayer({ type: 'flv', isLive: true, url }, { enableStashBuffer: false, liveBufferLatencyChasing: true })
    : mpegts.createPlayer({ type: 'flv', isLive: false, url });
  p.on(mpegts.Events.ERROR, (type, detail, info) => {
    reportError('mpegts', type + ' ' + detail + (info && info.msg ? ': ' + info.msg : ''), true);
  });
  if (live) p.on(mpegts.Events.LOADING_COMPLETE, () => status('Stream ended.'));
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
  // A multivariant playlist (a source with renditions) gives several levels.
  h.on(Hls.Events.MANIFEST_PARSED, () => hlsLevels(h));
  h.on(Hls.Events.LEVELS_UPDATED, () => hlsLevels(h));
  h.on(Hls.Events.LEVEL_SWITCHED, (_, data) => hlsLevelSwitched(h, data.level));
  h.loadSource(url);
  h.attachMedia(video);
  player = h;
  ripple.engine = 'hls.js';
}

// ---------------------------------------------------------------- renditions

// A source with renditions (an encoder's own ladder sent as E-RTMP
// multitrack tracks, or a transcoder's outputs: each an ordinary stream
// "{stream}_{name}" whose API entry names its source) offers a choice under
// the video. Over HLS the source's playlist is a multivariant one: hls.js
// picks a level from the bandwidth it measures, the page shows the level
// playing (LEVEL_SWITCHED) and the choice fixes one (hls.currentLevel; -1
// gives the choice back to hls.js). FLV has no such playlist: the choice
// lists the source and its renditions from the API, and picking one plays
// that stream's FLV URL. A stream without renditions shows nothing.
let flvPlaying = null; // { protocol, key } while an FLV player plays a live stream

function clearRenditionChoice() {
  ripple.rendition = { kind: '', options: [], choice: null, playing: null, switches: 0, auto: false };
  $('renditions').hidden = true;
  $('rendition').replaceChildren();
  delete $('rendition').dataset.options;
  $('rendition-now').textContent = '';
}

// setChoice fills the select with options ({ value, label }) unless it
// already holds those, and selects value.
function setChoice(options, value) {
  const sel = $('rendition');
  const sig = JSON.stringify(options);
  if (sel.dataset.options !== sig) {
    sel.replaceChildren(...options.map((o) => el('option', { value: o.value, textContent: o.label })));
    sel.dataset.options = sig;
  }
  if (sel.value !== value) sel.value = value;
  $('renditions').hidden = false;
}

function levelLabel(l, i) {
  const size = l.height ? l.height + 'p' : l.name || 'level ' + i;
  return size + (l.bitrate ? ' · ' + formatBitrate(l.bitrate) : '');
}

// hlsLevels offers hls.js's levels once the playlist is parsed (and again
// when hls.js drops one that keeps failing): Auto, then the highest first.
function hlsLevels(h) {
  if (player !== h) return;
  const levels = h.levels || [];
  if (levels.length < 2) {
    clearRenditionChoice();
    return;
  }
  const r = ripple.rendition;
  ripple.rendition = {
    kind: 'hls',
    options: levels.map((l, i) => ({ level: i, width: l.width || 0, height: l.height || 0, bitrate: l.bitrate || 0 })),
    choice: h.autoLevelEnabled ? -1 : h.manualLevel,
    playing: r.kind === 'hls' ? r.playing : -1,
    switches: r.kind === 'hls' ? r.switches : 0,
    auto: h.autoLevelEnabled,
  };
  const options = [{ value: '-1', label: 'Auto' }];
  for (let i = levels.length - 1; i >= 0; i--) options.push({ value: String(i), label: levelLabel(levels[i], i) });
  setChoice(options, String(ripple.rendition.choice));
  showLevel(h);
}

function hlsLevelSwitched(h, level) {
  if (player !== h || ripple.rendition.kind !== 'hls') return;
  ripple.rendition.playing = level;
  ripple.rendition.switches++;
  ripple.rendition.auto = h.autoLevelEnabled;
  showLevel(h);
}

// showLevel says which level plays, and whether hls.js chose it.
function showLevel(h) {
  const r = ripple.rendition;
  const l = h.levels[r.playing];
  let text = l ? 'Playing ' + levelLabel(l, r.playing) + (r.auto ? ' (auto)' : '') : 'Starting…';
  if (r.choice >= 0 && r.choice !== r.playing) text += ', switching to ' + levelLabel(h.levels[r.choice] || {}, r.choice) + '…';
  if ($('rendition-now').textContent !== text) $('rendition-now').textContent = text;
}

// flvGroup returns the source of key's group and its members (the source
// first, then its renditions), or null when key is in none.
function flvGroup(key) {
  const s = streams.get(key);
  if (!s) return null;
  const source = s.source || key;
  const src = streams.get(source);
  const members = src && src.renditions && src.renditions.length ? [source, ...src.renditions] : [];
  if (members.length < 2 || !members.includes(key)) return null;
  return { source, members };
}

function flvOption(key, source) {
  const s = streams.get(key) || {};
  const v = s.video || {};
  const name = key === source ? 'source' : renditionName({ key, source, rendition: s.rendition });
  return { key, name, width: v.width || 0, height: v.height || 0 };
}

// updateFLVChoice offers the group of the stream an FLV player plays, as
// the API lists it now (renditions come and go with their publishers).
function updateFLVChoice() {
  if (!flvPlaying) return;
  const g = flvGroup(flvPlaying.key);
  if (!g) {
    if (ripple.rendition.kind === 'flv') clearRenditionChoice();
    return;
  }
  const opts = g.members.map((k) => flvOption(k, g.source));
  ripple.rendition = { kind: 'flv', options: opts, choice: flvPlaying.key, playing: flvPlaying.key, switches: 0, auto: false };
  setChoice(opts.map((o) => ({ value: o.key, label: o.name + (o.height ? ' · ' + o.width + '×' + o.height : '') })), flvPlaying.key);
  const now = opts.find((o) => o.key === flvPlaying.key);
  const text = 'Playing ' + (now.name === 'source' ? 'the source' : now.name) + ' (' + now.key + ')';
  if ($('rendition-now').textContent !== text) $('rendition-now').textContent = text;
}

$('rendition').addEventListener('change', () => {
  const value = $('rendition').value;
  const r = ripple.rendition;
  if (r.kind === 'hls' && player && ripple.engine === 'hls.js') {
    const level = Number(value);
    // currentLevel switches now (flushing what is buffered); -1 is auto.
    player.currentLevel = level;
    r.choice = level;
    r.auto = level < 0;
    showLevel(player);
    status(level < 0 ? 'Rendition: chosen by hls.js from the bandwidth.' : 'Rendition: ' + levelLabel(player.levels[level] || {}, level) + '.');
  } else if (r.kind === 'flv' && flvPlaying && value !== flvPlaying.key) {
    const protocol = flvPlaying.protocol;
    selectStream(value);
    const i = value.lastIndexOf('/');
    play(protocol, playURLs(value.slice(0, i), value.slice(i + 1))[protocol], value);
  }
});

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
video.addEventListener('ended', () => {
  if (ripple.protocol === 'recording' && ripple.url) status('End of the recording ' + ripple.recording + '.');
});
for (const id of ['app', 'stream']) $(id).addEventListener('input', updateURLs);
$('recordings-only').addEventListener('change', refreshRecordings);
function copyButton(btn) {
  if (btn.dataset.bound) return; // the RTMPS row's button may be bound first
  btn.dataset.bound = '1';
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
for (const btn of document.querySelectorAll('[data-copy]')) copyButton(btn);

function setToken(t) {
  token = t;
  if (t) sessionStorage.setItem(tokenKey, t);
  else sessionStorage.removeItem(tokenKey);
  document.body.classList.toggle('has-token', !!t);
  $('token-forget').hidden = !t;
  $('token').value = '';
  $('token').placeholder = t ? 'token set' : 'for changes';
  connectEvents();
  refreshCluster();
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
thumbs.start();
setToken(token);

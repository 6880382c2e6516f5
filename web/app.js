// Ripple player page: shows the URLs of app/stream and plays HTTP-FLV or
// WebSocket-FLV with mpegts.js (Media Source Extensions).
'use strict';

const $ = (id) => document.getElementById(id);
const rtmpPort = document.querySelector('meta[name="ripple-rtmp-port"]')?.content || '1935';
let player = null;

function path(app, stream) {
  return app.split('/').map(encodeURIComponent).join('/') + '/' + encodeURIComponent(stream);
}

// urls derives every play URL from the page's own location, so the page
// works behind any host name; RTMP uses the server's configured port.
function urls(app, stream) {
  const p = path(app, stream);
  const rtmpHost = rtmpPort === '1935' ? location.hostname : location.hostname + ':' + rtmpPort;
  const ws = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return {
    rtmp: 'rtmp://' + rtmpHost + '/' + p,
    http: location.protocol + '//' + location.host + '/' + p + '.flv',
    ws: ws + '//' + location.host + '/' + p + '.flv',
  };
}

function status(text, isError) {
  $('status').textContent = text;
  $('status').classList.toggle('error', !!isError);
}

function update() {
  const u = urls($('app').value.trim(), $('stream').value.trim());
  $('url-rtmp').value = u.rtmp;
  $('url-http').value = u.http;
  $('url-ws').value = u.ws;
  $('ffmpeg-url').textContent = u.rtmp;
  return u;
}

function stop() {
  if (player) {
    player.pause();
    player.unload();
    player.detachMediaElement();
    player.destroy();
    player = null;
  }
  $('stop').disabled = true;
}

function play(url) {
  stop();
  if (!window.mpegts) {
    status('mpegts.js did not load (offline?): copy a URL above into a player such as ffplay or VLC.', true);
    return;
  }
  if (!mpegts.getFeatureList().mseLivePlayback) {
    status('This browser cannot play live FLV (no Media Source Extensions).', true);
    return;
  }
  player = mpegts.createPlayer({ type: 'flv', isLive: true, url: url },
    { enableStashBuffer: false, liveBufferLatencyChasing: true });
  player.on(mpegts.Events.ERROR, (type, detail, info) => {
    status('Error: ' + type + ' ' + detail + (info && info.msg ? ': ' + info.msg : ''), true);
  });
  player.on(mpegts.Events.LOADING_COMPLETE, () => status('Stream ended.'));
  player.attachMediaElement($('video'));
  player.load();
  const started = player.play();
  if (started && started.catch) {
    started.catch((e) => status('Autoplay blocked: press play. (' + e.message + ')', true));
  }
  $('stop').disabled = false;
  status('Playing ' + url);
}

$('stream-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const u = update();
  history.replaceState(null, '', '#' + path($('app').value.trim(), $('stream').value.trim()));
  play($('proto').value === 'ws' ? u.ws : u.http);
});
$('stop').addEventListener('click', () => { stop(); status('Stopped.'); });
for (const id of ['app', 'stream']) $(id).addEventListener('input', update);
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

// #app/stream in the page URL preselects a stream (the last segment is the stream).
const hash = decodeURIComponent(location.hash.slice(1));
if (hash.includes('/')) {
  $('app').value = hash.slice(0, hash.lastIndexOf('/'));
  $('stream').value = hash.slice(hash.lastIndexOf('/') + 1);
}
update();

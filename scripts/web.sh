#!/usr/bin/env bash
# Installs the web page's player libraries, pinned in web/package.json and
# web/package-lock.json, and copies the files named in web/libs.json to
# web/vendor/PACKAGE@VERSION/FILE, where `go build` embeds them (package web).
# Without this step the page loads the same files from the CDN.
#
# Needs node and npm (Debian: apt-get install nodejs npm) and the npm
# registry. The copy is checked against the Subresource Integrity hash in
# libs.json, which the CDN fallback uses too: after a version bump in
# package.json this script prints the hash to put in libs.json.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../web"

npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

# Start from an empty vendor/ so a stale version is never embedded.
find vendor -mindepth 1 ! -name README.md -delete

node - <<'JS'
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const deps = JSON.parse(fs.readFileSync('package.json', 'utf8')).dependencies;
const libs = JSON.parse(fs.readFileSync('libs.json', 'utf8'));
let bad = 0;
for (const [name, lib] of Object.entries(libs)) {
  const version = deps[lib.package];
  const installed = JSON.parse(fs.readFileSync(path.join('node_modules', lib.package, 'package.json'), 'utf8')).version;
  if (installed !== version) {
    console.error(`web.sh: ${lib.package}: package.json pins ${version}, node_modules has ${installed}`);
    bad++;
    continue;
  }
  const src = path.join('node_modules', lib.package, lib.file);
  const body = fs.readFileSync(src);
  const sri = 'sha384-' + crypto.createHash('sha384').update(body).digest('base64');
  if (sri !== lib.integrity) {
    console.error(`web.sh: ${name}: ${src} has integrity ${sri}, libs.json says ${lib.integrity}: update libs.json`);
    bad++;
    continue;
  }
  const dst = path.join('vendor', `${lib.package}@${version}`, lib.file);
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  fs.copyFileSync(src, dst);
  console.log(`web.sh: ${dst} (${body.length} bytes)`);
}
process.exit(bad ? 1 : 0);
JS

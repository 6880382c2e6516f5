package cluster

import "github.com/redis/go-redis/v9"

// The registry's Lua scripts. Every multi-step change is one script, so it
// is atomic on the server. Untrusted strings (stream keys, node ids, URLs)
// reach them only as KEYS and ARGV, never inside the source. Times (now in
// unix ms) come from the calling node's clock: they only fill "since" and
// the index scores, never decide whether a claim is alive (the key's own PX
// does that).
//
// A claim value is JSON {"node","url","epoch","since","idle"} written by
// cjson, whose numbers keep 14 significant digits: exact for epochs and for
// unix milliseconds until the year 5138.

// luaLoad's getClaim decodes the claim at key k: the table and the raw value, or nil
// when it is absent, not a string, longer than max bytes, or not a valid
// claim (a corrupt value counts as no claim). Valid is what decodeOwner
// accepts: node a non-empty string, epoch an integer in 1..2^53, since an
// integer, url a string, idle a boolean; null or missing optional fields
// are fine.
const luaLoad = `
local function opt(x, t) return x == nil or x == cjson.null or type(x) == t end
local function int(x) return type(x) == 'number' and x == math.floor(x) and x > -2^53 and x < 2^53 end
local function getClaim(k, max)
  if redis.call('TYPE', k)['ok'] ~= 'string' then return nil end
  if redis.call('STRLEN', k) > max then return nil end
  local raw = redis.call('GET', k)
  local ok, v = pcall(cjson.decode, raw)
  if not ok or type(v) ~= 'table' or type(v.node) ~= 'string' or v.node == '' or
     not int(v.epoch) or v.epoch < 1 or not opt(v.url, 'string') or not opt(v.idle, 'boolean') or
     not (v.since == nil or v.since == cjson.null or int(v.since)) then
    return nil
  end
  return v, raw
end
`

// scriptClaim: KEYS claim, epoch counter, streams index; ARGV stream key,
// node, url, replace, now ms, lease ms, channel, max value length.
// A missing epoch counter starts at now ms (see Registry).
// Returns {"ok", value, previous value or ""} or {"busy", current value, ""}.
var scriptClaim = redis.NewScript(luaLoad + `
local lease, now = tonumber(ARGV[6]), tonumber(ARGV[5])
local cur, raw = getClaim(KEYS[1], tonumber(ARGV[8]))
local prev = ''
if cur then
  if cur.node == ARGV[2] then
    local changed = cur.idle == true or cur.url ~= ARGV[3]
    cur.url = ARGV[3]
    cur.idle = false
    local v = cjson.encode(cur)
    redis.call('SET', KEYS[1], v, 'PX', lease)
    redis.call('ZADD', KEYS[3], now + lease, ARGV[1])
    if changed then redis.call('PUBLISH', ARGV[7], ARGV[1]) end
    return {'ok', v, ''}
  end
  local r = tonumber(ARGV[4])
  if not (r == -1 or (r == 0 and cur.idle == true) or (r > 0 and cur.epoch == r)) then
    return {'busy', raw, ''}
  end
  prev = raw
end
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], ARGV[5]) end
local epoch = redis.call('INCR', KEYS[2])
local v = cjson.encode({node = ARGV[2], url = ARGV[3], epoch = epoch, since = now, idle = false})
redis.call('SET', KEYS[1], v, 'PX', lease)
redis.call('ZADD', KEYS[3], now + lease, ARGV[1])
redis.call('PUBLISH', ARGV[7], ARGV[1])
return {'ok', v, prev}
`)

// scriptRenew: KEYS streams index, then the claims; ARGV node, now ms,
// lease ms, max value length, then per claim its epoch and stream key.
// Returns the 1-based positions (among the claims) no longer held.
var scriptRenew = redis.NewScript(luaLoad + `
local node, now, lease, max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local lost = {}
for i = 2, #KEYS do
  local j = 5 + (i - 2) * 2
  local cur = getClaim(KEYS[i], max)
  if cur and cur.node == node and cur.epoch == tonumber(ARGV[j]) then
    redis.call('PEXPIRE', KEYS[i], lease)
    redis.call('ZADD', KEYS[1], now + lease, ARGV[j + 1])
  else
    lost[#lost + 1] = i - 1
  end
end
return lost
`)

// scriptIdle: KEYS claim; ARGV node, epoch, idle ('1' or '0'), max value
// length, channel, stream key. Returns 1, or 0 when the claim is not ours.
// KEEPTTL needs Redis 6.0 or Valkey.
var scriptIdle = redis.NewScript(luaLoad + `
local cur = getClaim(KEYS[1], tonumber(ARGV[4]))
if not cur or cur.node ~= ARGV[1] or cur.epoch ~= tonumber(ARGV[2]) then return 0 end
local idle = ARGV[3] == '1'
if (cur.idle == true) ~= idle then
  cur.idle = idle
  redis.call('SET', KEYS[1], cjson.encode(cur), 'KEEPTTL')
  redis.call('PUBLISH', ARGV[5], ARGV[6])
end
return 1
`)

// scriptRelease: KEYS claim, streams index; ARGV node, epoch, max value
// length, channel, stream key. Returns 1, or 0 when the claim is not ours.
var scriptRelease = redis.NewScript(luaLoad + `
local cur = getClaim(KEYS[1], tonumber(ARGV[3]))
if not cur or cur.node ~= ARGV[1] or cur.epoch ~= tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[5])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`)

// scriptRead reads values without ever sending more than the limit: KEYS
// an index, then the value keys; ARGV max value length, then the index
// member of each value key. Per key it returns the value, or 0 when the key
// is gone (its member is then removed from the index), -1 when it is too
// long, -2 when it is not a string.
var scriptRead = redis.NewScript(`
local max = tonumber(ARGV[1])
local out = {}
for i = 2, #KEYS do
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t == 'none' then
    redis.call('ZREM', KEYS[1], ARGV[i])
    out[i - 1] = 0
  elseif t ~= 'string' then
    out[i - 1] = -2
  elseif redis.call('STRLEN', KEYS[i]) > max then
    out[i - 1] = -1
  else
    out[i - 1] = redis.call('GET', KEYS[i])
  end
end
return out
`)

// scriptHeartbeat: KEYS node key, nodes index; ARGV value, ttl ms, node
// id, index score.
var scriptHeartbeat = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
return 1
`)

// scriptLeave: KEYS node key, nodes index; ARGV node id.
var scriptLeave = redis.NewScript(`
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`)

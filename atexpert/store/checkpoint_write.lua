-- KEYS[1] checkpoint hash, KEYS[2] events stream.
-- ARGV[1] id of the checkpoint the fold started from ("0-0": none), ARGV[2] new id,
-- ARGV[3] time of its event, ARGV[4] state JSON, ARGV[5] first id kept (new id + 1).
-- -1: refused (another checkpoint came meanwhile, or the id is not older than the log's
-- head); else the number of entries trimmed.
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function before(a, b)  -- a < b
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local current = redis.call('HGET', KEYS[1], 'id') or '0-0'
if current ~= ARGV[1] or not before(current, ARGV[2]) then return -1 end
local head = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if #head == 0 or before(head[1][1], ARGV[2]) then return -1 end
redis.call('HSET', KEYS[1], 'id', ARGV[2], 'at', ARGV[3], 'state', ARGV[4])
return redis.call('XTRIM', KEYS[2], 'MINID', ARGV[5])

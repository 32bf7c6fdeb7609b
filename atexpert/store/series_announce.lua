-- One step on one announcement before an occurrence (see store/series_announcements.py).
-- KEYS[1] the session's announcement hash, KEYS[2] the session record, KEYS[3] the
-- session's event log.
-- ARGV[1] op: claim | posted | failed | missed | release | edit; ARGV[2] the field (minutes
-- before the start, the record's id); ARGV[3] the scheduler's fence ('' for the admin's
-- edit); ARGV[4] a JSON object of fields to set; ARGV[5] the event's kind, ARGV[6] its
-- actor, ARGV[7] its time.
-- Every change bumps the record's version and appends its event (the whole new record as
-- its data) to the log, in this same step.
-- Returns {verdict, the record JSON}: 'ok'; 'retry' (claim of a post already attempted:
-- reconcile before posting again); 'done' (nothing to do in this state); 'fence' (a
-- newer leader acted); 'missing' (no such session).
if redis.call('EXISTS', KEYS[2]) == 0 then return {'missing', ''} end
local raw = redis.call('HGET', KEYS[1], ARGV[2])
local rec = {status = 'scheduled'}
if raw then rec = cjson.decode(raw) end
local op, fence = ARGV[1], tonumber(ARGV[3])
local status = rec.status
if fence and rec.fence and fence < rec.fence then return {'fence', raw} end

local function save(verdict, patch)
  for k, v in pairs(patch) do rec[k] = v end
  if fence then rec.fence = fence end
  rec.id = ARGV[2]
  rec.version = (tonumber(rec.version) or 0) + 1
  local out = cjson.encode(rec)
  redis.call('HSET', KEYS[1], ARGV[2], out)
  redis.call('XADD', KEYS[3], '*', 'k', ARGV[5], 'i', ARGV[2], 'a', ARGV[6], 't', ARGV[7],
    'f', ARGV[3], 'd', out, 'v', rec.version)
  return {verdict, out}
end

local patch = cjson.decode(ARGV[4])
local now = {
  edit = status == 'scheduled' or status == 'skipped',
  claim = status == 'scheduled',
  missed = status == 'scheduled' or status == 'posting',
  posted = status == 'posting',
  failed = status == 'posting',
  release = status == 'posting',
}
if op == 'claim' and status == 'posting' then return save('retry', {}) end
if not now[op] then return {'done', raw or cjson.encode(rec)} end
return save('ok', patch)

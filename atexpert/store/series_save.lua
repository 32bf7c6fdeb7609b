-- KEYS[1] the series record, KEYS[2] its slug key, KEYS[3] the slug key it had ('' slot
-- key when new: same as KEYS[2]), KEYS[4] the set of all series.
-- ARGV[1] the record JSON, ARGV[2] the series id, ARGV[3] the expected version ('' when
-- creating), ARGV[4] created_at in ms.
-- Returns 1, or -1 when the slug is another series', -2 when the version (or, creating,
-- the id) does not match, -3 when the series to update does not exist.
local taken = redis.call('GET', KEYS[2])
if taken and taken ~= ARGV[2] then return -1 end
local raw = redis.call('GET', KEYS[1])
if ARGV[3] == '' then
  if raw then return -2 end
else
  if not raw then return -3 end
  if tostring(cjson.decode(raw).version) ~= ARGV[3] then return -2 end
  if KEYS[3] ~= KEYS[2] then redis.call('DEL', KEYS[3]) end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[4], 'NX', ARGV[4], ARGV[2])
return 1

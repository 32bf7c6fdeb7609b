local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'unknown' end
if state ~= 'pending' then return state end
if tonumber(redis.call('HGET', KEYS[1], 'expires_ms')) <= tonumber(ARGV[1]) then
  return 'expired'
end
redis.call('HSET', KEYS[1], 'state', 'accepted', 'at', ARGV[2])
return 'claimed'

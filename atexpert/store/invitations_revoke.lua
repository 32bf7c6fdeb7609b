local state = redis.call('HGET', KEYS[1], 'state')
if state == 'pending' then
  redis.call('HSET', KEYS[1], 'state', 'revoked', 'by', ARGV[1], 'at', ARGV[2])
end
redis.call('HDEL', KEYS[2], ARGV[3])
return state or 'unknown'

if redis.call('HGET', KEYS[1], 'state') == 'accepted' and not redis.call('HGET', KEYS[1], 'by')
then
  redis.call('HSET', KEYS[1], 'state', 'pending')
  redis.call('HDEL', KEYS[1], 'at')
  return 1
end
return 0

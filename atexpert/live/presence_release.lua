local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cjson.decode(cur)['user_id'] == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0

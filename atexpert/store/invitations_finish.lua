redis.call('HSET', KEYS[1], 'by', ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[2])
return 1

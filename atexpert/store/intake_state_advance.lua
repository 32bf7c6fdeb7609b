local cur = redis.call('GET', KEYS[1])
if cur and (#cur > #ARGV[1] or (#cur == #ARGV[1] and cur >= ARGV[1])) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1

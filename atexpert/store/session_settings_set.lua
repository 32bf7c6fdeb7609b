if redis.call('EXISTS', KEYS[2]) == 0 then return -2 end
local v = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= v then return -1 end
local n = tonumber(ARGV[2])
local set = {'HSET', KEYS[1], 'version', v + 1}
for i = 3, 2 + 2 * n do set[#set + 1] = ARGV[i] end
redis.call(unpack(set))
local add = {'XADD', KEYS[3], '*'}
for i = 3 + 2 * n, #ARGV do add[#add + 1] = ARGV[i] end
add[#add + 1] = 'v'
add[#add + 1] = v + 1
redis.call(unpack(add))
return v + 1

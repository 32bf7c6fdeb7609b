if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  return 'exists'
end
local doc = cjson.decode(ARGV[1])
for _, e in ipairs(doc.events) do redis.call('XADD', KEYS[1], e[1], unpack(e[2])) end
for _, r in ipairs(doc.records) do redis.call('SET', KEYS[r[1]], r[2]) end
for _, z in ipairs(doc.index) do redis.call('ZADD', KEYS[z[1]], z[2], z[3]) end
for _, h in ipairs(doc.meter) do redis.call('HSET', KEYS[3], h[1], h[2]) end
for _, h in ipairs(doc.settings) do redis.call('HSET', KEYS[h[1]], h[2], h[3]) end
return 'ok'

-- Queue an automatic reply unless the asker already has one in this closed period.
-- KEYS[1] askers answered in the period (set), KEYS[2] replies to post (hash)
-- ARGV[1] asker id, ARGV[2] hash field, ARGV[3] reply JSON, ARGV[4] ms to keep the set
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1

-- Login throttling, one atomic step (see atexpert/store/login_throttle.py).
-- KEYS: account counter, client counter, index (sorted set id -> forget-at ms)
-- ARGV: op ('attempt' | 'success'), now ms, forget ms,
--       account free, base ms, cap ms, client free, base ms, cap ms,
--       account id, client id, username, client
local now, forget = tonumber(ARGV[2]), tonumber(ARGV[3])
local rules = {
  {key = KEYS[1], free = tonumber(ARGV[4]), base = tonumber(ARGV[5]), cap = tonumber(ARGV[6]),
   id = ARGV[10], kind = 'account'},
  {key = KEYS[2], free = tonumber(ARGV[7]), base = tonumber(ARGV[8]), cap = tonumber(ARGV[9]),
   id = ARGV[11], kind = 'client'},
}

local function delay(rule, n)
  if n < rule.free then return 0 end
  return math.min(rule.cap, rule.base * 2 ^ (n - rule.free))
end

-- failures and the time the counter lets logins through again; 0, 0 once forgotten
local function state(rule)
  local v = redis.call('HMGET', rule.key, 'failures', 'until', 'last')
  local n, free_at, last = tonumber(v[1]), tonumber(v[2]), tonumber(v[3])
  if not n or now >= math.max(last + forget, free_at) then return 0, 0, now end
  return n, free_at, last
end

local function save(rule, n, last)
  if n <= 0 then
    redis.call('DEL', rule.key)
    redis.call('ZREM', KEYS[3], rule.id)
    return
  end
  local free_at = last + delay(rule, n)
  redis.call('HSET', rule.key, 'failures', n, 'until', free_at, 'last', last,
             'kind', rule.kind, 'username', ARGV[12], 'client', ARGV[13])
  redis.call('PEXPIRE', rule.key, forget + rule.cap)
  redis.call('ZADD', KEYS[3], math.max(last + forget, free_at), rule.id)
end

redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local account_n, account_until, account_last = state(rules[1])
local client_n, client_until, client_last = state(rules[2])
if ARGV[1] == 'success' then
  -- The pair starts afresh; the client gets back the failure its attempt counted.
  save(rules[1], 0, now)
  save(rules[2], client_n - 1, client_last)
  return 0
end
local wait = math.max(account_until, client_until) - now
if wait > 0 then return wait end
-- Counted before the password is checked, so parallel guesses can't slip through.
save(rules[1], account_n + 1, now)
save(rules[2], client_n + 1, now)
return 0

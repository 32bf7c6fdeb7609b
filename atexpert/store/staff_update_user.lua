-- Compare-and-set of one staff user record, optionally keeping an active admin.
-- KEYS[1]: the user; KEYS[2..]: every other user (when ARGV[3] is '1').
-- ARGV[1]: the record as read; ARGV[2]: the new record; ARGV[3]: '1' to refuse leaving no
-- active admin among KEYS[2..].
-- Returns 1 when written, 0 when the record changed meanwhile, -1 for the last admin.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] == '1' then
  local admins = 0
  for i = 2, #KEYS do
    local raw = redis.call('GET', KEYS[i])
    if raw then
      local user = cjson.decode(raw)
      if user.is_admin == true and user.disabled ~= true then admins = admins + 1 end
    end
  end
  if admins == 0 then return -1 end
end
redis.call('SET', KEYS[1], ARGV[2])
return 1

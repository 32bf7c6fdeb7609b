-- One atomic step on the records of ONE session: check every guard, then apply every
-- change, update the status indexes and append one event per change to the stream.
-- Nothing is written unless every guard holds: no change without its event and no event
-- without its change.
--
-- KEYS[1]  the session's event stream; KEYS[2..] records and status indexes.
-- ARGV[1]  JSON {"ops": [op, ...]} where op is
--   k      index in KEYS of the record
--   id     the record id (member of the status indexes)
--   create JSON text of a new record (fails with "exists" when the key is already set)
--   status status of the new record (with create)
--   src    statuses the record must be in (absent: any)
--   ver    expected version;  fence  scheduler fence, refused if below the recorded one
--   opt    true: when src does not hold, skip this op silently instead of failing
--   kv     true: keep the version (metrics), and skip the op when the patch changes nothing
--   patch  {path: value} to set (dotted paths; numeric segments are 0-based list indexes)
--   ix     {status: index in KEYS of that status' sorted set}
--   score  sorted-set score of a created record
--   ev     the event's stream fields and values, flat; field "v" (new version) is added
--   side   derived data written with a created record: {command, index in KEYS, args...}
-- Returns {"ok", {event id or "" per op}, {new record JSON or "" per op}}
--      or {reason, op number, current record JSON} with reason in
--         missing | exists | status | version | fence | badpath

local spec = cjson.decode(ARGV[1])

local function locate(rec, path)
  local parent, key = rec, nil
  for seg in string.gmatch(path, '[^.]+') do
    if key ~= nil then
      parent = parent[key]
      if type(parent) ~= 'table' then return nil end
    end
    local n = tonumber(seg)
    if n then
      key = n + 1
      if parent[key] == nil then return nil end
    else
      key = seg
    end
  end
  return parent, key
end

local recs, skip = {}, {}
for i, op in ipairs(spec.ops) do
  local raw = redis.call('GET', KEYS[op.k])
  if op.create then
    if raw then return {'exists', i, raw} end
  elseif not raw then
    if not op.opt then return {'missing', i, ''} end
    skip[i] = true
  else
    local rec = cjson.decode(raw)
    local allowed = op.src == nil
    if not allowed then
      for _, s in ipairs(op.src) do
        if s == rec.status then allowed = true end
      end
    end
    if not allowed then
      if not op.opt then return {'status', i, raw} end
      skip[i] = true
    elseif op.ver and rec.version ~= op.ver then
      return {'version', i, raw}
    elseif op.fence and type(rec.fence) == 'number' and rec.fence > op.fence then
      return {'fence', i, raw}
    end
    if op.patch and not skip[i] then
      local same = true
      for path, value in pairs(op.patch) do
        local parent, key = locate(rec, path)
        if parent == nil then return {'badpath', i, raw} end
        if parent[key] ~= value then same = false end
      end
      if op.kv and same then skip[i] = true end
    end
    recs[i] = rec
  end
end

local ids, out = {}, {}
for i, op in ipairs(spec.ops) do
  ids[i], out[i] = '', ''
  if not skip[i] and (op.create or op.patch) then
    local raw, version, old, new
    if op.create then
      raw, version, new = op.create, 1, op.status
    else
      local rec = recs[i]
      old = rec.status
      for path, value in pairs(op.patch) do
        local parent, key = locate(rec, path)
        parent[key] = value
      end
      version = rec.version
      if not op.kv then version = version + 1 end
      rec.version = version
      raw = cjson.encode(rec)
      new = rec.status
    end
    redis.call('SET', KEYS[op.k], raw)
    for _, w in ipairs(op.side or {}) do redis.call(w[1], KEYS[w[2]], unpack(w, 3)) end
    if op.ix and old ~= new then
      local score = op.score
      if old then
        score = redis.call('ZSCORE', KEYS[op.ix[old]], op.id) or 0
        redis.call('ZREM', KEYS[op.ix[old]], op.id)
      end
      redis.call('ZADD', KEYS[op.ix[new]], score, op.id)
    end
    if op.ev then
      local args = {'XADD', KEYS[1], '*'}
      for _, v in ipairs(op.ev) do args[#args + 1] = v end
      args[#args + 1] = 'v'
      args[#args + 1] = version
      ids[i] = redis.call(unpack(args))
    end
    out[i] = raw
  end
end
return {'ok', ids, out}

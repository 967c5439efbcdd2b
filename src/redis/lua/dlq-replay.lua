--[[
  dlq-replay: put one dead letter back on its partition for its group only,
  and delete it from the dead-letter stream, atomically: an interrupted replay
  neither loses nor duplicates an event.

  KEYS[1]  the dead-letter stream
  KEYS[2]  the partition's stream (same hash tag)
  ARGV[1]  the dead letter's position
  ARGV[2]  the id to give the event when it has none ('' for raw entries)

  Returns the event's new position, or false when the dead letter is gone.
]]

-- unpack() stops at Lua's C-stack limit (8000 values, about 4,000 field pairs), and an
-- XADD cannot be split. call_spread() passes any number of values as arguments: the last
-- UNPACK_MAX come from one unpack(), any before them are prepended 32 at a time by tail
-- calls whose varargs live on the Lua stack (no limit). Each of those calls copies the
-- varargs: 10,000 pairs took about 0.2 s in Redis on a busy 2-core machine; entries up to
-- 3,500 pairs take the single unpack() at no extra cost.
local UNPACK_MAX = 7000
local function spread(call, t, first, n, ...)
  if n - 31 >= first then
    return spread(call, t, first, n - 32,
      t[n - 31], t[n - 30], t[n - 29], t[n - 28], t[n - 27], t[n - 26], t[n - 25], t[n - 24],
      t[n - 23], t[n - 22], t[n - 21], t[n - 20], t[n - 19], t[n - 18], t[n - 17], t[n - 16],
      t[n - 15], t[n - 14], t[n - 13], t[n - 12], t[n - 11], t[n - 10], t[n - 9], t[n - 8],
      t[n - 7], t[n - 6], t[n - 5], t[n - 4], t[n - 3], t[n - 2], t[n - 1], t[n], ...)
  elseif n >= first then
    return spread(call, t, first, n - 1, t[n], ...)
  end
  return call(...)
end
local function call_spread(call, t, first, n)
  local seed = math.max(first, n - UNPACK_MAX + 1)
  return spread(call, t, first, seed - 1, unpack(t, seed, n))
end
-- (The same functions as in dead-letter.lua: scripts cannot share code.)
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then
  return false
end
local stored = found[1][2]
local fields = {}
local group = nil
local has_id = false
for i = 1, #stored, 2 do
  local f, v = stored[i], stored[i + 1]
  if f == 'herald-dlq-group' then
    group = v
  elseif string.sub(f, 1, 11) ~= 'herald-dlq-' and f ~= 'herald-replay-for' then
    if f == 'id' then has_id = true end
    fields[#fields + 1] = f
    fields[#fields + 1] = v
  end
end
if not has_id and ARGV[2] ~= '' then
  fields[#fields + 1] = 'id'
  fields[#fields + 1] = ARGV[2]
end
if group then
  fields[#fields + 1] = 'herald-replay-for'
  fields[#fields + 1] = group
end
local position = call_spread(function(...)
  return redis.call('XADD', KEYS[2], '*', ...)
end, fields, 1, #fields)
redis.call('XDEL', KEYS[1], ARGV[1])
return position

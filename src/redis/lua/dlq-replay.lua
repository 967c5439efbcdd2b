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
-- XADD cannot be split. spread() passes any number of values as arguments instead: tail
-- calls prepend 16 values at a time to the varargs, which live on the Lua stack (no limit).
-- (The same function as in dead-letter.lua: scripts cannot share code.)
local function spread(call, t, first, n, ...)
  if n - 15 >= first then
    return spread(call, t, first, n - 16,
      t[n - 15], t[n - 14], t[n - 13], t[n - 12], t[n - 11], t[n - 10], t[n - 9], t[n - 8],
      t[n - 7], t[n - 6], t[n - 5], t[n - 4], t[n - 3], t[n - 2], t[n - 1], t[n], ...)
  elseif n >= first then
    return spread(call, t, first, n - 1, t[n], ...)
  end
  return call(...)
end
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
local position = spread(function(...)
  return redis.call('XADD', KEYS[2], '*', ...)
end, fields, 1, #fields)
redis.call('XDEL', KEYS[1], ARGV[1])
return position

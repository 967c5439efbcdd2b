--[[
  dead-letter: copy one pending event of a consumer group to the dead-letter
  stream, then acknowledge it, atomically, so it is neither lost nor dead-lettered twice.
  The copy comes first: a script is not rolled back when it fails half-way, so an
  event is acknowledged only once its dead letter is stored.

  KEYS[1]  the partition's stream
  KEYS[2]  the partition's dead-letter stream (same hash tag)
  ARGV[1]  consumer group
  ARGV[2]  the event's position in the stream
  ARGV[3..] the dead letter's fields and values, alternating (any number)

  Returns the dead letter's position, or false when the event was no longer
  pending for the group (another consumer already finished it): nothing is written.
]]

-- unpack() stops at Lua's C-stack limit (8000 values, about 4,000 field pairs), and an
-- XADD cannot be split. spread() passes any number of values as arguments instead: tail
-- calls prepend 16 values at a time to the varargs, which live on the Lua stack (no limit).
-- It copies the varargs on each call: 10,000 pairs take about 20 ms.
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

local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending == 0 then
  return false
end
local position = spread(function(...)
  return redis.call('XADD', KEYS[2], '*', ...)
end, ARGV, 3, #ARGV)
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return position

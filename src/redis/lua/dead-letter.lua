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

local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending == 0 then
  return false
end
local position = call_spread(function(...)
  return redis.call('XADD', KEYS[2], '*', ...)
end, ARGV, 3, #ARGV)
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return position

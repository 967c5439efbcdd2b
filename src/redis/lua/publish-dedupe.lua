--[[
  publish-dedupe: append an event unless an event with the same id was stored
  within the dedupe window.

  KEYS[1]  the partition's stream
  KEYS[2]  the dedupe record for this event id (same hash tag as the stream)
  ARGV[1]  dedupe window in milliseconds
  ARGV[2..] the entry's fields and values, alternating

  Returns {1, position} when the event was appended,
          {0, position} when it was a duplicate (position of the first copy).
]]
local prev = redis.call('GET', KEYS[2])
if prev then
  return {0, prev}
end
-- call_spread (shared helpers): any number of fields, beyond unpack()'s limit.
local position = call_spread(function(...)
  return redis.call('XADD', KEYS[1], '*', ...)
end, ARGV, 2, #ARGV)
redis.call('SET', KEYS[2], position, 'PX', ARGV[1])
return {1, position}

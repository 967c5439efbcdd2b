--[[
  ordered-dead-letter: dead-letter.lua under the partition's fence: copy one pending event to
  the dead-letter stream, then acknowledge it, atomically, only while the token owns the
  partition.

  KEYS[1]  the partition's stream
  KEYS[2]  the partition's dead-letter stream (same hash tag)
  KEYS[3]  the partition's owner key (same hash tag)
  ARGV[1]  consumer group
  ARGV[2]  the event's position in the stream
  ARGV[3]  the owner's token "<epoch>|<consumer>"
  ARGV[4..] the dead letter's fields and values, alternating (any number)

  Returns the dead letter's position, or false when the event was no longer pending for the
  group; error 'FENCED …' when the token does not own the partition (nothing written).
]]
local refused = fence(KEYS[3], ARGV[3])
if refused then
  return refused
end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending == 0 then
  return false
end
local position = call_spread(function(...)
  return redis.call('XADD', KEYS[2], '*', ...)
end, ARGV, 4, #ARGV)
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return position

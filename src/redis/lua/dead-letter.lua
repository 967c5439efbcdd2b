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

-- call_spread (shared helpers): an XADD with any number of fields.
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending == 0 then
  return false
end
local position = call_spread(function(...)
  return redis.call('XADD', KEYS[2], '*', ...)
end, ARGV, 3, #ARGV)
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return position

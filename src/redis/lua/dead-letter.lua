--[[
  dead-letter: move one pending event of a consumer group to the dead-letter
  stream and acknowledge it, atomically, so it is neither lost nor dead-lettered twice.

  KEYS[1]  the partition's stream
  KEYS[2]  the partition's dead-letter stream (same hash tag)
  ARGV[1]  consumer group
  ARGV[2]  the event's position in the stream
  ARGV[3..] the dead letter's fields and values, alternating

  Returns the dead letter's position, or false when the event was no longer
  pending for the group (another consumer already finished it): nothing is written.
]]
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if acked == 0 then
  return false
end
local fields = {}
for i = 3, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
return redis.call('XADD', KEYS[2], '*', unpack(fields))

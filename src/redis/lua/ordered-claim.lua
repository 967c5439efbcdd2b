--[[
  ordered-claim: claim one pending event back for a retry (counting a delivery), only while
  the token owns the partition.

  KEYS[1]  the partition's stream
  KEYS[2]  the partition's owner key
  ARGV[1]  consumer group
  ARGV[2]  the owner's token "<epoch>|<consumer>"
  ARGV[3]  the consumer claiming
  ARGV[4]  the event's position

  Returns XCLAIM's reply (the entry, or nothing once acknowledged or deleted);
  error 'FENCED …' when the token does not own the partition.
]]
local refused = fence(KEYS[2], ARGV[2])
if refused then
  return refused
end
return redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[4])

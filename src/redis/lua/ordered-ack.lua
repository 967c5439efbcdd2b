--[[
  ordered-ack: acknowledge events of an ordered subscription, only while the token owns
  the partition (a late acknowledgement of an instance that lost it is rejected).

  KEYS[1]  the partition's stream
  KEYS[2]  the partition's owner key (same hash tag)
  ARGV[1]  consumer group
  ARGV[2]  the owner's token "<epoch>|<consumer>"
  ARGV[3..] positions to acknowledge

  Returns how many were acknowledged; error 'FENCED …' when the token does not own the partition.
]]
local refused = fence(KEYS[2], ARGV[2])
if refused then
  return refused
end
return redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 3))

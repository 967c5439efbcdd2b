--[[
  partition-acquire: take a partition of an ordered consumer group if nobody owns it.
  The fencing epoch is incremented at every take-over, so the new owner's token differs
  from every earlier one and their late work is rejected (fence() in the shared helpers).

  KEYS[1]  the partition's owner key   (<ownerPrefix><group>, same hash tag as the stream)
  KEYS[2]  the partition's epoch key   (<epochPrefix><group>)
  ARGV[1]  the consumer taking it
  ARGV[2]  lease in milliseconds

  Returns the new epoch (integer), or 0 when another owner's lease is still running.
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], epoch .. '|' .. ARGV[1], 'PX', ARGV[2])
return epoch

--[[
  ordered-members: heartbeat of one instance of an ordered consumer group, and the list of
  live instances everyone computes the partition assignment from. Lease ends are Redis's
  clock (redis_now_ms), so the instances' own clocks do not matter.

  KEYS[1]  the group's members ZSET (<prefix>:{<topic>}:members:<group>)
  ARGV[1]  this instance's consumer name
  ARGV[2]  lease in milliseconds; 0 leaves the group (close)

  Returns the live members (names, any order) after the update; drops expired ones.
]]
local now = redis_now_ms()
local lease = tonumber(ARGV[2])
if lease > 0 then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
  -- An unused group's members key goes away by itself.
  redis.call('PEXPIRE', KEYS[1], lease * 10)
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)

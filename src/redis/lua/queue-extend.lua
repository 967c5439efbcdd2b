--[[
  queue-extend: renew the leases of items a live worker is still handling.
  A lease that no longer exists (it ran out and the item was reaped) is not
  recreated: the item belongs to the queue again.

  KEYS[1]  the queue's leases zset
  ARGV[1]  visibility timeout in ms (new deadline = Redis clock + this)
  ARGV[2..] lease members "<id>:<attempt>"

  Returns the lease members that were gone.
]]
local deadline = redis_now_ms() + tonumber(ARGV[1])
local lost = {}
for i = 2, #ARGV do
  if redis.call('ZADD', KEYS[1], 'XX', 'CH', deadline, ARGV[i]) == 0
      and not redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    lost[#lost + 1] = ARGV[i]
  end
end
return lost

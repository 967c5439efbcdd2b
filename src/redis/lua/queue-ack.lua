--[[
  queue-ack: finish items, atomically per item: remove it from `processing`
  and drop its lease. An item whose lease was lost (it was reaped and put back,
  so its stored form changed) is left alone.

  KEYS[1]  the queue's processing list
  KEYS[2]  the queue's leases zset
  ARGV[1..] the items, exactly as `queue-take` returned them

  Returns one flag per item: 1 finished, 0 no longer held by the caller.
]]
local done = {}
for i, item in ipairs(ARGV) do
  local removed = redis.call('LREM', KEYS[1], -1, item)
  if removed > 0 then
    local id, attempt = string.match(item, '^{"id":"(%x+)","attempt":(%d+),')
    if id then
      redis.call('ZREM', KEYS[2], id .. ':' .. attempt)
    end
    done[i] = 1
  else
    done[i] = 0
  end
end
return done

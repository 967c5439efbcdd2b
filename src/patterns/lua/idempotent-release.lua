--[[
  idempotent-release: give the lease back after a handler failed, so that the
  retry can claim it at once.

  KEYS[1]  the event's record
  ARGV[1]  the lease token of the attempt that failed

  Returns 1 when the lease was released, 0 when it was not ours any more.
]]
if redis.call('GET', KEYS[1]) == 'lease:' .. ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0

--[[
  idempotent-finish: mark an event handled once its handler succeeded.

  KEYS[1]  the event's record
  ARGV[1]  the lease token of the attempt that finished
  ARGV[2]  record TTL in milliseconds

  Returns 1 when the record was set to 'done';
          0 when it was left alone: the handler's own transaction already
            wrote 'done…', or the lease expired and another attempt holds it.
]]
local value = redis.call('GET', KEYS[1])
if value == 'lease:' .. ARGV[1] or not value then
  redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2])
  return 1
end
return 0

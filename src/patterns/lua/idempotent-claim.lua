--[[
  idempotent-claim: take the lease on an event's record before its handler runs.

  A record holds 'lease:<token>' while a handler runs and 'done' (or
  'done:<detail>') once the event was handled; it expires after its TTL.

  KEYS[1]  the event's record
  ARGV[1]  this attempt's lease token
  ARGV[2]  lease length in milliseconds

  Returns {'claimed', ''}        the lease is ours: run the handler
          {'done', value}        the event was handled already: skip it
          {'busy', pttl}         another attempt holds the lease (pttl ms left)
]]
local value = redis.call('GET', KEYS[1])
if not value then
  redis.call('SET', KEYS[1], 'lease:' .. ARGV[1], 'PX', ARGV[2])
  return {'claimed', ''}
end
if string.sub(value, 1, 4) == 'done' then
  return {'done', value}
end
return {'busy', tostring(redis.call('PTTL', KEYS[1]))}

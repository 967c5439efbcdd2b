--[[
  queue-fail: a handler failed on an item. Atomically: remove it from
  `processing`, drop its lease, and either put it back at the end of the
  pending list with its attempt count raised, or, when that count reaches
  maxAttempts, append it to the dead list.

  KEYS[1]  the queue's pending list
  KEYS[2]  the queue's processing list
  KEYS[3]  the queue's leases zset
  KEYS[4]  the queue's dead list
  ARGV[1]  the item, exactly as `queue-take` returned it
  ARGV[2]  maxAttempts
  ARGV[3]  the error, as text

  Returns 1 requeued, 2 dead-lettered, 0 the caller no longer held the item
  (its lease ran out and it was reaped): nothing is changed.
]]
local item = ARGV[1]
if redis.call('LREM', KEYS[2], -1, item) == 0 then
  return 0
end
local id, attempt, rest = string.match(item, '^{"id":"(%x+)","attempt":(%d+),(.*)$')
if not id then
  -- Not in Herald's format (written by another tool): nothing to count on, keep it.
  redis.call('LPUSH', KEYS[4], item)
  return 2
end
redis.call('ZREM', KEYS[3], id .. ':' .. attempt)
local attempts = tonumber(attempt) + 1
local next = '{"id":"' .. id .. '","attempt":' .. attempts .. ',' .. rest
if attempts >= tonumber(ARGV[2]) then
  local now = redis_now_ms()
  redis.call('LPUSH', KEYS[4], '{"reason":"handler-failed","error":' .. cjson.encode(ARGV[3])
    .. ',"at":' .. now .. ',"item":' .. next .. '}')
  return 2
end
redis.call('LPUSH', KEYS[1], next)
return 1

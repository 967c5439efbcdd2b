--[[
  order-transition: move an order to its next state on an event from another
  service: append the timeline, stage the announcement, record the event as
  handled; all at once. An event that does not fit the order's current state
  (an unknown order, a stale event) is recorded as handled and changes nothing.

  KEYS[1]  the event's idempotency record
  KEYS[2]  the order's hash
  KEYS[3]  the order's timeline list
  KEYS[4]  outbox hash
  KEYS[5]  stats hash
  KEYS[6]  count of orders per state (hash)
  ARGV[1]  record TTL (ms)
  ARGV[2]  states the order may be in, comma separated
  ARGV[3]  the new state
  ARGV[4]  time of the change (ms since the epoch)
  ARGV[5], ARGV[6]  outbox id and entry announcing the new state
  ARGV[7..] timeline entries to append (JSON)

  Returns {'duplicate', ''} or {'ignored', ''}, or {'applied', the staged outbox id}.
]]
local record = redis.call('GET', KEYS[1])
if record and string.sub(record, 1, 4) == 'done' then
  return {'duplicate', ''}
end
local current = redis.call('HGET', KEYS[2], 'state')
local allowed = false
if current then
  for state in string.gmatch(ARGV[2], '[^,]+') do
    if state == current then allowed = true end
  end
end
redis.call('HINCRBY', KEYS[5], 'processed', 1)
if not allowed then
  redis.call('HINCRBY', KEYS[5], 'ignored', 1)
  redis.call('SET', KEYS[1], 'done:ignored', 'PX', ARGV[1])
  return {'ignored', ''}
end
redis.call('HSET', KEYS[2], 'state', ARGV[3], 'updated', ARGV[4])
for i = 7, #ARGV do
  redis.call('RPUSH', KEYS[3], ARGV[i])
end
redis.call('HINCRBY', KEYS[6], current, -1)
redis.call('HINCRBY', KEYS[6], ARGV[3], 1)
redis.call('HSET', KEYS[4], ARGV[5], ARGV[6])
redis.call('SET', KEYS[1], 'done:applied', 'PX', ARGV[1])
return {'applied', ARGV[5]}

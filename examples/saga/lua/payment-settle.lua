--[[
  payment-settle: settle an order's reservation, atomically with the event's
  idempotency record: 'capture' turns it into a deduction (the order shipped),
  'release' gives it back to the user (the order is refunded). Either way the
  reservation is gone afterwards, so an order is never settled twice.

  KEYS[1]  the event's idempotency record
  KEYS[2]  balances hash (user -> available amount)
  KEYS[3]  reservations hash (order id -> '<amount>:<user>')
  KEYS[4]  captured total (string)
  KEYS[5]  outbox hash
  KEYS[6]  stats hash
  KEYS[7]  ledger list
  ARGV[1]  record TTL (ms)
  ARGV[2]  'capture' or 'release'
  ARGV[3]  order id
  ARGV[4], ARGV[5]  outbox id and entry announcing the settlement

  Returns {'duplicate', ''} when the event was handled already,
          {'no-reservation', ''} when the order holds no reservation (nothing to settle),
          else {'captured' | 'released', staged outbox id}.
]]
local record = redis.call('GET', KEYS[1])
if record and string.sub(record, 1, 4) == 'done' then
  return {'duplicate', ''}
end
local outcome = 'no-reservation'
local staged = ''
local reservation = redis.call('HGET', KEYS[3], ARGV[3])
if reservation then
  local sep = string.find(reservation, ':', 1, true)
  local amount = tonumber(string.sub(reservation, 1, sep - 1))
  local user = string.sub(reservation, sep + 1)
  redis.call('HDEL', KEYS[3], ARGV[3])
  if ARGV[2] == 'capture' then
    redis.call('INCRBY', KEYS[4], amount)
    redis.call('HINCRBY', KEYS[6], 'captured', 1)
    outcome = 'captured'
  else
    redis.call('HINCRBY', KEYS[2], user, amount)
    redis.call('HINCRBY', KEYS[6], 'refunded', 1)
    outcome = 'released'
  end
  redis.call('RPUSH', KEYS[7], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. amount)
  redis.call('HSET', KEYS[5], ARGV[4], ARGV[5])
  staged = ARGV[4]
else
  redis.call('HINCRBY', KEYS[6], 'anomalies', 1)
end
redis.call('HINCRBY', KEYS[6], 'processed', 1)
redis.call('SET', KEYS[1], 'done:' .. outcome, 'PX', ARGV[1])
return {outcome, staged}

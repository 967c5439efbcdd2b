--[[
  payment-reserve: reserve an order's amount on the user's balance, or decline
  it, and stage the announcement; all at once with the event's idempotency record.

  KEYS[1]  the event's idempotency record
  KEYS[2]  balances hash (user -> available amount)
  KEYS[3]  reservations hash (order id -> '<amount>:<user>')
  KEYS[4]  outbox hash
  KEYS[5]  stats hash
  KEYS[6]  ledger list (one line per money movement)
  ARGV[1]  record TTL (ms)
  ARGV[2]  order id
  ARGV[3]  user
  ARGV[4]  amount
  ARGV[5], ARGV[6]  outbox id and entry announcing PAID
  ARGV[7], ARGV[8]  outbox id and entry announcing FAILED_PAYMENT_NO_FUNDS

  Returns {'duplicate', ''} when the event was handled already,
          else {outcome, staged outbox id}.
]]
local record = redis.call('GET', KEYS[1])
if record and string.sub(record, 1, 4) == 'done' then
  return {'duplicate', ''}
end
local amount = tonumber(ARGV[4])
local outcome, id, entry
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then
  -- Reserved already (the order was announced twice under another id): never reserve twice.
  outcome, id, entry = 'PAID', ARGV[5], ARGV[6]
else
  local balance = tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '0')
  if balance >= amount then
    redis.call('HINCRBY', KEYS[2], ARGV[3], -amount)
    redis.call('HSET', KEYS[3], ARGV[2], ARGV[4] .. ':' .. ARGV[3])
    redis.call('RPUSH', KEYS[6], 'reserve ' .. ARGV[2] .. ' ' .. ARGV[4])
    redis.call('HINCRBY', KEYS[5], 'reserved', 1)
    outcome, id, entry = 'PAID', ARGV[5], ARGV[6]
  else
    redis.call('HINCRBY', KEYS[5], 'declined', 1)
    outcome, id, entry = 'FAILED_PAYMENT_NO_FUNDS', ARGV[7], ARGV[8]
  end
end
redis.call('HSET', KEYS[4], id, entry)
redis.call('HINCRBY', KEYS[5], 'processed', 1)
redis.call('SET', KEYS[1], 'done:' .. outcome, 'PX', ARGV[1])
return {outcome, id}

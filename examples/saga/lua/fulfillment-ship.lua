--[[
  fulfillment-ship: ship an order if its product may go to its country and is
  in stock, else refuse it; stage the announcement; all at once with the
  event's idempotency record, so an order is never shipped twice.

  KEYS[1]  the event's idempotency record
  KEYS[2]  stock hash (product -> units)
  KEYS[3]  banned set ('<product>:<country>')
  KEYS[4]  shipments hash (order id -> '<product>:<country>')
  KEYS[5]  outbox hash
  KEYS[6]  stats hash
  ARGV[1]  record TTL (ms)
  ARGV[2]  order id
  ARGV[3]  product
  ARGV[4]  country
  ARGV[5], ARGV[6]  outbox id and entry announcing SHIPPED
  ARGV[7], ARGV[8]  outbox id and entry announcing SHIPMENT_FAILED_BANNED_PRODUCT
  ARGV[9], ARGV[10] outbox id and entry announcing SHIPMENT_FAILED_OUT_OF_STOCK

  Returns {'duplicate', ''} when the event was handled already,
          else {outcome, staged outbox id}.
]]
local record = redis.call('GET', KEYS[1])
if record and string.sub(record, 1, 4) == 'done' then
  return {'duplicate', ''}
end
local outcome, id, entry
if redis.call('HEXISTS', KEYS[4], ARGV[2]) == 1 then
  outcome, id, entry = 'SHIPPED', ARGV[5], ARGV[6]
elseif redis.call('SISMEMBER', KEYS[3], ARGV[3] .. ':' .. ARGV[4]) == 1 then
  redis.call('HINCRBY', KEYS[6], 'banned', 1)
  outcome, id, entry = 'SHIPMENT_FAILED_BANNED_PRODUCT', ARGV[7], ARGV[8]
elseif tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '0') < 1 then
  redis.call('HINCRBY', KEYS[6], 'out_of_stock', 1)
  outcome, id, entry = 'SHIPMENT_FAILED_OUT_OF_STOCK', ARGV[9], ARGV[10]
else
  redis.call('HINCRBY', KEYS[2], ARGV[3], -1)
  redis.call('HSET', KEYS[4], ARGV[2], ARGV[3] .. ':' .. ARGV[4])
  redis.call('HINCRBY', KEYS[6], 'shipped', 1)
  outcome, id, entry = 'SHIPPED', ARGV[5], ARGV[6]
end
redis.call('HSET', KEYS[5], id, entry)
redis.call('HINCRBY', KEYS[6], 'processed', 1)
redis.call('SET', KEYS[1], 'done:' .. outcome, 'PX', ARGV[1])
return {outcome, id}

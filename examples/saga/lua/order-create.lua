--[[
  order-create: store a new order as AWAITING_PAYMENT and stage its announcement.

  KEYS[1]  the order's hash
  KEYS[2]  the order's timeline list (JSON entries)
  KEYS[3]  outbox hash
  KEYS[4]  index sorted set (order id scored by its sequence number)
  KEYS[5]  count of orders per state (hash)
  ARGV[1]  order id
  ARGV[2]  the order as JSON (stored in field 'order')
  ARGV[3]  creation time (ms since the epoch)
  ARGV[4]  the first timeline entry (JSON)
  ARGV[5], ARGV[6]  outbox id and entry announcing AWAITING_PAYMENT
  ARGV[7]  the order's sequence number (its score in the index)

  Returns 1, or 0 when an order with this id exists (nothing is changed).
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'order', ARGV[2], 'state', 'AWAITING_PAYMENT', 'updated', ARGV[3])
redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1])
redis.call('HINCRBY', KEYS[5], 'AWAITING_PAYMENT', 1)
redis.call('HSET', KEYS[3], ARGV[5], ARGV[6])
return 1

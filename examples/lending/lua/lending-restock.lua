--[[
  lending-restock: give back the books a denied request had reserved. Each goes
  back into automated storage while it has room; the others are announced on
  the shelving stream (one entry per book, field book_id). Records the request
  as handled, in the same step.

  KEYS[1]  the request's reserved-books set
  KEYS[2]  automated_book_storage
  KEYS[3]  books_for_shelving_event_stream
  KEYS[4]  reservations in flight (hash book -> request id)
  KEYS[5]  the request's idempotency record
  ARGV[1]  storage capacity
  ARGV[2]  record TTL (ms)
  ARGV[3]  record value ('done:…')

  Returns {books put back in storage, books sent for shelving}.
]]
local stored, shelved = 0, 0
local capacity = tonumber(ARGV[1])
for _, book in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  redis.call('HDEL', KEYS[4], book)
  if redis.call('SCARD', KEYS[2]) < capacity then
    redis.call('SADD', KEYS[2], book)
    stored = stored + 1
  else
    redis.call('XADD', KEYS[3], '*', 'book_id', book)
    shelved = shelved + 1
  end
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[5], ARGV[3], 'PX', ARGV[2])
return {stored, shelved}

--[[
  lending-return: take back the books a user returns. Only books lent to that
  user count; others in the request are ignored. Returned books go back into
  automated storage while it has room, the rest are announced on the shelving
  stream (one entry per book, field book_id). The user's count goes down by the
  books returned. All at once with the request's idempotency record.

  KEYS[1]  lent_books (hash book -> user)
  KEYS[2]  user:<id>:count
  KEYS[3]  automated_book_storage
  KEYS[4]  books_for_shelving_event_stream
  KEYS[5]  the request's idempotency record
  ARGV[1]  the user id
  ARGV[2]  storage capacity
  ARGV[3]  record TTL (ms)
  ARGV[4..] the returned book ids

  Returns {-1, 0, 0} when the request was handled already,
          else {books returned, put back in storage, sent for shelving}.
]]
local record = redis.call('GET', KEYS[5])
if record and string.sub(record, 1, 4) == 'done' then
  return {-1, 0, 0}
end
local returned, stored, shelved = 0, 0, 0
local capacity = tonumber(ARGV[2])
for i = 4, #ARGV do
  local book = ARGV[i]
  if redis.call('HGET', KEYS[1], book) == ARGV[1] then
    redis.call('HDEL', KEYS[1], book)
    returned = returned + 1
    if redis.call('SCARD', KEYS[3]) < capacity then
      redis.call('SADD', KEYS[3], book)
      stored = stored + 1
    else
      redis.call('XADD', KEYS[4], '*', 'book_id', book)
      shelved = shelved + 1
    end
  end
end
if returned > 0 then
  local left = (tonumber(redis.call('GET', KEYS[2])) or 0) - returned
  if left < 0 then left = 0 end
  redis.call('SET', KEYS[2], left)
end
redis.call('SET', KEYS[5], 'done:RETURNED ' .. returned, 'PX', ARGV[3])
return {returned, stored, shelved}

--[[
  lending-reserve: reserve the requested books for one lending request by
  moving them into the request's own set. Running it again for the same
  request (after a crash) keeps what it reserved and tries the rest.

  A book is skipped when it is lent, or reserved by another request in flight.
  A book that is neither lent nor in automated storage is on the shelves: it is
  fetched from there (the library owns every book it is asked for).

  KEYS[1]  the request's reserved-books set (request:<id>:temp)
  KEYS[2]  automated_book_storage (set)
  KEYS[3]  lent_books (hash book -> user)
  KEYS[4]  reservations in flight (hash book -> request id)
  ARGV[1]  the request id
  ARGV[2..] the requested book ids

  Returns {books reserved from storage, books fetched from the shelves, books
  reserved before (a resumed request)} as three lists.
]]
local from_storage, from_shelves, resumed = {}, {}, {}
for i = 2, #ARGV do
  local book = ARGV[i]
  if redis.call('SISMEMBER', KEYS[1], book) == 1 then
    resumed[#resumed + 1] = book
  elseif redis.call('HEXISTS', KEYS[3], book) == 0 then
    local holder = redis.call('HGET', KEYS[4], book)
    if not holder then
      if redis.call('SMOVE', KEYS[2], KEYS[1], book) == 1 then
        from_storage[#from_storage + 1] = book
      else
        redis.call('SADD', KEYS[1], book)
        from_shelves[#from_shelves + 1] = book
      end
      redis.call('HSET', KEYS[4], book, ARGV[1])
    end
  end
end
return {from_storage, from_shelves, resumed}

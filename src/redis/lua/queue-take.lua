--[[
  queue-take: take up to N items of a work queue and lease them, atomically,
  so an item is never in `processing` without a lease (no crash window).

  KEYS[1]  the queue's pending list (pushed at the head, taken from the tail: FIFO)
  KEYS[2]  the queue's processing list (same hash tag)
  KEYS[3]  the queue's leases zset: member "<id>:<attempt>", score = deadline (ms, Redis clock)
  ARGV[1]  how many items to take at most (>= 1)
  ARGV[2]  visibility timeout in ms
  ARGV[3]  a random hex nonce, to name foreign items (pushed by other tools, not in Herald's format)

  Items are JSON strings that start with {"id":"<hex>","attempt":<n>, (see queue-items.ts).
  A foreign item is wrapped on the way: its data is the raw string.

  Returns the taken items as now stored in `processing` (possibly empty).
]]
local count = tonumber(ARGV[1])
local visibility = tonumber(ARGV[2])
local items = redis.call('RPOP', KEYS[1], count)
if not items then
  return {}
end
local now = redis_now_ms()
local leases = {}
for i, item in ipairs(items) do
  local id, attempt = string.match(item, '^{"id":"(%x+)","attempt":(%d+),')
  if not id then
    id = ARGV[3] .. string.format('%x', i)
    attempt = '0'
    item = '{"id":"' .. id .. '","attempt":0,"pushedAt":' .. now .. ',"data":' .. cjson.encode(item) .. '}'
    items[i] = item
  end
  leases[#leases + 1] = now + visibility
  leases[#leases + 1] = id .. ':' .. attempt
end
redis.call('LPUSH', KEYS[2], unpack(items))
redis.call('ZADD', KEYS[3], unpack(leases))
return items

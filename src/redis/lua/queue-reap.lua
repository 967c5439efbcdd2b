--[[
  queue-reap: recover items of dead or stalled workers, atomically. Run by
  every worker now and then; bounded by ARGV[2] per run.

  1. Leases past their deadline: the item leaves `processing` and goes back to
     the end of the pending list with its attempt count raised, or to the dead
     list when that count reaches maxAttempts. A lease without an item is dropped.
  2. Items in `processing` without a lease (only a foreign tool can leave
     these: queue-take leases atomically) are treated the same. Only the
     oldest ARGV[2] items of `processing` are checked per run.

  KEYS[1]  the queue's pending list
  KEYS[2]  the queue's processing list
  KEYS[3]  the queue's leases zset
  KEYS[4]  the queue's dead list
  ARGV[1]  maxAttempts
  ARGV[2]  the most leases and items to look at in this run

  Returns { requeued, deadLettered }.
]]
local maxAttempts = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local now = redis_now_ms()
local requeued, dead = 0, 0

local function parse(item)
  return string.match(item, '^{"id":"(%x+)","attempt":(%d+),(.*)$')
end

-- Takes `item` out of processing and sends it back (or to the dead list).
local function retire(item)
  redis.call('LREM', KEYS[2], -1, item)
  local id, attempt, rest = parse(item)
  if not id then
    redis.call('LPUSH', KEYS[1], item) -- foreign: queue-take wraps it
    requeued = requeued + 1
    return
  end
  local attempts = tonumber(attempt) + 1
  local next = '{"id":"' .. id .. '","attempt":' .. attempts .. ',' .. rest
  if attempts >= maxAttempts then
    redis.call('LPUSH', KEYS[4], '{"reason":"lease-expired","error":'
      .. cjson.encode('no worker finished it within the visibility timeout')
      .. ',"at":' .. now .. ',"item":' .. next .. '}')
    dead = dead + 1
  else
    redis.call('LPUSH', KEYS[1], next)
    requeued = requeued + 1
  end
end

local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)
if #expired > 0 then
  local wanted = {}
  for _, lease in ipairs(expired) do
    wanted[lease] = true
    redis.call('ZREM', KEYS[3], lease)
  end
  -- Processing holds only in-flight items (bounded by workers x concurrency).
  for _, item in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
    local id, attempt = parse(item)
    if id and wanted[id .. ':' .. attempt] then
      retire(item)
    end
  end
end

for _, item in ipairs(redis.call('LRANGE', KEYS[2], -limit, -1)) do
  local id, attempt = parse(item)
  if not id or not redis.call('ZSCORE', KEYS[3], id .. ':' .. attempt) then
    retire(item)
  end
end

return { requeued, dead }

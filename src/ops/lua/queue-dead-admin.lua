--[[
  queue-dead-admin: retry or purge entries of a work queue's dead list,
  oldest first, atomically per call.

  A dead entry is `{"reason":…,"error":…,"at":…,"item":<item>}` where <item>
  starts with `{"id":"<hex>","attempt":<n>,`. A retried item goes back to the
  pending list with its attempt count set to 0, its payload untouched (the
  prefix is rewritten, never re-encoded). Entries not in that format are left
  alone by both operations.

  KEYS[1]  the queue's dead list
  KEYS[2]  the queue's pending list
  ARGV[1]  'retry' or 'purge'
  ARGV[2]  at most this many entries per call
  ARGV[3]  'all', or 'ids' followed by item ids in ARGV[4..]

  Returns { done, left }: entries retried or purged by this call, and entries
  still in the dead list.
]]
local op = ARGV[1]
local max = tonumber(ARGV[2])
local wanted = nil
local entries
if ARGV[3] == 'ids' then
  wanted = {}
  for i = 4, #ARGV do wanted[ARGV[i]] = true end
  entries = redis.call('LRANGE', KEYS[1], 0, -1)
else
  -- Oldest entries are at the tail; look a little past max to step over foreign ones.
  entries = redis.call('LRANGE', KEYS[1], -(max * 2), -1)
end
local done = 0
for i = #entries, 1, -1 do
  if done >= max then break end
  local e = entries[i]
  local id, rest = string.match(e, ',"item":{"id":"(%x+)","attempt":%d+,(.*)}$')
  if id and (wanted == nil or wanted[id]) then
    redis.call('LREM', KEYS[1], -1, e)
    if op == 'retry' then
      redis.call('LPUSH', KEYS[2], '{"id":"' .. id .. '","attempt":0,' .. rest)
    end
    done = done + 1
  end
end
return { done, redis.call('LLEN', KEYS[1]) }

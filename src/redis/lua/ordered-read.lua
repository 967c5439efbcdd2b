--[[
  ordered-read: the owner of a partition reads its next events, under the fence. A read by
  an instance that lost the partition would move events into its own pending list, behind
  the new owner's back, so reads are fenced too. Without BLOCK (scripts cannot block): the
  caller waits with a plain XREAD BLOCK after the returned top position when nothing came.

  Mode 'new': events never delivered to the group (XREADGROUP '>').
  Mode 'pending': takes over the group's pending events of the partition, whoever holds
  them (a crashed or fenced earlier owner), in stream order from ARGV[6], counting a
  delivery each (XAUTOCLAIM with no idle minimum).

  KEYS[1]  the partition's stream
  KEYS[2]  the partition's owner key
  ARGV[1]  consumer group
  ARGV[2]  the owner's token "<epoch>|<consumer>"
  ARGV[3]  the consumer
  ARGV[4]  count
  ARGV[5]  'new' or 'pending'
  ARGV[6]  'pending' only: the cursor ('0-0' first)

  Returns { entries, next, deleted, top }: entries as {position, fields, deliveries};
  next the pending cursor ('0-0' once the pending list was walked through; '' for 'new');
  deleted how many pending entries no longer existed; top the stream's last position
  ('0-0' when empty). Error 'FENCED …' when the token does not own the partition.
]]
local refused = fence(KEYS[2], ARGV[2])
if refused then
  return refused
end
local entries = {}
local next = ''
local deleted = 0
if ARGV[5] == 'pending' then
  local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[6], 'COUNT', ARGV[4])
  next = r[1]
  deleted = #(r[3] or {})
  for _, e in ipairs(r[2]) do
    if e[2] then
      local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
      local deliveries = 1
      if p[1] then
        deliveries = p[1][4]
      end
      entries[#entries + 1] = { e[1], e[2], deliveries }
    end
  end
else
  local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[3], 'COUNT', ARGV[4], 'STREAMS', KEYS[1], '>')
  if r then
    for _, e in ipairs(r[1][2]) do
      entries[#entries + 1] = { e[1], e[2], 1 }
    end
  end
end
local top = '0-0'
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if last[1] then
  top = last[1][1]
end
return { entries, next, deleted, top }

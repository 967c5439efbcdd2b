--[[
  group-create: create a consumer group on a partition's stream unless it exists.

  Checks first and writes only when the group is missing, so a consumer can
  (re)start while Redis is over maxmemory (writes are refused with OOM then).
  A group starting at '$' is created with ENTRIESREAD = the stream's
  entries-added, so Redis knows its lag from the start (otherwise XINFO
  reports no lag until the group first catches up).

  KEYS[1]  the partition's stream
  ARGV[1]  the group name
  ARGV[2]  where the group starts: '$' (new events), '0' (the beginning) or a position

  Returns 1 when the group was created, 0 when it existed.
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
  for _, g in ipairs(groups) do
    for i = 1, #g, 2 do
      if g[i] == 'name' and g[i + 1] == ARGV[1] then
        return 0
      end
    end
  end
  if ARGV[2] == '$' then
    local info = redis.call('XINFO', 'STREAM', KEYS[1])
    local added = 0
    for i = 1, #info, 2 do
      if info[i] == 'entries-added' then
        added = info[i + 1]
      end
    end
    redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '$', 'ENTRIESREAD', added)
    return 1
  end
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
if ARGV[2] == '$' or ARGV[2] == '0' then
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2], 'MKSTREAM', 'ENTRIESREAD', 0)
else
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2], 'MKSTREAM')
end
return 1

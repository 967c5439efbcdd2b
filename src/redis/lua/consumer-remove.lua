--[[
  consumer-remove: remove a consumer from its group only if it holds nothing
  pending and has been idle long enough, atomically (no event can be delivered
  to it between the check and the removal).

  KEYS[1]  the partition's stream
  ARGV[1]  the group
  ARGV[2]  the consumer
  ARGV[3]  minimum idle time in milliseconds (0: any)

  Returns 1 when removed, 0 when kept (pending events, too recently active, or unknown).
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then
  return 0
end
for _, c in ipairs(consumers) do
  local name, pending, idle
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1] end
    if c[i] == 'pending' then pending = c[i + 1] end
    if c[i] == 'idle' then idle = c[i + 1] end
  end
  if name == ARGV[2] then
    if pending == 0 and idle >= tonumber(ARGV[3]) then
      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
      return 1
    end
    return 0
  end
end
return 0

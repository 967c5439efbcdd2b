--[[
  idempotent-commit: apply a handler's Redis effects and mark its event handled,
  in one atomic step. Nothing is applied when the event was handled already.

  KEYS[1]  the event's record
  ARGV[1]  record TTL in milliseconds
  ARGV[2]  'done' or 'done:<detail>', the value to record
  ARGV[3..] the commands, each as: argument count n, then its n arguments

  Every key the commands touch must live in the same Cluster slot as KEYS[1]
  (use one hash tag); on a standalone Redis any key works.

  Returns 1 when the effects were applied, 0 when the event was handled already.
]]
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, 4) == 'done' then
  return 0
end
local i = 3
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local args = {}
  for j = 1, n do
    args[j] = ARGV[i + j]
  end
  redis.call(unpack(args))
  i = i + n + 1
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
return 1

--[[
  partition-release: give a partition up (rebalance, close), only if still owned by the token.

  KEYS[1]  the partition's owner key
  ARGV[1]  the owner's token "<epoch>|<consumer>"

  Returns 1 when released, 0 when the token did not own it any more.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
return 1

--[[
  partition-renew: extend the lease of a partition this consumer still owns.

  KEYS[1]  the partition's owner key
  ARGV[1]  the owner's token "<epoch>|<consumer>"
  ARGV[2]  lease in milliseconds

  Returns 1 when renewed, 0 when the token no longer owns the partition (lease expired,
  another instance took it over): the caller has been fenced off.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1

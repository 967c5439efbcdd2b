--[[
  Helpers shared by Herald's scripts. In the functions library they are defined
  once, above every function; a script run with EVAL (Redis without functions)
  gets them prepended. Keep them local functions (no globals).

  redis_now_ms()  Redis's own clock (TIME) in milliseconds: every node and
                  replica agrees on it, unlike the callers' clocks.
  call_spread(call, t, first, n)  call(t[first], ..., t[n]) for any number of values
                  (an XADD of a very wide entry), where unpack() alone would fail.
]]
local function redis_now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- unpack() stops at Lua's C-stack limit (8000 values, about 4,000 field pairs), and an
-- XADD cannot be split. call_spread() passes any number of values as arguments: the last
-- UNPACK_MAX come from one unpack(), any before them are prepended 32 at a time by tail
-- calls whose varargs live on the Lua stack (no limit). Each of those calls copies the
-- varargs: 10,000 pairs took about 0.2 s in Redis on a busy 2-core machine; entries up to
-- 3,500 pairs take the single unpack() at no extra cost.
local UNPACK_MAX = 7000
local function spread(call, t, first, n, ...)
  if n - 31 >= first then
    return spread(call, t, first, n - 32,
      t[n - 31], t[n - 30], t[n - 29], t[n - 28], t[n - 27], t[n - 26], t[n - 25], t[n - 24],
      t[n - 23], t[n - 22], t[n - 21], t[n - 20], t[n - 19], t[n - 18], t[n - 17], t[n - 16],
      t[n - 15], t[n - 14], t[n - 13], t[n - 12], t[n - 11], t[n - 10], t[n - 9], t[n - 8],
      t[n - 7], t[n - 6], t[n - 5], t[n - 4], t[n - 3], t[n - 2], t[n - 1], t[n], ...)
  elseif n >= first then
    return spread(call, t, first, n - 1, t[n], ...)
  end
  return call(...)
end
local function call_spread(call, t, first, n)
  local seed = math.max(first, n - UNPACK_MAX + 1)
  return spread(call, t, first, seed - 1, unpack(t, seed, n))
end

-- Ordered subscriptions' fencing (partition ownership, redis/partition-ownership.ts):
-- fence(owner_key, token) returns nil while the owner key holds exactly `token`
-- ("<epoch>|<consumer>"), else an error reply 'FENCED <what holds it now>' that the
-- caller returns as is: the work of an instance that lost the partition is refused here.
local function fence(owner_key, token)
  local current = redis.call('GET', owner_key)
  if current == token then
    return nil
  end
  return redis.error_reply('FENCED partition owned by ' .. (current or 'nobody') .. ', not ' .. token)
end

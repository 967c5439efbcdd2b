--[[
  Helpers shared by Herald's scripts. In the functions library they are defined
  once, above every function; a script run with EVAL (Redis without functions)
  gets them prepended. Keep them local functions (no globals).

  redis_now_ms()  Redis's own clock (TIME) in milliseconds: every node and
                  replica agrees on it, unlike the callers' clocks.
]]
local function redis_now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

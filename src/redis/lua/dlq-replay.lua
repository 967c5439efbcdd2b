--[[
  dlq-replay: put one dead letter back on its partition for its group only,
  and delete it from the dead-letter stream, atomically: an interrupted replay
  neither loses nor duplicates an event.

  KEYS[1]  the dead-letter stream
  KEYS[2]  the partition's stream (same hash tag)
  ARGV[1]  the dead letter's position
  ARGV[2]  the id to give the event when it has none ('' for raw entries)

  Returns the event's new position, or false when the dead letter is gone.
]]

-- call_spread (shared helpers): an XADD with any number of fields.
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then
  return false
end
local stored = found[1][2]
local fields = {}
local group = nil
local has_id = false
for i = 1, #stored, 2 do
  local f, v = stored[i], stored[i + 1]
  if f == 'herald-dlq-group' then
    group = v
  elseif string.sub(f, 1, 11) ~= 'herald-dlq-' and f ~= 'herald-replay-for' then
    if f == 'id' then has_id = true end
    fields[#fields + 1] = f
    fields[#fields + 1] = v
  end
end
if not has_id and ARGV[2] ~= '' then
  fields[#fields + 1] = 'id'
  fields[#fields + 1] = ARGV[2]
end
if group then
  fields[#fields + 1] = 'herald-replay-for'
  fields[#fields + 1] = group
end
local position = call_spread(function(...)
  return redis.call('XADD', KEYS[2], '*', ...)
end, fields, 1, #fields)
redis.call('XDEL', KEYS[1], ARGV[1])
return position

--[[
  retention-trim: trim one partition's stream by count and/or age, atomically,
  without removing what a consumer group still needs (unless told to).

  The safe floor is the lowest id any group still needs: for each group, its
  oldest pending id (delivered, not acknowledged) or, when lower, the id just
  after its last-delivered-id (everything after it is unread). Trimming never
  reaches the floor unless ARGV[3] is '1'.

  KEYS[1]  the partition's stream
  ARGV[1]  keep at most this many entries, or '' for no count limit
  ARGV[2]  remove entries with ids below this one (age cut-off, 'ms-0'), or ''
  ARGV[3]  '1': unsafe, trim past the floor; '0': safe
  ARGV[4]  '1': approximate (MINID ~, whole stream nodes only, cheaper); '0': exact
  ARGV[5]  scan limit: entries examined per call by the count rule and by the
           counters below; a longer backlog is trimmed over several calls
  ARGV[6]  '1': dry run, remove nothing and count what would go; '0' or absent: trim

  Returns { trimmed, skipped, floor, [group, unreadTrimmed, pendingTrimmed]... }
    trimmed  entries removed
    skipped  entries the rules would remove but the floor kept (at most the scan limit)
    floor    the safe floor id, or '' when no group exists
    per group that lost entries it had not acknowledged (unsafe only):
      unreadTrimmed   removed before the group read them
      pendingTrimmed  removed while delivered but not acknowledged
  Dry run: { wouldTrim, skipped, floor, atLeast }
    wouldTrim  entries an exact trim would remove now (an approximate one removes at most that)
    atLeast    1 when wouldTrim is a lower bound: more than the scan limit lie on both
               sides of the cut, so they were not all counted; else 0
]]
local key = KEYS[1]
local maxLen = tonumber(ARGV[1])
local ageCut = ARGV[2] ~= '' and ARGV[2] or nil
local unsafe = ARGV[3] == '1'
local approx = ARGV[4] == '1'
local limit = tonumber(ARGV[5])
local dry = ARGV[6] == '1'

if redis.call('EXISTS', key) == 0 then
  return { 0, 0, '' }
end

-- Stream ids as exact decimal strings ('ms-seq'): compared and incremented without floats.
local function split(id)
  local dash = string.find(id, '-', 1, true)
  if not dash then return id, '0' end
  return string.sub(id, 1, dash - 1), string.sub(id, dash + 1)
end
local function numcmp(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end
local function cmp(a, b)
  local am, as = split(a)
  local bm, bs = split(b)
  local c = numcmp(am, bm)
  if c ~= 0 then return c end
  return numcmp(as, bs)
end
local function lower(a, b)
  if a == nil then return b end
  if b == nil then return a end
  return cmp(a, b) <= 0 and a or b
end
local function higher(a, b)
  if a == nil then return b end
  if b == nil then return a end
  return cmp(a, b) >= 0 and a or b
end
local function incr(s)
  local digits = {}
  for i = 1, #s do digits[i] = string.byte(s, i) - 48 end
  local i = #digits
  while i >= 1 do
    if digits[i] < 9 then
      digits[i] = digits[i] + 1
      break
    end
    digits[i] = 0
    i = i - 1
  end
  local out = table.concat(digits)
  if i == 0 then out = '1' .. out end
  return out
end
local function succ(id)
  local ms, seq = split(id)
  if seq == '18446744073709551615' then return incr(ms) .. '-0' end
  return ms .. '-' .. incr(seq)
end

-- The groups and the floor.
local groups = {}
local floor = nil
for _, row in ipairs(redis.call('XINFO', 'GROUPS', key)) do
  local g = {}
  for i = 1, #row, 2 do g[row[i]] = row[i + 1] end
  local need = succ(g['last-delivered-id'])
  local summary = redis.call('XPENDING', key, g['name'])
  if summary[1] > 0 then need = lower(need, summary[2]) end
  groups[#groups + 1] = { name = g['name'], last = g['last-delivered-id'], need = need }
  floor = lower(floor, need)
end
local guard = (not unsafe) and floor or nil
local len = redis.call('XLEN', key)
local approxArg = approx and '~' or '='

-- Entries below `cut` (dry run): counted from whichever end is within the scan limit.
local function countBelow(cut)
  local below = #redis.call('XRANGE', key, '-', '(' .. cut, 'COUNT', limit)
  if below < limit then return below, 0 end
  local rest = #redis.call('XRANGE', key, cut, '+', 'COUNT', limit)
  if rest < limit then return len - rest, 0 end
  return below, 1
end

-- No group needs any entry (none exists, or all have read and acknowledged
-- everything): plain MAXLEN / MINID, nothing to examine.
local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1]
if floor == nil or last == nil or cmp(floor, last[1]) > 0 then
  if dry then
    local n, atLeast = 0, 0
    if ageCut then n, atLeast = countBelow(ageCut) end
    if maxLen and len - maxLen > n then n, atLeast = len - maxLen, 0 end
    return { n, 0, floor or '', atLeast }
  end
  local trimmed = 0
  if ageCut then trimmed = trimmed + redis.call('XTRIM', key, 'MINID', approxArg, ageCut) end
  if maxLen then trimmed = trimmed + redis.call('XTRIM', key, 'MAXLEN', approxArg, maxLen) end
  return { trimmed, 0, floor or '' }
end

-- The cut the rules ask for: entries below it are removed.
local want = ageCut
local skipped = 0
if maxLen and len > maxLen then
  local excess = len - maxLen
  local n = math.min(excess, limit)
  local rows = redis.call('XRANGE', key, '-', guard and ('(' .. guard) or '+', 'COUNT', n + 1)
  if #rows > n then
    want = higher(want, rows[n + 1][1])          -- the first entry the count rule keeps
  elseif guard then
    want = higher(want, guard)                   -- everything below the floor may go, and more was asked
    skipped = n - #rows
  elseif #rows > 0 then
    want = higher(want, succ(rows[#rows][1]))    -- the whole stream
  end
end
if want == nil then
  if dry then return { 0, 0, floor, 0 } end
  return { 0, 0, floor }
end

local cut = want
if guard and cmp(want, guard) > 0 then
  cut = guard
  local held = redis.call('XRANGE', key, guard, '(' .. want, 'COUNT', limit)
  skipped = math.max(skipped, #held)
end

if dry then
  local n, atLeast = countBelow(cut)
  return { n, skipped, floor, atLeast }
end

-- Unsafe: note, per group, the entries about to go that it has not acknowledged.
local atRisk = {}
if not guard then
  -- Pending entries below the current first one were trimmed before (and counted then).
  local head = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
  local from = head and head[1] or cut
  for _, g in ipairs(groups) do
    if cmp(g.need, cut) < 0 then
      local unread = {}
      if cmp(g.last, cut) < 0 then
        for _, e in ipairs(redis.call('XRANGE', key, '(' .. g.last, '(' .. cut, 'COUNT', limit)) do
          unread[#unread + 1] = e[1]
        end
      end
      local pending = {}
      for _, p in ipairs(redis.call('XPENDING', key, g.name, from, '(' .. cut, limit)) do
        pending[#pending + 1] = p[1]
      end
      atRisk[#atRisk + 1] = { name = g.name, unread = unread, pending = pending }
    end
  end
end

local trimmed = redis.call('XTRIM', key, 'MINID', approxArg, cut)

local reply = { trimmed, skipped, floor }
if #atRisk > 0 and trimmed > 0 then
  -- Trimming removes a prefix: an id is gone when it is below the first one left.
  local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
  local function gone(ids)
    local n = 0
    for _, id in ipairs(ids) do
      if first == nil or cmp(id, first[1]) < 0 then n = n + 1 end
    end
    return n
  end
  for _, g in ipairs(atRisk) do
    local u, p = gone(g.unread), gone(g.pending)
    if u + p > 0 then
      reply[#reply + 1] = g.name
      reply[#reply + 1] = u
      reply[#reply + 1] = p
    end
  end
end
return reply

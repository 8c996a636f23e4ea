-- The learned chrome of one source (store/redis_chrome.py), with the rules
-- of cleaning/chrome.py: a line is chrome once seen in min_clusters
-- different clusters of the source, and stops counting when not seen for
-- forget_after of its articles. When the source holds more than
-- max_lines + max_lines / 4 lines, the lines seen longest ago go, an article
-- number at a time, until at most max_lines remain. All keys share the
-- source's hash slot.
--
-- The lines come from each server's own model (ChromeModel.learn_shared):
-- a line once that server saw it in a second cluster, with the clusters
-- seen, and at every sighting after; most lines of a page, its story's, are
-- never sent. Why one hash and no recency zset: the told lines cost one
-- HMGET and one HSET here, where a zset kept in recency order cost a
-- skiplist update per line and twice the memory; eviction scans the hash
-- once per max_lines / 4 new lines instead.
--
-- KEYS     lines hash (8-byte line key -> 4-byte article number when last
--          seen, then the 6-byte IDs of up to min_clusters clusters; field
--          '#' -> articles seen, field '$' -> 0xFFFFFFFF and the changes of
--          the chrome set, 4 bytes each: a replica of the version before,
--          which takes it for a line, sees one that never ages), chrome set
--          (the line keys seen in min_clusters clusters)
-- ARGV     "lookup", forget_after, the caller's version, step
--            -> {version} when unchanged, else {version, the line keys
--               that are chrome...}; the version changes when the chrome
--               set does and every `step` articles of the source (lines
--               stop counting when not seen for forget_after articles, so
--               an answer may count a line up to `step` articles longer)
--          "learn", min_clusters, max_lines, ttl_ms, articles of the source
--            learnt from, entries concatenated: 8-byte line key, 1-byte
--            count, that many 6-byte cluster IDs the line was seen in
--            (ChromeModel.learn_shared says which lines are told), step,
--            the caller's version
--            -> {articles of the source}, or, when the caller's version was
--               current before the call and the call only added chrome
--               lines, {articles, the version now, the line keys added}:
--               the learner's next lookup then finds its view current
--               instead of reading the whole chrome set again
local lines, chrome = KEYS[1], KEYS[2]
local op = ARGV[1]
local n = tonumber(redis.call('HGET', lines, '#') or '0')

-- Fields of the lines hash that are not lines.
local COUNTERS = 2
local NEVER = 4294967295

local function changes_of()
  local value = redis.call('HGET', lines, '$')
  if not value or #value ~= 8 then return 0 end
  return (struct.unpack('>I4', string.sub(value, 5, 8)))
end

-- Both parts bounded, so that the version stays an exact integer.
local function version_of(changes, articles, step)
  return (changes % 1048576) * 16777216 + math.floor(articles / step) % 16777216
end

if op == 'lookup' then
  local version = version_of(changes_of(), n, tonumber(ARGV[4]))
  if version == tonumber(ARGV[3]) then return {version} end
  local out = {version}
  local keys = redis.call('SMEMBERS', chrome)
  if #keys == 0 then return out end
  local seen = redis.call('HMGET', lines, unpack(keys))
  -- A chrome line is told again only every `step` of the source's articles
  -- (ChromeModel.learn_shared): it may have been seen up to step - 1 later.
  local since = n - tonumber(ARGV[2]) - (tonumber(ARGV[4]) - 1)
  for i, key in ipairs(keys) do
    if seen[i] and struct.unpack('>I4', seen[i]) >= since then out[#out + 1] = key end
  end
  return out
end

-- learn
local min_clusters = tonumber(ARGV[2])
local max_lines = tonumber(ARGV[3])
local ttl = ARGV[4]
local entries = ARGV[6]
local step = tonumber(ARGV[7])
local slack = step - 1
local changes = changes_of()
local current = version_of(changes, n, step) == tonumber(ARGV[8])
local before = n
local added = {}
n = redis.call('HINCRBY', lines, '#', tonumber(ARGV[5]))
redis.call('HSETNX', lines, '$', struct.pack('>I4>I4', NEVER, 0))
local now = struct.pack('>I4', n)
local full = 6 * min_clusters
local changed = false
-- The told lines (each once per call: the server sends a line's latest
-- clusters) are read with one HMGET and written with one HSET, in slices:
-- a command per line from Lua cost the script more than the lines' work.
local keys, starts, ends = {}, {}, {}
local i = 1
while i <= #entries do
  keys[#keys + 1] = string.sub(entries, i, i + 7)
  starts[#keys] = i + 9
  ends[#keys] = i + 8 + 6 * string.byte(entries, i + 8)
  i = ends[#keys] + 1
end
-- unpack() is bounded by the Lua C stack (8,000 values).
local SLICE = 1000
for first = 1, #keys, SLICE do
  local last = math.min(first + SLICE - 1, #keys)
  local values = redis.call('HMGET', lines, unpack(keys, first, last))
  local writes, chromed = {}, {}
  for k = first, last do
    local key, value = keys[k], values[k - first + 1]
    local clusters = value and string.sub(value, 5) or ''
    local had = #clusters
    for j = starts[k], ends[k], 6 do
      if #clusters >= full then break end
      local c = string.sub(entries, j, j + 5)
      local known = false
      for m = 1, #clusters, 6 do
        if string.sub(clusters, m, m + 5) == c then known = true; break end
      end
      if not known then clusters = clusters .. c end
    end
    if had < full and #clusters == full then chromed[#chromed + 1] = key end
    writes[#writes + 1] = key
    writes[#writes + 1] = now .. clusters
  end
  redis.call('HSET', lines, unpack(writes))
  if #chromed > 0 then
    redis.call('SADD', chrome, unpack(chromed))
    changed = true
    for _, key in ipairs(chromed) do added[#added + 1] = key end
  end
end
local held = redis.call('HLEN', lines) - COUNTERS
if held > max_lines + math.floor(max_lines / 4) then
  -- How many lines were last seen at each article number, oldest first; a
  -- chrome line, told again only every `step` articles, as if seen as late
  -- as it may have been.
  local function last_seen(value)
    local last = struct.unpack('>I4', value)
    if #value == 4 + full then return last + slack end
    return last
  end
  local all = redis.call('HGETALL', lines)
  local count, numbers = {}, {}
  for i = 1, #all, 2 do
    if all[i] ~= '#' and all[i] ~= '$' then
      local last = last_seen(all[i + 1])
      if not count[last] then count[last] = 0; numbers[#numbers + 1] = last end
      count[last] = count[last] + 1
    end
  end
  table.sort(numbers)
  local cutoff = -1
  for _, last in ipairs(numbers) do
    if held <= max_lines then break end
    cutoff = last
    held = held - count[last]
  end
  local gone = {}
  for i = 1, #all, 2 do
    if all[i] ~= '#' and all[i] ~= '$' and last_seen(all[i + 1]) <= cutoff then
      gone[#gone + 1] = all[i]
    end
  end
  -- In slices: unpack() is bounded by the Lua C stack (8,000 values).
  for i = 1, #gone, 1000 do
    local slice = {unpack(gone, i, math.min(i + 999, #gone))}
    redis.call('HDEL', lines, unpack(slice))
    redis.call('SREM', chrome, unpack(slice))
  end
  changed = true
  current = false
end
if changed then
  changes = (changes + 1) % NEVER
  redis.call('HSET', lines, '$', struct.pack('>I4>I4', NEVER, changes))
end
redis.call('PEXPIRE', lines, ttl)
redis.call('PEXPIRE', chrome, ttl)
-- A lookup's answer leaves out lines not seen for a while, by the step of
-- the source's articles: past a step boundary it is read whole again.
if not current or math.floor(before / step) ~= math.floor(n / step) then return {n} end
local reply = {n, version_of(changes, n, step)}
for _, key in ipairs(added) do reply[#reply + 1] = key end
return reply

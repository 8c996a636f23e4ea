-- The learned chrome of one source (store/redis_chrome.py), with the rules
-- of cleaning/chrome.py: a line is chrome once seen in min_clusters
-- different clusters of the source, and stops counting when not seen for
-- forget_after of its articles. When the source holds more than
-- max_lines + max_lines / 4 lines, the lines seen longest ago go, an article
-- number at a time, until at most max_lines remain. All keys share the
-- source's hash slot.
--
-- Why one hash and no recency zset: a page's ~50 lines each cost one HGET
-- and one HSET here, where a zset kept in recency order cost a skiplist
-- update per line per page and twice the memory; eviction scans the hash
-- once per max_lines / 4 new lines instead.
--
-- KEYS     lines hash (8-byte line key -> 4-byte article number when last
--          seen, then the 6-byte IDs of up to min_clusters clusters; field
--          '#' -> articles seen), chrome set (the line keys seen in
--          min_clusters clusters)
-- ARGV     "lookup", forget_after, articles seen at the caller's last lookup
--            -> {articles seen} when unchanged, else {articles seen, the
--               line keys that are chrome...}
--          "learn", min_clusters, max_lines, ttl_ms, cluster, the line keys
--            concatenated (8 bytes each)
local lines, chrome = KEYS[1], KEYS[2]
local op = ARGV[1]
local n = tonumber(redis.call('HGET', lines, '#') or '0')

if op == 'lookup' then
  if n == tonumber(ARGV[3]) then return {n} end
  local out = {n}
  local keys = redis.call('SMEMBERS', chrome)
  if #keys == 0 then return out end
  local seen = redis.call('HMGET', lines, unpack(keys))
  local since = n - tonumber(ARGV[2])
  for i, key in ipairs(keys) do
    if seen[i] and struct.unpack('>I4', seen[i]) >= since then out[#out + 1] = key end
  end
  return out
end

-- learn
local min_clusters = tonumber(ARGV[2])
local max_lines = tonumber(ARGV[3])
local ttl = ARGV[4]
local cluster = ARGV[5]
local keys = ARGV[6]
n = redis.call('HINCRBY', lines, '#', 1)
local now = struct.pack('>I4', n)
local done = {}
for i = 1, #keys, 8 do
  local key = string.sub(keys, i, i + 7)
  if not done[key] then
    done[key] = true
    local value = redis.call('HGET', lines, key)
    local clusters = value and string.sub(value, 5) or ''
    if #clusters < 6 * min_clusters then
      local known = false
      for j = 1, #clusters, 6 do
        if string.sub(clusters, j, j + 5) == cluster then known = true; break end
      end
      if not known then
        clusters = clusters .. cluster
        if #clusters == 6 * min_clusters then redis.call('SADD', chrome, key) end
      end
    end
    redis.call('HSET', lines, key, now .. clusters)
  end
end
local held = redis.call('HLEN', lines) - 1
if held > max_lines + math.floor(max_lines / 4) then
  -- How many lines were last seen at each article number, oldest first.
  local all = redis.call('HGETALL', lines)
  local count, numbers = {}, {}
  for i = 1, #all, 2 do
    if all[i] ~= '#' then
      local last = struct.unpack('>I4', all[i + 1])
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
    if all[i] ~= '#' and struct.unpack('>I4', all[i + 1]) <= cutoff then gone[#gone + 1] = all[i] end
  end
  -- In slices: unpack() is bounded by the Lua C stack (8,000 values).
  for i = 1, #gone, 1000 do
    local slice = {unpack(gone, i, math.min(i + 999, #gone))}
    redis.call('HDEL', lines, unpack(slice))
    redis.call('SREM', chrome, unpack(slice))
  end
end
redis.call('PEXPIRE', lines, ttl)
redis.call('PEXPIRE', chrome, ttl)
return n

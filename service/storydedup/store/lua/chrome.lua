-- The learned chrome of one source (store/redis_chrome.py), with the rules
-- of cleaning/chrome.py: a line is chrome once seen in min_clusters
-- different clusters of the source, and is forgotten when not seen for
-- forget_after of its articles; at most max_lines lines are kept, the least
-- recently seen going first. Both keys share the source's hash slot.
--
-- KEYS     lines hash (8-byte line key -> packed 6-byte cluster IDs, and
--          field '#' -> articles seen), recency zset (line key -> article
--          number when last seen)
-- ARGV     "lookup", min_clusters, forget_after, line keys...
--            -> the line keys that are chrome
--          "learn", min_clusters, forget_after, max_lines, ttl_ms, cluster, line keys...
local lines, recency = KEYS[1], KEYS[2]
local op = ARGV[1]
local min_clusters = tonumber(ARGV[2])
local forget_after = tonumber(ARGV[3])
local n = tonumber(redis.call('HGET', lines, '#') or '0')

if op == 'lookup' then
  local out = {}
  for i = 4, #ARGV do
    local clusters = redis.call('HGET', lines, ARGV[i])
    if clusters and #clusters / 6 >= min_clusters then
      local last = tonumber(redis.call('ZSCORE', recency, ARGV[i]))
      if last and n - last <= forget_after then out[#out + 1] = ARGV[i] end
    end
  end
  return out
end

-- learn
local max_lines = tonumber(ARGV[4])
local ttl = ARGV[5]
local cluster = ARGV[6]
n = redis.call('HINCRBY', lines, '#', 1)
local done = {}
for i = 7, #ARGV do
  local key = ARGV[i]
  if not done[key] then
    done[key] = true
    local clusters = redis.call('HGET', lines, key)
    if not clusters then
      redis.call('HSET', lines, key, cluster)
    elseif #clusters / 6 < min_clusters then
      local known = false
      for j = 1, #clusters, 6 do
        if string.sub(clusters, j, j + 5) == cluster then known = true; break end
      end
      if not known then redis.call('HSET', lines, key, clusters .. cluster) end
    end
    redis.call('ZADD', recency, n, key)
  end
end
local function drop(keys)
  for _, key in ipairs(keys) do redis.call('HDEL', lines, key) end
end
-- A line not seen for forget_after articles stops counting (lookup) but
-- keeps its place until evicted, as in cleaning/chrome.py; the least
-- recently seen beyond max_lines go.
local excess = redis.call('ZCARD', recency) - max_lines
if excess > 0 then
  drop(redis.call('ZRANGE', recency, 0, excess - 1))
  redis.call('ZREMRANGEBYRANK', recency, 0, excess - 1)
end
redis.call('PEXPIRE', lines, ttl)
redis.call('PEXPIRE', recency, ttl)
return n

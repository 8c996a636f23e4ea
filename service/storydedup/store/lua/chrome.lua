-- The learned chrome of one source (store/redis_chrome.py), with the rules
-- of cleaning/chrome.py: a line is chrome once seen in min_clusters
-- different clusters of the source, and stops counting when not seen for
-- forget_after of its articles; at most max_lines lines are kept, the least
-- recently seen going first. All keys share the source's hash slot.
--
-- KEYS     lines hash (8-byte line key -> packed 6-byte cluster IDs, and
--          field '#' -> articles seen), recency zset (line key -> article
--          number when last seen), chrome zset (the same, for the lines
--          seen in min_clusters clusters)
-- ARGV     "lookup", forget_after, articles seen at the caller's last lookup
--            -> {articles seen} when unchanged, else {articles seen, the
--               line keys that are chrome...}
--          "learn", min_clusters, max_lines, ttl_ms, cluster, line keys...
local lines, recency, chrome = KEYS[1], KEYS[2], KEYS[3]
local op = ARGV[1]
local n = tonumber(redis.call('HGET', lines, '#') or '0')

if op == 'lookup' then
  if n == tonumber(ARGV[3]) then return {n} end
  local out = redis.call('ZRANGEBYSCORE', chrome, n - tonumber(ARGV[2]), '+inf')
  table.insert(out, 1, n)
  return out
end

-- learn
local min_clusters = tonumber(ARGV[2])
local max_lines = tonumber(ARGV[3])
local ttl = ARGV[4]
local cluster = ARGV[5]
n = redis.call('HINCRBY', lines, '#', 1)
local done = {}
for i = 6, #ARGV do
  local key = ARGV[i]
  if not done[key] then
    done[key] = true
    local clusters = redis.call('HGET', lines, key)
    if not clusters then
      clusters = cluster
      redis.call('HSET', lines, key, clusters)
    elseif #clusters / 6 < min_clusters then
      local known = false
      for j = 1, #clusters, 6 do
        if string.sub(clusters, j, j + 5) == cluster then known = true; break end
      end
      if not known then
        clusters = clusters .. cluster
        redis.call('HSET', lines, key, clusters)
      end
    end
    redis.call('ZADD', recency, n, key)
    if #clusters / 6 >= min_clusters then redis.call('ZADD', chrome, n, key) end
  end
end
-- The least recently seen lines beyond max_lines go; a line merely unseen
-- for forget_after articles keeps its place (and its clusters) until then.
local excess = redis.call('ZCARD', recency) - max_lines
if excess > 0 then
  for _, key in ipairs(redis.call('ZRANGE', recency, 0, excess - 1)) do
    redis.call('HDEL', lines, key)
    redis.call('ZREM', chrome, key)
  end
  redis.call('ZREMRANGEBYRANK', recency, 0, excess - 1)
end
redis.call('PEXPIRE', lines, ttl)
redis.call('PEXPIRE', recency, ttl)
redis.call('PEXPIRE', chrome, ttl)
return n

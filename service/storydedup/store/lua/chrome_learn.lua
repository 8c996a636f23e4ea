-- Records the lines of articles of one source in its chrome hash
-- (store/chrome_state.py). One call per article, in ingest order.
--
-- KEYS[1] the source's chrome hash: field "n" counts the source's articles;
--         each line field (its 8-byte key) holds the article number it was
--         last seen in and the first `min_clusters` clusters it was seen in
--         (little-endian uint32s).
-- ARGV    cluster, min_clusters, max_lines, forget_after, ttl_ms, line keys...

local key = KEYS[1]
local cluster = tonumber(ARGV[1])
local min_clusters = tonumber(ARGV[2])
local max_lines = tonumber(ARGV[3])
local forget_after = tonumber(ARGV[4])
local ttl_ms = tonumber(ARGV[5])

local n = redis.call('HINCRBY', key, 'n', 1)
for i = 6, #ARGV do
  local field = ARGV[i]
  local value = redis.call('HGET', key, field)
  if not value then
    redis.call('HSET', key, field, struct.pack('<I4I4', n, cluster))
  else
    local clusters = string.sub(value, 5)
    local seen = false
    for j = 1, #clusters, 4 do
      if struct.unpack('<I4', clusters, j) == cluster then seen = true end
    end
    if not seen and #clusters / 4 < min_clusters then
      clusters = clusters .. struct.pack('<I4', cluster)
    end
    redis.call('HSET', key, field, struct.pack('<I4', n) .. clusters)
  end
end

-- Bounded: past max_lines (plus an eighth, so that the sort runs once per
-- max_lines/8 new lines, not on every article), the lines seen longest ago
-- and those already forgotten go.
local lines = redis.call('HLEN', key) - 1
if lines > max_lines + math.floor(max_lines / 8) then
  local all = redis.call('HGETALL', key)
  local order = {}
  for i = 1, #all, 2 do
    if all[i] ~= 'n' then
      order[#order + 1] = {all[i], struct.unpack('<I4', all[i + 1])}
    end
  end
  table.sort(order, function(a, b) return a[2] < b[2] end)
  local drop = #order - max_lines
  for i = 1, #order do
    if i <= drop or n - order[i][2] > forget_after then
      redis.call('HDEL', key, order[i][1])
    end
  end
end
redis.call('PEXPIRE', key, ttl_ms)
return n

-- Records the lines of an article of one source (store/chrome_state.py).
-- One call per article, in ingest order.
--
-- KEYS[1] the source's lines: field "n" counts the source's articles; each
--         line field (its 8-byte key) holds the article number it was last
--         seen in and the first `min_clusters` clusters it was seen in
--         (little-endian uint32s).
-- KEYS[2] the lines among them seen in `min_clusters` clusters, with the
--         article number they were last seen in: what chrome_known.lua reads,
--         a few dozen fields instead of thousands.
-- ARGV    cluster, min_clusters, max_lines, forget_after, ttl_ms, line keys...

local lines_key, chrome_key = KEYS[1], KEYS[2]
local cluster = tonumber(ARGV[1])
local min_clusters = tonumber(ARGV[2])
local max_lines = tonumber(ARGV[3])
local forget_after = tonumber(ARGV[4])
local ttl_ms = tonumber(ARGV[5])

local n = redis.call('HINCRBY', lines_key, 'n', 1)
local last = struct.pack('<I4', n)
local packed_cluster = struct.pack('<I4', cluster)
local full = 4 * min_clusters
-- Whole chunks of fields per call: one HMGET and one HSET, not two calls a line.
local CHUNK = 500
for start = 6, #ARGV, CHUNK do
  local fields = {}
  for i = start, math.min(#ARGV, start + CHUNK - 1) do fields[#fields + 1] = ARGV[i] end
  local values = redis.call('HMGET', lines_key, unpack(fields))
  local writes, chrome_writes = {}, {}
  for i, field in ipairs(fields) do
    local value = values[i]
    local clusters
    if not value then
      clusters = packed_cluster
    else
      clusters = string.sub(value, 5)
      -- A plain search of the packed id: at worst it finds it across two
      -- neighbours, and the line waits for one more cluster.
      if #clusters < full and not string.find(clusters, packed_cluster, 1, true) then
        clusters = clusters .. packed_cluster
      end
    end
    writes[#writes + 1] = field
    writes[#writes + 1] = last .. clusters
    if #clusters >= full then
      chrome_writes[#chrome_writes + 1] = field
      chrome_writes[#chrome_writes + 1] = last
    end
  end
  if #writes > 0 then redis.call('HSET', lines_key, unpack(writes)) end
  if #chrome_writes > 0 then redis.call('HSET', chrome_key, unpack(chrome_writes)) end
end

-- Bounded: past max_lines plus a quarter (so that the trim runs once per
-- max_lines/4 new lines, not on every article), the lines seen longest ago
-- go, down to max_lines, and so do the forgotten ones.
local count = redis.call('HLEN', lines_key) - 1
if count > max_lines + math.floor(max_lines / 4) then
  local all = redis.call('HGETALL', lines_key)
  local seen_in = {}
  for i = 2, #all, 2 do
    if all[i - 1] ~= 'n' then seen_in[#seen_in + 1] = struct.unpack('<I4', all[i]) end
  end
  table.sort(seen_in)
  -- Lines last seen at or before the cutoff go (ties may take a few more).
  local cutoff = math.max(seen_in[#seen_in - max_lines] or 0, n - forget_after - 1)
  local gone = {}
  for i = 1, #all, 2 do
    if all[i] ~= 'n' and struct.unpack('<I4', all[i + 1]) <= cutoff then
      gone[#gone + 1] = all[i]
    end
  end
  for start = 1, #gone, CHUNK do
    local chunk = {unpack(gone, start, math.min(#gone, start + CHUNK - 1))}
    redis.call('HDEL', lines_key, unpack(chunk))
    redis.call('HDEL', chrome_key, unpack(chunk))
  end
end
redis.call('PEXPIRE', lines_key, ttl_ms)
if redis.call('EXISTS', chrome_key) == 1 then redis.call('PEXPIRE', chrome_key, ttl_ms) end
return n

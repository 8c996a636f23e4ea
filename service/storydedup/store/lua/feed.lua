-- Reads clusters for a listing (store/listing.py). common.lua is prepended.
-- ARGV     prefix, "sizes" | "summaries", source_scan, cluster...
-- Returns  sizes: the size of each cluster (0: gone)
--          summaries: for each cluster {0} when gone, else {size, the
--          canonical record, the latest publication time, the source keys
--          (4 bytes each, store/records.py offset 42) of its first
--          source_scan members}
local op, scan = ARGV[2], tonumber(ARGV[3])
local out = {}
for i = 4, #ARGV do
  local c = tonumber(ARGV[i])
  if op == 'sizes' then
    out[#out + 1] = cluster_size(c)
  else
    local key = cluster_key(c)
    local entry = {0}
    if redis.call('EXISTS', key) == 1 then
      local members = redis.call('ZRANGE', key, 0, scan - 1)
      local sources = {}
      for j, m in ipairs(members) do
        sources[j] = redis.call('GETRANGE', rec_key(number_of(m)), 42, 45)
      end
      entry = {
        redis.call('ZCARD', key),
        redis.call('GET', rec_key(number_of(members[1]))),
        redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2],
        table.concat(sources),
      }
    else
      local raw = redis.call('GET', rec_key(c))
      if raw and parse(raw).cluster == c then
        entry = {1, raw, '', redis.call('GETRANGE', rec_key(c), 42, 45)}
      end
    end
    out[#out + 1] = entry
  end
end
return out

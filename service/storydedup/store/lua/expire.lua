-- Deletes the articles of ingest-time slots that ended by a cutoff, oldest
-- first, at most a budget of them per call (so that one call never blocks
-- Redis for long). Ingest appends each article's number to the string of its
-- slot; numbers of articles already deleted or re-ingested are skipped.
-- common.lua is prepended.
-- ARGV     prefix, cutoff_ms, budget, id_group_bits, the event log's length
--          (0: no events)
-- Returns  number of articles deleted

local cutoff = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local id_group_bits = tonumber(ARGV[4])
local events = tonumber(ARGV[5])
local slots_key = P .. 'slots'
local removed = 0
while removed < budget do
  local oldest = redis.call('ZRANGEBYSCORE', slots_key, '-inf', cutoff, 'LIMIT', 0, 1)[1]
  if not oldest then break end
  local key = P .. 't:' .. oldest
  local packed = redis.call('GET', key) or ''
  local consumed = 0
  for j = 1, #packed, 4 do
    if removed >= budget then break end
    local n = number_of(string.sub(packed, j, j + 3))
    local rec = load(n)
    if rec then
      remove_article(n, rec, id_key_of(rec.aid, id_group_bits))
      index_cluster(rec.cluster)
      cluster_event(events, 'expired', rec.cluster, rec.aid, cluster_size(rec.cluster))
      removed = removed + 1
    end
    consumed = j + 3
  end
  if consumed >= #packed then
    redis.call('DEL', key)
    redis.call('ZREM', slots_key, oldest)
  else
    redis.call('SET', key, string.sub(packed, consumed + 1))
  end
end
return removed

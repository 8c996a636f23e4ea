-- The story feed of the cluster layout (store/cluster_store.py): the event
-- log and the cluster index, all on one hash slot, written together in one
-- step after the change they report has been committed. lua/event_log.lua
-- is prepended.
--
-- KEYS     events stream, clusters by first publication, by last
--          publication, by size (zsets of 6-byte big-endian cluster IDs, so
--          that ties sort by ID)
-- ARGV     the event log's length (0: no events), the number of clusters
--          to index, [cluster (6 bytes), first, last, size]... (size 0: the
--          cluster is gone), then events [kind, cluster, article ID, size,
--          into ('' unless merged_into); IDs in decimal]...
local events, first, last, sizes = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local max_len, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local at = 3
for _ = 1, n do
  local c, f, l, s = ARGV[at], ARGV[at + 1], ARGV[at + 2], tonumber(ARGV[at + 3])
  if s == 0 then
    redis.call('ZREM', first, c)
    redis.call('ZREM', last, c)
    redis.call('ZREM', sizes, c)
  else
    redis.call('ZADD', first, f, c)
    redis.call('ZADD', last, l, c)
    redis.call('ZADD', sizes, s, c)
  end
  at = at + 4
end
while at <= #ARGV do
  local fields = {'k', ARGV[at], 'c', ARGV[at + 1], 'a', ARGV[at + 2], 's', ARGV[at + 3]}
  if ARGV[at + 4] ~= '' then
    fields[#fields + 1] = 'i'
    fields[#fields + 1] = ARGV[at + 4]
  end
  log_event(events, max_len, fields)
  at = at + 5
end
return 1

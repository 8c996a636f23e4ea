-- The story feed of the cluster layout (store/cluster_store.py): the event
-- log and the cluster index, all on one hash slot, written together in one
-- step after the change they report has been committed.
--
-- KEYS     events stream, clusters by first publication, by last
--          publication, by size (zsets of 6-byte cluster IDs)
-- ARGV     the event log's length (0: no events), the number of clusters
--          to index, [cluster, first, last, size]... (size 0: the cluster
--          is gone), then events [kind, cluster, article ID, size, into
--          ('' unless merged_into)]...
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
if max_len == 0 then return 1 end
while at <= #ARGV do
  local kind, c, aid, s, into = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4]
  if into ~= '' then
    redis.call('XADD', events, 'MAXLEN', '~', max_len, '*', 'k', kind, 'c', c, 'a', aid, 's', s, 'i', into)
  else
    redis.call('XADD', events, 'MAXLEN', '~', max_len, '*', 'k', kind, 'c', c, 'a', aid, 's', s)
  end
  at = at + 5
end
return 1

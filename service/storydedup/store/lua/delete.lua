-- Removes one article from the index and its cluster. common.lua is prepended.
-- ARGV     prefix, article_id, the event log's length (0: no events)
-- Returns  {cluster, remaining_members} or false when the article is unknown

local n = id_number(ARGV[2])
if not n then return false end
local rec = load(n)
remove_article(n, rec, ids_key)
local remaining = 0
if redis.call('EXISTS', cluster_key(rec.cluster)) == 1 then
  remaining = redis.call('ZCARD', cluster_key(rec.cluster))
elseif rec.cluster ~= n and redis.call('EXISTS', rec_key(rec.cluster)) == 1 then
  remaining = 1
end
index_cluster(rec.cluster)
cluster_event(tonumber(ARGV[3]), 'removed', rec.cluster, ARGV[2], remaining)
return {rec.cluster, remaining}

-- Reads an article's record, or a cluster's member records, in one round
-- trip. common.lua is prepended.
-- ARGV     prefix, "article" | "cluster_of" | "cluster", article_id or cluster
-- Returns  {cluster, record...} (records in publication order for clusters)
--          or false when unknown

local what = ARGV[2]
local cluster
if what == 'cluster' then
  cluster = tonumber(ARGV[3])
  if not cluster then return false end
  if redis.call('EXISTS', cluster_key(cluster)) == 0 then
    local founder = redis.call('GET', rec_key(cluster))
    if not founder or parse(founder).cluster ~= cluster then return false end
  end
else
  local n = id_number(ARGV[3])
  if not n then return false end
  local raw = redis.call('GET', rec_key(n))
  if what == 'article' then return {parse(raw).cluster, raw} end
  cluster = parse(raw).cluster
end
local out = {cluster}
for _, m in ipairs(members_of(cluster)) do
  out[#out + 1] = redis.call('GET', rec_key(m))
end
return out

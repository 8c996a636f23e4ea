-- One story cluster of the cluster layout (store/cluster_store.py): its
-- members (zset of article refs by publication time), the cluster it was
-- merged into (string, absent for a root) and the clusters merged into it
-- (set). Every step that reads and changes a cluster runs here, atomically.
--
-- KEYS     members, forward, kids (one hash slot)
-- ARGV[1]  operation:
--   create <ref> <score>  a new cluster with one member; {0} when the ID is taken
--   join <ref> <score>    {1}, or {2, root} when the cluster was merged meanwhile
--   adopt <kid>           record a cluster merged into this one: {1}, or {2, root}
--   forward <target>      merge this cluster into target: {1}, or {2, root}
--   leave <ref>           a member goes
--   disown <kid>          a merged cluster has no members left
-- leave and disown return {1, parent} when this cluster is now empty and
-- was itself merged (the caller tells the parent), else {1}.
local members, forward, kids = KEYS[1], KEYS[2], KEYS[3]
local op, arg = ARGV[1], ARGV[2]

local function emptied()
  if redis.call('ZCARD', members) == 0 and redis.call('SCARD', kids) == 0 then
    local parent = redis.call('GET', forward)
    if parent then
      redis.call('DEL', forward)
      return {1, parent}
    end
  end
  return {1}
end

if op == 'create' then
  if redis.call('EXISTS', members, forward, kids) > 0 then return {0} end
  redis.call('ZADD', members, ARGV[3], arg)
  return {1}
end
if op == 'leave' then
  redis.call('ZREM', members, arg)
  return emptied()
end
if op == 'disown' then
  redis.call('SREM', kids, arg)
  return emptied()
end
local root = redis.call('GET', forward)
if op == 'forward' then
  if root then return {2, root} end
  redis.call('SET', forward, arg)
  return {1}
end
if root then return {2, root} end
if op == 'join' then
  redis.call('ZADD', members, ARGV[3], arg)
elseif op == 'adopt' then
  redis.call('SADD', kids, arg)
end
return {1}

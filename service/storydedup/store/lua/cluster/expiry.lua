-- One expiry partition of the cluster layout (store/cluster_store.py):
-- strings of packed article refs by ingest-time slot, and a zset of those
-- slot strings scored by the end of their slot.
--
-- KEYS     slots zset, slot string (one hash slot)
-- ARGV     "add", slot name, slot end, ref     append a ref
--          "take", cutoff, budget              {slot name, refs} of the first
--                                              slot ended by cutoff, or {}
--          "consume", slot name, bytes         drop the first bytes of a slot
-- For "take" the slot string key is built here from KEYS[2] (a prefix): the
-- slot is only known inside, and the key shares KEYS[1]'s hash tag.
local op = ARGV[1]
if op == 'add' then
  redis.call('APPEND', KEYS[2], ARGV[4])
  redis.call('ZADD', KEYS[1], 'NX', ARGV[3], ARGV[2])
  return 1
end
if op == 'take' then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, 1)
  if #due == 0 then return {} end
  local refs = redis.call('GETRANGE', KEYS[2] .. due[1], 0, tonumber(ARGV[3]) * 8 - 1)
  return {due[1], refs}
end
-- consume
local rest = redis.call('GETRANGE', KEYS[2], tonumber(ARGV[3]), -1)
if #rest == 0 then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[2], rest)
end
return 1

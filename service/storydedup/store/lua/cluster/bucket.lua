-- One LSH bucket of the cluster layout (store/cluster_store.py): a hash
-- field of packed 8-byte article refs, the newest max_members of them
-- (store/base.py BUCKET_MEMBERS). Adds or removes one ref atomically, so
-- that concurrent writers of one bucket never lose each other's update.
--
-- KEYS[1]  bucket hash
-- ARGV     "add" | "remove", field, ref, max_members
local packed = redis.call('HGET', KEYS[1], ARGV[2]) or ''
local ref = ARGV[3]
local at = nil
for i = 1, #packed, 8 do
  if string.sub(packed, i, i + 7) == ref then at = i; break end
end
if ARGV[1] == 'add' then
  if not at then
    packed = packed .. ref
    local most = 8 * tonumber(ARGV[4])
    if #packed > most then packed = string.sub(packed, -most) end
    redis.call('HSET', KEYS[1], ARGV[2], packed)
  end
elseif at then
  packed = string.sub(packed, 1, at - 1) .. string.sub(packed, at + 8)
  if #packed == 0 then redis.call('HDEL', KEYS[1], ARGV[2]) else redis.call('HSET', KEYS[1], ARGV[2], packed) end
end
return 1

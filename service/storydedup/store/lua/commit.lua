-- Writes one ingested article as decided in Python from what gather.lua
-- read, provided that is unchanged (no script changed the namespace since,
-- or the same reads give the same digest); otherwise writes nothing, and
-- the caller reads and decides again. Two articles that could be each
-- other's candidates share a bucket, so the second to commit sees the
-- first's bucket entry and decides again; articles that share nothing
-- commit side by side. common.lua is prepended.
--
-- ARGV     prefix, what the reads saw (the namespace's version and their
--          digest: common.lua gathered), article_id, replaced number (0:
--          none), cluster to join (0: a new one), clusters to merge into it
--          (packed 4-byte numbers), the article record (store/records.py,
--          its cluster field to be filled in), published_ms, now_ms,
--          expiry_slot_ms, max_candidates, confirm_members, the next
--          article's ID and bucket refs ('' when none; KEYS[2] its ID group),
--          the event log's length (0: no events; common.lua log_event), and
--          the articles to detach (packed 4-byte numbers: each leaves its
--          cluster for a new one of its own, marked composite;
--          clustering/assign.py revealed_composites), the candidates
--          gather.lua named (packed 4-byte numbers, in its order) and the
--          buckets' contents it returned
-- Returns  {0} when what was read changed, else {1, cluster, canonical
--          article ID, number, the count of detached articles and the
--          cluster each now forms, then what gather.lua returns for the
--          next article, if any}: a batch costs one call per article, not two

local aid = ARGV[3]
local replaced = tonumber(ARGV[4])
local join = tonumber(ARGV[5])
local merges = ARGV[6]
local record = ARGV[7]
local published = tonumber(ARGV[8])
local now = tonumber(ARGV[9])
local slot_ms = tonumber(ARGV[10])
local events = tonumber(ARGV[15])

local refs = parse(record).refs
local max_cand, confirm = tonumber(ARGV[11]), tonumber(ARGV[12])
-- Unchanged when no script has changed the namespace since the read (one
-- writer, or writers taking turns); else when the same reads give the same
-- digest.
local read_at, read_digest = string.match(ARGV[2], '^(%d*):(.*)$')
local buckets
if read_at == '' or version() ~= read_at then
  local _, digest
  _, digest, buckets = read_for_ingest(aid, ids_key, refs, max_cand, confirm, ARGV[17])
  if digest ~= read_digest then return {0} end
else
  buckets = unpacked_buckets(ARGV[18])
end

if replaced ~= 0 then
  local old = load(replaced)
  remove_article(replaced, old, ids_key)
  index_cluster(old.cluster)
  cluster_event(events, 'removed', old.cluster, aid, cluster_size(old.cluster))
end
local detach = ARGV[16]
local detached = {}
for j = 1, #detach, 4 do
  local m = number_of(string.sub(detach, j, j + 3))
  local raw = redis.call('GET', rec_key(m))
  local rec = parse(raw)
  remove_member(rec.cluster, m)
  -- A cluster ID no article has: its members are always in its zset.
  local own = redis.call('INCR', P .. 'n')
  redis.call('SETRANGE', rec_key(m), 1, struct.pack('<I4', own))
  redis.call('SETRANGE', rec_key(m), FLAGS, string.char(bit.bor(string.byte(raw, FLAGS + 1), COMPOSITE)))
  redis.call('ZADD', cluster_key(own), rec.published, member(m))
  index_cluster(rec.cluster)
  index_cluster(own)
  cluster_event(events, 'split', rec.cluster, rec.aid, cluster_size(rec.cluster), own)
  cluster_event(events, 'created', own, rec.aid, 1)
  detached[#detached + 1] = own
end
local n = redis.call('INCR', P .. 'n')
local cluster = n
if join ~= 0 then cluster = join end
for j = 1, #merges, 4 do
  local source = number_of(string.sub(merges, j, j + 3))
  for _, m in ipairs(members_of(source)) do
    local rec = load(m)
    redis.call('SETRANGE', rec_key(m), 1, struct.pack('<I4', cluster))
    add_member(cluster, m, rec.published)
  end
  redis.call('DEL', cluster_key(source))
  index_cluster(source)
end
redis.call('SET', rec_key(n), record)
redis.call('SETRANGE', rec_key(n), 1, struct.pack('<I4', cluster))
id_add(aid, n)
-- The buckets as the check read them, unless removing the replaced version
-- changed them; a ref that comes twice sees its first append.
local appended = {}
for i = 1, #refs, REF do
  local ref = string.sub(refs, i, i + REF - 1)
  local key, field = bucket_of(ref)
  local was = appended[ref]
  if not was and replaced == 0 then was = buckets[(i - 1) / REF + 1] end
  appended[ref] = bucket_add(key, field, member(n), was)
end
add_member(cluster, n, published)
-- Expiry: the article's number goes into the string of its ingest-time slot;
-- the slots zset holds each slot string by the time its slot ends.
local slot_start = math.floor(now / slot_ms) * slot_ms
local slot = string.format('%d:%d', slot_start, slot_ms)
redis.call('APPEND', P .. 't:' .. slot, member(n))
redis.call('ZADD', P .. 'slots', 'NX', slot_start + slot_ms, slot)
local size
if #merges > 0 then
  index_cluster(cluster)
  size = cluster_size(cluster)
elseif join == 0 then
  size = 1
  redis.call('ZADD', P .. 'xf', published, member(cluster))
  redis.call('ZADD', P .. 'xl', published, member(cluster))
else
  -- The cluster's entries were in step before this member joined (a
  -- replaced version's cluster was brought in step above), so only a new
  -- first or last publication moves them.
  redis.call('ZADD', P .. 'xf', 'LT', published, member(cluster))
  redis.call('ZADD', P .. 'xl', 'GT', published, member(cluster))
  size = redis.call('ZCARD', cluster_key(cluster))
end
for j = 1, #merges, 4 do
  cluster_event(events, 'merged_into', number_of(string.sub(merges, j, j + 3)), aid, size, cluster)
end
cluster_event(events, join == 0 and 'created' or 'grew', cluster, aid, size)
changed()
local reply = {1, cluster, canonical_of(cluster), n, #detached}
for _, own in ipairs(detached) do reply[#reply + 1] = own end
if ARGV[13] ~= '' then
  for _, v in ipairs(gathered(ARGV[13], KEYS[2], ARGV[14], max_cand, confirm)) do
    reply[#reply + 1] = v
  end
end
return reply

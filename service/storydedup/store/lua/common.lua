-- Shared by every storydedup script (prepended to each when it is loaded):
-- the record layout (documented in store/records.py), clusters and removal.
--
-- KEYS[1]  the article-ID group of the call's article (store/redis_store.py
--          id_key; a dummy key of the namespace for calls without one);
--          every key used by the scripts carries the namespace's hash tag,
--          so all share one slot
-- ARGV[1]  the namespace's key prefix

local P = ARGV[1]
local HEADER = 50  -- store/records.py, layout 5
local PREFIX_VALUES = 16
local REF = 6
local FLAGS, COMPOSITE = 25, 2  -- the flags byte's offset, its composite bit
local ids_key = KEYS[1]

local function rec_key(n) return P .. 'a:' .. n end
local function member(n) return struct.pack('>I4', n) end
local function number_of(m) return (struct.unpack('>I4', m)) end

local function parse(raw)
  local _, cluster, pub, ing, _, _, _, nrefs, siglen, idlen, prefixlen, passageslen =
    struct.unpack('<BI4ddI4Bc8BHHBHI4I4', raw)
  local refs_end = HEADER + nrefs * REF
  local id_start = refs_end + siglen + prefixlen + passageslen
  return {
    cluster = cluster, published = pub, ingested = ing,
    refs = string.sub(raw, HEADER + 1, refs_end),
    aid = string.sub(raw, id_start + 1, id_start + idlen),
  }
end

local function load(n)
  local raw = redis.call('GET', rec_key(n))
  if not raw then return nil end
  return parse(raw)
end

local function bucket_of(ref)
  return P .. 'b:' .. string.sub(ref, 1, 3), string.sub(ref, 4, REF)
end

-- A bucket lists its newest BUCKET_MEMBERS articles (store/base.py says why).
local BUCKET_MEMBERS = 15
-- `packed` (4-byte members) without member m, once.
local function without(packed, m)
  for j = 1, #packed, 4 do
    if string.sub(packed, j, j + 3) == m then
      return string.sub(packed, 1, j - 1) .. string.sub(packed, j + 4)
    end
  end
  return packed
end

-- Sets a hash field of packed members, or removes it when none are left.
local function set_packed(key, field, packed)
  if #packed == 0 then redis.call('HDEL', key, field) else redis.call('HSET', key, field, packed) end
end

-- Article IDs: in groups (hashes) keyed by the ID's SHA1, field the next 48
-- bits of it, value the numbers of the articles whose IDs share them (one,
-- but for a rare collision). store/redis_store.py id_key says why.
local function id_field(aid) return string.sub(redis.sha1hex(aid), 7, 18) end

local function id_key_of(aid, group_bits)
  return P .. 'i:' .. (tonumber(string.sub(redis.sha1hex(aid), 1, 6), 16) % 2 ^ group_bits)
end

-- `was`: the field's value if the caller has read it (nil: read here).
-- Returns the new value.
local function bucket_add(key, field, m, was)
  local packed = (was or redis.call('HGET', key, field) or '') .. m
  if #packed > 4 * BUCKET_MEMBERS then packed = string.sub(packed, -4 * BUCKET_MEMBERS) end
  redis.call('HSET', key, field, packed)
  return packed
end

-- Clusters: a sorted set of members (scored by publication time) exists
-- when the cluster has two or more members, or one member that is not its
-- founder; a lone founder needs no key.
local function cluster_key(c) return P .. 'c:' .. c end

local function members_of(c)
  local key = cluster_key(c)
  if redis.call('EXISTS', key) == 1 then
    local out = {}
    for _, m in ipairs(redis.call('ZRANGE', key, 0, -1)) do out[#out + 1] = number_of(m) end
    return out
  end
  return {c}
end

local function add_member(c, n, pub)
  local key = cluster_key(c)
  if n == c and redis.call('EXISTS', key) == 0 then return end
  if redis.call('EXISTS', key) == 0 then
    local founder = load(c)
    redis.call('ZADD', key, founder.published, member(c))
  end
  redis.call('ZADD', key, pub, member(n))
end

local function remove_member(c, n)
  local key = cluster_key(c)
  if redis.call('EXISTS', key) == 0 then return end
  redis.call('ZREM', key, member(n))
  if redis.call('ZCARD', key) == 1 and number_of(redis.call('ZRANGE', key, 0, 0)[1]) == c then
    redis.call('DEL', key)
  end
end

local function canonical_of(c)
  local key = cluster_key(c)
  local first = c
  if redis.call('EXISTS', key) == 1 then first = number_of(redis.call('ZRANGE', key, 0, 0)[1]) end
  return load(first).aid
end

-- The namespace's version: every script that changes what an ingest
-- decision reads (records, buckets, clusters, article IDs) moves it, so
-- that commit.lua can skip reading again what nothing has changed since.
local function version() return redis.call('GET', P .. 'v') or '' end
local function changed() redis.call('INCR', P .. 'v') end

-- id_key: the group of the article's ID.
local function remove_article(n, rec, id_key)
  changed()
  for i = 1, #rec.refs, REF do
    local key, field = bucket_of(string.sub(rec.refs, i, i + REF - 1))
    local packed = redis.call('HGET', key, field)
    if packed then
      set_packed(key, field, without(packed, member(n)))
    end
  end
  remove_member(rec.cluster, n)
  redis.call('DEL', rec_key(n))
  local field = id_field(rec.aid)
  set_packed(id_key, field, without(redis.call('HGET', id_key, field) or '', member(n)))
end

-- The number of the article with this ID (its group is `ids`, by default
-- KEYS[1]), or nil.
local function id_number(aid, ids)
  local packed = redis.call('HGET', ids or ids_key, id_field(aid))
  if not packed then return nil end
  for j = 1, #packed, 4 do
    local n = number_of(string.sub(packed, j, j + 3))
    local raw = redis.call('GET', rec_key(n))
    if raw and parse(raw).aid == aid then return n end
  end
  return nil
end

local function id_add(aid, n)
  local field = id_field(aid)
  redis.call('HSET', ids_key, field, (redis.call('HGET', ids_key, field) or '') .. member(n))
end

-- The fields of a record that change after it is written (the cluster, on
-- a merge or a detachment; the flags), read without copying the rest: bytes
-- 0..FLAGS of the header (or of `raw`, the record when it was read whole).
-- nil when it is gone.
local function header_of(n, raw)
  local head = raw or redis.call('GETRANGE', rec_key(n), 0, FLAGS)
  if #head <= FLAGS then return nil end
  local _, cluster, _, _, _, flags = struct.unpack('<BI4ddI4B', head)
  return {cluster = cluster, flags = flags}
end

-- The buckets' contents as one string: each bucket's length (2 bytes),
-- then its members (what gathered() returns, and the digest covers).
local function packed_buckets(buckets)
  local out = {}
  for i, members in ipairs(buckets) do out[i] = struct.pack('>I2', #members) .. members end
  return table.concat(out)
end

local function unpacked_buckets(packed)
  local out, at = {}, 1
  while at < #packed do
    local size = struct.unpack('>I2', packed, at)
    out[#out + 1] = string.sub(packed, at + 2, at + 1 + size)
    at = at + 2 + size
  end
  return out
end

-- What an ingest decision reads (lua/gather.lua): the article with this ID
-- (its group is `ids`) if stored, with its cluster's canonical article ID,
-- the candidates in the most of the refs' buckets (then the lowest
-- numbers), at most max_cand, and for each of their clusters its first
-- `confirm` members by publication time. Returns
-- that reply, what the decision depends on (a digest of the buckets'
-- contents and of the numbers, clusters, flags and memberships read: an
-- article's number names its content, and a record changes afterwards only
-- in its cluster and flags) and the buckets' contents, in the refs' order,
-- as a table and packed (packed_buckets).
--
-- commit.lua checks that digest again with `chosen`, the candidates the
-- reply named (packed numbers): unchanged buckets give the same candidates,
-- so it reads their headers instead of counting bucket hits again, and
-- nothing but the digest.
local function read_for_ingest(aid, ids, refs, max_cand, confirm, chosen)
  local light = chosen ~= nil
  local existing, existing_raw, existing_canonical = 0, '', ''
  local parts = {}
  if aid ~= '' then
    local n = id_number(aid, ids)
    if n then
      if not light then existing_raw = redis.call('GET', rec_key(n)) end
      local head = header_of(n, not light and existing_raw or nil)
      existing, existing_canonical = n, canonical_of(head.cluster)
      parts[#parts + 1] = n .. ':' .. head.cluster .. ':' .. head.flags .. ':' .. existing_canonical
    end
  end

  local buckets = {}
  for i = 1, #refs, REF do
    local key, field = bucket_of(string.sub(refs, i, i + REF - 1))
    buckets[#buckets + 1] = redis.call('HGET', key, field) or ''
  end
  local packed_read = packed_buckets(buckets)
  parts[#parts + 1] = packed_read

  local order = {}
  if light then
    for j = 1, #chosen, 4 do order[#order + 1] = number_of(string.sub(chosen, j, j + 3)) end
  else
    -- Counted by the packed member, converted for the chosen ones only; the
    -- packing is big-endian, so comparing members compares numbers.
    local hits, packed = {}, {}
    local skip = existing ~= 0 and member(existing) or nil
    for _, members in ipairs(buckets) do
      for j = 1, #members, 4 do
        local m = string.sub(members, j, j + 3)
        if m ~= skip then
          local h = hits[m]
          if h then hits[m] = h + 1 else hits[m] = 1; packed[#packed + 1] = m end
        end
      end
    end
    table.sort(packed, function(a, b)
      if hits[a] ~= hits[b] then return hits[a] > hits[b] end
      return a < b
    end)
    for i = 1, math.min(#packed, max_cand) do order[i] = number_of(packed[i]) end
  end

  local out = {existing, existing_raw, existing_canonical, 0}
  local clusters, seen = {}, {}
  local count = 0
  for _, n in ipairs(order) do
    -- Python gets the record whole (gather.lua); the check reads its header.
    local raw = not light and redis.call('GET', rec_key(n)) or nil
    local head = header_of(n, raw)
    if head then
      count = count + 1
      if raw then
        out[#out + 1] = n
        out[#out + 1] = raw
      end
      parts[#parts + 1] = n .. ':' .. head.cluster .. ':' .. head.flags
      local c = head.cluster
      if not seen[c] then seen[c] = true; clusters[#clusters + 1] = c end
    end
  end
  out[4] = count
  out[#out + 1] = #clusters
  for _, c in ipairs(clusters) do
    local members = {}
    local key = cluster_key(c)
    if redis.call('EXISTS', key) == 1 then
      -- One more than needed, in case one of them is the article itself.
      for _, m in ipairs(redis.call('ZRANGE', key, 0, confirm)) do
        local n = number_of(m)
        if n ~= existing and #members < confirm then members[#members + 1] = n end
      end
    elseif c ~= existing then
      members[1] = c
    end
    parts[#parts + 1] = 'c' .. c .. ':' .. table.concat(members, ',')
    if not light then
      -- Numbers only: Python reads the shingle counts of the few clusters
      -- whose longest member it needs (store/redis_store.py).
      out[#out + 1] = c
      out[#out + 1] = #members
      for _, n in ipairs(members) do out[#out + 1] = n end
    end
  end
  return out, redis.sha1hex(table.concat(parts, ';')), buckets, packed_read
end

-- read_for_ingest's reply, first what commit.lua checks (the namespace's
-- version and the digest) and the buckets' contents, which the commit
-- appends to without reading them again while the version holds.
local function gathered(aid, ids, refs, max_cand, confirm)
  local out, digest, _, packed = read_for_ingest(aid, ids, refs, max_cand, confirm, nil)
  table.insert(out, 1, packed)
  table.insert(out, 1, version() .. ':' .. digest)
  return out
end

-- The story feed (store/redis_store.py): every change to a cluster is logged
-- in the stream P..'x' by the script that makes it, so an event exists
-- exactly when its change does; P..'xf' and P..'xl' index the clusters by
-- their first and last publication time (members packed like member()).
local function cluster_size(c)
  local key = cluster_key(c)
  if redis.call('EXISTS', key) == 1 then return redis.call('ZCARD', key) end
  local founder = load(c)
  if founder and founder.cluster == c then return 1 end
  return 0
end

-- Brings the cluster's index entries in step with its members.
local function index_cluster(c)
  local key = cluster_key(c)
  local first, last
  if redis.call('EXISTS', key) == 1 then
    first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]
    last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]
  else
    local founder = load(c)
    if founder and founder.cluster == c then
      first = string.format('%.17g', founder.published)
      last = first
    end
  end
  if first then
    redis.call('ZADD', P .. 'xf', first, member(c))
    redis.call('ZADD', P .. 'xl', last, member(c))
  else
    redis.call('ZREM', P .. 'xf', member(c))
    redis.call('ZREM', P .. 'xl', member(c))
  end
end

-- Logs one event (lua/event_log.lua), keeping about max_len of them (0:
-- events are off).
local function cluster_event(max_len, kind, c, aid, size, into)
  local fields = {'k', kind, 'c', c, 'a', aid, 's', size}
  if into then
    fields[#fields + 1] = 'i'
    fields[#fields + 1] = into
  end
  log_event(P .. 'x', max_len, fields)
end

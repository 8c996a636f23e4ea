-- Candidate lookup, verification, cluster assignment and insertion of one
-- article, atomically, in one round trip. Mirrors store/memory.py and
-- clustering/policy.py. common.lua is prepended.
--
-- ARGV     prefix, mode ("ingest" | "probe"), now_ms,
--          min_jaccard, min_containment, min_containment_shingles,
--          merge_jaccard, max_candidates, max_matches,
--          article_id, digest, signature, shingle_count, bucket_refs,
--          published_ms, metadata, expiry_slot_ms, prefix_sketch,
--          min_prefix, min_containment_jaccard, min_prefix_shingles
-- Returns  {cluster, duplicate, canonical_article_id, unchanged, match_count,
--           [article_id, cluster, equal_values, shingles, prefix_level,
--            equal_prefix_values]...}
--          (probe mode: cluster is 0 when the article would start a story)

local mode = ARGV[2]
local now = tonumber(ARGV[3])
local min_j = tonumber(ARGV[4])
local min_c = tonumber(ARGV[5])
local min_cs = tonumber(ARGV[6])
local merge_j = tonumber(ARGV[7])
local max_cand = tonumber(ARGV[8])
local max_matches = tonumber(ARGV[9])
local aid = ARGV[10]
local digest = ARGV[11]
local sig = ARGV[12]
local nsh = tonumber(ARGV[13])
local refs = ARGV[14]
local published = tonumber(ARGV[15])
local meta = ARGV[16]
local slot_ms = tonumber(ARGV[17])
local prefix = ARGV[18]
local min_prefix = tonumber(ARGV[19])
local min_cj = tonumber(ARGV[20])
local min_ps = tonumber(ARGV[21])
local PREFIX_LEVELS = {8, 16, 32, 64, 128, 256}

-- Signature values are 8-bit slices, one byte each.
local probe_bytes = {string.byte(sig, 1, -1)}
local function equal_values(other)
  if #other ~= #sig then return 0 end
  local ob = {string.byte(other, 1, -1)}
  local equal = 0
  for i = 1, #probe_bytes do
    if probe_bytes[i] == ob[i] then equal = equal + 1 end
  end
  return equal
end

local values = #sig

-- Equal values of the prefix sketches at the longest prefix both texts have.
local function prefix_agreement(other)
  local level = math.floor(math.min(#prefix, #other) / PREFIX_VALUES)
  if level == 0 then return 0, 0 end
  local start = (level - 1) * PREFIX_VALUES
  local equal = 0
  for i = start + 1, start + PREFIX_VALUES do
    if string.byte(prefix, i) == string.byte(other, i) then equal = equal + 1 end
  end
  return level, equal
end

-- Similarity of the new article to a stored one, and whether it is a match.
-- Same arithmetic, in the same order, as clustering/policy.py.
local function judge(rec)
  local equal = equal_values(rec.sig)
  local level, pequal = prefix_agreement(rec.prefix)
  local j = equal / values
  local smaller = math.min(nsh, rec.shingles)
  local c, ps, plen = 0.0, 0.0, 0
  if smaller > 0 then
    c = math.min(1.0, (j * (nsh + rec.shingles) / (1.0 + j)) / smaller)
    if level > 0 then
      ps = pequal / PREFIX_VALUES
      plen = PREFIX_LEVELS[level]
      c = math.max(c, math.min(1.0, ps * plen / smaller))
    end
  end
  local match = j >= min_j
    or (ps >= min_prefix and 2 * plen >= smaller and smaller >= min_ps)
    or (j >= min_cj and c >= min_c and smaller >= min_cs)
  return {rec = rec, equal = equal, j = j, c = c, level = level, pequal = pequal, match = match}
end

-- Verified matches, best first: {n, rec, equal, j, c, level, pequal}.
local function verified_matches(exclude)
  local hits, order = {}, {}
  for i = 1, #refs, REF do
    local key, field = bucket_of(string.sub(refs, i, i + REF - 1))
    local packed = redis.call('HGET', key, field)
    if packed then
      for j = 1, #packed, 4 do
        local n = number_of(string.sub(packed, j, j + 3))
        if n ~= exclude then
          if hits[n] then hits[n] = hits[n] + 1 else hits[n] = 1; order[#order + 1] = n end
        end
      end
    end
  end
  table.sort(order, function(a, b)
    if hits[a] ~= hits[b] then return hits[a] > hits[b] end
    return a < b
  end)
  local found = {}
  for i = 1, math.min(#order, max_cand) do
    local n = order[i]
    local rec = load(n)
    if rec then
      local f = judge(rec)
      if f.match then
        f.n = n
        found[#found + 1] = f
      end
    end
  end
  table.sort(found, function(a, b)
    if a.c ~= b.c then return a.c > b.c end
    if a.j ~= b.j then return a.j > b.j end
    return a.n < b.n
  end)
  return found
end

-- Cluster c may be joined through a partial match (clustering/policy.py): the
-- new article is part of a member it matched there (not longer, and contained
-- in it or its start), or the longest of the cluster's first CONFIRM_MEMBERS members
-- matched, or confirms it now (matches it, or resembles it at least
-- CONFIRM_JACCARD), whether longer or shorter than the new article.
local CONFIRM_MEMBERS = 32
local CONFIRM_JACCARD = 0.3
local function starts_alike(f)
  local smaller = math.min(nsh, f.rec.shingles)
  local ps, plen = 0.0, 0
  if f.level > 0 then
    ps = f.pequal / PREFIX_VALUES
    plen = PREFIX_LEVELS[f.level]
  end
  return ps >= min_prefix and 2 * plen >= smaller and smaller >= min_ps
end
-- The new article is part of matched member f: not longer, and contained in
-- it at a resemblance of at least min_jaccard, or its start (policy.part_of).
local function part_of(f)
  return f.rec.shingles >= nsh and ((f.c >= min_c and f.j >= min_j) or starts_alike(f))
end
-- in_cluster: the new article's matches in cluster c.
local function confirmed(c, in_cluster, matched)
  for _, f in ipairs(in_cluster) do
    if part_of(f) then return true end
  end
  local key = cluster_key(c)
  local members = {c}
  if redis.call('EXISTS', key) == 1 then
    members = {}
    for _, m in ipairs(redis.call('ZRANGE', key, 0, CONFIRM_MEMBERS - 1)) do
      members[#members + 1] = number_of(m)
    end
  end
  local longest, longest_rec = nil, nil
  for _, m in ipairs(members) do
    local rec = load(m)
    if longest == nil or rec.shingles > longest_rec.shingles
        or (rec.shingles == longest_rec.shingles and m < longest) then
      longest, longest_rec = m, rec
    end
  end
  if matched[longest] then return true end
  local f = judge(longest_rec)
  return f.j >= CONFIRM_JACCARD or f.match
end

-- Where the article goes: join (nil for a new cluster) and clusters to fold in.
local function choose(found)
  if #found == 0 then return nil, {} end
  local seen, strong, order, matched, in_cluster = {}, {}, {}, {}, {}
  for _, f in ipairs(found) do
    matched[f.n] = true
    local c = f.rec.cluster
    if not seen[c] then
      seen[c] = f
      in_cluster[c] = {}
      order[#order + 1] = c
      if f.j >= merge_j then strong[#strong + 1] = c end
    end
    local list = in_cluster[c]
    list[#list + 1] = f
  end
  if #strong >= 2 then
    table.sort(strong)
    local into = table.remove(strong, 1)
    return into, strong
  end
  for _, c in ipairs(order) do
    if seen[c].j >= merge_j or confirmed(c, in_cluster[c], matched) then return c, {} end
  end
  return nil, {}
end

local function merge(source, into)
  for _, m in ipairs(members_of(source)) do
    local rec = load(m)
    redis.call('SETRANGE', rec_key(m), 1, struct.pack('<I4', into))
    add_member(into, m, rec.published)
  end
  redis.call('DEL', cluster_key(source))
end

local function reply(cluster, duplicate, canonical, unchanged, found, remap)
  local out = {cluster, duplicate and 1 or 0, canonical, unchanged and 1 or 0}
  local count = math.min(#found, max_matches)
  out[#out + 1] = count
  for i = 1, count do
    local f = found[i]
    local c = f.rec.cluster
    if remap[c] then c = remap[c] end
    out[#out + 1] = f.rec.aid
    out[#out + 1] = c
    out[#out + 1] = f.equal
    out[#out + 1] = f.rec.shingles
    out[#out + 1] = f.level
    out[#out + 1] = f.pequal
  end
  return out
end

local existing = nil
if aid ~= '' then existing = id_number(aid) end

if mode == 'probe' then
  local found = verified_matches(existing)
  local join = choose(found)
  return reply(join or 0, false, '', false, found, {})
end

if existing then
  local rec = load(existing)
  if rec.digest == digest then
    local found = verified_matches(existing)
    return reply(rec.cluster, rec.joined, canonical_of(rec.cluster), true, found, {})
  end
  remove_article(existing, rec, ids_key)
end

local found = verified_matches(nil)
local join, merges = choose(found)
local n = redis.call('INCR', P .. 'n')
local cluster = join or n
local remap = {}
for _, source in ipairs(merges) do
  merge(source, cluster)
  remap[source] = cluster
end
if published == 0 then published = now end
local header = struct.pack('<BI4ddI4Bc8BHHB', LAYOUT, cluster, published, now, nsh,
  join and 1 or 0, digest, #refs / REF, #sig, #aid, #prefix)
redis.call('SET', rec_key(n), header .. refs .. sig .. prefix .. aid .. meta)
id_add(aid, n)
for i = 1, #refs, REF do
  local key, field = bucket_of(string.sub(refs, i, i + REF - 1))
  bucket_add(key, field, member(n))
end
add_member(cluster, n, published)
-- Expiry: the article's number goes into the string of its ingest-time slot;
-- the slots zset holds each slot string by the time its slot ends.
local slot_start = math.floor(now / slot_ms) * slot_ms
local slot = string.format('%d:%d', slot_start, slot_ms)
redis.call('APPEND', P .. 't:' .. slot, member(n))
redis.call('ZADD', P .. 'slots', 'NX', slot_start + slot_ms, slot)
return reply(cluster, join ~= nil, canonical_of(cluster), false, found, remap)

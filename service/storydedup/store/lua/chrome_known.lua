-- The chrome lines of one source (store/chrome_state.py): those seen in at
-- least `min_clusters` clusters and within the last `forget_after` articles
-- of the source. Filtering here sends back a few dozen keys, not the hash.
--
-- KEYS[1] the source's chrome hash (see chrome_learn.lua)
-- ARGV    min_clusters, forget_after

local min_clusters = tonumber(ARGV[1])
local forget_after = tonumber(ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
local n = 0
for i = 1, #all, 2 do
  if all[i] == 'n' then n = tonumber(all[i + 1]) end
end
local out = {}
for i = 1, #all, 2 do
  local field, value = all[i], all[i + 1]
  if field ~= 'n' and (#value - 4) / 4 >= min_clusters
      and n - struct.unpack('<I4', value) <= forget_after then
    out[#out + 1] = field
  end
end
return out

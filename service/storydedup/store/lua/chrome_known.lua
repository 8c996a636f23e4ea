-- The chrome lines of one source (store/chrome_state.py): those seen in at
-- least `min_clusters` clusters (KEYS[2], kept by chrome_learn.lua) and
-- within the last `forget_after` articles of the source.
--
-- KEYS[1] the source's lines (for its article count "n"), KEYS[2] its chrome
-- ARGV    forget_after

local forget_after = tonumber(ARGV[1])
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local all = redis.call('HGETALL', KEYS[2])
local out = {}
for i = 1, #all, 2 do
  if n - struct.unpack('<I4', all[i + 1]) <= forget_after then out[#out + 1] = all[i] end
end
return out

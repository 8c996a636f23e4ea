-- Reads what an ingest decision needs and changes nothing: the rules
-- themselves (verification, the cluster choice) run in Python
-- (clustering/assign.py), once for every store. common.lua is prepended.
--
-- ARGV     prefix, article_id ('' for none), bucket refs, max_candidates,
--          confirm_members
-- Returns  {what was read, the buckets' contents, existing_number,
--           existing_record, its cluster's canonical article ID,
--           candidate_count,
--           [number, record]..., cluster_count,
--           [cluster, member_count, number...]...}
--          (read_for_ingest in common.lua says what is read; what was
--          read, the namespace's version and a digest of the reads, is
--          what commit.lua checks). The article with this ID, if stored,
--          is no candidate and no member.

return gathered(ARGV[2], KEYS[1], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]))

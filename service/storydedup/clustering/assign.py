"""Which cluster a new article joins: verification of the index's candidates
and the cluster choice, written once for every store.

The stores differ only in how they read: the in-process store from its own
dicts, the Redis stores from what one read script (single Redis) or a few
single-slot reads under locks (Redis Cluster) return. Each hands this module
its candidates and a way to read a cluster's first members, and gets back
the verified matches and the choice, which it then commits (the single-Redis
store with a script that refuses the write when anything it read changed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from storydedup.clustering.policy import (
    CONFIRM_MEMBERS,
    MatchPolicy,
    Similarity,
    compare_records,
    confirms,
    is_match,
    judge,
    match_records,
    mostly_each_other,
    part_of,
    shorter_mostly_carried,
    similarities,
    snapshots_of_one_file,
    starts_alike,
)
from storydedup.fingerprints.passages import LEAD_SLACK, paragraph_runs
from storydedup.store.base import MatchInfo, Probe
from storydedup.store.records import ArticleRecord

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Candidate(Generic[K]):
    """A stored article the index proposed, with the cluster it is in now."""

    key: K
    record: ArticleRecord
    cluster: int
    # Among equally good matches, the lower `order` comes first (the store's
    # notion of older: article number, or ingest time and ref).
    order: Any


@dataclass(frozen=True, slots=True)
class Verified(Generic[K]):
    candidate: Candidate[K]
    sim: Similarity
    # Paragraphs of the new article whose sentences recur in the candidate.
    passages: tuple[tuple[int, int], ...] = ()

    @property
    def info(self) -> MatchInfo:
        return self.reported(self.candidate.cluster)

    def reported(self, cluster: int) -> MatchInfo:
        return MatchInfo(
            self.candidate.record.article_id,
            cluster,
            self.sim.jaccard,
            self.sim.containment,
            self.passages,
            self.sim.same_headline,
        )


@dataclass(frozen=True, slots=True)
class Member(Generic[K]):
    """One of a cluster's first members (earliest published first)."""

    key: K
    shingle_count: int
    order: Any


@dataclass(frozen=True, slots=True)
class ClusterChoice(Generic[K]):
    """Where a new article goes: `join` (None for a new cluster) and the
    other clusters to fold into it; and stored articles the new one showed
    to be composites (`revealed_composites`), each to leave its cluster for
    one of its own, marked composite."""

    join: int | None
    merge: tuple[int, ...]
    detach: tuple[K, ...] = ()


class Matches(list[Verified[K]]):
    """Verified matches, best first (containment, then resemblance, then
    older), and whether the new article is a composite: it holds whole
    articles of two stories that are not one (their articles do not match
    each other), as a digest, a live file or a roundup holds the briefs it
    collects. A composite joins a cluster only as a near-full copy of a
    member or another snapshot of the live file it is (another edition of
    itself, `editions`): otherwise the brief that heads a
    digest would pass for the start of the digest's story, and the digest
    would glue the brief's story to its own."""

    composite: bool = False

    def __init__(self, matches: Iterable[Verified[K]] = ()) -> None:
        super().__init__(matches)
        # Candidates that share a block with the new article (at least
        # QUOTED_SENTENCES of their sentences recur in it, and of its in
        # them), for revealed_composites.
        self.quoted: list[Verified[K]] = []


# A candidate is held whole by the new article when this share of its
# sentences (at least HELD_SENTENCES of them) recur in it.
HELD_SHARE = 0.8
HELD_SENTENCES = 2


def verify(policy: MatchPolicy, probe: Probe, candidates: Iterable[Candidate[K]]) -> Matches[K]:
    """The candidates that match, best first, and whether the new article
    is a composite (`Matches`)."""
    found: Matches[K] = Matches()
    held: list[tuple[Candidate[K], bool, frozenset[int]]] = []
    listed = list(candidates)
    sims = similarities(probe, [c.record for c in listed])
    for candidate, sim in zip(listed, sims, strict=True):
        matched = is_match(policy, sim, probe.shingle_count, candidate.record.shingle_count)
        if matched:
            passages = paragraph_runs(sim.recurring, probe.sentence_paragraphs)
            found.append(Verified(candidate, sim, passages))
        if (
            min(len(sim.recurring), len(sim.their_recurring)) >= QUOTED_SENTENCES
            and not sim.same_source
        ):
            found.quoted.append(Verified(candidate, sim))
        shorter = candidate.record.shingle_count
        # A near-full copy of the new article is another edition of it, not a
        # story it holds: a full story holds its edited copy (a dateline
        # added, a paragraph dropped) and its truncated copy, which need not
        # match each other.
        if (
            shorter <= probe.shingle_count
            and sim.jaccard < policy.merge_jaccard
            and sim.short_sentences >= HELD_SENTENCES
            and sim.carried >= HELD_SHARE * sim.short_sentences
        ):
            start = starts_alike(policy, sim, shorter, probe.shingle_count)
            held.append((candidate, start, frozenset(sim.recurring)))
    found.sort(key=lambda v: (-v.sim.containment, -v.sim.jaccard, v.candidate.order))
    # Two articles held whole, of clusters that are not one story (they do
    # not match each other), one of them not the new article's start, in
    # different sentences of it: the new article holds another story besides
    # its own. (A full story holds all its truncated copies, and each is its
    # start, even when arrival order left two of them in two clusters; two
    # pages of one source that print the same passage in their chrome do not
    # match each other by the rule for one source's pages, and are the same
    # part of the new article.)
    found.composite = any(
        a.cluster != b.cluster
        and not (a_start and b_start)
        and 2 * len(a_in & b_in) < min(len(a_in), len(b_in))
        and not match_records(policy, a.record, b.record)
        for i, (a, a_start, a_in) in enumerate(held)
        for b, b_start, b_in in held[i + 1 :]
    ) or quotes_two_stories(policy, probe, listed, sims, (m.candidate.cluster for m in found))
    return found


# A part of the new article quoted from a story: at least this many of its
# sentences, and this share of them, recur in that story's articles and not
# in the other's; or at least this many when they are the lead of an article
# of that story (what a roundup prints of each story it collects).
QUOTED_SENTENCES = 3
QUOTED_SHARE = 0.25


def quotes_two_stories(
    policy: MatchPolicy,
    probe: Probe,
    candidates: Sequence[Candidate[K]],
    sims: Sequence[Similarity],
    matched: Iterable[int],
) -> bool:
    """Whether the new article holds passages of two stories side by side:
    one block of its sentences recurs in one cluster's articles, another
    block in the articles of a cluster it does not match, and the two
    clusters are not one story (their articles do not match each other). A
    roundup that prints the lead of each story it collects is such a text
    even when it holds no story whole, and one quoted lead may be most of
    it. A version of one story shares at most a background paragraph with
    a sibling dispatch; an article that matches two clusters is a version
    of both, which arrival order split (`choose` links them)."""
    sentences = 0
    recurring: dict[int, set[int]] = {}
    first: dict[int, Candidate[K]] = {}
    leads: set[int] = set()
    for candidate, sim in zip(candidates, sims, strict=True):
        if not sim.recurring:
            continue
        shorter = probe.shingle_count <= candidate.record.shingle_count
        sentences = sim.short_sentences if shorter else sim.long_sentences
        recurring.setdefault(candidate.cluster, set()).update(sim.recurring)
        first.setdefault(candidate.cluster, candidate)
        theirs = sim.long_sentences if shorter else sim.short_sentences
        if is_lead(sim.their_recurring) and theirs - len(sim.their_recurring) >= QUOTED_SENTENCES:
            leads.add(candidate.cluster)
    share = max(QUOTED_SENTENCES, QUOTED_SHARE * sentences)

    def quoted(a: int, b: int, least: float) -> bool:
        return (
            len(recurring[a] - recurring[b]) >= least and len(recurring[b] - recurring[a]) >= least
        )

    unmatched = set(recurring) - set(matched)
    return any(
        (quoted(a, b, share) or (a in leads and b in leads and quoted(a, b, QUOTED_SENTENCES)))
        and not match_records(policy, first[a].record, first[b].record)
        for b in sorted(unmatched)
        for a in sorted(recurring)
        if a != b
    )


FirstMembers = Callable[[int], Awaitable[Sequence[Member[K]]]]
ReadRecord = Callable[[K], Awaitable[ArticleRecord]]


async def revealed_composites(
    policy: MatchPolicy,
    probe: Probe,
    matches: Matches[K],
    first_members: FirstMembers[K],
    read_record: ReadRecord[K],
) -> tuple[K, ...]:
    """Stored articles the new one shows to hold two stories side by side.

    A roundup that arrives before all but one of the stories it quotes finds
    only that story, and the story's lead is most of it: it joins the story
    (with one story in the index it cannot be told from a version of it).
    When an article of another story arrives, the roundup shows what it is:
    one block of its sentences recurs in the new article, another block in
    its cluster's longest other member, the two do not overlap (fewer than
    QUOTED_SENTENCES sentences in common), each is at
    least QUOTED_SENTENCES sentences on both sides and nearly all of it is
    the start of the article it recurs in (what a roundup prints of each
    story: its lead), the new article is not one story with that member,
    and the roundup does not hold that member whole (a later snapshot of a
    live file holds the earlier one, and the entry the new article matches
    besides: it stays). Such an article leaves its cluster for one of its
    own and is marked composite, as an article found composite when it is
    ingested is: no cluster takes it on one member's word again (`accepts`)
    unless it is a near-full copy of that member or another snapshot of the
    live file it is."""
    found: list[K] = []
    for quoted in matches.quoted:
        candidate, sim = quoted.candidate, quoted.sim
        # What the new article alone decides first: the cluster's members
        # are read only for a block that is the new article's lead.
        if (
            not is_lead(sim.recurring)
            or candidate.record.composite
            or any(
                m.candidate.cluster == candidate.cluster and m.candidate.key != candidate.key
                for m in matches
            )
        ):
            continue
        in_new = set(sim.their_recurring)
        others = [m for m in await first_members(candidate.cluster) if m.key != candidate.key]
        if not others:
            continue
        longest = min(others, key=lambda m: (-m.shingle_count, m.order))
        record = await read_record(longest.key)
        if judge(policy, probe, record)[1]:
            continue
        mate = compare_records(candidate.record, record)
        if candidate.record.shingle_count <= record.shingle_count:
            held, mate_sentences = mate.carried_back, mate.long_sentences
        else:
            held, mate_sentences = mate.carried, mate.short_sentences
        if held >= HELD_SHARE * mate_sentences:
            continue
        in_mate = set(mate.recurring)
        if (
            len(in_new - in_mate) >= QUOTED_SENTENCES
            and len(in_mate - in_new) >= QUOTED_SENTENCES
            # Versions of one story overlap: a cut of a middle version shares
            # sentences with the latest too. A roundup's blocks do not.
            and len(in_new & in_mate) < QUOTED_SENTENCES
            and len(mate.their_recurring) >= QUOTED_SENTENCES
            and is_lead(mate.their_recurring)
        ):
            found.append(candidate.key)
    return tuple(found)


def is_lead(sentences: Sequence[int]) -> bool:
    """Whether these sentences of a text (their positions) are its start:
    nearly all (HELD_SHARE) among its first len(sentences) + LEAD_SLACK
    (one sentence may recur by chance elsewhere, a stock phrase)."""
    start = sum(1 for s in sentences if s < len(sentences) + LEAD_SLACK)
    return bool(sentences) and start >= HELD_SHARE * len(sentences)


async def choose(
    policy: MatchPolicy,
    probe: Probe,
    matches: Matches[K],
    first_members: FirstMembers[K],
    read_record: ReadRecord[K],
) -> ClusterChoice[K]:
    """The cluster the article joins, the clusters merged into it, and the
    stored articles it shows to be composites (`revealed_composites`), which
    leave their clusters and are left out of the choice.

    Clusters are merged when the article is a near-full copy (resemblance
    >= merge_jaccard) of a member of each, or when it joins one and a member
    it matched in another matches a member it matched in the joined one
    and each cluster would take the other's member (`linked`). Otherwise it
    joins
    the cluster of its best match, but a cluster joined through a partial
    match only if confirmed: the new article is `part_of` a member it matched
    there (any of them: the best match by containment may be a copy that
    starts differently while another member holds the new article as its
    start), two versions there consent (`versions_consent`), or the
    cluster's longest member (among its first CONFIRM_MEMBERS) matched it or
    `confirms` it now, whether longer or shorter than the new article; a
    stored composite does so only for another edition of itself
    (`vouches`). A roundup that quotes a story's brief matches the brief but
    not the full story, and so stays out; so does a live blog that holds a
    brief whole but not the longer versions of the brief's story. The
    clusters of one article that are part of the new article (`fragment`),
    or that it matched and outgrows (`outgrown`), go along with it.
    """
    detach = await revealed_composites(policy, probe, matches, first_members, read_record)
    if detach:
        gone = set(detach)
        kept: Matches[K] = Matches(m for m in matches if m.candidate.key not in gone)
        kept.composite = matches.composite
        matches, read_members = kept, first_members

        async def members_left(cluster: int) -> Sequence[Member[K]]:
            return [m for m in await read_members(cluster) if m.key not in gone]

        first_members = members_left
    if not matches:
        return ClusterChoice(None, (), detach)
    best: dict[int, Verified[K]] = {}
    in_cluster: dict[int, list[Verified[K]]] = {}
    for match in matches:
        best.setdefault(match.candidate.cluster, match)
        in_cluster.setdefault(match.candidate.cluster, []).append(match)
    # Clusters of which the article is a near-full copy of a member (any:
    # the best match by containment may be a shorter member it holds).
    strong = sorted({m.candidate.cluster for m in matches if m.sim.jaccard >= policy.merge_jaccard})
    if len(strong) >= 2:
        # The oldest cluster keeps its ID so that IDs handed out stay valid
        # for as many members as possible.
        return ClusterChoice(strong[0], tuple(strong[1:]), detach)
    if matches.composite:
        # A composite is one story only with another edition of itself: a
        # near-full copy, or another snapshot of the live file it is.
        joins = strong or [m.candidate.cluster for m in matches if editions(policy, m.sim)]
        return ClusterChoice(joins[0] if joins else None, (), detach)
    # The matches that let the cluster's longest member consent by matching:
    # a stored composite matches each story it quotes, and consents to none
    # (a roundup that came first would otherwise take in the story's first
    # article, which arriving before it would have kept it out).
    matched = {m.candidate.key for m in matches if vouches(policy, m.candidate.record, m.sim)}
    # A cluster's first members are read once per decision (on Redis
    # Cluster each read is a few round trips).
    members_of: dict[int, Sequence[Member[K]]] = {}

    async def members(cluster: int) -> Sequence[Member[K]]:
        if cluster not in members_of:
            members_of[cluster] = await first_members(cluster)
        return members_of[cluster]

    async def longest_confirms(
        cluster: int,
        similarity: Callable[[ArticleRecord], Similarity],
        shingles: int,
        matched_keys: set[K],
    ) -> bool:
        """Whether the cluster's longest member (of equally long ones, the
        oldest) among its first members matched the newcomer (its key is in
        `matched_keys`) or `confirms` it now (`similarity` of the member to
        it; `shingles` its size), a composite only as another edition of
        itself; a cluster without members objects to nothing."""
        first = await members(cluster)
        if not first:
            return True
        longest = min(first, key=lambda m: (-m.shingle_count, m.order))
        if longest.key in matched_keys:
            return True
        record = await read_record(longest.key)
        sim = similarity(record)
        if not vouches(policy, record, sim):
            return False
        return record.composite or confirms(policy, sim, shingles, record.shingle_count)

    async def confirmed(cluster: int) -> bool:
        here = in_cluster[cluster]
        for m in here:
            if part_of(policy, m.sim, probe.shingle_count, m.candidate.record.shingle_count):
                return True
        if versions_consent(
            policy, probe.shingle_count, [(m.sim, m.candidate.record) for m in here]
        ):
            return True
        return await longest_confirms(
            cluster, lambda record: judge(policy, probe, record)[0], probe.shingle_count, matched
        )

    async def accepts(cluster: int, member: Candidate[K], newcomer: Candidate[K]) -> bool:
        """Whether `cluster` would take `newcomer` (an article of another
        cluster) through its member `member`, which matches it: the rule for
        a new article's partial match, applied to the link."""
        sim = compare_records(member.record, newcomer.record)
        if not vouches(policy, newcomer.record, sim):
            return False
        shorter, longer = newcomer.record.shingle_count, member.record.shingle_count
        if part_of(policy, sim, shorter, longer):
            return True
        # The members the new article matched there are the versions that
        # may consent, as they would to the newcomer arriving now.
        versions = [m.candidate.record for m in in_cluster[cluster]]
        sims = [(compare_records(newcomer.record, r), r) for r in versions]
        if versions_consent(
            policy,
            shorter,
            [(s, r) for s, r in sims if is_match(policy, s, shorter, r.shingle_count)],
        ):
            return True
        return await longest_confirms(
            cluster,
            lambda record: compare_records(record, newcomer.record),
            shorter,
            {member.key},
        )

    async def linked(joined: int, other: int) -> bool:
        """Whether another cluster the new article matched is one story with
        the one it joins: members the article matched there match, by the
        same rules, members it matched in the joined cluster, through two
        pairs that share no article, or through one pair when one of the two
        clusters, not a lone article, would take the other's member as it
        takes a new article.
        Arrival order split them (a truncated copy and an edited copy that
        are not copies of each other both came first, or a write-thru's
        versions arrived latest first); the new article finds them both, and
        the direct match shows that they are one story, not two stories
        quoted side by side in a roundup, whose members do not match each
        other."""
        pairs = [
            (a, b)
            for a in in_cluster[joined][:LINK_MATCHES]
            for b in in_cluster[other][:LINK_MATCHES]
            if match_records(policy, a.candidate.record, b.candidate.record)
        ]
        # Two links that share no member on either side: the story is seen
        # twice over in both clusters, not one article vouching for another.
        if any(
            a1.candidate.key != a2.candidate.key and b1.candidate.key != b2.candidate.key
            for i, (a1, b1) in enumerate(pairs)
            for a2, b2 in pairs[i + 1 :]
        ):
            return True
        # Twice over with the new article as one of the links: it starts with
        # a member of the other cluster (`leads`), and a member of the joined
        # cluster matches another member there.
        starts = [
            b.candidate.key
            for b in in_cluster[other][:LINK_MATCHES]
            if leads(policy, b.sim, probe.shingle_count, b.candidate.record.shingle_count)
        ]
        if any(key != b.candidate.key for key in starts for _, b in pairs):
            return True
        for a, b in pairs:
            # Either cluster may vouch for the other's member, but not a
            # lone article: it takes any article that matches it, a
            # roundup included.
            if (
                len(await members(joined)) > 1 and await accepts(joined, a.candidate, b.candidate)
            ) or (len(await members(other)) > 1 and await accepts(other, b.candidate, a.candidate)):
                return True
        return False

    async def fragment(cluster: int) -> bool:
        """Whether the cluster is one article, and that article is part of
        the new one (its truncated copy, an excerpt under its start): had
        the new article come first, that one would have joined it without
        confirmation, whatever cluster the new article is in. Not a page of
        the new article's source: two of its pages start alike by its chrome.
        Not a composite, unless the new article is another edition of it."""
        [match, *_] = in_cluster[cluster]
        record = match.candidate.record
        # The members last: on Redis Cluster reading them is round trips.
        return (
            not match.sim.same_source
            and vouches(policy, record, match.sim)
            and part_of(policy, match.sim, record.shingle_count, probe.shingle_count)
            and len(await members(cluster)) == 1
        )

    async def longest_of(clusters: Sequence[int]) -> bool:
        """Whether the new article is longer than each of these clusters'
        first members: the longest member of the cluster they make with it."""
        for cluster in clusters:
            if any(m.shingle_count >= probe.shingle_count for m in await members(cluster)):
                return False
        return True

    async def outgrown(other: int) -> bool:
        """Whether the other cluster is one article that would join the
        cluster the new article makes had it arrived now, after it: it matched
        the new article, which is that cluster's longest member
        (`longest_of`, checked by the caller), and the longest member's match
        confirms a join (`longest_confirms`). Arrival order alone kept it
        out: it came before the version that carries it. Not a composite,
        which takes no article in on its own match, and not a page of the new
        article's source, as for `fragment`."""
        [match, *_] = in_cluster[other]
        return (
            not match.sim.same_source
            and not match.candidate.record.composite
            and len(await members(other)) == 1
        )

    # Fragments of the new article do not compete for it: it joins the
    # story it is a version of, and takes its fragments along. With one
    # cluster matched there is nothing to compete with or take along.
    fragments = {c for c in best if await fragment(c)} if len(best) > 1 else set()

    def part_of_member(cluster: int) -> bool:
        return any(
            part_of(policy, m.sim, probe.shingle_count, m.candidate.record.shingle_count)
            for m in in_cluster[cluster]
        )

    # A truncated copy joins the story whose start it is before a longer text
    # that merely holds it (a roundup that quotes the story's lead after
    # another story's, arrived before the story).
    ranked = sorted(best, key=lambda c: (c in fragments, not part_of_member(c)))
    for cluster in ranked:
        match = best[cluster]
        if match.sim.jaccard >= policy.merge_jaccard or await confirmed(cluster):
            merged = [
                c for c in best if c != cluster and (c in fragments or await linked(cluster, c))
            ]
            others = [c for c in best if c != cluster and c not in merged]
            lone = [c for c in others if await outgrown(c)]
            if lone and await longest_of([cluster, *merged]):
                merged += lone
            if not merged:
                return ClusterChoice(cluster, (), detach)
            # The biggest keeps its ID (the joined one of equals), so that the
            # IDs handed out stay valid for as many members as possible (which
            # is older is not known from IDs on every store). Only then are the
            # members read: on Redis Cluster each read is a few round trips.
            together = [cluster, *merged]
            sizes = [len(await members(c)) for c in together]
            keeper = together[sizes.index(max(sizes))]
            return ClusterChoice(keeper, tuple(c for c in together if c != keeper), detach)
    return ClusterChoice(None, (), detach)


def leads(policy: MatchPolicy, sim: Similarity, shingles: int, member_shingles: int) -> bool:
    """Whether a matched member, not longer than the new article (`shingles`),
    is mostly the new article's start: most of its sentences recur there, and
    most of those among the new article's first (a brief under its
    write-thru, its paragraphs edited, below a new top of at most LEAD_SLACK
    sentences)."""
    return (
        member_shingles <= shingles
        and shorter_mostly_carried(policy, sim)
        and sim.carried_lead >= policy.min_carried * sim.carried
    )


def vouches(policy: MatchPolicy, record: ArticleRecord, sim: Similarity) -> bool:
    """Whether a stored article's match (`sim`) may vouch for the article
    it matched: any article's may, a composite's (a roundup, a digest, a
    live file) only for another edition of itself (`editions`), since it
    matches each story it quotes and is none of them."""
    return not record.composite or editions(policy, sim)


def editions(policy: MatchPolicy, sim: Similarity) -> bool:
    """Whether a composite (a roundup, a digest, a live file) and an article
    with this similarity are one story: another edition of the composite, a
    near-full copy or another snapshot of the live file it is. It matches
    each story it quotes, and is none of them."""
    return sim.jaccard >= policy.merge_jaccard or snapshots_of_one_file(policy, sim)


# Matches per cluster compared with each other when looking for a link.
LINK_MATCHES = 3


def versions_consent(
    policy: MatchPolicy, shingles: int, matched: Sequence[tuple[Similarity, ArticleRecord]]
) -> bool:
    """Whether two versions of a story consent to an article (`shingles`)
    joining it, from the article's matches among the story's members (its
    similarity to each, best first): one of them, not shorter than it, is
    mostly its sentences as it is mostly the member's (a version between
    them), and another of its LINK_MATCHES best is no near-full copy of that
    one. Versions drift: the longest member, the latest, may share little
    with an early brief. A roundup made mostly of one story's lead is mostly
    that lead's truncated copy, but matches no other version of the story."""
    firsts = [record for _, record in matched[:LINK_MATCHES]]
    return any(
        record.shingle_count >= shingles
        and mostly_each_other(policy, sim)
        and any(
            other is not record and compare_records(record, other).jaccard < policy.merge_jaccard
            for other in firsts
        )
        for sim, record in matched
    )


def reported(
    matches: Sequence[Verified[K]],
    choice: ClusterChoice[K],
    cluster: int,
    limit: int,
    detached: Sequence[int] = (),
) -> tuple[MatchInfo, ...]:
    """The matches to report, with the clusters they are in after the merge
    and the detachments (`detached`: the cluster each of choice.detach now
    forms, in its order)."""
    moved = dict(zip(choice.detach, detached, strict=True))

    def now(m: Verified[K]) -> int:
        if m.candidate.key in moved:
            return moved[m.candidate.key]
        return cluster if m.candidate.cluster in choice.merge else m.candidate.cluster

    return tuple(m.reported(now(m)) for m in matches[:limit])


__all__ = [
    "CONFIRM_MEMBERS",
    "Candidate",
    "ClusterChoice",
    "Member",
    "Verified",
    "choose",
    "reported",
    "revealed_composites",
    "verify",
]

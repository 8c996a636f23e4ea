"""Fingerprints: normalisation, shingles, and MinHash signatures identical
to datasketch's for the same parameters."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st
from storydedup.fingerprints.fingerprint import (
    EmptyTextError,
    Fingerprinter,
    FingerprintSettings,
    headline_key,
)
from storydedup.fingerprints.minhash import MinHasher
from storydedup.fingerprints.passages import MAX_PASSAGE_REFS, SENTENCE_VALUES, sentence_count
from storydedup.fingerprints.shingles import shingle_hash, shingle_hashes, shingle_texts
from storydedup.fingerprints.text import (
    TOKENIZERS,
    Tokenizer,
    tokenizer,
    words,
    words_and_ngrams,
)

from tests.support import articles


@pytest.mark.parametrize(("num_perm", "seed", "size"), [(128, 1, 4), (64, 7, 3), (256, 42, 5)])
def test_signature_is_datasketchs(num_perm: int, seed: int, size: int) -> None:
    tokens = words(articles.text(articles.story(seed, paragraphs=6)))
    ours = MinHasher(num_perm, seed).signature(shingle_hashes(tokens, size))
    reference = MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash)
    reference.update_batch(shingle_texts(tokens, size))
    assert reference.hashvalues.dtype == np.uint32
    assert np.array_equal(ours, reference.hashvalues)


def test_signature_is_datasketchs_beyond_the_tiled_rows() -> None:
    # Texts longer than minhash._TILED_ROWS shingles take the broadcasting path.
    tokens = words(articles.text(articles.story(11, paragraphs=8) * 12))
    hashes = shingle_hashes(tokens, 4)
    assert len(hashes) > 2048
    ours = MinHasher(128, 1).signature(hashes)
    reference = MinHash(num_perm=128, seed=1, hashfunc=shingle_hash)
    reference.update_batch(shingle_texts(tokens, 4))
    assert np.array_equal(ours, reference.hashvalues)


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=400), st.sampled_from(TOKENIZERS))
def test_signature_is_datasketchs_on_any_text(text: str, name: Tokenizer) -> None:
    tokens = tokenizer(name)(text)
    ours = MinHasher(32, 3).signature(shingle_hashes(tokens, 4))
    reference = MinHash(num_perm=32, seed=3, hashfunc=shingle_hash)
    reference.update_batch(shingle_texts(tokens, 4))
    assert np.array_equal(ours, reference.hashvalues)


def test_typography_and_layout_do_not_change_words() -> None:
    plain = 'He said "it\'s done" - then left.\nThe end'
    fancy = "He  said “it’s done” — then left. The\u00a0end"
    assert (
        words(plain)
        == words(fancy)
        == [b"he", b"said", b"its", b"done", b"then", b"left", b"the", b"end"]
    )
    assert words("ＦＵＬＬ width") == [b"full", b"width"]  # NFKC
    assert words("Ça déjà vu, नमस्ते") == ["ça".encode(), "déjà".encode(), b"vu", "नमस्ते".encode()]


def test_unspaced_scripts_become_character_ngrams() -> None:
    def tokens(text: str) -> list[str]:
        return [t.decode() for t in words_and_ngrams(text)]

    # Latin or digits glued to Han stay words; a one-character run stays whole.
    glued = ["jr", "東日", "日本", "本は", "2006", "年春", "春に"]
    assert tokens("JR東日本は、2006年春に") == glued
    assert tokens("ｼﾝｶﾝｾﾝ 北") == ["シン", "ンカ", "カン", "ンセ", "セン", "北"]  # NFKC first
    # Thai letters (with their marks) in 4-grams, about a word each.
    assert tokens("ภาษาไทย") == ["ภาษา", "าษาไ", "ษาไท", "าไทย"]
    assert tokens("ไทย 北京") == ["ไทย", "北京"]
    # Spaced scripts, Hangul included, keep their words.
    spaced = "Ça déjà vu, नमस्ते, 한국어 기사 и русский"
    assert words_and_ngrams(spaced) == words(spaced)


def test_a_changed_character_costs_a_few_shingles_not_a_clause() -> None:
    """With words, an unspaced clause is one token: one changed character
    loses every shingle the clause is in. With n-grams it loses about five."""
    original = (
        "海上保安庁は東京都小笠原村の沖ノ鳥島に無人の灯台を設置することを決定した。"
        "同庁によると、灯台は来年春までに完成する見込みで、周辺を航行する漁船の安全確保に役立てる。"
        "沖ノ鳥島は日本最南端の島で、周辺の排他的経済水域をめぐっては中国などが異論を唱えている。"
    )
    edited = original.replace("来年春", "来年夏").replace("漁船", "船舶")

    def resemblance(tokenize: Callable[[str], list[bytes]]) -> float:
        a, b = (set(shingle_hashes(tokenize(text), 4).tolist()) for text in (original, edited))
        return len(a & b) / len(a | b)

    assert resemblance(words) < 0.1
    assert resemblance(words_and_ngrams) > 0.7


def test_short_text_is_one_shingle_and_empty_text_is_refused() -> None:
    assert len(shingle_hashes(words("two words"), 4)) == 1
    with pytest.raises(EmptyTextError):
        Fingerprinter(FingerprintSettings()).probe("... --- !!!")


def test_probe_layout() -> None:
    settings_ = FingerprintSettings()
    probe = Fingerprinter(settings_).probe(articles.text(articles.story(5, paragraphs=4)))
    assert len(probe.signature) == settings_.num_perm
    # The bands' buckets, then those of the sampled sentences (and of the
    # headline, when there is one).
    bands = settings_.banding.bucket_count
    assert bands < len(probe.bucket_refs) <= bands + MAX_PASSAGE_REFS
    assert all(len(ref) == 6 for ref in probe.bucket_refs)
    assert len(probe.passages) == SENTENCE_VALUES * sentence_count(probe.passages) > 0
    assert len(probe.prefix) % 16 == 0 and len(probe.prefix) // 16 >= 4


def test_a_headline_is_named_without_its_sites_name_case_or_typography() -> None:
    key = headline_key("Trump sets expectations low for Helsinki summit with Putin")
    assert key != 0
    for title in (
        "Trump sets expectations low for Helsinki summit with Putin | Charlotte Observer",
        "WTOP News - TRUMP SETS EXPECTATIONS LOW FOR HELSINKI SUMMIT WITH PUTIN",
        "Trump sets expectations low for Helsinki summit with Putin \u2014 Politics \u2014 Ｋ5",
    ):
        assert headline_key(title) == key, title
    assert headline_key("Trump sets expectations high for Helsinki summit with Putin") != key
    # Labels are no headlines.
    assert headline_key("Print") == headline_key("Live updates | CNN") == headline_key("") == 0
    # Headlines in scripts without spaces count their character n-grams.
    chinese = "特朗普与普京在赫尔辛基会晤"
    assert headline_key(f"{chinese} - 新华网") == headline_key(chinese) != 0


def test_a_headline_is_a_bucket_of_its_own() -> None:
    fingerprinter = Fingerprinter(FingerprintSettings())
    text = articles.text(articles.story(5, paragraphs=4))
    plain = fingerprinter.probe(text)
    titled = fingerprinter.probe(text, title="A headline of a few words | Site")
    other = fingerprinter.probe(text[: len(text) // 2], title="A headline of a few words")
    assert plain.headline_key == 0 and titled.headline_key == other.headline_key != 0
    [extra] = set(titled.bucket_refs) - set(plain.bucket_refs)
    assert extra in other.bucket_refs


def test_banding_catches_copies_and_rarely_strangers() -> None:
    banding = FingerprintSettings().banding
    assert banding.candidate_probability(0.4) > 0.9
    # A short truncated copy's lead sketch against its story's (27 of 40 shingles).
    assert banding.candidate_probability(27 / 40, lead=True) > 0.97
    assert banding.candidate_probability(0.02) < 0.01
    fp = Fingerprinter(FingerprintSettings())
    story = articles.story(9, paragraphs=8)
    copy = fp.probe(articles.text(articles.edited(story, 2, 0.05)))
    original = fp.probe(articles.text(story))
    stranger = fp.probe(articles.text(articles.story(10, paragraphs=8)))
    assert set(copy.bucket_refs) & set(original.bucket_refs)
    assert not set(stranger.bucket_refs) & set(original.bucket_refs)


def test_probe_signature_is_the_minhash_of_the_shingle_set() -> None:
    text = articles.text(articles.story(3, paragraphs=5) * 2)  # repeated shingles
    settings_ = FingerprintSettings()
    probe = Fingerprinter(settings_).probe(text)
    distinct = np.unique(shingle_hashes(words(text), settings_.shingle_size))
    expected = MinHasher(settings_.num_perm, settings_.seed).signature(distinct)
    assert probe.signature == (expected & 0xFF).astype(np.uint8).tobytes()
    assert probe.shingle_count == len(distinct)

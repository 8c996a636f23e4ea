"""The one-pass shortcuts of cleaning and fingerprinting give what the plain paths give.

Fingerprinting tokenises a text once, sentence by sentence (passages.text_words), and cleaning
remembers what it read from recent lines (cleaning/line_cache.py); bench/against_base.py checks
both against a base commit on every real page. These are the cases that could tell them apart.
"""

from __future__ import annotations

import random
import re

import pytest
from storydedup.cleaning import page_text
from storydedup.cleaning.article import story_from_text
from storydedup.cleaning.chrome import ChromeModel, line_key, line_keys
from storydedup.cleaning.page_text import clean_page_lines, clean_page_text
from storydedup.fingerprints.passages import _split_sentences, sentences, text_words
from storydedup.fingerprints.text import TOKENIZERS, Tokenizer, tokenizer

from tests.support import articles

# The sentence split as it was written first: a look-behind at every character.
_LOOK_BEHIND_SPLIT = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"'”’)])\s+|(?<=[。！？])")

TRICKY = [
    "",
    "One.  Two!\u00a0Three?\u3000Four",
    'He said "no." Then left.) Next "one"! \u2028Last',
    "日本語の文。次の文！三つ目？終わり。",
    "。。。",
    "Ends with space. ",
    "A.\n\n\nB\n\n* * *\n\n™™\n\n. . .\n\nC.",
    # NFKC's compatibility forms: half-width katakana, a Kangxi radical among spaced words
    # (unspaced once normalised, not before), a combining mark opening a sentence.
    "ｶﾀｶﾅ text. \u2f00 radical here. \u0301accent after a stop. 東京 2020年.",
    # The private-use character the one-pass tokeniser joins sentences with.
    "Private \ue000 use. In the text \ue000 itself.",
    "Hangul \u1100\u1161 jamo. \u1161 vowel first. กขคง ภาษาไทย. Straße ǅ ﬁ.",
]


@pytest.mark.parametrize("text", TRICKY)
def test_sentences_split_as_by_the_look_behind(text: str) -> None:
    for paragraph in text.split("\n\n"):
        assert _split_sentences(paragraph) == _LOOK_BEHIND_SPLIT.split(paragraph)


@pytest.mark.parametrize("name", TOKENIZERS)
@pytest.mark.parametrize("text", TRICKY)
def test_one_pass_gives_the_text_tokens_and_the_sentences(name: Tokenizer, text: str) -> None:
    tokenize = tokenizer(name)
    words = text_words(text, name)
    assert words.tokens == tokenize(text)
    assert words.sentences == sentences(text, tokenize)
    if words.starts is not None:
        for (_, tokens), start in zip(words.sentences, words.starts, strict=True):
            if tokens:
                assert words.tokens[start : start + len(tokens)] == tokens


def test_one_pass_on_random_text() -> None:
    alphabet = list("ab .!?。！？\"'”’)\n\u00a0\u0301字ひ한กx1-™\u00ad\ue000\u2f00ｶ")
    rng = random.Random(17)
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        for name in TOKENIZERS:
            words = text_words(text, name)
            assert words.tokens == tokenizer(name)(text), text
            assert words.sentences == sentences(text, tokenizer(name)), text


def test_a_line_is_cleaned_the_same_read_or_remembered() -> None:
    story = articles.story(5, paragraphs=6)
    page = "\n".join(["Home", "World", "  Sport  ", *story, "Latest News", "Home"])
    page_text.clear_caches()
    fresh = clean_page_text(page, "A headline")
    assert clean_page_text(page, "A headline") == fresh
    assert clean_page_lines(page.split("\n"), "A headline") == fresh
    page_text.clear_caches()
    assert clean_page_lines(page.split("\n"), "A headline") == fresh


def test_line_keys_are_line_key_remembered_or_not() -> None:
    lines = ["Home", "", "  HOME ", "x" * 5000, "Home", "x" * 5000]
    first = line_keys(lines)
    assert first == tuple(line_key(line) for line in lines)
    assert line_keys(lines) == first


def test_lines_left_after_learned_chrome_clean_as_their_text() -> None:
    # Learned chrome hands the cleaner the remaining lines, not a text joined from them.
    story = articles.story(9, paragraphs=5)
    chrome = ChromeModel(min_clusters=1)
    menu = ["Home", "World", "Business\u2028Markets"]
    chrome.learn("example.com", line_keys(menu), 1)
    page = "\n".join([*menu, *story])
    cleaned = story_from_text(page, "", "example.com", chrome)
    assert cleaned.chrome_keys
    kept = [line for line in page.splitlines() if line_key(line) not in cleaned.chrome_keys]
    assert cleaned.text == clean_page_text("\n".join(kept)).text

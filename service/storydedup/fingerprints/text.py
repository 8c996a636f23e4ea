"""Text normalisation: the same story must give the same words whatever the
outlet did to its typography (NFKC forms, case, curly or straight quotes,
dashes, line wrapping)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Literal

# How a namespace cuts text into the units its shingles are made of; fixed
# per namespace (StoreSettings.tokenizer), since the same text cut another
# way gives other fingerprints.
# - "words": runs of letters and digits. Text without spaces between words
#   (Chinese, Japanese, Thai) becomes one "word" per clause, so a 4-word
#   shingle spans four clauses and one changed character loses all of them.
# - "ngrams": as "words", but runs of those scripts become overlapping
#   character n-grams of about a word each: bigrams of Han and kana (a Han
#   character is a morpheme, most words are two), 4-grams of the alphabetic
#   scripts (Thai, Lao, Khmer, Myanmar letters with their vowel and tone
#   marks). A 4-unit shingle of Chinese is then a 5-character window, and a
#   changed character costs 5 shingles, as a changed word costs 4 in spaced
#   text (docs/matching.md, "Text without spaces").
Tokenizer = Literal["words", "ngrams"]
TOKENIZERS: tuple[Tokenizer, ...] = ("words", "ngrams")
DEFAULT_TOKENIZER: Tokenizer = "ngrams"
# What a tokenizer does: text -> its units, as UTF-8 bytes, in order.
Tokenize = Callable[[str], list[bytes]]

# Apostrophes vanish ("Pompeo's" and "Pompeo’s" both give "pompeos"); all
# other punctuation, quotes and dashes included, only separates words.
_APOSTROPHES = ("'", "\u2019", "\u2018", "\u02bc", "`", "\u00ad")
# Byte table that turns every ASCII character except letters and digits into
# a space and leaves UTF-8 bytes of other characters alone: splitting the
# result is ~10x faster than a Unicode word regex over the whole text.
_ASCII_SEPARATORS = bytes(
    c if (48 <= c <= 57 or 97 <= c <= 122 or c >= 128) else 32 for c in range(256)
)
# Deleting these from UTF-8 leaves exactly the bytes of non-ASCII characters.
_ASCII = bytes(range(128))


# Scripts written without spaces between words. Syllabic or logographic:
# Hiragana, Katakana (with the prolonged sound mark), Han and its marks
# (々 〆 〇), and the Han extension planes. Alphabetic: Thai, Lao, Myanmar,
# Khmer. Hangul is spaced and keeps words.
_SYLLABIC = "\u3005-\u3007\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_ALPHABETIC = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"
_SYLLABIC_UNIT = 2
_ALPHABETIC_UNIT = 4
_HAS_UNSPACED = re.compile(f"[{_SYLLABIC}{_ALPHABETIC}]")
# Before NFKC: also the compatibility forms that normalise into those scripts
# (half-width katakana, squared katakana words).
_MAY_HAVE_UNSPACED = re.compile(f"[{_SYLLABIC}{_ALPHABETIC}\\u3200-\\u33ff\\uff66-\\uff9f]")
# A token as runs: of a syllabic script, of an alphabetic one, or of anything
# else (Latin letters or digits glued to them, as in "jr東日本" or "2020年").
_RUNS = re.compile(f"([{_SYLLABIC}]+)|([{_ALPHABETIC}]+)|[^{_SYLLABIC}{_ALPHABETIC}]+")


def _is_word_char(char: str) -> bool:
    # Combining marks count: Devanagari vowel signs are part of their word.
    return char.isalnum() or unicodedata.category(char).startswith("M")


def normalize(text: str) -> str:
    """NFKC, case-folded, without apostrophes."""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    text = text.casefold()
    for mark in _APOSTROPHES:
        if mark in text:
            text = text.replace(mark, "")
    return text


def as_tokenizer(name: str) -> Tokenizer:
    """`name` as a Tokenizer; ValueError when it names none."""
    for known in TOKENIZERS:
        if name == known:
            return known
    raise ValueError(f"{name!r} is not one of {', '.join(TOKENIZERS)}")


def tokenizer(name: Tokenizer) -> Tokenize:
    """The tokenising function a namespace's `tokenizer` setting names."""
    if name == "words":
        return words
    if name == "ngrams":
        return words_and_ngrams
    raise ValueError(f"{name!r} is not one of {', '.join(TOKENIZERS)}")


def words_and_ngrams(text: str) -> list[bytes]:
    """`words`, with each run of a script written without spaces replaced by
    its overlapping character n-grams (a run no longer than one stays whole)."""
    tokens = words(text)
    return _ngrams(tokens) if _may_have_unspaced(text) else tokens


def _may_have_unspaced(text: str) -> bool:
    return not text.isascii() and _MAY_HAVE_UNSPACED.search(text) is not None


def _ngrams(tokens: list[bytes]) -> list[bytes]:
    """The tokens with each run of a script written without spaces cut into n-grams; a token
    is cut alike wherever it stands."""
    out: list[bytes] = []
    for token in tokens:
        if token.isascii():
            out.append(token)
            continue
        decoded = token.decode("utf-8")
        if _HAS_UNSPACED.search(decoded) is None:
            out.append(token)
            continue
        for run in _RUNS.finditer(decoded):
            piece = run.group()
            unit = (
                _SYLLABIC_UNIT
                if run.group(1) is not None
                else _ALPHABETIC_UNIT
                if run.group(2) is not None
                else len(piece)
            )
            if len(piece) <= unit:
                out.append(piece.encode("utf-8"))
            else:
                out.extend(
                    piece[i : i + unit].encode("utf-8") for i in range(len(piece) - unit + 1)
                )
    return out


# Parts of a text are tokenised in one pass, joined by a private-use character between spaces:
# a character NFKC and case folding leave alone and produce from nothing else, that composes
# with nothing (the spaces around it, starters, keep each part's normalisation its own), and
# that the pass below keeps as a token of its own to split the tokens at.
_PART_MARK = "\ue000"
_PART_JOIN = f" {_PART_MARK} "
_PART_TOKEN = _PART_MARK.encode("utf-8")


def _words_of_parts(parts: Sequence[str]) -> list[list[bytes]]:
    """[words(part) for part in parts], normalised and split in one pass."""
    joined = _PART_JOIN.join(parts)
    if len(parts) < 2 or joined.count(_PART_MARK) != len(parts) - 1:
        return [words(part) for part in parts]
    tokens = _words(joined, keep=_PART_MARK)
    out: list[list[bytes]] = []
    at = 0
    for _ in range(len(parts) - 1):
        end = tokens.index(_PART_TOKEN, at)
        out.append(tokens[at:end])
        at = end + 1
    out.append(tokens[at:])
    return out


def tokenize_parts(
    whole: str, parts: Sequence[str], name: Tokenizer
) -> tuple[list[bytes], list[list[bytes]], bool]:
    """tokenizer(name) of `whole` and of each of `parts`, normalised in one pass, and whether
    the tokens of `whole` are those of the parts one after another.

    `whole` must be the parts in order with whitespace between them, or nothing after a
    "。", "！" or "？": separators all, and boundaries that NFKC does not compose across, so
    that the words of `whole` are those of its parts (and an n-gram cut happens within a
    word). Only a part that looks free of unspaced scripts before NFKC while `whole` does
    not (a Kangxi radical among spaced words, say) can be cut otherwise than `whole` is."""
    raw = _words_of_parts(parts)
    if name == "words" or not _may_have_unspaced(whole):
        return [token for tokens in raw for token in tokens], raw, True
    cut = [_ngrams(tokens) for tokens in raw]
    per_part = [c if _may_have_unspaced(p) else r for p, r, c in zip(parts, raw, cut, strict=True)]
    aligned = all(p is c or p == c for p, c in zip(per_part, cut, strict=True))
    return [token for tokens in cut for token in tokens], per_part, aligned


def words(text: str) -> list[bytes]:
    """The normalised words of `text` as UTF-8 bytes, in order: runs of
    letters and digits."""
    return _words(text)


def _words(text: str, keep: str = "") -> list[bytes]:
    """words(text), with the character `keep` (not a word character) kept as a token."""
    normalized = normalize(text)
    raw = normalized.encode("utf-8")
    if not normalized.isascii():
        # Non-ASCII punctuation and symbols (curly quotes, dashes, ©) become
        # spaces here; what is left outside ASCII belongs inside words. The
        # distinct characters come from the non-ASCII bytes alone (a byte
        # deletion, ~8x cheaper than a regex scan), and replacing a whole
        # character's UTF-8 bytes cannot touch any other character.
        for char in set(raw.translate(None, _ASCII).decode("utf-8")):
            if not _is_word_char(char) and char != keep:
                raw = raw.replace(char.encode("utf-8"), b" ")
    return raw.translate(_ASCII_SEPARATORS).split()

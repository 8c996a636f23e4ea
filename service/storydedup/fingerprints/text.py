"""Text normalisation: the same story must give the same words whatever the
outlet did to its typography (NFKC forms, case, curly or straight quotes,
dashes, line wrapping)."""

from __future__ import annotations

import unicodedata

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


def words(text: str) -> list[bytes]:
    """The normalised words of `text` as UTF-8 bytes, in order: runs of
    letters and digits."""
    normalized = normalize(text)
    raw = normalized.encode("utf-8")
    if not normalized.isascii():
        # Non-ASCII punctuation and symbols (curly quotes, dashes, ©) become
        # spaces here; what is left outside ASCII belongs inside words. The
        # distinct characters come from the non-ASCII bytes alone (a byte
        # deletion, ~8x cheaper than a regex scan), and replacing a whole
        # character's UTF-8 bytes cannot touch any other character.
        for char in set(raw.translate(None, _ASCII).decode("utf-8")):
            if not _is_word_char(char):
                raw = raw.replace(char.encode("utf-8"), b" ")
    return raw.translate(_ASCII_SEPARATORS).split()

"""Tests of the text helpers and the scoring of bench/multilingual.py, and of the character
shingles of bench/baseline.py (no data files needed)."""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime
from pathlib import Path

# bench/ is a directory of scripts, not an installed package: import it from the repository.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.baseline import DatasketchBaseline, char_shingles
from bench.corpus import BenchArticle
from bench.multilingual import (
    MultilingualCorpus,
    Record,
    edited_copy,
    make_outlets,
    render_page,
    score_multilingual,
    split_sentences,
    swap_quotes,
    swap_width,
    truncated_copy,
)


def test_char_shingles_ignore_width_case_and_spaces() -> None:
    assert char_shingles("ＡＢＣ ２０２０年") == char_shingles("abc2020年")
    assert char_shingles("東京") == ["東京".encode()]
    clusters = DatasketchBaseline(shingler=char_shingles).ingest(
        [
            ("a", "東京都は本日、新しい計画を発表した。"),
            ("b", "東京都は本日、新しい計画を発表した。"),
        ]
    )
    assert clusters["b"] == "a"


def test_sentences() -> None:
    assert split_sentences("彼は「行く。」と言った。雨だ！本当？", "ja") == [
        "彼は「行く。」",
        "と言った。",
        "雨だ！",
        "本当？",
    ]
    assert split_sentences("Er kam. Sie ging! Wer? Ende", "de") == [
        "Er kam.",
        "Sie ging!",
        "Wer?",
        "Ende",
    ]
    assert split_sentences("वह आया। वह गया।", "hi") == ["वह आया।", "वह गया।"]


def test_width_and_quotes() -> None:
    assert swap_width("２０２０年ＡＢＣ") == "2020年ABC"
    assert swap_width("2020年ABC") == "２０２０年ＡＢＣ"
    assert swap_quotes("彼は「はい」と言った", "ja") == "彼は『はい』と言った"
    assert swap_quotes("他说“好”", "zh") == "他说「好」"
    assert swap_quotes('He said "yes" and "no"', "ar") == "He said «yes» and «no»"


def _record(lang: str) -> Record:
    sentences = [f"第{i}の文です。" for i in range(12)]
    paragraphs = tuple(tuple(sentences[i : i + 3]) for i in range(0, 12, 3))
    return Record(f"{lang}-ntrex-doc1", lang, "見出し", paragraphs)


def test_copies() -> None:
    record = _record("ja")
    rng = random.Random(1)
    truncated = truncated_copy(record, rng)
    kept = "".join(truncated)
    assert 0.4 * len(record.body.replace("\n\n", "")) <= len(kept) < len(record.body)
    assert record.body.replace("\n\n", "").startswith(kept)
    edited, done = edited_copy(record, datetime(2018, 9, 24, tzinfo=UTC), rng)
    assert len(edited) == len(record.paragraphs) - 1
    assert edited[0].startswith(str(done["dateline"]))
    outlets = make_outlets(
        "ja", ["他の記事A", "他の記事B", "他の記事C", "他の記事D", "他の記事E", "F"], rng
    )
    assert any(o.latin for o in outlets)
    html, text = render_page(outlets[0], "見出し<&>", record.texts())
    assert "見出し&lt;&amp;&gt;" in html
    assert "見出し<&>" in text and record.texts()[1] in text


def _article(article_id: str, story: str, kind: str) -> BenchArticle:
    at = datetime(2018, 9, 24, tzinfo=UTC)
    return BenchArticle(article_id, story, kind, "s", "t", "", "", "", at, story)


def test_scoring_per_language_and_across() -> None:
    articles = [
        _article("zh-1", "ml-zh-00", "original"),
        _article("zh-2", "ml-zh-00", "chrome"),
        _article("zh-3", "ml-zh-00", "truncated"),
        _article("ja-1", "ml-ja-00", "original"),
        _article("ja-2", "ml-ja-00", "edited"),
    ]
    corpus = MultilingualCorpus(
        articles,
        {a.article_id: a.article_id.split("-")[0] for a in articles},
        {"zh-2": "zh-1", "zh-3": "zh-1", "ja-2": "ja-1"},
        {"ml-zh-00": "doc1", "ml-ja-00": "doc1"},
        {},
    )
    # The Japanese translation joined the Chinese story; the truncated copy is apart.
    predicted = {"zh-1": "c1", "zh-2": "c1", "zh-3": "c2", "ja-1": "c1", "ja-2": "c1"}
    languages, cross = score_multilingual(corpus, predicted)
    assert languages["zh"].kind_recall["chrome"] == 1.0
    assert languages["zh"].kind_recall["truncated"] == 0.0
    assert languages["ja"].kind_recall["edited"] == 1.0
    assert languages["zh"].scores.pairs.tp == 1 and languages["zh"].scores.pairs.fn == 2
    assert (cross.clusters, cross.translations) == (1, 1)

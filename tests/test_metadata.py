"""What is kept of an article besides its fingerprint: title, URL, source and
attributes, deflated when that is shorter."""

from storydedup.api import convert
from storydedup.v1 import storydedup_pb2 as pb


def _article(**fields: object) -> pb.Article:
    return pb.Article(id="a1", text="Some words.", **fields)  # type: ignore[arg-type]


def test_typical_metadata_is_stored_shorter_and_reads_back_whole() -> None:
    article = _article(
        url="https://www.harbourherald.example/world/2026/05/01/talks-on-the-border-resume-after-ceasefire",
        source="harbourherald.example",
        attributes={"lang": "en", "feed": "wire/ap", "tag": "Zürich – €"},
    )
    stored = convert.metadata(article, "Talks on the border resume after ceasefire")
    plain = pb.ArticleRecord(
        title="Talks on the border resume after ceasefire", url=article.url, source=article.source
    )
    plain.attributes.update(article.attributes)
    assert len(stored) < len(plain.SerializeToString()) - 30
    assert convert.read_metadata(stored) == plain


def test_metadata_too_short_to_gain_is_stored_plain() -> None:
    stored = convert.metadata(_article(source="s"), "T")
    assert stored == pb.ArticleRecord(title="T", source="s").SerializeToString()
    assert convert.read_metadata(stored).title == "T"


def test_metadata_stored_plain_by_earlier_versions_still_reads() -> None:
    old = pb.ArticleRecord(title="Old", url="https://old.example/a/very/long/path/" * 3)
    assert convert.read_metadata(old.SerializeToString(deterministic=True)) == old
    assert convert.read_metadata(b"") == pb.ArticleRecord()

"""Regression tests of matching in Chinese and Japanese, written without spaces
between words: real NTREX-128 news texts (tests/fixtures/multilingual/, CC
BY-SA 4.0, licence beside them) in outlets' chrome, edited and truncated the way
republication edits them, through the real pipeline on the in-process store."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.support.pipeline import Pipeline

FIXTURES = Path(__file__).parent / "fixtures" / "multilingual" / "ntrex.json"
TSUNAMI = "ja-ntrex-nytimes.184837"
ARREST = "ja-ntrex-dailymail.co.uk.298732"
HEARING = "zh-ntrex-cbsnews.248384"
SENATORS = "zh-ntrex-cbsnews.248471"
INQUIRY = "zh-ntrex-telegraph.405413"

_RECORDS = {r["id"]: r for r in json.loads(FIXTURES.read_text(encoding="utf-8"))}
_SENTENCE = re.compile(r"[^。！？]+[。！？]+[」』”）)]*")


def title(record_id: str) -> str:
    return str(_RECORDS[record_id]["title"])


def sentences(record_id: str) -> list[str]:
    return _SENTENCE.findall(_RECORDS[record_id]["text"])


def paragraphs(record_id: str, per_paragraph: int = 3) -> list[str]:
    """The story in paragraphs of three sentences (the records keep none)."""
    found = sentences(record_id)
    return ["".join(found[i : i + per_paragraph]) for i in range(0, len(found), per_paragraph)]


def page(site: str, nav: str, headline: str, body: list[str], aside: list[str], foot: str) -> str:
    """A page's visible text: site name, menu, headline, body, a list of other
    stories, footer."""
    return "\n".join([site, nav, headline, *body, *aside, foot])


JA_OTHER = ["自民、296議席の大勝", "台風14号、九州に上陸へ", "日経平均、4日続伸", "新型車両を公開"]
ZH_OTHER = ["央行下调存款准备金率", "台风“山竹”登陆广东", "大飞机完成首飞", "股市收盘小幅上涨"]


def japanese_page(record_id: str, body: list[str]) -> str:
    return page(
        "東都新聞",
        "トップ 国内 国際 経済 スポーツ 文化 科学 天気 オピニオン",
        title(record_id),
        body,
        ["よく読まれている記事", *JA_OTHER],
        "会社概要 | お問い合わせ | プライバシーポリシー | 利用規約",
    )


def chinese_page(site: str, record_id: str, body: list[str]) -> str:
    return page(
        site,
        "首页 国内 国际 财经 体育 科技 文化 评论 视频",
        title(record_id),
        body,
        ["热门文章", *ZH_OTHER],
        "关于我们 | 联系我们 | 隐私政策 | 广告服务",
    )


async def test_edited_japanese_copy_joins() -> None:
    """Three words changed, 「」 turned into 『』, digits made full-width, a
    paragraph dropped and a dateline added: most of the copy's 4-word
    shingles are gone if a word is a clause, few of its character windows."""
    pipeline = Pipeline()
    story = paragraphs(TSUNAMI)
    original = await pipeline.ingest("original", japanese_page(TSUNAMI, story), "toto.example.jp")
    edited = [p.replace("「", "『").replace("」", "』") for p in story]
    edited = [p.translate(str.maketrans("0123456789", "０１２３４５６７８９")) for p in edited]
    edited[0] = "ジャカルタ＝共同】" + edited[0].replace("外国", "海外", 1)
    edited[1] = edited[1].replace("述べる", "語った", 1).replace("準備", "用意", 1)
    del edited[2]
    copy = await pipeline.ingest("edited", japanese_page(TSUNAMI, edited), "other.example.jp")
    assert copy == original


async def test_truncated_chinese_copy_joins() -> None:
    pipeline = Pipeline()
    story = paragraphs(HEARING, per_paragraph=2)
    original = await pipeline.ingest(
        "original", chinese_page("今日快讯", HEARING, story), "kuaixun.example.cn"
    )
    kept = sentences(HEARING)[: len(sentences(HEARING)) * 2 // 5]
    assert len("".join(kept)) < 0.5 * len(_RECORDS[HEARING]["text"])
    truncated = await pipeline.ingest(
        "truncated", chinese_page("东方新闻", HEARING, ["".join(kept)]), "dongfang.example.cn"
    )
    assert truncated == original


async def test_close_chinese_stories_on_one_outlets_chrome_stay_apart() -> None:
    """Two stories of the same weekend about the same nominee and inquiry, on
    one outlet: the shared names and the outlet's chrome are no copy; each
    story's copy on another outlet still joins its own."""
    pipeline = Pipeline()
    clusters = {
        record: await pipeline.ingest(
            record, chinese_page("华夏时报", record, paragraphs(record)), "huaxia.example.cn"
        )
        for record in (SENATORS, INQUIRY)
    }
    assert clusters[SENATORS] != clusters[INQUIRY]
    for record in (SENATORS, INQUIRY):
        copy = await pipeline.ingest(
            f"copy-{record}",
            chinese_page("东方新闻", record, paragraphs(record, per_paragraph=2)),
            "dongfang.example.cn",
        )
        assert copy == clusters[record]


async def test_japanese_page_with_latin_chrome_joins_its_clean_copy() -> None:
    """An English-language site's chrome around a Japanese story: its spaced
    menu, trending list and footer hold more words than the unspaced body."""
    pipeline = Pipeline()
    body = paragraphs(ARREST)
    chrome_words = [
        "Japan Wire Today",
        "Home World Business Markets Tech Sports Culture Opinion Video Podcasts Newsletters",
        "Trending now",
        "Markets close higher as investors weigh the central bank's next move on rates",
        "The best new restaurants to try this autumn, according to our critics",
        "How a small startup plans to take on the giants of cloud computing",
        "Weather: a cold front brings heavy rain to the west coast this weekend",
        "About us | Contact | Careers | Advertise | Privacy policy | Terms of use | Cookies",
        "Copyright 2018 Japan Wire Today. All rights reserved. Reproduction without permission "
        "is prohibited.",
    ]
    spaced = sum(len(line.split()) for line in chrome_words)
    assert spaced > sum(len(p.split()) for p in body)
    page_text = "\n".join([*chrome_words[:2], title(ARREST), *body, *chrome_words[2:]])
    clean = await pipeline.ingest("clean", "\n\n".join(body), "wire")
    latin = await pipeline.ingest("latin-chrome", page_text, "japanwire.example.com")
    assert latin == clean

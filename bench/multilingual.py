"""The multilingual part of the quality benchmark: copies of Chinese, Japanese, Korean, Thai,
Arabic, Russian, German, Hindi and Spanish stories in outlet chrome written in their language.

Built at run time, deterministically (seed), from /work/shared/data/raw/multilingual-news
(`<lang>.jsonl`; sources and licences in its SOURCE_AND_LICENSE.txt); no article text is stored
in the repository. Per language (details in docs/quality-corpus.md, "Multilingual part"):

- 14 stories, native records first where the language has them, NTREX translations for the rest.
  The NTREX documents are taken from one seeded order shared by all languages, so translations
  of one English story sit in several languages: they are different texts, never one story.
- Each story's original in an outlet's chrome, and three copies on other outlets: `chrome` (the
  whole body), `truncated` (the first 40-60% of the body, cut at a sentence end) and `edited`
  (2-4 word or character substitutions, quote marks swapped, full-/half-width letters and digits
  swapped in zh/ja/ko, a middle paragraph dropped, a dateline in the language's wire style).
- Close stories: 3 pairs of different records most alike by character 5-gram Jaccard, both of a
  pair on the same outlet, each its own story with one `chrome` copy.
- 2 roundups: the headline and lede (the first one or two sentences) of 4-5 stories on one
  page; each its own story.
- Chrome: 3 outlets per language (site name, a nav line of 8-12 sections, a most-read list of
  4-6 titles of records not used as stories, a footer); Japanese has a fourth outlet whose nav,
  trending list and footer are spaced English and outnumber the unspaced body in words.

Run `uv run python bench/multilingual.py` to build it, self-check it and print statistics and
sample page texts; `bench/quality.py` ingests it after the main corpus (`--multilingual`).
"""

from __future__ import annotations

import argparse
import hashlib
import html as html_lib
import itertools
import json
import math
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (`python bench/multilingual.py`): make `bench` importable as a package.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.baseline import char_shingles
from bench.corpus import DEFAULT_DATA_DIR, SEED, BenchArticle, page_text
from bench.metrics import Scores, evaluate, fmt_count, fmt_score

LANGUAGES = ("zh", "ja", "ko", "th", "ar", "ru", "de", "hi", "es")
# Scripts written without spaces between words: edits change characters, not words.
UNSPACED = frozenset({"zh", "ja", "th"})
# Languages where full-width Latin letters and digits are in use.
WIDTH_SWAP = frozenset({"zh", "ja", "ko"})
COPY_KINDS = ("chrome", "truncated", "edited")

STORIES_PER_LANGUAGE = 14
NATIVE_STORIES = 8  # at most; NTREX translations fill up to STORIES_PER_LANGUAGE
CLOSE_PAIRS = 3
ROUNDUPS_PER_LANGUAGE = 2
MIN_PARAGRAPHS = 4
MIN_BODY_CHARS = 300
MAX_BODY_CHARS = 6000
# Records this alike (character 5-gram Jaccard) are one story posted twice, never two stories.
SAME_STORY_JACCARD = 0.5
# Records compared for close pairs and near duplicates (a seeded sample per language).
POOL_SIZE = 220

TIMELINE_START = datetime(2018, 9, 24, 6, 0, tzinfo=UTC)
TIMELINE_HOURS = 36.0


def data_path(data_dir: Path) -> Path:
    return data_dir / "raw" / "multilingual-news"


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Record:
    """One record of `<lang>.jsonl`, its body cut into paragraphs of sentences."""

    record_id: str
    lang: str
    title: str
    paragraphs: tuple[tuple[str, ...], ...]  # each paragraph as its sentences

    @property
    def native(self) -> bool:
        return "-ntrex-" not in self.record_id

    @property
    def ntrex_doc(self) -> str | None:
        return self.record_id.split("-ntrex-", 1)[1] if not self.native else None

    def texts(self) -> list[str]:
        return [join_sentences(p, self.lang) for p in self.paragraphs]

    @property
    def body(self) -> str:
        return "\n\n".join(self.texts())


_CJK_SENTENCE = re.compile(r"[^。！？]+(?:[。！？]+[」』”’）)]*)?")
_SENTENCE_END = re.compile(r"(?:(?<=[.!?।؟])|(?<=[.!?।؟][\"”’»)]))\s+")


def join_sentences(sentences: Sequence[str], lang: str) -> str:
    return ("" if lang in ("zh", "ja") else " ").join(sentences)


def split_sentences(text: str, lang: str) -> list[str]:
    """Sentences of a paragraph: at 。！？ for zh/ja; for Thai, which marks sentences by a space
    only, space-separated runs merged up to >= 60 characters; elsewhere at . ! ? । ؟ + space."""
    text = " ".join(text.split())
    if lang in ("zh", "ja"):
        return [s.strip() for s in _CJK_SENTENCE.findall(text) if s.strip()]
    if lang == "th":
        out: list[str] = []
        current = ""
        for run in text.split(" "):
            current = f"{current} {run}" if current else run
            if len(current) >= 60:
                out.append(current)
                current = ""
        if current:
            out.append(current)
        return out
    return [s for s in _SENTENCE_END.split(text) if s]


def paragraphs_of(text: str, lang: str, rng: random.Random) -> tuple[tuple[str, ...], ...]:
    """The source's paragraphs if it kept at least MIN_PARAGRAPHS of them, else its sentences
    grouped 2-4 to a paragraph."""
    source = [p for p in text.split("\n\n") if p.strip()]
    if len(source) >= MIN_PARAGRAPHS:
        return tuple(tuple(split_sentences(p, lang)) for p in source)
    sentences = [s for p in source for s in split_sentences(p, lang)]
    out = []
    while sentences:
        size = rng.randint(2, 4)
        out.append(tuple(sentences[:size]))
        sentences = sentences[size:]
    return tuple(out)


def load_records(data_dir: Path, lang: str, seed: int) -> list[Record]:
    """A language's records, sorted by id."""
    records = []
    path = data_path(data_dir) / f"{lang}.jsonl"
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            raw = json.loads(line)
            rng = random.Random(f"{seed}:paragraphs:{raw['id']}")
            title = " ".join(raw["title"].split())
            records.append(Record(raw["id"], lang, title, paragraphs_of(raw["text"], lang, rng)))
    return sorted(records, key=lambda r: r.record_id)


def eligible(record: Record) -> bool:
    length = len(record.body)
    return (
        MIN_BODY_CHARS <= length <= MAX_BODY_CHARS
        and len(record.paragraphs) >= MIN_PARAGRAPHS
        and bool(record.title)
    )


def jaccard(a: set[bytes], b: set[bytes]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


# --------------------------------------------------------------------------- outlets


@dataclass(frozen=True, slots=True)
class Style:
    """What a language's outlets are made of."""

    sites: tuple[tuple[str, str], ...]  # (site name, domain)
    nav: tuple[str, ...]
    most_read: str
    footer_links: tuple[str, ...]
    rights: str  # with {name}
    datelines: tuple[str, ...]  # with {m} (month) and {d} (day)
    roundup: str  # a roundup page's title, before its first headlines
    quotes: tuple[tuple[str, str], tuple[str, str]]  # one pair of quote marks <-> the other


STYLES: dict[str, Style] = {
    "zh": Style(
        (
            ("华夏时报网", "huaxia-shibao.example.cn"),
            ("东方新闻网", "dongfang-xinwen.example.cn"),
            ("今日快讯", "jinri-kuaixun.example.cn"),
        ),
        (
            "首页",
            "国内",
            "国际",
            "财经",
            "科技",
            "体育",
            "娱乐",
            "军事",
            "健康",
            "教育",
            "汽车",
            "评论",
        ),
        "热门文章",
        ("关于我们", "联系我们", "隐私政策", "使用条款", "广告服务", "招聘信息"),
        "版权所有 © 2018 {name} 保留所有权利",
        ("北京{m}月{d}日电 —", "新华社上海{m}月{d}日电 —", "中新网{m}月{d}日电 —"),
        "新闻早报",
        (("“", "”"), ("「", "」")),
    ),
    "ja": Style(
        (
            ("東都新聞", "toto-shimbun.example.jp"),
            ("日刊みなと", "nikkan-minato.example.jp"),
            ("北斗ニュース", "hokuto-news.example.jp"),
        ),
        (
            "トップ",
            "国内",
            "国際",
            "政治",
            "経済",
            "社会",
            "スポーツ",
            "文化",
            "科学",
            "地域",
            "天気",
            "オピニオン",
        ),
        "よく読まれている記事",
        ("会社概要", "お問い合わせ", "プライバシーポリシー", "利用規約", "広告掲載", "採用情報"),
        "© 2005 {name} 記事・写真の無断転載を禁じます",
        ("東京、{m}月{d}日（共同）—", "大阪、{m}月{d}日（共同）—", "【ワシントン{d}日時事】"),
        "ニュースまとめ",
        (("「", "」"), ("『", "』")),
    ),
    "ko": Style(
        (
            ("한빛일보", "hanbit-ilbo.example.kr"),
            ("누리뉴스", "nuri-news.example.kr"),
            ("아침경제", "achim-gyeongje.example.kr"),
        ),
        (
            "홈",
            "정치",
            "경제",
            "사회",
            "국제",
            "문화",
            "스포츠",
            "연예",
            "과학",
            "IT",
            "오피니언",
            "날씨",
        ),
        "많이 본 뉴스",
        ("회사소개", "고객센터", "개인정보처리방침", "이용약관", "광고안내", "청소년보호정책"),
        "Copyright © {name}. 무단 전재 및 재배포 금지",
        ("(서울=연합뉴스) —", "(부산=뉴시스) —", "[서울 {m}월 {d}일] —"),
        "오늘의 뉴스 브리핑",
        (("“", "”"), ('"', '"')),
    ),
    "th": Style(
        (
            ("ข่าวสยามรายวัน", "siam-raiwan.example.th"),
            ("เจ้าพระยานิวส์", "chaophraya-news.example.th"),
            ("ไทยทูเดย์", "thai-today.example.th"),
        ),
        (
            "หน้าแรก",
            "การเมือง",
            "เศรษฐกิจ",
            "สังคม",
            "ต่างประเทศ",
            "กีฬา",
            "บันเทิง",
            "เทคโนโลยี",
            "สุขภาพ",
            "การศึกษา",
            "ภูมิภาค",
            "ไลฟ์สไตล์",
        ),
        "ข่าวยอดนิยม",
        (
            "เกี่ยวกับเรา",
            "ติดต่อเรา",
            "นโยบายความเป็นส่วนตัว",
            "ข้อกำหนดการใช้งาน",
            "ลงโฆษณา",
            "ร่วมงานกับเรา",
        ),
        "สงวนลิขสิทธิ์ © {name}",
        ("กรุงเทพฯ {d}/{m} (สำนักข่าวไทย) –", "เชียงใหม่ – (ไทยนิวส์) –", "กรุงเทพฯ – "),
        "สรุปข่าวเด่น",
        (('"', '"'), ("“", "”")),
    ),
    "ar": Style(
        (
            ("صحيفة الأفق", "al-ofoq.example.com"),
            ("بوابة الخليج اليوم", "khaleej-today.example.com"),
            ("الشرق الإخباري", "sharq-news.example.com"),
        ),
        (
            "الرئيسية",
            "سياسة",
            "اقتصاد",
            "رياضة",
            "ثقافة",
            "تكنولوجيا",
            "صحة",
            "العالم",
            "عربي",
            "منوعات",
            "رأي",
            "فيديو",
        ),
        "الأكثر قراءة",
        ("من نحن", "اتصل بنا", "سياسة الخصوصية", "شروط الاستخدام", "أعلن معنا", "وظائف"),
        "جميع الحقوق محفوظة © {name}",
        ("القاهرة (رويترز) -", "دبي - (أ ف ب) -", "بيروت {d}/{m} -"),
        "موجز الأخبار",
        (('"', '"'), ("«", "»")),
    ),
    "ru": Style(
        (
            ("Вечерний вестник", "vestnik-vecher.example.ru"),
            ("Новости Поволжья", "povolzhye-news.example.ru"),
            ("Столичная газета", "stolichnaya.example.ru"),
        ),
        (
            "Главная",
            "Политика",
            "Экономика",
            "Общество",
            "В мире",
            "Спорт",
            "Культура",
            "Наука",
            "Технологии",
            "Происшествия",
            "Мнения",
            "Погода",
        ),
        "Самое читаемое",
        (
            "О нас",
            "Контакты",
            "Политика конфиденциальности",
            "Пользовательское соглашение",
            "Реклама",
            "Вакансии",
        ),
        "© {name}, 2018. Все права защищены.",
        (
            "МОСКВА, {d}.{m:02d} /ТАСС/ –",
            "САНКТ-ПЕТЕРБУРГ, {d}.{m:02d} – РИА Новости.",
            "МОСКВА (Интерфакс) –",
        ),
        "Главное за день",
        (("«", "»"), ("„", "“")),
    ),
    "de": Style(
        (
            ("Rheinischer Kurier", "rheinischer-kurier.example.de"),
            ("Norddeutsche Rundschau", "nd-rundschau.example.de"),
            ("Tagesblatt Süd", "tagesblatt-sued.example.de"),
        ),
        (
            "Startseite",
            "Politik",
            "Wirtschaft",
            "Panorama",
            "Sport",
            "Kultur",
            "Wissen",
            "Digital",
            "Reise",
            "Gesundheit",
            "Meinung",
            "Wetter",
        ),
        "Meistgelesen",
        ("Impressum", "Kontakt", "Datenschutz", "Nutzungsbedingungen", "Werben", "Karriere"),
        "© {name} 2018 – Alle Rechte vorbehalten",
        ("BERLIN (dpa) –", "FRANKFURT/MAIN (Reuters) –", "HAMBURG (AFP) –"),
        "Nachrichten kompakt",
        (("„", "“"), ("»", "«")),
    ),
    "hi": Style(
        (
            ("समाचार दर्पण", "samachar-darpan.example.in"),
            ("दैनिक प्रभात", "dainik-prabhat.example.in"),
            ("जनवाणी टाइम्स", "janvani-times.example.in"),
        ),
        (
            "होम",
            "देश",
            "विदेश",
            "राजनीति",
            "व्यापार",
            "खेल",
            "मनोरंजन",
            "टेक्नोलॉजी",
            "स्वास्थ्य",
            "शिक्षा",
            "राज्य",
            "राय",
        ),
        "सबसे ज़्यादा पढ़ी गई ख़बरें",
        ("हमारे बारे में", "संपर्क करें", "गोपनीयता नीति", "उपयोग की शर्तें", "विज्ञापन", "करियर"),
        "© 2018 {name}. सर्वाधिकार सुरक्षित।",
        ("नई दिल्ली, {d} सितंबर (भाषा) —", "मुंबई (आईएएनएस) —", "लखनऊ, {d} सितंबर —"),
        "आज की बड़ी ख़बरें",
        (("“", "”"), ('"', '"')),
    ),
    "es": Style(
        (
            ("Diario del Sur", "diario-del-sur.example.es"),
            ("La Gaceta Ibérica", "gaceta-iberica.example.es"),
            ("El Correo Austral", "correo-austral.example.com"),
        ),
        (
            "Portada",
            "Nacional",
            "Internacional",
            "Política",
            "Economía",
            "Deportes",
            "Cultura",
            "Ciencia",
            "Tecnología",
            "Sociedad",
            "Opinión",
            "Tiempo",
        ),
        "Lo más leído",
        (
            "Quiénes somos",
            "Contacto",
            "Política de privacidad",
            "Aviso legal",
            "Publicidad",
            "Trabaja con nosotros",
        ),
        "© 2018 {name}. Todos los derechos reservados.",
        ("MADRID (EFE) –", "BUENOS AIRES (AFP) –", "MÉXICO, {d} sep (Reuters) –"),
        "Resumen de noticias",
        (("“", "”"), ("«", "»")),
    ),
}

# A Japanese outlet in English chrome: its spaced nav, trending list and footer outnumber an
# unspaced Japanese body in whitespace-separated words.
LATIN_JA_NAV = (
    "Home",
    "Japan",
    "World",
    "Politics",
    "Business",
    "Markets",
    "Tech",
    "Science",
    "Sports",
    "Culture",
    "Opinion",
    "Newsletters",
)
LATIN_JA_TRENDING = (
    "Tokyo stocks close higher as exporters gain on a weaker yen",
    "Typhoon season: what travellers to Okinawa need to know this week",
    "Ruling coalition unveils its campaign pledges ahead of the general election",
    "Bullet train operators test new quake early-warning system",
    "Why more young people are leaving Tokyo for rural towns",
    "Opinion: the hidden costs of Japan's ageing infrastructure",
)
LATIN_JA_FOOTER = (
    "About us",
    "Contact",
    "Privacy policy",
    "Terms of use",
    "Cookie settings",
    "Advertise with us",
    "Careers",
    "Help center",
)
LATIN_JA_NOTE = (
    "Japan Wire Today is an independent English-language news service covering politics, "
    "business and culture across Japan and the Asia-Pacific region. Articles in Japanese are "
    "republished from our partner agencies under licence and may not be reproduced without "
    "permission. Sign up for our free daily newsletter to get the top stories in your inbox "
    "every morning."
)


@dataclass(frozen=True, slots=True)
class Outlet:
    """A site's chrome: everything on its pages but the article."""

    domain: str
    name: str
    lang: str
    nav: tuple[str, ...]
    most_read_heading: str
    most_read: tuple[str, ...]
    footer_links: tuple[str, ...]
    footer_lines: tuple[str, ...]
    latin: bool = False


def make_outlets(lang: str, spare_titles: Sequence[str], rng: random.Random) -> list[Outlet]:
    """The language's outlets; `spare_titles` are titles of records not used as stories."""
    style = STYLES[lang]
    outlets = []
    for name, domain in style.sites:
        start = rng.randrange(len(style.nav))
        size = rng.randint(8, min(12, len(style.nav)))
        # The home link first, then a rotation of the sections.
        rest = style.nav[1:]
        nav = (style.nav[0], *[rest[(start + i) % len(rest)] for i in range(size - 1)])
        outlets.append(
            Outlet(
                domain,
                name,
                lang,
                nav,
                style.most_read,
                tuple(rng.sample(list(spare_titles), rng.randint(4, 6))),
                style.footer_links,
                (style.rights.format(name=name),),
            )
        )
    if lang == "ja":
        outlets.append(
            Outlet(
                "japanwiretoday.example.com",
                "Japan Wire Today",
                lang,
                LATIN_JA_NAV,
                "Trending",
                LATIN_JA_TRENDING,
                LATIN_JA_FOOTER,
                (LATIN_JA_NOTE, "© 2005 Japan Wire Today. All rights reserved."),
                latin=True,
            )
        )
    return outlets


def render_page(outlet: Outlet, title: str, paragraphs: Sequence[str]) -> tuple[str, str]:
    """A simple page of the outlet carrying `paragraphs` under `title`: (HTML, page text)."""
    e = html_lib.escape
    direction = ' dir="rtl"' if outlet.lang == "ar" else ""
    lang = "en" if outlet.latin else outlet.lang
    nav = " ".join(f'<a href="/section/{i}">{e(s)}</a>' for i, s in enumerate(outlet.nav))
    body = "".join(f"<p>{e(p)}</p>" for p in paragraphs)
    related = "".join(
        f'<li><a href="/a/{i}">{e(t)}</a></li>' for i, t in enumerate(outlet.most_read)
    )
    links = " | ".join(f'<a href="/{i}">{e(s)}</a>' for i, s in enumerate(outlet.footer_links))
    lines = "".join(f"<p>{e(line)}</p>" for line in outlet.footer_lines)
    html = (
        f'<!DOCTYPE html><html lang="{lang}"{direction}><head><meta charset="utf-8">'
        f"<title>{e(title)} - {e(outlet.name)}</title></head><body>"
        f'<header><div class="site">{e(outlet.name)}</div><nav>{nav}</nav></header>'
        f"<main><article><h1>{e(title)}</h1>{body}</article></main>"
        f"<aside><h2>{e(outlet.most_read_heading)}</h2><ul>{related}</ul></aside>"
        f"<footer><p>{links}</p>{lines}</footer></body></html>"
    )
    return html, page_text(html)


# --------------------------------------------------------------------------- copy edits

_FULL_OFFSET = 0xFEE0  # full-width form of an ASCII character = its code point + this
_LETTER = re.compile(r"\w")


def swap_width(text: str) -> str:
    """Full-width Latin letters and digits to half width if the text has any, else the
    half-width ones to full width (２０２０ <-> 2020, ＡＢＣ <-> ABC)."""
    full = [c for c in text if "０" <= c <= "９" or "Ａ" <= c <= "Ｚ" or "ａ" <= c <= "ｚ"]
    if full:
        return "".join(
            chr(ord(c) - _FULL_OFFSET)
            if "０" <= c <= "９" or "Ａ" <= c <= "Ｚ" or "ａ" <= c <= "ｚ"
            else c
            for c in text
        )
    return "".join(chr(ord(c) + _FULL_OFFSET) if c.isascii() and c.isalnum() else c for c in text)


def swap_quotes(text: str, lang: str) -> str:
    """The language's one pair of quote marks for the other (whichever the text uses)."""
    a, b = STYLES[lang].quotes
    source, target = (a, b) if a[0] in text else (b, a)
    if source[0] == source[1]:
        return re.sub(
            re.escape(source[0]) + r"([^" + re.escape(source[0]) + r"]*)" + re.escape(source[0]),
            lambda m: target[0] + m.group(1) + target[1],
            text,
        )
    return text.replace(source[0], target[0]).replace(source[1], target[1])


def substitute(paragraphs: list[str], lang: str, count: int, rng: random.Random) -> list[str]:
    """`count` substitutions: of 1-2 characters (unspaced scripts) or of a word (spaced ones),
    each taken from elsewhere in the text."""
    out = list(paragraphs)
    if lang in UNSPACED:
        pool = [c for p in out for c in p if _LETTER.match(c) and not c.isascii()]
        for _ in range(count):
            i = rng.randrange(len(out))
            positions = [
                j for j, c in enumerate(out[i]) if j > 0 and _LETTER.match(c) and not c.isascii()
            ]
            if not positions or not pool:
                continue
            j = rng.choice(positions)
            width = rng.randint(1, 2)
            new = "".join(rng.choice(pool) for _ in range(width))
            out[i] = out[i][:j] + new + out[i][j + width :]
        return out
    words = [w for p in out for w in re.findall(r"\w{3,}", p)]
    for _ in range(count):
        i = rng.randrange(len(out))
        tokens = out[i].split(" ")
        positions = [j for j, t in enumerate(tokens) if j > 0 and re.fullmatch(r"\w{3,}", t)]
        if not positions:
            continue
        tokens[rng.choice(positions)] = rng.choice(words)
        out[i] = " ".join(tokens)
    return out


def dateline(lang: str, at: datetime, rng: random.Random) -> str:
    return rng.choice(STYLES[lang].datelines).format(m=at.month, d=at.day)


def edited_copy(
    record: Record, at: datetime, rng: random.Random
) -> tuple[list[str], dict[str, object]]:
    """The edited copy's paragraphs, and what was done to them."""
    lang = record.lang
    out = record.texts()
    count = rng.randint(2, 4)
    out = substitute(out, lang, count, rng)
    out = [swap_quotes(p, lang) for p in out]
    if lang in WIDTH_SWAP:
        out = [swap_width(p) for p in out]
    dropped = rng.randrange(1, len(out) - 1)
    del out[dropped]
    line = dateline(lang, at, rng)
    out[0] = f"{line}{out[0]}" if lang in ("zh", "ja") else f"{line} {out[0]}"
    return out, {"substitutions": count, "dropped": dropped, "dateline": line}


def truncated_copy(record: Record, rng: random.Random) -> list[str]:
    """The first 40-60% of the body (by characters), cut at a sentence end."""
    total = sum(len(s) for p in record.paragraphs for s in p)
    target = rng.uniform(0.4, 0.6) * total
    out: list[str] = []
    seen = 0
    for paragraph in record.paragraphs:
        kept: list[str] = []
        for sentence in paragraph:
            if seen >= target:
                break
            kept.append(sentence)
            seen += len(sentence)
        if kept:
            out.append(join_sentences(kept, record.lang))
        if seen >= target:
            break
    return out


# --------------------------------------------------------------------------- building


@dataclass(frozen=True, slots=True)
class MultilingualCorpus:
    """The multilingual articles in arrival (publication) order, and their labels."""

    articles: list[BenchArticle]
    lang: dict[str, str]  # article id -> language
    original_of: dict[str, str]  # copy's article id -> its original's article id
    ntrex_doc: dict[str, str]  # story id -> NTREX document (translated stories only)
    close_stories: dict[str, list[tuple[str, str, float]]]  # lang -> (story, story, Jaccard)
    stats: dict[str, object] = field(default_factory=dict)


def lang_of(article: BenchArticle) -> str:
    """The language of a multilingual article (the prefix of its id)."""
    return article.article_id.split("-", 1)[0]


def _article_id(lang: str, *parts: object) -> str:
    # Opaque after the language prefix: the story cannot be read from the id.
    return f"{lang}-" + hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:14]


@dataclass(slots=True)
class _Planned:
    article_id: str
    story_id: str
    kind: str
    outlet: Outlet
    title: str
    paragraphs: list[str]
    body: list[str]
    published_at: datetime
    original: str | None = None


def _select(
    records: Sequence[Record], ntrex_order: Sequence[str], seed: int
) -> tuple[list[Record], list[tuple[Record, Record, float]], list[Record]]:
    """(stories, close pairs, spare records for the chrome's lists) of one language."""
    lang = records[0].lang
    rng = random.Random(f"{seed}:select:{lang}")
    usable = [r for r in records if eligible(r)]
    native = [r for r in usable if r.native]
    rng.shuffle(native)
    by_doc = {r.ntrex_doc: r for r in usable if not r.native}
    ntrex = [by_doc[d] for d in ntrex_order if d in by_doc]
    # The records compared: every candidate story, then a sample of the rest.
    head = native[:NATIVE_STORIES] + ntrex[:STORIES_PER_LANGUAGE]
    rest = [r for r in usable if r not in head]
    rng.shuffle(rest)
    pool = head + rest[: max(0, POOL_SIZE - len(head))]
    grams = {r.record_id: set(char_shingles(r.body)) for r in pool}

    chosen: list[Record] = []

    def fresh(record: Record) -> bool:
        # Not the same story as a record already chosen (a re-post in the source).
        return all(
            jaccard(grams[record.record_id], grams[c.record_id]) < SAME_STORY_JACCARD
            for c in chosen
        )

    stories: list[Record] = []
    for record in native:
        if len(stories) >= NATIVE_STORIES:
            break
        if record.record_id in grams and fresh(record):
            stories.append(record)
            chosen.append(record)
    for record in ntrex:
        if len(stories) >= STORIES_PER_LANGUAGE:
            break
        if fresh(record):
            stories.append(record)
            chosen.append(record)
    remaining = [r for r in pool if r not in chosen]
    pairs = sorted(
        (
            (jaccard(grams[a.record_id], grams[b.record_id]), a.record_id, b.record_id)
            for a, b in itertools.combinations(remaining, 2)
        ),
        reverse=True,
    )
    by_id = {r.record_id: r for r in remaining}
    close: list[tuple[Record, Record, float]] = []
    for similarity, a, b in pairs:
        if len(close) >= CLOSE_PAIRS:
            break
        if similarity >= SAME_STORY_JACCARD:
            continue  # one story twice in the source
        ra, rb = by_id[a], by_id[b]
        if ra in chosen or rb in chosen or not (fresh(ra) and fresh(rb)):
            continue
        close.append((ra, rb, similarity))
        chosen += [ra, rb]
    used = {r.record_id for r in chosen}
    spare = [r for r in records if r.record_id not in used and r.title]
    return stories, close, spare


def build_multilingual(
    data_dir: Path = DEFAULT_DATA_DIR,
    seed: int = SEED,
    languages: Sequence[str] = LANGUAGES,
) -> MultilingualCorpus:
    """Build, render and self-check the multilingual part (`data_dir` as for build_corpus)."""
    started = time.perf_counter()
    loaded = {lang: load_records(data_dir, lang, seed) for lang in languages}
    docs = sorted({r.ntrex_doc for rs in loaded.values() for r in rs if r.ntrex_doc})
    random.Random(f"{seed}:ntrex-order").shuffle(docs)
    planned: list[_Planned] = []
    ntrex_doc: dict[str, str] = {}
    close_stories: dict[str, list[tuple[str, str, float]]] = {}
    record_of_story: dict[str, str] = {}
    for lang in languages:
        rng = random.Random(f"{seed}:multilingual:{lang}")
        stories, close, spare = _select(loaded[lang], docs, seed)
        spare_titles = sorted({r.title for r in spare if r.title})
        outlets = make_outlets(lang, spare_titles, rng)
        native_outlets = [o for o in outlets if not o.latin]
        latin = [o for o in outlets if o.latin]
        originals: dict[str, _Planned] = {}
        for index, record in enumerate(stories):
            story_id = f"ml-{lang}-{index:02d}"
            record_of_story[story_id] = record.record_id
            if record.ntrex_doc:
                ntrex_doc[story_id] = record.ntrex_doc
            t0 = TIMELINE_START + timedelta(hours=rng.uniform(0, TIMELINE_HOURS))
            home = rng.choice(native_outlets)
            body = record.texts()
            original = _Planned(
                _article_id(lang, seed, record.record_id, "original"),
                story_id,
                "original",
                home,
                record.title,
                body,
                body,
                t0,
            )
            planned.append(original)
            originals[story_id] = original
            others = [o for o in native_outlets if o is not home]
            for kind in COPY_KINDS:
                outlet = rng.choice(others)
                # Japanese copies on the English-chrome outlet: every second story's chrome
                # copy and every third story's edited copy.
                if latin and (
                    (kind == "chrome" and index % 2 == 0) or (kind == "edited" and index % 3 == 0)
                ):
                    outlet = latin[0]
                at = t0 + timedelta(minutes=rng.uniform(5, 360))
                if kind == "chrome":
                    paragraphs = list(body)
                elif kind == "truncated":
                    paragraphs = truncated_copy(record, rng)
                else:
                    paragraphs, _ = edited_copy(record, at, rng)
                planned.append(
                    _Planned(
                        _article_id(lang, seed, record.record_id, kind),
                        story_id,
                        kind,
                        outlet,
                        record.title,
                        paragraphs,
                        paragraphs,
                        at,
                        original.article_id,
                    )
                )
        close_stories[lang] = []
        for n, (a, b, similarity) in enumerate(close):
            outlet = rng.choice(native_outlets)  # both of a pair on one outlet
            ids = []
            for side, record in enumerate((a, b)):
                story_id = f"ml-{lang}-close-{n}{'ab'[side]}"
                record_of_story[story_id] = record.record_id
                if record.ntrex_doc:
                    ntrex_doc[story_id] = record.ntrex_doc
                ids.append(story_id)
                t0 = TIMELINE_START + timedelta(hours=rng.uniform(0, TIMELINE_HOURS))
                body = record.texts()
                original = _Planned(
                    _article_id(lang, seed, record.record_id, "original"),
                    story_id,
                    "original",
                    outlet,
                    record.title,
                    body,
                    body,
                    t0,
                )
                copy_outlet = rng.choice([o for o in native_outlets if o is not outlet])
                planned += [
                    original,
                    _Planned(
                        _article_id(lang, seed, record.record_id, "chrome"),
                        story_id,
                        "chrome",
                        copy_outlet,
                        record.title,
                        body,
                        body,
                        t0 + timedelta(minutes=rng.uniform(5, 240)),
                        original.article_id,
                    ),
                ]
            close_stories[lang].append((ids[0], ids[1], round(similarity, 3)))
        # The roundups of a language quote different stories: two digests sharing most of
        # their items are the newsletter-editions case, which the Helsinki part measures.
        pool = rng.sample(range(len(stories)), len(stories))
        for r in range(ROUNDUPS_PER_LANGUAGE):
            picks = [pool.pop() for _ in range(rng.randint(4, 5))]
            paragraphs = []
            for i in picks:
                # A digest quotes each story's lede: its first sentence or two, as the
                # English roundups' first paragraph or two of a wire story are.
                lede = split_sentences(stories[i].texts()[0], lang)[: rng.randint(1, 2)]
                paragraphs += [stories[i].title, join_sentences(lede, lang)]
            heads = [stories[i].title for i in picks[:2]]
            title = f"{STYLES[lang].roundup}: {heads[0]} / {heads[1]}"
            latest = max(originals[f"ml-{lang}-{i:02d}"].published_at for i in picks)
            planned.append(
                _Planned(
                    _article_id(lang, seed, "roundup", r),
                    f"ml-{lang}-roundup-{r}",
                    "roundup",
                    rng.choice(native_outlets),
                    title,
                    paragraphs,
                    paragraphs,
                    latest + timedelta(minutes=rng.uniform(60, 180)),
                )
            )
    planned.sort(key=lambda p: (p.published_at, p.article_id))
    articles = []
    for p in planned:
        html, text = render_page(p.outlet, p.title, p.paragraphs)
        articles.append(
            BenchArticle(
                p.article_id,
                p.story_id,
                p.kind,
                p.outlet.domain,
                p.title,
                text,
                html,
                "\n\n".join(p.body),
                p.published_at,
                p.story_id,
            )
        )
    corpus = MultilingualCorpus(
        articles,
        {a.article_id: lang_of(a) for a in articles},
        {p.article_id: p.original for p in planned if p.original is not None},
        ntrex_doc,
        close_stories,
    )
    check(corpus, record_of_story)
    corpus.stats.update(multilingual_stats(corpus))
    corpus.stats["build_seconds"] = round(time.perf_counter() - started, 1)
    return corpus


def check(corpus: MultilingualCorpus, record_of_story: Mapping[str, str]) -> None:
    """Assert the labels: every copy carries its original's story, no record is two stories,
    every roundup quotes 4-5 different stories, every paragraph is on its page."""
    by_id = {a.article_id: a for a in corpus.articles}
    assert len(by_id) == len(corpus.articles), "duplicate article ids"
    records = list(record_of_story.values())
    assert len(records) == len(set(records)), "one record used as two stories"
    for copy, original in corpus.original_of.items():
        assert by_id[copy].story_id == by_id[original].story_id, copy
        assert by_id[original].kind == "original", copy
        assert by_id[original].published_at < by_id[copy].published_at, copy
    stories = {a.story_id for a in corpus.articles if a.kind != "roundup"}
    for a in corpus.articles:
        assert lang_of(a) in LANGUAGES, a.article_id
        if a.kind == "roundup":
            quoted = {
                s.story_id
                for s in corpus.articles
                if s.kind == "original"
                and lang_of(s) == lang_of(a)
                and s.title in a.body.split("\n\n")
                and split_sentences(s.body.split("\n\n")[0], lang_of(s))[0] in a.body
            }
            assert 4 <= len(quoted) <= 5 and quoted <= stories, (a.article_id, quoted)
        text = " ".join(a.page_text.split())
        for paragraph in a.body.split("\n\n"):
            assert " ".join(paragraph.split()) in text, (a.article_id, paragraph[:40])


def multilingual_stats(corpus: MultilingualCorpus) -> dict[str, object]:
    articles = corpus.articles
    per_lang = Counter(corpus.lang[a.article_id] for a in articles)
    share = [
        len(a.body.split()) / max(1, len(a.page_text.split()))
        for a in articles
        if a.source == "japanwiretoday.example.com"
    ]
    docs = Counter(corpus.ntrex_doc.values())
    return {
        "articles": len(articles),
        "languages": dict(per_lang),
        "kinds": dict(Counter(a.kind for a in articles).most_common()),
        "stories": len({a.story_id for a in articles}),
        "ntrex_docs_in_2plus_languages": sum(1 for n in docs.values() if n >= 2),
        "close_pairs": {lang: [s for _, _, s in v] for lang, v in corpus.close_stories.items()},
        "latin_chrome_ja_pages": len(share),
        "latin_chrome_ja_body_word_share": round(statistics.median(share), 2) if share else None,
        "sources": len({a.source for a in articles}),
    }


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True, slots=True)
class LanguageScores:
    """One language's share of a run."""

    scores: Scores
    kind_recall: dict[str, float]  # copy kind -> share of copies in their original's cluster


@dataclass(frozen=True, slots=True)
class CrossLanguage:
    """Merges across languages over a whole run."""

    clusters: int  # final clusters holding articles of two or more languages
    translations: int  # pairs of stories translating one NTREX document, in one cluster


def score_multilingual(
    corpus: MultilingualCorpus, predicted: Mapping[str, str]
) -> tuple[dict[str, LanguageScores], CrossLanguage]:
    truth = {a.article_id: a.story_id for a in corpus.articles}
    kinds = {a.article_id: a.kind for a in corpus.articles}
    out: dict[str, LanguageScores] = {}
    for lang in dict.fromkeys(corpus.lang.values()):
        ids = [i for i in truth if corpus.lang[i] == lang]
        scores = evaluate({i: truth[i] for i in ids}, {i: predicted[i] for i in ids}, kinds)
        recall = {}
        for kind in COPY_KINDS:
            copies = [i for i in ids if kinds[i] == kind]
            hits = sum(predicted[i] == predicted[corpus.original_of[i]] for i in copies)
            recall[kind] = hits / len(copies) if copies else math.nan
        out[lang] = LanguageScores(scores, recall)
    languages: dict[str, set[str]] = defaultdict(set)
    for i, cluster in predicted.items():
        languages[cluster].add(corpus.lang[i])
    mixed = sum(1 for langs in languages.values() if len(langs) >= 2)
    clusters_of: dict[str, set[str]] = defaultdict(set)
    for i, story in truth.items():
        clusters_of[story].add(predicted[i])
    by_doc: dict[str, list[str]] = defaultdict(list)
    for story, doc in corpus.ntrex_doc.items():
        if story in clusters_of:
            by_doc[doc].append(story)
    translations = sum(
        1
        for stories in by_doc.values()
        for a, b in itertools.combinations(sorted(stories), 2)
        if clusters_of[a] & clusters_of[b]
    )
    return out, CrossLanguage(mixed, translations)


# --------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
class MultilingualRow:
    """One system on one input kind in one arrival order, over all languages at once."""

    system: str
    kind: str
    order: str
    languages: dict[str, LanguageScores]
    cross: CrossLanguage
    seconds: float


def _mean(values: Sequence[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return statistics.fmean(kept) if kept else math.nan


def _groups(rows: Sequence[MultilingualRow]) -> list[tuple[str, list[MultilingualRow]]]:
    """For each system and input kind: publication order, then all the shuffles together."""
    out = []
    for key in dict.fromkeys((r.system, r.kind) for r in rows):
        mine = [r for r in rows if (r.system, r.kind) == key]
        out += [(r.order, [r]) for r in mine if r.order == "publication"]
        shuffled = [r for r in mine if r.order != "publication"]
        if shuffled:
            out.append((f"shuffled x{len(shuffled)}", shuffled))
    return out


def print_multilingual(rows: Sequence[MultilingualRow], corpus: MultilingualCorpus) -> None:
    """The per-language table (means over the shuffled orders), then cross-language merges."""
    header = (
        f"{'lang':4} {'system':13} {'input':9} {'order':12} {'P':>6} {'R':>6} {'F1':>6} "
        f"{'mixed':>6} {'roundups':>9} {'R chrome':>9} {'R trunc':>8} {'R edited':>9}"
    )
    print(header)
    print("-" * len(header))
    groups = _groups(rows)
    languages = [lang for lang in LANGUAGES if lang in set(corpus.lang.values())]
    for lang in languages:
        for order, group in groups:
            scores = [r.languages[lang] for r in group]
            s = scores[0].scores
            recall = {k: _mean([x.kind_recall[k] for x in scores]) for k in COPY_KINDS}
            roundups = _mean([x.scores.roundups_merged for x in scores])
            print(
                f"{lang:4} {group[0].system:13} {group[0].kind:9} {order:12} "
                f"{fmt_score(_mean([x.scores.pairs.precision for x in scores])):>6} "
                f"{fmt_score(_mean([x.scores.pairs.recall for x in scores])):>6} "
                f"{fmt_score(_mean([x.scores.pairs.f1 for x in scores])):>6} "
                f"{fmt_count(_mean([x.scores.mixed_clusters for x in scores])):>6} "
                f"{f'{fmt_count(roundups)}/{s.roundups}':>9} {fmt_score(recall['chrome']):>9} "
                f"{fmt_score(recall['truncated']):>8} {fmt_score(recall['edited']):>9}"
            )
        print()
    print(
        "Cross-language merges over the whole run (clusters holding two or more languages; "
        "pairs of translations of one NTREX document in one cluster, of "
        f"{sum(n * (n - 1) // 2 for n in Counter(corpus.ntrex_doc.values()).values())}):"
    )
    for order, group in groups:
        clusters = _mean([r.cross.clusters for r in group])
        translations = _mean([r.cross.translations for r in group])
        seconds = _mean([r.seconds for r in group])
        print(
            f"  {group[0].system:13} {group[0].kind:9} {order:12} "
            f"clusters {fmt_count(clusters)}   translation pairs {fmt_count(translations)}   "
            f"{seconds:.1f}s"
        )
    print(
        "Pair P/R/F1, mixed and roundups by bench/metrics.py on each language's articles; "
        "R chrome/trunc/edited = copies of that kind in their original's final cluster. "
        "Shuffled rows are means over the orders."
    )


def rows_to_json(rows: Sequence[MultilingualRow]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for row in rows:
        for lang, ls in row.languages.items():
            s = ls.scores
            out.append(
                {
                    "part": "multilingual",
                    "language": lang,
                    "system": row.system,
                    "input": row.kind,
                    "order": row.order,
                    "precision": s.pairs.precision,
                    "recall": s.pairs.recall,
                    "f1": s.pairs.f1,
                    "mixed_clusters": s.mixed_clusters,
                    "roundups_merged": s.roundups_merged,
                    "roundups": s.roundups,
                    "recall_by_copy_kind": ls.kind_recall,
                    "articles": s.articles,
                    "cross_language_clusters": row.cross.clusters,
                    "cross_language_translation_pairs": row.cross.translations,
                    "seconds": row.seconds,
                }
            )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--languages", nargs="+", choices=LANGUAGES, default=list(LANGUAGES))
    parser.add_argument(
        "--samples", type=int, default=0, help="print this many page texts per language"
    )
    args = parser.parse_args(argv)
    corpus = build_multilingual(args.data, args.seed, args.languages)
    for key, value in corpus.stats.items():
        print(f"{key:34} {value}")
    for lang in args.languages:
        mine = [a for a in corpus.articles if corpus.lang[a.article_id] == lang]
        for a in mine[: args.samples]:
            print(f"\n===== {lang} {a.kind} {a.story_id} {a.source} {a.article_id}")
            print(a.page_text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

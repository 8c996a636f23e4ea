"""Behaviour of the cold-start page-text cleaner, heuristic by heuristic.

All texts here are made up, in the style of scraped news pages.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from storydedup.cleaning.page_text import CleanedText, clean_page_text

# --- a made-up story and the page around it ------------------------------------------------

HEADLINE = "Harbour authority and ferry union agree to talks, mayor tells council: reports"

BODY = (
    "The mayor of Porthaven told the city council on Monday that the harbour authority and the "
    "ferry workers' union had agreed to hold talks this week, local radio reported.",
    "The union has threatened a strike that would halt crossings to the islands from Thursday, "
    "after months of dispute over pay and shift patterns. The authority has said it cannot meet "
    "the union's demands without raising fares.",
    "Ferry traffic rose by a fifth last summer, and islanders have complained of long queues at "
    'the terminal. "We need a deal before the holiday season," the mayor said, according to '
    "the station.",
    "A spokesperson for the harbour authority confirmed that the first meeting would take place "
    "on Wednesday, but declined to give details of any new offer.",
    "Union members voted in favour of strike action last month by a wide margin. The union's "
    "regional secretary said the vote showed the strength of feeling among crews.",
)

TRAILER = "(Additional reporting by Anna Field; Editing by Mark Stone)"

TEASER_LEADS = (
    "A regional airline said on Sunday it would add two daily flights to the capital from "
    "March, citing strong demand from business travellers and students returning from...",
    "Farmers in the northern valley have begun harvesting early after a warm autumn, and "
    "growers expect prices to fall as supply reaches markets earlier than in a typical...",
    "The city's oldest cinema will close for a year of repairs, its owners said, promising "
    "that the restored building would keep its original facade and the painted ceiling…",
)


def _synthetic_page() -> str:
    """A page in the shape of a scraped syndication site: chrome around one wire story."""
    summary = f"{BODY[0]} {BODY[1].split('. ')[0]}."
    body = [*BODY[:-1], f"{BODY[-1]} {TRAILER}"]
    lines = [
        " date 2021-03-08 Left Menu",
        "Coastal News Edition",
        "",
        HEADLINE,
        "",
        summary,
        "",
        "Wirecast | Updated: 08-03-2021 07:05 IST | Created: 08-03-2021 07:05 IST",
        HEADLINE,
        "",
        *(paragraph + "\n" for paragraph in body),
        "TRENDING",
        "",
        "Island Festival Returns With Record Number Of Boats",
        "Lighthouse Keeper's Diary Found In Museum Attic",
        "Storm Warning Issued For Western Coast On Friday",
        "",
        "OPINION / BLOG / INTERVIEW",
        "",
        "Why small ports matter more than ever",
        TEASER_LEADS[0],
        "",
        "The quiet revival of coastal rail",
        TEASER_LEADS[1],
        "",
        "Videos",
        "Latest News",
        "",
        "Old cinema to close for repairs",
        TEASER_LEADS[2],
        "Give Feedback",
        "Subscribe to our Newsletter",
        "",
        "SECTORS",
        "EDITIONS",
        "OTHER LINKS",
        "CONNECT",
        "Coastal News",
        "Email: desk@coastal-news.example",
        "Phone: +00-123-4567890",
        "About | Disclaimer | Terms of use | Privacy Policy",
        "© Copyright 2021",
    ]
    return "\n".join(lines)


def _reasons(result: CleanedText) -> dict[str, str]:
    return {line: reason for line, reason in result.dropped}


def test_synthetic_page_keeps_exactly_the_story_paragraphs() -> None:
    result = clean_page_text(_synthetic_page())

    assert result.paragraphs == BODY


def test_synthetic_page_says_why_chrome_was_dropped() -> None:
    reasons = _reasons(clean_page_text(_synthetic_page()))

    assert reasons[TRAILER] == "trailer"
    assert reasons[TEASER_LEADS[0]] == "teaser"
    assert reasons[TEASER_LEADS[2]] == "teaser"
    assert reasons["Wirecast | Updated: 08-03-2021 07:05 IST | Created: 08-03-2021 07:05 IST"] == (
        "updated-line"
    )
    assert reasons["© Copyright 2021"] == "trailer"
    assert reasons["Subscribe to our Newsletter"] == "notice"
    assert reasons["SECTORS"] == "short"
    assert reasons[f"{BODY[0]} {BODY[1].split('. ')[0]}."] == "duplicate"


def test_title_lines_are_dropped_when_the_title_is_known() -> None:
    result = clean_page_text(_synthetic_page(), title=HEADLINE)

    assert result.paragraphs == BODY
    assert _reasons(result)[HEADLINE] == "title"


# --- teasers ---------------------------------------------------------------------------------


def test_ellipsis_leads_between_headlines_are_teasers() -> None:
    page = "\n".join(
        [
            *BODY,
            "Airline adds flights",
            TEASER_LEADS[0],
            "Early harvest in the valley",
            TEASER_LEADS[1],
        ]
    )

    result = clean_page_text(page)

    assert result.paragraphs == BODY
    assert _reasons(result)[TEASER_LEADS[1]] == "teaser"


def test_paywall_cut_paragraph_after_the_story_is_kept() -> None:
    cut = "The authority's chief executive said the offer on the table was fair, and that..."
    page = "\n".join(["Home", "News", *BODY[:3], cut, "Subscribe to read more", "Home"])

    assert clean_page_text(page).paragraphs == (*BODY[:3], cut)


def test_headline_glued_to_its_lead_is_a_teaser() -> None:
    card = (
        "Island Festival Returns With Record Number Of BoatsOrganisers said more than four "
        "hundred boats had registered, twice as many as last year."
    )
    page = "\n".join([*BODY, "Latest", card])

    result = clean_page_text(page)

    assert result.paragraphs == BODY
    assert _reasons(result)[card] == "teaser"


# --- menus and short lines -------------------------------------------------------------------


def test_menus_and_section_labels_around_a_story_are_dropped() -> None:
    menu = ["Home", "World", "Business", "Sport", "Island Life", "Weather", "Contact Us"]
    page = "\n".join([*menu, HEADLINE, *BODY, *menu])

    result = clean_page_text(page)

    assert result.paragraphs == BODY
    assert _reasons(result)["Island Life"] == "short"


def test_short_sentences_next_to_the_story_are_not_story() -> None:
    page = "\n".join([*BODY, "Thanks for reading.", "Back to top.", "Stay safe!", "Home"])

    result = clean_page_text(page)

    assert result.paragraphs == BODY
    assert _reasons(result)["Thanks for reading."] == "short"


def test_related_section_header_ends_the_story() -> None:
    page = "\n".join(
        [
            *BODY,
            "Related stories",
            "Airline to add flights to the capital",
            "A regional airline will add two daily flights to the capital from March, it said.",
            "Early harvest in the valley",
            "Farmers in the northern valley began harvesting early after a warm autumn.",
        ]
    )

    result = clean_page_text(page)

    assert result.paragraphs == BODY
    assert _reasons(result)["Related stories"] == "section"


def test_title_case_headline_lists_are_not_prose() -> None:
    headlines = [
        "Storm Warning Issued For Western Coast On Friday.",
        "Lighthouse Keeper's Diary Found In Museum Attic After Fifty Years.",
        "Island Festival Returns With Record Number Of Boats This Summer.",
    ]
    page = "\n".join([*BODY, "Most Read", *headlines])

    assert clean_page_text(page).paragraphs == BODY


def test_subheadings_and_captions_inside_a_story_are_kept() -> None:
    subheading = "What happens next"
    caption = "Ferries wait at the terminal in Porthaven on Monday"
    text = "\n".join([BODY[0], BODY[1], caption, BODY[2], subheading, BODY[3], BODY[4]])

    result = clean_page_text(text)

    assert result.paragraphs == (BODY[0], BODY[1], caption, BODY[2], subheading, BODY[3], BODY[4])


def test_list_introduced_by_the_story_is_kept() -> None:
    intro = "The union listed its demands in a letter to the authority:"
    items = [
        "a pay rise in line with inflation for all crews",
        "an end to split shifts on the winter timetable",
        "two more relief crews at the island terminal",
    ]
    page = "\n".join(["Home", "News", *BODY[:3], intro, *items, "Share", "Tweet", "Home"])

    assert clean_page_text(page).paragraphs == (*BODY[:3], intro, *items)


@pytest.mark.parametrize("trailing", [False, True])
def test_separators_between_entries_are_kept(trailing: bool) -> None:
    # A live file or a digest splits its entries with "___" lines; one after the last entry is
    # outside the story's run, which does not make the ones between entries chrome.
    entries = [BODY[:2], BODY[2:4], BODY[4:]]
    lines = [line for entry in entries for line in [*entry, "___"]]
    page = "\n".join(["Home", "News", *(lines if trailing else lines[:-1]), "Share", "Home"])

    assert clean_page_text(page).paragraphs == (*BODY[:2], "___", *BODY[2:4], "___", *BODY[4:])


# --- duplicates ------------------------------------------------------------------------------


def test_exact_repeat_of_a_paragraph_keeps_the_first() -> None:
    text = "\n".join([BODY[0], BODY[1], BODY[2], BODY[1], BODY[3]])

    result = clean_page_text(text)

    assert result.paragraphs == (BODY[0], BODY[1], BODY[2], BODY[3])
    assert (BODY[1], "duplicate") in result.dropped


def test_summary_box_repeating_the_lead_gives_way_to_the_body() -> None:
    summary = f"{BODY[0]} {BODY[1]}"
    text = "\n".join([summary, *BODY])

    result = clean_page_text(text)

    assert result.paragraphs == BODY
    assert _reasons(result)[summary] == "duplicate"


def test_pull_quote_repeating_a_sentence_is_dropped() -> None:
    quote = '"We need a deal before the holiday season," the mayor said, according to the station.'
    text = "\n".join([BODY[0], BODY[1], BODY[2], quote, BODY[3]])

    assert clean_page_text(text).paragraphs == BODY[:4]


# --- datelines, bylines, updated lines -------------------------------------------------------


@pytest.mark.parametrize(
    ("dateline", "stripped"),
    [
        ("PORTHAVEN (Reuters) - ", "PORTHAVEN (Reuters) -"),
        ("PORTHAVEN, March 8 (Reuters) - ", "PORTHAVEN, March 8 (Reuters) -"),
        ("MOSCOW, Oct 25 (AP) — ", "MOSCOW, Oct 25 (AP) —"),
        ("ST. AUSTELL, Cornwall (AP) — ", "ST. AUSTELL, Cornwall (AP) —"),
        ("PORTHAVEN — ", "PORTHAVEN —"),
        ("NEW YORK/LONDON -- ", "NEW YORK/LONDON --"),
        ("(Reuters) - ", "(Reuters) -"),
    ],
)
def test_datelines_are_cut_off_the_first_paragraph(dateline: str, stripped: str) -> None:
    text = "\n".join([dateline + BODY[0], *BODY[1:]])

    result = clean_page_text(text)

    assert result.paragraphs == BODY
    assert (stripped, "dateline") in result.dropped


def test_sentence_with_dashes_is_not_mistaken_for_a_dateline() -> None:
    first = (
        "Nobody - not even the mayor's own advisers - expected the authority to agree to talks "
        "so soon, officials said."
    )
    text = "\n".join([first, *BODY[1:]])

    assert clean_page_text(text).paragraphs == (first, *BODY[1:])


@pytest.mark.parametrize(
    "byline", ["By Jane Doe", "By Wirecast Staff", "By JANE DOE, Coastal Press", "By: Sam Lee"]
)
def test_bylines_are_dropped(byline: str) -> None:
    result = clean_page_text("\n".join([HEADLINE, byline, *BODY]))

    assert result.paragraphs == BODY
    assert (byline, "byline") in result.dropped


def test_sentence_starting_with_by_is_not_a_byline() -> None:
    first = (
        "By the end of the week, the harbour authority expects to know whether the ferry union "
        "will call off its strike."
    )
    text = "\n".join([first, *BODY[1:]])

    assert clean_page_text(text).paragraphs == (first, *BODY[1:])


@pytest.mark.parametrize(
    "line",
    [
        "Wirecast | Updated: 25-10-2020 07:05 IST | Created: 25-10-2020 07:05 IST",
        "Published 11:11 PM EST Nov 19, 2019",
        "Last updated on March 3, 2021",
        "Posted on March 30, 2015 by Admin",
        "Updated: 2 hours ago",
    ],
)
def test_updated_lines_are_dropped(line: str) -> None:
    result = clean_page_text("\n".join([line, *BODY]))

    assert result.paragraphs == BODY
    assert (line, "updated-line") in result.dropped


def test_sentence_mentioning_publication_is_kept() -> None:
    sentence = "The findings were published today in a journal of maritime studies, the team said."
    text = "\n".join([*BODY, sentence])

    assert clean_page_text(text).paragraphs == (*BODY, sentence)


# --- trailers and notices --------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Reporting by Anna Field; Editing by Mark Stone",
        "(Reporting by Anna Field; Writing by Tom Hill)",
        "© 2021 Wirecast",
        "Copyright 2021 Coastal Press. All rights reserved.",
        "This story has been corrected to fix the spelling of the mayor's name in paragraph 2.",
        "This article first appeared on Island Weekly.",
    ],
)
def test_trailer_lines_are_dropped(line: str) -> None:
    result = clean_page_text("\n".join([*BODY, line]))

    assert result.paragraphs == BODY
    assert (line, "trailer") in result.dropped


def test_credits_glued_to_the_last_paragraph_are_cut() -> None:
    text = "\n".join([*BODY[:-1], f"{BODY[-1]} {TRAILER}"])

    result = clean_page_text(text)

    assert result.paragraphs == BODY
    assert (TRAILER, "trailer") in result.dropped


@pytest.mark.parametrize(
    "line",
    [
        "Sign up for our newsletter",
        "We use cookies to improve your experience on our site. By continuing to browse the "
        "site you agree to our use of cookies, as described in our cookie policy and in the "
        "terms and conditions that apply to every visitor of this website and its partners.",
        "Please enable JavaScript to view the comments.",
        "Privacy Policy",
    ],
)
def test_notices_are_dropped(line: str) -> None:
    result = clean_page_text("\n".join([*BODY, line]))

    assert result.paragraphs == BODY
    assert (line, "notice") in result.dropped


def test_story_sentence_about_privacy_is_kept() -> None:
    sentence = (
        "Islanders raised concerns about privacy after the authority installed cameras at the "
        "terminal, and the council asked for a review of how long recordings are kept."
    )
    text = "\n".join([*BODY, sentence])

    assert clean_page_text(text).paragraphs == (*BODY, sentence)


# --- the main block --------------------------------------------------------------------------


def test_cards_of_other_stories_after_the_story_are_dropped() -> None:
    cards: list[str] = []
    for number in range(6):
        cards += [
            f"Council approves budget for coastal path number {number}",
            "Sam Lee",
            "Tuesday November 19, 2019",
            "The council voted on Tuesday to fund repairs to the coastal path, which was damaged "
            "by storms last winter, and officials said the work would start in the spring and "
            f"take about {number + 2} months to finish, weather permitting.",
        ]
    page = "\n".join([*BODY, "More Coastal News", *cards, "About", "Staff"])

    assert clean_page_text(page).paragraphs == BODY


def test_comment_thread_longer_than_the_story_is_dropped() -> None:
    thread = ["12 responses to “Harbour talks”"]
    for number in range(12):
        thread += [
            f"reader{number} says:",
            f"March {number + 1}, 2021 at 6:34 am",
            "I have taken this ferry every week for twenty years and I have never seen the "
            "service in such a state, the authority should pay the crews what they are owed "
            "and stop blaming the union for every cancelled crossing.",
        ]
    page = "\n".join(["Home", *BODY[:2], *thread, "Leave a Reply", "Home"])

    assert clean_page_text(page).paragraphs == BODY[:2]


def test_short_brief_survives_its_chrome() -> None:
    brief = BODY[:2]
    page = "\n".join(
        [
            "Home",
            "World",
            "Porthaven",
            HEADLINE,
            "By Jane Doe",
            *brief,
            "Related",
            "Airline adds flights",
            TEASER_LEADS[0],
            "Most Read",
            "Storm Warning Issued For Western Coast",
            "About Us",
            "© 2021 Coastal News",
        ]
    )

    assert clean_page_text(page).paragraphs == brief


def test_clean_body_comes_out_unchanged() -> None:
    body = (
        BODY[0],
        BODY[1],
        "What the union wants",
        BODY[2],
        "The union listed its demands:",
        "a pay rise in line with inflation",
        "an end to split shifts",
        BODY[3],
        BODY[4],
    )

    result = clean_page_text("\n\n".join(body))

    assert result.paragraphs == body
    assert result.dropped == ()


def test_clean_body_keeps_the_list_at_its_end() -> None:
    body = (
        *BODY,
        "Crossings at risk from Thursday",
        "Porthaven to the northern islands, all sailings",
        "Porthaven to the southern islands, evening sailings",
    )

    assert clean_page_text("\n".join(body)).paragraphs == body


def test_clean_body_loses_only_dateline_byline_and_trailer() -> None:
    text = "\n".join(
        ["By Jane Doe", "PORTHAVEN (Reuters) - " + BODY[0], *BODY[1:], "© 2021 Wirecast"]
    )

    result = clean_page_text(text)

    assert result.paragraphs == BODY
    assert sorted(reason for _, reason in result.dropped) == ["byline", "dateline", "trailer"]


# --- fallback --------------------------------------------------------------------------------


def test_single_sentence_is_kept() -> None:
    sentence = "The ferry union and the harbour authority will meet on Wednesday."

    assert clean_page_text(sentence).paragraphs == (sentence,)


def test_text_of_only_teasers_falls_back_to_something() -> None:
    text = "\n".join(TEASER_LEADS)

    assert clean_page_text(text).paragraphs != ()


def test_text_of_only_short_lines_falls_back_to_the_lines() -> None:
    text = "Harbour talks\nFerry strike off\nMayor pleased"

    assert clean_page_text(text).paragraphs == (
        "Harbour talks",
        "Ferry strike off",
        "Mayor pleased",
    )


# --- hostile input ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\n\n\n", "\t \r\n \u00a0 \u2028", "\x00\x01\x1f\x7f"])
def test_empty_and_blank_input_gives_nothing(text: str) -> None:
    assert clean_page_text(text) == CleanedText(paragraphs=(), dropped=())


def test_control_and_invisible_characters_are_removed() -> None:
    text = "\n".join(
        [
            BODY[0].replace("mayor", "may\x00or").replace("harbour", "har\u200bbour"),
            BODY[1].replace(" ", "\x07 ", 3),
            *BODY[2:],
        ]
    )

    result = clean_page_text(text)

    assert result.paragraphs[0] == BODY[0].replace("mayor", "may or")
    assert result.paragraphs[1:] == BODY[1:]


def test_windows_and_old_mac_line_ends_split_lines() -> None:
    assert clean_page_text("\r\n".join(BODY)).paragraphs == BODY
    assert clean_page_text("\r".join(BODY)).paragraphs == BODY


def test_bullets_are_cut_from_list_items() -> None:
    text = "\n".join(
        [*BODY[:2], "The union listed its demands:", "• a pay rise", "• no split shifts"]
    )

    assert clean_page_text(text).paragraphs[-2:] == ("a pay rise", "no split shifts")


_HOSTILE_INPUTS = {
    "one 1 MB line of words": "word " * 200_000,
    "one 1 MB line of prose": (BODY[1] + " ") * 3_500,
    "one 1 MB line without spaces": "x" * 1_000_000,
    "one 1 MB line of brackets": "(" * 500_000 + ")" * 500_000,
    "one 1 MB line of dots": "." * 1_000_000,
    "one 1 MB line of dashes": "A - " * 250_000,
    "100k empty lines": "\n" * 100_000,
    "200k one-word lines": "Home\n" * 200_000,
    "5k teaser lines": (TEASER_LEADS[0] + "\n") * 5_000,
    "40k copies of the story": "\n".join(BODY * 8_000),
    "1 MB of NUL and controls": "\x00\x01\x02\x1b" * 250_000,
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", list(_HOSTILE_INPUTS))
def test_hostile_input_finishes_fast(name: str) -> None:
    started = time.perf_counter()

    result = clean_page_text(_HOSTILE_INPUTS[name])

    assert time.perf_counter() - started < 5.0
    assert all(paragraph.strip() for paragraph in result.paragraphs)


def test_work_grows_linearly_with_input() -> None:
    page = _synthetic_page()

    def seconds(copies: int) -> float:
        text = "\n".join([page] * copies)
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            clean_page_text(text)
            best = min(best, time.perf_counter() - started)
        return best

    small, large = seconds(50), seconds(400)

    # 8x the input: linear work takes ~8x as long, quadratic ~64x.
    assert large < 24 * small


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2_000))
def test_arbitrary_unicode_never_crashes(text: str) -> None:
    result = clean_page_text(text)

    for paragraph in result.paragraphs:
        assert paragraph
        assert paragraph == paragraph.strip()
        assert "\n" not in paragraph
    if any(character.isalnum() for character in text):
        assert result.paragraphs


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*BODY, *TEASER_LEADS, "Home", "Latest News", ""]), max_size=40))
def test_kept_paragraphs_come_from_the_input_in_order(lines: list[str]) -> None:
    result = clean_page_text("\n".join(lines))

    remaining = iter(line for line in lines if line)
    for paragraph in result.paragraphs:
        assert any(paragraph == line for line in remaining)


# --- photo captions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "caption",
    [
        "A shopper looks at extension cords at a hardware store, Tuesday, Nov. 19, 2019, in "
        "Grass Valley, Calif. (Elias Funez/The Union via AP)",
        "2of4A shopper looks at extension cords at a hardware store. (Elias Funez/The Union)",
        "Roughly 13,000 US troops remain in the country, 18 years on [File: Reuters]",
        "More than 4,000 people are expected to receive notice in coming weeks (Credit: iStock)",
        "A man rides a donkey in the village opposite the settlement. Jaafar ASHTIYEH / AFP",
        "The president waves from the car after arriving at the airport. Markus Schreiber AP Photo",
        "In this Nov. 11, 2017 file photo, the two presidents talk during the family photo "
        "session at the summit. The outcome of their first meeting is anybody's guess.",
    ],
)
def test_photo_captions_are_dropped(caption: str) -> None:
    result = clean_page_text("\n".join([caption, *BODY]))
    assert result.paragraphs == BODY
    assert (caption, "caption") in result.dropped


def test_sentences_mentioning_photos_or_ending_in_brackets_are_story_text() -> None:
    lines = (
        "In this case the court said the photo was admissible as evidence, and the trial "
        "will continue next week.",
        "The senator (D-Minn.) said the bill would pass the chamber later this week, according "
        "to two aides (who declined to be named).",
    )
    assert clean_page_text("\n".join([*lines, *BODY])).paragraphs == (*lines, *BODY)


# --- comment widgets and the title ---------------------------------------------------------

# Cards of a "more from us" list after a comment widget: headlines and leads that read like
# short prose (a question mark ends a sentence).
WIDGET_CARDS = (
    "Is the new harbour ferry about to arrive in the islands soon too?",
    "2020 Harbour Express ferry: coming soon to Porthaven?",
    "Will we call the new island ferry the Express should it arrive in the bay?",
    "Tidal works delay ferry crossings for a week, operator says today",
)


def test_a_comment_widget_ends_the_story() -> None:
    page = "\n".join([HEADLINE, *BODY[:2], "comments powered by Disqus", *WIDGET_CARDS])
    cleaned = clean_page_text(page, HEADLINE)
    assert cleaned.paragraphs == BODY[:2]
    assert ("comments powered by Disqus", "comments") in cleaned.dropped


# The host page's own text, longer than a two-paragraph story: an "about" blurb.
HOST_PROSE = (
    "Welcome to Coastal Living Weekly, the magazine for everyone who loves the sea, the beach "
    "and the small towns along our shores, with recipes, walks and stories from our readers.",
    "Every week our editors choose the best reader letters, the most beautiful photographs and "
    "the walks that our community recommends, and we share them here for you to enjoy at home.",
    "Our team of writers has been exploring the coast for twenty years, and we believe that "
    "there is always another village, another cove and another kitchen worth discovering.",
)


def test_the_region_naming_the_title_wins_over_longer_host_text() -> None:
    page = "\n".join(
        ["Home", *HOST_PROSE, "Most Popular", *TEASER_LEADS, "Sport", HEADLINE, *BODY[:2]]
    )
    assert clean_page_text(page).paragraphs == HOST_PROSE  # without the title: the longer run
    cleaned = clean_page_text(page, HEADLINE)
    assert cleaned.paragraphs == BODY[:2]
    # A title that names neither region leaves the best-scoring run.
    assert clean_page_text(page, "Weekend weather outlook: sunshine").paragraphs == HOST_PROSE


# A host's promo run into the top of a story: prose, so it scores as part of the story region.
HOST_PROMO = (
    "Our readers' favourite picks for weekend walks, markets and concerts across the region "
    "this September, chosen by the editors."
)


def test_a_host_line_above_the_story_is_dropped_when_the_story_names_the_title() -> None:
    page = "\n".join(["Home", "Sport", HEADLINE, HOST_PROMO, *BODY[:3], "About us"])
    # Without the title nothing tells the promo from a lead.
    assert clean_page_text(page).paragraphs == (HOST_PROMO, *BODY[:3])
    cleaned = clean_page_text(page, HEADLINE)
    assert cleaned.paragraphs == BODY[:3]
    # The truncated copy now starts where the story does, so its prefix sketches agree.
    assert clean_page_text("\n".join(BODY[:3]), HEADLINE).paragraphs == cleaned.paragraphs


def test_a_sharing_bar_between_a_promo_and_the_story_does_not_keep_the_promo() -> None:
    # The bar's labels sit between the host's promo and the lead; they are not host lines of
    # their own, and the promo still goes.
    bar = [
        "AddThis Sharing Buttons",
        "Share to LinkedIn Share to Facebook Share to Twitter Share to Email Share to More",
        "Email",
    ]
    page = "\n".join(["Home", "Sport", HEADLINE, HOST_PROMO, *bar, *BODY[:3], "About us"])
    assert clean_page_text(page, HEADLINE).paragraphs[0] == BODY[0]


def test_a_lead_without_the_headline_words_stays_when_it_shares_the_story_words() -> None:
    # Re-headlined: the lead names none of these words, the second paragraph does.
    title = "Strike threat to island crossings"
    page = "\n".join(["Home", title, *BODY[:4]])
    assert clean_page_text(page, title).paragraphs == BODY[:4]


def test_a_fact_check_box_above_the_story_is_dropped() -> None:
    # A fact-checking host puts a quote and its verdict above each story it runs.
    box = (
        "“The new bridge toll is a disgrace and the operator has broken every promise it "
        "made to the people who depend on it,” a campaign group wrote online.",
        "False",
        "Information from multiple sources disputes the claims",
    )
    page = "\n".join(["Home", "Fact check", *box, *BODY[:2], "About us"])
    assert clean_page_text(page, HEADLINE).paragraphs == BODY[:2]


# A financial publisher's page foot: short footer links, then its reprint notice as prose.
REPRINT_FOOTER = (
    "Thank you",
    "Data Policy",
    "Your Ad Choices",
    "This copy is for your personal, non-commercial use only. Distribution and use of this "
    "material are governed by our Subscriber Agreement and by copyright law. For non-personal "
    "use or to order multiple copies, please contact our reprints desk or visit our website.",
)


def test_a_reprint_notice_does_not_stretch_the_story_over_the_footer() -> None:
    menu = ["Home", "Markets", "Economy", "Tech", "Opinion"]
    page = "\n".join([*menu, HEADLINE, *BODY[:2], *REPRINT_FOOTER])
    cleaned = clean_page_text(page, HEADLINE)
    assert cleaned.paragraphs == BODY[:2]
    assert (REPRINT_FOOTER[-1], "notice") in cleaned.dropped


def test_an_author_card_ending_in_read_more_is_not_story() -> None:
    bio = (
        "Jane Doe (@janedoe) is a contributor and the host of a daily radio programme on "
        "transport, who has covered ferries and harbours for the national press and in "
        "various print, television and audio formats for... Read more"
    )
    blurb = (
        "The Coastal Post is where the region reads its news. It is the essential source of "
        "information and ideas that make sense of a coast in constant transformation, and its "
        "reporters cover every town from the harbour to the hills."
    )
    menu = ["Home", "News", "Sport", "Opinion", "Weather"]
    footer = ["• Facebook", "• Twitter", "• FAQ", "• Press Center", "• Advertise", "• Jobs"]
    page = "\n".join(
        [*menu, HEADLINE, *BODY[:3], bio, "Contributor", "Featured Video", blurb, *footer]
    )
    cleaned = clean_page_text(page, HEADLINE)
    assert cleaned.paragraphs == BODY[:3]
    assert (bio, "teaser") in cleaned.dropped


def test_a_cookie_consent_line_of_middling_length_is_a_notice() -> None:
    # Under the long-notice length, and with none of the short-notice phrases.
    consent = (
        "By choosing I Accept, you consent to our use of cookies and other tracking technologies."
    )
    cleaned = clean_page_text("\n".join(["Home", consent, HEADLINE, *BODY[:3]]), HEADLINE)
    assert cleaned.paragraphs == BODY[:3]
    assert (consent, "notice") in cleaned.dropped


def test_a_line_read_before_is_cleaned_as_the_first_time() -> None:
    # Lines are read once and remembered (most repeat: chrome, copies); what is cut off a line
    # must still be reported, in page order, on every page that carries it.
    from storydedup.cleaning import page_text

    dated = f"PORTHAVEN (Reuters) - {BODY[0]}"
    credited = f"{BODY[-1]} {TRAILER}"
    first = "\n".join(["Coastal News Edition", dated, *BODY[1:-1], credited, "TRENDING"])
    second = "\n".join(
        ["Home", "Latest News", "Coastal News Edition", dated, *BODY[1:-1], credited]
    )

    page_text.clear_caches()
    fresh = clean_page_text(second, HEADLINE)
    page_text.clear_caches()
    clean_page_text(first, HEADLINE)
    read = [line for line in second.split("\n") if line in page_text._readings]
    remembered = clean_page_text(second, HEADLINE)

    assert len(read) >= len(BODY)
    assert remembered == fresh
    assert remembered.paragraphs == BODY
    assert ("PORTHAVEN (Reuters) -", "dateline") in remembered.dropped
    assert (TRAILER, "trailer") in remembered.dropped


# Royal Thai Government news (thaigov.go.th, public domain; ThaiGov V2 Corpus by PyThaiNLP):
# a story's paragraphs, and other stories' headlines as a "most read" list.
THAI_STORY = (
    "วันนี้ (10 มีนาคม 2567) เวลา 11.00 น. (เวลาท้องถิ่นกรุงปารีส) นายเศรษฐา ทวีสิน "
    "นายกรัฐมนตรีและรัฐมนตรีว่าการกระทรวงการคลัง พร้อมด้วย นางสาวแพรทองธาร ชินวัตร "
    "รองประธานคณะกรรมการซอฟพาวเวอร์ และนางชฎาทิพ จูตระกูล คณะกรรมการซอฟพาวเวอร์ "
    "ได้ร่วมพูดคุยกับ นาย Jean-Marc Bellaiche, ประธานห้างสรรพสินค้า Printemps "
    "ซึ่งเป็นธุรกิจค้าปลีก สินค้าประเภทแฟชั่น",
    "โดยทั้งสองฝ่ายได้พูดคุยเพื่อความร่วมมือ เกี่ยวกับการจัดแสดงสินค้า (display) "
    "การนำสินค้าไทยมาจัดแสดง ซึ่งห้างจัดให้มีพื้นที่ไว้ให้สำหรับ young designer "
    "ซึ่งความร่วมมือจะทำให้เกิดการแลกเปลี่ยนทางวัฒนธรรม ส่งเสริมเศรษฐกิจสร้างสรรค์ "
    "และช่วยผลักดันและเปิดโอกาสให้นักออกแบบไทยได้แสดงสินค้าสู่สายตาชาวโลก",
    "จากนั้นเวลา 12.00 น. (เวลาท้องถิ่นกรุงปารีส) นายกรัฐมนตรี เยี่ยมชมและพบกับนาง "
    "Cathering Newey, Director of the Department store และนาง Christine Beaude, Finance "
    "Director ห้างสรรพสินค้า Bon Marché ซึ่งเป็นธุรกิจค้าปลีกสำหรับลูกค้าระดับ High-End "
    "โดยเป็นห้างสรรพสินค้าที่ “คัดสรรเฉพาะสิ่งที่ดีที่สุด” ในกระบวนการเชิญแบรนด์ต่าง ๆ",
)
THAI_HEADLINES = (
    "ผู้ว่าฯ นนทบุรี Kick off กิจกรรมการประกวดองค์กรปกครองส่วนท้องถิ่นต้นแบบ "
    '"อปท. สะอาดดี สู่นนทบุรีสะอาดตา" เดินหน้าขับเคลื่อนทุกองค์กรปกครองส่วนท้องถิ่น',
    "สมเด็จพระเจ้าลูกเธอ เจ้าฟ้าสิริวัณณวรี นารีรัตนราชกัญญา "
    "เสด็จไปทอดพระเนตรนิทรรศการและการจัดงานแสดงผลิตภัณฑ์ผ้าไทยและงานหัตถกรรมชุมชนภาคเหนือ",
    "โฆษกมหาดไทยเตือนอย่าหลงเชื่อข้อมูลเท็จกำหนดสอบบรรจุข้าราชการท้องถิ่น "
    "เผยกระบวนการสอบข้อเท็จจริงการทุจริตยังไม่เสร็จสิ้น ยังไม่มีการลงนามกับมหาวิทยาลัยผู้จัดสอบ",
)


def test_thai_story_is_kept_and_its_pages_headlines_and_footer_are_not() -> None:
    """Thai has no sentence punctuation: its paragraphs are told from the
    headlines around them by length, and a row of footer links is no part of
    the story."""
    page = "\n".join(
        [
            "เจ้าพระยานิวส์",
            "หน้าแรก การเมือง เศรษฐกิจ สังคม ต่างประเทศ กีฬา บันเทิง",
            "นายกฯ พบหารือผู้บริหารห้างสรรพสินค้าชั้นนำกรุงปารีส Printemps และ Bon Marché",
            *THAI_STORY,
            "ข่าวยอดนิยม",
            *THAI_HEADLINES,
            "เกี่ยวกับเรา | ติดต่อเรา | นโยบายความเป็นส่วนตัว | ข้อกำหนดการใช้งาน",
        ]
    )
    assert clean_page_text(page).paragraphs == THAI_STORY

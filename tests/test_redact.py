"""PII redaction: a table of personal data that must not survive, ordinary text that must not change."""

from __future__ import annotations

import importlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evals import pii_cases, pii_redaction
from grader.safety.pii import iban_valid, luhn
from grader.safety.redact import Redactor, name_forms

SPEAKERS = {"Sam Rivera": "candidate", "Dana Lee": "interviewer", "Will Park": "interviewer",
            "SPEAKER_02": "other", "Jo O'Brien-Smith": "other"}


@pytest.fixture
def redactor() -> Redactor:
    return Redactor.from_speakers(SPEAKERS, extra_names=["Priya Natarajan"])


# (text, the personal data in it that must be gone, a placeholder that must be there)
PII = [
    ("Dana Lee: Sam, tell me about yourself.", ["Dana", "Lee", "Sam"], "[INTERVIEWER]"),
    ("sam rivera here, SAM RIVERA in capitals", ["sam", "rivera", "SAM", "RIVERA"], "[CANDIDATE]"),
    ("Rivera's team liked the plan.", ["Rivera"], "[CANDIDATE]'s"),
    ("[12.3] [Sam Rivera] and <v Dana Lee>hi</v>", ["Sam", "Rivera", "Dana"], "[12.3] [[CANDIDATE]]"),
    ("Will asked a follow-up, then Park wrapped up.", ["Will", "Park"], "[INTERVIEWER_2]"),
    ("Thanks, Jo. And thank you, Ms O'Brien-Smith; Smith is fine.", ["Jo", "O'Brien", "Smith"], "[OTHER]"),
    ("I reported to Priya Natarajan, and Priya approved it.", ["Priya", "Natarajan"], "[PERSON_1]"),
    ("Email me at sam.rivera@example.com or SAM.RIVERA@EXAMPLE.COM.", ["sam.rivera", "example.com", "EXAMPLE"],
     "[EMAIL_1]"),
    ("It's sam underscore r at gmail dot com.", ["sam underscore", "gmail"], "[EMAIL_1]"),
    ("Call (212) 555-0123 or 212.555.0199.", ["555-0123", "555.0199"], "[PHONE_1]"),
    ("My UK mobile is +44 7911 123456, office 020 7946 0958.", ["7911 123456", "7946 0958"], "[PHONE_1]"),
    ("The desk line is 555-0142.", ["555-0142"], "[PHONE_1]"),
    ("Portfolio: https://samrivera.dev/projects?id=3 and www.example.org/sam.", ["samrivera.dev", "example.org"],
     "[URL_1]"),
    ("Find me at github.com/samrivera or linkedin.com/in/sam-rivera-42.", ["github.com/samrivera", "sam-rivera-42"],
     "[URL_1]"),
    ("My SSN is 123-45-6789.", ["123-45-6789"], "[ID_1]"),
    ("National Insurance number AB 12 34 56 C, or AB123456C.", ["AB 12 34 56 C", "AB123456C"], "[ID_1]"),
    ("SIN 046 454 286 for the Canadian payroll.", ["046 454 286"], "[ID_1]"),
    ("The card was 4111 1111 1111 1111.", ["4111 1111 1111 1111"], "[ID_1]"),
    ("Pay into GB82 WEST 1234 5698 7654 32.", ["GB82 WEST 1234 5698 7654 32"], "[ID_1]"),
    ("My passport number is X12345678 and my employee id: 44-8812.", ["X12345678", "44-8812"], "[ID_1]"),
    ("I live at 1600 Pennsylvania Avenue NW, Washington, DC 20500.", ["1600 Pennsylvania", "20500"], "[ADDRESS_1]"),
    ("Our office was 221B Baker Street, London NW1 6XE.", ["221B Baker Street", "NW1 6XE"], "[ADDRESS_1]"),
    ("Send it to 42 Elm Street, Springfield, IL 62704 please.", ["42 Elm Street", "62704"], "[ADDRESS_1]"),
]


@pytest.mark.parametrize(("text", "gone", "placeholder"), PII)
def test_personal_data_is_replaced(redactor: Redactor, text: str, gone: list[str], placeholder: str) -> None:
    out = redactor.redact(text)
    for piece in gone:
        assert piece not in out, out
    assert placeholder in out, out


ORDINARY = [
    "I will ask the team, and we'll park the idea until the spring.",
    "In 2019 we grew from 3,000 to 1,000,000 users, 12.5% a year; 2019-2021 was busy.",
    "I led a team of 5 people and shipped 3 releases in 12 months on Python 3.11.",
    "Our p99 latency dropped from 250 ms to 120 ms in Q3 2023, at 99.95% uptime.",
    "We met at 9:30 every Monday in room 101; the ticket was JIRA-4512.",
    "Revenue grew 12% to $4.5 million and the model reached 0.84 AUC.",
    "I spent 2 years at Google working on Search Ads in Mountain View, California.",
    "The interviewer asked about the candidate's speaker notes.",
    "We exported JSON to example.com's bucket and read the docs.",
    "I scored 1450 on the SAT and a 5 on AP Stats.",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_unchanged(redactor: Redactor, text: str) -> None:
    assert redactor.redact(text) == text


def test_placeholders_are_consistent_and_idempotent(redactor: Redactor) -> None:
    first = redactor.redact("Write to sam.rivera@example.com, or call 212-555-0123.")
    second = redactor.redact("Again: SAM.RIVERA@example.com and (212) 555-0123; new: dana@example.org.")
    assert "[EMAIL_1]" in first and "[PHONE_1]" in first
    assert second.count("[EMAIL_1]") == 1 and "[PHONE_1]" in second and "[EMAIL_2]" in second
    assert redactor.redact(second) == second
    assert redactor.redact(redactor.redact("Sam Rivera, 123-45-6789")) == "[CANDIDATE], [ID_1]"


def test_mapping_and_restore_stay_in_memory(redactor: Redactor) -> None:
    out = redactor.redact("Dana Lee emailed sam.rivera@example.com")
    assert redactor.mapping["[INTERVIEWER]"] == "Dana Lee"
    assert redactor.mapping["[EMAIL_1]"] == "sam.rivera@example.com"
    assert redactor.restore(out) == "Dana Lee emailed sam.rivera@example.com"
    assert "Dana" not in repr(redactor) and "sam.rivera" not in repr(redactor)


def test_prepare_numbers_a_transcript_in_its_order() -> None:
    lines = ["a@example.com first", "b@example.com second"]
    forward, backward = Redactor.from_speakers({}), Redactor.from_speakers({})
    forward.prepare(lines)
    backward.prepare(lines)
    assert [backward.redact(x) for x in reversed(lines)] == [forward.redact(x) for x in reversed(lines)]
    assert forward.redact(lines[1]) == "[EMAIL_2] second"


def test_name_forms_skip_labels_that_are_not_names() -> None:
    assert name_forms("Sam Rivera") == ["Sam Rivera", "Sam", "Rivera"]
    assert name_forms("SPEAKER_02") == [] and name_forms("Interviewer") == []
    assert name_forms("Interviewer (Dana)") == ["Dana"]
    assert "Smith" in name_forms("Jo O'Brien-Smith")


def test_checksums() -> None:
    assert luhn("4111111111111111") and not luhn("4111111111111112")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82 WEST 1234 5698 7654 33")


FRAGMENTS = ["Sam Rivera", "Dana", "sam.rivera@example.com", "(212) 555-0123", "123-45-6789", "AB 12 34 56 C",
             "github.com/samrivera", "42 Elm Street", "we shipped", "3 releases", "in 2019", "the model", "and", ","]


@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12))
@settings(max_examples=60, deadline=None)
def test_redaction_is_idempotent_and_leaves_no_fragment(pieces: list[str]) -> None:
    redactor = Redactor.from_speakers({"Sam Rivera": "candidate", "Dana Lee": "interviewer"})
    once = redactor.redact(" ".join(pieces))
    assert redactor.redact(once) == once
    for secret in FRAGMENTS[:7]:
        assert secret not in once


# -- issue 21: other people's names, nicknames, numbers said as words, dates of birth, organisations ------------

TEAM = {"Samantha Rivera": "candidate", "Robert Chen": "interviewer", "Katherine Okafor": "interviewer"}


@pytest.fixture
def team() -> Redactor:
    return Redactor.from_speakers(TEAM)


@pytest.mark.parametrize(("text", "gone"), [
    ("I reported to Priya Natarajan, and Priya gave me the migration.", ["Priya", "Natarajan"]),
    ("My manager, Tomasz Kowalski, asked me to own the rollout.", ["Tomasz", "Kowalski"]),
    ("Dr. Okonkwo supervised my thesis on graph partitioning.", ["Okonkwo"]),
    ("my manager kwame was really supportive when the launch slipped", ["kwame"]),
    ("The analyst, Siobhan O'Connell, found the bug in the join.", ["Siobhan", "O'Connell"]),
    ("A guy named Connor kept breaking the build on Fridays.", ["Connor"]),
    ("I paired with Mei Lin on the billing service.", ["Mei Lin"]),
    ("Olga and I rewrote the ingestion jobs in a weekend.", ["Olga"]),
])
def test_names_of_people_who_are_not_speakers_are_replaced(team: Redactor, text: str, gone: list[str]) -> None:
    out = team.redact(text)
    assert "[PERSON_1]" in out, out
    for piece in gone:
        assert piece not in out, out


def test_a_person_keeps_one_placeholder_across_mentions(team: Redactor) -> None:
    team.prepare(["I reported to Priya Natarajan.", "Later Priya moved teams."])
    assert team.redact("Later Priya moved teams.") == "Later [PERSON_1] moved teams."
    assert team.restore("[PERSON_1]") == "Priya Natarajan"


@pytest.mark.parametrize(("text", "placeholder", "gone"), [
    ("Thanks, Sam, that's a great example.", "[CANDIDATE]", "Sam"),
    ("Sammy, can you tell me about a conflict?", "[CANDIDATE]", "Sammy"),
    ("Bob asked about my last project first.", "[INTERVIEWER]", "Bob"),
    ("Rob, I think that answers your question.", "[INTERVIEWER]", "Rob"),
    ("Katie mentioned the team is growing.", "[INTERVIEWER_2]", "Katie"),
    ("kate can you hear me now", "[INTERVIEWER_2]", "kate"),
])
def test_speakers_nicknames_become_their_role(team: Redactor, text: str, placeholder: str, gone: str) -> None:
    out = team.redact(text)
    assert placeholder in out and gone not in out, out


def test_a_nickname_that_is_a_word_is_replaced_only_capitalised(team: Redactor) -> None:
    assert team.redact("They tried to rob the bank.") == "They tried to rob the bank."


@pytest.mark.parametrize(("text", "gone"), [
    ("My number is five five five, one two three four.", "five five five, one two three four"),
    ("You can reach me on oh seven nine one one, one two three four five six.", "oh seven nine one one"),
    ("The office line is double five, three two, one eight, seven seven.", "double five, three two"),
    ("phone five five five, twelve thirty four", "twelve thirty four"),
    ("It's eight hundred, five five five, oh one nine nine.", "oh one nine nine"),
])
def test_numbers_said_as_words_are_replaced(team: Redactor, text: str, gone: str) -> None:
    out = team.redact(text)
    assert "[PHONE_1]" in out and gone not in out, out


def test_a_spoken_number_shares_the_placeholder_of_its_digits(team: Redactor) -> None:
    out = team.redact("Call 555-1234, that is five five five, one two three four.")
    assert out == "Call [PHONE_1], that is [PHONE_1]."


@pytest.mark.parametrize(("text", "gone"), [
    ("I was born on the 4th of March, 1991.", "4th of March, 1991"),
    ("My date of birth is 12/05/1988.", "12/05/1988"),
    ("DOB: 1990-07-23, in case HR needs it.", "1990-07-23"),
    ("my birthday is the fifth of june nineteen ninety two", "nineteen ninety two"),
    ("I was born in 1994, so I grew up with the web.", "1994"),
    ("My birthday is on 17 August.", "17 August"),
])
def test_dates_of_birth_are_replaced(team: Redactor, text: str, gone: str) -> None:
    out = team.redact(text)
    assert "[DOB_1]" in out and gone not in out, out


@pytest.mark.parametrize(("text", "gone"), [
    ("I spent two years at Stripe on the payments team.", "Stripe"),
    ("Before that I studied at the University of Toronto.", "University of Toronto"),
    ("My first job was at Acme Analytics Ltd, a ten-person startup.", "Acme Analytics Ltd"),
    ("I did my master's at Imperial College London.", "Imperial College London"),
    ("I joined Shopify as a senior engineer in 2020.", "Shopify"),
])
def test_organisations_are_replaced_only_when_asked(text: str, gone: str) -> None:
    assert Redactor.from_speakers(TEAM).redact(text) == text  # the default keeps them: they are often the answer
    out = Redactor.from_speakers(TEAM, redact_orgs=True).redact(text)
    assert "[ORG_1]" in out and gone not in out, out


@pytest.mark.parametrize("text", [
    "We used Jenkins and Kafka, and Julia for the numerics.",
    "I used Dijkstra's algorithm for the routing service.",
    "We shipped it in March 2021 and it has been stable since.",
    "I moved to Austin in 2018 and then to Sydney.",
    "The project was born out of a hackathon in 2016.",
    "I led a team of five and we shipped three releases in twelve months.",
    "Will the new schema work with the old clients? That was the question.",
    "Ray Tune did the hyperparameter search for us.",
    "I'm a Junior here, um, studying aerospace engineering.",
    "Ummm and I guess last year the club doubled in size.",
])
def test_names_of_things_places_and_months_are_kept(team: Redactor, text: str) -> None:
    assert team.redact(text) == text


def test_new_placeholders_are_left_alone() -> None:
    text = "[PERSON_1] was born on [DOB_1] and worked at [ORG_1]; call [PHONE_1]."
    assert Redactor.from_speakers(TEAM, redact_orgs=True).redact(text) == text


def test_the_labelled_set_leaks_little_on_the_held_out_half() -> None:
    """evals/pii_cases.py, held-out half: the figures when the finders were written (the ceilings of a regression)."""
    held_out = [c for c in pii_cases.cases() if c.split == "heldout"]
    assert all(sum(c.kind == kind for c in pii_cases.cases()) >= 50
               for kind in ("third_party", "nickname", "spoken_number", "dob", "org", "keep"))
    ceilings = {"third_party": 0.15, "nickname": 0.10, "spoken_number": 0.05, "dob": 0.05, "keep": 0.05}
    module = importlib.import_module("grader.safety.redact")
    for kind, ceiling in ceilings.items():
        bad, total, _ = pii_redaction.figures(module, [c for c in held_out if c.kind == kind], redact_orgs=False)
        assert bad / total <= ceiling, (kind, bad, total)
    bad, total, _ = pii_redaction.figures(module, [c for c in held_out if c.kind == "org"], redact_orgs=True)
    assert bad / total <= 0.10

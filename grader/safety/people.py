"""Finders of personal data that take reading rather than a pattern: people's names, nicknames, dates of birth,
numbers said as words, and organisations.

No offline named-entity model good enough ships inside a PyPI package (see docs of issue 21: spaCy's
models are not published there by their makers, GLiNER and Flair download their weights at run
time, and the one name database that does ship, `names-dataset`, takes 20 s and 1.9 GB to load and
holds most words of English as someone's name), so these are rules over what an interview says:
- people: a title ("Dr. Okonkwo"), a relation ("my manager, Tomasz Kowalski", "my lead priyanka"),
  a person noun with a name ("a guy named Connor"), a verb done to or with a person ("I told
  Mateo", "paired with Mei Lin"), a name doing something ("Jessica said", "Olga and I"), or a given
  name of the `nicknames` package's English names (Carlton Northern's hand-curated list) with the
  capitalised surname after it. Words that are also technologies, places or months ("Julia",
  "Kafka", "Austin", "May") count only in a context that makes them a person.
- nicknames: a speaker's nicknames and short forms from the same list ("Samantha": Sam, Sammy;
  "Robert": Rob, Bob, Bobby), and the -y/-ie forms of a short name ("Sam": Sammie).
- dates of birth: a date (in digits, in words, or a year) near "born", "birthday", "date of birth"
  or "DOB".
- numbers said as words: a run of number words ("five five five, one two three four", "oh seven
  nine", "double five", "twelve thirty four") that makes seven digits or more, three of them
  said digit by digit (or six, all said digit by digit).
- organisations: names ending in a company or school word ("Acme Analytics Ltd", "University of
  Toronto", "Imperial College London"), and a capitalised name after "worked at", "joined", "studied
  at", "interned at" ... or a well-known employer's name.
Each returns `Span`s like the finders of `grader.safety.pii`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from nicknames import NickNamer

from grader.safety.pii import PiiKind, Span


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_UP = "A-ZÀ-ÖØ-ÞĀ-Ž"
_LOW = "a-zß-öø-ÿā-ž"
NAME = rf"(?:[{_UP}]['’]|Mc|Mac)?[{_UP}][{_LOW}]+(?:[-'’][{_UP}{_LOW}][{_LOW}]+)*"  # Kowalski, O'Connell, Al-Sayed
_NAMES = rf"{NAME}(?:\s+{NAME}){{0,2}}"

# words that can stand where a name does but are not one (capitalised at a sentence start, or things)
STOP = _words("""
i i'm i've i'd i'll me my we our us you your he him his she her they them their it its this that these those the a an
and or but so then when while if because as at in on of for to from with by about after before during over under
everyone everybody someone somebody nobody anyone anybody all both each every some many most few none one two three
yes no okay ok oh uh um well also again still just really actually basically honestly sorry thanks thank hi hello hey
good great sure right so yeah yep nope maybe perhaps later now today tomorrow yesterday there here what who why how
which where whose management finance legal security hr product engineering marketing sales support operations ops
design data research platform infrastructure leadership team company client customer customers users board
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august september
october november december christmas easter halloween spring summer autumn fall winter
um umm ummm uh uhh uhm hmm hm er erm ah ahh mm mhm like not no none nothing junior senior sophomore freshman
alright said says told asked was is were has had have gave got went did made would could should will can might must
always never ever often usually who whom that which really very too quite pretty kind sort
engineers students people guys folks members friends colleagues managers developers designers analysts scientists
west east north south western eastern northern southern international national global
""")
# given names that are also technologies, products, places, or ordinary words: a person only in a person's context
THINGS = _words("""
julia ada ruby crystal hugo jasmine mocha karma apollo ember alexa siri cortana watson jenkins travis circle django
sinatra flask kafka cassandra hive spark presto airflow luigi dagster celery redis maria sage maple octave pascal
haskell erlang elixir scala kotlin swift dart rust perl lua stan pyro edward keras torch ray dask polars arrow delta
tableau looker sigma mode amplitude segment oracle chef puppet salt vault consul nomad packer vagrant helm envoy
prometheus grafana kibana jaeger sentry splunk elastic apache tomcat jetty beam athena aurora neptune lambda gemini
claude llama mistral falcon bert roberta albert electra ernie grover elmo sparrow bard devin kite dash shiny bokeh
altair vega prophet bayes gauss markov newton euler laplace fourier kalman poisson dijkstra turing monte carlo
austin jordan georgia florence victoria sydney chelsea paris india virginia carolina dakota brooklyn madison charlotte
phoenix savannah dallas houston denver orlando lincoln washington jackson chicago boston berlin jersey vienna milan
dublin china asia africa america europe london california texas florida york philadelphia arizona alberta augusta
adelaide providence regina helena hamilton franklin kent marion vernon eugene
will mark bill frank drew chase pat sue max jack gene sky river storm amber pearl iris ivy holly jade sunny rusty
bob don ken jean angel lane hunter violet penny carol robin rose daisy lily basil herb rich page bishop cliff dale
glen heath lance miles norman sterling wade wallace warren sherman percy victor gale reed rod nick ted sandy gus mac
mo lou sal val cal al ed guy faith hope joy grace dawn june april august may summer autumn rose price cook baker
little young king brown white black green gray grey long hill wood stone rice hall park love moss marsh fox wolf lamb
bush best hart chance cash early short sharp well wells ward field fields banks con camp
""")
# employers so well known that their bare name is an organisation wherever it stands
KNOWN_ORGS = _words("""
google alphabet amazon aws microsoft meta facebook apple netflix uber lyft airbnb stripe shopify spotify twitter
linkedin salesforce oracle ibm intel nvidia amd qualcomm cisco adobe sap siemens bosch philips samsung sony toyota
tesla deloitte accenture mckinsey bcg bain pwc kpmg ey jpmorgan citi citigroup barclays hsbc ubs santander
goldman morgan stanley blackrock citadel bloomberg palantir atlassian unilever nestle tesco walmart target vodafone
verizon nhs nasa openai anthropic deepmind databricks snowflake
""")
_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Professor|Sir|Dame|Madam|Madame|Monsieur|Herr|Frau|Señor|Señora)"
_RELATION = (r"(?:manager|boss|lead|colleague|co-?worker|teammate|mentor|mentee|friend|wife|husband|partner|son|"
             r"daughter|brother|sister|mother|father|mom|mum|dad|cto|ceo|cfo|coo|vp|director|supervisor|report|intern|"
             r"client|customer|professor|advisor|adviser|tutor|designer|analyst|scientist|engineer|owner|contractor|"
             r"recruiter|architect|founder|co-?founder|head|chair|juniors?|seniors?|interns|engineers|colleagues|"
             r"reports|teammates|twins|kids|children)")
_RELATION_CUE = re.compile(
    rf"\b(?:my|our|his|her|their|the|a|an|two|three)\s+(?:(?:former|old|new|first|current|direct|previous|line|tech|"
    rf"team|product|engineering|project|program|data|senior|junior|lead|best|closest)\s+)*{_RELATION}\b"
    rf"(?:\s+(?:of|at|from|on)\s+(?:the\s+)?[\w-]+)?\s*,?\s+", re.IGNORECASE)
_PERSON_NOUN = re.compile(r"\b(?:guy|man|woman|lady|girl|boy|person|someone|engineer|developer|contractor|client|"
                          r"colleague|friend|manager|recruiter|student|intern|gentleman)\s+(?:named|called)\s+",
                          re.IGNORECASE)
_TO_PERSON = re.compile(r"\b(?:told|asked|thanked|onboarded|mentored|hired|fired|coached|convinced|emailed|"
                        r"messaged|pinged|(?:paired|worked|met|spoke|talked|interviewed|partnered|collaborated|sat|"
                        r"argued|disagreed)(?:\s+\w+ly)? with|"
                        r"(?:reported|escalated|talked|spoke|explained|introduced me|presented) to|"
                        r"(?:learned|learnt|heard)(?: a lot| so much)? from|(?:under|for) (?=Dr|Mr|Ms))"
                        r"\s+", re.IGNORECASE)
_DOES = re.compile(rf"({_NAMES})(?:\s+and\s+({_NAMES}))?(?:,\s+[^,]{{1,40}},)?\s+(?:said|says|told|asked|suggested|"
                   r"mentioned|wanted|wrote|explained|replied|agreed|insisted|decided|noticed|pointed|reminded|"
                   r"owned|reviewed|approved|found|left|joined|kept|pushed|thinks|thought|felt|liked|hated|helped|"
                   r"taught|signed|supervised|managed|hired|trained|presented|ran|rewrote|built|wrote|changed|"
                   rf"needed|let|gave|both)\b|({_NAMES})\s+and\s+I\s+(?:\w+ed|were|both|had|split|ran|built|wrote|led|met|"
                   r"went|did|made|spent|took|shared|sat|fought|won|got|set|put|kept|began|drove|taught|found|"
                   r"presented|rewrote|co-\w+)\b")
_ME_AND = re.compile(rf"\bI\s+(?:and|with)\s+({_NAMES})")
_LOWER_NAME = re.compile(r"([a-z][a-z'-]{2,})\s+(?:was|is|were|has|had|said|told|asked|referred|reviewed|gave|helped|"
                         r"wanted|liked|thought|approved|suggested|showed|taught|let|made|built|wrote|ran)\b")


@functools.cache
def _nick_namer() -> NickNamer:
    return NickNamer()


@functools.cache
def given_names() -> frozenset[str]:
    """English given names and nicknames (lower case) of the `nicknames` package."""
    namer = _nick_namer()
    return frozenset(set(namer.nickname_lookup) | set(namer.canonical_lookup))


def nicknames(name: str) -> set[str]:
    """A first name's nicknames and short forms, lower case ("samantha" → sam, sammy, ...); empty if unknown."""
    namer = _nick_namer()
    first = name.lower()
    forms = set(namer.nicknames_of(first))
    for short in [first, *forms]:
        if len(short) <= 4 and short.isalpha():  # Sam: Sammy, Sammie; Kate: Katie, Katy
            stem = short[:-1] if short.endswith("e") and len(short) > 3 else short
            double = stem + stem[-1] if stem[-1] not in "aeiouy" else stem
            forms |= {stem + "y", stem + "ie", double + "y", double + "ie"}
    return {f for f in forms if len(f) >= 2 and f != first and f not in _NOT_NICKNAMES}


_NOT_NICKNAMES = frozenset({"dob", "hob", "lib", "ed", "mo", "di", "jo", "al"}) - {"al"}


def _is_thing(word: str) -> bool:
    low = word.lower().strip("'’")
    return low in STOP or low in THINGS or low in KNOWN_ORGS


def _name_words(text: str) -> list[re.Match[str]]:
    return list(re.finditer(NAME, text))


def _span(text: str, start: int, end: int) -> Span:
    piece = text[start:end]
    return Span(start, end, PiiKind.person, piece, " ".join(piece.lower().split()))


def _names_at(text: str, start: int, *, strong: bool = False) -> list[Span]:
    """The name (one to three capitalised words; in a `strong` context, where only a person can stand, also a
    name that is a thing, or one lower-case word) that starts at `start`."""
    found = re.compile(rf"({_NAMES})(?:\s*,?\s+and\s+({_NAMES}))?").match(text, start)
    if found:
        spans = []
        for group in (1, 2):
            if found.group(group):
                words = found.group(group).split()
                words = words if strong or not _is_thing(words[0]) else []
                if words and not _is_org_word(words[-1]):
                    head = found.start(group)
                    piece = " ".join(words)
                    end = text.find(piece, head) + len(piece) if piece in text[head:] else found.end(group)
                    spans.append(_span(text, head, end))
        return spans
    if strong:
        low = _LOWER_NAME.match(text, start)
        if low and low.group(1) not in STOP and not low.group(1).endswith("ly") and low.group(1) not in THINGS:
            return [_span(text, low.start(1), low.end(1))]
    return []


def _is_org_word(word: str) -> bool:
    return word.lower() in _ORG_WORDS


def find_people(text: str) -> list[Span]:
    """Names of people in `text` (speakers included: the redactor gives those their role)."""
    spans: list[Span] = []
    for m in re.finditer(rf"\b{_TITLE}\.?\s+(?={NAME})", text):
        spans += _names_at(text, m.end(), strong=True)
    for cue in (_RELATION_CUE, _PERSON_NOUN, _TO_PERSON):
        for m in cue.finditer(text):
            spans += _names_at(text, m.end(), strong=cue is not _TO_PERSON)
    for m in _DOES.finditer(text):
        for group in (1, 2, 3):
            words = m.group(group).split() if m.group(group) else []
            if words and not _is_thing(words[0]) and not any(w.lower() in STOP or _is_org_word(w) for w in words):
                spans.append(_span(text, m.start(group), m.end(group)))
    for m in _ME_AND.finditer(text):
        if m.group(1) and not _is_thing(m.group(1).split()[0]):
            spans.append(_span(text, m.start(1), m.end(1)))
    spans += _gazetteer_names(text)
    return spans


_SENTENCE_START = re.compile(r"(?:^|[.!?:;\]\n]|\b(?:u+h*m+|u+h+|h+m+|e+r+m*|a+h+|oh|so|well|yeah|okay|ok))"
                             r"[\s,\-–]*$", re.IGNORECASE)


def _gazetteer_names(text: str) -> list[Span]:
    """A capitalised English given name (not a thing or a common word), with the capitalised words after it."""
    names = given_names()
    spans = []
    for m in re.finditer(rf"(?<![\w'’-])({NAME})((?:\s+{NAME}){{0,2}})", text):
        first = m.group(1)
        if first.lower() not in names or _is_thing(first) or len(first) < 3:
            continue
        if not m.group(2).strip() and _SENTENCE_START.search(text[:m.start(1)]):
            continue  # one capitalised word at a sentence start: "Little cold.", "Si I am" (a name doing: _DOES)
        rest = [w for w in m.group(2).split()]
        kept = []
        for word in rest:
            if _is_thing(word) or _is_org_word(word):
                break
            kept.append(word)
        piece = " ".join([first, *kept])
        spans.append(_span(text, m.start(1), m.start(1) + len(piece)))
    return spans


# -- numbers said as words -------------------------------------------------------------------------------------
_DIGITS = {"zero": "0", "oh": "0", "o": "0", "nought": "0", "nil": "0", "one": "1", "two": "2", "three": "3",
           "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_TEENS = {"ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15",
          "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19"}
_TENS = {"twenty": "2", "thirty": "3", "forty": "4", "fifty": "5", "sixty": "6", "seventy": "7", "eighty": "8",
         "ninety": "9"}
_REPEAT = {"double": 2, "triple": 3}
_NUMBER_WORD = re.compile(r"[A-Za-z]+")
_NUMBER_GAP = re.compile(r"[\s,.\-–]{0,3}")
MIN_SPOKEN_DIGITS = 7


def _number_runs(text: str) -> Iterable[tuple[int, int, str, int]]:
    """(start, end, digits, digits said one by one) of every run of number words."""
    words = list(_NUMBER_WORD.finditer(text))
    i = 0
    while i < len(words):
        start, digits, singles, last_end, j = words[i].start(), "", 0, words[i].start(), i
        while j < len(words):
            word = words[j].group(0).lower()
            if j > i and not _NUMBER_GAP.fullmatch(text[last_end:words[j].start()]):
                break
            if word in _REPEAT and j + 1 < len(words) and words[j + 1].group(0).lower() in _DIGITS:
                digits += _DIGITS[words[j + 1].group(0).lower()] * _REPEAT[word]
                singles += _REPEAT[word]
                last_end, j = words[j + 1].end(), j + 2
                continue
            if word in _DIGITS and not (word == "o" and j == i):
                if j + 1 < len(words) and words[j + 1].group(0).lower() == "hundred":
                    digits += _DIGITS[word] + "00"
                    last_end, j = words[j + 1].end(), j + 2
                    continue
                digits += _DIGITS[word]
                singles += 1
            elif word in _TEENS:
                digits += _TEENS[word]
            elif word in _TENS:
                unit = words[j + 1].group(0).lower() if j + 1 < len(words) else ""
                if unit in _DIGITS and unit not in ("o", "oh", "zero", "nought", "nil") and re.fullmatch(
                        r"[\s-]", text[words[j].end():words[j + 1].start()]):
                    digits += _TENS[word] + _DIGITS[unit]
                    last_end, j = words[j + 1].end(), j + 2
                    continue
                digits += _TENS[word] + "0"
            else:
                break
            last_end, j = words[j].end(), j + 1
        if j > i:
            yield start, last_end, digits, singles
            i = j
        else:
            i += 1


def find_spoken_numbers(text: str) -> list[Span]:
    """Numbers said as words that are long enough to be a phone, account or id number."""
    return [Span(start, end, PiiKind.phone, text[start:end], digits)
            for start, end, digits, singles in _number_runs(text)
            if (len(digits) >= MIN_SPOKEN_DIGITS and singles >= 3) or (len(digits) >= 6 and singles == len(digits))]


# -- dates of birth ------------------------------------------------------------------------------------------
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
          r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_ORDINAL_WORD = (r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|"
                 r"fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|thirtieth|"
                 r"(?:twenty|thirty)[\s-](?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth))")
_DAY = rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|{_ORDINAL_WORD})"
_SPOKEN_YEAR = (r"(?:nineteen|twenty|two thousand(?: and)?)[\s-](?:(?:ten|eleven|twelve|thirteen|fourteen|fifteen|"
                r"sixteen|seventeen|eighteen|nineteen)|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
                r"(?:[\s-](?:one|two|three|four|five|six|seven|eight|nine))?|oh[\s-](?:one|two|three|four|five|six|"
                r"seven|eight|nine)|one|two|three|four|five|six|seven|eight|nine)")
_YEAR = rf"(?:(?:19|20)\d{{2}}|{_SPOKEN_YEAR})"
_DATE = re.compile(
    rf"\b(?:\d{{1,4}}[./-]\d{{1,2}}[./-]\d{{2,4}}"
    rf"|(?:the\s+)?{_DAY}(?:\s+of)?\s+{_MONTH}(?:,?\s+{_YEAR})?"
    rf"|{_MONTH}\s+(?:the\s+)?{_DAY}(?:,?\s+{_YEAR})?"
    rf"|{_MONTH}\s+(?:the\s+)?(?:twenty|thirty)[\s-](?:one|two|three|four|five|six|seven|eight|nine)?(?:first|second|"
    rf"third|fourth|fifth|sixth|seventh|eighth|ninth)?"
    rf"|{_MONTH},?\s+{_YEAR}"
    rf"|(?:christmas|new year's|halloween|valentine's)(?:\s+(?:day|eve))?(?:,?\s+{_YEAR})?"
    rf"|{_YEAR})\b", re.IGNORECASE)
_BIRTH = re.compile(r"\b(?:born|birth\s?days?|birth\s?dates?|date of birth|d\.\s?o\.\s?b\.?|dob)\b(?!\s+(?:out of|from|"
                    r"again|with|and raised))", re.IGNORECASE)
_NOT_A_PERSON_BORN = re.compile(r"\b(?:project|idea|company|product|startup|team|it|this|that|tool|service|"
                                r"initiative|platform|feature)\s+(?:was|were|is)\s+$", re.IGNORECASE)
BIRTH_WINDOW = 60


def find_dobs(text: str) -> list[Span]:
    """Dates (and years) of birth: a date within a few words after "born", "birthday", "date of birth", "DOB"."""
    spans = []
    for cue in _BIRTH.finditer(text):
        if _NOT_A_PERSON_BORN.search(text[max(0, cue.start() - 30):cue.start()]):
            continue
        window_end = min(len(text), cue.end() + BIRTH_WINDOW)
        for date in _DATE.finditer(text, cue.end(), window_end):
            spans.append(Span(date.start(), date.end(), PiiKind.dob, date.group(0), date.group(0).lower()))
        for start, end, digits, _ in _number_runs(text[cue.end():window_end]):  # "my dob is three twelve ninety"
            if len(digits) >= 4:
                spans.append(Span(cue.end() + start, cue.end() + end, PiiKind.dob, text[cue.end() + start:
                                                                                       cue.end() + end], digits))
    return spans


# -- organisations -------------------------------------------------------------------------------------------
_ORG_WORDS = _words("""
inc ltd llc llp plc gmbh ag sa sas bv nv corp corporation company co group holdings technologies technology labs lab
systems solutions software partners capital ventures bank insurance consulting analytics networks studios media
pharmaceuticals health hospital clinic foundation institute college university school academy agency ministry
laboratory research robotics society club association council committee center centre initiative union league
department
""")
_ORG_WORD = r"(?:[A-Z][\w&'’.-]*|&)"
_SUFFIX_ORG = re.compile(
    rf"\b(?:the\s+)?(?:{_ORG_WORD}\s+){{0,4}}(?:Inc|Ltd|LLC|LLP|PLC|GmbH|AG|SAS|BV|NV|Corp|Corporation|Company|Group|"
    rf"Holdings|Technologies|Technology|Labs|Systems|Solutions|Software|Partners|Capital|Ventures|Bank|Insurance|"
    rf"Consulting|Analytics|Networks|Studios|Media|Pharmaceuticals|Health|Hospital|Clinic|Foundation|Institute|"
    rf"College|University|School|Academy|Agency|Laboratory|Research|Robotics|Healthineers|Chase|Sachs)\b\.?"
    rf"(?:\s+(?:of|for|de|di|du)\s+(?:{_ORG_WORD}\s*)+)?")
_OF_ORG = re.compile(r"\b(?:the\s+)?(?:University|Universidad|Universidade|Università|Universität|Université|"
                     r"Universiteit|Politecnico|Polytechnic|Institute|Instituto|Istituto|College|School|Academy|École|Escuela|"
                     r"Hochschule|Bank|Ministry|Department)\s+(?:of|de|di|for|della|du|des|der)\s+(?:[A-Z][\w'’.-]*"
                     r"(?:\s+(?:of|de|di|for)\s+)?\s*)+")
_ORG_CUE = re.compile(r"\b(?:(?:work|worked|working|works|intern|interned|employed|hired|acquired|job|role|position|"
                      r"consultant|analyst|engineer|scientist|developer|quant|postdoc|studied|study|graduated|degree|"
                      r"phd|master's|bachelor's|diploma|taught|currently|was|i'm|am|been|time|year|years)\s+"
                      r"(?:\w+\s+){0,3}?(?:at|for|from|by|with the)|joined|join|joining|left|leaving|(?:^|[.!?]\s+)at)"
                      r"\s+(?:the\s+)?", re.IGNORECASE)


def find_orgs(text: str) -> list[Span]:
    """Organisations: names with a company or school word, a capitalised name where one works or studies, or a
    well-known employer's name."""
    spans = [_org_span(text, m.start(), m.end()) for m in (*_SUFFIX_ORG.finditer(text), *_OF_ORG.finditer(text))]
    for cue in _ORG_CUE.finditer(text):
        m = re.compile(rf"{_ORG_WORD}(?:\s+(?:{_ORG_WORD}|of|and|de|di))*").match(text, cue.end())
        if m:
            words = m.group(0).split()
            while words and (words[-1].lower() in ("of", "and", "de", "di") or words[-1].lower() in STOP):
                words.pop()
            if words and words[0].lower() not in STOP and words[0] != "I":
                piece = " ".join(words)
                spans.append(_org_span(text, m.start(), m.start() + len(piece)))
    for m in re.finditer(r"\b[A-Z][A-Za-z&]+\b", text):
        if m.group(0).lower() in KNOWN_ORGS:
            spans.append(_org_span(text, m.start(), m.end()))
    return [s for s in spans if s.text]


def _org_span(text: str, start: int, end: int) -> Span:
    piece = text[start:end].rstrip(" .,;:'’")
    if piece.lower().startswith("the "):
        start, piece = start + 4, piece[4:]
    piece = re.sub(r"['’]s$", "", piece)
    return Span(start, start + len(piece), PiiKind.org, piece, " ".join(piece.lower().split()))

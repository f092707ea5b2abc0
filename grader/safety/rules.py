"""The rules of the prompt-injection detector: one regular expression per way of talking to the grader.

Every pattern is matched case-insensitively on normalised text (see `grader.safety.injection`).
Each rule names the kind of finding and says in plain words what it caught, for the reviewer.
A rule that needs the imperative (`ignore the rubric`, not `they ignore the rubric`) lists the
words that, just before the verb, make it a description rather than an order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from grader.safety.languages import LEXICONS, Lexicon, strip_marks


class FindingKind(StrEnum):
    addresses_grader = "addresses_grader"
    score_request = "score_request"
    instruction_override = "instruction_override"
    role_tag = "role_tag"
    fake_reply_json = "fake_reply_json"
    delimiter = "delimiter"


@dataclass(frozen=True)
class Rule:
    kind: FindingKind
    pattern: re.Pattern[str]
    explanation: str
    imperative_only: bool = False  # skip a match preceded by a subject or a modal (a description, not an order)
    lang: str = "en"
    not_after: frozenset[str] = frozenset()  # words that, just before the match, make it a description
    name: str = ""  # a stable id, `<lang>.<kind>.<n>`, recorded with every finding
    gate: re.Pattern[str] | _Both | None = None  # a cheap search that must match before the rule is tried (speed)


def _rule(kind: FindingKind, pattern: str, explanation: str, *, imperative_only: bool = False, lang: str = "en",
          not_after: frozenset[str] = frozenset()) -> Rule:
    return Rule(kind, re.compile(pattern, re.IGNORECASE | re.MULTILINE), explanation, imperative_only, lang, not_after)


# the grader, as a speaker may name it
_AI = (r"(?:a\.?i\.?|llm|large language model|language model|(?:grading |scoring |evaluation )?model|grader|"
       r"evaluator|scorer|assistant|chat ?gpt|gpt(?:-?\d\w*)?|claude|gemini|copilot|bot|algorithm|"
       r"(?:automated |ai )?(?:screening|grading|scoring|evaluation|hiring|interview) "
       r"(?:system|tool|software|ai|bot|model|engine|pipeline|program)|chatbot|"
       r"automated (?:system|grader|screener|reviewer))")
# names that, followed by a colon or after a comma, can only be a vocative to the grader ("model" alone is too common)
_AI_STRICT = (r"(?:a\.?i\.?|llm|large language model|language model|grader|evaluator|scorer|chat ?gpt|gpt(?:-?\d\w*)?|"
              r"claude|gemini|bot|chatbot|(?:automated |ai )?(?:grading|scoring|screening|evaluation|hiring|interview) "
              r"(?:system|tool|software|ai|bot|model|engine|pipeline|program))")
_OBJECT = (r"(?:me|us|him|her|them|this(?: (?:answer|candidate|response|transcript|interview|applicant|person))?|"
           r"the (?:candidate|applicant|interviewee)|my (?:answers?|responses?|interview))")
_TOP = (r"(?:(?:a|an|the) )?(?:5|five|10|ten|5/5|10/10|5 out of 5|five out of five|perfect|full|top|maximum|max|"
        r"highest|best|excellent|exceptional|outstanding|level ?5|level five|passing|pass|high)"
        r"(?: (?:score|marks?|level|rating|grade|points))?\b")
_ASKING = r"(?:scoring|grading|evaluating|assessing|rating|marking|screening|reading|reviewing|analy[sz]ing|processing)"
_TARGET_STRONG = (r"(?:(?:all|any|every) (?:of )?)?(?:the |your |these |those |its )?"
                  r"(?:(?:previous|prior|above|earlier|preceding|original|initial|system|current|given|default) )+"
                  r"(?:instructions?|prompts?|rules|directions|directives|guidelines|guidance|context|messages?)"
                  r"|(?:all )?your (?:instructions?|rules|prompts?|guidelines|directions|programming|training)"
                  r"|(?:the |this |your )?(?:rubric|system prompt|scoring (?:guide|rules|criteria|rubric|instructions)|"
                  r"grading (?:guide|rules|criteria|rubric|instructions|guidelines)|"
                  r"evaluation (?:criteria|rubric|rules))"
                  r"|everything (?:above|before this|you were told|else you were told)")
_TARGET_WEAK = (r"(?:all |any )?(?:the |these |those )?(?:criteria|instructions|rules|guidelines|scoring|grading|"
                r"competencies|anchors)|everything")
_OVERRIDE = (r"(?:ignore|disregard|forget|override|overrule|bypass|skip|set aside|throw out|discard|"
             r"do not (?:follow|apply|use|consider)|don'?t (?:follow|apply|use|consider)|stop following)")

RULES: tuple[Rule, ...] = (
    # -- addressed to the grader ----------------------------------------------------------------------
    _rule(FindingKind.addresses_grader,
          rf"\b(?:dear|hello|hi|hey|attention|greetings)[\s,:]+(?:the |my |dear )?{_AI}\b",
          "greets the AI grader directly"),
    _rule(FindingKind.addresses_grader,
          rf"\b(?:note|message|p\.?s\.?|instructions?|reminder|request|memo)[\s,:]+(?:to|for) "
          rf"(?:the |any |an? )?{_AI}\b",
          "leaves a note for the AI grader"),
    _rule(FindingKind.addresses_grader, rf"(?:^|[.!?]\s*)(?:to|for) (?:the |any |an? )?{_AI}\s*[:,]",
          "opens a message to the AI grader"),
    _rule(FindingKind.addresses_grader,
          rf"\b(?:(?:whoever|whatever|whichever|anyone|anything)(?: \w+)?|"
          rf"(?:the|any) (?:person|ai|llm|model|system|tool|software|algorithm|"
          rf"program|machine))(?: that| who| which)?(?: is| are|'s)? {_ASKING} (?:this|these|my|me\b|the "
          r"(?:transcript|interview|candidate|answers?|responses?|conversation))",
          "speaks to whoever or whatever is grading the transcript"),
    _rule(FindingKind.addresses_grader,
          r"\bif you(?:'re| are) (?:an? |the )?(?:ai|a\.i\.|llm|large language model|language model|model|grader|"
          r"evaluator|assistant|bot|automated|machine|chat ?gpt|gpt)",
          "asks whether the reader is an AI"),
    _rule(FindingKind.addresses_grader,
          rf"\bas (?:the|an?) (?:ai|a\.i\.|llm|language model|model|grader|evaluator|assistant|system|bot)"
          rf"(?: that is| who is)? "
          rf"{_ASKING}\b", "speaks to the AI in its role of grader"),
    _rule(FindingKind.addresses_grader, rf"\byou,? (?:the |dear )?{_AI}\b", "calls the reader an AI or grader"),
    _rule(FindingKind.addresses_grader,
          r"\b(?:before|when|while|as) you (?:grade|score|evaluate|assess|rate|mark|review|judge|read)\b"
          r"(?! (?:a|an|other|their|his|her|our|the (?:next|other))\b)",
          "tells the reader how to grade"),
    _rule(FindingKind.addresses_grader,
          rf"\b(?:to|for) (?:the |any |an? |whatever |whichever )?{_AI_STRICT}(?: \w+){{0,2}}?\s*:",
          "opens a message to the AI grader"),
    _rule(FindingKind.addresses_grader, rf"[,;]\s*(?:the |dear )?{_AI_STRICT}\s*[:!]", "calls out to the AI grader"),
    _rule(FindingKind.addresses_grader,
          r"\byou(?:'re| are) (?:just |only |clearly |obviously )?(?:an? |the )?(?:ai|a\.i\.|llm|large language model|"
          r"language model|grader|evaluator|scorer|bot|chatbot|machine|automated \w+|"
          r"(?:grading|scoring|screening) \w+)\b",
          "calls the reader an AI or grader"),
    # -- asking for a score ---------------------------------------------------------------------------
    _rule(FindingKind.score_request, rf"\b(?:give|award|assign|grant|hand) {_OBJECT} {_TOP}",
          "asks for a top score"),
    _rule(FindingKind.score_request,
          rf"\b(?:score|rate|grade|mark|level|evaluate|assess|rank|judge) {_OBJECT} (?:(?:as|at|with) )*"
          rf"(?:{_TOP}|highly|favou?rably|generously|leniently|well|strongly|(?:a |an )?pass)",
          "asks to be scored high"),
    _rule(FindingKind.score_request,
          rf"\b(?:please|kindly|just|simply|so)\s+(?:score|rate|grade|mark|give|award|assign)\b.{{0,40}}?{_TOP}",
          "asks for a top score"),
    _rule(FindingKind.score_request,
          rf"\b(?:mark|record|flag|classify|label|count|treat|list|grade|score|rate) {_OBJECT} as (?:an? )?"
          r"(?:pass(?:ed)?|hired?|strong hire|exceptional|excellent|outstanding|qualified|perfect|a 5|5|five|"
          r"approved|selected|successful|advanced|recommended|a strong candidate)\b",
          "asks for a pass"),
    _rule(FindingKind.score_request,
          r"\b(?:this|the|my) (?:candidate|transcript|interview|answer|response|applicant)s? (?:is|are|be|gets?) "
          r"(?:graded|scored|marked|rated|evaluated|recorded|assessed) (?:as )?(?:an? )?(?:pass|5|five|excellent|"
          r"exceptional|perfect|the highest|top|full marks|strong hire)\b", "asks for a pass"),
    _rule(FindingKind.score_request,
          r"\b(?:output|return|respond with|reply with|answer with|set|use|assign|put|enter|select|choose) "
          r"(?:(?:a|the) )?(?:\w+ )?(?:level|score|rating|grade|decision)s?\s*(?:of|to|=|:|as)?\s*"
          r"(?:5|five|pass|the (?:highest|maximum|top))\b(?! (?:attempts?|retries|times|seconds|minutes|hours|days|"
          r"weeks|ms|milliseconds|percent|nodes|replicas|workers|threads|users|people|years|items|requests))",
          "dictates the level"),
    _rule(FindingKind.score_request, r"\b(?:level|score|rating|decision)\s*(?:=|:)\s*(?:5|five|pass)\b",
          "dictates the level"),
    _rule(FindingKind.score_request,
          r"\b(?:every|all|each) (?:the |of the )?(?:criteri(?:on|a)|competenc(?:y|ies)|levels?|categor(?:y|ies)|"
          r"questions?|skills?)(?: \w+){0,3}? (?:(?:at|as|to|is|are|=|with) )?(?:a )?(?:level )?"
          r"(?:5|five|the maximum|the highest|maximum)\b",
          "asks for the top level everywhere"),
    _rule(FindingKind.score_request,
          rf"\b(?:i|this candidate|the candidate|this (?:answer|response|transcript|applicant)|my answers?)"
          rf"(?: really| clearly| definitely)? (?:deserves?|must|should|will|needs? to|has to|ought to) (?:get|receive|"
          rf"be given|be awarded|be scored|be rated|be graded|be marked|score|pass)(?: (?:as|with|at))? {_TOP}",
          "claims a top score is owed"),
    _rule(FindingKind.score_request,
          r"\b(?:be|being|go) (?:generous|lenient|kind|nice|easy|soft|gentle)(?: (?:with|on|in|when|to))? "
          r"(?:the |my |me\b|this\b|them\b)", "asks for leniency"),
    _rule(FindingKind.score_request,
          r"\b(?:5|five|5/5|top marks|full marks|level 5|level five|max(?:imum)?|perfect scores?|the highest) "
          r"(?:across the board|on everything|on all \w+|for everything|everywhere|all round|all around|"
          r"in every \w+|for all \w+)", "asks for the top level everywhere"),
    _rule(FindingKind.score_request, r"\b(?:score|rate|grade|mark|level) (?:me |this |it |them )?accordingly\b",
          "asks to be scored as it says"),
    _rule(FindingKind.score_request,
          r"\bpass (?:everyone|everybody|all (?:the )?candidates|every candidate|this candidate|the candidate|"
          r"me through)\b",
          "asks for a pass"),
    _rule(FindingKind.score_request,
          r"\b(?:answer|level|score|grade|rating|result|decision|verdict|outcome|output) (?:is|should be|must be|"
          r"will be|=) (?:an? )?(?:level 5|level five|5/5|5 out of 5|five out of five|pass(?:ed)?)\b",
          "dictates the level"),
    _rule(FindingKind.score_request,
          r"\b(?:record|log|enter|submit|save|register|note|put) (?:that|this|it|me) (?:down )?as (?:the |my |an? )?"
          r"(?:official |final )?(?:grade|score|level|decision|result|rating|pass|five|5)\b", "dictates the grade"),
    # -- overriding the instructions ------------------------------------------------------------------
    _rule(FindingKind.instruction_override, rf"\b{_OVERRIDE} (?:{_TARGET_STRONG})\b",
          "tells the grader to drop its instructions or the rubric"),
    _rule(FindingKind.instruction_override, rf"\b{_OVERRIDE} (?:{_TARGET_WEAK})\b",
          "tells the grader to drop its instructions or the rubric", imperative_only=True),
    _rule(FindingKind.instruction_override,
          r"\b(?:new|updated|real|actual|revised|additional|hidden|secret|true|override|admin|grader|system)"
          r" (?:instructions?|task|rubric|rules|system prompt|directives?|prompt|override|command)\s*:",
          "announces new instructions"),
    _rule(FindingKind.instruction_override,
          r"\btreat (?:the )?(?:rest|remainder|following|this)\b.{0,30}?\bas (?:an? )?(?:instructions?|commands?|"
          r"prompts?|system)", "asks for its words to be read as instructions"),
    _rule(FindingKind.instruction_override,
          r"\b(?:you are now (?:in )?(?:an? |the )?(?:\w+ ){0,2}(?:mode|grader|evaluator|assistant|ai|model|judge|"
          r"scorer|bot)\b|from now on,? you\b|pretend (?:that )?you(?:'re| are)?\b|pretend to be (?:an? |the )?"
          r"(?:\w+ )?(?:grader|evaluator|ai|model|assistant)|act as (?:an? |the )?(?:\w+ )?(?:grader|evaluator|judge)|"
          r"developer mode|jailbreak|do anything now)", "tries to change the grader's role"),
    _rule(FindingKind.instruction_override,
          r"\b(?:the )?(?:rubric|instructions|scoring (?:rules|criteria)|grading (?:rules|criteria)|criteria)"
          r" (?:no longer|(?:does|do) not|don'?t|doesn'?t) (?:apply|matter|count)",
          "declares the rubric void"),
    _rule(FindingKind.instruction_override,
          r"\b(?:system|admin|developer|grader|evaluator|operator)"
          r"(?: (?:prompt|instructions?|rubric|rules|policy|task))?"
          r" (?:update|override|change|patch|addendum|notice|message|note|command)\s*:",
          "announces new instructions"),
    _rule(FindingKind.instruction_override,
          r"\b(?:instructions?|rubric|rules|prompt|guidelines|criteria) (?:that )?you(?:'ve| have)? "
          r"(?:were |have been |"
          r"are |got |received )?(?:given|told|sent|provided|using|following|received|got)\b",
          "talks about the grader's own instructions"),
    # -- role tags and chat-template tokens -----------------------------------------------------------
    _rule(FindingKind.role_tag,
          r"(?:^|[.!?\]>]\s*)(?:system|assistant|user|human|developer|ai|grader|instructions?)\s*:"
          r"(?=.{0,80}?\b(?:you|your|candidate|applicant|grade|grading|score|level|rubric|instructions?|assign|pass|"
          r"approved|evaluat\w*|rate|rating|ignore|disregard|mode|assistant|must|override|criteri\w*|competenc\w*|"
          r"[1-5]|five|deserves?|hire|excellent|exceptional)\b)",
          "a chat role label, as in a prompt"),
    _rule(FindingKind.role_tag, r"(?:^|[.!?\]>]\s*)(?:interviewer|interviewee|candidate|recruiter|hiring manager)\s*:",
          "a speaker label inside a turn: the text speaks as someone else"),
    _rule(FindingKind.role_tag,
          r"<\|\s*[a-z_]+\s*\|>|\[/?\s*(?:inst|sys|system)\s*\]|<</?\s*sys\s*>>|</s>|<s>|<(?:start|end)_of_turn>|"
          r"#{2,}\s*(?:instructions?|system|response|input|assistant|user|human)\b",
          "a chat-template token"),
    # -- a reply in the grader's own format -----------------------------------------------------------
    _rule(FindingKind.fake_reply_json,
          r"\{[^{}]{0,200}?[\"'](?:rationale|evidence|verdict|red_flags|units|competenc(?:y|ies)|criteri(?:on|a))"
          r"[\"']\s*:", "a JSON reply in the grader's format"),
    _rule(FindingKind.fake_reply_json,
          r"[\"'](?:level|decision|verdict|outcome)[\"']\s*:\s*[\"']?"
          r"(?:[1-5](?:\.0)?(?![\d.])|pass(?:ed)?\b|fail(?:ed)?\b|insufficient_evidence\b|(?:strong_)?hire\b)",
          "a JSON reply in the grader's format"),
    _rule(FindingKind.fake_reply_json, r"[\"'](?:arguments|tool_calls|function_call)[\"']\s*:",
          "a tool call in the grader's format"),
    # -- closing the data block -----------------------------------------------------------------------
    _rule(FindingKind.delimiter,
          r"</?\s*(?:transcript|candidate\w*|interview\w*|document|context|untrusted\w*|system|instructions?|rubric|"
          r"criteri\w*|turn|message|answer|response|conversation|human|assistant|user_?\w*|data)\b[^<>]{0,40}>",
          "an XML-like tag that could close the transcript block"),
    _rule(FindingKind.delimiter,
          r"(?:^|[\[(<\-=*#|]\s*)(?:end|begin|start|close|closing)(?: of)? (?:the )?(?:transcript|interview|"
          r"candidate(?:'s)? (?:answer|response|turn|input)|user input|document|input|data|"
          r"untrusted (?:input|text|data)|"
          r"quoted? text|conversation)\b\s*(?:[\])>\-=*#|.:]|$)",
          "a line that pretends the transcript has ended"),
    _rule(FindingKind.delimiter, r"-{3,}|={3,}|\*{3,}|`{3,}|~{3,}|<{3,}|>{3,}|_{4,}|#{3,}",
          "a run of delimiter characters"),
)

# words that, just before the verb, make `ignore the criteria` a description rather than an order
NOT_IMPERATIVE = frozenset({
    "i", "we", "they", "he", "she", "people", "reviewers", "graders", "teachers", "managers", "someone", "who", "that",
    "to", "would", "often", "sometimes", "usually", "never", "always", "not", "tend", "can", "could", "might", "did",
    "does", "do", "will", "won't", "didn't", "don't", "shouldn't", "wouldn't", "rarely", "also", "which", "it",
})

# words that, spelled out letter by letter, betray an injection
SPELLED_KEYWORDS = ("ignore", "disregard", "rubric", "instruction", "grader", "system", "prompt", "override",
                    "forget", "level5", "givemea5", "fullmarks")

# -- English paraphrases: the grader addressed or steered without the words of the rules above --------
# after "five", a plural noun makes it a quantity ("five attempts"), not a level
_UNITS = (r"(?:attempts?|retries|times|seconds|minutes|hours|days|weeks|ms|milliseconds|percent|nodes|replicas|"
          r"workers|threads|users|people|years|items|requests|engineers|stars)\b")
_GRADER_NOUN = (r"(?:evaluator|grader|assessor|reviewer|examiner|judge|marker|scorer|screener|a\.?i\.?|model|"
                r"(?:grading|scoring|evaluation|language|ai) model|(?:grading|scoring|screening|evaluation) "
                r"(?:system|tool|software|program)|system|llm|bot)")
_HIGH = (rf"(?:(?:the )?(?:maximum|highest|top|best|strongest)(?: possible)?(?: (?:level|score|rating|grade|marks?|"
         r"evaluation))?|full marks|top marks|(?:a |an )?(?:excellent|exceptional|outstanding|exemplary|flawless|"
         rf"perfect)|(?:a )?(?:5|five)(?: out of (?:5|five))?\b(?![-.]\d)(?! {_UNITS})|level (?:5|five)|"
         r"(?:a )?strong hire|(?:a )?pass(?:ed|ing)?\b(?! or\b)|model answers?)")
_ANSWER = r"(?:answers?|responses?|transcript|interview|candidate|applicant|candidacy|performance)"
_PARAPHRASES: tuple[Rule, ...] = (
    _rule(FindingKind.addresses_grader, rf"\bas (?:the|an?|your) {_GRADER_NOUN}\b[^.!?]{{0,24}}?\byou\b",
          "speaks to the AI in its role of grader"),
    _rule(FindingKind.addresses_grader,
          rf"\b(?:whatever|whichever|any|the) (?:\w+ )?(?:{_GRADER_NOUN}|program|person|reader)s?(?: or \w+)? "
          r"(?:(?:that|who|which) )?(?:is )?(?:reads?|reading|grades?|grading|evaluates?|evaluating|reviews?|"
          r"reviewing|scores?|scoring|assess(?:es)?|assessing|sees|processes|processing|marks?|marking) "
          r"(?:this|these|me\b|my|the (?:transcript|interview|answers?|responses?|candidate))",
          "speaks to whoever or whatever is grading the transcript"),
    _rule(FindingKind.addresses_grader,
          r"(?:^|[.!?]\s+|^\W*)(?:dear |hey |hello )?(?:evaluator|grader|reviewer|assessor|examiner|marker|scorer|"
          r"a\.?i\.?|model|bot|(?:assessment|grading|scoring|evaluation|screening|hiring) (?:system|tool|model|ai|bot|"
          r"engine))\s*[,:]\s*(?:\w+ ){0,3}?(?:please|note|kindly|give|score|rate|mark|grade|assign|award|listen|"
          r"disregard|ignore|consider|treat|remember|this (?:answer|response|candidate))\b",
          "calls out to the grader"),
    _rule(FindingKind.addresses_grader,
          r"\b(?:whoever|whatever|anyone|anybody|everyone) (?:reads?|grades?|evaluates?|reviews?|scores?|"
          r"assess(?:es)?|marks?|sees|checks?) (?:this|these|me\b|my)", "speaks to whoever is grading the transcript"),
    _rule(FindingKind.score_request,
          r"\b(?:this|the) (?:candidate|applicant) is (?:a |an )?(?:strong hire|clear pass|level (?:5|five)|"
          r"five out of five)\b", "dictates the verdict"),
    _rule(FindingKind.addresses_grader,
          r"\b(?:reader|reviewer|grader|evaluator|assessor|scorer|marker)s? of (?:this|these|my) (?:text|transcript|"
          r"interview|answers?|responses?|conversation)\b", "speaks to the reader of the transcript"),
    _rule(FindingKind.addresses_grader,
          r"\b(?:for|to) (?:any|the|an?) (?:automated|automatic|ai|machine|ai-powered) (?:reviewer|grader|evaluator|"
          r"assessor|screener|reader|system|scorer)s?\b", "opens a message to the AI grader"),
    _rule(FindingKind.addresses_grader,
          r"\bi(?:'m| am)? (?:instructing|ordering|directing|commanding|instruct|order|direct|command) you\b",
          "gives the reader orders"),
    _rule(FindingKind.score_request,
          rf"\b(?:grade|score|rate|mark|assess|evaluate|judge|consider|treat|regard|record|rank|classify|label|list|"
          rf"put|set|flag) (?:this|these|my|the|each|every|all|this candidate's|the candidate's)\b(?: \w+){{0,3}}? "
          rf"(?:as|at|with|to)(?: being)? {_HIGH}", "asks to be scored high"),
    _rule(FindingKind.score_request,
          rf"\b(?:consider|treat|regard|deem) (?:this|my|these|the|the candidate's) (?:\w+ )?{_ANSWER}\b"
          r"(?: \w+){0,2}? "
          r"(?:as )?(?:an? )?(?:excellent|exceptional|outstanding|exemplary|flawless|perfect|a pass|model answers?)",
          "asks to be scored high"),
    _rule(FindingKind.score_request,
          rf"\b(?:i|this (?:candidate|answer|response|applicant|transcript|interview)|the (?:candidate|applicant)|"
          rf"my (?:answers?|responses?|performance|interview))(?: \w+)? (?:deserves?|merits?|warrants?|earns?|"
          rf"should (?:get|receive)) (?:of )?{_HIGH}",
          "claims a top score is owed"),
    _rule(FindingKind.score_request,
          r"\b(?:the )?(?:only )?(?:correct|right|acceptable|appropriate|fair|proper|true) (?:outcome|level|score|"
          r"grade|rating|decision|evaluation|result|verdict)s? (?:for|of|on) (?:this|my|the|every|each|all)\b.{0,40}?"
          r"\b(?:is|are|would be|=) (?:an? )?(?:pass|five|5|level (?:5|five)|the (?:maximum|highest|top))\b",
          "dictates the level"),
    _rule(FindingKind.score_request,
          r"\b(?:any|every|a|the) (?:fair|honest|reasonable|objective|proper|correct|unbiased) (?:assessment|"
          r"evaluation|grader|reviewer|reading|judge|evaluator)\b.{0,60}?\b(?:maximum|highest|top|full marks|five|pass|"
          r"excellent|exceptional)\b", "claims a top score is owed"),
    _rule(FindingKind.score_request,
          r"\b(?:bump|raise|push|boost|increase|round) (?:up )?(?:my|this candidate's|the candidate's|this) "
          r"(?:rating|score|grade|level|marks?|evaluation)\b", "asks to be scored higher"),
    _rule(FindingKind.score_request,
          r"\bput (?:down )?(?:a |an )?(?:5|five|level (?:5|five)|full marks|a pass)\b(?: (?:for|on|in|against))?",
          "dictates the level"),
    _rule(FindingKind.score_request,
          r"\b(?:return|output|give|produce|write|record|issue) (?:a |an |the )?(?:passing|positive|favou?rable|top|"
          r"maximum|highest|perfect|flattering|glowing) (?:decision|grade|score|verdict|evaluation|level|rating|"
          r"assessment|review)", "asks for a top score"),
    _rule(FindingKind.score_request,
          r"\b(?:see|get|receive) (?:a |an )?(?:flattering|glowing|favou?rable|generous|perfect) (?:evaluation|grade|"
          r"score|rating|review|assessment)", "asks for a top score"),
    _rule(FindingKind.score_request,
          r"\b(?:say|state|declare|conclude|write|report|record) (?:that )?(?:this|the) (?:candidate|applicant|answer)"
          r" (?:passed|passes|is a pass|is excellent|is exceptional|deserves|meets every)", "dictates the verdict"),
    _rule(FindingKind.score_request,
          rf"\byou (?:will|must|shall|should|are to|are going to|need to|have to|are required to|are instructed to)"
          rf"(?: now)? (?:rate|grade|score|mark|assess|evaluate|give|award|assign|pass|consider|treat|output|return|"
          rf"recogni[sz]e|conclude|classify|record)\b.{{0,60}}?{_HIGH}", "tells the grader what score to give"),
    _rule(FindingKind.score_request,
          r"\b(?:the|my|this) (?:final |overall )?(?:score|grade|rating|level|marks?|evaluation) (?:should|must|needs? "
          r"to|has to|ought to|will) (?:reflect|be|show|say)\b.{0,60}?\b(?:five|5|maximum|highest|top|best|strongest|"
          r"excellent|exceptional|full marks)\b", "dictates the level"),
    _rule(FindingKind.instruction_override,
          r"\b(?:instead of|rather than) (?:following|applying|using) (?:the |your )?(?:guidelines|rubric|instructions|"
          r"rules|criteria|scoring guide|grading guide)", "tells the grader to drop its instructions or the rubric"),
    _rule(FindingKind.instruction_override,
          r"\b(?:new|next|different) task for (?:the|you|this) (?:\w+ )?(?:model|ai|grader|evaluator|assistant)?",
          "announces new instructions"),
)


def _language_rules(lex: Lexicon) -> tuple[Rule, ...]:
    """The rules of one language (`grader.safety.languages`): signals that together are an order to the grader."""
    lex = Lexicon(**{k: strip_marks(v) if isinstance(v, str) else v for k, v in vars(lex).items()})
    b, e = (r"(?<![\w'])", r"(?![\w])") if lex.spaced else ("", "")
    gap = r"[^.!?。！？]{0,60}?" if lex.spaced else r"[^。！？.!?]{0,20}?"

    def w(words: str) -> str:
        return f"{b}(?:{words}){e}"

    # every rule of the language needs one of these words: a text without any is not read further
    gate = re.compile(f"{b}(?:{lex.override}|{lex.ask}|{lex.address}|{lex.strong}|{lex.role}){e}", re.IGNORECASE)
    rules = (
        _rule(FindingKind.instruction_override,
              rf"{w(lex.override)}{gap}{w(lex.target)}"
              + ("" if lex.spaced else rf"|{w(lex.target)}{gap}{w(lex.override)}"),  # 指示を無視: target first
              f"tells the grader to drop its instructions or the rubric ({lex.lang})", lang=lex.lang,
              not_after=lex.subjects | NOT_IMPERATIVE),  # English words too: "to ignore its instructions"
        _rule(FindingKind.score_request, rf"{w(lex.ask)}{gap}{w(lex.top)}|{w(lex.top)}{gap}{w(lex.ask)}",
              f"asks for a top score ({lex.lang})", lang=lex.lang),
        _rule(FindingKind.addresses_grader, rf"{w(lex.address)}{gap}(?:{w(lex.ask)}|{w(lex.top)})|{w(lex.strong)}",
              f"speaks to the AI grader ({lex.lang})", lang=lex.lang),
        _rule(FindingKind.role_tag, rf"(?:^|[.!?。！？\]>]\s*)(?:{lex.role})\s*:(?=.{{0,100}}?(?:{lex.ask}|{lex.top}|"
                                    rf"{lex.target}|{lex.override}|\b[1-5]\b|candidat|kandidat|bewerber|候选|候補|кандидат))",
              f"a chat role label, as in a prompt ({lex.lang})", lang=lex.lang),
    )
    return tuple(replace(rule, gate=gate) for rule in rules)


def _named(rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    counts: dict[tuple[str, str], int] = {}
    out = []
    for rule in rules:
        counts[rule.lang, rule.kind.value] = counts.get((rule.lang, rule.kind.value), 0) + 1
        out.append(replace(rule, name=f"{rule.lang}.{rule.kind.value}.{counts[rule.lang, rule.kind.value]}"))
    return tuple(out)


def _gated(rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    """The rules of CJK and Cyrillic languages behind one more gate, cheaper still: a letter of their script."""
    script = {"zh": re.compile(r"[\u2e80-\u9fff\uf900-\ufaff]"), "ja": re.compile(r"[\u3040-\u30ff\u2e80-\u9fff]"),
              "ru": re.compile(r"[\u0400-\u04ff]")}
    shared: dict[int, _Both] = {}
    out = []
    for rule in rules:
        if rule.gate is not None and rule.lang in script:
            both = shared.setdefault(id(rule.gate), _Both(script[rule.lang], rule.gate))
            rule = replace(rule, gate=both)
        out.append(rule)
    return tuple(out)


class _Both:
    """Two searches, the cheap one first: a gate that opens only when both match."""

    def __init__(self, first: re.Pattern[str], second: re.Pattern[str]) -> None:
        self.first, self.second = first, second

    def search(self, text: str) -> bool:
        return self.first.search(text) is not None and self.second.search(text) is not None


# every rule, named: the English rules first (their names stay as they were), then the paraphrases and languages
RULES = _gated(_named(RULES + _PARAPHRASES + tuple(r for lex in LEXICONS for r in _language_rules(lex))))
LANGUAGES = frozenset(lex.lang for lex in LEXICONS)

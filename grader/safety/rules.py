"""The rules of the prompt-injection detector: one regular expression per way of talking to the grader.

Every pattern is matched case-insensitively on normalised text (see `grader.safety.injection`).
Each rule names the kind of finding and says in plain words what it caught, for the reviewer.
A rule that needs the imperative (`ignore the rubric`, not `they ignore the rubric`) lists the
words that, just before the verb, make it a description rather than an order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


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


def _rule(kind: FindingKind, pattern: str, explanation: str, *, imperative_only: bool = False) -> Rule:
    return Rule(kind, re.compile(pattern, re.IGNORECASE | re.MULTILINE), explanation, imperative_only)


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
          r"(?:5|five|pass|the (?:highest|maximum|top))\b", "dictates the level"),
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
          r"(?:^|[.!?\]>]\s*)(?:system|assistant|user|human|developer|ai|grader|instructions?)\s*:",
          "a chat role label, as in a prompt"),
    _rule(FindingKind.role_tag, r"(?:^|[.!?\]>]\s*)(?:interviewer|interviewee|candidate|recruiter|hiring manager)\s*:",
          "a speaker label inside a turn: the text speaks as someone else"),
    _rule(FindingKind.role_tag,
          r"<\|\s*[a-z_]+\s*\|>|\[/?\s*(?:inst|sys|system)\s*\]|<</?\s*sys\s*>>|</s>|<s>|<(?:start|end)_of_turn>|"
          r"#{2,}\s*(?:instructions?|system|response|input|assistant|user|human)\b",
          "a chat-template token"),
    # -- a reply in the grader's own format -----------------------------------------------------------
    _rule(FindingKind.fake_reply_json,
          r"\{[^{}]{0,200}?[\"'](?:level|score|decision|rating|grade|rationale|evidence|verdict|red_flags|units|"
          r"status|result|passed)[\"']\s*:", "a JSON reply in the grader's format"),
    _rule(FindingKind.fake_reply_json,
          r"[\"'](?:level|score|decision)[\"']\s*:\s*[\"']?(?:[1-5]|pass|fail|insufficient_evidence)\b",
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

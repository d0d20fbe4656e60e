"""Vendor awareness: which vendor(s) a question is about, from manifest names and aliases.

Handles case, possessives, dotted names ("kim cc"), small typos, and says when a name is ambiguous
("Kim" could be kim.cc or Dr. Kim's Veterinary Clinic) instead of guessing.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache

from clausewise.text import CJK
from clausewise.types import DocumentInfo

_GENERIC = frozenset(
    ["the", "a", "of", "and", "dr", "mr", "ms", "inc", "llc", "ltd", "co", "com", "www", "net", "org", "io", "cc", "privacy", "policy", "clinic", "company", "corp", "group", "app"]
)


@dataclass
class VendorDetection:
    """Vendors named in a question; `ambiguous` lists (word, candidate vendors) that matched several."""

    vendors: list[str] = field(default_factory=list)
    ambiguous: list[tuple[str, list[str]]] = field(default_factory=list)


def _tokens(text: str) -> list[str]:
    text = re.sub(r"['’]s\b", "", text.lower())
    return re.findall(r"[a-z0-9]+|[\u3400-\u9fff]+", text)


def _alias_forms(info: DocumentInfo) -> list[list[str]]:
    forms = []
    for alias in {info.vendor, *info.aliases}:
        tokens = _tokens(alias)
        if tokens:
            forms.append(tokens)
            if len(tokens) > 1:
                forms.append(["".join(tokens)])  # "kim.cc" also written "kimcc"
    return forms


@lru_cache(maxsize=65536)
def _token_match(question_token: str, alias_token: str) -> bool:
    if question_token in (alias_token, alias_token + "s"):  # "dr kims" without the apostrophe
        return True
    shorter, total = min(len(question_token), len(alias_token)), len(question_token) + len(alias_token)
    if len(alias_token) < 5 or 2.0 * shorter / total < 0.84:  # = real_quick_ratio(), an upper bound of ratio()
        return False
    # the two quick ratios are upper bounds of ratio(): most pairs are rejected without the full comparison
    matcher = difflib.SequenceMatcher(None, question_token, alias_token)
    return matcher.real_quick_ratio() >= 0.84 and matcher.quick_ratio() >= 0.84 and matcher.ratio() >= 0.84


def _contains(question: list[str], alias: list[str]) -> bool:
    n = len(alias)
    return any(all(_token_match(question[i + j], alias[j]) for j in range(n)) for i in range(len(question) - n + 1))


def detect_vendors(question: str, documents: list[DocumentInfo]) -> VendorDetection:
    """Vendors whose name or alias occurs in `question`; shared partial names are reported as ambiguous."""
    q_tokens = _tokens(question)
    detection = VendorDetection()
    by_vendor: dict[str, list[DocumentInfo]] = {}
    for info in documents:
        by_vendor.setdefault(info.vendor, []).append(info)
    for vendor, infos in by_vendor.items():
        for info in infos:
            cjk_aliases = [a for a in info.aliases if CJK.search(a)]
            if any(_contains(q_tokens, form) for form in _alias_forms(info)) or any(a in question for a in cjk_aliases):
                detection.vendors.append(vendor)
                break
    # a distinctive word shared by several vendors ("kim") that no full alias explained
    claimed = {t for v in detection.vendors for info in by_vendor[v] for form in _alias_forms(info) for t in form}
    partial: dict[str, set[str]] = {}
    for vendor, infos in by_vendor.items():
        for info in infos:
            for form in _alias_forms(info):
                for token in form:
                    if token not in _GENERIC and len(token) >= 3:
                        partial.setdefault(token, set()).add(vendor)
    for token in dict.fromkeys(q_tokens):
        candidates = partial.get(token, set()) | partial.get(token.removesuffix("s"), set())  # "kims" as "kim"
        if token in claimed or not candidates:
            continue
        unresolved = sorted(candidates - set(detection.vendors))
        if len(candidates) > 1 and not (candidates & set(detection.vendors)):
            detection.ambiguous.append((token, unresolved))
        elif len(candidates) == 1 and unresolved and len(token) >= 5:
            detection.vendors.append(unresolved[0])  # a distinctive partial name, e.g. "veterinary"
    return detection


# the non-ASCII characters that re.IGNORECASE matches to an ASCII letter although str.lower() does not make them one
_IGNORECASE_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s"})
_WORD = re.compile(r"[A-Za-z0-9]+(?:[.'’][A-Za-z0-9]+)*|[\u3400-\u9fff]+")
_TITLE = re.compile(r"(?i)\b(?:dr|mr|mrs|ms)\.?\s*$")


class _NearMatch:
    """`near(token)` == any(_token_match(token, t) for t in tokens), without comparing the tokens whose length
    alone rules out a fuzzy match (thousands of vendors otherwise cost thousands of comparisons per word)."""

    def __init__(self, tokens: set[str]) -> None:
        self.tokens = tokens
        self.by_length: dict[int, list[str]] = {}
        for token in tokens:
            if len(token) >= 5:
                self.by_length.setdefault(len(token), []).append(token)

    def __call__(self, token: str) -> bool:
        if token in self.tokens or (token.endswith("s") and token[:-1] in self.tokens):  # _token_match's exact forms
            return True
        n = len(token)
        return any(2.0 * min(n, m) / (n + m) >= 0.84 and any(_token_match(token, t) for t in group)
                   for m, group in self.by_length.items())


def strip_vendor_names(question: str, documents: list[DocumentInfo]) -> str:
    """`question` without any vendor's names, aliases, possessives or near-miss spellings ("kaizenfy", "dr kims").

    Once retrieval is filtered to a vendor its name only adds noise, and a comparison question names the other
    vendors too. A list of names left empty ("kim.cc, Kipsu and Kalodata" -> ", and") is removed as well.
    """
    aliases = sorted({a for d in documents for a in (d.vendor, *d.aliases) if a.strip()}, key=len, reverse=True)
    text = question
    for alias in aliases:
        if alias.isascii() and alias.lower() not in text.translate(_IGNORECASE_FOLD).lower():
            continue  # the case-insensitive regex below cannot match: skip it (1,500 vendors = 1,500 compiles)
        text = re.sub(rf"(?i)(?<!\w){re.escape(alias)}(?:['’]s)?(?!\w)", " \0 ", text)
    # near-miss spellings and partial names of a vendor ("kaizenfy", "kims") once no full alias explained them
    distinctive = {t for d in documents for form in _alias_forms(d) for t in form if t not in _GENERIC and len(t) >= 3}
    near = _NearMatch(distinctive)
    pieces, cursor = [], 0
    for match in _WORD.finditer(text):
        tokens = _tokens(match.group())
        token = "".join(tokens)
        if token and near(token):
            before = _TITLE.sub("", text[cursor : match.start()])
            pieces.append(before + " \0 ")
            cursor = match.end()
    pieces.append(text[cursor:])
    text = "".join(pieces)
    # the joints of a removed list of names: "of \0 , \0 and \0 policies" -> "of policies"
    text = re.sub(r"\0(?:\s*(?:,|\band\b|\bor\b|&|/|\0)\s*)*", "\0", text)
    text = re.sub(r"(?:\s*(?:,|\band\b|\bor\b|&)\s*)+\0", "\0", text, flags=re.I)
    text = text.replace("\0", " ")
    return re.sub(r"\s+([?.!,])", r"\1", re.sub(r"\s+", " ", text)).strip()


# What a question calls the store's vendors when it asks which of them do something.
_SET_NOUN = (r"(?:vendors?|compan(?:y|ies)|polic(?:y|ies)|businesses|business|providers?|services?|platforms?|"
             r"(?:web)?sites?|apps?|organi[sz]ations?|firms?|ones)")
# "of these / of the policies": the determiner that makes the phrase a selection among the policies at hand
# (possessive: "of these companies can I …" does not fall back to "of these" + "companies can I …")
_OF_SET = (rf"of\s+(?:(?:these|those|them)\b(?:\s+(?:\w+\s+)?{_SET_NOUN}\b)?+|(?:the|all(?:\s+the)?|our|my|your)\s+"
           rf"(?:\w+\s+)?{_SET_NOUN}\b)")
# an object question ("Which companies does Kipsu share data with?") asks for names, not for a choice among vendors
_NOT_SUBJECT = r"(?!(?:do|does|did)\b|(?:can|could|will|would|should|may|might|must)\s+(?:i|you|we|they|it|he|she)\b)"
_EXPLICIT_SET = (
    re.compile(rf"(?i)^\s*(?:which|what)(?:\s+one)?\s+{_OF_SET}\s+{_NOT_SUBJECT}(?P<rest>\S.*)$"),
    re.compile(rf"(?i)^\s*(?:do|does|did|will|would|can|could|is|are|has|have)\s+(?:any|all|each|every|either|neither|none)"
               rf"(?:\s+one)?\s+{_OF_SET}\s+(?P<rest>\S.*)$"),
)
# The same choice asked in German, French, Spanish or Chinese (the languages the multilingual index serves): "Welche
# dieser Anbieter …", "Lesquelles de ces entreprises …", "¿Cuáles de estas empresas …", "这些公司中哪些 …".
_DE_NOUN = r"(?:anbieter|unternehmen|firmen|dienste|plattformen|richtlinien|datenschutzerklärungen)"
_FR_NOUN = r"(?:fournisseurs|entreprises|sociétés|services|plateformes|politiques|prestataires)"
_ES_NOUN = r"(?:proveedores|empresas|compañías|servicios|plataformas|políticas)"
_ZH_NOUN = r"(?:公司|供应商|厂商|服务商|平台|企业|隐私政策|政策)"
_EXPLICIT_SET_OTHER = (
    re.compile(rf"(?i)^\s*welche[rs]?\s+(?:dieser|von\s+diesen)(?:\s+{_DE_NOUN})?\s+(?P<rest>\S.*)$"),
    re.compile(rf"(?i)^\s*(?:quel(?:le)?s?|lequel|laquelle|lesquel(?:le)?s)\s+(?:de|parmi)\s+ces(?:\s+{_FR_NOUN})?\s+(?P<rest>\S.*)$"),
    re.compile(rf"(?i)^\s*¿?\s*(?:qué|cuál(?:es)?)\s+de\s+(?:estos|estas|ellos|ellas)(?:\s+{_ES_NOUN})?\s+(?P<rest>\S.*)$"),
    re.compile(rf"^\s*(?:这些|以上|上述)(?:{_ZH_NOUN})?(?:中|里|当中)?(?:有)?(?:哪些|哪家|哪个|哪一家)(?:{_ZH_NOUN})?(?P<rest>\S.*)$"),
)
_BARE_SET_OTHER = (
    re.compile(rf"(?i)^\s*welche[rs]?\s+{_DE_NOUN}\s+(?P<rest>\S.*)$"),
    re.compile(rf"(?i)^\s*(?:quel(?:le)?s?)\s+{_FR_NOUN}\s+(?P<rest>\S.*)$"),
    re.compile(rf"(?i)^\s*¿?\s*(?:qué|cuáles)\s+{_ES_NOUN}\s+(?P<rest>\S.*)$"),
    re.compile(rf"^\s*(?:哪些|哪家|哪个|哪一家){_ZH_NOUN}(?P<rest>\S.*)$"),
)
_BARE_SET = (
    # the noun heads the phrase: "Which service providers …" names a kind of company
    re.compile(rf"(?i)^\s*(?:which|what)\s+{_SET_NOUN}\s+(?!{_SET_NOUN}\b){_NOT_SUBJECT}(?P<rest>\S.*)$"),
    re.compile(rf"(?i)^\s*(?:do|does|did|will|would|can|could|is|are|has|have)\s+(?:any|all|each|every)\s+{_SET_NOUN}\s+"
               rf"(?!{_SET_NOUN}\b)(?P<rest>\S.*)$"),
)


def across_vendors(question: str, vendor_chosen: bool = False) -> str | None:
    """The question to put to each vendor when `question` asks which of the policies' vendors do something, else None.

    "Which of these vendors share data with advertisers?" -> "share data with advertisers?"; so do "Do any of them
    sell data?" and, when no vendor is named or chosen, "Which policies mention the GDPR?" or "Does any company sell
    data?". An object question ("Which companies does Kipsu share data with?") and a named kind ("Which advertising
    companies …") ask for names instead. With a vendor chosen, "which vendors …" means that vendor's vendors, so only
    a selection ("of these …", "any of them") counts. German, French, Spanish and Chinese choices are read too
    ("Welche dieser Anbieter teilen Daten mit Werbetreibenden?" -> "teilen Daten mit Werbetreibenden?").
    """
    explicit = (*_EXPLICIT_SET, *_EXPLICIT_SET_OTHER)
    for pattern in explicit if vendor_chosen else (*explicit, *_BARE_SET, *_BARE_SET_OTHER):
        if match := pattern.match(question):
            rest = match.group("rest").strip()
            return rest if re.search(r"\w", rest) else None
    return None

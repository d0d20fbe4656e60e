"""Lexical analysis for BM25 and answer checks: stemmed English words, Chinese character bigrams,
and a small privacy-domain synonym table used to expand informal questions ("keep my stuff")."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

from clausewise.text import CJK

STOPWORDS = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves", "r", "u", "ur", "pls", "please", "tell", "say", "says", "said", "policy", "policies", "privacy", "company", "vendor", "according",
     # comparison wording: "compare how long A and B keep data" asks each vendor the same thing
     "compare", "comparison", "versus", "vs", "respectively"]
)

# Privacy-policy vocabulary: each group lists words a user and a policy use for the same idea.
SYNONYM_GROUPS = [
    "keep retain retention hold save",
    "delete erase remove deletion destroy wipe purge erasure",
    "share disclose disclosure transfer",
    "sell sale sold broker monetize monetise",
    "child children kid kids minor minors teen teens teenager age guardian guardians",
    "track tracking cookie cookies beacon pixel monitor analytics",
    "refuse reject decline opt disable block unsubscribe object objection",
    "contact email reach",
    "secure security safeguard safeguards protect protection encryption safe safety hack hacked hacker hackers breach breaches",
    "advertiser advertisers advertising ads marketing promotional promo newsletter newsletters",
    "location gps geolocation",
    "account register registration sign",
    "cancel close deactivate deactivation terminate",
    "stuff data information",
    "gmail google",
    "law laws legal regulation",
    "edit update correct modify rectify amend",
    "choice option control preference",
    "identity identify identifiable identification",
    "permission consent",
    # the privacy practices of the OPP-115 categories, in a user's words and a policy's
    "police cops enforcement subpoena warrant",
    "merger acquisition acquire acquired bought buyout takeover bankruptcy reorganization",
    "device devices phone phones laptop computer tablet hardware",
    "aggregate aggregated anonymous anonymized anonymised deidentified pseudonymized",
    "complaint complaints complain lodge",
    "notify notification notifications alert",
    "card credit payment billing",
    "store stored storage server servers host hosting",
    "portability export download copy",
]

_stemmer = Stemmer.Stemmer("english")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?|[\u3400-\u9fff\uf900-\ufaff]+")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer.stemWord(word)


def _synonyms() -> dict[str, set[str]]:
    table: dict[str, set[str]] = {}
    for group in SYNONYM_GROUPS:
        stems = {_stem(w) for w in group.split()}
        for stem in stems:
            table.setdefault(stem, set()).update(stems)
    return table


SYNONYMS = _synonyms()
# the stopwords' stems: "others" and "vendors" are inflections of the stopwords "other" and "vendor"
STOPWORD_STEMS = frozenset(_stem(w) for w in STOPWORDS)


def tokenize(text: str, keep_stopwords: bool = False) -> list[str]:
    """Lower-cased, stemmed English words (stopwords dropped) plus character bigrams for CJK runs."""
    tokens: list[str] = []
    for match in _WORD.finditer(text.lower()):
        word = match.group().replace("’", "'")
        if CJK.match(word):
            tokens.extend(word[i : i + 2] for i in range(max(1, len(word) - 1)))
            continue
        word = re.sub(r"'s$", "", word)
        if keep_stopwords or word not in STOPWORDS:
            tokens.append(_stem(word))
    return tokens


def mentioned(token: str, found: set[str] | frozenset[str]) -> bool:
    """Whether `found` (a set of tokens) holds `token` or one of its privacy-domain synonyms."""
    return token in found or bool(SYNONYMS.get(token, set()) & found)


def synonym_words(word: str) -> list[str]:
    """The synonym table's words for `word` other than its own inflections ("sell" -> sale, broker), in table order."""
    stem = _stem(word.lower())
    related = SYNONYMS.get(stem, set()) - {stem}
    return list(dict.fromkeys(w for group in SYNONYM_GROUPS for w in group.split() if _stem(w) in related))


def expand(tokens: list[str]) -> list[str]:
    """Query tokens plus their privacy-domain synonyms (each original token kept first)."""
    expanded = list(tokens)
    for token in tokens:
        expanded.extend(sorted(SYNONYMS.get(token, set()) - set(tokens)))
    return expanded


# Words that say little about what is asked in a privacy question: they count, but only rag.evidence.GENERIC_WEIGHT as
# much, and a policy that never uses them is not missing anything asked. Besides the privacy words every policy uses,
# the words that give the form of the question or of its answer ("What *type* of …", "… *If yes*, how?", "in what
# *ways* …") and the channel the service comes through ("on your *website*"): a question whose topic words are all of
# these asks about what every policy covers, not about a detail the policy might lack.
GENERIC = frozenset(tokenize(
    "information data personal collect use service services user users inform give get "
    "type types kind kinds sort sorts way ways yes whether actually really "
    "website websites site sites web app apps application applications platform platforms", keep_stopwords=True))

QUESTION_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’-]*")  # a word of a question as the user spelled it

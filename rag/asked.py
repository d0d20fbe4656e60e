"""What a question asks for, and whether a policy gives it: the kind of value asked ("how long" asks for a period,
"which e-mail address" for an address) and the patterns that find one in a sentence, and the premises a question
states that the policy must support (a period it names, a company, law or standard it names)."""

from __future__ import annotations

import re
from functools import lru_cache

from clausewise.language import asked_kind
from clausewise.text import normalize_ws
from rag.lexical import GENERIC, QUESTION_WORD, tokenize

_WORD_NUMBERS = {w: n for n, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
    "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"))}
_WORD_NUMBERS |= {"thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100}
_NUMBER_WORDS = "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True))  # longest first: "forty-five" before "forty"
# A count before its unit: "30 days", "thirty (30) calendar days", "2-year" (the number is group 1).
_COUNT = rf"\b(\d+|{_NUMBER_WORDS})\)?[\s-]+(?:\w+\s+)?"
_QUANTITY = re.compile(rf"(?i){_COUNT}(hour|day|week|month|year)s?\b(?![\s-]*old)")


def _quantity(number: str, unit: str) -> tuple[int, str]:
    return int(number) if number.isdigit() else _WORD_NUMBERS[number.lower()], unit.lower()


@lru_cache(maxsize=16)
def _stated_periods(policy_text: str) -> frozenset[tuple[int, str]]:
    """Every period a vendor's whole text states; once per text (the engine passes the same string each time)."""
    return frozenset(_quantity(*found) for found in _QUANTITY.findall(policy_text))


def quantities_absent(question: str, policy_text: str) -> list[str]:
    """The periods the question states ("for 10 years", "within thirty days") that the policy never states, in digits
    or words: a premise the policy does not support ("Why does Acme keep my data for 10 years?")."""
    asked = list(_QUANTITY.finditer(question))
    if not asked:
        return []  # most questions state no period: the policy is not scanned for them
    stated = _stated_periods(policy_text)
    return [m.group(0) for m in asked if _quantity(m.group(1), m.group(2)) not in stated]


# A name the question gives: a run of capitalised words or an acronym ("OpenAI", "Standard Contractual Clauses",
# "SOC 2", "Do Not Track"), not the question's first word.
_NAME = re.compile(r"\b[A-Z][\w&+-]*(?:\s+(?:of\s+|and\s+)?[A-Z][\w&+-]*)*")
_TITLE_CASE_SHARE = 0.6  # a question this capitalised ("How Long Does Acme Keep Data?") names nothing by capitals


@lru_cache(maxsize=16)
def _normalised(policy_text: str) -> tuple[str, str]:
    """A vendor's whole text with whitespace normalised, as written and lowercased; once per text (the engine passes
    the same string each time)."""
    text = normalize_ws(policy_text)
    return text, text.lower()


def names_absent(question: str, policy_text: str, vendor_tokens: set[str]) -> list[str]:
    """The names an English question gives (vendor names and generic words aside) that the policy never mentions: a
    company, product, law or standard the policy says nothing of ("Does Acme send my data to OpenAI?")."""
    words = [w for w in QUESTION_WORD.findall(question)[1:] if not set(tokenize(w)) & vendor_tokens]
    if sum(w[0].isupper() for w in words) > _TITLE_CASE_SHARE * len(words):
        return []
    policy, lowered = _normalised(policy_text)
    absent = []
    for match in _NAME.finditer(question):
        if not question[: match.start()].strip() or question[: match.start()].rstrip()[-1] in ".?!:\"“(":
            continue  # a sentence's first word is capitalised whatever it is
        words = match.group().split()
        while words and (words[-1] in ("of", "and") or set(tokenize(words[-1])) & vendor_tokens):
            words.pop()  # "the Privacy Officer of Acme": the officer, not a name with the vendor's in it
        # a plural acronym ("IDs", "URLs") is a common noun, not a name
        named = [w for w in words if (t := tokenize(w)) and not set(t) & (vendor_tokens | GENERIC)
                 and not re.fullmatch(r"[A-Z]{2,}s", w)]
        # absent only when no word of it is in the policy: "Facebook Messenger" where the policy speaks of Facebook is
        # the same thing named more exactly
        if named and not any(_name_in(w, policy, lowered) for w in named):
            absent.append(" ".join(words))
    return absent


# Privacy acronyms whose long form policies often write in lower case ("browsers that send a do not track signal")
_SPELLED_OUT = {"DNT": "do not track", "PII": "personally identifiable information", "SSN": "social security number",
                "IP": "internet protocol"}


def _name_in(word: str, policy: str, lowered: str) -> bool:
    """Whether the policy (whitespace normalised; and lowercased) uses a word of a name, or spells out an acronym:
    "CCPA" where it says "California Consumer Privacy Act" (capitalised initials in order), "DNT" for "do not track"."""
    if re.search(rf"(?<!\w){re.escape(word.lower())}(?!\w)", lowered):
        return True
    if not re.fullmatch(r"[A-Z]{2,6}", word):
        return False
    if word in _SPELLED_OUT and _SPELLED_OUT[word] in lowered:
        return True
    # three letters at least: two capitals in a row ("International Privacy") are too often a coincidence
    initials = r"[\w'’-]*\s+".join(re.escape(letter) for letter in word)
    return len(word) >= 3 and bool(re.search(rf"(?<!\w){initials}[\w'’-]*", policy))


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
# a phone number has at least three digit groups ("+1 (612) 555-0100", "020 7946 0958"); a ZIP+4 code does not
_PHONE = re.compile(r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)|\b\d{1,4})[\s.-]\d{3,4}[\s.-]\d{3,4}\b")
_STREET = re.compile(r"\b\d+\s+(?:[A-Z0-9][\w.]*\s+){0,4}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Drive|Suite|Floor)\b")
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATE = re.compile(rf"\b(?:{_MONTHS})\s+\d{{1,2}},?\s+\d{{4}}\b|\b\d{{1,2}}\s+(?:{_MONTHS})\s+\d{{4}}\b|\b\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}\b|"
                   r"\b\d{1,2}/\d{1,2}/\d{2,4}\b|\d{4}年\d{1,2}月")
_PRICE = re.compile(r"[$€£¥]\s?\d|\b\d+(?:\.\d+)?\s?(?:USD|EUR|GBP|dollars?|euros?)\b", re.I)
# a company named by its legal form or a well-known brand written as one capitalised word ("Stripe, Inc.", "Google")
_ORGANISATION = re.compile(r"\b[A-Z][\w&.-]+(?:\s+[A-Z][\w&.-]+)*,?\s+(?:Inc|LLC|Ltd|GmbH|Corp|Corporation|Limited|S\.A)\b\.?|"
                           r"\b(?:Google|Amazon|Microsoft|Meta|Facebook|Stripe|PayPal|Twilio|Salesforce|Apple|Cloudflare)\b")
_URL = re.compile(r"https?://\S+|\bwww\.\S+")
_NUMBER = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.I)
_JURISDICTION = re.compile(r"(?i)\bgovern(?:ed|s|ing)?\s+by\b|\bgoverning law\b|\bjurisdiction\b|\bcourts? of\b|\blaws of (?:the )?[A-Z]")
_TIMEFRAME = re.compile(
    r"(?i)\bwithin\b|\b(?:business |calendar )?(?:days?|weeks?|months?|hours?)\b|\bpromptly\b|\bimmediately\b|\bwithout (?:undue )?delay\b|"
    r"\btime ?frame\b|\bas soon as\b"
)
# How long something lasts: a number of days / months / years, or a period bounded by an event ("for as long as your
# account is active", "until you delete them", "no longer than necessary", "indefinitely").
_DURATION = re.compile(
    rf"(?i){_COUNT}(?:hours?|days?|weeks?|months?|years?)\b|\bas long as\b|"
    r"\bno longer than\b|\buntil\b|\bfor the (?:duration|life|lifetime|length|term) of\b|\bindefinite(?:ly)?\b|\bpermanent(?:ly)?\b|"
    r"\bfor a (?:limited |certain |reasonable )?period\b|"
    r"\d+\s*(?:个)?(?:小时|天|日|周|星期|月|年)|只要|直到|期间|永久"  # the same in Chinese ("只要您还在使用我们的服务": as long as)
)
# An encryption method named ("AES-256", "TLS", "encrypted in transit and at rest"), not encryption in general.
_ENCRYPTION = re.compile(
    r"(?i)\b(?:AES|TLS|SSL|RSA|SHA-?\d+|HTTPS|PGP|GPG|\d{3}-bit|end-to-end)\b|"
    r"\bencrypt\w*\b.{0,40}\b(?:at rest|in transit)\b|\b(?:at rest|in transit)\b.{0,40}\bencrypt\w*"
)
# What a transfer of data abroad rests on: contractual clauses, corporate rules, an adequacy decision, a certification
# framework, or the user's consent.
_TRANSFER_MECHANISM = re.compile(
    r"(?i)standard contractual clauses|\bSCCs?\b|model clauses|binding corporate rules|\bBCRs?\b|adequacy decision|"
    r"privacy shield|data privacy framework|\bDPF\b|\bconsent"
)
# A law named by its title ("... Privacy Act", "Civil Code §", "... Regulation") or a well-known privacy-law acronym.
_LAW_NAME = re.compile(
    r"\b(?:[A-Z][a-z]+\s+){1,6}(?:Act|Code|Regulation|Directive|Ordinance|Statute)\b|\bCode\s+§|§\s*\d|"
    r"\b(?:GDPR|UK GDPR|CCPA|CPRA|COPPA|HIPAA|PIPEDA|LGPD|PIPL|PDPA|APPI|VCDPA|CDPA|CPA|CTDPA|UCPA|FERPA|GLBA|CAN-SPAM|CalOPPA|DPA|ePrivacy)\b"
)
_NOT_NAMES = frozenset(
    ["privacy", "officer", "data", "protection", "policy", "personal", "information", "services", "service", "company", "terms", "united", "states", "european", "general", "regulation", "california", "consumer", "act", "civil", "code", "our", "the", "we", "you", "if", "for", "contact", "us", "attn", "help", "center", "customer", "support", "team", "department"]
)


# What a question asks for: the first kind whose patterns ALL match the lower-cased question.
_ASKED_KINDS = [
    ("email", (r"\be-?mail address\b|\b(what|which)\s+(\w+['’]?s?\s+){0,3}e-?mail\b", r"\b(what|which|give|where)\b")),
    ("price", (r"\bhow much does\b.*\bcost\b|\bwhat (is the )?(price|fee)\b|\bcost of\b",)),
    ("number", (r"\bhow many\b|\bhow much\b(?! (information|data|detail|details|personal|of)\b)|\bwhat percentage\b|"
                r"\bnumber of (days|months|years)\b",)),
    ("name", (r"\b(name of|who(['’]s|\s+is|\s+are)|named)\b",
              r"\b(officer|dpo|person|representative|ceo|founder|owner|president|director|chief)\b")),
    ("url", (r"\b(web ?address|urls?|website address)\b", r"\b(what|which|where|give)\b")),
    ("jurisdiction", (r"\bgovern(s|ing|ed)?\b|\bjurisdiction\b|\bwhich (country|state)['’]?s? laws?\b",)),
    ("timeframe", (r"\bhow (quickly|soon|fast)\b|\bwithin how\b|\bwhat (time ?frame|deadline)\b|\bhow long (does it|will it) take\b",)),
    ("duration", (r"\bhow long\b",)),
    ("encryption", (r"\b(what|which) (\w+ ){0,2}(encryption|cipher|cryptograph\w*)\b|"
                    r"\bencryption (standard|algorithm|method|protocol|level|strength)s?\b",)),
    ("mechanism", (r"\b(what|which) (\w+ ){0,3}(mechanism|safeguard|legal basis|legal ground)s?\b",
                   r"\b(transfer\w*|abroad|outside|overseas|international\w*|countr\w*|cross-border)\b")),
    ("law", (r"\b(which|what) (\w+ )?(laws|regulations|statutes|acts)\b|\blaws? (are |is )?(named|mentioned|cited|referenced)\b",)),
    ("phone", (r"\b(phone|telephone) number\b|\btelephone\b|\bwhat number (can|do|should) i call\b|\bcall (them|you)\b",)),
    ("date", (r"\b(effective|last updated|revision) date\b|\bwhen was (it|the policy|this policy) (last )?(updated|revised|changed)\b",)),
    # "Which (advertising) companies / payment processor / outside vendors …": the head of the wh-phrase names
    # organisations (no verb between: "what data do partners get" asks for data), not kinds of them ("what kinds of
    # service providers"), nor the company's own things ("the company's policy")
    ("organisation", (r"\b(which|what) ((?!(do|does|did|is|are|was|were|can|could|will|would|should|has|have)\b)[\w-]+ ){0,3}"
                      r"(compan(y|ies)|processors?|providers?|vendors?|firms?|partners?|products?|tools?)\b(?!['’]s)|"
                      r"\bname of the (\w+ ){0,2}(company|processor|provider)\b",
                      r"^(?!.*\b(kinds?|types?|categories|category|sorts?) of\b)")),
    ("contact", (r"\bcontact (information|info|details)\b|\bhow (can|do|should) i (contact|reach)\b|\bwho (can|do|should) i contact\b",)),
]
# An e-mail address, a phone number or contact details are also kinds of personal data. Named as the user's
# ("my phone number", "users' contact information") or as what the vendor does with data ("What contact information
# do you collect?"), they are a topic, not a value the vendor's policy must give. "Your" is not the user's: a question
# put to the company ("What is your e-mail address?") asks for the company's; "their" is the users' only where the
# question names users.
_DATA_KINDS = frozenset({"email", "phone", "contact", "url"})
_DATA_NOUN = r"(\w+\s+){0,2}(e-?mail|phone|telephone|contact|urls?|web ?address)"  # after a possessive
_USER_OWNED = re.compile(r"\b(my|users?['’]?s?|customers?['’]?s?|guests?['’]?s?|visitors?['’]?s?|people['’]s)\s+" + _DATA_NOUN)
_PROCESSING_VERB = re.compile(r"\b(\w+)\s+(collect|share|sell|store|keep|gather|obtain|disclose|access|read|upload|track|link|"
                              r"process|receive|retain|hold|save|transfer|ask for)(s|es|ed)?\b")
_THEIR_DATA = re.compile(r"\btheir\s+" + _DATA_NOUN)
_USERS = re.compile(r"\b(users?|customers?|guests?|visitors?|people|individuals|children|members)\b")


def _names_personal_data(question: str) -> bool:
    """Whether the question names an e-mail, phone or contact details as the user's data, not as the vendor's."""
    if _USER_OWNED.search(question):
        return True
    if _THEIR_DATA.search(question) and _USERS.search(question):  # "… let users control their contact info"
        return True
    return any(match.group(1) not in ("i", "to") for match in _PROCESSING_VERB.finditer(question))


def asked_attribute(question: str) -> str | None:
    """What kind of value the question asks for, when it asks for a specific one."""
    q = question.lower()
    for kind, patterns in _ASKED_KINDS:
        if all(re.search(pattern, q) for pattern in patterns):
            return None if kind in _DATA_KINDS and _names_personal_data(q) else kind
    return asked_kind(question)  # the same kinds asked in German, French, Spanish or Chinese


# the kinds of value one of a few patterns recognises
_VALUE_PATTERNS = {
    "email": (_EMAIL,), "jurisdiction": (_JURISDICTION,), "timeframe": (_TIMEFRAME,), "law": (_LAW_NAME,),
    "phone": (_PHONE,), "date": (_DATE,), "price": (_PRICE,), "contact": (_EMAIL, _PHONE, _STREET, _URL), "url": (_URL,),
    "duration": (_DURATION,), "encryption": (_ENCRYPTION,), "mechanism": (_TRANSFER_MECHANISM,),
}

ATTRIBUTE_NAMES = {"email": "e-mail address", "number": "number", "name": "name", "jurisdiction": "governing law",
                    "contact": "contact details", "timeframe": "time frame", "law": "named law", "phone": "phone number",
                    "date": "date", "price": "price", "organisation": "company name", "url": "web address",
                    "duration": "period of time", "encryption": "named encryption method",
                    "mechanism": "transfer mechanism"}


def has_attribute(kind: str, text: str, question: str = "") -> bool:
    """Whether `text` gives a value of the asked kind (see `asked_attribute`)."""
    if kind in _VALUE_PATTERNS:
        return any(pattern.search(text) for pattern in _VALUE_PATTERNS[kind])
    if kind == "number":
        unit = re.search(r"\bhow many (\w+?)s?\b", question.lower())
        if unit and unit.group(1) not in ("time", "way", "kind", "type"):
            # "how many days": a number of days, not any number ("section 16", "under 13")
            return bool(re.search(rf"(?i){_COUNT}{re.escape(unit.group(1))}s?\b", text))
        return bool(_NUMBER.search(text))
    if kind == "name":
        for match in re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+)+)", text):
            if not set(match.group(1).lower().split()) <= _NOT_NAMES:
                return True
        return False
    if kind == "organisation":
        return has_attribute("name", text) or bool(_ORGANISATION.search(text))
    return True

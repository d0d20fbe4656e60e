"""Which language a question is written in: by script (Chinese, Japanese, Korean...) and, for Latin script, by
counting common function words of English, German, French, Spanish, Portuguese, Italian and Dutch. No data files,
no downloads; short or unclear questions count as English (the index every store has)."""

from __future__ import annotations

import re

NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "pt": "Portuguese", "it": "Italian",
         "nl": "Dutch", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "ru": "Russian", "ar": "Arabic"}

_SCRIPTS = (  # (language, pattern): the first whose characters make up enough of the letters wins
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
)

_WORD_SCRIPTS = frozenset({"ja", "ko", "zh"})

_STOPWORDS = {
    "en": "the a an of to and or in on for with is are was be do does did can will would should my me i you your "
          "what which who whom how when where why it its this that they their them about from by at as have has if "
          "not any there policy",
    "de": "der die das den dem des ein eine einen einem einer und oder ist sind wird werden wie was welche welcher "
          "welches wer wo wann warum ich mich mir mein meine meinen sie ihr ihre über von mit für auf bei nach zu "
          "zum zur nicht kann können darf dürfen auch es sich lange gespeichert daten",
    "fr": "le la les un une des du de et ou est sont que qui quoi quel quelle quels quelles comment où quand "
          "pourquoi je me mon ma mes vous votre vos il elle ils elles sur pour avec dans par pas au aux ce cette "
          "ces peut peuvent combien est-ce temps données",
    "es": "el la los las de un una unos unas y o es son que qué quién cuál cuáles cómo dónde cuándo por para con en "
          "del al mi mis me yo su sus se lo le les puede pueden cuánto cuánta tiempo datos sobre",
    "pt": "o a os as um uma e ou é são que quem qual quais como onde quando por para com em do da dos das no na "
          "meu minha meus eu seu sua se pode podem quanto tempo dados sobre não",
    "it": "il lo la i gli le un una e o è sono che chi quale quali come dove quando perché per con in del della "
          "dei delle mio mia miei io suo sua si può possono quanto tempo dati sul sulla non",
    "nl": "de het een en of is zijn wat welke wie hoe waar wanneer waarom ik mij mijn u uw jij je van met voor op "
          "bij naar niet kan kunnen lang gegevens over",
}
_WORDS = {lang: frozenset(words.split()) for lang, words in _STOPWORDS.items()}
# Letters that only some Latin-script languages use: a strong hint when present.
_LETTERS = {"de": "äöüß", "fr": "àâçèéêëîïôûùœ", "es": "ñáéíóúü¿¡", "pt": "ãõçáéíóúâê", "it": "àèéìòù"}


def detect_language(text: str) -> str:
    """ISO 639-1 code of the language of `text` ('en' when unsure)."""
    letters = re.findall(r"[^\W\d_]", text)
    if not letters:
        return "en"
    latin_words = len(re.findall(r"[A-Za-z\u00c0-\u024f]+", text))
    for lang, pattern in _SCRIPTS:
        count = len(pattern.findall(text))
        # a Chinese, Japanese or Korean character carries about a word: count them against the Latin words (a
        # question naming "Dr. Kim's Veterinary Clinic" and "Facebook" is still Chinese); other scripts by letters
        if count and (count >= latin_words if lang in _WORD_SCRIPTS else count * 3 >= len(letters)):
            return lang
    words = re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)?", text.lower())
    scores = {lang: sum(w in vocab for w in words) for lang, vocab in _WORDS.items()}
    lowered = text.lower()
    for lang, marks in _LETTERS.items():
        scores[lang] += 0.5 * sum(ch in marks for ch in lowered)
    best = max(scores, key=lambda lang: scores[lang])
    # English wins ties and near-ties: a question full of English product names is still English
    return best if scores[best] > scores["en"] + 0.5 else "en"


def language_name(code: str) -> str:
    return NAMES.get(code, code)


# What a question asks for, in German, French, Spanish and Chinese: the kinds of value rag.asked.asked_attribute
# recognises in English (a question that asks for one is refused when the policy does not give it). Each kind needs
# both a cue for the value and (for e-mail and name) a cue that it is asked for.
_ASKED = (
    ("duration", r"wie lange|combien de temps|cuánto tiempo|多久|多长时间|多長時間", r""),
    ("email", r"e-?mail|courriel|correo|电子邮件|邮箱", r"welche|wie lautet|adresse|quel|dirección|(?<!por )qué|cuál|哪个|什么|地址"),
    ("number", r"wie viele|wie viel\b|combien de (?!temps)|cuánt[oa]s? (?!tiempo)|多少(?!时间)|几(?:天|个|年|月)", r""),
    ("name", r"wie heißt|name (?:des|der)|nom d|comment s'appelle|cómo se llama|nombre d|叫什么|名字|姓名",
     r"beauftragte|person|ansprechpartner|vertreter|délégué|responsable|personne|représentant|delegado|persona|"
     r"representante|官|负责人|代表"),
    # a named encryption method, as in English ("what kind of encryption"); encryption in general is a topic
    ("encryption", r"welche[rs]? (?:\w+ ){0,3}verschlüsselung|verschlüsselungs(?:standard|verfahren|methode|algorithmus)|"
     r"quel(?:le)?s? (?:\w+ ){0,3}(?:de )?chiffrement|(?:norme|type|méthode|algorithme|protocole) de chiffrement|"
     r"qu[ée] (?:\w+ ){0,3}(?:de )?cifrado|(?:est[áa]ndar|tipo|m[ée]todo|algoritmo|protocolo) de cifrado|"
     r"什么(?:样的)?加密|哪种加密|加密(?:标准|方式|方法|算法|协议)", r""),
    # what a transfer abroad rests on ("what safeguards for data sent abroad")
    ("mechanism", r"welche[rsn]? (?:\w+ ){0,3}(?:mechanismus|mechanismen|garantien|schutzmaßnahmen|rechtsgrundlage)|"
     r"quel(?:le)?s? (?:\w+ ){0,3}(?:mécanisme|garanties|base juridique|fondement juridique)|"
     r"qu[ée] (?:\w+ ){0,3}(?:mecanismo|garantías|salvaguardias|base jurídica)|"
     r"什么(?:样的)?(?:机制|保障措施|法律依据)|哪种(?:机制|保障措施)",
     r"übermittl|übertrag|ausland|drittländ|transfert|étranger|pays tiers|hors de|transferencia|extranjero|terceros países|"
     r"fuera de|跨境|境外|传输|转移"),
    ("jurisdiction", r"landesrecht|recht gilt|anwendbare[sn]? recht|gerichtsstand|unterliegt .*recht|droit (?:\w+ )*régit|"
     r"régie par|droit applicable|juridiction|tribunaux|ley (?:\w+ )*rige|legislación aplicable|jurisdicción|管辖|适用(?:的)?法律", r""),
)


# An e-mail address named as the user's ("meine E-Mail-Adresse", "mi correo", "我的邮箱") or as what the vendor does
# with data ("sammelt … E-Mail", "recopila", "收集") is a topic, not an address the policy must give (as in English).
# "Your" / "Ihre" / "votre" / "su" are left out: a question put to the company ("Quelle est votre adresse e-mail ?")
# asks for its address.
_PERSONAL_DATA = re.compile(
    r"\b(?:meine?[nrs]?|mon|ma|mes|mi|mis)\s+(?:\S+\s+)?"
    r"(?:e-?mail|courriel|correo)|我的|用户的|"
    r"\b(?:sammel|erheb|speicher|teil|verarbeit|collect|partag|conserv|stock|recopil|compart|guard|almacen)\w*|收集|共享|存储"
)


def asked_kind(question: str) -> str | None:
    """The kind of value a non-English question asks for ('duration', 'email', 'number', 'name', 'encryption',
    'mechanism', 'jurisdiction'), if any."""
    if detect_language(question) == "en":
        return None
    q = question.lower()
    for kind, value, asked in _ASKED:
        if re.search(value, q) and (not asked or re.search(asked, q)):
            return None if kind == "email" and _PERSONAL_DATA.search(q) else kind
    return None

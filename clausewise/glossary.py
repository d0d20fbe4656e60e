"""A small privacy-policy glossary from German, French, Spanish and Chinese into English.

A question asked in one of those languages about an English policy shares no words with it, so keyword search (BM25)
finds nothing and the multilingual embedding model alone ranks the clauses. `english_terms` gives the English words a
policy would use for the privacy concepts the question names ("Wie lange speichert …" -> "retain store keep period"),
which keyword search then looks for. The entries are general privacy vocabulary (what is kept, shared, sold, deleted,
by whom, for how long), the same concepts as the English synonym table in rag/lexical.py — not any question's wording.
Words every clause uses (collect, use, personal information) are left out: alone they would outweigh the question's
own untranslated words.

Latin-script entries match at the start of a word (German also inside a compound: "Standortdaten"); Chinese entries
anywhere in the question.
"""

from __future__ import annotations

import re
from functools import lru_cache

# English words -> the words (or word beginnings) that name the same concept in German | French | Spanish | Chinese,
# comma-separated.
GLOSSARY: tuple[tuple[str, str, str, str, str], ...] = (
    ("retain store keep", "speicher, aufbewahr, behalt", "conserv, stock, gard", "conserv, guard, almacen, reten, retien",
     "保存, 保留, 存储, 储存"),
    ("how long period", "wie lange, dauer", "combien de temps, durée", "cuánto tiempo, plazo", "多久, 多长时间, 期限"),
    ("delete deletion erase", "lösch, entfern", "supprim, effac", "elimin, borr, supr", "删除, 清除"),
    ("share disclose disclosure", "weitergeb, weitergab, teilt, teilen, offenleg, preisgeb",
     "partag, divulgu, communiqu, transmet", "compart, divulg, revel, transmit", "共享, 分享, 披露, 提供给, 透露"),
    ("sell sale", "verkauf", "vend, vente", "vend, venta", "出售, 销售, 卖"),
    ("third party parties", "dritt", "tiers", "tercer", "第三方"),
    ("advertising advertisers marketing", "werbung, werbe, marketing", "publicit, marketing", "publicid, anunci, marketing",
     "广告, 营销"),
    ("child children minors age", "kind, minderjährig, jugendlich", "enfant, mineur", "niño, niña, menor",
     "儿童, 未成年, 孩子, 年龄"),
    ("location", "standort", "localisation, géolocalisation, position", "ubicación, localización", "位置, 定位"),
    ("device", "gerät", "appareil", "dispositivo", "设备"),
    ("account", "konto", "compte", "cuenta", "账号, 账户, 帐号, 帐户"),
    ("close cancel terminate", "kündig, schließ", "ferm, résili", "cerr, cancel", "注销, 关闭"),
    ("email", "e-mail", "courriel", "correo", "邮箱, 电子邮件"),
    ("contact", "kontakt", "contact", "contact", "联系"),
    ("security secure protect", "sicherheit, sicher, schütz, schutz", "sécurité, sécuris, protég", "segur, proteg",
     "安全, 保护"),
    ("encryption encrypt", "verschlüssel", "chiffr", "cifr, encript", "加密"),
    ("consent", "einwillig, zustimm", "consent", "consent", "同意"),
    ("withdraw revoke", "widerruf, zurückzieh", "retir, révoqu", "retir, revoc", "撤回"),
    ("access", "auskunft, zugriff, zugang, einsicht", "accès, accéder, consult", "acceso, acceder, consult", "访问, 查阅"),
    ("correct update", "berichtig, korrigier, aktualisier", "rectifi, corrig, mettre à jour", "rectific, corregi, actualiz",
     "更正, 更新"),
    ("rights", "recht", "droit", "derecho", "权利"),
    ("transfer countries international", "übermittl, übertrag, ausland", "transf, étranger", "transfer, extranjer",
     "转移, 传输, 境外, 跨境"),
    ("law enforcement authorities legal", "behörd, polizei, gericht", "autorité, police, justice", "autoridad, policía, judicial",
     "执法, 政府, 法院, 法律"),
    ("merger acquisition sale", "fusion, übernahm", "fusion, acquisition, rachat", "fusión, fusion, adquisición", "合并, 收购"),
    ("fraud", "betrug", "fraude", "fraude", "欺诈"),
    ("changes update", "änder", "modifi, changement", "cambi, modific", "变更, 修改"),
    ("complaint", "beschwer", "plainte, réclamation", "queja, reclamación", "投诉"),
    ("payment credit card", "zahlung, kreditkart", "paiement, carte bancaire", "pago, tarjeta", "支付, 付款, 信用卡"),
    ("employer organization administrator", "arbeitgeber", "employeur", "empleador", "雇主, 管理员"),
    ("cookies", "cookie", "cookie", "cookie", "cookie"),
    ("communications emails newsletter", "newsletter, nachricht", "newsletter, message", "boletín, mensaje", "通讯, 消息"),
)
LANGUAGES = ("de", "fr", "es", "zh")


@lru_cache(maxsize=1)
def _patterns() -> dict[str, list[tuple[re.Pattern[str], str]]]:
    patterns: dict[str, list[tuple[re.Pattern[str], str]]] = {lang: [] for lang in LANGUAGES}
    for english, *foreign in GLOSSARY:
        for lang, words in zip(LANGUAGES, foreign, strict=True):
            for word in words.split(", "):
                if lang == "zh":
                    pattern = re.escape(word)
                elif lang == "de" and len(word) >= 6:
                    pattern = re.escape(word)  # also inside a compound ("Datenspeicherung")
                else:
                    pattern = r"(?<!\w)" + re.escape(word)
                patterns[lang].append((re.compile(pattern, re.IGNORECASE), english))
    return patterns


def english_terms(question: str, language: str) -> list[str]:
    """English words for the privacy concepts a question in `language` (de, fr, es, zh) names; [] for others."""
    terms: list[str] = []
    for pattern, english in _patterns().get(language, []):
        if pattern.search(question) and english not in terms:
            terms.append(english)
    return " ".join(terms).split()

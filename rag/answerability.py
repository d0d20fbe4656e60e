"""Does the best evidence answer the question? A small logistic model over signals that do not depend on any
particular question: how similar the best sentence is to the question, how much of the question's wording (and of its
rarest terms) the evidence and the whole policy contain, how well the sentence matches the question's least matched
word in meaning, whether dense and lexical retrieval agree on the clause, and whether the asked kind of value (an
e-mail, a number of days...) is there.

The weights live in `answerability.json` beside this module; `clausewise calibrate` (rag/calibrate.py) fits them
with cross-validation on the gold sets and writes them there together with how they were obtained.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.asked import ATTRIBUTE_NAMES, asked_attribute, has_attribute
from rag.evidence import (
    Sentence,
    content_tokens,
    coverage,
    rarest_terms,
    token_coverage,
    without_word,
)
from rag.lexical import GENERIC, mentioned, synonym_words, tokenize

WEIGHTS_FILE = Path(__file__).with_name("answerability.json")
KEY_TERMS = 2  # the question's rarest content terms that the evidence clause should contain


@dataclass(frozen=True)
class Signals:
    """What the refusal decision looks at, each in [0, 1] (or 0/1)."""

    sentence_similarity: float  # embedding similarity of the best sentence and the question
    sentence_coverage: float  # idf-weighted share of the question's content words in the best sentence
    clause_coverage: float  # ... in the best sentence's clause (with its headings)
    key_term_coverage: float  # share of the question's KEY_TERMS rarest content words in that clause
    key_term_in_sentence: float  # ... in the best sentence itself
    key_term_in_policy: float  # ... anywhere in the policy (a term the policy never uses is a strong "not stated")
    phrase_in_clause: float  # share of the question's adjacent content-word pairs ("social security") in the clause
    phrase_in_policy: float  # ... anywhere in the policy
    policy_coverage: float  # idf-weighted share of the question's content words found anywhere in the policy
    clause_similarity: float  # embedding similarity of the best clause and the question
    lexical_agreement: float  # the best clause's BM25 score relative to the vendor's best BM25 match (1 = it is)
    attribute_present: float  # a specific kind of value is asked and the evidence gives it
    weakest_word_match: float  # the question's least matched content word: its best cosine with a word of the best
    # sentence (the embedding model's contextual word-piece vectors); nan (undefined) across languages
    key_word_reliance: float = math.nan  # how much the best sentence's similarity to the question falls when the
    # question's rarest content word is left out, on [0, 1] (above 0.5: the sentence speaks of that word)

    def vector(self) -> list[float]:
        return [getattr(self, f.name) for f in fields(self)]


FEATURES = [f.name for f in fields(Signals)]
# the signals that compare the question's words with the policy's (undefined when the two are in different languages)
WORD_OVERLAP_SIGNALS = ("sentence_coverage", "clause_coverage", "key_term_coverage", "key_term_in_sentence",
                        "key_term_in_policy", "phrase_in_clause", "phrase_in_policy", "policy_coverage")


@dataclass(frozen=True)
class Vocabulary:
    """The words of one policy and which of them stand next to each other (after stopwords are dropped)."""

    tokens: frozenset[str]
    pairs: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, token_lists: list[list[str]]) -> Vocabulary:
        return cls(frozenset(t for tokens in token_lists for t in tokens),
                   frozenset(p for tokens in token_lists for p in zip(tokens, tokens[1:], strict=False)))


def _pair_share(pairs: list[tuple[str, str]], vocabulary: Vocabulary) -> float:
    return sum(p in vocabulary.pairs for p in pairs) / len(pairs) if pairs else 1.0


WordVectors = tuple[list[str], np.ndarray]  # word pieces and their unit-length vectors (Embedder.word_vectors)


def weakest_word_match(question: WordVectors, sentence: WordVectors, vendor_tokens: set[str]) -> float:
    """Min over the question's content words (no stopwords, generic privacy words or vendor names) of how well the
    sentence matches the word: the mean over the word's pieces of each one's best cosine with a piece of the
    sentence. A concept the sentence never touches ("Social Security number", "Do Not Track") scores low even when
    the rest matches; a paraphrase scores higher than an unrelated word. 1.0 when the question has no content word."""
    pieces, vectors = question
    if not len(sentence[1]):
        return 0.0
    best = (vectors @ sentence[1].T).max(axis=1) if len(vectors) else np.zeros(0)
    words: list[tuple[str, list[float]]] = []  # a piece "##xyz" continues the word before it
    for piece, score in zip(pieces, best, strict=True):
        if piece.startswith("##") and words:
            words[-1] = (words[-1][0] + piece[2:], words[-1][1] + [float(score)])
        else:
            words.append((piece, [float(score)]))
    matches = [sum(scores) / len(scores) for word, scores in words
               if (token := tokenize(word)) and token[0] not in GENERIC and token[0] not in vendor_tokens]
    return max(0.0, min(matches, default=1.0))


def key_word_reliance(question: str, sentence: str, embedder, idf: dict[str, float], vendor_tokens: set[str]) -> float:
    """How much the sentence's match relies on the question's rarest content word: cos(question, sentence) minus
    cos(question without that word, sentence), put on [0, 1] as (1 + difference) / 2. A sentence that speaks of the
    word matches the question less once it is gone (above 0.5); one that only matched the rest does not (0.5 or
    below). nan when the question has no content word."""
    key = rarest_terms(content_tokens(question, vendor_tokens), idf, 1)
    if not key:
        return math.nan
    vectors = embedder.embed([question, without_word(question, key[0]), sentence])
    return (1.0 + float(vectors[0] @ vectors[2] - vectors[1] @ vectors[2])) / 2.0


def concept_share(concepts: list[list[str]], tokens: set[str] | frozenset[str]) -> float:
    """The share of `concepts` (each the stems of the words that name it) with a stem, or its synonym, in `tokens`."""
    return sum(any(mentioned(t, tokens) for t in c) for c in concepts) / len(concepts)


def measure(
    question: str,
    best: Sentence,
    supporting: list[Sentence],
    idf: dict[str, float],
    vendor_tokens: set[str],
    policy: Vocabulary,
    weakest_word: float = math.nan,
    across_languages: bool = False,
    concepts: list[list[str]] = (),
    reliance: float = math.nan,
) -> Signals:
    """The signals for the best sentence (ranked first by `score_sentences`) of one vendor's evidence;
    `weakest_word` is `weakest_word_match` for that sentence (nan where it is undefined: across languages). Across
    languages the question shares no words with the policy, so the word-overlap signals are undefined (nan) too —
    except where the glossary names the question's privacy concepts in the policy's language (`concepts`, stems of
    each one's words): then the coverage and key-term signals are the share of those concepts the best sentence, its
    clause and the policy use (a phrase has no translation: those two stay undefined)."""
    q_tokens = content_tokens(question, vendor_tokens)
    chunk = best.scored.chunk
    clause = Vocabulary.of([tokenize(chunk.embed_text)])
    key_terms = rarest_terms(q_tokens, idf, KEY_TERMS)
    asked = [t for t in tokenize(question) if t not in vendor_tokens]
    pairs = [p for p in zip(asked, asked[1:], strict=False) if p[0] in q_tokens and p[1] in q_tokens]
    flat = {t: 1.0 for t in key_terms}
    kind = asked_attribute(question)
    signals = Signals(
        sentence_similarity=best.dense,
        sentence_coverage=coverage(q_tokens, best.text, idf),
        clause_coverage=best.coverage,
        key_term_coverage=token_coverage([(key_terms, 1.0, clause.tokens)], flat),
        key_term_in_sentence=token_coverage([(key_terms, 1.0, set(tokenize(best.text)))], flat),
        key_term_in_policy=token_coverage([(key_terms, 1.0, policy.tokens)], flat),
        phrase_in_clause=_pair_share(pairs, clause),
        phrase_in_policy=_pair_share(pairs, policy),
        policy_coverage=token_coverage([(q_tokens, 1.0, policy.tokens)], idf),
        clause_similarity=best.scored.dense,
        lexical_agreement=best.scored.lexical,
        attribute_present=float(bool(kind) and any(has_attribute(kind, s.text, question) for s in supporting)),
        weakest_word_match=weakest_word,
        key_word_reliance=reliance,
    )
    if across_languages:
        overlap = {name: math.nan for name in WORD_OVERLAP_SIGNALS}
        if concepts:
            in_sentence = concept_share(concepts, set(tokenize(best.text)))
            in_clause = concept_share(concepts, clause.tokens)
            in_policy = concept_share(concepts, policy.tokens)
            overlap.update(sentence_coverage=in_sentence, key_term_in_sentence=in_sentence, clause_coverage=in_clause,
                           key_term_coverage=in_clause, key_term_in_policy=in_policy, policy_coverage=in_policy)
        signals = replace(signals, **overlap)
    return signals


@dataclass(frozen=True)
class AnswerabilityModel:
    """Logistic regression on standardised signals; answer when P(answerable) >= threshold. Across languages (a
    question in one language, the policy's text in another) the word signals are undefined and the similarities come
    from the multilingual model, so P is read against a threshold of its own (`threshold_across_languages`, fitted
    on such questions; None: the same threshold)."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float
    provenance: dict
    threshold_across_languages: float | None = None

    def threshold_for(self, across_languages: bool) -> float:
        """The threshold P(answerable) must reach for evidence matched within one language or across two."""
        if across_languages and self.threshold_across_languages is not None:
            return self.threshold_across_languages
        return self.threshold

    def probability(self, signals: Signals) -> float:
        # an undefined signal (nan) counts as its fitted mean: it pulls neither way
        z = self.bias + sum(
            w * (x - m) / s for w, x, m, s in zip(self.weights, signals.vector(), self.mean, self.scale, strict=True)
            if not math.isnan(x)
        )
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def at_threshold(self, threshold: float | None) -> AnswerabilityModel:
        """The same model deciding at `threshold` (an operator's choice of strictness; the threshold across languages
        moves by as much); None keeps the fitted ones."""
        if threshold is None:
            return self
        across = self.threshold_across_languages
        moved = None if across is None else min(1.0, max(0.0, across + threshold - self.threshold))
        return replace(self, threshold=threshold, threshold_across_languages=moved)

    @classmethod
    def neutral(cls) -> AnswerabilityModel:
        """A model that answers everything (P = 0.5 at threshold 0.5): what calibration measures signals with."""
        n = len(FEATURES)
        return cls((0.0,) * n, 0.0, (0.0,) * n, (1.0,) * n, 0.5, {"note": "neutral: run `clausewise calibrate --write`"})

    def to_json(self) -> str:
        data = {"features": FEATURES, **asdict(self)}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict) -> AnswerabilityModel:
        if data.get("features") != FEATURES:
            raise ValueError(f"answerability weights were fitted for features {data.get('features')}, not {FEATURES}: "
                             "run `clausewise calibrate`")
        across = data.get("threshold_across_languages")
        return cls(tuple(data["weights"]), float(data["bias"]), tuple(data["mean"]), tuple(data["scale"]),
                   float(data["threshold"]), dict(data.get("provenance", {})), None if across is None else float(across))


@lru_cache(maxsize=4)
def load_model(path: Path = WEIGHTS_FILE) -> AnswerabilityModel:
    """The fitted model shipped with clausewise (or another weights file)."""
    return AnswerabilityModel.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def missing_value(question: str, signals: Signals) -> str | None:
    """The kind of value the question asks for when the evidence gives none ("e-mail address"), else None."""
    kind = asked_attribute(question)
    return ATTRIBUTE_NAMES[kind] if kind and not signals.attribute_present else None


# An answer whose probability is less than this above the threshold is flagged as a weak match. Measured (out of
# fold for the tuning sets): answers in that band cite a gold sentence less often than those above it (written 0.48
# against 0.68, fresh questions 0.35 against 0.57, PolicyQA 0.13 against 0.30; not on `clausewise eval`'s PolicyQA
# sample: 0.30 against 0.25), so it is a caution, not a verdict (docs/evaluation.md).
WEAK_MATCH_MARGIN = 0.1


def weak_match_notice(vendor: str, probability: float, threshold: float) -> str:
    """What a user is told when an answer only just passed the refusal check."""
    return (f"Weak match for {vendor}: the quoted clauses only partly match the question (answerability "
            f"{probability:.2f}; below {threshold:.2f} the answer would be \"does not say\"). Check that they answer it.")


def absent_words_notice(vendor: str, words: list[str], answered: bool) -> str:
    """What a user is told when the question uses words the vendor's policy never uses (rag.evidence.words_absent_from);
    `answered`: the vendor's clauses are quoted, so they match that part of the question by other wording, if at all."""
    quoted = ", ".join(f"“{w}”" for w in words)
    synonyms = sorted({s for w in words for s in synonym_words(w)})
    also = f" (nor {', '.join(f'“{s}”' for s in synonyms)})" if synonyms else ""
    fact = f"{vendor}'s policy never uses the word{'s' if len(words) > 1 else ''} {quoted}{also}"
    return f"{fact}: what is quoted for that part of the question says it in other words, if at all." if answered else f"{fact}."


UNCONFIRMED_ACROSS_LANGUAGES = ("matched only across languages, no clause is a clear answer: check the closest clauses "
                                "shown, they may still speak to it")


def decide(question: str, signals: Signals, model: AnswerabilityModel,
           across_languages: bool = False, unsupported: tuple[str, ...] = ()) -> tuple[bool, str, float]:
    """(answered, reason when not, P(answerable)). A missing asked value (no e-mail for "which e-mail") always refuses,
    and so does what the question takes for granted and the policy never mentions (`unsupported`: "10 years",
    "OpenAI")."""
    if missing := missing_value(question, signals):
        return False, f"the policy gives no {missing} for this", 0.0
    if unsupported:
        return False, f"the policy never mentions {', '.join(f'“{q}”' for q in unsupported)}", 0.0
    p = model.probability(signals)
    if p < model.threshold_for(across_languages):
        # within one language this would have been answered: say the closest clauses may still speak to it
        return False, (UNCONFIRMED_ACROSS_LANGUAGES if across_languages and p >= model.threshold
                       else "no clause addresses what is asked"), p
    return True, "", p

"""Synthetic prompts of a chosen token count, without a tokenizer.

No tokenizer can be assumed here (the served model's may be unknown, and tiktoken downloads its tables), so
prompts are random common English words, and the word count that yields the wanted token count is learnt from
the server itself: a few probe requests report `usage.prompt_tokens` for known word counts, and a straight
line (chat-template overhead + tokens per word) fitted through them gives the word count for the target. Every
prompt draws fresh random words, so no two share a prefix and a prefix cache cannot flatter the measurement.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

# Short, common words: most tokenizers give each (with its leading space) one token, which keeps the
# tokens-per-word ratio stable from one random draw to the next.
WORDS = tuple(
    """
    able about above after again air all also always animal answer apple area army art ask away baby
    back ball bank base bear beat bed bell best bird black blue boat body bone book born both box
    boy bread bring brown build busy buy call calm camp card care carry case cat cause chair change
    chart check child city class clean clear climb clock close cloud coast cold color come cook cool
    copy corn cost count cover cow cross crowd cup cut dance dark date day deal dear deep desk door
    down draw dream dress drink drive drop dry duck during dust each early earth east easy edge egg
    end enjoy even event every eye face fact fair fall farm fast field fill find fine fire first
    fish five flat floor flow fly food foot force forest form four free fresh friend front fruit
    full game garden gate gift girl give glad glass gold good grass great green ground group grow
    guess hair half hall hand happy hard hat have head hear heart heat heavy help here high hill
    hold home hope horse hot hour house huge idea inch iron island join joke jump keep key kind king
    kitchen lake land large last late laugh lead leaf learn leave left less letter level light line
    lion list little live long look lost loud love low lunch main make map mark market meal meet
    metal middle milk mind minute moon morning mother mountain move music name near neck need never
    new next nice night noise north nose note number ocean offer often old open orange order other
    page paint pair paper park part party pass path pay pen people pick piece place plain plan plant
    play point pool poor power press pretty price print quick quiet race rain read ready real red
    rest rice rich ride right ring river road rock roof room root rope round rule run safe salt sand
    save school sea season seat seed sell send shape share ship shoe shop short show side sign
    silver simple sing sister size sky sleep slow small smile snow soft soil song sound south space
    speak speed spring square stage star start station stay step stone store story street strong
    sugar summer sun table tail talk tall teach team tell test thick thin think three time today
    tool top touch town train tree true try turn under unit up usual valley visit voice wait walk
    wall warm wash watch water wave way wear week well west wheel white wide wild wind window winter
    wish wood word work world write yard year yellow young
    """.split()
)

# A plain instruction in front of the words invites a long reply; it is part of the fitted overhead.
INSTRUCTION = "Write a long, detailed story that uses every one of these words:"


def make_prompt(words: int, rng: random.Random) -> str:
    """The instruction followed by `words` random words from WORDS."""
    return INSTRUCTION + " " + " ".join(rng.choices(WORDS, k=max(1, words)))


@dataclass(frozen=True)
class Calibration:
    """How many words make a prompt of the target token count, and the evidence for it."""

    target_tokens: int
    words: int
    measured_tokens: int | None  # what the server counted for the last probe at `words`; None when unknown
    tokens_per_word: float
    overhead_tokens: float  # chat template + instruction
    probes: int
    method: str

    def to_dict(self) -> dict:
        return {
            "target_tokens": self.target_tokens,
            "words": self.words,
            "measured_tokens": self.measured_tokens,
            "tokens_per_word": round(self.tokens_per_word, 4),
            "overhead_tokens": round(self.overhead_tokens, 1),
            "probes": self.probes,
            "method": self.method,
        }


# Reported token counts vary a little between random draws; closer than this is as good as it gets.
def _tolerance(target: int) -> float:
    return max(2.0, 0.01 * target)


async def calibrate(
    target_tokens: int,
    count: Callable[[int], Awaitable[int | None]],
    max_probes: int = 5,
) -> Calibration:
    """Find the word count whose prompts the server counts as `target_tokens`.

    `count(words)` sends one probe with a fresh prompt of that many words and returns the server's
    `usage.prompt_tokens` (None when the server reports no usage). Two probes fix a line; further probes
    (secant steps through the two most recent points) correct it until the count is within 1% (2 tokens).
    """
    first_words = max(8, min(64, target_tokens // 4))
    first = await count(first_words)
    if first is None:
        # Without usage the template is invisible; assume one token per word, the usual ratio for these words.
        return Calibration(target_tokens, max(1, target_tokens), None, 1.0, 0.0, 1,
                           "assumed 1 token per word (the server reports no usage)")
    points = [(first_words, first)]
    if abs(first - target_tokens) <= _tolerance(target_tokens):
        return _done(target_tokens, points, "server-reported usage.prompt_tokens")
    # First guess for the slope: one token per word.
    next_words = max(1, target_tokens - (first - first_words))
    if next_words == first_words:
        next_words = first_words + 32
    while len(points) < max_probes:
        tokens = await count(next_words)
        if tokens is None:
            break
        points.append((next_words, tokens))
        if abs(tokens - target_tokens) <= _tolerance(target_tokens):
            break
        (w0, t0), (w1, t1) = points[-2], points[-1]
        slope = (t1 - t0) / (w1 - w0) if w1 != w0 else 0.0
        if slope <= 0:  # noise on tiny prompts; fall back to one token per word from the latest point
            slope = 1.0
        guess = max(1, round(w1 + (target_tokens - t1) / slope))
        if guess == w1:
            break  # the target lies between two word counts: as close as words allow
        next_words = guess
    return _done(target_tokens, points, "server-reported usage.prompt_tokens")


def _done(target_tokens: int, points: list[tuple[int, int]], method: str) -> Calibration:
    words, tokens = min(points, key=lambda p: (abs(p[1] - target_tokens), -p[0]))
    if len(points) >= 2:
        (w0, t0), (w1, t1) = points[0], points[-1]
        slope = (t1 - t0) / (w1 - w0) if w1 != w0 else 1.0
    else:
        slope = 1.0
    overhead = tokens - slope * words
    return Calibration(target_tokens, words, tokens, slope, overhead, len(points), method)

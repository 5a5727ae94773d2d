"""Number and unit grammar: the quantities a sentence states, with their units and offsets.

"76.3%", "2.3×", "10x", "1.2M", "3.5 billion", "1-2%", "28.4 BLEU" are quantities;
the digits of a name are not (ResNet-50, GPT-3, CIFAR10/100, 3D, top-1, ImageNet-1k),
nor years (COCO 2017) or ordinals (2nd). `value` is the number exactly as written, so a
claim can be checked against its sentence by substring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: a unit glued to the number or written after it, mapped to its canonical spelling
_UNITS: dict[str, str] = {
    "%": "%", "percent": "%", "×": "×", "x": "×", "times": "×", "fold": "×", "-fold": "×",
    "points": "points", "point": "points", "pp": "points", "db": "dB", "fps": "FPS",
    "ms": "ms", "milliseconds": "ms", "s": "s", "seconds": "s", "sec": "s", "minutes": "min", "min": "min",
    "hours": "h", "hour": "h", "h": "h", "days": "days", "day": "days", "gpu-days": "GPU days",
    "gb": "GB", "mb": "MB", "kb": "KB", "tb": "TB", "bits": "bits", "bit": "bits", "-bit": "bits", "bytes": "bytes",
    "flops": "FLOPs", "gflops": "GFLOPs", "mflops": "MFLOPs", "tflops": "TFLOPs", "macs": "MACs", "gmacs": "GMACs",
    "mj": "mJ", "j": "J", "w": "W", "mw": "mW", "kwh": "kWh", "$": "$", "bits/min": "bits/min",
}
#: a magnitude glued to the number or written after it ("1.2M", "3.5 billion")
_MAGNITUDES = {"k": "K", "m": "M", "b": "B", "g": "G", "t": "T", "thousand": "K", "million": "M", "billion": "B",
               "trillion": "T"}
MAGNITUDE_FACTORS = {"K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}
_TOKEN = re.compile(r"\S+")
_LEAD = "([{\"'‘“~≈<>≥≤+−-$"
_TRAIL = ")]},.;:!?\"'’”*+"
_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|\.\d+)"
_SHAPE = re.compile(rf"^(?P<a>{_NUM})(?:(?P<dash>[-–~]|to)(?P<b>{_NUM}))?(?P<suffix>[A-Za-z%×/\-]*)$")
_YEAR = re.compile(r"^(19[5-9]\d|20[0-4]\d)$")
# what a LaTeX-flavoured abstract leaves glued before a number: "approx60%", "le13", "sim2x", "x21 faster"
_GLUED_LEAD = re.compile(r"^(?:approx|sim|leq?|geq?|x)(?=\d)")
_PAIR = re.compile(rf"^({_NUM}[A-Za-z%×]*)/({_NUM}[A-Za-z%×]*)$")  # "1.37times/1.24times"


def _tokens(sentence: str) -> list[tuple[int, str]]:
    """Whitespace tokens, with "a/b" split in two when both sides are numbers."""
    out = []
    for tok in _TOKEN.finditer(sentence):
        text = tok.group(0)
        core = text.rstrip(_TRAIL)
        pair = _PAIR.match(core)
        if pair and not (pair.group(1).replace(".", "").isdigit() and pair.group(2).replace(".", "").isdigit()):
            out += [(tok.start(), pair.group(1)), (tok.start() + pair.end(1) + 1, text[pair.end(1) + 1:])]
        else:
            out.append((tok.start(), text))
    return out


@dataclass(frozen=True)
class Quantity:
    """One number of a sentence: as written, its float, unit and magnitude, and where it is."""

    value: str  # as written, without unit ("76.3", "1.2M", "10,000")
    number: float
    unit: str  # canonical unit or ""
    start: int  # offset of the value in the sentence
    end: int  # offset after the value and any unit
    sign: str = ""  # "+", "-", "~" written before it
    magnitude: str = ""  # "K", "M", "B", ... glued ("1.2M") or written after ("25 million")

    @property
    def scaled(self) -> float:
        """The number with its magnitude applied (1.2M -> 1,200,000)."""
        return self.number * MAGNITUDE_FACTORS.get(self.magnitude, 1.0)


def _unit(word: str) -> str | None:
    w = word.lower().strip(_TRAIL)
    return _UNITS.get(w)


def quantities(sentence: str) -> list[Quantity]:
    """Every quantity `sentence` states, in order."""
    out: list[Quantity] = []
    toks = _tokens(sentence)
    for i, (tok_start, tok) in enumerate(toks):
        raw = tok.replace("\\%", "%")  # "9.23\\%" in LaTeX-flavoured abstracts
        shift = len(tok) - len(raw)
        core = raw.lstrip(_LEAD)
        glued = _GLUED_LEAD.match(core)
        word = glued.group(0) if glued else ""
        core = core[len(word):]
        lead = raw[: len(raw) - len(core) - len(word)]
        core = core.rstrip(_TRAIL)
        start = tok_start + len(lead) + len(word)
        if not core or not (core[0].isdigit() or (core[0] == "." and core[1:2].isdigit())):
            continue
        if lead[-1:] == "-" and start >= 2 and sentence[start - 2].isalpha():
            continue  # "ResNet -50" is not written that way; "-0.5" is a sign
        m = _SHAPE.match(core.replace("%-", "%"))
        if not m:
            continue
        suffix = m.group("suffix")
        magnitude = ""
        unit = ""
        glued_word = 0  # "-FLOPs" of "63.03%-FLOPs": the metric, not the unit
        if suffix:
            low = suffix.lower()
            if low in _UNITS:
                pass
            elif low[:1] == "%" and low[1:].isalpha():
                glued_word = len(core) - core.index("%") - 1 if low != "%p" else 0
                low = "pp" if low == "%p" else "%"  # "3.3%p" (points), "63.03%-FLOPs reduction"
            elif low in ("st", "nd", "rd", "th"):
                continue  # "4th": an ordinal
            elif low[:1] in _MAGNITUDES and low[1:] in ("", "params", "parameters", "flops", "macs"):
                magnitude, low = _MAGNITUDES[low[:1]], low[1:]
            low = low.removeprefix("-") if low not in _UNITS else low
            if low and low not in _UNITS and low not in ("params", "parameters"):
                continue  # "3D", "2nd", "le13", "10/100": a name or an ordinal
            unit = _UNITS.get(low, "")
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        end = start + len(core) + shift - glued_word
        if not magnitude and nxt.lower().strip(_TRAIL) in _MAGNITUDES and len(nxt.strip(_TRAIL)) > 1:
            magnitude = _MAGNITUDES[nxt.lower().strip(_TRAIL)]
            end = toks[i + 1][0] + len(nxt.strip(_TRAIL))  # "25 million": the unit words follow
            nxt = toks[i + 2][1] if i + 2 < len(toks) else ""
        pair = f"{nxt} {toks[i + 2][1]}" if i + 2 < len(toks) else ""
        if not unit and re.match(r"^(?:GPU|TPU)[- ]?(?:hours?|days?)\b", pair.strip(_TRAIL), re.I):
            unit, end = ("GPU days" if "day" in pair.lower() else "GPU hours"), toks[i + 2][0] + len(toks[i + 2][1])
        if not unit and _unit(nxt) and not (_unit(nxt) in ("s", "h", "×") and len(nxt.strip(_TRAIL)) == 1):
            unit = _unit(nxt) or ""
            end = toks[i + 1][0] + len(toks[i + 1][1])
        a = m.group("a")
        if not suffix and not unit and not m.group("b") and _YEAR.match(a):
            continue  # a year
        sign = {"approx": "~", "sim": "~", "le": "<", "leq": "<", "ge": ">", "geq": ">"}.get(word) or lead.strip("([{\"'‘“")[-1:]
        if word == "x" and not unit:
            unit = "×"  # "x21 faster"
        values = [(a, m.start("a"))] + ([(m.group("b"), m.start("b"))] if m.group("b") else [])
        for text, offset in values:
            written = text + (magnitude if suffix[:1].lower() in _MAGNITUDES and magnitude else "")
            out.append(Quantity(value=written, number=float(text.replace(",", "")), unit=unit,
                                start=start + offset, end=end, sign=sign.replace("−", "-"), magnitude=magnitude))
    return _share_units(sentence, out)


def _share_units(sentence: str, found: list[Quantity]) -> list[Quantity]:
    """'42, 4.5, 6.5 times less', '11 to 14%': a unit written once applies to the whole list."""
    out = list(found)
    for i in range(len(out) - 2, -1, -1):
        a, b = out[i], out[i + 1]
        if not a.unit and b.unit and re.fullmatch(r"\s*(?:,|,?\s*and|,?\s*or|to|-|–|/)\s*", sentence[a.end:b.start]):
            out[i] = Quantity(value=a.value, number=a.number, unit=b.unit, start=a.start, end=a.end, sign=a.sign,
                              magnitude=a.magnitude or b.magnitude)
    return out

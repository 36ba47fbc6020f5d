"""Word-level scoring shared by the speech summaries: normalised words, edit distance, percentiles."""
import re


def words(text):
    out = []
    for w in re.split(r"[\s-]+", text.lower()):
        w = re.sub(r"^[^\w']+|[^\w']+$", "", w)
        if w:
            out.append("doctor" if w == "dr" else w)
    return out


def edits(a, b):
    row = list(range(len(b) + 1))
    for i, x in enumerate(a):
        prev, row[0] = row[0], i + 1
        for j, y in enumerate(b):
            cur = row[j + 1]
            row[j + 1] = min(prev + (x != y), row[j] + 1, cur + 1)
            prev = cur
    return row[len(b)]


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()


def digits(tokens):
    """Spoken numbers as digits ("one hundred and two" -> "102", "ninety five" -> "95"), so a
    transcript that writes 102 is not counted wrong; other words pass through."""
    out, value, last = [], None, None

    def flush():
        nonlocal value, last
        if value is not None:
            out.append(str(value[0] + value[1]))
        value, last = None, None

    for i, w in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if w in UNITS or w in TENS:
            n = UNITS.index(w) if w in UNITS else 20 + 10 * TENS.index(w)
            joins = value is not None and (last in ("hundred", "thousand", "and") or (last == "ten" and n < 10))
            if not joins:
                flush()
                value = [0, 0]
            value[1] += n
            last = "ten" if w in TENS else "unit"
        elif w == "hundred" and value is not None and last != "hundred":
            value[1] = value[1] * 100
            last = "hundred"
        elif w == "thousand" and value is not None:
            value = [value[0] + value[1] * 1000, 0]
            last = "thousand"
        elif w == "and" and last in ("hundred", "thousand") and (nxt in UNITS or nxt in TENS):
            last = "and"
        else:
            flush()
            out.append(w)
    flush()
    return out

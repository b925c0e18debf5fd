"""Generated YouTube-style descriptions full of awkward text, for tests and the benchmark.

`tricky_description(rng)` mixes the cases that break naive parsers: Windows line
endings, Unicode and full-width digits, emoji, URLs with colons and `t=1:23`
parameters, "10:30 pm", "16:9", ranges "0:00 - 1:30", numbered lists, hours,
three-digit minutes, `dd:dd:dd:dd`, empty and one-character titles,
non-increasing times. `corpus(n, seed, chapter_fraction)` gives a reproducible
list of (video_id, description, duration) rows with roughly the given share of
chaptered descriptions (VidChapters kept under 1% of what it scanned).
"""
from __future__ import annotations

import random

WORDS = ("intro introduction outro conclusion recipe setup unboxing review gameplay tutorial part step "
         "final thoughts results tips tricks overview summary questions answers bonus build test "
         "how to make the best easy quick guide live music").split()
UNICODE_TITLES = ("Einführung", "Présentation", "結論", "Введение", "مقدمة", "परिचय", "Zusammenfassung ✨",
                  "🔥 Highlights 🔥", "Ölwechsel", "café ☕", "½ time", "Step ²", "Ｆｉｎａｌ")
DIGIT_SETS = ("0123456789", "٠١٢٣٤٥٦٧٨٩", "０１２３４５６７８９", "०१२३४५६७८९")
PREFIXES = ("", "", "", "", "- ", "• ", "▶ ", "[", "(", "1. ", "#1 ", "Part 2: ", "⏱ ", "\t", "  ", "🎬 ")
SEPARATORS = (" ", " ", " - ", " – ", ": ", " | ", "] ", ") ", " ", "\t", " -> ", "  ")
FILLER = (
    "Subscribe for more videos!", "Follow me on instagram: @someone", "Business inquiries: mail@example.com",
    "Check out https://www.example.com:8080/path?a=1:23 for more", "Watch at https://youtu.be/abcdefghijk?t=1:05",
    "Filmed in 16:9 at 60fps", "Doors open at 10:30 pm, show at 11:00 PM", "Score was 3:2 after 90 minutes",
    "Ratio 4:3 vs 16:9 vs 21:9", "Bible verse John 3:16", "Live from 8:00 to 10:00 every day",
    "Timestamps below:", "Time codes 🕐", "Music: Artist - Song (remix)", "", "", "Gear list:",
    "Camera: 1234:5678 serial", "Meeting 12:34:56:78 id", "Runtime 100:00 minutes", "http://1.2.3.4:8000/stream",
    "#vlog #travel #food", "Copyright © 2021. All rights reserved.", "Chapter list ↓↓↓",
)


def _fmt(seconds: int, rng: random.Random, hours: bool) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    style = rng.random()
    if hours or h:
        text = f"{h:02d}:{m:02d}:{s:02d}" if style < 0.5 else f"{h}:{m:02d}:{s:02d}"
    else:
        text = f"{m:02d}:{s:02d}" if style < 0.3 else f"{m}:{s:02d}"
    if rng.random() < 0.03:
        digits = rng.choice(DIGIT_SETS[1:])
        text = "".join(digits[int(c)] if c.isdigit() else c for c in text)
    return text


def _title(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.06:
        return rng.choice(UNICODE_TITLES)
    if r < 0.08:
        return rng.choice(("", " ", "-", "!", "a", "🔥"))
    if r < 0.10:
        return f"{rng.choice(WORDS)} at 10:30 pm"
    if r < 0.12:
        return f"{rng.choice(WORDS)} (16:9 version)"
    if r < 0.13:
        return f"see https://example.com/watch?t={rng.randint(1, 9)}:{rng.randint(10, 59)}"
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 7))).capitalize()


def chapter_block(rng: random.Random, duration: int) -> list[str]:
    """Timestamp lines in one of the layouts seen on YouTube (some of them deliberately broken)."""
    n = rng.randint(2, 14)
    starts = sorted(rng.sample(range(1, max(duration, n + 2)), n - 1))
    starts = [0] + starts if rng.random() < 0.9 else starts + [rng.randint(0, duration)]
    if rng.random() < 0.03:
        rng.shuffle(starts)
    hours = duration >= 3600 and rng.random() < 0.5
    layout = rng.random()
    lines = []
    for i, start in enumerate(starts):
        ts = _fmt(start, rng, hours)
        title = _title(rng)
        prefix, sep = rng.choice(PREFIXES), rng.choice(SEPARATORS)
        if layout < 0.6:
            line = f"{prefix}{ts}{sep}{title}"
        elif layout < 0.75:
            line = f"{title}{sep}{ts}"
        elif layout < 0.85:
            end = starts[i + 1] if i + 1 < len(starts) else duration
            line = f"{ts} - {_fmt(end, rng, hours)} {title}"
        elif layout < 0.93:
            line = f"{i + 1}. {ts} {title}"
        else:
            line = f"{prefix}{title} ({ts}){rng.choice(('', ' 🎉', ' !!', '.'))}"
        lines.append(line)
    return lines


def tricky_description(rng: random.Random, duration: int, chaptered: bool) -> str:
    lines = [rng.choice(FILLER) for _ in range(rng.randint(0, 12))]
    if chaptered:
        at = rng.randint(0, len(lines))
        lines[at:at] = chapter_block(rng, duration)
    elif rng.random() < 0.3:
        lines.insert(rng.randint(0, len(lines)), f"{_fmt(rng.randint(0, duration), rng, False)} {_title(rng)}")
    text = "\n".join(lines)
    if rng.random() < 0.1:
        text = text.replace("\n", "\r\n")
    if rng.random() < 0.05:
        text += "\n" + " ".join(rng.choice(WORDS) for _ in range(rng.randint(50, 300)))
    return text


def corpus(n: int, seed: int = 0, chapter_fraction: float = 0.3) -> list[tuple[str, str, float]]:
    """n rows (video_id, description, duration); about `chapter_fraction` carry a chapter block."""
    rng = random.Random(seed)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    rows = []
    for _ in range(n):
        vid = "".join(rng.choice(alphabet) for _ in range(11))
        duration = rng.choice((rng.randint(30, 600), rng.randint(600, 3600), rng.randint(3600, 14400)))
        rows.append((vid, tricky_description(rng, duration, rng.random() < chapter_fraction), float(duration)))
    return rows


PLAIN = (
    "Thanks for watching! Don't forget to like and subscribe.", "In this video I show you how to make it at home.",
    "Follow me on Instagram and TikTok for daily updates.", "All music used with permission.",
    "Business email in the about section.", "Join this channel to get access to perks.",
    "Shop the look with the links below.", "This video is not sponsored.", "Merch available now!",
    "Previous episode: https://www.youtube.com/watch?v=abcdefghijk", "Support on https://patreon.com/someone",
    "Ingredients: flour, sugar, eggs, butter.", "Camera: Sony A7 III, Lens: 24-70mm f/2.8", "#shorts #howto #diy",
    "Vielen Dank fürs Zuschauen!", "¡Gracias por ver! 🙏", "Merci d'avoir regardé ❤️", "Shot in 4K, 16:9.",
)


def realistic_description(rng: random.Random, duration: int, chaptered: bool) -> str:
    """A description shaped like most YouTube descriptions: prose, links, hashtags; chapters sometimes."""
    lines = [rng.choice(PLAIN) for _ in range(rng.randint(2, 15))]
    if chaptered:
        n = rng.randint(3, 12)
        starts = [0] + sorted(rng.sample(range(10, max(duration - 5, n * 10 + 11)), n - 1))
        layout = rng.choice(("{ts} {t}", "{ts} - {t}", "{ts} {t}", "{t} {ts}", "{ts} | {t}"))
        block = [layout.format(ts=f"{s // 60}:{s % 60:02d}" if s < 3600 else f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}",
                               t=_title(rng) or "Intro") for s in starts]
        at = rng.randint(0, len(lines))
        lines[at:at] = ["Chapters:"] + block
    return "\n".join(lines)


def realistic_corpus(n: int, seed: int = 0, chapter_fraction: float = 0.05) -> list[tuple[str, str, float]]:
    """Like `corpus`, with everyday descriptions (VidChapters kept under 1% of what it scanned)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        duration = rng.randint(60, 5400)
        rows.append((f"vid{i:08d}", realistic_description(rng, duration, rng.random() < chapter_fraction), float(duration)))
    return rows

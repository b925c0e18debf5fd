"""PTB tokenisation of caption text, exactly as the COCO caption protocol does it.

The Stanford PTBTokenizer (CoreNLP 3.4.1, shipped in pycocoevalcap) runs once
for all texts of an evaluation, `-preserveLines -lowerCase`, then punctuation
tokens are removed (pycocoevalcap's list). pycocoevalcap writes a temporary file
into its own package folder and only replaces '\\n' inside captions; we pipe the
texts through stdin and also blank the other characters the tokenizer treats as
line breaks, which would otherwise shift every later caption by a line.
"""
from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable

from videolang.evaluate.java import corenlp_jar, java_executable

PUNCTUATIONS = frozenset(["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-",
                          ".", "?", "!", ",", ":", "-", "--", "...", ";"])
_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\u2028\u2029]")
_NON_ASCII = re.compile("[^\x00-\x7f]")


def remove_nonascii(text: str) -> str:
    """densevid_eval / SODA preprocessing: every non-ASCII character becomes a space."""
    return text if text.isascii() else _NON_ASCII.sub(" ", text)


def ptb_tokenize(texts: Iterable[str], java: str = "java") -> dict[str, str]:
    """Tokenise every distinct text with one tokenizer process: {text: tokenised text}."""
    unique = list(dict.fromkeys(texts))
    if not unique:
        return {}
    payload = "\n".join(_LINE_BREAKS.sub(" ", t) for t in unique) + "\n"
    cmd = [java_executable(java), "-cp", str(corenlp_jar()), "edu.stanford.nlp.process.PTBTokenizer",
           "-preserveLines", "-lowerCase"]
    proc = subprocess.run(cmd, input=payload.encode("utf-8"), capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"PTB tokenizer failed (exit {proc.returncode}): {proc.stderr.decode(errors='replace')[-2000:]}")
    lines = proc.stdout.decode("utf-8").split("\n")
    if len(lines) < len(unique):
        raise RuntimeError(f"PTB tokenizer returned {len(lines)} lines for {len(unique)} texts")
    return {text: " ".join(w for w in line.rstrip().split(" ") if w not in PUNCTUATIONS)
            for text, line in zip(unique, lines)}

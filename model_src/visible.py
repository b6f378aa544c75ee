"""Tokens as the book prints them, so that a character which shows nothing can be seen.

    visible.token(" king") == "␣king"     a token on its own: whitespace drawn
    visible.line("WARWICK:\\n") == "WARWICK:↵"   text on one line: the space stays a space

Every page, diagram and widget prints tokens this way (the widgets' script gets each
model's vocabulary printed by token()). The separator between the char corpus's plays,
ASCII's END OF TEXT (model_src/shakespeare.py), is printed as ∎, the mark that ends an
article; any other control character as Unicode's picture of it.
"""

DRAWN = {"\n": "↵", " ": "␣", "\t": "⇥", "\x03": "∎"}
# U+2400 + a control character's code (below 32) is its picture. The font of many a
# system lacks them, hence the end mark above for the one control character the book uses.
CONTROL_PICTURES = 0x2400


def token(text: str) -> str:
    """A token as the book prints it on its own: whitespace and control characters drawn."""
    return "".join(_drawn(ch) for ch in text)


def line(text: str) -> str:
    """Text printed on one line: spaces as they are, newlines and control characters drawn."""
    return "".join(ch if ch == " " else _drawn(ch) for ch in text)


def _drawn(ch: str) -> str:
    if ch in DRAWN:
        return DRAWN[ch]
    return chr(CONTROL_PICTURES + ord(ch)) if ord(ch) < 32 else ch

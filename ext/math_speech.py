r"""A formula's LaTeX said in words and symbols: the alt text of the book's formula images.

imgmath's alt text is the LaTeX itself, which a screen reader spells out backslash by
backslash ("backslash rho underscore brace i comma t"). ``spoken`` turns it into what the
image shows, in plain text whose symbols screen readers voice by name:

    \rho_{i,t} = \pi_\theta(o_{i,t}) / \pi_{old}(o_{i,t})
    ρ_(i,t) = π_θ(o_(i,t)) / π_old(o_(i,t))

    \frac{1}{PG}\sum_i A_i \nabla \log p(a_i)
    1/PG ∑_i A_i ∇ log p(a_i)

    X X^\top X = U S^3 V^\top
    X X transposed X = U S cubed V transposed

Colour groups are opened; spacing, sizing and an aligned formula's columns and line
breaks are layout, dropped; a font's letters are letters. It is not a LaTeX parser: it knows
the commands the book's formulas use, and says any other by its name (``\tanh`` as
"tanh"), which is what an operator's name is for.
"""

from __future__ import annotations

import re
import unicodedata

COLOUR_GROUP = re.compile(r"\{\\color\{[^{}]*\}\s*")  # opens "{\color{q} Q}"
SPACING = re.compile(r"\\(?:[,;:! ]|q?quad\b|[bB]ig{1,2}[lr]?\b|left\b|right\b)")
LAYOUT = re.compile(r"(?<!\\)&|\\\\")  # an aligned formula's columns and line breaks
# a font's letters as letters: \mathrm{softmax} is softmax, \mathbb{E} is E
FONTS = re.compile(r"\\(?:math(?:rm|it|bf|bb|cal)|operatorname|textrm|text)\{([^{}]*)\}")
COMMAND = re.compile(r"\\([A-Za-z]+|.)")
BIG_OPERATOR = re.compile(r"[∑∏](_\S+)?$")  # a sum's or product's bounds are limits
TIGHT_BEFORE = re.compile(r" ([)\],])")  # no space inside brackets or before a comma
TIGHT_AFTER = re.compile(r"([(\[]|(?<=\S)/) ")  # nor after one, nor after a tight slash

SYMBOLS = {
    "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠",
    "approx": "≈", "pm": "±", "times": "×", "cdot": "·", "infty": "∞",
    "nabla": "∇", "partial": "∂", "sum": "∑", "prod": "∏", "in": "∈", "top": "⊤",
    "to": "→", "leftarrow": "←", "rightarrow": "→", "mapsto": "↦",
    "dots": "…", "ldots": "…", "cdots": "…", "mid": "|",
    "langle": "⟨", "rangle": "⟩", "lVert": "‖", "rVert": "‖", "|": "‖", "propto": "∝",
    "[": "", "]": "",  # display math's own brackets
}  # fmt: skip
LETTERS = {"ell": "ℓ"}  # besides the Greek ones: letters, written as the source spaces them
ACCENTS = {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303", "vec": "\u20d7"}
FRACTIONS = {"frac", "tfrac", "dfrac"}
POWERS = {"2": "squared", "3": "cubed", "⊤": "transposed"}


def spoken(latex: str) -> str:
    """The formula as words and symbols, one space between them."""
    while match := COLOUR_GROUP.search(latex):
        end = closing_brace(latex, match.start())
        latex = latex[: match.start()] + latex[match.end() : end] + latex[end + 1 :]
    latex = FONTS.sub(r"\1", SPACING.sub(" ", LAYOUT.sub(" ", latex)))
    return unicodedata.normalize("NFC", _words(latex))  # Â as one character where it is one


def closing_brace(text: str, start: int) -> int:
    """The index of the brace closing the one at ``start`` (the end if it is unclosed)."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{" and text[index - 1 : index] != "\\":
            depth += 1
        elif text[index] == "}" and text[index - 1 : index] != "\\":
            depth -= 1
            if depth == 0:
                return index
    return len(text)


def _words(latex: str) -> str:
    said, index = "", 0
    while index < len(latex):
        char = latex[index]
        if char == "\\":
            command = COMMAND.match(latex, index)
            if command is None:  # a lone backslash at the end
                break
            words, index = _command(command[1], latex, command.end())
            said += words
        elif char in "_^":
            argument, index = _argument(latex, index + 1)
            said = said.rstrip()
            said += _script(char, _words(argument), limit=bool(BIG_OPERATOR.search(said)))
        elif char == "{":
            end = closing_brace(latex, index)
            said, index = said + _words(latex[index + 1 : end]), end + 1
        else:
            said, index = said + char, index + 1
    return TIGHT_AFTER.sub(r"\1", TIGHT_BEFORE.sub(r"\1", " ".join(said.split())))


def _command(name: str, latex: str, index: int) -> tuple[str, int]:
    """What a command says, and where the formula goes on after it and its arguments."""
    if name in FRACTIONS or name == "binom":
        top, index = _argument(latex, index)
        bottom, index = _argument(latex, index)
        top, bottom = _words(top), _words(bottom)
        if name == "binom":
            return f" ({top} choose {bottom}) ", index
        return f" {_grouped(top)}/{_grouped(bottom)} ", index
    if name == "sqrt":
        argument, index = _argument(latex, index)
        return f" √{_grouped(_words(argument))} ", index
    if name in ACCENTS:
        argument, index = _argument(latex, index)
        return _words(argument) + ACCENTS[name], index
    if letter := LETTERS.get(name) or _greek(name):
        return letter, index
    return f" {SYMBOLS.get(name, name)} ", index


def _argument(latex: str, index: int) -> tuple[str, int]:
    """A command's or script's argument at ``index`` (a braced group, a command or one
    character, spaces before it skipped), and the index after it."""
    while index < len(latex) and latex[index] == " ":
        index += 1
    if latex[index : index + 1] == "{":
        end = closing_brace(latex, index)
        return latex[index + 1 : end], end + 1
    if command := COMMAND.match(latex, index):
        return command[0], command.end()
    return latex[index : index + 1], index + 1


def _script(mark: str, said: str, limit: bool) -> str:
    """A subscript kept as _ (screen readers pass over it: "π_old" is read "pi old"); a
    sum's upper limit as "to"; a power in words where it has a name, else said as one."""
    if mark == "_":
        return f"_{_grouped(said)}"
    if limit:
        return f" to {_grouped(said)} "
    if said in POWERS:
        return f" {POWERS[said]} "
    return f" to the power {_grouped(said)} "


def _grouped(said: str) -> str:
    """One word, number or symbol as it is; anything longer in parentheses."""
    return said if re.fullmatch(r"[\w.]+|\S", said) else f"({said})"


def _greek(name: str) -> str | None:
    r"""The Greek letter a command names (\alpha, \Sigma, \varepsilon), if it is one."""
    case = "CAPITAL" if name[:1].isupper() else "SMALL"
    letter = name.removeprefix("var").upper().replace("LAMBDA", "LAMDA")
    try:
        return unicodedata.lookup(f"GREEK {case} LETTER {letter}")
    except KeyError:
        return None

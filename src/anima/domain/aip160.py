"""A parser for the AIP-160 filter language (the part list methods need). Pure, no I/O.

    filter      = [expression]
    expression  = sequence {"AND" sequence}
    sequence    = factor {factor}                 adjacent factors are ANDed
    factor      = term {"OR" term}                OR binds tighter than AND (AIP-160)
    term        = ["NOT" | "-"] simple
    simple      = restriction | "(" expression ")"
    restriction = comparable [comparator arg]
    comparator  = "=" | "!=" | "<" | "<=" | ">" | ">=" | ":"
    arg         = string | text                   string: "..." or '...' with \\ escapes

A syntax error raises ``FilterSyntaxError`` with the 1-based character position; what a
field means (and which fields and comparators a collection allows) is up to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from anima.errors import InvalidArgument

COMPARATORS = ("<=", ">=", "!=", "=", "<", ">", ":")
_KEYWORDS = frozenset({"AND", "OR", "NOT"})
_STOP = frozenset(" \t\r\n()")
_OPERATOR_CHARS = frozenset("=!<>:")


class FilterSyntaxError(InvalidArgument):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"invalid filter at position {position}: {message}", field="filter")
        self.position = position


@dataclass(frozen=True, slots=True)
class Restriction:
    """``field op value``; ``op`` and ``value`` are empty for a bare value (global search)."""

    field: str
    op: str
    value: str
    position: int


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Expr, ...]


Expr = Restriction | Not | And | Or


def parse(text: str) -> Expr | None:
    """The expression tree of ``text``; None for an empty filter."""
    parser = _Parser(text)
    parser.skip_space()
    if parser.at_end():
        return None
    expr = parser.expression()
    parser.skip_space()
    if not parser.at_end():
        parser.fail(f"unexpected {parser.peek_word()!r}")
    return expr


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # -- scanning -----------------------------------------------------------

    def fail(self, message: str, at: int | None = None) -> NoReturn:
        raise FilterSyntaxError(message, (self.pos if at is None else at) + 1)

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def skip_space(self) -> None:
        while not self.at_end() and self.text[self.pos].isspace():
            self.pos += 1

    def peek_word(self) -> str:
        end = self.pos
        while end < len(self.text) and self.text[end] not in _STOP:
            end += 1
        return self.text[self.pos : end] or self.text[self.pos : self.pos + 1]

    def keyword(self, word: str) -> bool:
        """Consume ``word`` if it stands next, as a whole word."""
        self.skip_space()
        end = self.pos + len(word)
        if self.text.startswith(word, self.pos) and (
            end >= len(self.text) or self.text[end] in _STOP
        ):
            self.pos = end
            return True
        return False

    # -- grammar ------------------------------------------------------------

    def expression(self) -> Expr:
        operands = [self.sequence()]
        while self.keyword("AND"):
            operands.append(self.sequence())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def sequence(self) -> Expr:
        operands = [self.factor()]
        while True:
            self.skip_space()
            if self.at_end() or self.text[self.pos] == ")" or self.peek_word() in {"AND", "OR"}:
                break
            operands.append(self.factor())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def factor(self) -> Expr:
        operands = [self.term()]
        while self.keyword("OR"):
            operands.append(self.term())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def term(self) -> Expr:
        self.skip_space()
        if self.keyword("NOT"):
            return Not(self.simple())
        if not self.at_end() and self.text[self.pos] == "-":
            self.pos += 1
            return Not(self.simple())
        return self.simple()

    def simple(self) -> Expr:
        self.skip_space()
        if self.at_end():
            self.fail("expected a restriction, found the end of the filter")
        if self.text[self.pos] == "(":
            self.pos += 1
            expr = self.expression()
            self.skip_space()
            if self.at_end() or self.text[self.pos] != ")":
                self.fail("expected ')'")
            self.pos += 1
            return expr
        return self.restriction()

    def restriction(self) -> Restriction:
        start = self.pos
        comparable = self.comparable()
        self.skip_space()
        op = next((c for c in COMPARATORS if self.text.startswith(c, self.pos)), "")
        if not op:
            return Restriction(comparable, "", "", start + 1)
        self.pos += len(op)
        self.skip_space()
        return Restriction(comparable, op, self.arg(), start + 1)

    def comparable(self) -> str:
        if self.text[self.pos] in "\"'":
            return self.string()
        start = self.pos
        while (
            not self.at_end()
            and self.text[self.pos] not in _STOP
            and self.text[self.pos] not in _OPERATOR_CHARS
        ):
            self.pos += 1
        word = self.text[start : self.pos]
        if not word:
            self.fail(f"expected a field name, found {self.text[self.pos]!r}")
        if word in _KEYWORDS:
            self.fail(f"expected a field name, found the keyword {word}", start)
        return word

    def arg(self) -> str:
        if self.at_end() or self.text[self.pos] in _STOP:
            self.fail("expected a value after the comparator")
        if self.text[self.pos] in "\"'":
            return self.string()
        start = self.pos
        while not self.at_end() and self.text[self.pos] not in _STOP:
            self.pos += 1
        return self.text[start : self.pos]

    def string(self) -> str:
        quote, start = self.text[self.pos], self.pos
        self.pos += 1
        out: list[str] = []
        while not self.at_end():
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
            elif ch == quote:
                self.pos += 1
                return "".join(out)
            else:
                out.append(ch)
                self.pos += 1
        self.fail("unterminated string", start)

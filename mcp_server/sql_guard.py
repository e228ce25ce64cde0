"""A lexical check of free SQL for PostgreSQL: one statement, and no function that locks or runs SQL text.

The check only has to be conservative: anything it cannot read for sure (an unterminated
string, comment or quoted name) is refused, never guessed at.
"""

from __future__ import annotations

import re

# Advisory locks would let a reader take or hold the ETL's run lock; these functions run SQL
# handed to them as text, so they could reach those locks (or a second statement) by name.
_DENIED_NAMES = re.compile(r"advisory|query_to_xml|cursor_to_xml|ts_stat|dblink")
_WORD = re.compile(r"[A-Za-z0-9_$\x80-\uffff]+")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$")


class UnsafeSql(ValueError):
    """Free SQL the PostgreSQL guard will not send; the message says why."""


def _end_of_quoted(sql: str, start: int, quote: str, backslash: bool) -> int:
    """The index after the closing `quote` of the literal or name opened at `start`."""
    i = start + 1
    while i < len(sql):
        ch = sql[i]
        if backslash and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if sql.startswith(quote, i + 1):  # a doubled quote stands for itself
                i += 2
                continue
            return i + 1
        i += 1
    raise UnsafeSql("the query has an unterminated string or quoted name")


def _end_of_string(sql: str, start: int) -> int:
    # Whether backslashes escape depends on an E prefix and on standard_conforming_strings:
    # a literal whose end differs between the two readings is refused, never guessed.
    plain = _end_of_quoted(sql, start, "'", backslash=False)
    try:
        escaped = _end_of_quoted(sql, start, "'", backslash=True)
    except UnsafeSql:
        escaped = None
    if escaped != plain:
        raise UnsafeSql("a string literal's end depends on how backslashes are read: write it without \\'")
    return plain


def _end_of_block_comment(sql: str, start: int) -> int:
    depth, i = 0, start
    while i < len(sql):
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    raise UnsafeSql("the query has an unterminated /* comment")


def _skip(sql: str, i: int) -> int | None:
    """The index after a literal, quoted name or comment starting at `i`, or None if none starts there."""
    ch, prev = sql[i], sql[i - 1] if i else " "
    if sql.startswith("--", i):
        end = sql.find("\n", i)
        return len(sql) if end < 0 else end
    if sql.startswith("/*", i):
        return _end_of_block_comment(sql, i)
    if ch == '"':
        return _end_of_quoted(sql, i, ch, backslash=False)
    if ch == "'":
        return _end_of_string(sql, i)
    if ch == "$" and not _is_word_char(prev) and (tag := _DOLLAR_TAG.match(sql, i)):
        end = sql.find(tag.group(0), tag.end())
        if end < 0:
            raise UnsafeSql("the query has an unterminated $$ string")
        return end + len(tag.group(0))
    return None


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_$" or ord(ch) >= 0x80


def check_postgres_sql(sql: str) -> None:
    """Raise UnsafeSql unless `sql` is one statement calling no lock or SQL-running function."""
    i = 0
    while i < len(sql):
        skipped = _skip(sql, i)
        if skipped is not None:
            if sql[i] == '"':
                if sql[max(i - 2, 0) : i].lower() == "u&":  # U&"\0061..." spells any name in escapes
                    raise UnsafeSql('names written with Unicode escapes (U&"...") are not accepted')
                _check_name(sql[i + 1 : skipped - 1])
            i = skipped
        elif sql[i] == ";":
            raise UnsafeSql("one statement per query, one SELECT only: remove the `;` and what follows it")
        elif word := _WORD.match(sql, i):
            _check_name(word.group(0))
            i = word.end()
        else:
            i += 1


def _check_name(name: str) -> None:
    if _DENIED_NAMES.search(name.lower()):
        raise UnsafeSql(f"{name} is not available to the query tool (it takes locks or runs SQL text)")

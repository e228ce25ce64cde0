"""Account names: the default account, the name rule, and the one `--account` option every command uses.

An account is a named person whose WHOOP and Withings data one install syncs. With no account
named, today's single-person use goes on under `default` (docs/SCALE.md, sections 2 and 3).
"""

from __future__ import annotations

import re

DEFAULT_ACCOUNT = "default"
NAME_RULE = "1 to 64 characters: lower-case letters, digits, '-' and '_', starting with a letter or digit"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def check_account_name(name: str) -> str:
    """`name` when it follows the rule; ValueError naming the rule otherwise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"account name {name!r} is not valid: {NAME_RULE}")
    return name


def account_option(*, multiple: bool = True, help: str | None = None):
    """`--account NAME` (repeatable unless `multiple=False`), checked against the name rule.

    Whether the account exists is the command's question (it needs the database); an unknown
    name exits 2 there, listing the accounts.
    """
    import click  # the commands import click anyway; the settings layer does not need it

    def _check(ctx, param, value):
        names = value if multiple else ((value,) if value else ())
        try:
            for name in names:
                check_account_name(name)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        return value

    return click.option(
        "--account",
        "accounts" if multiple else "account",
        multiple=multiple,
        callback=_check,
        metavar="NAME",
        help=help
        or (
            "Only this account (repeatable). Default: every account."
            if multiple
            else f"The account (default: {DEFAULT_ACCOUNT})."
        ),
    )

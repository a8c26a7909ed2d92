"""Reading one text parameter, whatever body it came in: the rule service modules share."""

from __future__ import annotations

from typing import Any

from emojid.errors import BadRequest


def text_value(params: dict[str, Any], name: str, max_length: int | None = None) -> str | None:
    """The parameter as text (numbers as written), None when absent.

    Objects, lists, booleans and file uploads are refused: a client that sends
    one where text belongs has made a mistake worth a 400.
    """
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise BadRequest(f"{name} must be a string")
    text = str(value)
    if max_length is not None and len(text) > max_length:
        raise BadRequest(f"{name} is longer than {max_length} characters")
    return text

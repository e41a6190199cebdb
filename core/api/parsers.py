"""The API reads JSON only, and only JSON that can be stored: every string must be valid
Unicode. (`"\\ud800"` is legal JSON for a lone surrogate, which no database column, log line or
Webex payload can carry: refuse it as a parse error rather than fail later.)"""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _lone_surrogate(value) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    return False


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if _lone_surrogate(data):
            raise ParseError(
                "JSON parse error - a string holds a lone surrogate (\\ud800 to \\udfff)."
            )
        return data

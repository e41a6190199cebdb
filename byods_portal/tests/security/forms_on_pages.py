"""Find the POST forms on a page and the fields a person could type into."""

from dataclasses import dataclass, field
from html.parser import HTMLParser

TEXT_TYPES = {"text", "search", "url", "email", "tel", "password", ""}


@dataclass
class Form:
    action: str
    values: dict[str, str] = field(default_factory=dict)  # what the page would submit as is
    text_fields: list[str] = field(default_factory=list)  # typed into by a person
    has_csrf_token: bool = False


class _FormParser(HTMLParser):
    def __init__(self, page_path: str):
        super().__init__()
        self.page_path = page_path
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._form = Form(action=a.get("action") or self.page_path)
            self.forms.append(self._form)
        if self._form is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if name == "csrfmiddlewaretoken":
                self._form.has_csrf_token = True
            elif kind in {"checkbox", "radio"}:
                if "checked" in a or name not in self._form.values:
                    self._form.values[name] = a.get("value", "on")
            elif kind not in {"submit", "button", "file"}:
                self._form.values[name] = a.get("value", "")
                if kind in TEXT_TYPES:
                    self._form.text_fields.append(name)
        elif tag == "textarea" and name:
            self._textarea = name
            self._form.values[name] = ""
            self._form.text_fields.append(name)
        elif tag == "select" and name:
            self._select = name
        elif (
            tag == "option"
            and self._select
            and ("selected" in a or self._select not in self._form.values)
        ):
            self._form.values[self._select] = a.get("value", "")

    def handle_data(self, data):
        if self._form is not None and self._textarea:
            self._form.values[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def post_forms(html: str, page_path: str) -> list[Form]:
    parser = _FormParser(page_path)
    parser.feed(html)
    return parser.forms

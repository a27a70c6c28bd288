"""docs/api.md: the OpenAPI document (functions/meta/openapi.json) as a page to read in the repository,
every route with its parameters, body and answers, the callbacks, and every schema with its fields.
scripts/openapi.py writes it with the document (`make openapi`), and its `--check` holds it to the code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

# The order a newcomer meets them in; a tag not named here comes after these, alphabetically.
TAG_ORDER = ["Uploads", "Jobs", "Batches", "Usage", "Catalogue", "Meta"]
SECURITY = {"apiKey": "`X-API-Key: <key>`", "bearer": "`Authorization: Bearer <key>`"}


def markdown(document: dict[str, Any]) -> str:
    return Reference(document).page()


class Reference:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.base = document["servers"][0]["url"]
        rank = {tag: index for index, tag in enumerate(TAG_ORDER)}
        found = [
            ((operation.get("tags") or ["Other"])[0], method.upper(), path, operation)
            for path, item in document["paths"].items()
            for method, operation in item.items()
        ]
        self.operations = sorted(found, key=lambda entry: (rank.get(entry[0], len(rank)), entry[0], entry[2], entry[1]))
        self.schemas = dict(sorted(document["components"]["schemas"].items()))
        self.webhooks = document.get("webhooks", {})
        self.anchors = _anchors(dict(self._headings()))

    def _headings(self) -> Iterator[tuple[tuple[str, str], str]]:
        """Every heading of the page in its order, by what it is about: GitHub numbers repeated anchors."""
        info = self.document["info"]
        yield ("page", ""), f"{info['title']} API {info['version']}"
        yield ("part", "routes"), "Routes"
        tag = None
        for this, method, path, _ in self.operations:
            if this != tag:
                yield ("tag", this), this
                tag = this
            yield ("route", f"{method} {path}"), f"{method} {self.base}{path}"
        yield ("part", "callbacks"), "Callbacks"
        for name in self.webhooks:
            yield ("webhook", name), name
        yield ("part", "schemas"), "Schemas"
        for name in self.schemas:
            yield ("schema", name), name

    def page(self) -> str:
        info = self.document["info"]
        lines = [
            f"# {info['title']} API {info['version']}",
            "",
            "<!-- Generated from functions/meta/openapi.json by scripts/openapi.py (`make openapi`); a test keeps "
            "it in step with the code. -->",
            "",
            info["description"],
            "",
            f"Every path is under `{self.base}`: `http://127.0.0.1:3000{self.base}` on the stack `make run` "
            f"starts, `<ApiUrl>` (an output of the deployed stack) on AWS. There, `GET {self.base}/openapi.json` "
            f"serves the document this page is made from, and `{self.base}/docs` shows it as an interactive page. "
            "What the operations do to a photo is in [operations.md](operations.md).",
            "",
            "## Routes",
            "",
            "| route | what | needs |",
            "|---|---|---|",
        ]
        for _, method, path, operation in self.operations:
            link = f"[`{method} {self.base}{path}`](#{self.anchors['route', f'{method} {path}']})"
            needs = "a key" if operation.get("security") else "nothing: public"
            lines.append(f"| {link} | {_cell(operation.get('summary', ''))} | {needs} |")
        lines.append("")
        tag = None
        for this, method, path, operation in self.operations:
            if this != tag:
                lines += [f"## {this}", ""]
                tag = this
            lines += self._operation(method, f"{self.base}{path}", operation)
        lines += ["## Callbacks", ""]
        for name, item in self.webhooks.items():
            lines += self._webhook(name, item["post"])
        lines += ["## Schemas", ""]
        for name, schema in self.schemas.items():
            lines += self._schema(name, schema)
        return "\n".join(lines).rstrip() + "\n"

    def _operation(self, method: str, path: str, operation: dict[str, Any]) -> list[str]:
        lines = [f"### {method} {path}", "", f"**{operation.get('summary', '')}** (`{operation['operationId']}`)", ""]
        if operation.get("description"):
            lines += [operation["description"], ""]
        schemes = [SECURITY.get(name, name) for entry in operation.get("security", []) for name in entry]
        lines += [f"Needs: {' or '.join(schemes)}." if schemes else "Public: no key.", ""]
        parameters = operation.get("parameters", [])
        if parameters:
            lines += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
            for parameter in parameters:
                schema = parameter.get("schema", {})
                description = parameter.get("description") or schema.get("description", "")
                lines.append(
                    f"| `{parameter['name']}` | {parameter['in']} | {_cell(self._kind(schema))} | "
                    f"{'yes' if parameter.get('required') else 'no'} | {_cell(_described(description, schema))} |"
                )
            lines.append("")
        body = operation.get("requestBody")
        if body:
            lines += [f"Body (JSON): {self._kind(body['content']['application/json']['schema'])}", ""]
        lines += ["| status | means | body |", "|---|---|---|"]
        for status, response in operation["responses"].items():
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            answer = self._kind(schema) if schema else "—"
            lines.append(f"| {status} | {_cell(response.get('description', ''))} | {answer} |")
        return [*lines, ""]

    def _webhook(self, name: str, operation: dict[str, Any]) -> list[str]:
        lines = [f"### {name}", "", f"**{operation['summary']}**", "", "POSTed to the `callback_url`, with:", ""]
        lines += ["| header | means |", "|---|---|"]
        lines += [f"| `{header['name']}` | {_cell(header['description'])} |" for header in operation["parameters"]]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        lines += ["", f"Body (JSON): {self._kind(body)}", "", "| answer | means |", "|---|---|"]
        lines += [f"| {code} | {_cell(answer['description'])} |" for code, answer in operation["responses"].items()]
        return [*lines, ""]

    def _schema(self, name: str, schema: dict[str, Any]) -> list[str]:
        lines = [f"### {name}", ""]
        if schema.get("description"):
            lines += [" ".join(schema["description"].split()), ""]
        properties = schema.get("properties")
        if properties:
            required = set(schema.get("required", []))
            lines += ["| field | type | required | description |", "|---|---|---|---|"]
            for field, definition in properties.items():
                lines.append(
                    f"| `{field}` | {_cell(self._kind(definition))} | {'yes' if field in required else 'no'} | "
                    f"{_cell(_described(definition.get('description', ''), definition))} |"
                )
            lines.append("")
        else:
            lines += [self._kind(schema), ""]
        return lines

    def _kind(self, schema: dict[str, Any]) -> str:
        """A schema's type in a few words, with links to the named schemas it uses."""
        unions = [schema[union] for union in ("anyOf", "oneOf") if union in schema]
        kind = schema.get("type", "any")
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            text = f"[{name}](#{self.anchors['schema', name]})"
        elif unions:
            text = " or ".join(dict.fromkeys(self._kind(option) for option in unions[0]))
        elif "enum" in schema:
            text = "one of " + ", ".join(f"`{json.dumps(value, ensure_ascii=False)}`" for value in schema["enum"])
        elif kind == "array":
            text = f"list of {self._kind(schema.get('items', {}))}{_bounds(schema, 'minItems', 'maxItems', ' items')}"
        elif kind == "object":
            values = schema.get("additionalProperties")
            text = f"map of string to {self._kind(values)}" if isinstance(values, dict) else "object"
        elif kind == "string":
            text = "string" + (f" ({schema['format']})" if "format" in schema else "")
            text += f" matching `{schema['pattern']}`" if "pattern" in schema else ""
            text += _bounds(schema, "minLength", "maxLength", " characters")
        else:
            text = f"{kind}{_bounds(schema, 'minimum', 'maximum', '')}"
        return text


def _anchors(headings: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """The anchor GitHub gives each heading: lower case, spaces as dashes, other punctuation dropped,
    and `-1`, `-2`, ... after an anchor an earlier heading has."""
    seen: dict[str, int] = {}
    anchors = {}
    for key, heading in headings.items():
        slug = "".join(c for c in heading.lower() if c.isalnum() or c in " -_").replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors[key] = slug if count == 0 else f"{slug}-{count}"
    return anchors


def _described(description: str, schema: dict[str, Any]) -> str:
    """The description, and the default when there is one."""
    text = " ".join(description.split())
    if "default" in schema:
        stop = "" if not text or text.endswith(".") else "."
        text = f"{text}{stop} Default `{json.dumps(schema['default'], ensure_ascii=False)}`.".strip()
    return text


def _bounds(schema: dict[str, Any], low: str, high: str, unit: str) -> str:
    def number(value: float) -> str:
        return str(int(value)) if float(value).is_integer() else str(value)

    if low in schema and high in schema:
        return f", {number(schema[low])} to {number(schema[high])}{unit}"
    if low in schema:
        return f", at least {number(schema[low])}{unit}"
    if high in schema:
        return f", at most {number(schema[high])}{unit}"
    return ""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")

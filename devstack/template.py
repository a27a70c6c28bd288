"""template.yaml as data: CloudFormation tags, SAM Globals, and the intrinsic functions it uses."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


# What `!Ref AWS::NoValue` resolves to: the list item or property it stands in is dropped.
NO_VALUE: Any = object()


class TemplateError(Exception):
    """The template uses something the local stack cannot emulate."""


# The https addresses AWS gives what the local stack serves itself: an Api's execute-api host and a
# CloudFront distribution's domain name. `local_urls` says where each is served locally.
_AWS_URLS = (
    re.compile(r"https://\$\{(\w+)\}\.execute-api\.\$\{AWS::Region\}\.\$\{AWS::URLSuffix\}"),
    re.compile(r"https://\$\{(\w+)\.DomainName\}"),
)


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader: _Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _tag)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)


@dataclass
class Template:
    """The template with parameters bound, and what each resource resolves to once created."""

    body: dict[str, Any]
    stack_name: str
    parameters: dict[str, str] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # logical id -> what Ref returns
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)  # logical id -> GetAtt values
    local_urls: dict[str, str] = field(default_factory=dict)  # logical id -> where the stack serves it

    @classmethod
    def read(cls, stack_name: str, overrides: Mapping[str, str] | None = None, path: Path = TEMPLATE) -> Template:
        body = load(path)
        parameters = {name: str(spec.get("Default", "")) for name, spec in body.get("Parameters", {}).items()}
        parameters.update(overrides or {})
        return cls(body=body, stack_name=stack_name, parameters=parameters)

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        """The resources of a type that exist with these parameters (their Condition holds)."""
        return {
            lid: r
            for lid, r in self.body["Resources"].items()
            if r["Type"] == type_ and ("Condition" not in r or self.condition(r["Condition"]))
        }

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.body["Conditions"][name]))

    def function_properties(self, logical_id: str) -> dict[str, Any]:
        """A function's properties with SAM Globals applied (maps merged, lists appended)."""
        merged: dict[str, Any] = {}
        for source in (
            self.body.get("Globals", {}).get("Function", {}),
            self.body["Resources"][logical_id]["Properties"],
        ):
            for key, value in source.items():
                if key == "Environment":
                    variables = {**merged.get(key, {}).get("Variables", {}), **value.get("Variables", {})}
                    merged[key] = {"Variables": variables}
                elif key == "Layers":
                    merged[key] = [*merged.get(key, []), *value]
                else:
                    merged[key] = value
        return merged

    @staticmethod
    def aliased_function(reference: Any) -> str:
        """The function that `!Ref <Function>.Alias` names: the template points API Gateway at
        published versions (SnapStart restores only those); the local stack runs the function itself."""
        name = reference.get("Ref", "") if isinstance(reference, dict) else ""
        if not name.endswith(".Alias"):
            raise TemplateError(f"{reference!r}: not !Ref <Function>.Alias")
        return name.removesuffix(".Alias")

    def pseudo(self, name: str) -> str:
        values = {
            "AWS::StackName": self.stack_name,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name not in values:
            raise TemplateError(f"the local stack does not know {name}")
        return values[name]

    def resolve(self, value: Any) -> Any:
        """Evaluates the intrinsic functions in `value` (Ref, GetAtt, Sub, FindInMap, Join, Split, If,
        and the condition functions); an item or property that is `AWS::NoValue` is left out, as
        CloudFormation leaves it out."""
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if (key, arg) == ("Ref", "AWS::NoValue"):
                return NO_VALUE
            function = self._functions().get(key)
            if function is not None:
                return function(arg)
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self._ref,
            "Fn::GetAtt": lambda arg: self._get_att(*arg),
            "Fn::Sub": self._sub,
            "Fn::FindInMap": lambda arg: self.body["Mappings"][arg[0]][arg[1]][arg[2]],
            "Fn::Join": lambda arg: arg[0].join(str(v) for v in self._list(arg[1])),
            "Fn::Split": lambda arg: str(self.resolve(arg[1])).split(arg[0]),
            "Fn::Equals": lambda arg: str(self.resolve(arg[0])) == str(self.resolve(arg[1])),
            "Fn::Not": lambda arg: not self.resolve(arg[0]),
            "Fn::If": lambda arg: self.resolve(arg[1] if self.condition(arg[0]) else arg[2]),
        }

    def _list(self, value: Any) -> list[Any]:
        """A list argument: written out (each item resolved), or what a function gives (Ref to a list)."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        resolved = self.resolve(value)
        if not isinstance(resolved, list):
            raise TemplateError(f"{value} is not a list")
        return resolved

    def list_parameter(self, name: str) -> list[str]:
        """A CommaDelimitedList parameter's names, without the empty one of an empty value."""
        return [item for item in self._ref(name) if item]

    def _ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            if self.body.get("Parameters", {}).get(name, {}).get("Type") == "CommaDelimitedList":
                return self.parameters[name].split(",")
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"Ref {name}: not a parameter or a resource the local stack created")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        try:
            return self.attributes[logical_id][attribute]
        except KeyError:
            raise TemplateError(f"GetAtt {logical_id}.{attribute}: not emulated locally") from None

    def _sub(self, arg: str | list[Any]) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
        for aws_url in _AWS_URLS:
            text = aws_url.sub(lambda found: self.local_urls.get(found.group(1), found.group(0)), text)

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return self._get_att(*name.split(".", 1))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

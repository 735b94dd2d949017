"""Official Asana OpenAPI spec helpers for the conformance suite (test layer).

Two jobs: (1) write the copy of the spec that Prism needs (every path key
prefixed with /api/1.0, servers pointed at the proxy, all other bytes kept),
and (2) a strict response validator. Prism only checks what the schemas state,
and Asana's response schemas declare no `required` and no
`additionalProperties: false`, so Prism cannot see an invented field or a
missing one. The strict validator treats every property that the schema does
not declare as an error, which is what "follow the spec's field names" means.
"""

import re
from pathlib import Path

import yaml

API_PREFIX = "/api/1.0"
SPEC_SERVER_LINE = "servers:\n  - url: https://app.asana.com/api/1.0\n"


def locate_spec(repo_root):
    """The spec lives beside the repo: <repo>/../shared/asana/asana_oas.yaml."""
    return Path(repo_root).resolve().parent / "shared" / "asana" / "asana_oas.yaml"


def write_prefixed_spec(src, dst, server_url):
    """Copies the spec, prefixing each `paths:` key and replacing the server.

    A text transform (not a YAML round trip) so that everything else stays
    byte-identical and line numbers in Prism's messages still point at the
    same schema text. Returns the number of path keys rewritten.
    """
    text = Path(src).read_text(encoding="utf-8")
    if SPEC_SERVER_LINE not in text:
        raise ValueError("spec servers block changed; update SPEC_SERVER_LINE")
    text = text.replace(SPEC_SERVER_LINE,
                        "servers:\n  - url: %s\n" % server_url, 1)
    out = []
    in_paths = False
    rewritten = 0
    for line in text.splitlines(keepends=True):
        if line.startswith("paths:"):
            in_paths = True
        elif in_paths and line[:1] not in ("", " ", "#", "\n", "\r"):
            in_paths = False
        if in_paths and line.startswith("  /"):
            line = "  " + API_PREFIX + line[2:]
            rewritten += 1
        out.append(line)
    Path(dst).write_text("".join(out), encoding="utf-8")
    return rewritten


_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_OPT_IN = re.compile(r"\[Opt\s+In\]", re.IGNORECASE)
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")


class Spec:
    """The parsed spec plus lookups by (method, path template)."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            self.doc = yaml.load(f, Loader=loader)
        self.schemas = self.doc["components"]["schemas"]

    def resolve(self, node):
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise ValueError("external $ref not supported: " + ref)
            cur = self.doc
            for part in ref[2:].split("/"):
                cur = cur[part]
            node = cur
            seen += 1
            if seen > 50:
                raise ValueError("$ref loop at " + ref)
        return node

    def operation(self, method, template):
        return self.doc["paths"][template][method.lower()]

    def statuses(self, method, template):
        return {int(k) for k in self.operation(method, template)["responses"]}

    def response_schema(self, method, template, status):
        """The JSON schema of one documented response, or None if undeclared."""
        responses = self.operation(method, template)["responses"]
        resp = responses.get(status, responses.get(str(status)))
        if resp is None:
            return None
        resp = self.resolve(resp)
        return resp["content"]["application/json"]["schema"]

    def widened(self, schema):
        """The reply schema when opt_fields is given.

        A list operation declares `items: XCompact`, yet its opt_fields enum
        offers the fields of XResponse; with opt_fields the records are
        judged against XResponse.
        """
        schema = self.resolve(schema)
        data = schema.get("properties", {}).get("data")
        if data is None:
            return schema
        ref_holder = data.get("items", data)
        ref = ref_holder.get("$ref", "")
        if not ref.endswith("Compact"):
            return schema
        full = ref[:-len("Compact")] + "Response"
        if full.rsplit("/", 1)[1] not in self.schemas:
            return schema
        new_data = dict(data)
        if "items" in data:
            new_data["items"] = {"$ref": full}
        else:
            new_data = {"$ref": full}
        props = dict(schema["properties"], data=new_data)
        return dict(schema, properties=props)

    def opt_fields_enum(self, method, template):
        for param in self.operation(method, template).get("parameters", []):
            param = self.resolve(param)
            if param.get("name") == "opt_fields":
                return set(param["schema"]["items"]["enum"])
        return set()

    def properties(self, schema):
        """All property names a schema declares, through $ref and allOf."""
        schema = self.resolve(schema)
        names = set(schema.get("properties", {}))
        for sub in schema.get("allOf", []):
            names |= self.properties(sub)
        return names

    def opt_in(self, schema):
        """Properties marked "[Opt In]": absent unless named in opt_fields."""
        schema = self.resolve(schema)
        names = set()
        for name in self.properties(schema):
            raw = self.property_schema(schema, name)
            texts = [raw.get("description", "")] if isinstance(raw, dict) else []
            texts.append(self.resolve(raw).get("description", ""))
            if any(_OPT_IN.search(t or "") for t in texts):
                names.add(name)
        return names

    def default_fields(self, schema_name):
        """What a record carries without opt_fields: declared minus opt-in."""
        schema = self.schemas[schema_name]
        return self.properties(schema) - self.opt_in(schema)

    def property_schema(self, schema, name):
        schema = self.resolve(schema)
        if name in schema.get("properties", {}):
            return schema["properties"][name]
        for sub in schema.get("allOf", []):
            found = self.property_schema(sub, name)
            if found is not None:
                return found
        return None

    def validate(self, schema, value, where="$"):
        """Strict validation; returns a list of 'where: problem' strings."""
        errors = []
        self._validate(schema, value, where, errors)
        return errors

    def _allows_extra(self, schema):
        schema = self.resolve(schema)
        if schema.get("additionalProperties") not in (None, False):
            return True
        return any(self._allows_extra(s) for s in schema.get("allOf", []))

    def _nullable(self, schema):
        if isinstance(schema, dict) and schema.get("nullable"):
            return True  # a sibling of $ref, lost by resolve()
        schema = self.resolve(schema)
        if schema.get("nullable"):
            return True
        return any(self._nullable(s) for s in schema.get("allOf", []))

    def _validate(self, schema, value, where, errors):
        schema = self.resolve(schema)
        if value is None:
            if not self._nullable(schema):
                errors.append("%s: null but the schema is not nullable" % where)
            return
        for key in ("anyOf", "oneOf"):
            if key in schema:
                if not any(not self.validate(s, value, where) for s in schema[key]):
                    errors.append("%s: matches no branch of %s" % (where, key))
                return
        for sub in schema.get("allOf", []):
            self._validate_shallow(sub, value, where, errors)
        self._validate_shallow(schema, value, where, errors)
        if isinstance(value, dict) and (schema.get("properties")
                                        or schema.get("allOf")):
            declared = self.properties(schema)
            if not self._allows_extra(schema):
                for key in sorted(set(value) - declared):
                    errors.append("%s: property '%s' is not in the schema" %
                                  (where, key))
            for key in sorted(set(value) & declared):
                self._validate(self.property_schema(schema, key), value[key],
                               "%s.%s" % (where, key), errors)
            for key in self._required(schema):
                if key not in value:
                    errors.append("%s: required property '%s' missing" %
                                  (where, key))

    def _required(self, schema):
        schema = self.resolve(schema)
        req = set(schema.get("required", []))
        for sub in schema.get("allOf", []):
            req |= self._required(sub)
        return req

    def _validate_shallow(self, schema, value, where, errors):
        """Type, enum, format and items of one schema node (not its allOf)."""
        schema = self.resolve(schema)
        kind = schema.get("type")
        ok = {
            None: True,
            "string": isinstance(value, str),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, (int, float)) and
                      not isinstance(value, bool),
            "boolean": isinstance(value, bool),
            "array": isinstance(value, list),
            "object": isinstance(value, dict),
        }.get(kind, True)
        if not ok:
            errors.append("%s: expected %s, got %s" %
                          (where, kind, type(value).__name__))
            return
        if "enum" in schema and value not in schema["enum"]:
            errors.append("%s: %r not in enum %s" % (where, value, schema["enum"]))
        fmt = schema.get("format")
        if isinstance(value, str) and fmt:
            pattern = {"date-time": _DATE_TIME, "date": _DATE,
                       "uri": _URI}.get(fmt)
            if pattern and not pattern.match(value):
                errors.append("%s: %r is not a valid %s" % (where, value, fmt))
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                self._validate(schema["items"], item, "%s[%d]" % (where, i),
                               errors)

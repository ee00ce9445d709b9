"""What to extract: a schema is a list of named, typed fields.

The default schema covers invoices and receipts. A user declares their own in
YAML::

    name: purchase_order
    fields:
      - {name: po_number, type: string, required: true}
      - {name: order_date, type: date}
      - {name: total_amount, type: money}

The schema is checked when the pipeline is built, so a typo fails in a second,
not after an hour of OCR.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List, Optional

from paperbeam.errors import ConfigError

FIELD_TYPES = ("string", "date", "money", "number")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str = "string"
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Schema:
    name: str
    fields: tuple

    def field(self, name: str) -> Optional[FieldSpec]:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def names(self) -> List[str]:
        return [f.name for f in self.fields]

    def to_dict(self):
        return {
            "name": self.name,
            "fields": [
                {"name": f.name, "type": f.type, "required": f.required, "description": f.description}
                for f in self.fields
            ],
        }


INVOICE = Schema(
    name="invoice",
    fields=(
        FieldSpec("vendor_name", "string", True, "who issued the document"),
        FieldSpec("vendor_address", "string", False, "the issuer's postal address"),
        FieldSpec("document_number", "string", False, "invoice or receipt number"),
        FieldSpec("document_date", "date", True, "date of issue"),
        FieldSpec("due_date", "date", False, "payment due date"),
        FieldSpec("total_amount", "money", True, "the amount to pay, taxes included"),
        FieldSpec("tax_amount", "money", False, "total tax (VAT, GST, sales tax)"),
        FieldSpec("currency", "string", False, "ISO 4217 code"),
    ),
)


def schema_from_dict(data: dict, origin: str = "schema") -> Schema:
    """Build and validate a schema; every problem names the field and the fix."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping with 'name' and 'fields'.")
    fields = data.get("fields")
    if not isinstance(fields, list) or not fields:
        raise ConfigError(f"{origin}: 'fields' must be a non-empty list of {{name, type, required}}.")
    specs, seen = [], set()
    for i, item in enumerate(fields):
        if not isinstance(item, dict) or not item.get("name"):
            raise ConfigError(f"{origin}: field #{i + 1} has no 'name'.")
        name = str(item["name"])
        ftype = str(item.get("type", "string"))
        if ftype not in FIELD_TYPES:
            raise ConfigError(
                f"{origin}: field '{name}' has unknown type '{ftype}'. Use one of: {', '.join(FIELD_TYPES)}."
            )
        if name in seen:
            raise ConfigError(f"{origin}: field '{name}' is declared twice.")
        seen.add(name)
        specs.append(FieldSpec(name, ftype, bool(item.get("required", False)), str(item.get("description", ""))))
    return Schema(name=str(data.get("name", "custom")), fields=tuple(specs))


def load_schema(path: Optional[str]) -> Schema:
    """The default schema, or one read from a YAML file."""
    if not path:
        return INVOICE
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"Schema file not found: {path}. Give the path of a YAML schema, or leave --schema out.")
    except yaml.YAMLError as exc:
        raise ConfigError(f"Schema file {path} is not valid YAML: {exc}")
    return schema_from_dict(data, origin=path)


def names_of(schema: Schema, types: Iterable[str]) -> List[str]:
    wanted = set(types)
    return [f.name for f in schema.fields if f.type in wanted]

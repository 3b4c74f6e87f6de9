"""The method catalogue: every registered method with its family, paper and applicable backbones."""

from __future__ import annotations

from zhijian_core.methods.registry import available_methods
from zhijian_core.ptm.backbone import BACKBONE_KINDS

_KIND_TITLES = {"text": "text transformer", "vit": "ViT", "cnn": "CNN"}


def method_rows() -> list[dict]:
    """One JSON-able row per registered method."""
    rows = []
    for name, cls in available_methods().items():
        rows.append({
            "name": name,
            "family": cls.family.value,
            "paper": cls.paper,
            "applies_to": [kind for kind in BACKBONE_KINDS if kind in cls.applies_to],
            "trains": cls.trains,
            "config": {field: "required" if info.is_required() else repr(info.default)
                       for field, info in cls.config_class.model_fields.items()},
        })
    return rows


def render_markdown(rows: list[dict]) -> str:
    """The applicability table of the docs: method × text transformer / ViT / CNN."""
    header = ["method", "family", "paper", *(_KIND_TITLES[k] for k in BACKBONE_KINDS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        marks = ["yes" if kind in row["applies_to"] else "no" for kind in BACKBONE_KINDS]
        lines.append("| " + " | ".join([f"`{row['name']}`", row["family"], row["paper"], *marks]) + " |")
    return "\n".join(lines)


def render_table(rows: list[dict]) -> str:
    """A plain-text table for terminals."""
    width = max(len(row["name"]) for row in rows)
    out = []
    for row in rows:
        kinds = ",".join(row["applies_to"])
        out.append(f"{row['name']:<{width}}  {row['family']:<9}  {kinds:<12}  {row['paper']}")
    return "\n".join(out)

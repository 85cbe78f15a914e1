"""The customer's taxonomy (pipeline stage 4 data): typed, validated, versioned.

``model`` holds the types, ``doc``/``rules``/``parse`` validate decoded YAML documents into
them (every error names the file and the entry path). Reading the files is
:mod:`tagtrail.tagging.taxonomy_files`'s job: the domain does no I/O.
"""

from tagtrail.domain.taxonomy.model import (
    CONTEXT_KEYS,
    Attribute,
    Brand,
    BrandAttribute,
    Condition,
    Governance,
    ModelLabel,
    Rule,
    Taxonomy,
    Value,
    brand_key,
)

__all__ = [
    "CONTEXT_KEYS",
    "Attribute",
    "Brand",
    "BrandAttribute",
    "Condition",
    "Governance",
    "ModelLabel",
    "Rule",
    "Taxonomy",
    "Value",
    "brand_key",
]

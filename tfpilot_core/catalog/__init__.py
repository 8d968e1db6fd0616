"""The module catalog: module specifications, Terraform types, request ids and input rules.

Heavy parsing (python-hcl2) is imported only when a module is loaded, so importing this package
stays cheap.
"""

from __future__ import annotations

from .catalog import MODULE_NAME_PATTERN, Catalog, is_valid_module_name
from .ids import is_valid_request_id, module_code, new_request_id, validate_request_id
from .spec import METADATA_FILE, InputSpec, ModuleSpec, Risk, load_module, module_digest
from .types import TfType, coerce, parse_type, to_json_schema
from .validation import RESERVED_TAG_PREFIX, normalize_inputs

__all__ = [
    "METADATA_FILE",
    "MODULE_NAME_PATTERN",
    "RESERVED_TAG_PREFIX",
    "Catalog",
    "InputSpec",
    "ModuleSpec",
    "Risk",
    "TfType",
    "coerce",
    "is_valid_module_name",
    "is_valid_request_id",
    "load_module",
    "module_code",
    "module_digest",
    "new_request_id",
    "normalize_inputs",
    "parse_type",
    "to_json_schema",
    "validate_request_id",
]

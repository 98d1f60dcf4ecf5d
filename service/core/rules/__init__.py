"""The rule catalogue: one small module per rule, found here by its `rule_id`.

Every module in this package that defines a Rule subclass with a `rule_id` is
registered; adding a rule is one module plus one entry in the rule
configuration file.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from .base import DeadlineRule, Rule, WindowRule

RULES: dict[str, type[Rule]] = {}

for _info in pkgutil.iter_modules(__path__):
    if _info.name == "base":
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name, _cls in inspect.getmembers(_module, inspect.isclass):
        if issubclass(_cls, Rule) and _cls.__module__ == _module.__name__ and "rule_id" in _cls.__dict__:
            if _cls.rule_id in RULES:
                raise RuntimeError(f"rule id {_cls.rule_id} defined twice")
            RULES[_cls.rule_id] = _cls

__all__ = ["RULES", "Rule", "DeadlineRule", "WindowRule"]

"""Flow specifications: one small grammar for every entry point.

A flow spec names the steps of a normalizing flow
`z_K = f_K ∘ ... ∘ f_1(z_0)`, `z_0 ~ N(μ, diag σ²)`, in the order they act on `z_0`:

    spec    := "" | "diag" | step ("," step)*
    step    := name ["(" option ("," option)* ")"] ["*" count]
    name    := a key of `registry.STEPS`: "planar" | "radial" | "maf" | "iaf" | "realnvp" | ...
    option  := key "=" positive integer  (the step kind's `spec_options`, e.g. "sylvester_o(m=8)")
    count   := a positive integer, default 1

for example `"planar*16"`, `"radial*8"`, `"planar*4,iaf*2"`, `"maf*4"`, `"realnvp*4"`.
`"diag"` (or `""`, or `None`) is the plain diagonal Gaussian, the K = 0 baseline of
Rezende & Mohamed (2015). The same spec may be given as a list whose items are
`"name*count"` strings, `(name, count)` pairs or dicts `{"name": ..., "count": ...}`.
"""

import re

from tfp_nfvi.flows import registry

__all__ = ["FLOW_NAMES", "parse_flow_spec"]

FLOW_NAMES = ("diag",) + tuple(registry.STEPS)

_STEP_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*(\([^()]*\))?\s*(?:\*\s*([^\s]+)\s*)?$")
# Commas that separate steps (not those inside a step's options).
_STEP_SEPARATOR_RE = re.compile(r",(?![^()]*\))")


def _valid_names_message():
    return f"valid names are {', '.join(repr(n) for n in FLOW_NAMES)}"


_NAME_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:\(([^()]*)\))?\s*$")


def split_step_name(name, spec=None):
    """`"sylvester_o(m=8)"` -> `("sylvester_o", {"num_columns": 8})`: kind and step kwargs.

    Options are `key=value` with a positive integer value; each step kind lists the keys it
    takes in `spec_options` (key -> constructor argument).

    Raises:
      ValueError: an unknown kind, or an option the kind does not take or a bad value.
    """
    match = _NAME_RE.match(name) if isinstance(name, str) else None
    kind = match.group(1).lower() if match else None
    if kind not in FLOW_NAMES:
        raise ValueError(
            f"Unknown flow name {name!r} in flow spec {spec!r}; {_valid_names_message()}."
        )
    kwargs = {}
    if match.group(2) is not None:
        accepted = getattr(registry.STEPS.get(kind), "spec_options", {})
        for option in match.group(2).split(","):
            key, _, value = (part.strip() for part in option.partition("="))
            if key not in accepted or not re.fullmatch(r"\d+", value) or int(value) < 1:
                expected = ", ".join(f"{k}=<positive int>" for k in accepted) or "none"
                raise ValueError(
                    f"Bad option {option.strip()!r} for flow {kind!r} in flow spec {spec!r}; "
                    f"options it takes: {expected}."
                )
            kwargs[accepted[key]] = int(value)
    return kind, kwargs


def _canonical_name(name, spec):
    kind, _ = split_step_name(name, spec)
    options = _NAME_RE.match(name).group(2)
    if options is None:
        return kind
    items = sorted("=".join(p.strip() for p in o.partition("=")[::2]) for o in options.split(","))
    return f"{kind}({','.join(items)})"


def _check_step(name, count, spec):
    """Validates one `(name, count)` step and returns it normalized."""
    name = _canonical_name(name, spec)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(
            f"Bad count {count!r} for flow {name!r} in flow spec {spec!r}; expected a "
            "positive integer (as in 'planar*16')."
        )
    return name, count


def _parse_string_step(text, spec):
    match = _STEP_RE.match(text)
    if not match:
        raise ValueError(
            f"Cannot parse flow step {text!r} in flow spec {spec!r}; expected 'name' or "
            f"'name*count' with {_valid_names_message()}."
        )
    name, options, count_text = match.groups()
    name += options or ""
    count = 1
    if count_text is not None:
        if not re.fullmatch(r"\d+", count_text):
            raise ValueError(
                f"Bad count {count_text!r} for flow {name!r} in flow spec {spec!r}; "
                "expected a positive integer (as in 'planar*16')."
            )
        count = int(count_text)
    return _check_step(name, count, spec)


def _parse_item(item, spec):
    if isinstance(item, str):
        return _parse_string_step(item, spec)
    if isinstance(item, dict):
        unknown = set(item) - {"name", "count"}
        if "name" not in item or unknown:
            raise ValueError(
                f"Bad flow step {item!r} in flow spec {spec!r}; a dict step has keys "
                "'name' and optionally 'count'."
            )
        return _check_step(item["name"], item.get("count", 1), spec)
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return _check_step(item[0], item[1], spec)
    raise TypeError(
        f"Bad flow step {item!r} (type {type(item).__name__}) in flow spec {spec!r}; expected "
        "a 'name*count' string, a (name, count) pair or a {'name': ..., 'count': ...} dict."
    )


def parse_flow_spec(spec):
    """Parses a flow spec into a list of `(name, count)` steps.

    Args:
      spec: a string such as `"planar*4,iaf*2"`, a list of steps (strings, `(name, count)`
        pairs or `{"name", "count"}` dicts), or `None`/`""`/`"diag"` for no flow.

    Returns:
      A list of `(name, count)` tuples in the order the steps act on `z_0`, names lower
      case, `"diag"` entries dropped (so the diagonal Gaussian is the empty list).
      Consecutive entries with the same name are kept separate (`"maf*2,maf*2"` is two
      entries), which does not change the flow they describe.

    Raises:
      ValueError: an unknown name, a count that is not a positive integer, or a
        malformed step; the message lists the valid names.
      TypeError: `spec` or one of its items has an unsupported type.
    """
    if spec is None:
        return []
    if isinstance(spec, str):
        items = [] if not spec.strip() else _STEP_SEPARATOR_RE.split(spec)
        if any(not item.strip() for item in items):
            raise ValueError(
                f"Empty step in flow spec {spec!r}; expected comma-separated 'name*count' "
                f"steps with {_valid_names_message()}."
            )
    elif isinstance(spec, (list, tuple)):
        items = list(spec)
    else:
        raise TypeError(
            f"flow spec must be a string or a list of steps, got {spec!r} "
            f"(type {type(spec).__name__})."
        )
    steps = [_parse_item(item, spec) for item in items]
    return [(name, count) for name, count in steps if name != "diag"]


def expand_flow_spec(spec):
    """The flat list of step names, e.g. `"planar*2,iaf"` -> `["planar", "planar", "iaf"]`."""
    return [name for name, count in parse_flow_spec(spec) for _ in range(count)]

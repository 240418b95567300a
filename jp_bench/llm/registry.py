"""Which provider serves a spec, and what jp-bench knows about it: the one reader of provider descriptions.

Built-in vendors are the modules of :mod:`jp_bench.llm.providers`. A plugin is a module with a
:class:`jp_bench.llm.providers.ProviderDescription` named in the ``jp_bench.providers`` entry-point group
of its distribution, e.g. in pyproject.toml::

    [project.entry-points."jp_bench.providers"]
    echo = "my_package.echo_provider:PROVIDER"

and a judge YAML then says ``provider: echo``. The older ``jp_bench.judges`` group, whose entries are
bare factories ``(spec, **kwargs) -> Provider``, still works: such a provider has no key variable, no
endpoint of its own and no Batch API.
"""

from __future__ import annotations

import os
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from jp_bench.errors import JpBenchError
from jp_bench.llm.errors import PermanentError
from jp_bench.llm.providers import ProviderDescription
from jp_bench.llm.providers import anthropic as _anthropic
from jp_bench.llm.providers import embedded as _embedded
from jp_bench.llm.providers import openai as _openai
from jp_bench.llm.providers import openai_compatible as _openai_compatible
from jp_bench.llm.types import ModelSpec, Provider

ENTRY_POINT_GROUP = "jp_bench.providers"
LEGACY_ENTRY_POINT_GROUP = "jp_bench.judges"  # bare client factories, as plugins were first written
BUILTIN: dict[str, ProviderDescription] = {
    description.name: description
    for description in (_openai.PROVIDER, _openai_compatible.PROVIDER, _anthropic.PROVIDER, _embedded.PROVIDER)
}
BUILTIN_PROVIDERS = tuple(BUILTIN)
# Built-in providers whose requests carry no temperature (see sends_temperature for plugins too).
SENDS_NO_TEMPERATURE = frozenset(name for name, description in BUILTIN.items() if not description.sends_temperature)


def describe(name: str) -> ProviderDescription | None:
    """What jp-bench knows about provider ``name``; None when no built-in or installed plugin has that name."""
    if name in BUILTIN:
        return BUILTIN[name]
    entry = _plugins(ENTRY_POINT_GROUP).get(name)
    if entry is not None:
        description = _load(name, entry)
        if not isinstance(description, ProviderDescription):
            raise JpBenchError(f"provider {name!r} ({entry.value}) is not a ProviderDescription "
                               f"(the {ENTRY_POINT_GROUP} entry point names one)")
        return description
    legacy = _plugins(LEGACY_ENTRY_POINT_GROUP).get(name)
    if legacy is not None:
        return ProviderDescription(name=name, make_client=lambda spec, **kwargs: _load(name, legacy)(spec, **kwargs))
    return None


def get_provider(spec: ModelSpec, **kwargs: Any) -> Provider:
    """A provider for ``spec.provider``; ``kwargs`` go to its constructor (e.g. ``http_client``)."""
    description = describe(spec.provider)
    if description is None:
        raise JpBenchError(f"unknown model provider {spec.provider!r}; known providers: "
                           f"{', '.join(known_providers())}")
    try:
        return description.client(spec, **kwargs)
    except ModuleNotFoundError as exc:
        # The SDKs are an optional extra, imported only when a provider that needs them is asked for.
        if exc.name and exc.name.split(".")[0] in description.sdk_modules:
            raise JpBenchError(
                f"provider {spec.provider!r} needs the {exc.name} package: pip install 'jp-bench[judges]'"
            ) from None
        raise


def known_providers() -> list[str]:
    """Built-in provider names, then the installed plugins' in alphabetical order."""
    plugins = set(_plugins(ENTRY_POINT_GROUP)) | set(_plugins(LEGACY_ENTRY_POINT_GROUP))
    return [*BUILTIN_PROVIDERS, *sorted(plugins - set(BUILTIN_PROVIDERS))]


def sends_temperature(name: str) -> bool:
    """Whether requests of provider ``name`` carry a temperature (unknown providers: yes, as they are sent)."""
    description = describe(name)
    return description is None or description.sends_temperature


def batch_vendor(client: Any) -> Any:
    """The Batch API (a :class:`jp_bench.llm.batch_vendors.BatchVendor`) of a live provider client, or a
    clear error when its provider has none. The provider is named by the spec the client was built for."""
    spec = getattr(client, "spec", None)
    description = describe(spec.provider) if isinstance(spec, ModelSpec) else None
    if description is None or description.make_batches is None:
        raise PermanentError(f"--batch: provider {type(client).__name__} has no batch API "
                             "(openai, anthropic and OpenAI-compatible servers that offer /v1/batches do)")
    return description.make_batches(client)


def resolve_base_url(provider: str, override: str | None, configured: str | None) -> str | None:
    """The base URL a call of ``provider`` will use (None: the provider decides, e.g. the embedded one).

    ``--base-url`` (or ``judge_base_url``) wins, then the SDK's own variable (``OPENAI_BASE_URL``,
    ``ANTHROPIC_BASE_URL``), then the judge YAML's ``base_url``, then the vendor's public endpoint.
    """
    description = describe(provider)
    variable = description.base_url_env if description is not None else None
    from_env = os.environ.get(variable) if variable else None
    for source, url in (("--base-url", override), (f"${variable}", from_env)):
        if url:
            _check_scheme(source, url)
            return url
    # A judge YAML's base_url is checked when it is read.
    return configured or (description.default_base_url if description is not None else None)


def _plugins(group: str) -> dict[str, EntryPoint]:
    # Read on every call: entry points are cheap to list and a plugin may be installed mid-session.
    return {entry.name: entry for entry in entry_points(group=group)}


def _load(name: str, entry: EntryPoint) -> Any:
    try:
        return entry.load()
    except Exception as exc:  # a broken plugin is the user's environment problem, reported in one line
        raise JpBenchError(f"provider {name!r} ({entry.value}) could not be loaded: {exc}") from exc


def _check_scheme(source: str, url: str) -> None:
    """Only http(s) is refused at once, not retried: the rule of jp_bench.llm.limits.check_base_url."""
    from jp_bench.llm.limits import check_base_url  # pydantic, only when a URL is given

    try:
        check_base_url(url)
    except ValueError as exc:
        raise JpBenchError(f"{source}: {exc}") from None

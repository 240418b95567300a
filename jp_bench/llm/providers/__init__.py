"""Model providers as plugins: each vendor is one module declaring a :class:`ProviderDescription`.

Everything jp-bench needs to know about a vendor is read from its description, never from the class of
its client: the variable its key is read from, the variable that moves its endpoint, its public
endpoint, whether requests carry a temperature, whether it can check a key for free, and its Batch API.
The built-in vendors live beside this file; another package adds one with a module holding a
description and an entry point in the ``jp_bench.providers`` group (see CONTRIBUTING.md, "Adding a
provider"). :mod:`jp_bench.llm.registry` is the one reader of these descriptions.

A description module imports no vendor SDK: ``make_client`` and ``make_batches`` import what they
need when they are called, so listing providers (or reading a key variable) stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jp_bench.llm.types import ModelSpec, Provider

__all__ = ["ClientFactory", "ProviderDescription"]

# (spec, **options) -> Provider; options are what a caller passes get_provider (e.g. http_client).
ClientFactory = Callable[..., Provider]


@dataclass(frozen=True)
class ProviderDescription:
    """One vendor, as the rest of jp-bench sees it."""

    name: str  # what a judge YAML's ``provider:`` says
    make_client: ClientFactory
    # The variable the vendor SDK reads its key from when a spec names none (kept out of every message).
    key_env: str | None = None
    # Whether a spec's ``api_key_env`` must be set before anything runs (False: the provider has a fallback,
    # e.g. local servers that ignore keys).
    key_required: bool = False
    base_url_env: str | None = None  # the SDK's variable that moves the endpoint (OPENAI_BASE_URL, ...)
    default_base_url: str | None = None  # the public endpoint, part of every call's store key
    sends_temperature: bool = True  # False: requests carry none, so a temperature would only change the key
    checks_access: bool = False  # whether the client has ``check_access()`` (one free request)
    # provider client -> a jp_bench.llm.batch_vendors.BatchVendor; None: no Batch API.
    make_batches: Callable[[Any], Any] | None = None
    # Distributions the client needs (a missing one is reported with the extra that installs it).
    sdk_modules: tuple[str, ...] = ()

    def client(self, spec: ModelSpec, **options: Any) -> Provider:
        return self.make_client(spec, **options)

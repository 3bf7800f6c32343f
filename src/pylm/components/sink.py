"""``Sink``: one serial step fed by several upstream streams (spec §3)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from pylm.components.pipeline import StreamStep
from pylm.errors import ConfigurationError

__all__ = ["Sink"]


class Sink(StreamStep):
    """Fans in several streams: ``sub_addresses`` and ``previous`` are zipped pairwise.

    Each pair subscribes to the topic ``previous[i]`` on the publisher at
    ``sub_addresses[i]``; every message of every stream runs the method it names at its
    current stage, as in a :class:`~pylm.servers.Pipeline`.
    """

    def __init__(
        self,
        name: str,
        db_address: str,
        sub_addresses: Sequence[str],
        pub_address: str,
        previous: Sequence[str],
        to_client: bool = True,
        log_level: int = logging.INFO,
        messages: int = sys.maxsize,
    ) -> None:
        super().__init__(logging_level=log_level, name=name)
        for label, value in (("sub_addresses", sub_addresses), ("previous", previous)):
            if isinstance(value, str) or not isinstance(value, Sequence):
                raise ConfigurationError(
                    f"Sink {name!r}: {label} must be a list, got {type(value).__name__}"
                )
        if len(sub_addresses) != len(previous):
            raise ConfigurationError(
                f"Sink {name!r}: {len(sub_addresses)} sub_addresses but "
                f"{len(previous)} previous names; they are zipped pairwise"
            )
        self.sub_addresses = list(sub_addresses)
        self.previous = list(previous)
        self._build(
            name, db_address, list(zip(self.sub_addresses, self.previous, strict=True)),
            pub_address, to_client, messages,
        )
        for index, address in enumerate(self.sub_addresses):
            self.cache[f"sub_address_{index}"] = address.encode()


Sink.framework = Sink

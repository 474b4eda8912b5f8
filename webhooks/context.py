"""What the receiver's blueprints share: one `Receiver`, built by `create_app` and kept in `app.extensions`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app

from plugin.adapters.intake import Intake
from plugin.config import Settings

if TYPE_CHECKING:
    from webhooks.metrics import Metrics

EXTENSION = "coc_receiver"


@dataclass(frozen=True)
class Receiver:
    settings: Settings
    secret: str
    intake: Intake
    metrics: Metrics


def receiver() -> Receiver:
    """The running app's `Receiver`."""
    receiver: Receiver = current_app.extensions[EXTENSION]
    return receiver

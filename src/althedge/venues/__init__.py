"""Venues layer: where orders go (see docs/venues.md and docs/architecture.md).

The protocol and value types are re-exported here; the implementations are imported
from their modules so that ccxt is loaded only when a real exchange is used:

* :class:`althedge.venues.paper.PaperExchange` — the simulated account;
* :class:`althedge.venues.ccxt_venue.CcxtVenue` — a real exchange through ccxt.
"""

from althedge.errors import LimitExceededError
from althedge.venues.limits import Limits, check_order
from althedge.venues.protocol import (
    Fee,
    Fill,
    FundingPayment,
    OrderRequest,
    OrderResult,
    Venue,
    VenuePosition,
    client_order_id,
)

__all__ = [
    "Fee",
    "Fill",
    "FundingPayment",
    "LimitExceededError",
    "Limits",
    "OrderRequest",
    "OrderResult",
    "Venue",
    "VenuePosition",
    "check_order",
    "client_order_id",
]

"""The record of structural changes a DynamicModel keeps."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class StructureEvent:
    """One structural change.

    Attributes:
        step: the optimizer iteration at which it happened (0 before training).
        layer: the producer layer named in the request.
        operation: "add_units", "remove_units", "reserve" or "compact".
        count: number of units added or removed (capacity for "reserve").
        reason: who asked and why (a callback name and its trigger, "manual").
        widths: widths of every producer layer right after the change.
    """

    step: int
    layer: str
    operation: str
    count: int
    reason: str = "manual"
    widths: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(**data)

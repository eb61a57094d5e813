"""Option types shared by several commands, so each choice list exists once."""

from __future__ import annotations

from enum import Enum


class Resolution(str, Enum):
    p720 = "720p"
    p1080 = "1080p"
    k4 = "4k"


class Length(str, Enum):
    five = "5"
    ten = "10"

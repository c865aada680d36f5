"""Declarative base with the naming convention of the ai-chatbot (Drizzle) schema."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Drizzle names constraints `<Table>_<cols>_pk` and `<Table>_<col>_<Ref>_<refcol>_fk`;
# the baseline migration spells the legacy names out, this convention covers our own tables.
NAMING_CONVENTION = {
    "ix": "%(table_name)s_%(column_0_N_name)s_idx",
    "uq": "%(table_name)s_%(column_0_N_name)s_unique",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "fk": (
        "%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s_%(referred_column_0_N_name)s_fk"
    ),
    "pk": "%(table_name)s_%(column_0_N_name)s_pk",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

"""`Column`: the annotation of a parameter that names columns (re-exported by `types`)."""

from __future__ import annotations


class Column(str):
    """The name of a column of the tables a call passes (a plain `str` at run time).

    `dsc check` reports a string literal passed for a `Column` parameter that the declared
    schema of such a table does not have (DSC045). `Column` alone names a column of every
    table the call passes (each `Table` or `list[Table]` argument); `Column["cohort"]` or
    `Column["cohort", "registry"]` names a column of the tables passed as those parameters.
    `list[Column]` is a list of such names.
    """

    def __class_getitem__(cls, tables: str | tuple[str, ...]) -> type:
        return cls

"""The registry's TUF repository of approved plugins: keys, metadata kept in the database,
the targets an approval lists, the tasks that sign, and the routes that serve it."""

__all__: list[str] = []

"""A third-party plug-in as a user would write one: no packaging, no project file edited.

Each module is one plug-in with its one registration call (``space``,
``searcher``, and ``benchmark``: a table over the toy space for searches to
evaluate); name the modules in ``NASFRAME_PLUGINS``
(``tests.toy_plugin.space,tests.toy_plugin.benchmark``) and the registries,
the command line included, find them.
"""

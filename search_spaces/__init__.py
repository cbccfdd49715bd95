"""Search spaces: NAS-Bench-101, DARTS / NAS-Bench-301 and the ENAS macro space.

Each space lives in its own subpackage (``nb101``, ``darts``, ``enas``) and is
registered under its name through the ``nasframe.spaces`` entry point group;
obtain one with ``nasframe.load_space(name)``.
"""
